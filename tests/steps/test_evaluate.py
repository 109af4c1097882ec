"""evaluate: the validation criteria become asset checks whose pass/fail the Dagster instance records."""
from __future__ import annotations

from pathlib import Path

import pytest
from dagster import AssetCheckKey

from recipe_assets.app.recipe import Recipe


def check_evaluation(recipe: Recipe, metric: str):
    record = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("run"), f"validation_{metric}"))
    assert record is not None and record.event is not None, f"no check evaluation recorded for {metric}"
    return record.event.dagster_event.event_specific_data


def test_each_validation_criterion_is_an_asset_check_passed_by_its_metric_vs_threshold(regression_recipe: Path, edit):
    edit(regression_recipe / "recipe.yaml", "        threshold: 10\n", "        threshold: 1000\n")  # RMSE: passes
    edit(regression_recipe / "recipe.yaml", "        threshold: 20\n", "        threshold: 0.0001\n")  # weighted MSE: fails
    recipe = Recipe(recipe_root=regression_recipe)
    summary = recipe.run("evaluate")
    assert summary.success, summary.error
    test_metrics = recipe.latest_value("run")["metrics"]["test"]
    rmse = check_evaluation(recipe, "root_mean_squared_error")
    weighted = check_evaluation(recipe, "weighted_mean_squared_error")
    assert test_metrics["root_mean_squared_error"] <= 1000 and test_metrics["weighted_mean_squared_error"] > 0.0001
    assert (rmse.passed, weighted.passed) == (True, False)
    assert rmse.metadata["value"].value == pytest.approx(test_metrics["root_mean_squared_error"])
    assert weighted.metadata["threshold"].value == pytest.approx(0.0001)
    assert recipe.latest_value("run")["model_validation_status"] == "REJECTED"
