"""The Python API MLflow Recipes users know: Recipe(profile=...).run / inspect / clean / get_artifact,
on a recipe directory written for MLflow Recipes (tests/fixtures/dropin_recipe) and left unchanged."""
from __future__ import annotations

import logging
import os
import re
import shutil
from pathlib import Path

import pytest

from conftest import ALL_OUTPUTS, FIXTURES
from recipe_assets import Recipe
from recipe_assets.core.errors import RecipeError

DROPIN = FIXTURES / "dropin_recipe"


def output_states(graph: str) -> dict[str, str]:
    """output → FRESH / STALE / MISSING, from the rows of `inspect`'s graph."""
    rows = (line.split() for line in graph.splitlines())
    return {parts[1]: parts[2] for parts in rows if len(parts) >= 3 and parts[1] in ALL_OUTPUTS}


def copy_dropin(parent: Path) -> Path:
    return Path(shutil.copytree(DROPIN, parent / "dropin_recipe", ignore=shutil.ignore_patterns("__pycache__", "metadata")))


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> Path:
    """The drop-in recipe, run once through the API from its own directory (as MLflow Recipes users did)."""
    root = copy_dropin(tmp_path_factory.mktemp("api"))
    before = os.getcwd()
    os.chdir(root)
    try:
        summary = Recipe(profile="local").run()
    finally:
        os.chdir(before)
    assert summary.materialized == ALL_OUTPUTS
    return root


@pytest.fixture
def recipe_copy(materialized: Path, tmp_path: Path) -> Path:
    """A copy of the materialized recipe (same directory name, so the same asset keys)."""
    return Path(shutil.copytree(materialized, tmp_path / "dropin_recipe"))


def test_get_artifact_returns_what_mlflow_recipes_returned(materialized: Path, monkeypatch):
    import mlflow
    import pandas as pd
    from sklearn.pipeline import Pipeline

    monkeypatch.chdir(materialized)
    recipe = Recipe(profile="local")
    ingested = recipe.get_artifact("ingested_data")
    assert isinstance(ingested, pd.DataFrame) and len(ingested) == 300
    assert ingested["x1"].dtype == float  # the user's loader read the decimal commas
    sizes = [len(recipe.get_artifact(name)) for name in ("training_data", "validation_data", "test_data")]
    assert sum(sizes) == 300 and 0.6 < sizes[0] / 300 < 0.8  # split_ratios from {{SPLIT_RATIOS|default(...)}}
    transformer = recipe.get_artifact("transformer")
    assert transformer.transform(ingested.drop(columns=["y"])).shape == (300, 5)
    assert list(recipe.get_artifact("transformed_training_data").columns)[-1] == "y"
    assert len(recipe.get_artifact("transformed_validation_data")) == sizes[1]
    model = recipe.get_artifact("model")
    assert isinstance(model, Pipeline)
    assert model.steps[-1][1].alpha == 0.5  # estimator_fn(estimator_params) with the profile's RIDGE_ALPHA
    assert len(model.predict(ingested.drop(columns=["y"]).head(3))) == 3
    run = recipe.get_artifact("run")
    assert isinstance(run, mlflow.entities.Run)
    assert run.data.tags["model_validation_status"] == "VALIDATED"
    assert "test_root_mean_squared_error" in run.data.metrics
    experiment = mlflow.MlflowClient(recipe.mlflow.tracking_uri).get_experiment(run.info.experiment_id)
    assert experiment.name == "dropin_experiment"  # the profile's experiment wins over recipe.yaml's
    version = recipe.get_artifact("registered_model_version")
    assert isinstance(version, mlflow.entities.model_registry.ModelVersion)
    assert (version.name, str(version.version)) == ("dropin_regressor", "1")
    assert (materialized / "metadata" / "mlflow" / "mlruns.db").is_file()


def test_inspect_returns_the_graph_and_cards_without_printing_them(materialized: Path, capsys):
    recipe = Recipe(recipe_root=materialized)
    graph = recipe.inspect()
    assert capsys.readouterr().out == ""  # returned, not printed: a notebook cell shows it once
    assert repr(graph) == str(graph)  # a Python prompt shows the text, not a quoted string
    assert output_states(graph) == dict.fromkeys(ALL_OUTPUTS, "FRESH")
    assert "has nothing to do" in graph
    card = recipe.inspect("evaluate")
    assert "model validation status: VALIDATED" in card
    assert re.search(r"^root_mean_squared_error +PASS +[0-9.]+ +≤ +2$", card, re.MULTILINE), card
    split_card = recipe.inspect("split")
    assert split_card.count("split sizes:") == 1  # shared by the three outputs, printed once
    assert "training_data" in split_card and "test_data" in split_card


def test_inspect_of_an_unknown_step_lists_the_steps(materialized: Path):
    with pytest.raises(RecipeError, match="unknown step 'fit'; this recipe's steps are ingest, split, transform"):
        Recipe(recipe_root=materialized).inspect("fit")


def test_inspect_shows_new_data_as_stale_without_running_anything(recipe_copy: Path):
    data = recipe_copy / "data" / "measurements.csv"
    lines = data.read_text().splitlines()
    data.write_text("\n".join(lines + lines[1:21]) + "\n")
    recipe = Recipe(recipe_root=recipe_copy)
    graph = recipe.inspect()
    assert output_states(graph)["ingested_data"] == "STALE"
    assert "would materialize: ingested_data, training_data" in graph
    assert len(recipe.get_artifact("ingested_data")) == 300


def test_clean_a_step_forgets_it_and_later_steps_and_keeps_mlflow(recipe_copy: Path):
    recipe = Recipe(recipe_root=recipe_copy)
    assert recipe.clean("train") == ["model", "run", "registered_model_version"]
    outputs = recipe_copy / "metadata" / "outputs"
    assert not list(outputs.glob("model.*")) and not list(outputs.glob("run.*"))
    assert (outputs / "transformed_training_data.parquet").is_file()
    assert recipe.get_artifact("model") is None
    states = output_states(recipe.inspect())
    assert (states["model"], states["registered_model_version"], states["test_data"]) == ("MISSING", "MISSING", "FRESH")
    summary = Recipe(recipe_root=recipe_copy).run()
    assert summary.materialized == ["model", "run", "registered_model_version"]
    assert str(recipe.get_artifact("registered_model_version").version) == "2"
    assert str(recipe.mlflow.client().get_model_version("dropin_regressor", "1").version) == "1"


def test_clean_everything(recipe_copy: Path):
    recipe = Recipe(recipe_root=recipe_copy)
    assert recipe.clean()[: len(ALL_OUTPUTS)] == ALL_OUTPUTS
    assert not [p for p in (recipe_copy / "metadata" / "outputs").iterdir() if p.suffix in (".parquet", ".pkl")]
    assert output_states(recipe.inspect()) == dict.fromkeys(ALL_OUTPUTS, "MISSING")


def test_failed_run_raises_a_recipe_error_with_the_step_error(recipe_copy: Path, edit):
    edit(recipe_copy / "steps" / "ingest.py", "    return pd.read_csv", "    raise ValueError('the export is truncated')\n    return pd.read_csv")
    with pytest.raises(RecipeError, match="the export is truncated") as caught:
        Recipe(recipe_root=recipe_copy).run("ingest")
    assert caught.value.summary.success is False
    assert not Recipe(recipe_root=recipe_copy).run("ingest", raise_on_error=False).success


def test_run_of_an_unknown_step(materialized: Path):
    with pytest.raises(RecipeError, match="unknown step 'fit'"):
        Recipe(recipe_root=materialized).run("fit")


def test_get_artifact_before_a_run_is_none_with_a_warning(tmp_path: Path, caplog):
    recipe = Recipe(recipe_root=copy_dropin(tmp_path))
    with caplog.at_level(logging.WARNING, logger="recipe_assets.app.recipe"):
        assert recipe.get_artifact("model") is None
    assert "model is not materialized yet; run the train step first" in caplog.text


def test_get_artifact_of_an_unknown_name_lists_the_names(tmp_path: Path):
    with pytest.raises(RecipeError, match="unknown artifact 'weights'; expected one of ingested_data, .* scored_data"):
        Recipe(recipe_root=copy_dropin(tmp_path)).get_artifact("weights")


def test_recipe_root_defaults_to_the_current_directory(tmp_path: Path, monkeypatch):
    root = copy_dropin(tmp_path)
    monkeypatch.chdir(root)
    assert Recipe().root == root


def test_artifact_locations_are_files_and_mlflow_uris(materialized: Path):
    recipe = Recipe(recipe_root=materialized)
    outputs = materialized / "metadata" / "outputs"
    assert recipe.artifact_location("test_data") == str(outputs / "test_data.parquet")
    assert recipe.artifact_location("transformer") == str(outputs / "transformer.pkl")
    assert recipe.artifact_location("model").startswith("models:/")
    assert recipe.artifact_location("run") == f"runs:/{recipe.get_artifact('run').info.run_id}"
    assert recipe.artifact_location("registered_model_version") == "models:/dropin_regressor/1"
    assert recipe.artifact_location("scored_data") is None


def test_run_says_what_it_does_and_returns_the_steps_card(recipe_copy: Path, capsys):
    recipe = Recipe(recipe_root=recipe_copy)
    recipe.clean("evaluate")
    result = recipe.run("evaluate")
    out = capsys.readouterr().out
    assert re.search(r"^  evaluate +running$", out, re.MULTILINE) and re.search(r"^  evaluate +done in [0-9.]+s$", out, re.MULTILINE)
    assert result.materialized == ["run"] and result.step == "evaluate"
    assert "model validation status: VALIDATED" in repr(result)  # a terminal shows the card as text
    assert "Model Validation" in result._repr_html_() and 'class="recipe-card"' in result._repr_html_()
    assert "pipeline" not in repr(result)  # no fitted pipelines dumped
    assert recipe.run("evaluate", quiet=True).materialized == [] and capsys.readouterr().out == ""
