"""How much arithmetic the machine's cores give side by side, for the profiles of W4/W6.

A training step splits its work between two threads, and can be no more than
twice as fast as one thread if the two cores each run at full speed together.
On a shared VM they may not: two vCPUs can be two hyperthreads of one core,
or share their cores with other guests. This probe runs a loop that touches
only registers and the L1 cache (one thread's per-step product of a W4 step at
64 units, (32, 64) @ (64, 256) on lstmlab's register tiles, 1000 times) on one
thread alone, then on two threads at once, each on its own arrays, in turns:
with two full cores the second figure equals the first.

At the shape of a profiled training step's per-thread product, the same rounds
also time the step, in turns with the products, and give a floor (`Probe.floor`):
what the step's products alone cost at the rate the tiles reach with both
vCPUs busy, and how much of everything else a target would have the step lose.
"""
import time

import numpy as np
from numba import njit

from lstmlab.engine import tiles
from lstmlab.engine.threads import run as threads_run

from .timing import fmt_seconds


@njit(cache=True, nogil=True)
def _products(h, packed, z, steps):
    for _ in range(steps):
        tiles.dot(h, packed, z)


# Operations per timing: 1000 of a W4 step's per-thread products at 64 units, (32, 64)·(64, 256),
# about 13 ms, against which the second thread's start (50-100 µs) is small.
FLOPS_PER_TIMING = 1000 * 2 * 32 * 64 * 256


def _count(n, H):
    """How many products of h (n, H) · U (H, 4H) one timing runs."""
    return max(10, round(FLOPS_PER_TIMING / (2.0 * n * H * 4 * H)))


def _operands(seed, n=32, H=64):
    """One thread's per-step product, h (n, H) · U (H, 4H) on the tiles, and how many to time."""
    rng = np.random.default_rng(seed)
    h = rng.standard_normal((n, H)).astype(np.float32)
    U = rng.standard_normal((H, 4 * H)).astype(np.float32)
    return h, tiles.packed_or_none(U), np.empty((n, 4 * H), np.float32), _count(n, H)


def side_by_side(rounds=8, n=32, H=64):
    """[(alone, together)]: seconds for the loop on one thread, then on each of two at once."""
    return [(alone, both) for alone, both, _ in _rounds(rounds, n, H)]


def _rounds(rounds, n, H, step=None):
    """[(alone, together, step seconds or None)]: side_by_side's timings, and with `step` (a
    training step) one call of it timed in each round too, right after an untimed one, so that
    the step and the products are timed in the same minutes of this VM."""
    a, b = _operands(0, n, H), _operands(1, n, H)
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
        both = time.perf_counter() - start
        seconds = None
        if step is not None:
            step()
            start = time.perf_counter()
            step()
            seconds = time.perf_counter() - start
        out.append((alone, both, seconds))
    return out


def _median(values):
    values = sorted(values)
    return values[len(values) // 2]


class Probe:
    """The products' rounds at one shape (and a training step's, in turns with them), and what
    they say."""

    def __init__(self, rounds=8, n=32, H=64, step=None):
        self.rounds, self.n, self.H = rounds, n, H
        self.steps = _count(n, H)
        timings = _rounds(rounds, n, H, step)
        self.ratios = sorted(both / alone for alone, both, _ in timings)
        self.median_ratio = _median(self.ratios)
        self.product_both = _median([both for _, both, _ in timings]) / self.steps  # a product, both busy
        self.step = _median([s for _, _, s in timings]) if step is not None else None

    @property
    def shape(self):
        return f"({self.n}, {self.H})·({self.H}, {4 * self.H})"

    def gflops_both(self):
        """One thread's rate on these products while the other computes too."""
        return 2.0 * self.n * self.H * 4 * self.H / self.product_both / 1e9

    def finding(self):
        """One sentence: how much slower each thread computes with both busy."""
        return (f"Two threads side by side: a loop on registers and L1 alone (one thread's per-step "
                f"product, {self.shape} on the tiles, {self.steps} times) took "
                f"{self.ratios[0]:.2f}-{self.ratios[-1]:.2f}× as long per thread with both vCPUs busy "
                f"as on one alone (median {self.median_ratio:.2f}×, {self.rounds} rounds in turns; 1.00× "
                f"would be two full cores). The second thread gives {2 / self.median_ratio:.2f}× one "
                f"thread's arithmetic, not 2×.")

    def floor(self, T, needed=None):
        """What a training step's products cost at this rate, against the step timed in turns.

        A thread's share of a step whose rows the threads split has at least 3T products of this
        size in floating-point operations: T of h·U forward, T of dz·Uᵀ backward, and dU's, the same
        count again. At the rate the tiles reach on this product with both vCPUs busy, those
        alone take 3T × product_both: no pointwise gate, head, optimizer, Python or wait
        included. `needed` (> 1): the speed-up a target asks; then what the rest must lose.
        """
        products, step = 3 * T * self.product_both, self.step
        rest = step - products
        text = (f"Floor: a thread's share has at least {3 * T} products of {self.shape}'s size (h·U and "
                f"dz·Uᵀ every step, and dU's equal count of operations); at the tiles' rate on it with "
                f"both vCPUs busy "
                f"({self.gflops_both():.0f} GFLOP/s a thread) they take {fmt_seconds(products)}, "
                f"{products / step:.0%} of the step's {fmt_seconds(step)} (model.train_on_batch, "
                f"timed in turns with them). "
                f"Everything else (the gates' pointwise passes, the head, the optimizer, Python, the "
                f"threads' waits) is the other {fmt_seconds(max(rest, 0.0))}.")
        if needed and needed > 1 and rest > 0:
            cut = step - step / needed
            text += (f" To be {needed:.2f}× faster the step must lose {fmt_seconds(cut)}: "
                     + (f"{cut / rest:.0%} of everything else, with its products at that rate."
                        if cut < rest else
                        "more than everything else takes; its products would have to run faster than "
                        "the tiles do alone."))
        return text


def finding(rounds=8):
    """One sentence for a profile: how much slower each thread computes with both busy."""
    return Probe(rounds).finding()
