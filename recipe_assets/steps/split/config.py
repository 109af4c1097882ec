"""`steps.split`: ratios, or the recipe's own split function, and the filters after the split."""
from __future__ import annotations

from typing import Literal

from pydantic import Field, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel


class SplitConfig(ConfigModel):
    using: Literal["split_ratios", "custom"] = "split_ratios"
    split_ratios: list[float] = Field(default_factory=lambda: [0.75, 0.125, 0.125])
    post_split_filter_method: str | None = None
    post_split_method: str | None = None
    split_method: str | None = None
    # (ours) classification only: `hash` puts rows where MLflow Recipes did; `exact` gives every class the
    # ratios to within one row, for small or very imbalanced data, at the cost of rows near a cut moving
    stratify: Literal["hash", "exact"] = "hash"

    @field_validator("split_ratios")
    @classmethod
    def _three_positive(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or any(r <= 0 for r in value):
            raise ValueError("expected three positive numbers [train, validation, test]")
        return value

    @model_validator(mode="after")
    def _custom_needs_method(self) -> "SplitConfig":
        if self.using == "custom" and not self.split_method:
            raise ValueError("using: 'custom' needs `split_method` in steps/split.py: f(df) -> Series of TRAINING/VALIDATION/TEST")
        return self

    @property
    def normalized_ratios(self) -> tuple[float, float, float]:
        total = sum(self.split_ratios)
        return tuple(r / total for r in self.split_ratios)  # type: ignore[return-value]

    @property
    def user_functions(self) -> list[tuple[str, str]]:
        names = [
            ("split_method", self.split_method if self.using == "custom" else None),
            ("post_split_filter_method", self.post_split_filter_method),
            ("post_split_method", self.post_split_method),
        ]
        return [(key, fn) for key, fn in names if fn]

