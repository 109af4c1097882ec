"""`recipe-assets run` answers a no-op from a stamp (core/up_to_date.py) instead of opening Dagster: which
recipes may, what their sources read, and where the stamp is.

Only the check runs before anything heavy is imported: the recipe root and the instance folder are found as
the full path finds them, from the arguments and the environment alone. Writing the stamp happens after a
successful run, with the recipe loaded; recipes whose no-op depends on something a stat cannot see (a
PostgreSQL instance, a tracking server, tables, remote files) get no stamp and always take the full path.
"""
from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING

from recipe_assets.core import up_to_date
from recipe_assets.core.settings import RECIPE_FILE

if TYPE_CHECKING:
    from recipe_assets.app.recipe import Recipe

LOCAL_TRACKING_SCHEMES = ("sqlite:", "file:")


def _recipe_root(recipe_root: str | None) -> Path | None:
    """The root the full path would use, or None where only the full path can say (it then explains)."""
    given = recipe_root or os.environ.get("RECIPE_ROOT")
    if given:
        return Path(given).expanduser().resolve()
    start = Path.cwd().resolve()
    return next((folder for folder in (start, *start.parents) if (folder / RECIPE_FILE).is_file()), None)


def _instance_dir(root: Path) -> Path:
    home = os.environ.get("DAGSTER_HOME")
    return Path(home).expanduser().resolve() if home else root / "metadata" / "dagster"


def stamped_noop(recipe_root: str | None, profile: str, step: str | None, environment: dict[str, str]) -> list[str] | None:
    """The lines of the last no-op of this very run when nothing it depends on changed since, else None.
    `environment`: up_to_date.watched_environment() as the command started."""
    root = _recipe_root(recipe_root)
    if root is None or not (root / RECIPE_FILE).is_file():
        return None
    key = up_to_date.recipe_key(root, profile, step, _instance_dir(root), environment)
    return up_to_date.stamped_answer(root / "metadata", key)


def remember_noop(recipe: "Recipe", profile: str, step: str | None, environment: dict[str, str], lines: list[str]) -> None:
    """After a successful run: the stamp that lets the next identical `run` answer with `lines`."""
    from recipe_assets.core.errors import RecipeError

    from recipe_assets.engine.dagster_internal import settle_event_logs

    metadata_dir = recipe.root / "metadata"
    up_to_date.forget_stamp(metadata_dir)
    settle_event_logs(recipe.instance)  # the instance files' states go into the key: as this process leaves them
    try:
        watched = _watched_sources(recipe)
    except RecipeError:  # a source this run did not read is missing (scoring data not landed yet): no stamp
        return
    if watched is None:
        return
    key = up_to_date.recipe_key(recipe.root, profile, step, recipe.instance_dir, environment)
    up_to_date.write_stamp(metadata_dir, key, watched, lines)


def _watched_sources(recipe: "Recipe") -> list[Path] | None:
    """Every file and folder the recipe's sources read, or None when a stat cannot tell that they changed."""
    from recipe_assets.data import remote
    from recipe_assets.data.sources import resolve_files
    from recipe_assets.data.tables import TABLE_INGEST
    from recipe_assets.engine.observation import source_configs

    loaded = recipe.loaded
    if loaded.config.execution.instance.postgres is not None:
        return None
    tracking = recipe.mlflow.tracking_uri
    if "://" in tracking and not tracking.startswith(LOCAL_TRACKING_SCHEMES):
        return None
    watched: list[Path] = []
    for step, config in source_configs(loaded).items():
        if config.using in TABLE_INGEST or any(remote.is_remote(location) for location in config.locations):
            return None
        files = resolve_files(loaded.root, config, f"steps.{step}")
        locations = [path if path.is_absolute() else loaded.root / path for path in (Path(l).expanduser() for l in config.locations)]
        watched += up_to_date.source_watch(files, locations)
    return watched
