"""(ours) `retrain:`: what makes the daemon run model development by itself (the sensor is engine.automation)."""
from __future__ import annotations

from pydantic import Field

from recipe_assets.core.configmodel import ConfigModel


class RetrainConfig(ConfigModel):
    """(ours) `retrain:`: what makes the daemon run model development by itself."""

    on_new_training_data: bool = False
    on_drift: bool = False  # needs steps.predict.drift: the scoring_data_drift check
    interval_seconds: int = Field(default=60, ge=1)  # how often the daemon evaluates the sensor

    @property
    def enabled(self) -> bool:
        return self.on_new_training_data or self.on_drift
