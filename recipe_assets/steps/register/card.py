"""register's card: where to find the version, and why a model was not registered."""
from __future__ import annotations

import math
from typing import Any

from dagster import MetadataValue

from recipe_assets.core.commands import mlflow_ui_hint

NAMED_SEGMENTS = 5  # failed segments a rejection names, worst first


def registry_entry(tracking_uri: str, name: str, version: str) -> tuple[str, Any]:
    """The card's way to the version in the MLflow UI: a link where a tracking server is known; for a local
    store, where nothing listens, the command that starts the UI on it."""
    if tracking_uri.startswith(("http://", "https://")):
        return "registry link", MetadataValue.url(f"{tracking_uri.rstrip('/')}/#/models/{name}/versions/{version}")
    return "browse the registry", MetadataValue.text(f"{mlflow_ui_hint(tracking_uri)}   (then Models > {name} > Version {version})")


def rejection_message(evaluation: dict[str, Any]) -> str:
    """Why register refuses the model: each failed criterion by its config key, with what it found and what
    the key asks for (a test-set threshold, a segment criterion, or a change against the champion)."""
    failed = [
        *_failed_thresholds(evaluation.get("validation", [])),
        *_failed_segments(evaluation.get("segment_criteria", [])),
        *_failed_changes(evaluation.get("champion") or {}),
    ]
    causes = "; ".join(failed) or "its model_validation_status (no failed criterion was recorded)"
    return (
        f"model REJECTED by {causes}; not registered. "
        "Set steps.register.allow_non_validated_model: true to register it anyway."
    )


def _must_be(outcome: dict[str, Any]) -> str:
    return f"must be {'at least' if outcome['greater_is_better'] else 'at most'} {outcome['threshold']}"


def _found(value: float) -> str:
    return "not available" if math.isnan(value) else f"{value:.6g}"


def _failed_thresholds(outcomes: list[dict[str, Any]]) -> list[str]:
    # a run recorded before outcomes named their key has only validation criteria here
    return [
        f"{o.get('criterion', 'steps.evaluate.validation_criteria')} (test {o['metric']} {_found(o['value'])}, {_must_be(o)})"
        for o in outcomes if not o["passed"]
    ]


def _failed_segments(outcomes: list[dict[str, Any]]) -> list[str]:
    """One line per segment criterion: every segment that missed it, worst first."""
    by_criterion: dict[str, list[dict[str, Any]]] = {}
    for outcome in outcomes:
        if not outcome["passed"]:
            by_criterion.setdefault(outcome["criterion"], []).append(outcome)
    lines = []
    for key, missed in by_criterion.items():
        first = missed[0]
        worst_first = sorted(missed, key=lambda o: o["value"], reverse=not first["greater_is_better"])
        segments = ", ".join(f"{o['column']}={o['segment']} {_found(o['value'])} ({o['rows']} rows)" for o in worst_first[:NAMED_SEGMENTS])
        more = f" and {len(missed) - NAMED_SEGMENTS} more (the evaluate card's Segments tab lists them)" if len(missed) > NAMED_SEGMENTS else ""
        lines.append(f"{key} (test {first['metric']} {_must_be(first)} in every segment; missed by {segments}{more})")
    return lines


def _failed_changes(comparison: dict[str, Any]) -> list[str]:
    champion = f"the champion, version {comparison.get('version')}"
    return [
        f"{o.get('criterion', 'steps.evaluate.validation_criteria')} (against {champion}: {o['reason']})"
        for o in comparison.get("criteria", []) if not o["passed"]
    ]


def alias_line(alias: str | None, decision: Any, previous: str | None, version: Any) -> str:
    """Whether the champion alias moved to this version, and why (the register card's answer)."""
    if not alias:
        return f"no alias: {decision.reason}"
    if decision.promote:
        was = f"from version {previous}" if previous and previous != str(version) else "its first holder"
        return f"yes: {alias!r} moved to version {version} ({was}).\nWhy: {decision.reason}"
    kept = f"stays on version {previous}" if previous else "is held by no version"
    challenger = f"; this version is {decision.challenger!r}" if decision.challenger else ""
    return f"no: {alias!r} {kept}{challenger}.\nWhy: {decision.reason}"


LAYOUT = (("Registered Model", (r".",)),)
