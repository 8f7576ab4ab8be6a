"""How much arithmetic the machine's cores give side by side, for the profiles of W4/W6.

A training step splits its work between two threads, and can be no more than
twice as fast as one thread if the two cores each run at full speed together.
On a shared VM they may not: two vCPUs can be two hyperthreads of one core,
or share their cores with other guests. This probe runs a loop that touches
only registers and the L1 cache (one thread's per-step product of a W4 step at
64 units, (32, 64) @ (64, 256) on lstmlab's register tiles, 1000 times) on one
thread alone, then on two threads at once, each on its own arrays, in turns:
with two full cores the second figure equals the first.
"""
import time

import numpy as np
from numba import njit

from lstmlab.engine import tiles
from lstmlab.engine.threads import run as threads_run


@njit(cache=True, nogil=True)
def _products(h, packed, z, steps):
    for _ in range(steps):
        tiles.dot(h, packed, z)


def _operands(seed):
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((32, 64)).astype(np.float32)          # (n, H)
    U = rng.standard_normal((64, 256)).astype(np.float32)         # (H, 4H)
    # 1000 products: about 13 ms, against which the second thread's start (50-100 µs) is small.
    return h, tiles.packed_or_none(U), np.empty((32, 256), np.float32), 1000


def side_by_side(rounds=8):
    """[(alone, together)]: seconds for the loop on one thread, then on each of two at once."""
    a, b = _operands(0), _operands(1)
    _products(*a)                                                 # compiled (or loaded) before timing
    threads_run(_products, [a, b])
    out = []
    for _ in range(rounds):
        time.sleep(0.005)                                         # the pool's worker stops spinning
        start = time.perf_counter()
        _products(*a)
        alone = time.perf_counter() - start
        start = time.perf_counter()
        threads_run(_products, [a, b])
        out.append((alone, time.perf_counter() - start))
    return out


def finding(rounds=8):
    """One sentence for a profile: how much slower each thread computes with both busy."""
    pairs = side_by_side(rounds)
    ratios = sorted(both / alone for alone, both in pairs)
    median = ratios[len(ratios) // 2]
    return (f"Two threads side by side: a loop on registers and L1 alone (one thread's per-step product, "
            f"(32, 64)·(64, 256) on the tiles, 1000 times) took {ratios[0]:.2f}-{ratios[-1]:.2f}× as long "
            f"per thread with both vCPUs busy as on one alone (median {median:.2f}×, {rounds} rounds in "
            f"turns; 1.00× would be two full cores). The second thread gives "
            f"{2 / median:.2f}× one thread's arithmetic, not 2×.")
