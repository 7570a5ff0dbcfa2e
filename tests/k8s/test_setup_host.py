# SPDX-License-Identifier: BSD-3-Clause
"""tools/setup-host on a fake /sys and /proc tree (its --sysfs test hook):
what it reports and would do under --dry-run (and that it then changes
nothing), what it writes when it runs, and its errors."""
import os
import subprocess

import pytest

from mgrun import ROOT

TOOL = ROOT / "tools" / "setup-host"


def put(root, path, value):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    p.write_text(value)


def link(root, path, target):
    p = root / path
    p.parent.mkdir(parents=True, exist_ok=True)
    os.symlink(target, p)


@pytest.fixture
def host(tmp_path):
    """A host with an IOMMU, no hugepages, PF ens1f0 with 2 of 8 VFs (VF 0 on
    iavf, VF 1 already on vfio-pci) and a 1 GB page size on node 0."""
    r = tmp_path / "root"
    for g in range(3):
        (r / f"sys/kernel/iommu_groups/{g}").mkdir(parents=True)
    put(r, "proc/cmdline", "BOOT_IMAGE=/vmlinuz root=/dev/sda1 intel_iommu=on iommu=pt")
    put(r, "proc/mounts", "proc /proc proc rw 0 0\n")
    put(r, "dmesg", "[    0.1] DMAR: IOMMU enabled\n")
    put(r, "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages", "0\n")
    put(r, "sys/kernel/mm/hugepages/hugepages-1048576kB/nr_hugepages", "0\n")
    put(r, "sys/devices/system/node/node0/hugepages/hugepages-1048576kB/nr_hugepages", "0\n")
    pci = "sys/bus/pci/devices"
    put(r, f"{pci}/0000:3b:00.0/sriov_totalvfs", "8\n")
    put(r, f"{pci}/0000:3b:00.0/sriov_numvfs", "2\n")
    for i in range(2):
        (r / f"{pci}/0000:3b:02.{i}").mkdir(parents=True)
        link(r, f"{pci}/0000:3b:00.0/virtfn{i}", f"../0000:3b:02.{i}")
    (r / "sys/bus/pci/drivers/iavf").mkdir(parents=True)
    (r / "sys/bus/pci/drivers/vfio-pci").mkdir(parents=True)
    link(r, f"{pci}/0000:3b:02.0/driver", "../../drivers/iavf")
    link(r, f"{pci}/0000:3b:02.1/driver", "../../drivers/vfio-pci")
    link(r, "sys/class/net/ens1f0/device", "../../../bus/pci/devices/0000:3b:00.0")
    # A dpdk-devbind.py stand-in that records its arguments.
    stub = tmp_path / "devbind"
    stub.write_text(f"#!/bin/sh\necho \"$@\" >> {tmp_path}/devbind.log\n")
    stub.chmod(0o755)
    return r


def run(root, *args):
    r = subprocess.run([str(TOOL), "--sysfs", str(root), "--devbind",
                        str(root.parent / "devbind")] + list(args),
                       capture_output=True, text=True, timeout=30)
    return r.returncode, r.stdout, r.stderr


def snapshot(root):
    out = {}
    for dirpath, _, files in os.walk(root):
        for f in files:
            p = os.path.join(dirpath, f)
            if not os.path.islink(p):
                out[p] = open(p).read()
    return out


def test_dry_run_reports_and_changes_nothing(host):
    before = snapshot(host)
    rc, out, err = run(host, "--dry-run", "--hugepages", "2M:1024", "--hugepages", "1G:4@0",
                       "--vfs", "ens1f0:2", "--bind", "vfio-pci")
    assert rc == 0, out + err
    lines = out.splitlines()
    assert "ok:    IOMMU on: 3 IOMMU groups; command line has intel_iommu=on" in lines
    assert ("would: echo 1024 > /sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages  "
            "(0 -> 1024 hugepages of 2M)") in lines
    assert "would: mount -t hugetlbfs -o pagesize=2M nodev /dev/hugepages" in lines
    assert ("would: echo 4 > /sys/devices/system/node/node0/hugepages/hugepages-1048576kB/"
            "nr_hugepages  (0 -> 4 hugepages of 1G on NUMA node 0)") in lines
    assert "would: mount -t hugetlbfs -o pagesize=1G nodev /dev/hugepages-1G" in lines
    assert "ok:    ens1f0: 2 VFs exist" in lines
    assert "ok:    0000:3b:02.0 is bound to iavf; it moves to vfio-pci" in lines
    assert "ok:    0000:3b:02.1 is bound to vfio-pci" in lines
    assert lines[-2].endswith(" -b vfio-pci 0000:3b:02.0") and lines[-2].startswith("would: ")
    assert lines[-1] == "setup-host: 5 action(s) to do, 0 warning(s), 0 error(s)"
    assert snapshot(host) == before
    assert not (host.parent / "devbind.log").exists()


def test_dry_run_more_vfs(host):
    rc, out, _ = run(host, "--dry-run", "--vfs", "ens1f0:4", "--bind", "vfio-pci")
    assert rc == 0
    assert ("would: echo 0 > /sys/class/net/ens1f0/device/sriov_numvfs  (ens1f0: remove its 2 "
            "VFs first)") in out
    assert "would: echo 4 > /sys/class/net/ens1f0/device/sriov_numvfs  (ens1f0: create 4 VFs)" \
        in out
    assert "-b vfio-pci <ens1f0 VF 0> <ens1f0 VF 1> <ens1f0 VF 2> <ens1f0 VF 3>" in out


def test_runs_for_real_on_the_tree(host):
    put(host, "proc/mounts", "nodev /dev/hugepages hugetlbfs rw,relatime,pagesize=2M 0 0\n")
    rc, out, err = run(host, "--hugepages", "2M:512", "--vfs", "ens1f0:2", "--device",
                       "3b:02.1", "--bind", "vfio-pci")
    assert rc == 0, out + err
    assert (host / "sys/kernel/mm/hugepages/hugepages-2048kB/nr_hugepages").read_text() == "512"
    assert "ok:    hugetlbfs for 2M pages mounted at /dev/hugepages" in out
    assert "did:   " in out
    # Only the VF not yet on vfio-pci is bound, once.
    assert (host.parent / "devbind.log").read_text() == "-b vfio-pci 0000:3b:02.0\n"
    # Run again: nothing left to do.
    (host / "sys/bus/pci/devices/0000:3b:02.0/driver").unlink()
    os.symlink("../../drivers/vfio-pci", host / "sys/bus/pci/devices/0000:3b:02.0/driver")
    rc, out, _ = run(host, "--hugepages", "2M:512", "--vfs", "ens1f0:2", "--bind", "vfio-pci")
    assert rc == 0 and out.splitlines()[-1].startswith("setup-host: 0 action(s) done")


def test_errors(host, tmp_path):
    rc, out, err = run(host, "--dry-run", "--vfs", "ens1f0:9")
    assert rc == 1 and "ens1f0: 9 VFs asked, the PF offers at most 8" in err
    rc, out, err = run(host, "--dry-run", "--vfs", "eth9:1")
    assert rc == 1 and "eth9: no SR-IOV here (/sys/class/net/eth9/device/sriov_totalvfs" in err
    rc, out, err = run(host, "--dry-run", "--hugepages", "3M:10")
    assert rc == 2 and "'3M:10' is not SIZE:COUNT[@NODE]" in err
    rc, out, err = run(host, "--dry-run", "--hugepages", "1G:1@3")
    assert rc == 1 and "no 1G hugepages on NUMA node 3" in err
    rc, out, err = run(host, "--dry-run", "--device", "3b:02.0")
    assert rc == 2 and "--device needs --bind DRIVER" in err
    rc, out, err = run(host, "--dry-run", "--device", "zz", "--bind", "vfio-pci")
    assert rc == 2 and "'zz' is not a PCI address" in err


def test_no_iommu(host):
    for g in (host / "sys/kernel/iommu_groups").iterdir():
        g.rmdir()
    put(host, "proc/cmdline", "root=/dev/sda1")
    put(host, "dmesg", "")
    rc, out, err = run(host, "--dry-run", "--vfs", "ens1f0:2", "--bind", "vfio-pci")
    assert rc == 1
    assert ("no IOMMU (/sys/kernel/iommu_groups is empty): vfio-pci cannot bind devices; "
            "enable VT-d/AMD-Vi in the firmware and add intel_iommu=on iommu=pt") in err
    assert "skip:  binding to vfio-pci (no IOMMU, see above)" in out
    # Without binding it is only a warning.
    rc, out, err = run(host, "--check")
    assert rc == 0 and "warn:  no IOMMU" in out


def test_this_machine_dry_run():
    """The real host, read only: whatever it has, it reports and changes nothing."""
    before = open("/proc/sys/vm/nr_hugepages").read()
    r = subprocess.run([str(TOOL), "--dry-run", "--hugepages", "2M:64"], capture_output=True,
                       text=True, timeout=30)
    assert r.returncode == 0, r.stdout + r.stderr
    assert r.stdout.splitlines()[-1].startswith("setup-host: ")
    assert open("/proc/sys/vm/nr_hugepages").read() == before
