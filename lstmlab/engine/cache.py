"""Numba's on-disk cache, kept in step with every lstmlab source that compiles code.

Numba checks a cached function against its own source file only. lstmlab's
kernels call functions from other files, and LLVM compiles those into them:
every kernel holds its own copy of `blas.dot` and of the cell. After an edit
to blas.py alone, kernels.py's cached functions would still load, with the old
product inside, and run it. Here each lstmlab function compiled with
cache=True is stamped instead with the contents of all of the package's files
that use Numba, so that an edit to any of them makes every cached kernel
compile again. An installed release is not affected: its files change
together. Functions outside lstmlab keep Numba's own locators.

Each lstmlab entry also keeps its key (the signature and the machine) next to
its code, checked when it loads (`_KeyedCacheFile`). Numba's index says which
data file holds which key, but the file itself does not say: it names a new
entry's file after the first number its index does not use, and writes the
index and the file one after the other, so processes that compile the same
function at the same time can leave an index whose key names a file that
another process filled with another signature's code, and every later process
would load that code and run it. (In a development checkout where lstmlab
processes had run side by side, scan_places, which returns arrays, once failed
in every test with "NRT_adapt_ndarray_to_python: 'descr' is NULL" until the
cache was deleted.) Here an entry whose file holds another key's code compiles
again.
"""
import functools
import hashlib
from pathlib import Path

from numba.core import caching

PACKAGE = Path(__file__).resolve().parent.parent          # the lstmlab folder


def sources_stamp(root):
    """A digest of every .py file under root that compiles with Numba: its path and its bytes."""
    digest = hashlib.sha256()
    for path in sorted(Path(root).rglob("*.py")):
        text = path.read_bytes()
        if b"njit" in text:
            digest.update(path.relative_to(root).as_posix().encode() + b"\0" + text + b"\0")
    return digest.hexdigest()


@functools.cache
def package_stamp():
    return sources_stamp(PACKAGE)


class _PackageStamped:
    """A locator that stamps lstmlab's functions with `package_stamp`, and declines others."""

    def get_source_stamp(self):
        return package_stamp()

    @classmethod
    def from_function(cls, py_func, py_file):
        if not Path(py_file).resolve().is_relative_to(PACKAGE):
            return None
        return super().from_function(py_func, py_file)


# Marks an entry saved with its key: (KEYED, key, data).
KEYED = "lstmlab-keyed-entry"


def _ours(cache_file):
    """True for the cache file of a function of this copy of lstmlab (stamped with its
    `package_stamp`). A function, not a method: a second copy of lstmlab imported into the
    same process (another name, or another path) defines its _KeyedCacheFile on top of
    this one, and its check, as an override, would answer for this class too: the entries
    of either copy were wrapped twice, or not at all."""
    return cache_file._source_stamp == package_stamp()


def _keyed(entry):
    return type(entry) is tuple and len(entry) == 3 and entry[0] == KEYED


class _KeyedCacheFile(getattr(caching, "IndexDataCacheFile", object)):   # object: install() declines
    """Numba's index and data files; for lstmlab's functions (stamped with `package_stamp`)
    each entry is saved as (KEYED, key, data) and loads only under its own key. Other
    functions' entries are saved and loaded exactly as Numba does."""

    def save(self, key, data):
        super().save(key, (KEYED, key, data) if _ours(self) else data)

    def load(self, key):
        found = super().load(key)
        if found is None or not _ours(self):
            return found
        if _keyed(found) and found[1] == key and not _keyed(found[2]):
            return found[2]
        return None                                 # another entry's code, or wrapped twice: compile again


# Numba's own choices, in its order: NUMBA_CACHE_DIR when set, the file's __pycache__,
# then a folder in the user's cache when __pycache__ cannot be written.
LOCATORS = [type(f"PackageStamped{base.__name__}", (_PackageStamped, base), {})
            for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                         caching.UserWideCacheLocator)]


def install():
    """Put lstmlab's locators ahead of Numba's, and `_KeyedCacheFile` in place of its cache
    file class; True when Numba's cache has the hooks to do it.

    Must run before any lstmlab function is compiled with cache=True: Numba picks a
    function's locator and makes its cache file when it is decorated.
    """
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)  # renamed in 0.6x
    classes = getattr(impl, "_locator_classes", None)
    files = getattr(caching, "IndexDataCacheFile", None)
    if not isinstance(classes, list) or not isinstance(files, type):
        return False
    for cls in reversed(LOCATORS):
        if cls not in classes:
            classes.insert(0, cls)
    if not issubclass(files, _KeyedCacheFile):
        caching.IndexDataCacheFile = _KeyedCacheFile  # Cache.__init__ makes its file from this name
    return True


INSTALLED = install()
