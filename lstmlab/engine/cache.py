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


# Numba's own choices, in its order: NUMBA_CACHE_DIR when set, the file's __pycache__,
# then a folder in the user's cache when __pycache__ cannot be written.
LOCATORS = [type(f"PackageStamped{base.__name__}", (_PackageStamped, base), {})
            for base in (caching.UserProvidedCacheLocator, caching.InTreeCacheLocator,
                         caching.UserWideCacheLocator)]


def install():
    """Put lstmlab's locators ahead of Numba's; True when Numba's cache has the hook to do it.

    Must run before any lstmlab function is compiled with cache=True: Numba picks a
    function's locator when it is decorated.
    """
    impl = getattr(caching, "CacheImpl", None) or getattr(caching, "_CacheImpl", None)  # renamed in 0.6x
    classes = getattr(impl, "_locator_classes", None)
    if not isinstance(classes, list):
        return False
    for cls in reversed(LOCATORS):
        if cls not in classes:
            classes.insert(0, cls)
    return True


INSTALLED = install()
