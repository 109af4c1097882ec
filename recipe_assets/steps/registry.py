"""The steps of a recipe, in order: the one list everything else is derived from.

Each step is a subpackage of `recipe_assets.steps` exporting `SPEC` (spec.py): its name, group, config
model, outputs, the recipe outputs it reads, its asset builder and its card layout. From this list come
`steps:` in recipe.yaml (`StepsConfig`), the asset graph, the step lists and `step_of`. Adding a step:
copy a step folder, change its spec, and add one line to STEPS below.

The list is checked when this module is imported (it is data, like Kedro's `Pipeline`): unique step
names and outputs, and every input produced by a step listed before the one that reads it. A mistake
fails with an error naming the step and the output, not later as a missing Dagster asset.
"""
from __future__ import annotations

import warnings
from typing import Any

from pydantic import Field, create_model, field_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.keys import BATCH_SCORING, MODEL_DEVELOPMENT
from recipe_assets.steps.evaluate.spec import SPEC as EVALUATE
from recipe_assets.steps.ingest.spec import SPEC as INGEST
from recipe_assets.steps.ingest_scoring.spec import SPEC as INGEST_SCORING
from recipe_assets.steps.predict.spec import SPEC as PREDICT
from recipe_assets.steps.register.spec import SPEC as REGISTER
from recipe_assets.steps.spec import StepSpec
from recipe_assets.steps.split.spec import SPEC as SPLIT
from recipe_assets.steps.train.spec import SPEC as TRAIN
from recipe_assets.steps.transform.spec import SPEC as TRANSFORM

STEPS: tuple[StepSpec, ...] = (
    INGEST,
    SPLIT,
    TRANSFORM,
    TRAIN,
    EVALUATE,
    REGISTER,
    INGEST_SCORING,
    PREDICT,
)


class StepRegistryError(ValueError):
    """The step list itself is wrong (a programming error in recipe-assets or a custom step, not in a recipe)."""


def validate(steps: tuple[StepSpec, ...]) -> None:
    seen_steps: set[str] = set()
    produced: dict[str, str] = {}
    for spec in steps:
        if spec.name in seen_steps:
            raise StepRegistryError(f"step {spec.name!r} is listed twice")
        seen_steps.add(spec.name)
        for name in spec.inputs:
            if name not in produced:
                raise StepRegistryError(f"step {spec.name!r} reads {name!r}, which no step listed before it produces")
        for name in spec.outputs:
            if name in produced:
                raise StepRegistryError(f"output {name!r} of step {spec.name!r} is already produced by step {produced[name]!r}")
            produced[name] = spec.name


validate(STEPS)

BY_NAME: dict[str, StepSpec] = {spec.name: spec for spec in STEPS}
STEP_OUTPUTS: dict[str, tuple[str, ...]] = {spec.name: spec.outputs for spec in STEPS}
MODEL_DEVELOPMENT_STEPS: tuple[str, ...] = tuple(spec.name for spec in STEPS if spec.group == MODEL_DEVELOPMENT)
BATCH_SCORING_STEPS: tuple[str, ...] = tuple(spec.name for spec in STEPS if spec.group == BATCH_SCORING)
SOURCES: dict[str, str] = {spec.name: spec.source for spec in STEPS if spec.source}


def step_of(output: str) -> str:
    """The step that produces `output` (KeyError for a name no step produces)."""
    for spec in STEPS:
        if output in spec.outputs:
            return spec.name
    raise KeyError(output)


def _steps_config_model() -> type[ConfigModel]:
    """`steps:` of recipe.yaml: one field per step, typed by the step's config model. A `required` section
    must be there (ingest), a `defaulted` one may be empty or left out, an `optional` one may be left out
    (batch scoring)."""
    fields: dict[str, Any] = {}
    for spec in STEPS:
        if spec.section == "required":
            fields[spec.name] = (spec.config_model, ...)
        elif spec.section == "defaulted":
            fields[spec.name] = (spec.config_model, Field(default_factory=spec.config_model))
        else:
            fields[spec.name] = (spec.config_model | None, None)
    defaulted = [spec.name for spec in STEPS if spec.section == "defaulted"]

    def empty_section_means_defaults(cls, value: Any) -> Any:
        return {} if value is None else value

    validators = {"_empty_section_means_defaults": field_validator(*defaulted, mode="before")(classmethod(empty_section_means_defaults))}
    return create_model("StepsConfig", __base__=ConfigModel, __validators__=validators, **fields)


with warnings.catch_warnings():
    # `register` is the step's documented key; pydantic warns that it shadows ABCMeta.register, which is harmless
    warnings.filterwarnings("ignore", message='Field name "register" in "StepsConfig" shadows')
    StepsConfig = _steps_config_model()
