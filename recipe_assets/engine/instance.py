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

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any
from urllib.parse import urlsplit

from pydantic import Field, model_validator

from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeError

if TYPE_CHECKING:
    from dagster import DagsterInstance

    from recipe_assets.engine.config import LoadedConfig

# Written at the top of the dagster.yaml we manage: a file without it is the user's and is never rewritten.
MANAGED_MARK = "# written by recipe-assets from the recipe's profile; edits are overwritten"
DEFAULT_PASSWORD_ENV = "DAGSTER_PG_PASSWORD"


class PostgresInstanceConfig(ConfigModel):
    """(ours) `execution.instance.postgres`: where the Dagster instance keeps runs, event logs and sensor state."""

    host: str = "127.0.0.1"
    port: int = Field(default=5432, ge=1, le=65535)
    db: str
    user: str
    password_env: str | None = DEFAULT_PASSWORD_ENV  # the environment variable holding the password; null: none
    connect_timeout: int = Field(default=10, ge=1)

    @model_validator(mode="before")
    @classmethod
    def _no_password_in_files(cls, data: Any) -> Any:
        if isinstance(data, dict) and "password" in data:
            raise ValueError(
                "a password never goes in a profile; name the environment variable that holds it with "
                f"password_env (default {DEFAULT_PASSWORD_ENV})"
            )
        return data

    def address(self) -> str:
        return f"postgresql://{self.user}@{self.host}:{self.port}/{self.db}"


class InstanceConfig(ConfigModel):
    """(ours) `execution.instance`: SQLite in the instance folder (default) or PostgreSQL."""

    postgres: PostgresInstanceConfig | None = None


def instance_dir(loaded: LoadedConfig) -> Path:
    home = os.environ.get("DAGSTER_HOME")
    return Path(home).expanduser().resolve() if home else loaded.metadata_dir / "dagster"


def postgres_of(loaded: LoadedConfig) -> PostgresInstanceConfig | None:
    return loaded.config.execution.instance.postgres


def instance_settings(postgres: PostgresInstanceConfig | None) -> str:
    lines = [MANAGED_MARK, "telemetry:", "  enabled: false", "nux:", "  enabled: false"]
    if postgres is not None:
        lines += [
            "storage:",
            "  postgres:",
            "    postgres_db:",
            f"      hostname: {postgres.host}",
            f"      port: {postgres.port}",
            f"      db_name: {postgres.db}",
            f"      username: {postgres.user}",
            *([f"      password: {{env: {postgres.password_env}}}"] if postgres.password_env else []),
            "      scheme: postgresql+psycopg2  # SQLAlchemy 2.1 defaults to psycopg 3; dagster-postgres brings psycopg2",
            "      params:",
            f"        connect_timeout: {postgres.connect_timeout}",
        ]
    return "\n".join(lines) + "\n"


def prepare_instance_dir(loaded: LoadedConfig) -> Path:
    """The recipe's instance folder with a dagster.yaml that matches the profile, so that
    `export DAGSTER_HOME=<it>` is all the `dagster` CLI needs."""
    home = instance_dir(loaded)
    home.mkdir(parents=True, exist_ok=True)
    settings = home / "dagster.yaml"
    wanted = instance_settings(postgres_of(loaded))
    if not settings.exists() or (settings.read_text().startswith(MANAGED_MARK) and settings.read_text() != wanted):
        # whole or not at all: the webserver, daemon and workers of a stack prepare it at the same moment
        temporary = home / f".dagster.yaml.{os.getpid()}.tmp"
        temporary.write_text(wanted)
        os.replace(temporary, settings)
    return home


def recipe_instance(loaded: LoadedConfig) -> DagsterInstance:
    """The recipe's own Dagster instance, shared with the `dagster` CLI through DAGSTER_HOME."""
    from dagster import DagsterInstance

    postgres = postgres_of(loaded)
    if postgres is not None:
        check_postgres_reachable(postgres)
    home = prepare_instance_dir(loaded)
    if postgres is None:
        instance = DagsterInstance.from_config(str(home))
    else:
        instance = _open_postgres_instance(home, postgres)
    check_instance(loaded, instance)
    return instance


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
    from recipe_assets.engine.services import check_reachable

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


def instance_identity(instance: DagsterInstance, expected: str) -> str:
    """The same description of a running instance: the PostgreSQL database it stores runs in (no
    password), or its folder. A user's own dagster.yaml in DAGSTER_HOME may use any storage."""
    url = getattr(instance.run_storage, "postgres_url", None)
    if expected.startswith("postgresql://"):
        if not url:
            return f"SQLite in {Path(instance.root_directory).resolve()}"
        parts = urlsplit(url)
        return f"postgresql://{parts.username}@{parts.hostname}:{parts.port or 5432}{parts.path}"
    return f"the instance folder {Path(instance.root_directory).resolve()}"


def refusal(recipe_root: Path | str, expected: str, actual: str, home: Path | str) -> str:
    return (
        f"recipe {recipe_root} keeps its Dagster state in {expected}, but this process's Dagster instance is "
        f"{actual}: materializing here would rewrite the recipe's outputs while recording their versions "
        f"elsewhere, so nothing was run. Use the recipe's instance: export DAGSTER_HOME={home} "
        f"(then run the same command again), or run `recipe-assets run --recipe-root {recipe_root}`"
    )


def check_instance(loaded: LoadedConfig, instance: DagsterInstance) -> None:
    check_running_instance(instance, str(loaded.root), expected_identity(loaded), str(instance_dir(loaded)))


def check_running_instance(instance: DagsterInstance, recipe_root: str, expected: str, home: str) -> None:
    """The check where only what the definitions recorded is at hand (a step's resource, a sensor)."""
    actual = instance_identity(instance, expected)
    if expected != actual:
        raise RecipeError(refusal(recipe_root, expected, actual, home))


def dagster_home_hint(loaded: LoadedConfig) -> str | None:
    """Printed when the `dagster` CLI loads the definitions without the recipe's instance in DAGSTER_HOME."""
    if os.environ.get("DAGSTER_HOME"):
        return None
    return (
        f"recipe-assets: DAGSTER_HOME is not set; recipe {loaded.root} keeps its Dagster state in "
        f"{expected_identity(loaded)} and refuses to run in another instance. "
        f"export DAGSTER_HOME={instance_dir(loaded)}"
    )
