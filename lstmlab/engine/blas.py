"""The BLAS inside the kernels runs on one thread.

Numba's np.dot calls the BLAS that SciPy ships (a different library from
NumPy's). The per-step products in the time loop are small; a multithreaded
BLAS there leaves its worker spinning between calls, fighting the pointwise
pass for the cores (measured: a 2-core forward pass 9x slower). So the
kernels' BLAS is set to one thread, and the kernels' own threads split the
batch instead (`kernels._chunks`). NumPy's BLAS, which does the large
products outside the time loop, keeps all its threads.
"""
import os


def single_thread_kernel_blas():
    """Limit SciPy's BLAS (the one compiled kernels call) to one thread; NumPy's is left alone."""
    try:
        import numpy
        import scipy
        import scipy.linalg.cython_blas  # noqa: F401  (loads the library)
        from threadpoolctl import ThreadpoolController
    except ImportError:
        return None
    scipy_dir = os.path.dirname(os.path.dirname(os.path.abspath(scipy.__file__)))
    numpy_libs = {info.filepath for info in ThreadpoolController().select(user_api="blas").lib_controllers
                  if os.path.dirname(os.path.abspath(numpy.__file__)) in info.filepath
                  or "numpy.libs" in info.filepath}
    controller = ThreadpoolController().select(user_api="blas")
    mine = [lib for lib in controller.lib_controllers
            if ("scipy.libs" in lib.filepath or os.path.join(scipy_dir, "scipy") in lib.filepath)
            and lib.filepath not in numpy_libs]
    for lib in mine:
        lib.set_num_threads(1)
    return [lib.filepath for lib in mine]


LIMITED = single_thread_kernel_blas()
