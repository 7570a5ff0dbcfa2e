# SPDX-License-Identifier: BSD-3-Clause
import os
import shutil

import pytest

from topo import Topology


@pytest.fixture
def topo():
    if os.geteuid() != 0:
        pytest.skip("namespace tests need root")
    for tool in ("ip", "ping", "iperf3", "ethtool"):
        if shutil.which(tool) is None:
            pytest.fail(f"{tool} is not installed: run tools/setup")
    t = Topology().up()
    try:
        yield t
    finally:
        t.down()
