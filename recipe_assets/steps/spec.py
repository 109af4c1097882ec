"""What a step is, to the rest of the package: one small spec each step subpackage exports as `SPEC`.

A step knows nothing of the engine or of other steps' code. Its builder receives the recipe-wide settings
(`RecipeSettings`: target, task, positive class, metrics, MLflow locations) and the parsed `steps:`
section (its own config, and the few other steps' settings it declares it reads, such as predict reading
train's), and returns Dagster definitions: assets, asset checks, source assets.
"""
from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal

from recipe_assets.core.configmodel import ConfigModel

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

# (tab title, label patterns): the card's tabs in display order; the first matching rule wins (cards.layout)
CardLayout = Sequence[tuple[str, Sequence[str]]]
Builder = Callable[["RecipeSettings", Any], list]


@dataclass(frozen=True)
class StepSpec:
    name: str
    group: str  # core.keys.MODEL_DEVELOPMENT or BATCH_SCORING
    config_model: type[ConfigModel]
    outputs: tuple[str, ...]  # asset names, as MLflow Recipes named the step's outputs
    inputs: tuple[str, ...]  # outputs of earlier steps the step reads
    build: Builder  # (settings, steps config) -> Dagster definitions; [] when the recipe does not use the step
    card_layout: CardLayout = ()
    # how `steps.<name>` may appear in recipe.yaml: must be there, may be empty or absent, may be absent
    section: Literal["required", "defaulted", "optional"] = "defaulted"
    source: str | None = None  # the observable raw-data asset the step reads (ingest steps)
