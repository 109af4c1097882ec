"""`steps.evaluate`: the validation criteria (each an asset check on `run`); (ours) how the candidate is
compared with the registered champion, the segment columns whose values get metrics of their own, and criteria
every segment must meet."""
from __future__ import annotations

from typing import Any

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


class SegmentColumn(ConfigModel):
    """(ours) one `steps.evaluate.segments` entry: a column name, or `{column, top, min_rows}`."""

    column: str
    top: int = Field(default=10, ge=1)  # the most frequent values each get a segment; the rest share "other"
    min_rows: int = Field(default=30, ge=1)  # a segment with fewer test rows is listed, not scored

    @model_validator(mode="before")
    @classmethod
    def _a_bare_column_name(cls, data: Any) -> Any:
        return {"column": data} if isinstance(data, str) else data


class EvaluateConfig(ConfigModel):
    validation_criteria: list[ValidationCriterion] = Field(default_factory=list)
    champion: ChampionConfig = Field(default_factory=ChampionConfig)
    segments: list[SegmentColumn] = Field(default_factory=list)  # (ours)
    # (ours) each scored segment's test-set metric must be at or better than its threshold, else REJECTED
    min_segment_metric: list[ValidationCriterion] = Field(default_factory=list)

    def slice_without_thresholds(self) -> str:
        """This config as `slice_for_version` gives it, less the validation criteria's thresholds: what an
        evaluation's metrics, plots and champion comparison depend on (evaluate's fast path, reuse.py). A
        segment criterion's threshold stays in: the segment plots draw it."""
        return self.model_dump_json(by_alias=False, exclude_none=False, exclude={"validation_criteria": {"__all__": {"threshold"}}})

    @model_validator(mode="after")
    def _segment_criteria_need_segments(self) -> "EvaluateConfig":
        if self.min_segment_metric and not self.segments:
            raise ValueError("min_segment_metric needs steps.evaluate.segments (the columns whose values are segments)")
        return self

