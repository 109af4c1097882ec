"""Two runs of one recipe at once: the lock in recipe_lock.py keeps outputs and the registry consistent;
the second `recipe-assets run` waits and then finds nothing to do, a run Dagster starts itself fails
naming the holder."""
from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

from conftest import copy_template
from recipe_assets.core.errors import RecipeError
from recipe_assets.data.recipe_lock import HOLDER_FILE, RecipeBusy, hold_recipe, lock_path

HOLD_FOR_A_WHILE = """
import sys, time
from pathlib import Path
from recipe_assets.data.recipe_lock import hold_recipe
with hold_recipe(Path(sys.argv[1])):
    print("held", flush=True)
    time.sleep(float(sys.argv[2]))
"""


def holder_process(metadata: Path, seconds: float) -> subprocess.Popen:
    process = subprocess.Popen([sys.executable, "-c", HOLD_FOR_A_WHILE, str(metadata), str(seconds)], stdout=subprocess.PIPE, text=True)
    assert process.stdout.readline().strip() == "held"
    return process


def test_a_held_recipe_refuses_another_holder_naming_it(tmp_path: Path):
    holder = holder_process(tmp_path, 60)
    try:
        with pytest.raises(RecipeBusy, match="another run holds the recipe") as refused:
            with hold_recipe(tmp_path):
                pass
        assert f"pid {holder.pid}" in str(refused.value) and str(lock_path(tmp_path)) in str(refused.value)
        assert isinstance(refused.value, RecipeError)
    finally:
        holder.kill()
        holder.wait()


def test_a_killed_holder_releases_the_recipe(tmp_path: Path):
    holder = holder_process(tmp_path, 60)
    holder.kill()
    holder.wait()
    with hold_recipe(tmp_path):  # the OS dropped the lock with the process
        assert (tmp_path / HOLDER_FILE).read_text().startswith(f"pid {os.getpid()}")


def test_waiting_for_the_holder_says_so_then_proceeds(tmp_path: Path):
    holder = holder_process(tmp_path, 2)
    said = []
    try:
        with hold_recipe(tmp_path, wait=120, on_wait=said.append):
            assert (tmp_path / HOLDER_FILE).read_text().startswith(f"pid {os.getpid()}")  # ours now, the holder let go
    finally:
        holder.wait()
    assert said and "another run holds the recipe" in said[0]


def run_cli(root: Path) -> subprocess.Popen:
    return subprocess.Popen(
        [sys.executable, "-m", "recipe_assets.app.cli", "run", "--recipe-root", str(root)],
        stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )


def registry(root: Path) -> list[str]:
    from mlflow.tracking import MlflowClient

    uri = f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}"
    return [str(v.version) for v in MlflowClient(tracking_uri=uri, registry_uri=uri).search_model_versions()]


@pytest.mark.slow
def test_two_cli_runs_at_once_on_a_fresh_recipe(tmp_path: Path):
    root = copy_template("regression", tmp_path / "recipe")
    first, second = run_cli(root), run_cli(root)
    outputs = [process.communicate(timeout=900) for process in (first, second)]
    codes = [first.returncode, second.returncode]
    text = "\n".join(out + err for out, err in outputs)
    print(f"\ntwo CLI runs: exit codes {codes}")
    assert codes == [0, 0], text
    assert "secondary_indexes" not in text and "Traceback" not in text
    assert "waiting: another run holds the recipe" in text
    assert "nothing to do" in text  # the one that waited found the other's outputs fresh
    assert registry(root) == ["1"]


@pytest.mark.slow
def test_cli_and_dagster_materialize_at_once(tmp_path: Path):
    root = copy_template("regression", tmp_path / "recipe")
    cli = run_cli(root)
    holder = root / "metadata" / HOLDER_FILE
    while not holder.exists() and cli.poll() is None:
        time.sleep(0.2)
    env = {**os.environ, "RECIPE_ROOT": str(root), "DAGSTER_HOME": str(root / "metadata" / "dagster")}
    dagster = subprocess.run(
        [sys.executable, "-m", "dagster", "asset", "materialize", "-m", "recipe_assets.definitions", "--select", "*"],
        capture_output=True, text=True, env=env, timeout=900,
    )
    out, err = cli.communicate(timeout=900)
    print(f"\nCLI exit {cli.returncode}; dagster asset materialize exit {dagster.returncode}")
    assert cli.returncode == 0, err
    assert dagster.returncode != 0
    assert "another run holds the recipe" in dagster.stdout + dagster.stderr
    assert registry(root) == ["1"]
