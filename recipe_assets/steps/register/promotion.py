"""Whether register moves the champion alias to the new version, and why (the gate's register half).

Only a VALIDATED version can become champion: with `promote: if_better` when evaluate found it better than
the champion (or there was none, or the champion could not score the data), with `always` every time, with
`never` only by hand. A version that does not become champion gets `challenger_alias` when one is set."""
from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from recipe_assets.core.keys import VALIDATED


@dataclass(frozen=True)
class Promotion:
    promote: bool
    reason: str
    challenger: str | None = None  # the alias the version gets instead, if any
    mode: str = "if_better"

    @property
    def how(self) -> str:
        return f"register (promote: {self.mode})"


def decide(run: dict[str, Any], config: Any) -> Promotion:
    alias, mode = config.alias, config.promote
    status = run["model_validation_status"]
    comparison = run.get("champion")
    if not alias:
        return Promotion(False, "no alias is configured (steps.register.alias)", None, mode)
    if status != VALIDATED:
        return Promotion(False, f"{status}: a version its own criteria rejected never becomes {alias}", config.challenger_alias, mode)
    if mode == "never":
        return Promotion(False, "steps.register.promote is never: promote by hand (recipe-assets promote VERSION)", config.challenger_alias, mode)
    if mode == "always":
        return Promotion(True, f"steps.register.promote is always: every VALIDATED version becomes {alias}", None, mode)
    if comparison is None:  # a run evaluated before the champion gate existed
        return Promotion(True, "evaluated without a champion comparison: promoted as before", None, mode)
    if comparison["promotable"]:
        return Promotion(True, comparison["reason"], None, mode)
    return Promotion(False, comparison["reason"], config.challenger_alias, mode)
