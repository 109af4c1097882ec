"""`steps.evaluate`: the validation criteria (each an asset check on `run`), and how the candidate is
compared with the registered champion (ours)."""
from __future__ import annotations

from pydantic import Field, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.metrics import canonical_metric


class ValidationCriterion(ConfigModel):
    metric: str
    threshold: float
    # (ours) MLflow MetricThreshold's change against the champion's test value, checked when there is one
    min_absolute_change: float | None = None
    min_relative_change: float | None = None

    @model_validator(mode="after")
    def _as_mlflow_accepts_them(self) -> "ValidationCriterion":
        if self.min_absolute_change is None and self.min_relative_change is None:
            return self
        from recipe_assets.ml.champion import metric_threshold_error

        wrong = metric_threshold_error(self.min_absolute_change, self.min_relative_change)
        if wrong:
            raise ValueError(f"{wrong} (got min_absolute_change={self.min_absolute_change}, min_relative_change={self.min_relative_change})")
        return self

    @field_validator("metric")
    @classmethod
    def _one_name_per_metric(cls, value: str) -> str:
        return canonical_metric(value)


class ChampionConfig(ConfigModel):
    """(ours) `steps.evaluate.champion`: the paired bootstrap of candidate - champion on the primary metric."""

    require_significant: bool = False  # promote only when the 95% interval clears zero in the better direction
    resamples: int = Field(default=1000, ge=100, le=100_000)
    seed: int = 42


class EvaluateConfig(ConfigModel):
    validation_criteria: list[ValidationCriterion] = Field(default_factory=list)
    champion: ChampionConfig = Field(default_factory=ChampionConfig)

