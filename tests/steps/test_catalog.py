"""A recipe's step catalog: the built-in steps plus its custom steps, each placed where its inputs are made."""
from __future__ import annotations

from pathlib import Path

import pytest

from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.engine.custom_steps import recipe_catalog
from recipe_assets.steps.catalog import BUILTIN
from recipe_assets.steps.custom.config import CustomStepConfig

RECIPE = Path("/recipes/taxi/recipe.yaml")


def custom(name: str, inputs: list[str] | None = None, before: str | None = None) -> CustomStepConfig:
    return CustomStepConfig(name=name, function=name, inputs=inputs or [], before=before)


def test_each_custom_step_sits_after_the_last_step_making_its_inputs_and_in_that_steps_group():
    catalog = recipe_catalog(
        [
            custom("model_report", ["test_data", "model"]),
            custom("scoring_report", ["scored_data", "model"]),
            custom("report_of_report", ["model_report"]),
            custom("features", before="train"),
            custom("more_features", before="train"),
        ],
        RECIPE,
    )
    assert catalog.model_development == (
        "ingest", "split", "transform", "features", "more_features", "train", "model_report", "report_of_report", "evaluate", "register",
    )
    assert catalog.batch_scoring == ("ingest_scoring", "predict", "scoring_report")
    assert catalog.outputs["features"] == ("features", "features_transformer")
    assert catalog.by_name["more_features"].inputs == ("features_transformer", "features")
    assert catalog.step_of("features_transformer") == "features"
    assert catalog.sequence_of("scoring_report") == catalog.batch_scoring
    assert recipe_catalog([], RECIPE) is BUILTIN


@pytest.mark.parametrize(
    ("steps", "key_path", "words"),
    [
        ([custom("model", ["test_data"])], "custom_steps[0].name", "'model' is already a step or output name"),
        ([custom("train", ["test_data"])], "custom_steps[0].name", "'train' is already a step or output name"),
        ([custom("a", ["test_data"]), custom("a", ["model"])], "custom_steps[1].name", "'a' is already"),
        ([custom("a", ["report"]), custom("report", ["model"])], "custom_steps[0].inputs[0]", "unknown output 'report'"),
    ],
)
def test_a_name_taken_or_an_input_not_yet_made_is_refused_naming_the_entry(steps, key_path: str, words: str):
    with pytest.raises(RecipeConfigError) as caught:
        recipe_catalog(steps, RECIPE)
    assert caught.value.key_path == key_path and words in caught.value.problem and caught.value.file == str(RECIPE)
