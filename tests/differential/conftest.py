"""The differential harness's fixtures: each corpus dir is run once per session by both systems."""
from __future__ import annotations

import time

# recipe dirs used as test data: their steps/ are user code, not tests
collect_ignore = ["recipes"]

STARTED = time.monotonic()


def pytest_terminal_summary(terminalreporter) -> None:
    import sys

    harness = sys.modules.get("diff_harness")
    if harness is None or not harness.RESULTS:
        return

    terminalreporter.write_sep("=", "differential harness: MLflow Recipes 2.22.2 vs recipe-assets")
    text = harness.summary(harness.RESULTS, time.monotonic() - STARTED)
    terminalreporter.write_line(text)
    if harness.TABLES_FILE is not None:
        with harness.TABLES_FILE.open("a") as handle:
            handle.write(text + "\n")
        terminalreporter.write_line(f"tables: {harness.TABLES_FILE}")
