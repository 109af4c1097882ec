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

import atexit
import contextlib
import os
import sqlite3
import sys
import threading
import weakref
from collections import OrderedDict
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import NamedTuple

from dagster import AssetKey, DagsterInstance, Definitions
from dagster._core.asset_graph_view.asset_graph_view import AssetGraphView
from dagster._core.definitions.data_version import CachingStaleStatusResolver, StaleStatus, read_input_data_version_from_tags
from dagster._core.definitions.temporal_context import TemporalContext
from dagster._core.execution.compute_logs import redirect_to_file
from dagster._core.instance.ref import InstanceRef
from dagster._core.storage.compute_log_manager import CapturedLogContext, ComputeIOType
from dagster._core.storage.event_log.sqlite.sqlite_event_log import INDEX_SHARD_NAME, SqliteEventLogStorage
from dagster._core.storage.local_compute_log_manager import IO_TYPE_EXTENSION, LocalComputeLogManager
from dagster._core.storage.sqlite import SQLITE_BUSY_TIMEOUT_SECONDS
from dagster._core.storage.sqlite_storage import DagsterSqliteStorage
from dagster._serdes import ConfigurableClassData
from dagster._utils import ensure_file, touch_file
from dagster._time import get_current_datetime
from sqlalchemy import Connection, Engine, create_engine
from sqlalchemy.pool import NullPool

from recipe_assets.core.errors import RecipeDataError
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
# the event log of one run (Dagster's `<run id>.db` shards), as a run's first event creates it
RUN_EVENT_LOG = "history/runs/run.db"
RUN_EVENT_LOG_SHARD = "run"


def _make_empty_instance(folder: Path) -> None:
    """An instance folder Dagster has created and migrated and nothing has used, and one run's empty event log."""
    (folder / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    instance = DagsterInstance.from_config(str(folder))
    instance.get_runs(limit=1)
    with instance.event_log_storage.run_connection(RUN_EVENT_LOG_SHARD):  # type: ignore[attr-defined]  # SQLite's
        pass
    instance.dispose()


# seeds new recipe instances (engine/instance.py) and runs' event logs (OneEngineEventLogStorage): from the schema
# recorded for the installed Dagster, else from an instance this process makes once
EMPTY_SQLITE_INSTANCE = EmptyStores(
    "dagster", ProcessTemplate("recipe-assets-dagster-instance-", (*SQLITE_STORAGE_FILES, RUN_EVENT_LOG), _make_empty_instance)
)


class OneEngineEventLogStorage(SqliteEventLogStorage):
    """Dagster's SQLite event log, less its per-connection set-up (opened by `open_sqlite_instance`). Dagster builds a SQLAlchemy engine for each of
    the ~600 connections of a recipe run, and a run's new database by creating its tables and stamping Alembic's
    revision (which loads every migration script): together a fifth of a recipe run's CPU in a warm process. Here
    each database keeps its engine (still NullPool: a connection per use, nothing pooled to share across a fork),
    for the last `ENGINES_KEPT` databases, and a new run's database is built from the recorded schema. The
    connections, transactions, lock and everything stored are Dagster's own.

    Dagster keeps these databases in WAL mode, where closing the last connection to a database checkpoints its
    WAL into it (fsync) and deletes the -wal and -shm files, which the next connection makes again: with a
    connection per use, that was every one of a run's ~300 connections. So each kept engine has one more
    connection beside it that does nothing but stay open (`_keepers`), and a run's connections are never the last;
    SQLite still checkpoints on its own every 1000 pages, and once more when the keeper closes: with its engine,
    at `dispose`, or when the process exits, so no -wal file outlives the process that wrote it."""

    ENGINES_KEPT = 16  # a daemon or webserver reads the event logs of many runs; the engines of old ones go

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        self._engines: OrderedDict[str, Engine] = OrderedDict()
        self._keepers: dict[str, sqlite3.Connection | None] = {}
        self._keeper_pid = os.getpid()
        _OPEN_STORAGES.add(self)  # their keepers close at exit
        super().__init__(base_dir, inst_data)

    @contextmanager
    def _connect(self, shard: str) -> Iterator[Connection]:
        with self._db_lock:
            engine = self._engine(shard)
            if shard not in self._initialized_dbs:  # new, or wiped: a keeper of the old file goes
                self._close_keeper(shard)
                if not self._seeded_run_log(shard):
                    self._initdb(engine)
                self._initialized_dbs.add(shard)
            if shard not in self._keepers:
                self._keepers[shard] = self._keeper(shard)
            with engine.connect() as connection, connection.begin():
                yield connection

    def _engine(self, shard: str) -> Engine:
        engine = self._engines.pop(shard, None)
        if engine is None:
            engine = create_engine(self.conn_string_for_shard(shard), poolclass=NullPool, connect_args={"timeout": SQLITE_BUSY_TIMEOUT_SECONDS})
        self._engines[shard] = engine  # the most recently used last
        while len(self._engines) > self.ENGINES_KEPT:
            gone, old = self._engines.popitem(last=False)
            old.dispose()
            self._close_keeper(gone)
        return engine

    def _keeper(self, shard: str) -> sqlite3.Connection | None:
        """A connection to the shard's database that stays open; one read gives it the shared lock a WAL-mode
        connection holds while open, which is what tells a closing connection it is not the last."""
        try:
            keeper = sqlite3.connect(self.path_for_shard(shard), timeout=SQLITE_BUSY_TIMEOUT_SECONDS, check_same_thread=False)
            keeper.execute("SELECT 1 FROM sqlite_master LIMIT 1").fetchall()
        except sqlite3.Error:  # only a cost: the run's connections checkpoint on close, as Dagster's own do
            return None
        return keeper

    def _close_keeper(self, shard: str) -> None:
        keeper = self._keepers.pop(shard, None)
        if keeper is not None and self._keeper_pid == os.getpid():  # never a connection a forked child inherited
            keeper.close()

    def close_keepers(self) -> None:
        while self._keepers:
            self._close_keeper(next(iter(self._keepers)))

    def _seeded_run_log(self, shard: str) -> bool:
        """True if `shard` is a run's event log this call has just built from the recorded schema; a database
        that exists, or one another process made first, gets Dagster's own check instead."""
        target = Path(self.path_for_shard(shard))
        if shard == INDEX_SHARD_NAME or target.exists() or EMPTY_SQLITE_INSTANCE.recorded_folder() is None:
            return False
        with contextlib.suppress(OSError, sqlite3.Error, RecipeDataError):
            return EMPTY_SQLITE_INSTANCE.seed(RUN_EVENT_LOG, target)
        return False

    def dispose(self) -> None:
        super().dispose()
        while self._engines:
            self._engines.popitem()[1].dispose()
        self.close_keepers()


_OPEN_STORAGES: weakref.WeakSet[OneEngineEventLogStorage] = weakref.WeakSet()


def settle_event_logs(instance: DagsterInstance) -> None:
    """Checkpoint and close the kept connections of `instance`'s event logs now, not at exit: the instance's
    files are then as this process leaves them (the no-op stamp records their states). The next use opens
    them again."""
    storage = instance.event_log_storage
    if isinstance(storage, OneEngineEventLogStorage):
        storage.close_keepers()


@atexit.register
def _close_all_keepers() -> None:
    for storage in list(_OPEN_STORAGES):
        storage.close_keepers()


class OneEngineSqliteStorage(DagsterSqliteStorage):
    """Dagster's default SQLite storage (runs, schedules, event log under one folder) with the event log above."""

    def __init__(self, base_dir: str, inst_data: ConfigurableClassData | None = None):
        super().__init__(base_dir, inst_data)
        self._event_log_storage = OneEngineEventLogStorage(str(Path(base_dir) / "history" / "runs"))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData, config_value) -> "OneEngineSqliteStorage":  # type: ignore[override]
        return cls.from_local(inst_data=inst_data, **config_value)


class ThreadMirroredComputeLogManager(LocalComputeLogManager):
    """Dagster's local compute logs (a run's stdout and stderr captured to files under `storage/`, shown in the
    UI), echoed to the terminal by a thread of this process instead of Dagster's `tail -F` subprocess and the
    Python process that watches it, one pair per stream (four processes, two of them interpreters: ~25 MB and
    two interpreter start-ups a run). Same files, same completion marker; the echo also drains what was written
    last, which `tail`, stopped on a 1 s poll, could drop. A stream without a file descriptor (a test runner's
    capture) keeps Dagster's own way."""

    @contextmanager
    def capture_logs(self, log_key: Sequence[str]) -> Iterator[CapturedLogContext]:
        if _fileno(sys.stdout) is None or _fileno(sys.stderr) is None:
            with super().capture_logs(log_key) as context:
                yield context
            return
        outpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDOUT])
        errpath = self.get_captured_local_path(log_key, IO_TYPE_EXTENSION[ComputeIOType.STDERR])
        with _mirrored(sys.stdout, outpath), _mirrored(sys.stderr, errpath):
            yield CapturedLogContext(log_key)
        touch_file(self.complete_artifact_path(log_key))

    @classmethod
    def from_config_value(cls, inst_data: ConfigurableClassData | None, config_value) -> "ThreadMirroredComputeLogManager":  # type: ignore[override]
        return cls(inst_data=inst_data, **config_value)


def _fileno(stream) -> int | None:
    try:
        return stream.fileno()
    except (AttributeError, OSError, ValueError):
        return None


MIRROR_POLL_SECONDS = 0.1


@contextmanager
def _mirrored(stream, path: str) -> Iterator[None]:
    """`stream` written to `path` (Dagster's redirect of its file descriptor) while a thread copies what lands
    in `path` to where the stream went before."""
    ensure_file(path)
    stream.flush()
    echo_fd = os.dup(stream.fileno())
    done = threading.Event()

    def echo() -> None:
        with open(path, "rb") as captured:
            while True:
                finished = done.is_set()  # read once more after the capture ends: nothing written last is lost
                while chunk := captured.read(65536):
                    with contextlib.suppress(OSError):
                        os.write(echo_fd, chunk)
                if finished:
                    return
                done.wait(MIRROR_POLL_SECONDS)

    thread = threading.Thread(target=echo, daemon=True, name="compute-log-echo")
    thread.start()
    try:
        with redirect_to_file(stream, path):
            yield
    finally:
        done.set()
        thread.join()
        os.close(echo_fd)


def open_sqlite_instance(home: Path) -> DagsterInstance:
    """The instance `home/dagster.yaml` describes, whose storage is Dagster's default SQLite in `home`, opened
    with the storage above. Only this process's instance (and the step processes it starts, which get its
    reference) uses it: dagster.yaml still names no storage, so the webserver, the daemon and the `dagster` CLI
    open the same files with Dagster's own classes."""
    storage = {"custom": {"module": __name__, "class": OneEngineSqliteStorage.__name__, "config": {"base_dir": str(home)}}}
    compute_logs = {"module": __name__, "class": ThreadMirroredComputeLogManager.__name__, "config": {"base_dir": str(home / "storage")}}
    return DagsterInstance.from_ref(InstanceRef.from_dir(str(home), overrides={"storage": storage, "compute_logs": compute_logs}))
