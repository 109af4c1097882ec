"""Without the shared data folder only the tests that read it fail, each naming the missing path; the rest run."""
from __future__ import annotations

import os
import subprocess
import sys
import xml.etree.ElementTree as ET

import pytest

from conftest import REPO


@pytest.mark.slow  # a pytest run in a subprocess: CI's slow stage
def test_a_missing_shared_folder_fails_only_the_tests_that_read_it(tmp_path):
    missing = tmp_path / "no-shared-here"
    env = {**os.environ, "RECIPE_ASSETS_SHARED": str(missing)}
    selection = [
        "tests/steps/test_split.py",  # reads the NYC sample
        "tests/engine/test_instance.py::test_hostile_profile_values_cannot_change_the_structure_of_dagster_yaml",
    ]
    report = tmp_path / "report.xml"
    done = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-n", "0", "-p", "no:cacheprovider", "-rfEs", f"--junitxml={report}", *selection],
        env=env, cwd=REPO, capture_output=True, text=True, timeout=300,
    )
    out = done.stdout + done.stderr
    assert done.returncode == 1, out  # tests failed; not 4 (usage error: the whole run aborted)
    assert "4 failed, 12 passed" in out and "skipped" not in out, out  # split's 11 pure tests and the instance test ran
    failed = {line.split()[1] for line in out.splitlines() if line.startswith("FAILED ")}
    assert failed == {
        "tests/steps/test_split.py::test_nyc_sample_splits_exactly_as_mlflow_recipes_did",
        "tests/steps/test_split.py::test_appending_rows_never_moves_existing_rows",
        "tests/steps/test_split.py::test_split_is_deterministic_across_calls",
        "tests/steps/test_split.py::test_post_split_filter_drops_rows_in_every_split",
    }, out
    # each failure names the missing file (read from the JUnit report: the terminal's summary lines are cut to
    # its width, except where CI is set)
    messages = [failure.get("message", "") for failure in ET.parse(report).iter("failure")]
    assert len(messages) == 4, out
    assert all(f"{missing / 'data' / 'nyc-taxi-sample.parquet'} is missing: this test reads the real data sets" in m for m in messages), messages
