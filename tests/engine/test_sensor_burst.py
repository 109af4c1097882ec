"""A burst of 100 scoring files landing within seconds, the sensor evaluated as the daemon evaluates it
(tests/sensor_loop.py: real instance, persisted cursor, run-key dedupe), its process killed and restarted
in the middle: every row of every file is in the scored output exactly once."""
from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from conftest import TESTS, copy_template
from recipe_assets.app.cli import main

LOOP = TESTS / "sensor_loop.py"
FILES = 100
ROWS_PER_FILE = 20


def land(folder: Path, frame: pd.DataFrame, number: int) -> None:
    """As a well-behaved producer lands a file: written aside, renamed into the folder."""
    part = frame.sample(ROWS_PER_FILE, random_state=number).reset_index(drop=True)
    part["row_id"] = [f"{number:03d}-{i:02d}" for i in range(ROWS_PER_FILE)]
    aside = folder.parent / f"landing-{number}.partial"
    part.to_parquet(aside, index=False)
    os.replace(aside, folder / f"batch-{number:03d}.parquet")


def start_loop(root: Path, cursor: Path, log) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, str(LOOP), str(root), str(cursor)], stdout=log, stderr=subprocess.STDOUT, text=True)


@pytest.mark.slow
def test_a_burst_of_scoring_files_is_scored_exactly_once_across_a_sensor_restart(tmp_path: Path, capsys):
    root = copy_template("regression", tmp_path / "recipe")
    incoming = root / "data" / "incoming"
    incoming.mkdir()
    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace(
        'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"',
        'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/incoming"',
    ))
    assert main(["run", "--recipe-root", str(root)]) == 0, capsys.readouterr().err
    sample = pd.read_parquet(root / "data" / "sample.parquet")
    cursor, log_path = tmp_path / "cursor.json", tmp_path / "loop.log"
    with open(log_path, "w") as log:
        loop = start_loop(root, cursor, log)
        for number in range(FILES // 2):
            land(incoming, sample, number)
        while "run " not in log_path.read_text() and loop.poll() is None:
            time.sleep(0.1)
        os.kill(loop.pid, signal.SIGKILL)  # mid-run: the tick's cursor is not committed
        loop.wait()
        loop = start_loop(root, cursor, log)
        for number in range(FILES // 2, FILES):
            land(incoming, sample, number)
            time.sleep(0.02)
        loop.wait(timeout=1800)
    ticks = log_path.read_text()
    assert loop.returncode == 0, ticks
    scored = pd.read_parquet(root / "data" / "sample_output.parquet")
    counts = scored["row_id"].value_counts()
    expected = {f"{n:03d}-{i:02d}" for n in range(FILES) for i in range(ROWS_PER_FILE)}
    once, twice, lost = (counts == 1).sum(), (counts > 1).sum(), len(expected - set(counts.index))
    print(f"\nsensor burst: {FILES} files, {len(expected)} rows: scored once {once}, more than once {twice}, lost {lost}; "
          f"{ticks.count(': run ')} scoring runs")
    assert (once, twice, lost) == (len(expected), 0, 0)
    assert scored["prediction"].notna().all()
