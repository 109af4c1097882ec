"""`steps.evaluate`: the validation criteria (each an asset check on `run`)."""
from __future__ import annotations

from pydantic import Field, field_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.metrics import canonical_metric


class ValidationCriterion(ConfigModel):
    metric: str
    threshold: float

    @field_validator("metric")
    @classmethod
    def _one_name_per_metric(cls, value: str) -> str:
        return canonical_metric(value)


class EvaluateConfig(ConfigModel):
    validation_criteria: list[ValidationCriterion] = Field(default_factory=list)

