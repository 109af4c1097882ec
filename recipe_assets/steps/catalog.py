"""The steps of one recipe: the built-in registry's, plus the recipe's `custom_steps:`, in run order.

`steps/registry.py` lists the built-in steps for every recipe; a recipe with custom steps has more. Every
question a way in asks about steps (which steps are there, in what order, which step makes an output,
which steps come after one) goes through a `StepCatalog`, so a custom step is run, inspected, cleaned and
read by `get-artifact` exactly like a built-in one. The order is checked as the registry's is: every input
is made by a step listed before the one that reads it.
"""
from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from functools import cached_property

from recipe_assets.core.keys import BATCH_SCORING, MODEL_DEVELOPMENT
from recipe_assets.steps.registry import STEPS, validate
from recipe_assets.steps.spec import StepSpec

TRAIN = "train"


@dataclass(frozen=True)
class StepCatalog:
    specs: tuple[StepSpec, ...]

    def __post_init__(self) -> None:
        validate(self.specs)

    @cached_property
    def by_name(self) -> dict[str, StepSpec]:
        return {spec.name: spec for spec in self.specs}

    @cached_property
    def outputs(self) -> dict[str, tuple[str, ...]]:
        """step -> the asset names it makes."""
        return {spec.name: spec.outputs for spec in self.specs}

    @cached_property
    def output_names(self) -> tuple[str, ...]:
        return tuple(name for spec in self.specs for name in spec.outputs)

    @cached_property
    def model_development(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs if spec.group == MODEL_DEVELOPMENT)

    @cached_property
    def batch_scoring(self) -> tuple[str, ...]:
        return tuple(spec.name for spec in self.specs if spec.group == BATCH_SCORING)

    @cached_property
    def sources(self) -> dict[str, str]:
        return {spec.name: spec.source for spec in self.specs if spec.source}

    def step_of(self, output: str) -> str:
        """The step that makes `output` (KeyError for a name no step makes)."""
        for spec in self.specs:
            if output in spec.outputs:
                return spec.name
        raise KeyError(output)

    def sequence_of(self, step: str) -> tuple[str, ...]:
        """The group's steps in run order, `step` among them."""
        return self.batch_scoring if step in self.batch_scoring else self.model_development


BUILTIN = StepCatalog(STEPS)


def with_custom_steps(custom: Sequence[StepSpec], before_train: Sequence[StepSpec]) -> StepCatalog:
    """The built-in steps with the recipe's own: `before_train` ones right before train, in the order
    listed; every other one right after the last step that makes one of its inputs (after the steps
    listed before it, so the recipe's order is kept among custom steps reading the same outputs)."""
    ordered = list(STEPS)
    train_at = next(i for i, spec in enumerate(ordered) if spec.name == TRAIN)
    ordered[train_at:train_at] = list(before_train)
    for spec in custom:
        makers = [i for i, placed in enumerate(ordered) if set(placed.outputs) & set(spec.inputs)]
        at = max(makers) + 1 if makers else len(ordered)
        while at < len(ordered) and ordered[at].name in {c.name for c in custom}:
            at += 1  # after the custom steps already placed there
        ordered.insert(at, spec)
    return StepCatalog(tuple(ordered))
