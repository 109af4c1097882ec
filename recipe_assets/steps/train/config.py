"""`steps.train`: the estimator (the recipe's own, tuned, or FLAML's), rebalancing and calibration."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.ml.automl import DEFAULT_TIME_BUDGET_SECS
from recipe_assets.ml.tuning import TuningConfig


class TrainConfig(ConfigModel):
    using: Literal["custom", "automl/flaml"] = "custom"
    estimator_method: str | None = None
    estimator_params: dict[str, Any] | None = None
    fit_params: dict[str, Any] | None = None  # (ours) keyword arguments of fit, the validation split among them: ml/fit_params.py
    tuning: TuningConfig = Field(default_factory=TuningConfig)
    time_budget_secs: float = Field(default=DEFAULT_TIME_BUDGET_SECS, gt=0)  # automl/flaml
    flaml_params: dict[str, Any] = Field(default_factory=dict)  # automl/flaml, passed through to FLAML
    rebalance_training_data: bool = True
    resampling_minority_percentage: float = Field(default=0.3, gt=0, lt=1)
    calibrate_proba: Literal["isotonic", "sigmoid"] | None = None
    predict_prefix: str = "predicted_"
    predict_scores_for_all_classes: bool = True


    @model_validator(mode="after")
    def _fit_params_are_for_the_recipes_own_estimator(self) -> "TrainConfig":
        if self.using == "automl/flaml" and self.fit_params:
            raise ValueError(
                "fit_params is for the recipe's own estimator (using: custom); with automl/flaml, FLAML fits its learners "
                "itself and early-stops them on its own holdout (pass its settings in flaml_params)"
            )
        return self
