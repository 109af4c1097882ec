"""`steps.transform`."""
from __future__ import annotations

from typing import Literal

from recipe_assets.core.configmodel import ConfigModel


class TransformConfig(ConfigModel):
    using: Literal["custom"] = "custom"
    transformer_method: str | None = None
