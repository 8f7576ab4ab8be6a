"""Matrix products on the kernels' BLAS (`blas.py`: one thread), for the layers around the LSTM.

NumPy's own BLAS runs several threads, and after each product they spin for
a while; a Dense head multiplied by NumPy right before the LSTM's threaded
backward made that backward 1.6x slower. Going through the same
single-threaded BLAS as the kernels keeps every product in a training step
on threads that lstmlab starts and stops.
"""
from .blas import product


def matmul(a, b):
    """a (M, K) @ b (K, N) -> (M, N); float32 or float64, any memory order."""
    if a.dtype != b.dtype or a.dtype.kind != "f" or a.ndim != 2 or b.ndim != 2:
        return a @ b
    return product(a, b)
