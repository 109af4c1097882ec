"""The only module that touches Dagster internals (`dagster._core`): the stale-status resolver, the
input data versions a materialization recorded (the retrain sensor's "what was the model trained on"), and
where Dagster's default SQLite storage keeps its databases (to seed a new instance from an empty one).

It is the resolver behind the UI's "Materialize changed and missing" and `RunRequest(stale_assets_only=True)`,
but Dagster has no public function that answers "which of these assets are stale or missing" outside a
sensor. tests/engine/test_dagster_internal.py pins the behaviour relied on here, so a Dagster upgrade that moves
or changes it fails there first. Its functions take public types (`DagsterInstance`, `Definitions`,
`AssetKey`) and return plain values, so no internal type leaks past this module.
"""
from __future__ import annotations

from collections.abc import Iterable
from pathlib import Path
from typing import NamedTuple

from dagster import AssetKey, DagsterInstance, Definitions
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus, read_input_data_version_from_tags
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._time import get_current_datetime

from recipe_assets.data.store_seed import EmptyStores, ProcessTemplate


def _resolver(instance: DagsterInstance, defs: Definitions) -> CachingStaleStatusResolver:
    asset_graph = defs.resolve_asset_graph()
    view = AssetGraphView(
        temporal_context=TemporalContext(effective_dt=get_current_datetime(), last_event_id=None),
        instance=instance,
        asset_graph=asset_graph,
    )
    return CachingStaleStatusResolver(instance=instance, asset_graph=asset_graph, loading_context=view)


def stale_statuses(instance: DagsterInstance, defs: Definitions, keys: Iterable[AssetKey]) -> dict[AssetKey, str]:
    """FRESH, STALE or MISSING per asset, as the Dagster UI shows it."""
    resolver = _resolver(instance, defs)
    return {key: resolver.get_status(key).value for key in keys}


class StaleCause(NamedTuple):
    """One of Dagster's direct reasons for STALE, in plain values: category CODE, DATA or DEPENDENCIES,
    Dagster's own wording (e.g. "has a new code version"), and the input it concerns, if any."""

    category: str
    reason: str
    dependency: AssetKey | None


def stale_causes(instance: DagsterInstance, defs: Definitions, keys: Iterable[AssetKey]) -> dict[AssetKey, list[StaleCause]]:
    """Why each asset is STALE (empty for FRESH and MISSING), as the UI's "Why stale?" lists it."""
    resolver = _resolver(instance, defs)
    return {
        key: [
            StaleCause(cause.category.value, cause.reason, cause.dependency.asset_key if cause.dependency else None)
            for cause in resolver.get_stale_causes(key)
        ]
        for key in keys
    }


FRESH = StaleStatus.FRESH.value
STALE = StaleStatus.STALE.value
MISSING = StaleStatus.MISSING.value


def consumed_data_version(instance: DagsterInstance, asset: AssetKey, upstream: AssetKey) -> str | None:
    """The data version of `upstream` that the latest materialization of `asset` read (Dagster records it in
    the materialization's tags; no public reader exists), None when `asset` was never materialized."""
    event = instance.get_latest_materialization_event(asset)
    if event is None or event.asset_materialization is None:
        return None
    version = read_input_data_version_from_tags(event.asset_materialization.tags or {}, upstream)
    return version.value if version is not None else None


# The databases of Dagster's default SQLite storage (a dagster.yaml naming no storage), relative to the instance
# folder: runs, the event log's index shard, schedules. Created and migrated when the instance is first opened
# (about 1 s, Alembic's history each time); the event log's per-run shards are made as runs start.
SQLITE_STORAGE_FILES = ("history/runs.db", "history/runs/index.db", "schedules/schedules.db")


def _make_empty_instance(folder: Path) -> None:
    """An instance folder Dagster has created and migrated and nothing has used."""
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(folder))
    instance.get_runs(limit=1)
    instance.dispose()


# seeds new recipe instances (engine/instance.py): from the schema recorded for the installed Dagster, else from an
# instance this process makes once
EMPTY_SQLITE_INSTANCE = EmptyStores(
    "dagster", ProcessTemplate("recipe-assets-dagster-instance-", SQLITE_STORAGE_FILES, _make_empty_instance)
)
