"""The champion gate, end to end on the regression template with its embedded MLflow store: evaluate compares
the candidate with the alias's version on the same test rows, register moves the alias only to a VALIDATED
version that passes, promote / rollback move it by hand, and batch scoring follows it."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from dagster import AssetCheckKey, AssetCheckSeverity, SensorResult, SkipReason, build_sensor_context

from recipe_assets.app.cli import main
from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import RecipeError
from recipe_assets.data import model_aliases
from recipe_assets.engine.config import load_config

MODEL = "taxi_fare_regressor"
# SGDRegressor's seed: 5 gives a slightly lower test RMSE than 42 (the 95% interval still includes 0)
SLIGHTLY_BETTER = ("random_state=42", "random_state=5")


def champion_version(recipe: Recipe, alias: str = "champion") -> str | None:
    return model_aliases.holder(recipe.mlflow.client(), MODEL, alias)


def version_tags(recipe: Recipe, version: str) -> dict[str, str]:
    return recipe.mlflow.client().get_model_version(MODEL, version).tags


def champion_check(recipe: Recipe):
    record = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("run"), "champion_comparison"))
    assert record is not None and record.event is not None, "no champion_comparison check evaluation recorded"
    return record.event.dagster_event.event_specific_data


def rerun(root: Path) -> Recipe:
    recipe = Recipe(recipe_root=root)
    recipe.run(quiet=True)
    return recipe


def scoring_sensor(recipe: Recipe, cursor: str | None):
    sensor = recipe.definitions.get_sensor_def(f"{recipe.loaded.name}__batch_scoring_sensor")
    context = build_sensor_context(instance=recipe.instance, cursor=cursor, definitions=recipe.definitions)
    return sensor(context)


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_first_promoted_better_promoted_worse_kept_out_then_rolled_back_and_rescored_once(regression_recipe: Path, edit, capsys):
    edit(regression_recipe / "recipe.yaml", "    allow_non_validated_model: false\n", "    allow_non_validated_model: false\n    challenger_alias: challenger\n")
    first = rerun(regression_recipe)
    assert champion_version(first) == "1", "the first model (no champion yet) becomes champion"
    assert first.latest_value("run")["champion"]["status"] == "no champion"
    assert champion_check(first).passed

    edit(regression_recipe / "steps" / "train.py", *SLIGHTLY_BETTER)
    better = rerun(regression_recipe)
    comparison = better.latest_value("run")["champion"]
    assert comparison["status"] == "compared" and comparison["version"] == "1"
    rmse = comparison["metrics"]["root_mean_squared_error"]
    assert rmse["candidate"] < rmse["champion"] and comparison["promotable"]
    # the custom metric is compared too, on the same rows
    assert "weighted_mean_squared_error" in comparison["metrics"]
    assert comparison["bootstrap"]["rows"] == len(better.latest_value("test_data"))
    assert champion_version(better) == "2"
    tags = version_tags(better, "2")
    assert tags[model_aliases.PREVIOUS_TAG] == "1" and tags[model_aliases.PROMOTED_FROM_TAG] == "1"
    card = better.inspect("register")
    assert "moved to version 2" in str(card)
    sensor_after_v2 = scoring_sensor(better, None)
    assert isinstance(sensor_after_v2, SensorResult)

    # a clearly worse model, still far inside the absolute thresholds: registered (VALIDATED), not champion
    edit(regression_recipe / "recipe.yaml", '    estimator_method: estimator_fn\n', '    estimator_method: estimator_fn\n    estimator_params: {alpha: 0.5}\n')
    worse = rerun(regression_recipe)
    registered = worse.latest_value("registered_model_version")
    assert (registered["version"], registered["model_validation_status"], registered["promoted"]) == ("3", "VALIDATED", False)
    assert registered["promotion"].startswith("not better")
    assert champion_version(worse) == "2" and champion_version(worse, "challenger") == "3"
    check = champion_check(worse)
    assert not check.passed and check.severity == AssetCheckSeverity.WARN
    assert "stays on version 2" in str(worse.inspect("register"))
    assert isinstance(scoring_sensor(worse, sensor_after_v2.cursor), SkipReason), "a version that was not promoted must not re-score"

    # roll back from the API: the alias goes to the version that held it before 2
    assert worse.rollback() == ("2", "1")
    assert champion_version(worse) == "1"
    assert version_tags(worse, "1")[model_aliases.PROMOTION_TAG] == "rollback"
    assert version_tags(worse, "1")[model_aliases.PROMOTED_FROM_TAG] == "2"
    rescore = scoring_sensor(worse, sensor_after_v2.cursor)
    assert isinstance(rescore, SensorResult) and len(rescore.run_requests) == 1
    assert rescore.run_requests[0].tags["recipe/trigger"] == "model"
    assert isinstance(scoring_sensor(worse, rescore.cursor), SkipReason), "one re-score per move of the alias"
    worse.run("predict", quiet=True)
    assert worse.latest_value("scored_data")["model_uri"] == f"models:/{MODEL}/1"

    # by hand from the CLI: promote 3, then roll back to what held the alias before it (1)
    root = ["--recipe-root", str(regression_recipe)]
    assert main(["promote", "3", *root]) == 0
    assert "moved to version 3 (from 1)" in capsys.readouterr().out
    assert champion_version(worse) == "3" and version_tags(worse, "3")[model_aliases.PROMOTED_BY_TAG]
    back_to_3 = scoring_sensor(worse, rescore.cursor)
    assert isinstance(back_to_3, SensorResult)
    assert main(["rollback", *root]) == 0
    assert "rolled back from version 3 to version 1" in capsys.readouterr().out
    back_to_1 = scoring_sensor(worse, back_to_3.cursor)
    assert isinstance(back_to_1, SensorResult), "returning to an earlier champion scores again (a new run key)"
    assert back_to_1.run_requests[0].run_key != rescore.run_requests[0].run_key


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_rejected_but_allowed_is_registered_and_never_champion(regression_recipe: Path, edit):
    edit(regression_recipe / "recipe.yaml", "        threshold: 10\n", "        threshold: 0.001\n")  # RMSE: fails
    edit(regression_recipe / "recipe.yaml", "allow_non_validated_model: false", "allow_non_validated_model: true\n    challenger_alias: challenger")
    edit(regression_recipe / "recipe.yaml", "  register:\n", "  register:\n    promote: always\n")
    recipe = rerun(regression_recipe)
    registered = recipe.latest_value("registered_model_version")
    assert (registered["version"], registered["model_validation_status"], registered["promoted"]) == ("1", "REJECTED", False)
    assert champion_version(recipe) is None and champion_version(recipe, "challenger") == "1"
    assert "never becomes champion" in registered["promotion"]
    with pytest.raises(RecipeError, match="no version of taxi_fare_regressor holds the alias 'champion'"):
        recipe.run("predict", quiet=True)
    with pytest.raises(RecipeError, match="REJECTED.*--force"):
        recipe.promote("1")
    recipe.promote("1", force=True)
    assert champion_version(recipe) == "1"


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_require_significant_keeps_a_better_by_noise_model_out_and_change_criteria_reject(regression_recipe: Path, edit):
    rerun(regression_recipe)
    edit(regression_recipe / "recipe.yaml", "  register:\n", "    champion:\n      require_significant: true\n  register:\n")
    edit(regression_recipe / "steps" / "train.py", *SLIGHTLY_BETTER)
    tie = rerun(regression_recipe)
    comparison = tie.latest_value("run")["champion"]
    assert comparison["better"] and not comparison["significant"] and not comparison["promotable"]
    assert comparison["bootstrap"]["low"] < 0 < comparison["bootstrap"]["high"]
    assert "includes 0" in comparison["reason"]
    assert tie.latest_value("registered_model_version")["version"] == "2"
    assert champion_version(tie) == "1"

    # a criterion relative to the champion (MLflow's min_absolute_change): not met -> REJECTED, and the
    # blocking check stops the run before register
    edit(regression_recipe / "recipe.yaml", "        threshold: 10\n", "        threshold: 10\n        min_absolute_change: 0.5\n")
    edit(regression_recipe / "steps" / "train.py", "random_state=5", "random_state=7")
    recipe = Recipe(recipe_root=regression_recipe)
    summary = recipe.run(quiet=True, raise_on_error=False)
    assert not summary.success and "blocking" in summary.error
    assert recipe.latest_value("run")["model_validation_status"] == "REJECTED"
    check = champion_check(recipe)
    assert not check.passed and check.severity == AssetCheckSeverity.ERROR
    assert "minimum absolute change" in check.description
    assert recipe.latest_value("registered_model_version")["version"] == "2", "nothing new registered"
    assert champion_version(recipe) == "1"


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_champion_with_an_old_schema_is_reported_and_the_candidate_judged_alone(regression_recipe: Path):
    rerun(regression_recipe)
    data = regression_recipe / "data" / "sample.parquet"
    pd.read_parquet(data).drop(columns=["pickup_zip"]).to_parquet(data, index=False)
    Recipe(recipe_root=regression_recipe).clean("ingest")  # the schema change is intended (ingest refuses it otherwise)
    recipe = rerun(regression_recipe)
    comparison = recipe.latest_value("run")["champion"]
    assert comparison["status"] == "incompatible champion" and comparison["version"] == "1"
    assert "pickup_zip" in comparison["reason"] and "judged alone" in comparison["reason"]
    assert champion_version(recipe) == "2"
    assert "cannot score" in str(recipe.inspect("evaluate"))


def test_change_values_mlflow_refuses_name_the_key(regression_recipe: Path, edit):
    edit(regression_recipe / "recipe.yaml", "        threshold: 10\n", "        threshold: 10\n        min_relative_change: 1.5\n")
    with pytest.raises(RecipeError) as caught:
        load_config(regression_recipe, "local")
    assert "steps.evaluate.validation_criteria[0]" in str(caught.value) and "between 0 and 1" in str(caught.value)
