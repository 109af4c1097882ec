"""register's promotion rule: only a VALIDATED version that passes the gate gets the champion alias."""
from __future__ import annotations

import pytest

from recipe_assets.steps.register.config import RegisterConfig
from recipe_assets.steps.register.promotion import decide


def evaluated(status: str = "VALIDATED", promotable: bool | None = True, reason: str = "better: ...") -> dict:
    run = {"model_validation_status": status}
    if promotable is not None:
        run["champion"] = {"promotable": promotable, "reason": reason}
    return run


@pytest.mark.parametrize("mode", ["if_better", "always", "never"])
def test_a_rejected_version_never_becomes_champion_whatever_promote_says(mode):
    decision = decide(evaluated("REJECTED"), RegisterConfig(allow_non_validated_model=True, promote=mode, challenger_alias="challenger"))
    assert not decision.promote and decision.challenger == "challenger"
    assert "never becomes champion" in decision.reason


def test_if_better_follows_evaluates_verdict_and_says_why():
    kept = decide(evaluated(promotable=False, reason="not better: test rmse 2.4 against 2.3"), RegisterConfig())
    assert (kept.promote, kept.reason, kept.challenger) == (False, "not better: test rmse 2.4 against 2.3", None)
    assert decide(evaluated(promotable=True), RegisterConfig()).promote


def test_always_and_never_override_the_comparison_for_validated_versions():
    assert decide(evaluated(promotable=False), RegisterConfig(promote="always")).promote
    never = decide(evaluated(promotable=True), RegisterConfig(promote="never", challenger_alias="candidate"))
    assert not never.promote and never.challenger == "candidate" and "promote by hand" in never.reason


def test_no_alias_no_promotion_and_a_run_from_before_the_gate_is_promoted_as_before():
    assert not decide(evaluated(), RegisterConfig(alias=None)).promote
    assert decide(evaluated(promotable=None), RegisterConfig()).promote


def test_the_challenger_alias_must_differ_from_the_champion_alias():
    with pytest.raises(ValueError, match="challenger alias must name another alias"):
        RegisterConfig(alias="champion", challenger_alias="champion")
