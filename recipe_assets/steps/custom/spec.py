"""Custom steps as the rest of the package sees them: one StepSpec per `custom_steps:` entry, made per
recipe (the built-in steps' specs are module constants; these depend on the recipe)."""
from __future__ import annotations

from recipe_assets.core.keys import MODEL_DEVELOPMENT
from recipe_assets.steps.custom.assets import build_before_train, build_downstream
from recipe_assets.steps.custom.card import LAYOUT
from recipe_assets.steps.custom.config import CustomStepConfig
from recipe_assets.steps.spec import StepSpec


def downstream_spec(custom: CustomStepConfig, index: int, group: str) -> StepSpec:
    return StepSpec(
        name=custom.name,
        group=group,
        config_model=CustomStepConfig,
        outputs=(custom.name,),
        inputs=tuple(custom.inputs),
        build=lambda settings, _steps: build_downstream(settings, custom, index, group),
        card_layout=LAYOUT,
    )


def before_train_spec(custom: CustomStepConfig, index: int, previous: CustomStepConfig | None) -> StepSpec:
    reads = (previous.transformer_output, previous.name) if previous else ("transformer", "transformed_training_data")
    return StepSpec(
        name=custom.name,
        group=MODEL_DEVELOPMENT,
        config_model=CustomStepConfig,
        outputs=(custom.name, custom.transformer_output),
        inputs=reads,
        build=lambda settings, _steps: build_before_train(settings, custom, index, previous),
        card_layout=(("Features", (r".",)),),
    )
