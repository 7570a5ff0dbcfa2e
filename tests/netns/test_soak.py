# SPDX-License-Identifier: BSD-3-Clause
"""A short tools/soak run (one minute): steady numbered traffic through
forwarding, rules, a service, WireGuard and ESP while routes, rules,
services, tunnels, NSM connections and neighbors are created and removed;
no packet lost, no drop, counters consistent, mbufs back to idle, RSS
stable, nothing left behind. The long run is `tools/soak --minutes 60`."""
import os
import subprocess

import pytest

from mgrun import BUILD, ROOT


def test_short_soak():
    if os.geteuid() != 0:
        pytest.skip("the soak needs root (namespaces)")
    r = subprocess.run([str(ROOT / "tools" / "soak"), "--minutes", "1", "--build", str(BUILD),
                        # On a shared 2-core machine the worker is sometimes kept off the CPU
                        # for seconds and the kernel's af_packet ring overflows before meshgate
                        # sees the packets (uncounted by the 22.11 PMD): reported, not failed;
                        # what meshgate received must all be delivered.
                        "--upstream-loss-ok"],
                       capture_output=True, text=True, timeout=600)
    print(r.stdout)
    assert r.returncode == 0 and "soak: ok" in r.stdout, r.stdout + r.stderr
    assert "churn cycles" in r.stdout and "lost inside meshgate: 0" in r.stdout
