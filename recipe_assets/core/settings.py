"""The recipe-wide settings a step may read, besides its own `steps.<name>` section: what the recipe is
(name, root, template, target, positive class, metrics) and where MLflow keeps its runs and models.

The engine parses recipe.yaml and the profile once into typed models and hands each step these settings;
a step never sees the engine or the raw config. The recipe-level config sections that steps read
(`custom_metrics`, `experiment`, `model_registry`) are defined here, below the steps, for that reason.
"""
from __future__ import annotations

import re
from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from pathlib import Path
from typing import Any

from pydantic import Field, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.metrics import default_primary_metric, greater_is_better

RECIPE_FILE = "recipe.yaml"


class CustomMetric(ConfigModel):
    """A `custom_metrics:` entry: a function in the recipe's steps/custom_metrics.py."""

    name: str
    function: str
    greater_is_better: bool = True


class ExperimentConfig(ConfigModel):
    name: str | None = None  # (ours) defaults to the recipe's name
    tracking_uri: str | None = None
    artifact_location: str | None = None


class ModelRegistryConfig(ConfigModel):
    model_name: str
    registry_uri: str | None = Field(default=None, alias="uri")

    @model_validator(mode="before")
    @classmethod
    def _accept_both_spellings(cls, data: Any) -> Any:
        if isinstance(data, dict) and "registry_uri" in data:
            data = {**data}
            data["uri"] = data.pop("registry_uri")
        return data


def recipe_name(root: Path) -> str:
    """The recipe's name: its folder's, as an identifier (asset keys and resource keys carry it)."""
    return re.sub(r"[^A-Za-z0-9_]", "_", root.name) or "recipe"


@dataclass(frozen=True)
class RecipeSettings:
    root: Path
    profile: str
    profile_path: Path
    template: str  # "regression/v1" or "classification/v1"
    target_col: str
    positive_class: str | int | bool | None = None
    primary_metric: str | None = None
    custom_metrics: tuple[CustomMetric, ...] = ()
    experiment: ExperimentConfig | None = None
    model_registry: ModelRegistryConfig | None = None
    tables: Mapping[str, str] = field(default_factory=dict)  # (ours) table name -> path
    outputs_location: str | None = None  # (ours) execution.outputs_location: s3://bucket/prefix, or local
    before_train_steps: tuple[str, ...] = ()  # (ours) custom steps whose output train fits on, in order

    @cached_property
    def name(self) -> str:
        return recipe_name(self.root)

    @property
    def task(self) -> str:
        """`regression` or `classification`."""
        return self.template.split("/")[0]

    @property
    def metadata_dir(self) -> Path:
        return self.root / "metadata"

    @property
    def steps_dir(self) -> Path:
        return self.root / "steps"

    @property
    def outputs_dir(self) -> Path:
        """The local folder of the recipe's outputs (and their cards)."""
        return self.metadata_dir / "outputs"

    @property
    def outputs_base(self) -> str:
        """Where the IO manager stores outputs: `execution.outputs_location` (s3://...) or the local folder."""
        return self.outputs_location or str(self.outputs_dir)

    @property
    def effective_primary_metric(self) -> str:
        return self.primary_metric or default_primary_metric(self.task, self.positive_class)

    @property
    def leading_metrics(self) -> tuple[str, ...]:
        """The primary metric (the template's default when the recipe names none), then the custom metrics:
        what cards show first."""
        return (self.effective_primary_metric, *(metric.name for metric in self.custom_metrics))

    def greater_is_better(self, metric: str) -> bool:
        return greater_is_better(metric, self.custom_metrics)

    def describe_source(self) -> str:
        return f"{self.root / RECIPE_FILE} (profile {self.profile_path})"
