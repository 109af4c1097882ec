"""predict: batch scoring config (the scoring assets build on the registered model)."""
from __future__ import annotations

from typing import Literal

from pydantic import Field

from recipe_assets.configmodel import ConfigModel


class PredictOutput(ConfigModel):
    using: Literal["parquet", "delta", "table"] = "parquet"
    location: str


class PredictConfig(ConfigModel):
    output: PredictOutput
    model_uri: str | None = None
    result_type: str = "double"
    save_mode: Literal["overwrite", "append", "error", "ignore", "default"] = "overwrite"
    batch_rows: int = Field(default=65536, ge=1)  # (ours) rows per record batch while streaming
