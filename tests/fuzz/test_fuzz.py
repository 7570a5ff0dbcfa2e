# SPDX-License-Identifier: BSD-3-Clause
"""The fuzz harnesses of tests/fuzz in the suite, bounded in time.

- Every harness replays its seed corpus and every regression input
  (tests/fuzz/regressions/NAME: inputs that once crashed or broke an
  invariant) through the build under test: the harnesses are built there
  with a stand-in main (fuzz_main.c), so under tools/test --sanitize the
  replay runs with ASan and UBSan too.
- A short libFuzzer session (clang, ASan, UBSan, coverage) runs for the
  harnesses that are cheap to build (config, l4, esp, wg: a few libraries
  each) and for any other whose libFuzzer build in build-fuzz/ is already
  up to date (tools/fuzz keeps it so). Longer runs are tools/fuzz's job.
"""
import os
import pathlib
import re
import shutil
import subprocess

import pytest

from mgrun import BUILD, ROOT

HARNESSES = ["eth", "neigh", "config", "nsm", "rest", "l4", "esp", "wg", "ike"]
FUZZ_BUILD = ROOT / "build-fuzz"
# Built for the short session even when build-fuzz/ does not have them yet.
CHEAP = {"config", "l4", "esp", "wg"}
MAX_LEN = {"eth": 1600, "neigh": 2048, "config": 8192, "nsm": 8192, "rest": 8192, "l4": 1600,
           "esp": 1600, "wg": 4096, "ike": 8193}


def test_tools_fuzz_runs_every_harness():
    """tools/fuzz knows every harness built here, with the same -max_len (it
    had none for ike, and `tools/fuzz` without arguments stopped there)."""
    text = (ROOT / "tools" / "fuzz").read_text()
    listed = re.search(r"^all=\((.*?)\)$", text, re.M).group(1).split()
    lens = re.search(r"^declare -A max_len=\((.*?)\)$", text, re.M | re.S).group(1)
    built = sorted(p.stem[len("fuzz_"):] for p in (ROOT / "tests" / "fuzz").glob("fuzz_*.c")
                   if re.search(r"^\s*'%s': \[" % p.stem[len("fuzz_"):],
                                (ROOT / "tests" / "fuzz" / "meson.build").read_text(), re.M))
    assert sorted(listed) == sorted(HARNESSES) == built
    assert {k: int(v) for k, v in re.findall(r"\[(\w+)\]=(\d+)", lens)} == MAX_LEN


def inputs_of(name):
    dirs = [ROOT / "tests" / "fuzz" / d / name for d in ("corpus", "regressions")]
    return [d for d in dirs if d.is_dir() and any(d.iterdir())]


def count_files(dirs):
    return sum(1 for d in dirs for f in d.iterdir() if f.is_file() and not f.name.startswith("."))


def sanitizer_env():
    env = dict(os.environ)
    env.setdefault("ASAN_OPTIONS", "detect_leaks=1:abort_on_error=1")
    env.setdefault("UBSAN_OPTIONS", "print_stacktrace=1:halt_on_error=1")
    return env


@pytest.mark.parametrize("name", HARNESSES)
def test_replay(name):
    """Seeds and regressions run clean through the harness of the build under test."""
    binary = BUILD / "tests" / "fuzz" / f"fuzz_{name}"
    if not binary.exists():
        pytest.fail(f"{binary} is not built: run tools/test (or ninja -C {BUILD})")
    dirs = inputs_of(name)
    assert dirs, f"no seed corpus for {name}: run tests/fuzz/mkcorpus.py"
    r = subprocess.run([str(binary), "-runs=0"] + [str(d) for d in dirs], capture_output=True,
                       text=True, timeout=300, env=sanitizer_env())
    assert r.returncode == 0, f"fuzz_{name} failed on an input:\n{r.stdout}\n{r.stderr[-6000:]}"
    if "replayed" in r.stdout:  # fuzz_main.c (a libFuzzer build says it differently)
        assert r.stdout.split()[-2] == str(count_files(dirs)), r.stdout


def clang_build(name, allow_build):
    """The libFuzzer binary of @name in build-fuzz/, or None if it is not up to date."""
    if shutil.which("clang") is None:
        return None
    target = f"tests/fuzz/fuzz_{name}"
    if not (FUZZ_BUILD / "build.ninja").exists():
        if not allow_build:
            return None
        subprocess.run(["meson", "setup", str(FUZZ_BUILD), "-Dfuzz=true", "-Dwerror=false",
                        "-Dbuildtype=debugoptimized", "-Db_sanitize=address,undefined",
                        "-Db_lundef=false", "-Dc_args=-fsanitize=fuzzer-no-link"],
                       cwd=ROOT, env=dict(os.environ, CC="clang"), check=True,
                       capture_output=True)
    if not allow_build:
        dry = subprocess.run(["ninja", "-C", str(FUZZ_BUILD), "-n", target], capture_output=True,
                             text=True)
        if dry.returncode != 0 or "no work to do" not in dry.stdout:
            return None
    r = subprocess.run(["ninja", "-C", str(FUZZ_BUILD), "-j2", target], capture_output=True,
                       text=True)
    assert r.returncode == 0, r.stdout[-4000:] + r.stderr[-2000:]
    return FUZZ_BUILD / target


@pytest.mark.slow
@pytest.mark.parametrize("name", HARNESSES)
def test_libfuzzer_short(name, tmp_path):
    """A few seconds of coverage-guided fuzzing find nothing."""
    binary = clang_build(name, allow_build=(name in CHEAP))
    if binary is None:
        pytest.skip(f"no up-to-date libFuzzer build of {name} (tools/fuzz {name} makes one)")
    work = tmp_path / "corpus"
    work.mkdir()
    secs = 8 if name in CHEAP else 4
    dict_file = ROOT / "tests" / "fuzz" / "dict" / f"{name}.dict"
    opts = [f"-dict={dict_file}"] if dict_file.exists() else []
    r = subprocess.run([str(binary), str(work)] + [str(d) for d in inputs_of(name)] +
                       [f"-max_total_time={secs}", f"-max_len={MAX_LEN[name]}", "-timeout=10",
                        "-rss_limit_mb=4096", f"-artifact_prefix={tmp_path}/"] + opts,
                       capture_output=True, text=True, timeout=secs + 120, env=sanitizer_env(),
                       cwd=tmp_path)
    found = sorted(p.name for p in tmp_path.iterdir() if p.is_file())
    assert r.returncode == 0 and not found, (
        f"libFuzzer found {found} in {tmp_path}: fix it and add the input to "
        f"tests/fuzz/regressions/{name}/\n{r.stderr[-6000:]}")
    assert "DONE" in r.stderr or "Done" in r.stderr, r.stderr[-2000:]
