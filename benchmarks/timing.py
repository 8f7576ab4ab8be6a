"""One timing helper for every side: first call apart, then the median of warm repeats.

`measure(fn)` calls `fn` once and times it (that call pays Numba's compilation
or cache load, PyTorch's and Keras's first-call set-up), warms up, then takes
`repeats` samples of `number` calls each with `time.perf_counter` and returns
the median seconds per call. `startup` = first call - warm median: reported in
its own column, never mixed into the per-call figures. The garbage collector
is off while samples are taken, as in `timeit`, for every side alike.
"""
import gc
import statistics
import time
from dataclasses import dataclass, field


@dataclass
class Timing:
    first: float                     # seconds: the first call in this process
    median: float                    # seconds per call, warm
    low: float                       # fastest sample, seconds per call
    high: float                      # slowest sample, seconds per call
    repeats: int
    number: int                      # calls per sample
    samples: list = field(default_factory=list, repr=False)

    @property
    def startup(self):
        """What the first call cost beyond a warm one: compilation, caches, lazy set-up."""
        return max(self.first - self.median, 0.0)

    @property
    def spread(self):
        """(slowest - fastest) / median: how noisy the samples were."""
        return (self.high - self.low) / self.median if self.median > 0 else 0.0

    def scaled(self, factor):
        return Timing(self.first * factor, self.median * factor, self.low * factor,
                      self.high * factor, self.repeats, self.number,
                      [s * factor for s in self.samples])


def autorange(fn, min_time):
    """The number of calls (1, 2, 4, ...) that together take at least `min_time` seconds."""
    number = 1
    while True:
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        if time.perf_counter() - t0 >= min_time or number >= 1 << 20:
            return number
        number *= 2


def warm_up(fn, warmup=1, number=None, min_time=0.02):
    """Call `fn` once and time it (the first call), warm it up, and choose the calls per
    sample -> (first seconds, number). With `number=None` a sample lasts at least
    `min_time` seconds (short calls are timed in batches)."""
    t0 = time.perf_counter()
    fn()
    first = time.perf_counter() - t0
    for _ in range(warmup):
        fn()
    if number is None:           # judged on a warm call: the first one may have compiled
        t0 = time.perf_counter()
        fn()
        warm = time.perf_counter() - t0
        number = autorange(fn, min_time) if warm < min_time else 1
    return first, number


def sample(fn, number, primed=False):
    """Seconds per call over `number` calls of `fn`, the garbage collector off meanwhile.

    primed: one untimed call first, so that the timed calls follow a call as they do in a
    loop of them (a training loop's steps), not a pause. Between samples the parent lets
    the machine idle (interleave.SWITCH_PAUSE), and after 20-40 ms of idle this VM's second
    vCPU wakes late: a W4 step at 64 units on two threads took 10-60% longer than back to
    back, PyTorch's step about as long."""
    gc_was_on = gc.isenabled()
    gc.disable()
    try:
        if primed:
            fn()
        t0 = time.perf_counter()
        for _ in range(number):
            fn()
        return (time.perf_counter() - t0) / number
    finally:
        if gc_was_on:
            gc.enable()


def measure(fn, repeats=7, warmup=1, number=None, min_time=0.02, primed=False):
    """Time `fn()`: first call, then median of `repeats` samples of `number` calls each."""
    first, number = warm_up(fn, warmup, number, min_time)
    gc_was_on = gc.isenabled()
    gc.collect()
    gc.disable()
    try:
        samples = [sample(fn, number, primed) for _ in range(max(repeats, 1))]
    finally:
        if gc_was_on:
            gc.enable()
    return Timing(first, statistics.median(samples), min(samples), max(samples),
                  len(samples), number, samples)


def fmt_seconds(s):
    """A time with a unit that keeps three significant digits: 41.3 µs, 2.05 ms, 4.41 s."""
    if s is None:
        return "—"
    if s < 1e-3:
        return f"{_three(s * 1e6)} µs"
    if s < 1.0:
        return f"{_three(s * 1e3)} ms"
    return f"{_three(s)} s"


def _three(x):
    return f"{x:.0f}" if x >= 100 else f"{x:.1f}" if x >= 10 else f"{x:.2f}"
