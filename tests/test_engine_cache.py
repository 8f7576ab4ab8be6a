"""Numba's on-disk cache follows every lstmlab source that compiles code (lstmlab/engine/cache.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

from numba.core import caching

import lstmlab
from lstmlab.engine import cache, kernels
from lstmlab.models import fused


def test_the_stamp_covers_every_file_that_compiles_and_only_those(tmp_path):
    (tmp_path / "sub").mkdir()
    (tmp_path / "a.py").write_text("from numba import njit\n")
    (tmp_path / "sub" / "b.py").write_text("from numba import njit  # b\n")
    (tmp_path / "plain.py").write_text("x = 1\n")
    first = cache.sources_stamp(tmp_path)
    (tmp_path / "plain.py").write_text("x = 2\n")
    assert cache.sources_stamp(tmp_path) == first
    (tmp_path / "sub" / "b.py").write_text("from numba import njit  # b, edited\n")
    edited = cache.sources_stamp(tmp_path)
    assert edited != first
    (tmp_path / "sub" / "b.py").rename(tmp_path / "b.py")
    assert cache.sources_stamp(tmp_path) != edited


def test_lstmlab_functions_are_stamped_and_others_keep_numbas_locators(tmp_path, monkeypatch):
    assert cache.INSTALLED
    for f in (kernels._forward_rows_c, kernels.step_into, fused._fit):
        assert isinstance(f._cache._impl._locator, cache._PackageStamped), f
        assert f._cache._impl._locator.get_source_stamp() == cache.package_stamp()
        assert isinstance(f._cache._cache_file, cache._KeyedCacheFile), f
    (tmp_path / "user_module.py").write_text(
        "from numba import njit\n\n@njit(cache=True)\ndef inc(x):\n    return x + 1\n")
    monkeypatch.syspath_prepend(str(tmp_path))
    import user_module
    assert not isinstance(user_module.inc._cache._impl._locator, cache._PackageStamped)
    assert user_module.inc(1) == 2


def test_an_edit_to_a_callee_file_recompiles_the_cached_callers(tmp_path):
    """Numba alone would load state._dense_into, which compiles blas.dot into itself,
    from the cache after an edit to blas.py: the old product would run."""
    package = tmp_path / "lstmlab"
    shutil.copytree(Path(lstmlab.__file__).parent, package, ignore=shutil.ignore_patterns("__pycache__"))
    code = ("import numpy as np\n"
            "from lstmlab.state import _dense_into\n"
            "out = np.empty((1, 3))\n"
            "_dense_into(np.ones((1, 2)), np.ones((2, 3)), np.zeros(3), 0, out)\n"
            "assert (out == 2).all()\n"
            "print('misses', sum(_dense_into.stats.cache_misses.values()))\n")

    def misses():
        run = subprocess.run([sys.executable, "-c", code], cwd=tmp_path, capture_output=True, text=True,
                             timeout=600, env={**os.environ, "PYTHONPATH": str(tmp_path)})
        assert run.returncode == 0, run.stderr[-2000:]
        return int(run.stdout.split()[-1])

    assert misses() == 1                            # compiled, and cached
    assert misses() == 0                            # loaded
    with open(package / "engine" / "blas.py", "a") as f:
        f.write("\n# an edit\n")
    assert misses() == 1                            # another file changed: compiled again
    assert misses() == 0


def test_an_entry_whose_file_holds_another_signatures_code_compiles_again(tmp_path):
    """Two processes that compile different signatures of one function at the same time can
    both name their data file 1 (Numba takes the first number its index does not use) and
    leave the index with one's key and the file with the other's code. Numba alone loads
    that code under the wrong key; lstmlab's entries carry their key and do not."""
    stamp = cache.package_stamp()
    a = cache._KeyedCacheFile(str(tmp_path), "f-1.py311", stamp)     # process A
    b = cache._KeyedCacheFile(str(tmp_path), "f-1.py311", stamp)     # process B, same function
    a.save("float32 key", "float32 code")
    name = a._load_index()["float32 key"]
    b._save_index({"float64 key": name})            # B's index, written over A's, names A's file
    assert b.load("float64 key") is None            # not A's code: B's signature compiles again
    assert a.load("float32 key") is None            # and A's, whose entry B's index dropped
    b.save("float64 key", "float64 code")
    assert b.load("float64 key") == "float64 code"

    plain = cache._KeyedCacheFile.__mro__[1]         # Numba's IndexDataCacheFile
    numba_a, numba_b = (plain(str(tmp_path), "g-1.py311", stamp) for _ in range(2))
    numba_a.save("float32 key", "float32 code")
    numba_b._save_index({"float64 key": numba_a._load_index()["float32 key"]})
    assert numba_b.load("float64 key") == "float32 code"   # what Numba's own files would run


def test_other_functions_cache_files_are_numbas_own(tmp_path):
    assert caching.IndexDataCacheFile is cache._KeyedCacheFile
    plain = cache._KeyedCacheFile.__mro__[1]
    ours = cache._KeyedCacheFile(str(tmp_path), "h-1.py311", (1700000000.0, 120))   # Numba's (mtime, size)
    ours.save("key", "code")
    assert plain(str(tmp_path), "h-1.py311", (1700000000.0, 120)).load("key") == "code"


def test_a_second_copy_of_lstmlab_in_the_process_wraps_each_entry_once(tmp_path, monkeypatch):
    """A second copy of the package in one process (vendored, or under another name) defines
    its _KeyedCacheFile on top of the first's, which install() had put in Numba's place.
    Each copy wraps its own functions' entries, once: a later process that has only one of
    the copies loads them (wrapped twice, they failed there in Numba's CompileResult._rebuild)."""
    import importlib.util
    impl = getattr(caching, "CacheImpl", None) or caching._CacheImpl
    # What the second copy's install() changes, put back after the test.
    monkeypatch.setattr(caching, "IndexDataCacheFile", caching.IndexDataCacheFile)
    monkeypatch.setattr(impl, "_locator_classes", list(impl._locator_classes))
    spec = importlib.util.spec_from_file_location("second_copy_cache", cache.__file__)
    second = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(second)
    assert second._KeyedCacheFile.__mro__[1] is cache._KeyedCacheFile
    monkeypatch.setattr(second, "package_stamp", lambda: "the second copy's sources")
    numbas = cache._KeyedCacheFile.__mro__[1]

    for name, stamp in (("first-1.py311", cache.package_stamp()),
                        ("second-1.py311", "the second copy's sources")):
        chained = second._KeyedCacheFile(str(tmp_path), name, stamp)      # both copies imported
        chained.save("key", "code")
        assert numbas(str(tmp_path), name, stamp).load("key") == (cache.KEYED, "key", "code")
        assert chained.load("key") == "code"
    # A process with the first copy alone loads that copy's entry.
    alone = cache._KeyedCacheFile(str(tmp_path), "first-1.py311", cache.package_stamp())
    assert alone.load("key") == "code"
    # An entry left wrapped twice compiles again.
    numbas(str(tmp_path), "first-1.py311", cache.package_stamp()).save(
        "key", (cache.KEYED, "key", (cache.KEYED, "key", "code")))
    assert alone.load("key") is None
