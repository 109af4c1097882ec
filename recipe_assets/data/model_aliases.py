"""Who holds a registry alias, moving it, and rolling it back, recorded on the model versions.

MLflow keeps only an alias's current holder, so the history a rollback follows is ours: every promotion tags
the new holder with the version it replaced (PREVIOUS_TAG), and PROMOTED_* tags say who moved the alias,
when, how, and from which version. A rollback moves the alias to the current holder's PREVIOUS_TAG and leaves
that version's own PREVIOUS_TAG alone, so rolling back twice goes back two promotions.
"""
from __future__ import annotations

import getpass
import os
from datetime import datetime, timezone
from typing import Any

from recipe_assets.core.errors import RecipeError

PREVIOUS_TAG = "recipe_assets.previous_champion"
PROMOTED_BY_TAG = "recipe_assets.promoted_by"
PROMOTED_AT_TAG = "recipe_assets.promoted_at"
PROMOTED_FROM_TAG = "recipe_assets.promoted_from"
PROMOTION_TAG = "recipe_assets.promotion"  # register (if_better / always), promote, rollback


def who() -> str:
    """The person (or service account) moving the alias, as the operating system knows them."""
    try:
        return getpass.getuser()
    except Exception:  # no user name in a container without /etc/passwd entry
        return os.environ.get("USER") or "unknown"


def holder_version(client: Any, model_name: str, alias: str) -> Any:
    """The ModelVersion holding `alias`, or None when none does (or the model is not registered yet)."""
    from mlflow.exceptions import MlflowException

    try:
        return client.get_model_version_by_alias(model_name, alias)
    except MlflowException as missing:
        if missing.error_code in ("RESOURCE_DOES_NOT_EXIST", "INVALID_PARAMETER_VALUE", "NOT_FOUND"):
            return None
        raise


def holder(client: Any, model_name: str, alias: str) -> str | None:
    """The version number holding `alias`, or None."""
    found = holder_version(client, model_name, alias)
    return None if found is None else str(found.version)


def promotion_tags(previous: str | None, how: str, rollback: bool = False) -> dict[str, str]:
    """The record a promotion leaves on the version that gets the alias."""
    tags = {
        PROMOTED_BY_TAG: who(),
        PROMOTED_AT_TAG: datetime.now(timezone.utc).isoformat(timespec="seconds"),
        PROMOTED_FROM_TAG: previous or "",
        PROMOTION_TAG: how,
    }
    if not rollback and previous is not None:
        tags[PREVIOUS_TAG] = previous
    return tags


def move_alias(client: Any, model_name: str, alias: str, version: str, how: str, rollback: bool = False) -> str | None:
    """Give `alias` to `version`, recording who, when, how and from which version; returns the previous holder.
    The version tags go first: an alias is never seen on a version without its record."""
    version = str(version)
    previous = holder(client, model_name, alias)
    if previous == version:
        return previous
    for key, value in promotion_tags(previous, how, rollback).items():
        client.set_model_version_tag(model_name, version, key, value)
    client.set_registered_model_alias(model_name, alias, version)
    return previous


def promote(client: Any, model_name: str, alias: str, version: str, force: bool = False) -> str | None:
    """Promote a registered version by hand; a REJECTED one only with `force`."""
    from mlflow.exceptions import MlflowException

    try:
        found = client.get_model_version(model_name, str(version))
    except MlflowException as missing:
        raise RecipeError(f"{model_name} has no version {version!r} in the registry ({' '.join(str(missing).split())[:200]})") from missing
    status = (found.tags or {}).get("model_validation_status")
    if status == "REJECTED" and not force:
        raise RecipeError(
            f"{model_name} version {version} was REJECTED by its validation criteria; promote it anyway with --force "
            "(Recipe.promote(version, force=True))"
        )
    return move_alias(client, model_name, alias, str(version), "promote")


def rollback(client: Any, model_name: str, alias: str) -> tuple[str, str]:
    """Move `alias` back to the version that held it before the current holder: (from, to)."""
    current = holder(client, model_name, alias)
    if current is None:
        raise RecipeError(f"no version of {model_name} holds the alias {alias!r}: nothing to roll back")
    tags = client.get_model_version(model_name, current).tags or {}
    previous = tags.get(PREVIOUS_TAG)
    if not previous:
        raise RecipeError(
            f"{model_name} version {current} ({alias}) records no earlier {alias}: it was the first, or was promoted "
            f"before recipe-assets recorded promotions; promote a version by hand instead (recipe-assets promote VERSION)"
        )
    move_alias(client, model_name, alias, previous, "rollback", rollback=True)
    return current, previous
