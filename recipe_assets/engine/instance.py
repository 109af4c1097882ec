"""One recipe, one Dagster instance: the rule every way in follows.

A recipe's outputs on disk and the versions Dagster records for them must live together. The recipe's
instance is `$DAGSTER_HOME` when it is set, else `<recipe root>/metadata/dagster`; either way its
`dagster.yaml` keeps runs and event logs in SQLite there, or in the PostgreSQL database the profile's
`execution.instance.postgres` names (the password comes from an environment variable, never the file).

`recipe-assets` opens that instance itself. The `dagster` CLI, `dagster dev` and `dg` open theirs before
they load the code location, which cannot change it; so every step checks, before it writes anything,
that the instance running it is the recipe's, and refuses with the `export DAGSTER_HOME=...` that fixes it.
"""
from __future__ import annotations

import contextlib
import os
import sqlite3
from pathlib import Path
from typing import TYPE_CHECKING

from recipe_assets.core.atomic import write_text_atomically
from recipe_assets.core.errors import RecipeDataError, RecipeError
from recipe_assets.data.run_guards import check_running_instance
from recipe_assets.engine.execution_config import PostgresInstanceConfig
from recipe_assets.engine.services import check_reachable

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from recipe_assets.engine.config import LoadedConfig

# Written at the top of the dagster.yaml we manage: a file without it is the user's and is never rewritten.
MANAGED_MARK = "# written by recipe-assets from the recipe's profile; edits are overwritten"
def instance_dir(loaded: LoadedConfig) -> Path:
    home = os.environ.get("DAGSTER_HOME")
    return Path(home).expanduser().resolve() if home else loaded.metadata_dir / "dagster"


def postgres_of(loaded: LoadedConfig) -> PostgresInstanceConfig | None:
    return loaded.config.execution.instance.postgres


def instance_settings(postgres: PostgresInstanceConfig | None) -> str:
    """The managed dagster.yaml: built as data and dumped, so no profile value (a quote, colon or newline in a
    database name, say) can change the file's structure."""
    import yaml

    settings: dict = {"telemetry": {"enabled": False}, "nux": {"enabled": False}}
    if postgres is not None:
        db: dict = {
            "hostname": postgres.host,
            "port": postgres.port,
            "db_name": postgres.db,
            "username": postgres.user,
        }
        if postgres.password_env:
            db["password"] = {"env": postgres.password_env}
        # SQLAlchemy 2.1 defaults to psycopg 3; dagster-postgres brings psycopg2
        db["scheme"] = "postgresql+psycopg2"
        db["params"] = {"connect_timeout": postgres.connect_timeout}
        settings["storage"] = {"postgres": {"postgres_db": db}}
    return MANAGED_MARK + "\n" + yaml.safe_dump(settings, sort_keys=False, default_flow_style=False)


def prepare_instance_dir(loaded: LoadedConfig) -> Path:
    """The recipe's instance folder with a dagster.yaml that matches the profile, so that
    `export DAGSTER_HOME=<it>` is all the `dagster` CLI needs."""
    home = instance_dir(loaded)
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    wanted = instance_settings(postgres_of(loaded))
    current = settings.read_text() if settings.exists() else None
    if current is None or (current.startswith(MANAGED_MARK) and current != wanted):
        # whole or not at all: the webserver, daemon and workers of a stack prepare it at the same moment
        write_text_atomically(settings, wanted)
    return home


def recipe_instance(loaded: LoadedConfig) -> DagsterInstance:
    """The recipe's own Dagster instance, shared with the `dagster` CLI through DAGSTER_HOME."""
    from dagster import DagsterInstance

    postgres = postgres_of(loaded)
    if postgres is not None:
        check_postgres_reachable(postgres)
    home = prepare_instance_dir(loaded)
    if postgres is None:
        instance = _open_sqlite_instance(home)
    else:
        instance = _open_postgres_instance(home, postgres)
    check_instance(loaded, instance)
    return instance


def _open_sqlite_instance(home: Path) -> DagsterInstance:
    # imported here, not at the top: dagster_internal loads dagster._core, which definition load does not need
    from dagster import DagsterInstance

    from recipe_assets.engine.dagster_internal import open_sqlite_instance

    seed_sqlite_storage(home)
    if not (home / "dagster.yaml").read_text().startswith(MANAGED_MARK):  # the user's own: opened as they wrote it
        return DagsterInstance.from_config(str(home))
    return open_sqlite_instance(home)


def seed_sqlite_storage(home: Path) -> None:
    """A new instance's databases start empty and already migrated (data/store_seed.py says how and why); only
    under the dagster.yaml we manage, whose storage is Dagster's default SQLite. Any failure leaves Dagster to
    create them itself."""
    # imported here, not at the top: dagster_internal loads dagster._core, which definition load does not need
    from recipe_assets.engine.dagster_internal import EMPTY_SQLITE_INSTANCE, SQLITE_STORAGE_FILES

    if not (home / "dagster.yaml").read_text().startswith(MANAGED_MARK):
        return
    if all((home / name).exists() for name in SQLITE_STORAGE_FILES):
        return
    with contextlib.suppress(OSError, sqlite3.Error, RecipeDataError):
        for name in SQLITE_STORAGE_FILES:
            EMPTY_SQLITE_INSTANCE.seed(name, home / name)


def _open_postgres_instance(home: Path, postgres: PostgresInstanceConfig) -> DagsterInstance:
    from dagster import DagsterInstance

    try:
        return DagsterInstance.from_config(str(home))
    except Exception as exc:  # dagster-postgres wraps psycopg2's error after its own retries
        cause = exc
        while cause.__cause__ is not None or getattr(cause, "orig", None) is not None:
            cause = getattr(cause, "orig", None) or cause.__cause__
        reason = str(cause).strip().splitlines()[-1] if str(cause).strip() else type(cause).__name__
        if "password authentication failed" in reason:
            reason = f"the server refused the credentials for user {postgres.user} (password from ${postgres.password_env})"
        raise RecipeError(f"the Dagster instance's PostgreSQL at {postgres.address()} could not be opened: {reason}") from None


def check_postgres_reachable(postgres: PostgresInstanceConfig) -> None:
    if postgres.password_env and postgres.password_env not in os.environ:
        raise RecipeError(
            f"the Dagster instance's PostgreSQL ({postgres.address()}) needs its password in the environment "
            f"variable {postgres.password_env}, which is not set"
        )
    check_reachable("PostgreSQL (the Dagster instance)", postgres.host, postgres.port)


def expected_identity(loaded: LoadedConfig) -> str:
    """What the recipe's instance is: its PostgreSQL database when the profile names one, else its folder."""
    postgres = postgres_of(loaded)
    return postgres.address() if postgres is not None else f"the instance folder {instance_dir(loaded)}"


def check_instance(loaded: LoadedConfig, instance: DagsterInstance) -> None:
    check_running_instance(instance, str(loaded.root), expected_identity(loaded), str(instance_dir(loaded)))


def dagster_home_hint(loaded: LoadedConfig) -> str | None:
    """Printed when the `dagster` CLI loads the definitions without the recipe's instance in DAGSTER_HOME."""
    if os.environ.get("DAGSTER_HOME"):
        return None
    return (
        f"recipe-assets: DAGSTER_HOME is not set; recipe {loaded.root} keeps its Dagster state in "
        f"{expected_identity(loaded)} and refuses to run in another instance. "
        f"export DAGSTER_HOME={instance_dir(loaded)}"
    )
