"""The engine's threads for a call cut in a few large shares: one compiled call a share.

A training step or a long sequence is cut in as many shares as Numba has
threads (`kernels._plan`): runs of batch rows, or the units of every step.
Each share is one call of a compiled function that releases the GIL
(nogil=True), run by the calling thread and a small pool of Python threads.

Why not Numba's prange: a parallel function is compiled on its own, with
every function it calls linked in and optimised again. Measured on a 2-core
Zen 3 VM with an empty cache, `_forward_chunks` and `_backward_chunks`, a
prange over the rows' loops, took 6.1 and 9.1 s to compile on top of the 9.8
and 8.5 s of the loops themselves, which the serial path compiles anyway.
Calling the serial loops from threads compiles nothing more.

Why the workers spin: a thread asleep on a condition takes about 60 µs to
wake on that VM (an Event ping-pong between two threads: 120 µs). After a
call the workers watch a counter for about a millisecond (SPINS) before they
sleep, as OpenMP's do, so the calls of a training loop find them awake. Even
so a worker starts its share 50-60 µs after the caller starts its own: it
needs the GIL to make the call, and CPython hands the GIL over by waking the
waiting thread. Against shares of 1-100 ms that is a few percent at most.
Timed against the prange kernels in alternating processes, training steps at
64 and 256 units ran as fast. `predict` at batch 1, whose unit split meets
every step, was within the machine's noise of ±20% a process across
processes; taking turns inside one process, prange was 10-15% faster in 3 of 4.

Shares are claimed from a counter: a worker that wakes late finds its share
taken by a thread that finished early, and more shares than threads still
all run. A call made while another thread's call holds the pool runs its
shares one after another on its own thread.
"""
import os
import threading

import numba
import numpy as np
from numba import njit

from .atomics import fetch_add, load

# Checks of the generation counter before a worker sleeps: about 1 ms.
SPINS = 1_000_000


@njit(cache=True, nogil=True)
def _await(counter, k, value, spins, changed):
    """Spin until counter[k] != value (changed) or == value (not changed), at most
    `spins` checks; -> True when it came."""
    for _ in range(spins):
        if (load(counter, k) != value) == changed:
            return True
    return False


def _await_or_sleep(wake, counter, k, value, changed):
    """Until counter[k] != value (changed) or == value (not changed): spinning for SPINS
    checks, then asleep on the condition `wake`, which whoever changes the counter notifies."""
    if not _await(counter, k, value, SPINS, changed):
        with wake:
            wake.wait_for(lambda: (counter[k] != value) == changed)


@njit(cache=True)
def _bump(counter, k):
    """counter[k] += 1 atomically; -> the value before. Not nogil: releasing the GIL for
    a few nanoseconds would only invite another thread to take it."""
    return fetch_add(counter, k, 1)


class _Call:
    """One call's shares, claimed one by one (counts[0]) and counted done (counts[1])."""

    def __init__(self, fn, shares, wake):
        self.fn, self.shares, self.wake = fn, shares, wake
        self.counts = np.zeros(2, np.int64)
        self.errors = []

    def work(self):
        """Run shares until none is left to claim (any thread, any number of times)."""
        n = len(self.shares)
        while (i := _bump(self.counts, 0)) < n:
            try:
                self.fn(*self.shares[i])
            except BaseException as error:          # handed to the caller, which re-raises it
                self.errors.append(error)
            finally:
                if _bump(self.counts, 1) + 1 == n:
                    with self.wake:
                        self.wake.notify_all()

    def wait(self):
        _await_or_sleep(self.wake, self.counts, 1, len(self.shares), False)


class _Pool:
    def __init__(self, workers):
        self.generation = np.zeros(1, np.int64)     # bumped when a call's shares are ready
        self.wake = threading.Condition()
        self.busy = threading.Lock()                # one call at a time
        self.call = None
        for k in range(workers):
            threading.Thread(target=self._worker, name=f"lstmlab-engine-{k}", daemon=True).start()

    def _worker(self):
        seen = 0
        while True:
            _await_or_sleep(self.wake, self.generation, 0, seen, True)
            seen = int(self.generation[0])
            self.call.work()

    def run(self, fn, shares):
        call = _Call(fn, shares, self.wake)
        self.call = call
        with self.wake:
            _bump(self.generation, 0)
            self.wake.notify_all()
        call.work()
        call.wait()
        if call.errors:
            raise call.errors[0]


_pool = None
_made = threading.Lock()


def _get_pool():
    global _pool
    if _pool is None:
        with _made:
            if _pool is None:
                _pool = _Pool(max(1, numba.config.NUMBA_NUM_THREADS - 1))
    return _pool


def _forget_pool():
    """A forked child has none of its parent's threads: it makes a pool of its own."""
    global _pool, _made
    _pool, _made = None, threading.Lock()


os.register_at_fork(after_in_child=_forget_pool)


def run(fn, shares):
    """fn(*args) for every args in shares, side by side on this thread and the pool's.
    Returns when all are done; re-raises the first error a share raised."""
    if len(shares) == 1:
        fn(*shares[0])
        return
    pool = _get_pool()
    if not pool.busy.acquire(blocking=False):       # another thread's call has the pool
        for args in shares:
            fn(*args)
        return
    try:
        pool.run(fn, shares)
    finally:
        pool.busy.release()
