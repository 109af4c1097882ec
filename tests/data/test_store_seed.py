"""A new embedded store starts empty and migrated: it must be the store MLflow would have made (its schema, a
default experiment whose artifacts live beside this store), built from the schema recorded for the installed
MLflow and Dagster (migrating nothing) or else migrated once per process, and never replace a store that exists."""
from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import mlflow.store.db.utils as mlflow_db_utils
import pytest
from mlflow.tracking import MlflowClient

from recipe_assets.data import store_seed
from recipe_assets.data.mlflow_tracking import MlflowTracking
from recipe_assets.engine.dagster_internal import EMPTY_SQLITE_INSTANCE

EVERY_LIBRARY = pytest.mark.parametrize("stores", [store_seed.EMPTY_MLFLOW_STORE, EMPTY_SQLITE_INSTANCE], ids=lambda s: s.library)
WHEN = re.compile(r"'\d{4}-\d\d-\d\d \d\d:\d\d:\d\d(\.\d+)?'")  # Dagster's index migrations record when they ran
TABLE_CONSTRAINT = ("CONSTRAINT", "PRIMARY KEY", "UNIQUE", "FOREIGN KEY", "CHECK")


def comparable(script: str) -> list[str]:
    """A schema script as two migrations of one version agree on it: when Dagster's index migrations ran
    aside, and a table's constraints as a set (MLflow's migrations rebuild tables with them in any order);
    columns keep their order, which the dump's positional INSERTs rely on."""
    statements: list[str] = []
    lines: list[str] = []
    for line in WHEN.sub("'<when>'", script).splitlines():
        lines.append(line.strip().rstrip(","))
        if line.endswith(";"):  # the statement's last line
            constraints = sorted(part for part in lines if part.startswith(TABLE_CONSTRAINT))
            statements.append("\n".join([part for part in lines if not part.startswith(TABLE_CONSTRAINT)] + constraints))
            lines = []
    return statements


def tables_and_versions(db: Path) -> tuple[set[str], list[tuple]]:
    with sqlite3.connect(db) as connection:
        tables = {name for (name,) in connection.execute("SELECT name FROM sqlite_master WHERE type = 'table'")}
        return tables, connection.execute("SELECT version_num FROM alembic_version").fetchall()


def tracking_for(root: Path) -> MlflowTracking:
    return MlflowTracking(tracking_uri=f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlflow.db'}", experiment_name="seeded")


def without_recorded_schemas(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """As with a library version no schema was recorded for: new stores are copies of a migrated template."""
    monkeypatch.setattr(store_seed, "RECORDED_SCHEMAS", tmp_path / "nothing recorded")
    monkeypatch.setattr(store_seed.EMPTY_MLFLOW_STORE.template, "_folder", None)
    monkeypatch.setattr(EMPTY_SQLITE_INSTANCE.template, "_folder", None)


@EVERY_LIBRARY
def test_the_recorded_schema_is_what_the_installed_library_migrates(stores, monkeypatch: pytest.MonkeyPatch) -> None:
    recorded = stores.recorded_folder()
    assert recorded is not None, f"no schema recorded for the installed {stores.library}: run tests/data/record_empty_stores.py"
    assert [p.name for p in store_seed.RECORDED_SCHEMAS.glob(f"{stores.library}-*")] == [recorded.name], "stale versions recorded"
    monkeypatch.setattr(stores.template, "_folder", None)  # migrated now, by the library itself
    migrated = stores.template.folder()
    for name in stores.template.files:
        script = (recorded / f"{name}.sql").read_text()
        assert comparable(script) == comparable(store_seed.schema_script(migrated / name)), name


@EVERY_LIBRARY
def test_a_database_built_from_the_recorded_schema_has_that_schema_and_mode(stores, tmp_path: Path) -> None:
    for name in stores.template.files:
        script = (stores.recorded_folder() / f"{name}.sql").read_text()
        built = tmp_path / name.replace("/", "_")
        stores.seed(name, built)
        assert store_seed.schema_script(built) == script
        assert not built.with_name(built.name + "-wal").exists()  # whole on its own: it is published by a link
    with sqlite3.connect(built) as connection:
        expected_mode = "wal" if stores.library == "dagster" else "delete"  # as each library leaves its stores
        assert connection.execute("PRAGMA journal_mode").fetchone()[0] == expected_mode


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded schema", "template"])
def test_a_seeded_store_is_the_store_mlflow_makes_with_its_own_default_experiment(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    migrated_by_mlflow = tmp_path / "by_mlflow.db"
    MlflowClient(tracking_uri=f"sqlite:///{migrated_by_mlflow}").search_experiments()
    if not recorded:
        without_recorded_schemas(monkeypatch, tmp_path)
    for folder in ("first", "second"):  # MLflow puts a default experiment's artifacts under the working folder
        (tmp_path / folder).mkdir()
        monkeypatch.chdir(tmp_path / folder)
        client = tracking_for(tmp_path / folder).client()

    seeded = tmp_path / "second" / "metadata" / "mlflow" / "mlflow.db"
    assert tables_and_versions(seeded) == tables_and_versions(migrated_by_mlflow)
    default = client.get_experiment("0")
    assert default.name == "Default"
    # made by MLflow on this store when it opened it, not copied from the store the template was made beside
    assert Path(default.artifact_location.removeprefix("file://")).is_relative_to(tmp_path / "second")
    with tracking_for(tmp_path / "second").start_run("r", {}) as run:
        client.log_metric(run.info.run_id, "rmse", 1.5)
    assert client.get_run(run.info.run_id).data.metrics == {"rmse": 1.5}
    assert client.get_experiment(run.info.experiment_id).name == "seeded"


@pytest.mark.parametrize("recorded", [True, False], ids=["recorded schema", "template"])
def test_new_stores_migrate_nothing_with_a_recorded_schema_and_once_a_process_without(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, recorded: bool
) -> None:
    migrations: list[str] = []
    real = mlflow_db_utils._initialize_tables
    monkeypatch.setattr(mlflow_db_utils, "_initialize_tables", lambda engine: (migrations.append(str(engine.url)), real(engine)))
    if not recorded:
        without_recorded_schemas(monkeypatch, tmp_path)
    for name in ("a", "b", "c"):
        tracking_for(tmp_path / name).client().search_experiments()
    if recorded:
        assert migrations == []
    else:
        assert len(migrations) == 1, migrations
        assert "recipe-assets-mlflow-store-" in migrations[0]


def test_an_existing_store_is_never_replaced(tmp_path: Path) -> None:
    tracking = tracking_for(tmp_path / "recipe")
    with tracking.start_run("kept", {}) as run:
        pass
    store_seed.seed_new_sqlite_store(tmp_path / "recipe" / "metadata" / "mlflow" / "mlflow.db")
    assert tracking.client().get_run(run.info.run_id).info.run_name == "kept"


def test_an_in_memory_store_leaves_no_file(tmp_path: Path) -> None:
    store_seed.seed_new_sqlite_store(Path(":memory:"))
    assert not (tmp_path / ":memory:").exists()


def test_a_seeded_store_is_readable_as_a_store_mlflow_made_would_be(tmp_path: Path) -> None:
    """The copy starts as a private temp file (0600); a service of the same team reading the store, or a user
    sharing the recipe folder, must find the mode the umask gives any new file, as MLflow's own store has."""
    tracking_for(tmp_path / "recipe").client()
    seeded = tmp_path / "recipe" / "metadata" / "mlflow" / "mlflow.db"
    plain = tmp_path / "plain"
    plain.write_text("")
    assert seeded.stat().st_mode & 0o777 == plain.stat().st_mode & 0o777
