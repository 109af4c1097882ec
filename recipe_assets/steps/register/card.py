"""register's card: where to find the version, and why a model was not registered."""
from __future__ import annotations

from typing import Any

from dagster import MetadataValue

from recipe_assets.core.commands import mlflow_ui_hint


def registry_entry(tracking_uri: str, name: str, version: str) -> tuple[str, Any]:
    """The card's way to the version in the MLflow UI: a link where a tracking server is known; for a local
    store, where nothing listens, the command that starts the UI on it."""
    if tracking_uri.startswith(("http://", "https://")):
        return "registry link", MetadataValue.url(f"{tracking_uri.rstrip('/')}/#/models/{name}/versions/{version}")
    return "browse the registry", MetadataValue.text(f"{mlflow_ui_hint(tracking_uri)}   (then Models > {name} > Version {version})")


def rejection_message(evaluation: dict[str, Any]) -> str:
    failed = [f"{o['metric']}={o['value']:.6g} (threshold {o['threshold']})" for o in evaluation["validation"] if not o["passed"]]
    return (
        f"model REJECTED by steps.evaluate.validation_criteria ({'; '.join(failed)}); not registered. "
        "Set steps.register.allow_non_validated_model: true to register it anyway."
    )



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
