"""`recipe-assets run` answers a no-op from the stamp the last run left (app/noop_answer.py,
core/up_to_date.py), and takes the full path as soon as anything the answer depends on changed."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

import recipe_assets.app.cli as cli
from recipe_assets.app.recipe import Recipe
from recipe_assets.core.up_to_date import STAMP_NAME

# the console script's run in a process of its own, saying whether Dagster was imported
PROBE = "import sys; from recipe_assets.app.cli import main; code = main(sys.argv[1:]); print('dagster imported:', 'dagster' in sys.modules); sys.exit(code)"


@pytest.fixture
def full_paths(monkeypatch) -> list[str]:
    """The runs that opened the recipe (the full path through Dagster), by the step they ran to."""
    opened: list[str] = []
    real_open = cli.open_recipe

    def spy(args):
        opened.append(args.step or "register")
        return real_open(args)

    monkeypatch.setattr(cli, "open_recipe", spy)
    return opened


def run(root: Path, capsys, *extra: str) -> list[str]:
    assert cli.main(["run", "--recipe-root", str(root), *extra]) == 0
    return capsys.readouterr().out.splitlines()


def changed(lines: list[str]) -> str:
    return next((line for line in lines if line.startswith("materialized: ")), "")


@pytest.mark.slow  # a recipe-assets process started from the test: CI's slow stage
def test_a_noop_is_answered_from_the_stamp_exactly_as_the_full_path_printed_it(regression_recipe: Path, capsys, full_paths):
    run(regression_recipe, capsys)
    stamp = regression_recipe / "metadata" / STAMP_NAME
    stamp.unlink()
    full = run(regression_recipe, capsys)  # a no-op through Dagster, which writes the stamp again
    assert full_paths == ["register", "register"] and stamp.is_file()
    answered = run(regression_recipe, capsys)
    assert full_paths == ["register", "register"], "the third run opened the recipe: the stamp did not answer"
    assert answered == full and "nothing to do: every selected output is up to date" in answered
    # in a process of its own, as the console script runs it: Dagster is never imported
    done = subprocess.run([sys.executable, "-c", PROBE, "run", "--recipe-root", str(regression_recipe)], capture_output=True, text=True, env={**os.environ}, timeout=120)
    assert done.returncode == 0, done.stderr
    assert done.stdout.splitlines() == [*full, "dagster imported: False"]


@pytest.mark.slow  # recipe-assets processes started from the test: CI's slow stage
def test_the_stamp_a_process_leaves_still_answers_after_it_exits(regression_recipe: Path):
    """What a process writes to the Dagster instance as it exits (event logs written back from their
    kept connections) must not change the files the stamp recorded: the next process answers from it."""

    def console_run() -> list[str]:
        done = subprocess.run([sys.executable, "-c", PROBE, "run", "--recipe-root", str(regression_recipe)], capture_output=True, text=True, env={**os.environ}, timeout=180)
        assert done.returncode == 0, done.stderr
        return done.stdout.splitlines()

    assert console_run()[-1] == "dagster imported: True"  # the cold run
    answered = console_run()
    assert answered[-1] == "dagster imported: False", "the stamp the cold run's process left did not answer"
    assert "nothing to do: every selected output is up to date" in answered


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_every_change_the_answer_depends_on_takes_the_full_path(regression_recipe: Path, capsys, full_paths, monkeypatch):
    root = regression_recipe
    run(root, capsys)
    # the run set MLflow's variables in this process (a console script starts afresh each time): one full
    # no-op with them set, then the stamp answers
    run(root, capsys)
    assert run(root, capsys)[2] == "nothing to do: every selected output is up to date" and len(full_paths) == 2

    # new data: one fare a cent higher
    data = root / "data" / "sample.parquet"
    import pandas as pd

    frame = pd.read_parquet(data)
    frame.loc[frame.index[0], "fare_amount"] += 0.01
    frame.to_parquet(data)
    assert "ingested_data" in changed(run(root, capsys)) and len(full_paths) == 3

    train = root / "steps" / "train.py"
    train.write_text(train.read_text() + "\n# a comment changes the code version\n")
    assert changed(run(root, capsys)).startswith("materialized: model") and len(full_paths) == 4

    profile = root / "profiles" / "local.yaml"
    profile.write_text(profile.read_text() + "\n# edited\n")
    assert changed(run(root, capsys)) == "" and len(full_paths) == 5  # nothing stale, but Dagster said so

    monkeypatch.setenv("MLFLOW_RECIPES_PROFILE", "local")
    assert changed(run(root, capsys)) == "" and len(full_paths) == 6
    assert changed(run(root, capsys)) == "" and len(full_paths) == 6  # answered again, with the new environment

    # another way in changed the instance: the Python API cleans an output, the CLI must not call it up to date
    Recipe(recipe_root=root).clean("register")
    assert changed(run(root, capsys)) == "materialized: registered_model_version" and len(full_paths) == 7

    assert run(root, capsys, "--step", "split")[1].startswith("up to date: ingested_data") and len(full_paths) == 8
    new_file = root / "data" / "more.parquet"  # a new file beside the source: its folder changed
    frame.head(5).to_parquet(new_file)
    run(root, capsys, "--step", "split")
    assert len(full_paths) == 9


def test_a_source_the_run_did_not_read_being_missing_leaves_no_stamp_and_no_error(regression_recipe: Path, capsys, full_paths, edit):
    # the scoring data has not landed: model development succeeds, and nothing can be stamped about it
    profile = regression_recipe / "profiles" / "local.yaml"
    text = profile.read_text()
    scoring = text.split("INGEST_SCORING_CONFIG:", 1)[1]
    profile.write_text(text.split("INGEST_SCORING_CONFIG:", 1)[0] + "INGEST_SCORING_CONFIG:" + scoring.replace("./data/sample.parquet", "./data/not_landed.parquet", 1))
    assert cli.main(["run", "--recipe-root", str(regression_recipe)]) == 0
    assert "materialized: ingested_data" in capsys.readouterr().out
    assert not (regression_recipe / "metadata" / STAMP_NAME).exists()
    run(regression_recipe, capsys)
    assert full_paths == ["register", "register"]
