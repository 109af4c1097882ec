"""`steps.register`."""
from __future__ import annotations

from recipe_assets.core.configmodel import ConfigModel


class RegisterConfig(ConfigModel):
    allow_non_validated_model: bool = False
    alias: str | None = "champion"  # (ours) moved to each new version so scoring can follow it

