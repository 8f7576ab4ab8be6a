"""Other processes on the machine: how much CPU they took while a row was timed, and
waiting for them to stop before timing the next row.

The machine is shared (a test suite started by someone else takes a core and
halves any multi-threaded figure), so every row records the CPU time the rest
of the machine used during its samples, in cores: (all CPU time the kernel
counted) − (this process's own CPU time), divided by wall time. Rows timed
while others used more than BUSY cores are flagged in the table.
"""
import os
import time

BUSY = 0.25            # cores used by other processes above which a row is flagged
SLOW = 1.2             # canary time / the run's best canary above which a row is flagged
_TICK = os.sysconf("SC_CLK_TCK") if hasattr(os, "sysconf") else 100


def _busy_seconds():
    """CPU seconds spent (not idle) by the whole machine since boot, or None off Linux."""
    try:
        with open("/proc/stat") as f:
            fields = f.readline().split()[1:]
    except OSError:
        return None
    v = [int(x) for x in fields]
    idle = v[3] + (v[4] if len(v) > 4 else 0)          # idle + iowait
    guest = sum(v[8:10]) if len(v) > 9 else 0           # guest time is already in user
    return (sum(v) - idle - guest) / _TICK


def _own_seconds():
    t = os.times()
    return t.user + t.system + t.children_user + t.children_system


class Monitor:
    """with Monitor() as m: ...; m.others -> cores used by other processes meanwhile."""

    def __enter__(self):
        self.t0, self.b0, self.o0 = time.perf_counter(), _busy_seconds(), _own_seconds()
        return self

    def __exit__(self, *exc):
        wall = time.perf_counter() - self.t0
        b1 = _busy_seconds()
        if self.b0 is None or b1 is None or wall <= 0:
            self.others = None
        else:
            self.others = max((b1 - self.b0) - (_own_seconds() - self.o0), 0.0) / wall
        return False


def others_now(window=0.5):
    """Cores other processes use over `window` seconds while this one sleeps."""
    with Monitor() as m:
        time.sleep(window)
    return m.others


def wait_quiet(max_wait, log=print, threshold=BUSY, window=0.5):
    """Wait up to max_wait seconds for the rest of the machine to use < threshold cores.
    Returns the last reading (cores), or None when it cannot be read."""
    if max_wait <= 0:
        return None
    deadline = time.perf_counter() + max_wait
    busy = others_now(window)
    said = False
    while busy is not None and busy >= threshold and time.perf_counter() < deadline:
        if not said:
            log(f"  waiting for the machine to go quiet (others use {busy:.2f} cores) ...")
            said = True
        busy = others_now(max(window, 2.0))
    return busy


def canary():
    """Seconds for a fixed small job (NumPy 64x64 products and a Python loop, ~17 ms here).

    The machine is a virtual one: its cores can slow down (a neighbour on the host)
    without any process here using them, which /proc/stat does not show. Timed before
    and after every row and divided by the run's best, it says how fast the machine
    was while the row ran.
    """
    import numpy as np
    a = np.ones((64, 64), np.float32)
    t0 = time.perf_counter()
    for _ in range(2000):
        a @ a
    s = 0
    for i in range(200000):
        s += i
    return time.perf_counter() - t0


def canary_base(n=3):
    return min(canary() for _ in range(n))
