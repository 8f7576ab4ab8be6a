"""Floating-point operation counts, and the machine's float32 matmul rate to hold them against.

One multiply-add counts as 2 FLOPs. For an LSTM of H units on D inputs,
B sequences of T steps, with a Dense(V) head on the last step only
(return_sequences=False):

    forward  = 2·T·B·(D+H)·4H      the gate products x W and h U, every step
             + 2·B·H·V             the head, on the last step
    training = 3 · forward         backward ≈ 2 × forward: for each product
                                   one for the input's gradient, one for the weight's

The pointwise gate math, the loss and the optimizer are not counted (they are
O(T·B·H), not O(T·B·H²)). The same count is used for every side, so
GFLOP/s ratios equal time ratios.
"""
import time

import numpy as np


def lstm_forward_flops(B, T, D, H, V=0):
    return 2.0 * T * B * (D + H) * 4 * H + 2.0 * B * H * V


def lstm_train_flops(B, T, D, H, V=0):
    return 3.0 * lstm_forward_flops(B, T, D, H, V)


FORMULA = ("forward = 2·T·B·(D+H)·4H + 2·B·H·V; training step = 3 × forward "
           "(backward ≈ 2 × forward); pointwise gates, loss and optimizer not counted")


def matmul_flops(n):
    return 2.0 * n ** 3


def matmul_case(n=2048, seed=0):
    """A callable for one float32 (n, n) @ (n, n) product in NumPy, out= preallocated."""
    rng = np.random.default_rng(seed)
    a = rng.standard_normal((n, n), dtype=np.float32)
    b = rng.standard_normal((n, n), dtype=np.float32)
    out = np.empty((n, n), np.float32)

    def run():
        np.matmul(a, b, out=out)
    return run


def gflops(flops, seconds):
    return flops / seconds / 1e9 if seconds else None


if __name__ == "__main__":      # python -m benchmarks.flops: the rate alone
    run = matmul_case()
    run()
    t0 = time.perf_counter()
    for _ in range(5):
        run()
    print(f"{gflops(matmul_flops(2048) * 5, time.perf_counter() - t0):.1f} GFLOP/s")
