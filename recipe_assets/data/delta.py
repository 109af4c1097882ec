"""Delta tables: which commit files a read of a version (or a timestamp) covers, for fingerprints."""
from __future__ import annotations

from pathlib import Path

from recipe_assets.core.errors import DataNotFound, RecipeDataError


def delta_commits(table: Path, version: int | None, key_path: str, timestamp: str | None = None) -> list[Path]:
    """A Delta table's commit files up to the version read: they name every (immutable) data file, so
    they fingerprint the data, and a new version leaves a recipe pinned to an older one (by `version`
    or `timestamp`) fresh."""
    log = table / "_delta_log"
    if not log.is_dir():
        raise DataNotFound(f"{key_path}.location: {table} is not a Delta table (no _delta_log folder)")
    if timestamp is not None:
        version = delta_version_at(table, timestamp, key_path)
    commits = sorted(p for p in log.glob("*.json") if p.stem.isdigit())
    return [p for p in commits if version is None or int(p.stem) <= version]


def delta_version_at(table: Path, timestamp: str, key_path: str) -> int:
    """The version `timestamp` reads, as Delta resolves it when the data is read."""
    from deltalake import DeltaTable

    try:
        pinned = DeltaTable(str(table))
        pinned.load_as_version(timestamp)
    except Exception as exc:  # deltalake raises several kinds for a time before the table or a bad format
        raise RecipeDataError(f"{key_path}.timestamp: {timestamp!r} selects no version of {table}: {exc}") from exc
    return pinned.version()
