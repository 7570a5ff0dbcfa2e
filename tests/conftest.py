# SPDX-License-Identifier: BSD-3-Clause
"""pytest glue for the whole suite.

- Each C unit test binary (tests/unit/test_*.c, built into BUILD/tests/unit)
  becomes one pytest item per case: the binary lists its cases with --list
  and runs one with --run NAME.
- Fixtures shared by the datapath and namespace tests live in tests/lib.
"""
import os
import pathlib
import subprocess
import sys

import pytest

ROOT = pathlib.Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT / "tests" / "lib"))

BUILD = pathlib.Path(os.environ.get("MESHGATE_BUILD", ROOT / "build"))


class UnitCase(pytest.Item):
    def __init__(self, *, binary, case, **kw):
        super().__init__(**kw)
        self.binary = binary
        self.case = case

    def runtest(self):
        r = subprocess.run([str(self.binary), "--run", self.case], capture_output=True,
                           text=True, timeout=600)
        if r.returncode != 0:
            raise UnitFailure(r.stdout + r.stderr)

    def repr_failure(self, excinfo):
        if isinstance(excinfo.value, UnitFailure):
            return str(excinfo.value)
        return super().repr_failure(excinfo)

    def reportinfo(self):
        return self.path, None, f"{self.binary.name}::{self.case}"


class UnitFailure(Exception):
    pass


class UnitFile(pytest.File):
    def collect(self):
        binary = BUILD / "tests" / "unit" / self.path.stem
        if not binary.exists():
            raise pytest.UsageError(f"{binary} is not built: run tools/test (or ninja -C {BUILD})")
        names = subprocess.run([str(binary), "--list"], capture_output=True, text=True,
                               check=True).stdout.split()
        for n in names:
            yield UnitCase.from_parent(self, name=n, binary=binary, case=n)


def pytest_collect_file(parent, file_path):
    if file_path.suffix == ".c" and file_path.name.startswith("test_") \
            and file_path.parent.name == "unit":
        return UnitFile.from_parent(parent, path=file_path)
    return None


def pytest_configure(config):
    config.addinivalue_line("markers", "netns: needs root and network namespaces")
    config.addinivalue_line("markers", "slow: takes more than a few seconds")
