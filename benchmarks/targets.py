"""The issue's targets, and the verdict on each: met or missed, and by how much.

Every gap is stated as the speed-up lstmlab still needs: its time divided by
the time that would meet the target.
"""
from dataclasses import dataclass
from typing import Optional

from .timing import fmt_seconds


@dataclass
class Target:
    wid: str
    config: str                  # the (wid, config) group it concerns
    text: str                    # "≥ 20× PyTorch"
    kind: str                    # "ratio": peer ÷ lstmlab ≥ threshold; "time": lstmlab ≤ threshold s;
                                 # "rate": lstmlab GFLOP/s ≥ threshold × the matmul rate
    threshold: float
    peer: Optional[str] = None   # Case.id of the peer, for "ratio"


@dataclass
class Verdict:
    target: Target
    row: object                  # the lstmlab Result judged
    value: Optional[float]       # the ratio, the seconds or the fraction of the matmul rate
    met: Optional[bool]          # None: could not be judged (a side failed)
    needed: Optional[float]      # speed-up lstmlab needs (> 1 when missed)
    note: str = ""

    @property
    def value_text(self):
        if self.value is None:
            return "n/a"
        if self.target.kind == "ratio":
            return f"{self.value:.2f}×"
        if self.target.kind == "time":
            return fmt_seconds(self.value)
        return f"{self.value * 100:.0f}% of matmul"

    @property
    def mark(self):
        return "n/a" if self.met is None else ("met" if self.met else "MISSED")

    def summary(self):
        s = f"{self.target.text}: {self.value_text} {self.mark}"
        if self.met is False and self.needed:
            s += f" (needs {self.needed:.2f}× faster)"
        return s


def judge(target, results, matmul_gflops=None):
    """One verdict per lstmlab row of the target's group (a group may time lstmlab two ways)."""
    group = [r for r in results if (r.case.wid, r.case.config) == (target.wid, target.config)]
    rows = [r for r in group if r.case.is_lstmlab and (r.case.primary or r.case.judged)]
    out = []
    for row in rows:
        if row.median is None:
            out.append(Verdict(target, row, None, None, None, "lstmlab side failed"))
            continue
        if target.kind == "ratio":
            peer = next((r for r in group if r.case.id == target.peer), None)
            if peer is None or peer.median is None:
                out.append(Verdict(target, row, None, None, None, f"peer {target.peer} not measured"))
                continue
            value = peer.median / row.median
            met = value >= target.threshold
            needed = target.threshold / value
        elif target.kind == "time":
            value = row.median
            met = value <= target.threshold
            needed = value / target.threshold
        elif target.kind == "rate":
            # The rate sampled in turns with this row, when the group has one; else the run's.
            mm = next((r for r in group if r.case.side == "numpy" and r.gflops), None)
            rate = mm.gflops if mm is not None else matmul_gflops
            if row.gflops is None or not rate:
                out.append(Verdict(target, row, None, None, None, "no FLOP count or matmul rate"))
                continue
            value = row.gflops / rate
            met = value >= target.threshold
            needed = target.threshold / value
        else:
            raise ValueError(f"unknown target kind {target.kind!r}")
        out.append(Verdict(target, row, value, met, needed))
        row.verdicts.append(out[-1])
    return out
