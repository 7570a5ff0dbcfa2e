# SPDX-License-Identifier: BSD-3-Clause
import pytest

from topo import Topology, netns_fixture


@pytest.fixture
def topo():
    yield from netns_fixture(Topology, ("ip", "ping", "iperf3", "ethtool"))
