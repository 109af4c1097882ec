"""(ours) `execution:`: how Dagster runs the graph (executor, Celery, Kubernetes), where its instance keeps
state (SQLite in the recipe, or PostgreSQL), where outputs live, and the scoring sensor."""
from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, model_validator

from recipe_assets.core.configmodel import ConfigModel

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


class CeleryConfig(ConfigModel):
    """(ours) `execution.celery`: steps as Celery tasks; workers: `dagster-celery worker start -A dagster_celery.app`."""

    broker: str
    backend: str | None = None  # default: the broker (Redis keeps the results too)


class KubernetesConfig(ConfigModel):
    """(ours) `execution.kubernetes`: each step a Kubernetes Job (dagster-k8s's k8s_job_executor)."""

    job_namespace: str = "default"
    image: str | None = None  # default: the image of the run's pod
    env_secrets: list[str] = Field(default_factory=list)
    env_vars: list[str] = Field(default_factory=list)
    service_account_name: str | None = None


class ScoringSensorConfig(ConfigModel):
    """(ours) `execution.scoring_sensor`: the batch-scoring sensor on from the start (a deployment's daemon
    then scores by itself) and how often the daemon evaluates it."""

    running: bool = False
    interval_seconds: int = Field(default=30, ge=1)


class ExecutionConfig(ConfigModel):
    """(ours) How Dagster runs the graph, and where its state and the step outputs live."""

    executor: Literal["in_process", "multiprocess", "celery", "k8s"] = "in_process"
    max_concurrent: int | None = Field(default=None, ge=1)
    celery: CeleryConfig | None = None
    kubernetes: KubernetesConfig | None = None
    instance: InstanceConfig = Field(default_factory=InstanceConfig)
    outputs_location: str | None = None  # default: <recipe root>/metadata/outputs; or s3://bucket/prefix
    scoring_sensor: ScoringSensorConfig = Field(default_factory=ScoringSensorConfig)

    @model_validator(mode="after")
    def _executor_has_its_settings(self) -> "ExecutionConfig":
        if self.executor == "celery" and self.celery is None:
            raise ValueError("executor: celery needs execution.celery.broker (e.g. redis://127.0.0.1:6379/0)")
        return self
