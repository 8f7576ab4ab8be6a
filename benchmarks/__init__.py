"""The speed benchmarks of lstmlab against its peers (PyTorch, Keras 3): `make bench`.

Run `python -m benchmarks.run --help` from the repository root. Importing this
package imports nothing heavy, so `benchmarks.env.pin_threads()` can still set
the thread counts before NumPy, Numba and PyTorch load.
"""
