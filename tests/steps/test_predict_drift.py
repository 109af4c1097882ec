"""predict's `scoring_data_drift` check: scoring data like the training data passes; a column shifted by two
standard deviations fails it at ERROR severity, named; the card's Drift tab shows the per-column table."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity
from pydantic import ValidationError

from recipe_assets.app.recipe import Recipe
from recipe_assets.cards.layout import tabs
from recipe_assets.steps.predict.assets import LAYOUT
from recipe_assets.steps.predict.config import DriftConfig

DRIFT = "    drift: {warn: 0.1, fail: 0.25}\n"  # as conftest.monitor writes it


@pytest.fixture
def recipe(monitored_recipe: Path) -> Path:
    return monitored_recipe


def score(root: Path, scoring: pd.DataFrame):
    scoring.to_parquet(root / "data" / "scoring.parquet", index=False)
    recipe = Recipe(recipe_root=root)
    summary = recipe.run("predict")
    assert summary.success, summary.error
    record = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("scored_data"), "scoring_data_drift"))
    assert record is not None and record.event is not None
    materialization = recipe.instance.get_latest_materialization_event(recipe.key("scored_data")).asset_materialization
    return record.event.dagster_event.event_specific_data, materialization.metadata


def column_rows(evaluation) -> dict[str, dict]:
    return {row.data["column"]: row.data for row in evaluation.metadata["columns"].value.records}


def test_scoring_data_from_the_training_distribution_passes(recipe: Path):
    sample = pd.read_parquet(recipe / "data" / "sample.parquet").sample(2000, random_state=3)
    evaluation, card = score(recipe, sample)
    assert evaluation.passed, evaluation.description
    rows = column_rows(evaluation)
    assert set(rows) == {"tpep_pickup_datetime", "tpep_dropoff_datetime", "trip_distance", "pickup_zip", "dropoff_zip", "prediction"}
    assert all(row["status"] == "ok" and row["PSI"] < 0.1 for row in rows.values())
    assert evaluation.metadata["rows"].value == 2000
    drift_tab = dict(tabs(LAYOUT, card))["Drift"]
    assert "drift by column" in drift_tab and "drift verdict" in drift_tab
    assert sum(label.startswith("plot: drift of ") for label in drift_tab) == 3


def test_a_column_shifted_by_two_standard_deviations_fails_at_error_severity_naming_it(recipe: Path):
    shifted = pd.read_parquet(recipe / "data" / "sample.parquet")
    shifted["trip_distance"] = shifted["trip_distance"] + 2 * shifted["trip_distance"].std()
    evaluation, card = score(recipe, shifted)
    assert not evaluation.passed
    assert evaluation.severity == AssetCheckSeverity.ERROR
    assert "trip_distance" in evaluation.description
    rows = column_rows(evaluation)
    assert rows["trip_distance"]["status"] == "FAIL" and rows["trip_distance"]["PSI"] >= 0.25
    assert rows["pickup_zip"]["status"] == "ok"
    assert "trip_distance" in evaluation.metadata["drifted columns"].value.split(", ")
    # the card's table lists the most drifted column first
    assert card["drift by column"].value.records[0].data["column"] in ("trip_distance", "prediction")


def test_warn_severity_between_the_thresholds_and_only_the_chosen_columns(recipe: Path, edit):
    edit(recipe / "recipe.yaml", DRIFT, "    drift: {warn: 0.1, fail: 100, columns: [trip_distance, pickup_zip]}\n")
    shifted = pd.read_parquet(recipe / "data" / "sample.parquet")
    shifted["trip_distance"] = shifted["trip_distance"] + 2 * shifted["trip_distance"].std()
    evaluation, _ = score(recipe, shifted)
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert set(column_rows(evaluation)) == {"trip_distance", "pickup_zip"}


def test_an_unknown_drift_column_is_an_error_naming_the_key(recipe: Path, edit):
    edit(recipe / "recipe.yaml", DRIFT, "    drift: {columns: [trip_distanse]}\n")
    (recipe / "data" / "scoring.parquet").write_bytes((recipe / "data" / "sample.parquet").read_bytes())
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert not summary.success
    assert "steps.predict.drift.columns" in str(summary.error) and "'trip_distanse'" in str(summary.error)
    assert "'trip_distance'" in str(summary.error)


def test_drift_thresholds_are_validated():
    with pytest.raises(ValidationError, match="must not be above fail"):
        DriftConfig(warn=0.3, fail=0.2)
    with pytest.raises(ValidationError, match="at most 1"):
        DriftConfig(metric="ks", warn=0.1, fail=2)


def test_a_model_run_without_a_reference_is_scored_and_the_check_says_why_it_compared_nothing(recipe: Path, monkeypatch):
    """The one case that is "no reference": the run's artifacts do not list it (here: a name no run has)."""
    from recipe_assets.ml import drift

    monkeypatch.setattr(drift, "REFERENCE_ARTIFACT", "drift/not-logged-by-this-run.json")
    evaluation, _ = score(recipe, pd.read_parquet(recipe / "data" / "sample.parquet").head(500))
    assert not evaluation.passed and evaluation.severity == AssetCheckSeverity.WARN
    assert "no drift reference" in evaluation.description


def test_a_tracking_store_failing_while_the_reference_loads_stops_scoring_and_keeps_the_last_output(recipe: Path, monkeypatch):
    """Not read as "no reference" (scoring would go on unwatched and overwrite the output): an error naming the
    store and what failed, before anything is scored."""
    import mlflow
    from mlflow.exceptions import MlflowException

    score(recipe, pd.read_parquet(recipe / "data" / "sample.parquet").head(500))
    output = recipe / "data" / "sample_output.parquet"
    before = output.read_bytes()

    def unreachable(*args, **kwargs):
        raise MlflowException("API request to /get-artifact failed with exception ConnectionError: Connection refused")

    monkeypatch.setattr(mlflow.artifacts, "load_dict", unreachable)
    (recipe / "data" / "scoring.parquet").write_bytes((recipe / "data" / "sample.parquet").read_bytes())
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert not summary.success
    message = str(summary.error)
    tracking_uri = Recipe(recipe_root=recipe).mlflow.tracking_uri
    assert f"MLflow tracking store {tracking_uri}: loading the drift reference" in message and "Connection refused" in message
    assert "no drift reference" not in message
    assert output.read_bytes() == before
    assert sorted(p.name for p in output.parent.iterdir() if p.name.startswith(output.name)) == [output.name]  # no half-written file beside it


@pytest.mark.parametrize(
    ("status", "body", "expected"),
    [
        (503, "busy", "failed after 0 retries"),
        (429, "slow down", "failed after 0 retries"),
        (500, '{"error_code": "INTERNAL_ERROR", "message": "db down"}', "failed after 0 retries"),
        (403, "<html>proxy says no</html>", "was refused with HTTP 403"),
    ],
)
def test_a_tracking_server_failing_while_the_reference_loads_is_named_not_called_no_reference(stub_server, monkeypatch, status, body, expected):
    from recipe_assets.core.errors import RecipeError
    from recipe_assets.data.mlflow_tracking import MlflowTracking
    from recipe_assets.steps.predict.drift import load_reference

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")  # MLflow's own retries, not what is tested here
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    stub_server.answer_with(status, body, "application/json" if body.startswith("{") else "text/plain")
    tracking = MlflowTracking(tracking_uri=stub_server.url, experiment_name="scoring")
    with pytest.raises(RecipeError) as failed:
        load_reference(tracking, "models:/taxi/3", {"run_id": "0123456789abcdef", "model_uri": "models:/taxi/3"})
    message = str(failed.value)
    assert f"MLflow tracking server {stub_server.url}: loading the drift reference (drift/reference.json) of models:/taxi/3 {expected}" in message
    assert "no drift reference" not in message


def test_a_tracking_server_that_does_not_answer_while_the_reference_loads_is_named(monkeypatch):
    from recipe_assets.core.errors import RecipeError
    from recipe_assets.data.mlflow_tracking import MlflowTracking
    from recipe_assets.steps.predict.drift import load_reference

    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_MAX_RETRIES", "0")
    monkeypatch.setenv("MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR", "0")
    gone = MlflowTracking(tracking_uri="http://127.0.0.1:9", experiment_name="scoring")  # nothing listens on port 9
    with pytest.raises(RecipeError, match=r"MLflow tracking server http://127.0.0.1:9: loading the drift reference .* failed after 0 retries"):
        load_reference(gone, "models:/taxi/3", {"run_id": "0123456789abcdef", "model_uri": "models:/taxi/3"})
