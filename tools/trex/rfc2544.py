# SPDX-License-Identifier: BSD-3-Clause
"""RFC 2544 throughput search (section 26.1), shared by the TRex driver
(tools/trex/ndr.py, real NICs) and tools/bench --ndr (virtual devices).

A *trial* offers a constant rate for a fixed time and counts what came back;
the search needs only a function trial(rate_pps) -> Trial. It first tries
the maximum rate; when that loses frames it halves the interval between the
highest rate known to pass and the lowest known to fail until the interval
is narrower than the resolution. NDR (no drop rate) allows no loss at all;
PDR (partial drop rate) allows a small loss ratio, as telco test plans do.

No TRex or DPDK here: only arithmetic over trials.
"""
import dataclasses
import math
from typing import Callable, List, Optional


@dataclasses.dataclass
class Trial:
    """One trial: the rate asked for, and the frames sent and received."""
    target_pps: float
    tx: int
    rx: int
    seconds: float

    @property
    def loss(self) -> int:
        return max(0, self.tx - self.rx)

    @property
    def loss_ratio(self) -> float:
        return self.loss / self.tx if self.tx else 1.0

    @property
    def tx_pps(self) -> float:
        """What the generator really offered (it may fall short of the target)."""
        return self.tx / self.seconds if self.seconds > 0 else 0.0


@dataclasses.dataclass
class Result:
    """The outcome of one search."""
    loss_allowed: float
    rate_pps: float            # highest rate that passed (offered, as measured); 0: none
    passed: Optional[Trial]    # the trial that set it
    trials: List[Trial]
    max_pps: float
    generator_limited: bool    # the max rate passed but the generator could not reach it

    def gbps_l1(self, frame_size: int) -> float:
        """Layer-1 rate: frame + preamble, SFD and inter-frame gap (20 bytes)."""
        return self.rate_pps * (frame_size + 20) * 8 / 1e9


def passes(t: Trial, loss_allowed: float) -> bool:
    """Whether trial @t meets the criterion: no loss (NDR) or at most the ratio (PDR)."""
    if t.tx == 0:
        return False
    return t.loss == 0 if loss_allowed <= 0 else t.loss_ratio <= loss_allowed


def search(trial: Callable[[float], Trial], max_pps: float, loss_allowed: float = 0.0,
           resolution: float = 0.01, floor: Optional[Trial] = None, confirm_failures: int = 0,
           max_trials: int = 40, retry_short: int = 0,
           log: Optional[Callable[[str], None]] = None) -> Result:
    """Binary search for the highest passing rate up to max_pps.

    The bounds are the rates really offered: a passing trial proves the
    device handles what the generator sent, a failing one that it does not,
    whatever was asked. With a generator that keeps its rate (TRex) this is
    the classic search on the asked rates; with a software generator that
    sometimes falls short it stays truthful.

    @resolution: stop when (fail - pass) / max_pps is below it.
    @floor: a trial known to pass (the NDR's, for the PDR): the search
    starts above it and never reports less.
    @confirm_failures: repeat a failing trial this many times and count it
    as failing only if every repetition fails (noisy shared machines); 0 is
    RFC 2544's single trial per rate.
    @retry_short: repeat, up to this many times, a trial whose generator
    offered less than 98% of the rate (a software generator on a busy host).
    """
    if max_pps <= 0 or not 0 < resolution < 1:
        raise ValueError("max_pps must be > 0 and resolution in (0, 1)")
    trials: List[Trial] = []
    best: Optional[Trial] = floor if floor is not None and passes(floor, loss_allowed) else None
    lo, hi = (best.tx_pps if best else 0.0), float(max_pps)

    def run(rate):
        """The trial at @rate (repeated as asked) and whether it passed."""
        for attempt in range(confirm_failures + 1):
            t = trial(rate)
            for _ in range(retry_short):
                if t.tx_pps >= 0.98 * rate:
                    break
                if log:
                    log(f"  {rate / 1e6:10.4f} Mpps offered {t.tx_pps / 1e6:10.4f} Mpps: "
                        "the generator fell short, again")
                t = trial(rate)
            trials.append(t)
            ok = passes(t, loss_allowed)
            if log:
                log(f"  {rate / 1e6:10.4f} Mpps offered {t.tx_pps / 1e6:10.4f} Mpps: "
                    f"tx {t.tx} rx {t.rx} loss {t.loss_ratio:.6%} -> "
                    f"{'pass' if ok else 'fail'}" + (" (repeat)" if attempt else ""))
            if ok:
                return t, True
        return t, False

    # The maximum first: at line rate there is nothing to search.
    t, ok = run(hi)
    if ok:
        limited = t.tx_pps < 0.98 * hi
        return Result(loss_allowed, t.tx_pps, t, trials, max_pps, limited)
    hi = min(hi, max(t.tx_pps, lo))
    while (hi - lo) / max_pps > resolution and len(trials) < max_trials:
        t, ok = run((lo + hi) / 2)
        if ok:
            if best is None or t.tx_pps > best.tx_pps:
                best = t
            lo = max(lo, min(t.tx_pps, hi))
        else:
            # Failing below a proven pass is noise the repeats did not remove:
            # the interval closes there.
            hi = min(hi, max(t.tx_pps, lo))
    rate = best.tx_pps if best else 0.0
    return Result(loss_allowed, rate, best, trials, max_pps, False)


def ndr_pdr(trial: Callable[[float], Trial], max_pps: float, pdr_loss: float = 0.001,
            resolution: float = 0.01, confirm_failures: int = 0,
            log: Optional[Callable[[str], None]] = None, retry_short: int = 0):
    """NDR, then PDR searched from the NDR up (PDR >= NDR): (ndr, pdr)."""
    if log:
        log("NDR (no loss):")
    ndr = search(trial, max_pps, 0.0, resolution, None, confirm_failures,
                 retry_short=retry_short, log=log)
    if log:
        log(f"PDR (loss <= {pdr_loss:.4%}):")
    if ndr.passed is not None and ndr.passed.target_pps >= max_pps:
        pdr = dataclasses.replace(ndr, loss_allowed=pdr_loss, trials=[])
    else:
        pdr = search(trial, max_pps, pdr_loss, resolution, ndr.passed, confirm_failures,
                     retry_short=retry_short, log=log)
    return ndr, pdr


def line_rate_pps(gbps: float, frame_size: int) -> float:
    """Frames per second a link of @gbps carries at @frame_size (with the 20 bytes L1 overhead)."""
    return gbps * 1e9 / ((frame_size + 20) * 8)


def table(rows, link_gbps: Optional[float] = None) -> str:
    """The throughput table: rows of (label, frame_size or None, ndr Result, pdr Result)."""
    head = ["traffic", "frame B", "NDR Mpps", "NDR Gb/s", "PDR Mpps", "PDR Gb/s", "PDR loss",
            "trials"]
    if link_gbps:
        head.insert(4, "NDR %line")
    out = [head]
    for label, size, ndr, pdr in rows:
        loss = pdr.passed.loss_ratio if pdr.passed else float("nan")
        line = [label, str(size) if size else "mix",
                f"{ndr.rate_pps / 1e6:.3f}" + ("*" if ndr.generator_limited else ""),
                f"{ndr.gbps_l1(size):.2f}" if size else "-",
                f"{pdr.rate_pps / 1e6:.3f}" + ("*" if pdr.generator_limited else ""),
                f"{pdr.gbps_l1(size):.2f}" if size else "-",
                "-" if math.isnan(loss) else f"{loss:.4%}",
                str(len(ndr.trials) + len(pdr.trials))]
        if link_gbps:
            line.insert(4, f"{100 * ndr.rate_pps / line_rate_pps(link_gbps, size):.1f}"
                        if size else "-")
        out.append(line)
    widths = [max(len(r[i]) for r in out) for i in range(len(head))]
    text = "\n".join("  ".join(c.rjust(w) if i else c.ljust(w)
                               for i, (c, w) in enumerate(zip(r, widths))) for r in out)
    if any(n.generator_limited or p.generator_limited for _, _, n, p in rows):
        text += "\n* the generator could not offer more: the gateway's limit is higher"
    return text
