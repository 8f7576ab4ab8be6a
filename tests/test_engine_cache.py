"""Numba's on-disk cache follows every lstmlab source that compiles code (lstmlab/engine/cache.py)."""
import os
import shutil
import subprocess
import sys
from pathlib import Path

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
