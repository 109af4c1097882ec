"""`recipe-assets run | inspect | clean | get-artifact | init`, and its shared state with the `dagster` CLI."""
from __future__ import annotations

import os
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recipe_assets.app.cli import main
from recipe_assets.engine.config import BUNDLED_TEMPLATES, load_config
from conftest import REPO, FIXTURES

DROPIN = FIXTURES / "dropin_recipe"
OUTPUTS = ("ingested_data", "training_data", "validation_data", "test_data", "transformer", "transformed_training_data",
           "transformed_validation_data", "model", "run", "registered_model_version")


def copy_dropin(parent: Path) -> Path:
    return Path(shutil.copytree(DROPIN, parent / "dropin_recipe", ignore=shutil.ignore_patterns("__pycache__", "metadata")))


def output_states(graph: str) -> dict[str, str]:
    rows = (line.split() for line in graph.splitlines())
    return {parts[1]: parts[2] for parts in rows if len(parts) >= 3 and parts[1] in OUTPUTS}


def cli(*args: str, cwd: Path, env: dict[str, str] | None = None) -> subprocess.CompletedProcess:
    """The real command in a fresh process, as a user or CI runs it."""
    return subprocess.run(
        [sys.executable, "-m", "recipe_assets.app.cli", *args], cwd=cwd, env={**os.environ, **(env or {})},
        capture_output=True, text=True, timeout=300,
    )


def dagster(*args: str, cwd: Path, env: dict[str, str]) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "dagster", *args], cwd=cwd, env={**os.environ, **env}, capture_output=True, text=True, timeout=300
    )


def test_help_lists_the_verbs_without_importing_heavy_libraries():
    script = Path(sys.executable).parent / "recipe-assets"
    shown = subprocess.run([str(script), "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0
    assert "{run,inspect,clean,get-artifact,init,promote,rollback}" in shown.stdout
    probe = "import sys; from recipe_assets.app import cli; cli.build_parser(); print([m for m in ('pandas', 'sklearn', 'mlflow', 'dagster') if m in sys.modules])"
    assert subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=60).stdout.strip() == "[]"


def test_clean_help_says_mlflow_runs_and_versions_are_kept(capsys):
    with pytest.raises(SystemExit):
        main(["clean", "--help"])
    assert "MLflow runs and registered model versions are never deleted" in " ".join(capsys.readouterr().out.split())


def test_config_error_exits_2_with_the_message_only(tmp_path: Path, edit, capsys):
    root = copy_dropin(tmp_path)
    edit(root / "recipe.yaml", "split_ratios:", "split_ratio:")
    assert main(["run", "--recipe-root", str(root)]) == 2
    err = capsys.readouterr().err
    assert err.startswith("error: ") and "steps.split.split_ratio: unknown key" in err and "Traceback" not in err


def test_failing_step_exits_1_with_its_error(tmp_path: Path, edit, capsys):
    root = copy_dropin(tmp_path)
    edit(root / "steps" / "ingest.py", "    return pd.read_csv", "    raise ValueError('the export is truncated')\n    return pd.read_csv")
    assert main(["run", "--recipe-root", str(root), "--step", "ingest"]) == 1
    out, err = capsys.readouterr()
    assert "ingest          FAILED" in out
    # the user's own frames may be shown (the error is in their code); ours and the libraries' are not
    assert "error: " in err and "the export is truncated" in err and "recipe_assets/" not in err and "site-packages" not in err


def test_recipe_root_and_profile_come_from_the_environment(tmp_path: Path, monkeypatch, capsys):
    root = copy_dropin(tmp_path)
    monkeypatch.setenv("RECIPE_ROOT", str(root))
    monkeypatch.setenv("RECIPE_PROFILE", "ci")
    assert main(["get-artifact", "model"]) == 1
    assert "model is not materialized yet; run `" in capsys.readouterr().err
    assert main(["inspect"]) == 0
    out = capsys.readouterr().out
    assert f"root: {root}" in out and "profile ci" in out


def test_get_artifact_of_an_unknown_name(tmp_path: Path, capsys):
    assert main(["get-artifact", "weights", "--recipe-root", str(copy_dropin(tmp_path))]) == 2
    assert "unknown artifact 'weights'; expected one of ingested_data," in capsys.readouterr().err


@pytest.mark.parametrize("template", ["regression", "classification"])
def test_init_copies_a_bundled_template(tmp_path: Path, template: str, capsys):
    target = tmp_path / "new_recipe"
    assert main(["init", str(target), "--template", template]) == 0, capsys.readouterr().err
    assert (target / "recipe.yaml").is_file() and (target / "steps").is_dir()
    assert not (target / "metadata").exists()
    assert load_config(target, "local").config.recipe == f"{template}/v1"
    assert (BUNDLED_TEMPLATES / template / "recipe.yaml").read_text() == (target / "recipe.yaml").read_text()
    # an init'ed recipe does not commit what its runs make
    assert (target / ".gitignore").read_text().splitlines() == ["metadata/", "data/sample_output.parquet"]


def test_init_leaves_out_a_templates_run_state(tmp_path: Path, monkeypatch, capsys):
    """A template that has been run in place (metadata/, __pycache__, sample output) gives a clean recipe."""
    import recipe_assets.app.recipe as recipe_module

    templates = tmp_path / "templates"
    shutil.copytree(BUNDLED_TEMPLATES / "regression", templates / "regression")
    for state in ("metadata/outputs", "metadata/dagster", "steps/__pycache__"):
        (templates / "regression" / state).mkdir(parents=True, exist_ok=True)
        (templates / "regression" / state / "x").write_text("state")
    (templates / "regression" / "data" / "sample_output.parquet").write_text("scored")
    monkeypatch.setattr(recipe_module, "BUNDLED_TEMPLATES", templates)
    target = tmp_path / "new_recipe"
    assert main(["init", str(target), "--template", "regression"]) == 0, capsys.readouterr().err
    assert (target / "recipe.yaml").is_file()
    assert not (target / "metadata").exists()
    assert not (target / "steps" / "__pycache__").exists()
    assert not (target / "data" / "sample_output.parquet").exists()


def test_init_refuses_a_non_empty_directory(tmp_path: Path, capsys):
    target = tmp_path / "mine"
    target.mkdir()
    (target / "notes.txt").write_text("keep me")
    assert main(["init", str(target), "--template", "regression"]) == 2
    assert "already exists and is not empty" in capsys.readouterr().err
    assert [p.name for p in target.iterdir()] == ["notes.txt"]


@pytest.mark.slow
def test_cli_round_trip_from_another_directory(tmp_path: Path):
    root = copy_dropin(tmp_path)
    elsewhere = tmp_path / "elsewhere"
    elsewhere.mkdir()
    at = ("--recipe-root", str(root))

    first = cli("run", *at, cwd=elsewhere)
    assert first.returncode == 0, first.stderr
    for step in ("ingest", "split", "transform", "train", "evaluate", "register"):
        assert f"  {step:<15} done in" in first.stdout
    assert "Warning" not in first.stderr  # e.g. Dagster's BetaWarning on data versions, once per step it was
    assert "registered model: models:/dropin_regressor/1" in first.stdout

    graph = cli("inspect", cwd=elsewhere, env={"RECIPE_ROOT": str(root)})
    assert output_states(graph.stdout) == dict.fromkeys(OUTPUTS, "FRESH")
    assert cli("get-artifact", "model", *at, cwd=elsewhere).stdout.startswith("models:/")
    data = Path(cli("get-artifact", "ingested_data", *at, cwd=elsewhere).stdout.strip())
    assert data.is_file() and data.parent == root / "metadata" / "outputs"

    cleaned = cli("clean", "--step", "train", *at, cwd=elsewhere)
    assert "cleaned: model, run, registered_model_version" in cleaned.stdout
    assert output_states(cli("inspect", *at, cwd=elsewhere).stdout)["model"] == "MISSING"

    second = cli("run", *at, cwd=elsewhere)
    assert second.returncode == 0, second.stderr
    assert "materialized: model, run, registered_model_version" in second.stdout
    assert "up to date: ingested_data, training_data" in second.stdout
    assert "registered model: models:/dropin_regressor/2" in second.stdout
    assert list(elsewhere.iterdir()) == []  # relative paths resolved against the recipe root


@pytest.mark.slow
def test_errors_in_a_real_process_print_no_traceback(tmp_path: Path, edit):
    root = copy_dropin(tmp_path)
    edit(root / "steps" / "ingest.py", "    return pd.read_csv", "    raise ValueError('the export is truncated')\n    return pd.read_csv")
    failed = cli("run", "--recipe-root", str(root), cwd=tmp_path)
    assert failed.returncode == 1 and "the export is truncated" in failed.stderr
    assert "recipe_assets/" not in failed.stderr and "site-packages" not in failed.stderr
    edit(root / "recipe.yaml", "recipe: \"regression/v1\"", "recipe: \"regression/v7\"")
    broken = cli("inspect", "--recipe-root", str(root), cwd=tmp_path)
    assert broken.returncode == 2 and "unknown recipe template 'regression/v7'" in broken.stderr
    assert "Traceback" not in broken.stderr


@pytest.mark.slow
def test_dagster_cli_and_recipe_cli_share_one_instance(tmp_path: Path, edit):
    root = copy_dropin(tmp_path)
    env = {"RECIPE_ROOT": str(root), "DAGSTER_HOME": str(tmp_path / "dagster_home")}
    (tmp_path / "dagster_home").mkdir()

    materialized = dagster("asset", "materialize", "-m", "recipe_assets.definitions", "--select", "group:model_development", cwd=tmp_path, env=env)
    assert materialized.returncode == 0, materialized.stderr[-3000:]
    graph = cli("inspect", cwd=tmp_path, env=env)
    assert f"Dagster instance: {tmp_path / 'dagster_home'}" in graph.stdout
    assert output_states(graph.stdout) == dict.fromkeys(OUTPUTS, "FRESH"), graph.stdout
    assert "has nothing to do" in graph.stdout

    edit(root / "steps" / "train.py", "Ridge(**(estimator_params or {}))", "Ridge(fit_intercept=True, **(estimator_params or {}))")
    assert output_states(cli("inspect", cwd=tmp_path, env=env).stdout)["model"] == "STALE"
    rerun = cli("run", cwd=tmp_path, env=env)
    assert rerun.returncode == 0, rerun.stderr
    assert "materialized: model, run, registered_model_version" in rerun.stdout
    assert "registered model: models:/dropin_regressor/2" in rerun.stdout


@pytest.mark.slow
def test_the_readme_dg_commands_share_the_recipe_instance(tmp_path: Path):
    """`dg check defs` and `dg launch --assets ...` from the repository (a dg project), as the README shows them
    beside the `dagster` commands, without Dagster's SupersessionWarning."""
    root = copy_dropin(tmp_path)
    env = {**os.environ, "RECIPE_ROOT": str(root), "DAGSTER_HOME": str(root / "metadata" / "dagster"), "VIRTUAL_ENV": str(Path(sys.executable).parents[1])}
    dg = str(Path(sys.executable).parent / "dg")
    repo = REPO

    checked = subprocess.run([dg, "check", "defs"], cwd=repo, env=env, capture_output=True, text=True, timeout=300)
    assert checked.returncode == 0, checked.stdout[-2000:] + checked.stderr[-3000:]
    assert "All definitions loaded successfully" in checked.stdout + checked.stderr
    launched = subprocess.run([dg, "launch", "--assets", "group:model_development"], cwd=repo, env=env, capture_output=True, text=True, timeout=600)
    assert launched.returncode == 0, launched.stderr[-3000:]
    for shown in (checked, launched):
        assert "SupersessionWarning" not in shown.stdout + shown.stderr
    graph = cli("inspect", cwd=root / "steps", env={"DAGSTER_HOME": env["DAGSTER_HOME"]})
    assert output_states(graph.stdout) == dict.fromkeys(OUTPUTS, "FRESH"), graph.stdout + graph.stderr


# --- hints that work where the user stands (issue 13) ------------------------------------------------

VENV_BIN = Path(sys.executable).parent


def test_hints_name_this_very_executable(monkeypatch):
    from recipe_assets.app import cli as cli_module

    monkeypatch.delenv("UV_RUN_RECURSION_DEPTH", raising=False)
    monkeypatch.setattr(sys, "argv", [str(VENV_BIN / "recipe-assets"), "run"])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert cli_module.this_command() == str(VENV_BIN / "recipe-assets")  # not on PATH: the full path
    monkeypatch.setenv("PATH", f"{VENV_BIN}:/usr/bin:/bin")
    assert cli_module.this_command() == "recipe-assets"  # an activated venv: the bare name
    monkeypatch.setenv("UV_RUN_RECURSION_DEPTH", "1")
    assert cli_module.this_command() == str(VENV_BIN / "recipe-assets")  # uv run's PATH ends with it
    monkeypatch.setattr(sys, "argv", [str(Path(cli_module.__file__).with_name("__main__.py"))])
    assert cli_module.this_command() == f"{sys.executable} -m recipe_assets"


def test_mlflow_hint_is_the_interpreters_mlflow_ui_or_the_server_itself(monkeypatch):
    from recipe_assets.core.commands import mlflow_ui_hint

    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert mlflow_ui_hint("sqlite:////tmp/r/metadata/mlflow/mlruns.db") == f"{sys.executable} -m mlflow ui --backend-store-uri sqlite:////tmp/r/metadata/mlflow/mlruns.db"
    assert mlflow_ui_hint("http://mlflow.internal:5000") == "http://mlflow.internal:5000"


def test_python_m_recipe_assets_is_the_command():
    shown = subprocess.run([sys.executable, "-m", "recipe_assets", "--help"], capture_output=True, text=True, timeout=60)
    assert shown.returncode == 0 and "{run,inspect,clean,get-artifact,init,promote,rollback}" in shown.stdout


def test_init_prints_a_next_command_that_exists(tmp_path: Path, monkeypatch, capsys):
    monkeypatch.setattr(sys, "argv", [str(VENV_BIN / "recipe-assets")])
    monkeypatch.setenv("PATH", "/usr/bin:/bin")
    assert main(["init", str(tmp_path / "fresh")]) == 0
    next_line = [line for line in capsys.readouterr().out.splitlines() if line.startswith("next: ")][0]
    assert next_line.startswith(f"next: {VENV_BIN / 'recipe-assets'} run --recipe-root {tmp_path / 'fresh'}")
    assert "uv run" not in next_line


def test_commands_in_a_sub_folder_find_the_recipe(tmp_path: Path, monkeypatch, capsys):
    root = copy_dropin(tmp_path)
    monkeypatch.chdir(root / "steps")
    assert main(["inspect"]) == 0
    assert f"root: {root}" in capsys.readouterr().out
    monkeypatch.chdir(tmp_path)
    assert main(["inspect"]) == 2
    err = capsys.readouterr().err
    assert "no recipe.yaml here or in any folder above" in err and "--recipe-root" in err and "RECIPE_ROOT" in err


def test_the_readme_says_how_many_lines_a_run_prints_per_step(tmp_path: Path, capsys):
    root = copy_dropin(tmp_path)
    assert main(["run", "--recipe-root", str(root), "--step", "split"]) == 0
    progress = [line.split()[0] for line in capsys.readouterr().out.splitlines() if line.startswith("  ")]
    assert progress == ["ingest", "ingest", "split", "split"]
    readme = " ".join((REPO / "README.md").read_text().split())
    assert "The first prints two lines per step" in readme
