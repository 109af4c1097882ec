"""Say what is stale and why: inspect names the changed file, config key or input and a failed last run;
get-artifact (CLI) and Recipe.get_artifact (a StaleArtifactWarning) say when what they hand back is out of
date; reading states, cards and artifacts works when the raw data has gone."""
from __future__ import annotations

import shutil
import warnings
from pathlib import Path

import pytest

from recipe_assets.app.cli import main
from recipe_assets.app.recipe import Recipe
from recipe_assets.engine.staleness import StaleArtifactWarning
from conftest import ALL_OUTPUTS, FIXTURES

DROPIN = FIXTURES / "dropin_recipe"
BATCH_SCORING = """  ingest_scoring:
    using: csv
    location: "./data/measurements.csv"
    loader_method: load_file_as_dataframe
  predict:
    output:
      using: parquet
      location: "./data/scored.parquet"
experiment:"""


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> Path:
    """The drop-in recipe with batch scoring added, run once through model development and scoring."""
    root = Path(shutil.copytree(DROPIN, tmp_path_factory.mktemp("stale") / "dropin_recipe", ignore=shutil.ignore_patterns("__pycache__", "metadata")))
    recipe_yaml = root / "recipe.yaml"
    recipe_yaml.write_text(recipe_yaml.read_text().replace("experiment:", BATCH_SCORING, 1))
    recipe = Recipe(recipe_root=root)
    assert recipe.run().materialized == ALL_OUTPUTS
    assert recipe.run("predict").success
    return root


@pytest.fixture
def recipe_copy(materialized: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(materialized, tmp_path / "dropin_recipe"))


def why_lines(graph: str) -> dict[str, str]:
    """output -> the `why:` line printed under its row in inspect's graph."""
    lines = graph.splitlines()
    found = {}
    for row, following in zip(lines, lines[1:]):
        parts = row.split()
        if len(parts) >= 3 and following.strip().startswith("why: "):
            found[parts[1]] = following.strip().removeprefix("why: ")
    return found


def test_inspect_names_the_changed_step_file_and_config_key(recipe_copy: Path, edit):
    with (recipe_copy / "steps" / "transform.py").open("a") as handle:
        handle.write("\n# scale differently next time\n")
    edit(recipe_copy / "profiles" / "local.yaml", "RIDGE_ALPHA: 0.5", "RIDGE_ALPHA: 0.7")
    why = why_lines(Recipe(recipe_root=recipe_copy).inspect())
    assert why["transformer"] == "code changed: steps/transform.py"
    assert why["model"] == "config changed: steps.train.estimator_params"
    assert "steps/transform.py" not in why.get("training_data", "") and "estimator_params" not in why.get("transformer", "")


def test_inspect_names_new_raw_data(recipe_copy: Path):
    data = recipe_copy / "data" / "measurements.csv"
    data.write_text(data.read_text() + data.read_text().splitlines()[1] + "\n")
    why = why_lines(Recipe(recipe_root=recipe_copy).inspect())
    assert why["ingested_data"] == "the raw data changed (./data/measurements.csv, steps.ingest.location)"


def test_a_rejected_register_is_stale_and_every_way_in_says_why(recipe_copy: Path, edit, capsys):
    edit(recipe_copy / "recipe.yaml", "threshold: {{ RMSE_THRESHOLD|default(2) }}", "threshold: 0.0001")
    recipe = Recipe(recipe_root=recipe_copy)
    assert not recipe.run(raise_on_error=False).success
    capsys.readouterr()

    assert main(["get-artifact", "registered_model_version", "--recipe-root", str(recipe_copy)]) == 0
    out, err = capsys.readouterr()
    assert out.strip() == "models:/dropin_regressor/1"
    assert err.startswith("warning: registered_model_version is out of date: it is STALE: its input run (evaluate) changed")
    assert "failed at register: model REJECTED by steps.evaluate.validation_criteria" in err
    assert "run --step register`" in err

    with pytest.warns(StaleArtifactWarning, match="failed at register: model REJECTED"):
        assert str(recipe.get_artifact("registered_model_version").version) == "1"
    assert "model REJECTED" in why_lines(recipe.inspect())["registered_model_version"]


def test_scored_data_from_an_older_model_warns(recipe_copy: Path, edit):
    edit(recipe_copy / "profiles" / "local.yaml", "RIDGE_ALPHA: 0.5", "RIDGE_ALPHA: 0.9")
    recipe = Recipe(recipe_root=recipe_copy)
    assert recipe.run().success
    with pytest.warns(StaleArtifactWarning, match=r"scored_data is out of date: it is STALE: config changed: steps\.train\.estimator_params; .*its input registered_model_version \(register\) changed"):
        assert len(recipe.get_artifact("scored_data")) > 0


def test_an_up_to_date_artifact_comes_without_a_warning(materialized: Path, capsys):
    with warnings.catch_warnings():
        warnings.simplefilter("error", StaleArtifactWarning)
        assert Recipe(recipe_root=materialized).get_artifact("model") is not None
    capsys.readouterr()
    assert main(["get-artifact", "scored_data", "--recipe-root", str(materialized)]) == 0
    assert capsys.readouterr().err == ""


def test_inspect_get_artifact_and_clean_work_without_the_raw_data(recipe_copy: Path, capsys):
    (recipe_copy / "data" / "measurements.csv").unlink()
    recipe = Recipe(recipe_root=recipe_copy)
    graph = recipe.inspect()
    assert "raw data unavailable: steps.ingest.location:" in graph and "measurements.csv does not exist" in graph
    assert "model                         FRESH" in graph
    assert "model" in str(recipe.inspect("train"))
    assert len(recipe.get_artifact("training_data")) > 0
    capsys.readouterr()
    assert main(["get-artifact", "model", "--recipe-root", str(recipe_copy)]) == 0
    assert capsys.readouterr().out.startswith("models:/")
    assert main(["clean", "--step", "register", "--recipe-root", str(recipe_copy)]) == 0
    assert "cleaned: registered_model_version" in capsys.readouterr().out
    assert main(["run", "--recipe-root", str(recipe_copy)]) == 2
    assert "steps.ingest.location" in capsys.readouterr().err


def test_a_version_materialized_before_the_ledger_still_gets_a_reason(recipe_copy: Path):
    shutil.rmtree(recipe_copy / "metadata" / "code_versions")
    with (recipe_copy / "steps" / "train.py").open("a") as handle:
        handle.write("\n# edited\n")
    why = why_lines(Recipe(recipe_root=recipe_copy).inspect())
    assert why["model"].startswith("the train step's code or config changed")


def test_the_register_card_links_only_to_a_server_and_otherwise_shows_the_ui_command(materialized: Path):
    from recipe_assets.steps.register.card import registry_entry

    recipe = Recipe(recipe_root=materialized)
    card = recipe.instance.get_latest_materialization_event(recipe.key("registered_model_version")).asset_materialization.metadata
    assert "registry link" not in card
    command = card["browse the registry"].value
    assert f"-m mlflow ui --backend-store-uri sqlite:///{materialized}/metadata/mlflow/mlruns.db" in command
    assert "127.0.0.1:5000" not in command and "Models > dropin_regressor > Version 1" in command
    label, link = registry_entry("http://mlflow.internal:5000/", "dropin_regressor", "3")
    assert (label, link.value) == ("registry link", "http://mlflow.internal:5000/#/models/dropin_regressor/versions/3")
