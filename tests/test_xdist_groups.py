"""Pins the conftest shim for pytest-xdist#1386: with `--dist loadgroup`, tests of one `xdist_group` run on one
worker. Without the shim, pytest 9.2 drops the group and the two workers share the tests of a group (a corpus
dir compared twice in the slow suite, twice the time)."""
from __future__ import annotations

import re
import shutil
import subprocess
import sys
from pathlib import Path

TESTS = Path(__file__).parent

GROUPED_TESTS = '''
import os, time, pytest

@pytest.mark.parametrize("i", range(6))
@pytest.mark.xdist_group("together")
def test_grouped(i):
    time.sleep(0.05)  # long enough for the idle worker to ask for work
    print(f"WORKER={os.environ['PYTEST_XDIST_WORKER']}")

@pytest.mark.parametrize("i", range(6))
def test_free(i):
    time.sleep(0.05)
'''


def test_one_group_runs_on_one_worker(tmp_path: Path) -> None:
    shutil.copy(TESTS / "conftest.py", tmp_path / "conftest.py")
    (tmp_path / "test_grouped.py").write_text(GROUPED_TESTS)
    # the copied conftest reads shared/ beside its clone only in fixtures these tests do not use
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-p", "no:cacheprovider", "-n", "2", "--dist", "loadgroup", "-v", "-rA",
         "-s", "-o", "addopts=", str(tmp_path)],
        cwd=tmp_path, capture_output=True, text=True, timeout=120,
    )
    assert done.returncode == 0, done.stdout + done.stderr
    grouped = re.findall(r"\[(gw\d)\] .*PASSED .*test_grouped\[\d\]@together", done.stdout)
    assert len(grouped) == 6, done.stdout
    assert len(set(grouped)) == 1, f"the group ran on {sorted(set(grouped))}:\n{done.stdout}"
    free = re.findall(r"\[(gw\d)\] .*PASSED .*test_free\[\d\]", done.stdout)
    assert len(free) == 6, done.stdout
