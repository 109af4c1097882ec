"""The base of every typed config model: unknown keys are errors, values are immutable."""
from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class ConfigModel(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True, populate_by_name=True)

    def slice_for_version(self) -> str:
        """A stable text of this config, for code versions."""
        return self.model_dump_json(by_alias=False, exclude_none=False)
