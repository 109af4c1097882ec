"""MLflow tracking and registry as a Dagster resource.

dagster-mlflow's `mlflow_tracking` is an op-era resource that opens one MLflow run per Dagster run and
keeps it in global state; a recipe needs one MLflow run per trained model that later steps (evaluate,
register) come back to, tagged with the asset that made it. So this resource is ours; mlflow is only
imported when a step uses it, keeping definition load light.
"""
from __future__ import annotations

import contextlib
import io
import os
import re
import sys
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from importlib import metadata
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import ConfigurableResource

from recipe_assets.core.errors import RecipeError

if TYPE_CHECKING:
    from mlflow.entities import Run
    from mlflow.entities.model_registry import ModelVersion
    from mlflow.tracking import MlflowClient

# Loggers whose messages restate choices made here on purpose (cloudpickle, explicit requirements,
# a new local store); our progress lines and cards already say what happened.
QUIET_LOGGERS = (
    "mlflow.sklearn",
    "mlflow.utils.environment",
    "mlflow.utils.uv_utils",
    "mlflow.store.db.utils",
    "mlflow.tracking._model_registry.fluent",
    "mlflow.models.model",
    "alembic",
)

MODEL_PACKAGES = ("mlflow", "scikit-learn", "pandas", "numpy", "scipy", "cloudpickle", "pyarrow")


def resolve_tracking_uri(uri: str | None, root: Path, default_db: Path) -> str:
    """Relative sqlite paths and plain folders resolve against the recipe root, as MLflow Recipes did.
    With no URI in the profile, MLFLOW_TRACKING_URI decides, as it does for MLflow itself; failing that,
    the embedded store under the recipe's metadata/."""
    if not uri:
        uri = os.environ.get("MLFLOW_TRACKING_URI")
    if not uri:
        return f"sqlite:///{default_db}"
    if uri.startswith("sqlite:///"):
        path = uri[len("sqlite:///"):]
        if path and not path.startswith("/") and path != ":memory:":
            return f"sqlite:///{(root / path).resolve()}"
        return uri
    if "://" not in uri:
        return (root / uri).resolve().as_uri()
    return uri


def is_local_store(tracking_uri: str) -> bool:
    return tracking_uri.startswith(("sqlite:", "file:")) or "://" not in tracking_uri


def resolve_artifact_location(location: str | None, root: Path, default_dir: Path) -> str:
    if not location:
        return default_dir.as_uri()
    if location.startswith("file:") or "://" in location:
        return location
    return (root / location).resolve().as_uri()


def pinned_model_requirements() -> list[str]:
    """Explicit pins for logged models: inferring them costs several seconds a model."""
    pins = []
    for package in MODEL_PACKAGES:
        try:
            pins.append(f"{package}=={metadata.version(package)}")
        except metadata.PackageNotFoundError:
            continue
    return pins


def quiet_mlflow() -> None:
    import logging
    import warnings

    for name in QUIET_LOGGERS:
        logging.getLogger(name).setLevel(logging.ERROR)
    warnings.filterwarnings("ignore", message=r"Hint: Inferred schema contains integer column", module="mlflow")


# MLflow's own defaults retry a failing server 7 times with a doubling backoff and wait 120 s a request:
# minutes of silence before a run says anything. Ours: 4 retries (1, 2, 4, 8 s) on connection errors and
# on 429/5xx, 60 s a request, then one error naming the server. A user's own settings win.
REGISTRATION_DONE_TAG = "recipe_assets.registration_done"
HTTP_RETRY_DEFAULTS = {
    "MLFLOW_HTTP_REQUEST_MAX_RETRIES": "4",
    "MLFLOW_HTTP_REQUEST_BACKOFF_FACTOR": "1",
    "MLFLOW_HTTP_REQUEST_TIMEOUT": "60",
}


def bounded_http_retries() -> None:
    for name, value in HTTP_RETRY_DEFAULTS.items():
        os.environ.setdefault(name, value)


def server_error(tracking_uri: str, action: str, exc: BaseException):
    reason = " ".join(str(exc).split())
    if len(reason) > 300:
        reason = reason[:300] + "..."
    return RecipeError(
        f"MLflow tracking server {tracking_uri}: {action} failed after {os.environ.get('MLFLOW_HTTP_REQUEST_MAX_RETRIES')} "
        f"retries ({type(exc).__name__}: {reason}); nothing of this step was kept. Check the server, then run again: "
        "finished steps are not redone"
    )


def server_refusal(tracking_uri: str, action: str, status: int, exc: BaseException):
    reason = " ".join(str(exc).split())[:300]
    return RecipeError(
        f"MLflow tracking server {tracking_uri}: {action} was refused with HTTP {status} ({reason}); not retried, "
        "nothing of this step was kept. A proxy in front of the server may answer this too: check its rules and "
        "the credentials, then run again"
    )


# MLflow keeps the status of an answer that is not MLflow's JSON (a proxy's error page) only in its
# message: its error code maps every status it does not know (413, 407, 502...) to INTERNAL_ERROR (500)
_PLAIN_ANSWER_STATUS = re.compile(r"failed with error code (\d{3}) != \d{3}")


def http_status(exc: BaseException) -> int | None:
    """The HTTP status a tracking server answered with; None when no answer came (or no server was asked)."""
    from mlflow.exceptions import MlflowException, RestException

    if isinstance(exc, RestException):  # the server's own JSON error: its error code is the status
        return exc.get_http_status_code()
    if isinstance(exc, MlflowException):
        match = _PLAIN_ANSWER_STATUS.search(exc.message)
        if match:
            return int(match.group(1))
    return None


def _no_answer(exc: BaseException) -> bool:
    """A connection that failed, timed out or ran out of retries on 429/5xx answers, anywhere in the chain
    (MLflow wraps them in an MlflowException). TLS failures are left out: retrying cannot fix a certificate."""
    import requests

    transient = (requests.exceptions.ConnectionError, requests.exceptions.Timeout, requests.exceptions.RetryError)
    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, transient) and not isinstance(seen, requests.exceptions.SSLError):
            return True
        seen = seen.__cause__ or seen.__context__
    return False


def is_server_failure(exc: BaseException) -> bool:
    """Connection errors and 5xx/429 answers from a remote server (not a bad request of ours, nor a 4xx)."""
    if _no_answer(exc):
        return True
    status = http_status(exc)
    return status is not None and (status == 429 or status >= 500)


class MlflowTracking(ConfigurableResource):
    """One recipe's MLflow experiment and model registry."""

    tracking_uri: str
    experiment_name: str
    artifact_location: str | None = None
    registry_uri: str | None = None

    def client(self) -> "MlflowClient":
        import mlflow
        from mlflow.tracking import MlflowClient

        quiet_mlflow()
        bounded_http_retries()
        self._prepare_local_store()
        mlflow.set_tracking_uri(self.tracking_uri)
        mlflow.set_registry_uri(self.registry_uri or self.tracking_uri)
        return MlflowClient(tracking_uri=self.tracking_uri, registry_uri=self.registry_uri or self.tracking_uri)

    def _prepare_local_store(self) -> None:
        if self.tracking_uri.startswith("sqlite:///"):
            from recipe_assets.data.store_seed import seed_new_sqlite_store

            db = Path(self.tracking_uri[len("sqlite:///"):])
            db.parent.mkdir(parents=True, exist_ok=True)
            seed_new_sqlite_store(db)

    def experiment_id(self) -> str:
        client = self.client()
        experiment = client.get_experiment_by_name(self.experiment_name)
        if experiment is not None:
            return experiment.experiment_id
        from mlflow.exceptions import MlflowException

        try:
            return client.create_experiment(self.experiment_name, artifact_location=self.artifact_location)
        except MlflowException:  # created meanwhile by a concurrent step
            return client.get_experiment_by_name(self.experiment_name).experiment_id

    @contextmanager
    def start_run(self, run_name: str, tags: Mapping[str, str]) -> Iterator[Any]:
        import mlflow

        with self.talking_to_server("starting a run"):
            experiment_id = self.experiment_id()
            active = mlflow.start_run(experiment_id=experiment_id, run_name=run_name, tags=dict(tags))
        with active as run:
            yield run

    @contextmanager
    def resume_run(self, run_id: str) -> Iterator[Any]:
        import mlflow

        self.client()
        with self.talking_to_server(f"reopening run {run_id}"):
            active = mlflow.start_run(run_id=run_id)
        with active as run:
            yield run

    def run_link(self, run_id: str) -> dict[str, Any]:
        """Asset metadata linking to the run in the MLflow UI; nothing for a local store, where no UI listens."""
        if not self.tracking_uri.startswith(("http://", "https://")):
            return {}
        from dagster import MetadataValue

        experiment_id = self.get_run(run_id).info.experiment_id
        return {"mlflow run link": MetadataValue.url(f"{self.tracking_uri.rstrip('/')}/#/experiments/{experiment_id}/runs/{run_id}")}

    def get_run(self, run_id: str) -> "Run":
        return self.client().get_run(run_id)

    @contextmanager
    def talking_to_server(self, action: str) -> Iterator[None]:
        """One clear error naming the server when a remote tracking server fails after the retries."""
        try:
            yield
        except Exception as exc:
            if is_local_store(self.tracking_uri):
                raise
            if is_server_failure(exc):
                raise server_error(self.tracking_uri, action, exc) from exc
            status = http_status(exc)
            if status is not None and 400 <= status < 500:
                raise server_refusal(self.tracking_uri, action, status, exc) from exc
            raise

    def log_sklearn_model(self, model: Any, code_paths: list[str], input_example: Any, predictions: Any) -> Any:
        with self.talking_to_server("logging the model"):
            return self._log_sklearn_model(model, code_paths, input_example, predictions)

    def _log_sklearn_model(self, model: Any, code_paths: list[str], input_example: Any, predictions: Any) -> Any:
        import mlflow
        from mlflow.models import infer_signature

        signature = infer_signature(input_example, predictions)
        return mlflow.sklearn.log_model(
            model,
            name="model",
            serialization_format="cloudpickle",
            code_paths=code_paths,
            signature=signature,
            pip_requirements=pinned_model_requirements(),
        )

    def register(self, model_uri: str, model_name: str, alias: str | None, tags: Mapping[str, str]) -> "ModelVersion":
        with self.talking_to_server(f"registering {model_name}"):
            return self._register(model_uri, model_name, alias, tags)

    def _register(self, model_uri: str, model_name: str, alias: str | None, tags: Mapping[str, str]) -> "ModelVersion":
        import mlflow

        client = self.client()
        version = self._version_of(client, model_uri, model_name)
        if version is None:
            # MLflow prints its own "Successfully registered..." lines to stderr; the register card says it
            with contextlib.redirect_stderr(io.StringIO()):
                version = mlflow.register_model(model_uri, model_name, tags=dict(tags))
        if alias:
            client.set_registered_model_alias(model_name, alias, version.version)
        client.set_model_version_tag(model_name, version.version, REGISTRATION_DONE_TAG, "true")
        return client.get_model_version(model_name, version.version)

    @staticmethod
    def _version_of(client: "MlflowClient", model_uri: str, model_name: str) -> "ModelVersion | None":
        """The version a previous attempt registered for this very model but did not finish (the server
        failed or the process was killed before its alias and REGISTRATION_DONE_TAG were set): registering
        again would leave that one half-done beside a duplicate. A finished version is never reused: a
        model registered again (say with another validation status) gets a new version, as in MLflow Recipes."""
        # no try: an unknown model gives an empty list, and any error must stop the registration rather
        # than switch this guard off
        versions = client.search_model_versions(f"name = '{model_name}'")
        return next((v for v in versions if v.source == model_uri and REGISTRATION_DONE_TAG not in (v.tags or {})), None)

    def load_model(self, model_uri: str) -> Any:
        """The logged model, unpickled with the `steps/` code it was logged with.

        MLflow puts the model's copy of `steps/` first on sys.path to unpickle it; afterwards the recipe's
        own `steps/` must win again, or the next step would import the stale copy."""
        import mlflow

        self.client()
        saved_path = list(sys.path)
        saved_steps = {name: module for name, module in sys.modules.items() if _is_steps_module(name)}
        try:
            with self.talking_to_server(f"loading {model_uri}"):
                return mlflow.sklearn.load_model(model_uri)
        finally:
            sys.path[:] = saved_path
            for name in [n for n in sys.modules if _is_steps_module(n)]:
                del sys.modules[name]
            sys.modules.update(saved_steps)


def _is_steps_module(name: str) -> bool:
    return name == "steps" or name.startswith("steps.")
