"""`steps.register`."""
from __future__ import annotations

from typing import Literal

from pydantic import model_validator

from recipe_assets.core.configmodel import ConfigModel


class RegisterConfig(ConfigModel):
    allow_non_validated_model: bool = False
    alias: str | None = "champion"  # (ours) the champion: scoring follows it; moved as `promote` says
    # (ours) if_better: to a VALIDATED version that beats the champion (steps.evaluate); always: to every
    # VALIDATED version; never: only by hand (`recipe-assets promote`). A REJECTED version never gets it.
    promote: Literal["if_better", "always", "never"] = "if_better"
    challenger_alias: str | None = None  # (ours) given to a registered version that did not become champion

    @model_validator(mode="after")
    def _two_different_aliases(self) -> "RegisterConfig":
        if self.challenger_alias is not None and self.challenger_alias == self.alias:
            raise ValueError(f"challenger_alias and alias are both {self.alias!r}; the challenger alias must name another alias")
        return self
