"""MLflow's own published recipes (the `recipes-examples` repository, in ../shared/corpus) run here unchanged.

They were written for MLflow Recipes, not by us: their step code changes the frames it is given
(`calculate_features` adds and drops columns in place), reads CSVs through a loader, and filters splits.
"""
from __future__ import annotations

import shutil
from pathlib import Path

import pandas as pd
import pytest

from conftest import ALL_OUTPUTS, PUBLISHED_EXAMPLES, REPO, shared

CORPUS = PUBLISHED_EXAMPLES


def published(name: str, destination: Path) -> Path:
    source = CORPUS / name
    shared(source / "recipe.yaml")
    shutil.copytree(source, destination, ignore=shutil.ignore_patterns("metadata", "__pycache__"))
    return destination


@pytest.fixture
def published_regression(tmp_path: Path) -> Path:
    return published("regression", tmp_path / "regression")


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_published_regression_runs_unchanged_reruns_as_a_no_op_and_notices_new_data(published_regression):
    from recipe_assets.app.recipe import Recipe

    recipe = Recipe(profile="local", recipe_root=published_regression)
    first = recipe.run()
    assert first.success, first.error
    assert sorted(first.materialized) == sorted(ALL_OUTPUTS)
    assert first.outputs["run"]["model_validation_status"] == "VALIDATED"
    assert first.outputs["registered_model_version"]["version"] == "1"
    # calculate_features replaced the datetimes by derived columns inside the model, not in our splits
    assert {"tpep_pickup_datetime", "tpep_dropoff_datetime"} <= set(recipe.get_artifact("training_data").columns)
    transformed = recipe.get_artifact("transformed_training_data")
    assert len(transformed) == len(recipe.get_artifact("training_data"))

    again = recipe.run()
    assert again.success and again.materialized == []

    data = published_regression / "data" / "sample.parquet"
    frame = pd.read_parquet(data)
    frame.iloc[: len(frame) - 50].to_parquet(data)
    changed = recipe.run()
    assert changed.success, changed.error
    assert sorted(changed.materialized) == sorted(ALL_OUTPUTS)
    assert changed.outputs["registered_model_version"]["version"] == "2"


def test_published_regression_model_scores_raw_rows_like_the_peer_did(published_regression):
    """The registered model takes the raw columns (datetimes included) and gives one prediction per row,
    on a frame the model's transformer changes in place while it predicts."""
    import mlflow

    from recipe_assets.app.recipe import Recipe

    recipe = Recipe(profile="local", recipe_root=published_regression)
    summary = recipe.run()
    assert summary.success, summary.error
    test = recipe.get_artifact("test_data")
    features = test.drop(columns=["fare_amount"])
    model = mlflow.pyfunc.load_model(summary.outputs["registered_model_version"]["model_uri"])
    predictions = model.predict(features.copy())
    assert len(predictions) == len(test)
    pipeline = recipe.get_artifact("model")
    assert list(pipeline.predict(features.copy())) == pytest.approx(list(predictions))
