"""The step registry: the one list the recipe's `steps:` keys, the asset graph and the step lists come from,
checked when it is built (a wrong list names the step and the output)."""
from __future__ import annotations

from dataclasses import replace

import pytest

from recipe_assets.steps import registry
from recipe_assets.steps.registry import STEPS, StepRegistryError, StepsConfig, validate


def test_recipe_steps_keys_and_step_lists_come_from_the_registry():
    assert list(StepsConfig.model_fields) == [spec.name for spec in STEPS]
    assert registry.MODEL_DEVELOPMENT_STEPS == ("ingest", "split", "transform", "train", "evaluate", "register")
    assert registry.BATCH_SCORING_STEPS == ("ingest_scoring", "predict")
    assert registry.step_of("transformed_validation_data") == "transform"
    assert registry.SOURCES == {"ingest": "raw_data", "ingest_scoring": "raw_scoring_data"}


def test_a_step_reading_an_output_no_earlier_step_produces_is_refused_by_name():
    split, ingest = STEPS[1], STEPS[0]
    with pytest.raises(StepRegistryError, match="step 'split' reads 'ingested_data', which no step listed before it produces"):
        validate((split, ingest, *STEPS[2:]))


def test_two_steps_producing_one_output_are_refused_by_name():
    copy = replace(STEPS[1], name="split_again")
    with pytest.raises(StepRegistryError, match="output 'training_data' of step 'split_again' is already produced by step 'split'"):
        validate((*STEPS[:2], copy))


def test_a_step_listed_twice_is_refused():
    with pytest.raises(StepRegistryError, match="step 'ingest' is listed twice"):
        validate((STEPS[0], STEPS[0]))
