"""Pins the behaviour of the one Dagster internal we rely on (the stale-status resolver).

If a Dagster upgrade changes it, these fail before users see stale models served as fresh.
"""
from __future__ import annotations

import pytest
from dagster import AssetKey, AssetObservation, DagsterInstance, DataVersion, Output, asset, materialize, observable_source_asset

from recipe_assets.engine.dagster_internal import FRESH, MISSING, STALE, stale_statuses
from recipe_assets.core.keys import DATA_VERSION_TAG

version = {"source": "1"}


@observable_source_asset(key="files")
def files():
    return DataVersion(version["source"])


@asset(deps=["files"], code_version="a")
def first():
    return Output(1, data_version=DataVersion("first"))


@asset(code_version="a")
def second(first):
    return first + 1


ASSETS = [files, first, second]


def statuses(instance: DagsterInstance) -> dict[str, str]:
    graph = materialize_graph()
    return {k.to_user_string(): v for k, v in stale_statuses(instance, graph, [AssetKey("first"), AssetKey("second")]).items()}


def materialize_graph():
    from dagster import Definitions

    return Definitions(assets=ASSETS)


def observe(instance: DagsterInstance, data_version: str) -> None:
    instance.report_runless_asset_event(AssetObservation(asset_key="files", tags={DATA_VERSION_TAG: data_version}))


def test_never_materialized_assets_are_missing():
    with DagsterInstance.ephemeral() as instance:
        assert statuses(instance) == {"first": MISSING, "second": MISSING}


def test_runless_observation_with_a_new_data_version_makes_the_direct_child_stale_only():
    with DagsterInstance.ephemeral() as instance:
        observe(instance, "1")
        assert materialize(ASSETS, instance=instance, selection=["first", "second"]).success
        assert statuses(instance) == {"first": FRESH, "second": FRESH}
        observe(instance, "1")
        assert statuses(instance) == {"first": FRESH, "second": FRESH}
        observe(instance, "2")
        # only the direct cause: runner.keys_to_run adds the downstream closure because of this
        assert statuses(instance) == {"first": STALE, "second": FRESH}


def test_stale_causes_name_the_changed_input_and_a_new_code_version():
    from dagster import Definitions

    from recipe_assets.engine.dagster_internal import stale_causes

    @asset(deps=["files"], code_version="b")
    def first():  # the same asset with a new code version
        return Output(1, data_version=DataVersion("first"))

    with DagsterInstance.ephemeral() as instance:
        observe(instance, "1")
        assert materialize(ASSETS, instance=instance, selection=["first", "second"]).success
        observe(instance, "2")
        causes = stale_causes(instance, materialize_graph(), [AssetKey("first"), AssetKey("second")])
        assert [(c.category, c.dependency) for c in causes[AssetKey("first")]] == [("DATA", AssetKey("files"))]
        assert causes[AssetKey("second")] == []
        changed = Definitions(assets=[files, first, second])
        assert ("CODE", "has a new code version") in [(c.category, c.reason) for c in stale_causes(instance, changed, [AssetKey("first")])[AssetKey("first")]]


def test_consumed_data_version_is_the_source_version_the_latest_materialization_read():
    from recipe_assets.engine.dagster_internal import consumed_data_version

    with DagsterInstance.ephemeral() as instance:
        assert consumed_data_version(instance, AssetKey("first"), AssetKey("files")) is None
        observe(instance, "1")
        assert materialize(ASSETS, instance=instance, selection=["first"]).success
        observe(instance, "2")  # new data observed, not yet read
        assert consumed_data_version(instance, AssetKey("first"), AssetKey("files")) == "1"
        assert materialize(ASSETS, instance=instance, selection=["first"]).success
        assert consumed_data_version(instance, AssetKey("first"), AssetKey("files")) == "2"


# --- where Dagster's default SQLite storage keeps its databases (seeding a new recipe instance) -----------

def dagster_databases(folder) -> set[str]:
    return {str(path.relative_to(folder)) for path in folder.rglob("*.db")}


def test_a_new_sqlite_instance_is_exactly_the_databases_we_seed(tmp_path) -> None:
    from recipe_assets.engine.dagster_internal import SQLITE_STORAGE_FILES

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    DagsterInstance.from_config(str(tmp_path)).get_runs(limit=1)
    assert dagster_databases(tmp_path) == set(SQLITE_STORAGE_FILES)


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded schema", "template"])
def test_a_seeded_instance_records_runs_and_migrates_nothing(tmp_path, monkeypatch, recorded: bool) -> None:
    import dagster._core.storage.sql as dagster_sql

    from recipe_assets.data import store_seed
    from recipe_assets.engine import dagster_internal
    from recipe_assets.engine.instance import instance_settings, seed_sqlite_storage

    if not recorded:  # as under a Dagster version no schema was recorded for: copies of a template made first
        monkeypatch.setattr(store_seed, "RECORDED_SCHEMAS", tmp_path / "nothing recorded")
    monkeypatch.setattr(dagster_internal.EMPTY_SQLITE_INSTANCE.template, "_folder", None)
    dagster_internal.EMPTY_SQLITE_INSTANCE.template.folder()
    stamped: list[str] = []  # Dagster stamps each database it creates with Alembic's head revision
    real_stamp = dagster_sql.stamp
    monkeypatch.setattr(dagster_sql, "stamp", lambda config, rev: (stamped.append(rev), real_stamp(config, rev)))

    def opened(home, seeded: bool) -> DagsterInstance:
        home.mkdir()
        (home / "dagster.yaml").write_text(instance_settings(None))
        if seeded:
            seed_sqlite_storage(home)
            assert dagster_databases(home) == set(dagster_internal.SQLITE_STORAGE_FILES)
        instance = DagsterInstance.from_config(str(home))
        instance.get_runs(limit=1)
        return instance

    opened(tmp_path / "unseeded", seeded=False)
    assert len(stamped) == len(dagster_internal.SQLITE_STORAGE_FILES)  # what seeding saves
    stamped.clear()
    one, two = opened(tmp_path / "one", seeded=True), opened(tmp_path / "two", seeded=True)
    assert stamped == []
    assert materialize(ASSETS, instance=one, selection=["first"]).success
    assert one.get_latest_materialization_event(AssetKey("first")) is not None
    # another instance seeded from the same template shares nothing with the first
    assert two.get_latest_materialization_event(AssetKey("first")) is None


def test_a_users_own_dagster_yaml_is_not_seeded(tmp_path) -> None:
    from recipe_assets.engine.instance import seed_sqlite_storage

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    seed_sqlite_storage(tmp_path)
    assert dagster_databases(tmp_path) == set()


def managed_home(home):
    from recipe_assets.engine.instance import instance_settings

    home.mkdir()
    (home / "dagster.yaml").write_text(instance_settings(None))
    return home


def test_our_instance_keeps_one_engine_per_database_and_the_webservers_reads_what_it_wrote(tmp_path, monkeypatch) -> None:
    """The storage the recipe's own process opens (OneEngineEventLogStorage over Dagster's SQLite event log):
    a run's events are Dagster's, readable by an instance opened the plain way (the webserver, the daemon);
    each database gets one SQLAlchemy engine however many connections a run makes; a run's new event log
    is built from the recorded schema, never stamped."""
    import dagster._core.storage.sql as dagster_sql

    from recipe_assets.engine import dagster_internal
    from recipe_assets.engine.instance import _open_sqlite_instance

    engines: list[str] = []
    real_engine = dagster_internal.create_engine
    monkeypatch.setattr(dagster_internal, "create_engine", lambda url, **kw: (engines.append(str(url)), real_engine(url, **kw))[1])
    stamped: list[str] = []
    real_stamp = dagster_sql.stamp
    monkeypatch.setattr(dagster_sql, "stamp", lambda config, rev: (stamped.append(rev), real_stamp(config, rev)))

    home = managed_home(tmp_path / "home")
    ours = _open_sqlite_instance(home)
    assert isinstance(ours.event_log_storage, dagster_internal.OneEngineEventLogStorage)
    result = materialize(ASSETS, instance=ours, selection=["first", "second"])
    assert result.success
    run_log = home / "history" / "runs" / f"{result.run_id}.db"
    assert run_log.exists() and stamped == []
    # the index and the run's own database: one engine each, over the run's dozens of connections
    assert sorted({url.rsplit("/", 1)[1] for url in engines}) == sorted(["index.db", run_log.name])
    assert len(engines) == 2, engines

    plain = DagsterInstance.from_config(str(home))  # as the webserver and the daemon open it
    assert type(plain.event_log_storage).__name__ == "SqliteEventLogStorage"
    assert plain.get_latest_materialization_event(AssetKey("second")).run_id == result.run_id
    assert len(plain.all_logs(result.run_id)) == len(ours.all_logs(result.run_id)) > 10
    # and a run the plain instance makes is read back by ours
    again = materialize(ASSETS, instance=plain, selection=["first"])
    assert ours.get_latest_materialization_event(AssetKey("first")).run_id == again.run_id


def test_the_engines_of_databases_not_used_lately_are_let_go(tmp_path, monkeypatch) -> None:
    from recipe_assets.engine import dagster_internal

    monkeypatch.setattr(dagster_internal.OneEngineEventLogStorage, "ENGINES_KEPT", 2)
    storage = dagster_internal.OneEngineEventLogStorage(str(tmp_path / "runs"))
    for run in ("a", "b", "a", "c"):
        with storage.run_connection(run):
            pass
    assert list(storage._engines) == ["a", "c"]  # b, the least recently used, was disposed
    for run in ("a", "b", "c"):  # each database was built, and is still usable after its engine went
        with storage.run_connection(run) as connection:
            assert connection.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 0
    storage.dispose()
    assert not storage._engines


def test_a_users_own_dagster_yaml_is_opened_with_dagsters_classes(tmp_path) -> None:
    from recipe_assets.engine.instance import _open_sqlite_instance

    (tmp_path / "dagster.yaml").write_text("telemetry:\n  enabled: false\n")
    assert type(_open_sqlite_instance(tmp_path).event_log_storage).__name__ == "SqliteEventLogStorage"


def test_a_runs_connections_are_not_the_last_so_closing_one_does_not_checkpoint_and_no_wal_outlives_the_storage(tmp_path) -> None:
    """Each database has a connection that stays open beside the engine: closing a run's connection leaves the
    WAL in place (no checkpoint, no -wal/-shm deleted and made again); closing the storage, or the process
    exiting, checkpoints it into the database, which Dagster's own classes then read whole."""
    from recipe_assets.engine import dagster_internal

    runs = tmp_path / "runs"
    storage = dagster_internal.OneEngineEventLogStorage(str(runs))
    for shard in ("a", "b"):
        with storage.run_connection(shard) as connection:
            connection.exec_driver_sql("INSERT INTO event_logs (run_id, event) VALUES (?, '{}')", (shard,))
    assert (runs / "a.db-wal").exists() and (runs / "b.db-wal").exists()
    storage.dispose()
    assert not (runs / "a.db-wal").exists()

    storage = dagster_internal.OneEngineEventLogStorage(str(runs))
    with storage.run_connection("a") as connection:
        connection.exec_driver_sql("INSERT INTO event_logs (run_id, event) VALUES ('a', '{}')")
    dagster_internal._close_all_keepers()  # what the process runs at exit
    assert not (runs / "a.db-wal").exists()
    plain = dagster_internal.SqliteEventLogStorage(str(runs))
    with plain.run_connection("a") as connection:
        assert connection.exec_driver_sql("SELECT count(*) FROM event_logs").scalar() == 2


@asset
def talkative():
    import sys

    print("to stdout from a step")
    print("to stderr from a step", file=sys.stderr)
    return 1


def test_a_runs_stdout_and_stderr_are_captured_for_the_ui_and_echoed_by_a_thread_not_tail_processes(tmp_path, monkeypatch) -> None:
    """Our instance's compute logs: the files the UI shows (and the completion marker) as Dagster writes them,
    the terminal still sees every line, and no `tail`/watcher process is started."""
    import subprocess
    import sys

    from recipe_assets.engine import dagster_internal
    from recipe_assets.engine.instance import _open_sqlite_instance

    started: list = []
    real_popen = subprocess.Popen
    monkeypatch.setattr(subprocess, "Popen", lambda *a, **kw: (started.append(a[0]), real_popen(*a, **kw))[1])
    terminal = {name: open(tmp_path / f"terminal.{name}", "w") for name in ("out", "err")}  # streams with a file descriptor
    monkeypatch.setattr(sys, "stdout", terminal["out"])
    monkeypatch.setattr(sys, "stderr", terminal["err"])

    home = managed_home(tmp_path / "home")
    ours = _open_sqlite_instance(home)
    assert isinstance(ours.compute_log_manager, dagster_internal.ThreadMirroredComputeLogManager)
    result = materialize([talkative], instance=ours)
    for stream in terminal.values():
        stream.close()
    assert result.success and started == []
    captured = {path.suffix: path.read_text() for path in (home / "storage" / result.run_id).rglob("*") if path.is_file()}
    assert "to stdout from a step" in captured[".out"] and "to stderr from a step" in captured[".err"] and ".complete" in captured
    assert "to stdout from a step" in (tmp_path / "terminal.out").read_text()
    assert "to stderr from a step" in (tmp_path / "terminal.err").read_text()
    plain = DagsterInstance.from_config(str(home))  # the webserver reads the same logs
    assert type(plain.compute_log_manager).__name__ == "LocalComputeLogManager"
