"""`custom_steps:` of recipe.yaml → the recipe's step catalog (built-in steps plus its own), checked with
errors that name recipe.yaml, the entry's key path and what was expected."""
from __future__ import annotations

from collections.abc import Sequence
from pathlib import Path

from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.core.keys import BATCH_SCORING, MODEL_DEVELOPMENT
from recipe_assets.steps.catalog import BUILTIN, StepCatalog, with_custom_steps
from recipe_assets.steps.custom.config import CustomStepConfig
from recipe_assets.steps.custom.spec import before_train_spec, downstream_spec


def recipe_catalog(custom_steps: Sequence[CustomStepConfig], recipe_path: Path, batch_scoring: bool = True) -> StepCatalog:
    """`batch_scoring`: whether the recipe configures ingest_scoring and predict (a custom step may read their outputs only then)."""
    if not custom_steps:
        return BUILTIN
    taken = set(BUILTIN.by_name) | set(BUILTIN.output_names)
    made_by_group = {name: spec.group for spec in BUILTIN.specs for name in spec.outputs}
    downstream, before_train, previous = [], [], None
    for index, custom in enumerate(custom_steps):
        names = (custom.name, custom.transformer_output) if custom.before else (custom.name,)
        clash = next((name for name in names if name in taken), None)
        if clash is not None:
            raise RecipeConfigError(str(recipe_path), f"custom_steps[{index}].name", f"{clash!r} is already a step or output name; pick another")
        if custom.before == "train":
            before_train.append(before_train_spec(custom, index, previous))
            previous = custom
        else:
            for position, name in enumerate(custom.inputs):
                if name not in made_by_group:
                    known = ", ".join(made_by_group)
                    raise RecipeConfigError(
                        str(recipe_path), f"custom_steps[{index}].inputs[{position}]", f"unknown output {name!r}; expected one of {known} (or a custom step listed before)"
                    )
            group = BATCH_SCORING if any(made_by_group[name] == BATCH_SCORING for name in custom.inputs) else MODEL_DEVELOPMENT
            if group == BATCH_SCORING and not batch_scoring:
                raise RecipeConfigError(
                    str(recipe_path), f"custom_steps[{index}].inputs", "reads a batch-scoring output, but the recipe has no steps.ingest_scoring and steps.predict"
                )
            downstream.append(downstream_spec(custom, index, group))
        taken.update(names)
        made_by_group.update(dict.fromkeys(names, downstream[-1].group if not custom.before else MODEL_DEVELOPMENT))
    return with_custom_steps(downstream, before_train)
