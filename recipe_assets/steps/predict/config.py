"""`steps.predict`: the model to score with, the output (location, format, save mode), batch size, result type."""
from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from pydantic import Field, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.data import remote, tables

if TYPE_CHECKING:
    pass


RESULT_TYPES = {
    "double": "float64",
    "float": "float32",
    "int": "int32",
    "integer": "int32",
    "long": "int64",
    "string": "str",
    "boolean": "bool",
    "bool": "bool",
}


SAVE_MODES = ("overwrite", "append", "error", "errorifexists", "ignore", "default")


class PredictOutput(ConfigModel):
    using: Literal["parquet", "delta", "table"] = "parquet"
    location: str

    @model_validator(mode="after")
    def _on_this_machine(self) -> "PredictOutput":
        if self.using == "table" and not tables.TABLE_NAME.match(self.location):
            raise ValueError(f"using: 'table' takes a table name (`table` or `database.table`) as location; got {self.location!r}")
        if remote.is_remote(self.location):
            raise ValueError(f"predictions are written on this machine; {self.location!r} is a URL (write locally, then copy it)")
        return self


class DriftConfig(ConfigModel):
    """(ours) `steps.predict.drift`: the `scoring_data_drift` check. A column drifts when its score (PSI by
    default, or the KS statistic for numeric columns) reaches `warn` (a WARN failure) or `fail` (an ERROR
    failure). `columns`: the columns judged (default: every training feature the scoring data has, and
    `prediction`)."""

    warn: float = Field(default=0.1, gt=0)
    fail: float = Field(default=0.25, gt=0)
    metric: Literal["psi", "ks"] = "psi"
    columns: list[str] = Field(default_factory=list)

    @model_validator(mode="after")
    def _warn_before_fail(self) -> "DriftConfig":
        if self.warn > self.fail:
            raise ValueError(f"warn ({self.warn}) must not be above fail ({self.fail})")
        if self.metric == "ks" and self.fail > 1:
            raise ValueError(f"a KS statistic is at most 1; fail: {self.fail} could never be reached")
        return self


class PredictConfig(ConfigModel):
    output: PredictOutput
    model_uri: str | None = None
    result_type: str = "double"
    save_mode: str = "overwrite"
    batch_rows: int = Field(default=65536, ge=1)  # (ours) rows per record batch while streaming
    drift: DriftConfig | None = None  # (ours) the scoring_data_drift check; none without this key

    @field_validator("result_type")
    @classmethod
    def _known_result_type(cls, value: str) -> str:
        if value.lower() not in RESULT_TYPES:
            raise ValueError(f"unknown result_type {value!r}; expected one of {', '.join(RESULT_TYPES)}")
        return value.lower()

    @field_validator("save_mode")
    @classmethod
    def _known_save_mode(cls, value: str) -> str:
        if value.lower() not in SAVE_MODES:
            raise ValueError(f"unknown save_mode {value!r}; expected one of {', '.join(SAVE_MODES)}")
        return "overwrite" if value.lower() == "default" else value.lower()

