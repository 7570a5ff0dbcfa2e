# SPDX-License-Identifier: BSD-3-Clause
"""The RFC 2544 search itself (tools/trex/rfc2544.py), against devices of
known capacity written as trial functions: it must find the capacity within
its resolution, take the line rate when nothing is lost, keep PDR >= NDR,
and, when asked, not believe a single failing trial."""
import sys

import pytest

from mgrun import ROOT

sys.path.insert(0, str(ROOT / "tools" / "trex"))
import rfc2544  # noqa: E402


def device(capacity, gen_max=None, seconds=1.0):
    """Forwards up to @capacity pps; the generator offers at most @gen_max."""
    def trial(rate):
        offered = min(rate, gen_max) if gen_max else rate
        tx = int(offered * seconds)
        return rfc2544.Trial(rate, tx, min(tx, int(capacity * seconds)), seconds)
    return trial


@pytest.mark.parametrize("capacity", [20_000.0, 123_456.0, 7_000_000.0, 9_999_000.0])
def test_finds_capacity(capacity):
    r = rfc2544.search(device(capacity), 10e6, resolution=0.001)
    assert capacity - 10e6 * 0.001 <= r.rate_pps <= capacity
    assert r.passed.loss == 0 and not r.generator_limited
    # Every trial above the capacity failed, every one at or below passed.
    for t in r.trials:
        assert rfc2544.passes(t, 0.0) == (t.target_pps <= capacity)
    assert len(r.trials) <= 11


def test_line_rate_passes_at_once():
    r = rfc2544.search(device(20e6), 10e6)
    assert r.rate_pps == 10e6 and len(r.trials) == 1


def test_generator_limited():
    r = rfc2544.search(device(20e6, gen_max=4e6), 10e6)
    assert r.generator_limited and r.rate_pps == 4e6


def test_nothing_passes():
    r = rfc2544.search(lambda rate: rfc2544.Trial(rate, 100, 99, 1.0), 1e6, resolution=0.01)
    assert r.rate_pps == 0 and r.passed is None


def test_ndr_pdr():
    # Loses a fixed 0.05% of everything, and everything above 2 Mpps.
    def trial(rate):
        tx = int(rate)
        rx = min(int(tx * 0.9995), 2_000_000)
        return rfc2544.Trial(rate, tx, rx, 1.0)
    ndr, pdr = rfc2544.ndr_pdr(trial, 4e6, pdr_loss=0.001, resolution=0.001)
    assert ndr.rate_pps == 0
    assert 2e6 - 4e3 <= pdr.rate_pps <= 2e6 / 0.999
    ndr, pdr = rfc2544.ndr_pdr(device(3e6), 4e6, pdr_loss=0.01, resolution=0.0005)
    assert 3e6 - 2e3 <= ndr.rate_pps <= 3e6
    assert ndr.rate_pps <= pdr.rate_pps <= 3e6 / 0.99
    text = rfc2544.table([("udp", 64, ndr, pdr)], link_gbps=10)
    assert text.splitlines()[1].split()[:3] == ["udp", "64", f"{ndr.rate_pps / 1e6:.3f}"]


def test_confirm_failures():
    # A device of 1.5 Mpps whose first trial at 1 Mpps loses a frame to noise.
    spoilt = {"left": 1}

    def trial(rate):
        t = device(1.5e6)(rate)
        if rate == 1e6 and spoilt["left"]:
            spoilt["left"] -= 1
            return rfc2544.Trial(rate, t.tx, t.rx - 1, t.seconds)
        return t
    r = rfc2544.search(trial, 2e6, resolution=0.01)
    assert r.rate_pps < 1e6  # believed the noise
    spoilt["left"] = 1
    r = rfc2544.search(trial, 2e6, resolution=0.01, confirm_failures=1)
    assert 1.48e6 <= r.rate_pps <= 1.5e6


def test_bad_arguments():
    with pytest.raises(ValueError):
        rfc2544.search(device(1), 0)
    with pytest.raises(ValueError):
        rfc2544.search(device(1), 1e6, resolution=0)


def test_short_generator_stays_truthful():
    """A generator that offers only 60% of the asked rate every third trial:
    the bounds are what it really offered, so the answer is still the
    capacity, never more, and PDR >= NDR."""
    calls = {"n": 0}

    def trial(rate):
        calls["n"] += 1
        offered = rate * (0.6 if calls["n"] % 3 == 0 else 1.0)
        tx = int(offered)
        return rfc2544.Trial(rate, tx, min(tx, 1_000_000), 1.0)
    ndr, pdr = rfc2544.ndr_pdr(trial, 2e6, pdr_loss=0.01, resolution=0.005)
    assert 0.98e6 <= ndr.rate_pps <= 1e6
    assert ndr.rate_pps <= pdr.rate_pps <= 1e6 / 0.99
    for t in ndr.trials:
        assert rfc2544.passes(t, 0.0) == (t.tx_pps <= 1e6)
