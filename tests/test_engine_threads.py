"""The engine's pool of threads (`engine/threads.py`): every share runs once, errors reach the caller."""
import multiprocessing
import threading

import numpy as np
import pytest
import numba
from numba import njit

from lstmlab.engine import threads


@njit(nogil=True)
def _fill(out, k, value):
    """out[k] = value, after some work, so that the shares overlap."""
    acc = 0.0
    for i in range(20000):
        acc += np.sqrt(i + value)
    out[k] = value + 0.0 * acc


@pytest.mark.parametrize("n", [1, 2, 3, 7])
def test_every_share_runs_once_however_many_threads_there_are(n):
    out = np.zeros(n)
    for _ in range(50):
        out[:] = -1.0
        threads.run(_fill, [(out, k, float(k)) for k in range(n)])
        np.testing.assert_array_equal(out, np.arange(n))


def test_an_error_in_a_share_reaches_the_caller_after_every_share_is_done():
    done = []

    def share(k):
        if k == 1:
            raise ValueError("share 1 failed")
        done.append(k)

    with pytest.raises(ValueError, match="share 1 failed"):
        threads.run(share, [(k,) for k in range(4)])
    assert sorted(done) == [0, 2, 3]
    out = np.zeros(2)
    threads.run(_fill, [(out, 0, 1.0), (out, 1, 2.0)])     # the pool still works
    np.testing.assert_array_equal(out, [1.0, 2.0])


def test_calls_from_several_threads_at_once_each_get_all_their_shares():
    outs = [np.zeros(3) for _ in range(4)]
    errors = []

    def caller(out):
        try:
            for _ in range(30):
                out[:] = -1.0
                threads.run(_fill, [(out, k, float(k)) for k in range(3)])
                assert out.tolist() == [0.0, 1.0, 2.0]
        except BaseException as error:  # noqa: BLE001 - reported below
            errors.append(error)

    callers = [threading.Thread(target=caller, args=(out,)) for out in outs]
    for t in callers:
        t.start()
    for t in callers:
        t.join()
    assert not errors


def _in_child(queue):
    out = np.zeros(2)
    threads.run(_fill, [(out, 0, 3.0), (out, 1, 4.0)])
    workers = [t.name for t in threading.enumerate() if t.name.startswith("lstmlab-engine")]
    queue.put((out.tolist(), len(workers)))


@pytest.mark.skipif("fork" not in multiprocessing.get_all_start_methods(), reason="no fork here")
def test_a_forked_child_makes_a_pool_of_its_own():
    """Threads do not survive a fork: without a pool of its own, a child would run every share
    on its one thread."""
    threads.run(_fill, [(np.zeros(2), 0, 1.0), (np.zeros(2), 1, 1.0)])   # the parent's pool exists
    ctx = multiprocessing.get_context("fork")
    queue = ctx.Queue()
    child = ctx.Process(target=_in_child, args=(queue,))
    child.start()
    child.join(60)
    assert child.exitcode == 0
    out, workers = queue.get(timeout=5)
    assert out == [3.0, 4.0]
    assert workers == max(1, numba.config.NUMBA_NUM_THREADS - 1)
