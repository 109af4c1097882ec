"""evaluate's segments: every metric per value of a segment column equals the metric computed on those test
rows by hand; a segment criterion REJECTS a model that passes overall."""
from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckKey
from sklearn.metrics import mean_absolute_error, mean_squared_error, r2_score

from recipe_assets.app.recipe import Recipe
from recipe_assets.cards.layout import tabs
from recipe_assets.ml.segments import OTHER, segment_labels
from recipe_assets.steps.evaluate.card import LAYOUT

SEGMENTS = "    segments:\n      - {column: pickup_zip, top: 3, min_rows: 5}\n      - dropoff_zip\n"  # as conftest.monitor writes it


def add_to_evaluate(root: Path, text: str) -> None:
    recipe_file = root / "recipe.yaml"
    content = recipe_file.read_text()
    assert "\n  evaluate:\n" in content
    recipe_file.write_text(content.replace("\n  evaluate:\n", f"\n  evaluate:\n{text}", 1))


def test_segment_metrics_equal_the_metrics_of_each_segments_rows_computed_by_hand(monitored_recipe: Path):
    recipe = Recipe(recipe_root=monitored_recipe)
    run = recipe.latest_value("run")
    test = recipe.latest_value("test_data")
    pipeline = recipe.latest_value("model")["pipeline"]
    predicted = pipeline.predict(test.drop(columns=["fare_amount"]))
    top3 = test["pickup_zip"].astype(str).value_counts()
    top3 = sorted(top3.items(), key=lambda item: (-item[1], item[0]))[:3]
    by_hand = {}
    for value, _ in top3:
        rows = (test["pickup_zip"].astype(str) == value).to_numpy()
        by_hand[value] = rows
    by_hand[OTHER] = ~np.logical_or.reduce(list(by_hand.values()))
    logged = {s["segment"]: s for s in run["segments"]["pickup_zip"]}
    assert set(logged) == set(by_hand)
    client = mlflow.MlflowClient(recipe.mlflow.tracking_uri)
    metrics = client.get_run(run["run_id"]).data.metrics
    for value, rows in by_hand.items():
        truth, guess = test["fare_amount"].to_numpy()[rows], predicted[rows]
        segment = logged[value]
        assert segment["rows"] == rows.sum()
        assert segment["metrics"]["mean_absolute_error"] == pytest.approx(mean_absolute_error(truth, guess))
        assert segment["metrics"]["root_mean_squared_error"] == pytest.approx(np.sqrt(mean_squared_error(truth, guess)))
        assert segment["metrics"]["r2_score"] == pytest.approx(r2_score(truth, guess))
        # the custom metric too, and under a readable MLflow name
        assert metrics[f"test_root_mean_squared_error/pickup_zip/{value}"] == pytest.approx(np.sqrt(mean_squared_error(truth, guess)))
        assert f"test_weighted_mean_squared_error/pickup_zip/{value}" in metrics
    # dropoff_zip with the defaults: its 10 most frequent values and "other", each with at least 30 rows scored
    dropoff = run["segments"]["dropoff_zip"]
    assert len(dropoff) == min(11, test["dropoff_zip"].nunique() + 1)
    assert all((s["metrics"] is None) == (s["rows"] < 30) for s in dropoff)
    card = recipe.instance.get_latest_materialization_event(recipe.key("run")).asset_materialization.metadata
    segment_tab = dict(tabs(LAYOUT, card))["Segments"]
    assert "segment metrics (test)" in segment_tab and any(label.startswith("plot: segments") for label in segment_tab)


def test_a_segment_criterion_rejects_a_model_that_passes_overall(monitored_recipe: Path):
    root = monitored_recipe
    recipe = Recipe(recipe_root=root)
    run = recipe.latest_value("run")
    overall = run["metrics"]["test"]["root_mean_squared_error"]
    worst = max(s["metrics"]["root_mean_squared_error"] for s in run["segments"]["pickup_zip"] if s["metrics"])
    assert worst > overall
    threshold = (overall + worst) / 2
    add_to_evaluate(root, f"    min_segment_metric:\n      - {{metric: root_mean_squared_error, threshold: {threshold}}}\n")
    summary = Recipe(recipe_root=root).run(raise_on_error=False)
    assert not summary.success  # register refuses the REJECTED model, naming the criterion's key and the segment that failed
    message = str(summary.error)
    assert "model REJECTED by steps.evaluate.min_segment_metric[0] (test root_mean_squared_error must be at most" in message
    assert "steps.evaluate.validation_criteria" not in message, "the overall criterion passed: it is not the cause"
    scored = [(column, s) for column, segments in run["segments"].items() for s in segments if s["metrics"]]
    column, worst_segment = max(scored, key=lambda item: item[1]["metrics"]["root_mean_squared_error"])  # named first
    assert f"missed by {column}={worst_segment['segment']} {worst_segment['metrics']['root_mean_squared_error']:.6g}" in message
    recipe = Recipe(recipe_root=root)
    run = recipe.latest_value("run")
    assert run["model_validation_status"] == "REJECTED"
    overall_check = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("run"), "validation_root_mean_squared_error"))
    segment_check = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("run"), "segment_root_mean_squared_error"))
    assert overall_check.event.dagster_event.event_specific_data.passed
    failed = segment_check.event.dagster_event.event_specific_data
    assert not failed.passed and "pickup_zip=" in failed.description
    assert failed.metadata["worst value"].value == pytest.approx(worst)
    # the version registered before the criterion stays the only one
    assert recipe.latest_value("registered_model_version")["version"] == "1"


def test_segment_labels_keep_the_most_frequent_values_and_missing():
    values = pd.Series(["a", "b", "a", None, "c", "a", "b", "d"])
    assert list(segment_labels(values, top=2)) == ["a", "b", "a", OTHER, OTHER, "a", "b", OTHER]
    assert "(missing)" in set(segment_labels(pd.Series(["a", None, None]), top=2))


def test_segment_config_mistakes_name_their_key(regression_recipe: Path):
    from recipe_assets.core.errors import RecipeConfigError
    from recipe_assets.engine.config import load_config

    add_to_evaluate(regression_recipe, SEGMENTS + "    min_segment_metric:\n      - {metric: root_mean_squared_eror, threshold: 3}\n")
    with pytest.raises(RecipeConfigError, match=r"steps\.evaluate\.min_segment_metric\[0\]\.metric"):
        load_config(regression_recipe, "local")
    (regression_recipe / "recipe.yaml").write_text((regression_recipe / "recipe.yaml").read_text().replace(SEGMENTS, ""))
    with pytest.raises(RecipeConfigError, match="min_segment_metric needs steps.evaluate.segments"):
        load_config(regression_recipe, "local")
