"""What one row of the table is: a Case (how to build and time one side of one
workload configuration) and its Result."""
import time
import traceback
from dataclasses import dataclass, field
from typing import Callable, Optional

from .quiet import Monitor, canary
from .timing import Timing, measure


@dataclass
class Case:
    wid: str                      # "W3"
    config: str                   # "D=64, H=256": the group whose rows are compared
    side: str                     # "lstmlab", "torch", "keras", "tf.keras", "numpy"
    how: str                      # what is called: "engine.step", "nn.LSTMCell (no_grad)"
    setup: Callable[[], Callable[[], object]]   # builds models and data; returns the timed callable
    id: str = ""                  # names the row in targets: "torch", "keras.predict", ...
    repeats: int = 7
    number: Optional[int] = None  # calls per sample; None: chosen so a sample lasts >= 20 ms
    warmup: int = 1
    primed: bool = False          # one untimed call right before each sample (see timing.sample)
    scale: float = 1.0            # seconds per call x scale = the figure reported
    unit: str = "per call"
    flops: Optional[float] = None # per reported unit, for GFLOP/s
    primary: bool = False         # the lstmlab row that peers' ratios divide by
    judged: bool = False          # targets judge this lstmlab row too (the primary always)
    timer: Optional[Callable] = None  # replaces the in-process measure (another process)

    @property
    def is_lstmlab(self):
        return self.side == "lstmlab"


@dataclass
class Result:
    case: Case
    timing: Optional[Timing] = None     # already scaled to the reported unit
    setup_s: Optional[float] = None     # building models/data, before the first call
    error: Optional[str] = None
    ratio: Optional[float] = None       # for peers: this median / the primary lstmlab median
    others: Optional[float] = None      # cores other processes used while this row was timed
    canary_s: Optional[float] = None    # the canary's seconds around this row (mean of before, after)
    attempts: int = 1
    verdicts: list = field(default_factory=list)

    @property
    def median(self):
        return None if self.timing is None else self.timing.median

    @property
    def startup(self):
        return None if self.timing is None else self.timing.startup

    @property
    def gflops(self):
        if self.timing is None or not self.case.flops:
            return None
        return self.case.flops / self.timing.median / 1e9


def run_case(case, log=print):
    """Build, then time; an error becomes the row's note instead of ending the run."""
    try:
        if case.timer is not None:
            with Monitor() as m:
                timing = case.timer()
            return Result(case, timing.scaled(case.scale), setup_s=None, others=m.others)
        t0 = time.perf_counter()
        fn = case.setup()
        setup_s = time.perf_counter() - t0
        before = canary()
        with Monitor() as m:
            timing = measure(fn, repeats=case.repeats, warmup=case.warmup, number=case.number,
                             primed=case.primed)
        after = canary()
        return Result(case, timing.scaled(case.scale), setup_s=setup_s, others=m.others,
                      canary_s=(before + after) / 2)
    except Exception as e:           # noqa: BLE001 - one broken side must not sink the run
        log(f"  {case.wid} {case.config} {case.side} {case.how}: FAILED {type(e).__name__}: {e}")
        tb = traceback.format_exc(limit=3)
        return Result(case, error=f"{type(e).__name__}: {e}".strip()[:300] + "\n" + tb[-600:])


def link_ratios(results):
    """Peer rows get peer median ÷ the primary lstmlab median of their (wid, config) group."""
    primaries = {(r.case.wid, r.case.config): r for r in results
                 if r.case.primary and r.median is not None}
    for r in results:
        p = primaries.get((r.case.wid, r.case.config))
        if r.case.side not in ("lstmlab", "numpy") and p is not None and r.median is not None:
            r.ratio = r.median / p.median
