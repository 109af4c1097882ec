"""The shared services a profile names, checked before a run starts: a service that does not answer
fails the run at once with its name and address, instead of hanging in a client's retry loop after part
of the recipe was already materialized or registered."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from recipe_assets.core.errors import RecipeError
from recipe_assets.data.mlflow_tracking import bounded_http_retries, http_status

if TYPE_CHECKING:
    from recipe_assets.engine.config import LoadedConfig

CONNECT_TIMEOUT_SECONDS = 5
DEFAULT_PORTS = {"http": 80, "https": 443, "redis": 6379, "rediss": 6379, "postgresql": 5432, "amqp": 5672, "pyamqp": 5672}


def check_reachable(service: str, host: str, port: int, timeout: float = CONNECT_TIMEOUT_SECONDS) -> None:
    try:
        with socket.create_connection((host, port), timeout=timeout):
            return
    except OSError as exc:
        reason = "timed out" if isinstance(exc, TimeoutError) else (exc.strerror or str(exc))
        raise RecipeError(f"{service} at {host}:{port} is not reachable ({reason}); start it, or fix its address in the profile") from None


def check_url_reachable(service: str, url: str) -> None:
    parts = urlsplit(url)
    if not parts.hostname:
        return
    scheme = parts.scheme.split("+")[0]
    check_reachable(service, parts.hostname, parts.port or DEFAULT_PORTS.get(scheme, 80))


def s3_endpoint() -> str | None:
    """The S3 endpoint boto3, s3fs and MLflow use when one is configured (S3-compatible servers)."""
    return os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or os.environ.get("MLFLOW_S3_ENDPOINT_URL")


def check_services(loaded: LoadedConfig, tracking_uri: str) -> None:
    """Every remote service this recipe's profile uses, in the order a run needs them."""
    execution = loaded.config.execution
    if execution.celery is not None:
        check_url_reachable("the Celery broker (Redis)", execution.celery.broker)
    if tracking_uri.startswith(("http://", "https://")):
        check_url_reachable("the MLflow tracking server", tracking_uri)
        check_tracking_credentials(tracking_uri)
    endpoint = s3_endpoint()
    if endpoint and (execution.outputs_location or "").startswith("s3://"):
        check_url_reachable("the S3 endpoint", endpoint)


def check_tracking_credentials(tracking_uri: str) -> None:
    """The tracking server must answer MLflow's own client before anything is logged: the request goes
    through MLflow's REST client, so credentials (MLFLOW_TRACKING_USERNAME / _PASSWORD, MLFLOW_TRACKING_TOKEN,
    an MLFLOW_TRACKING_AUTH provider) and TLS settings (MLFLOW_TRACKING_SERVER_CERT_PATH,
    MLFLOW_TRACKING_INSECURE_TLS) apply exactly as they will for the run."""
    from mlflow.exceptions import MlflowException
    from mlflow.tracking import MlflowClient

    bounded_http_retries()
    try:
        MlflowClient(tracking_uri=tracking_uri).search_experiments(max_results=1)
    except MlflowException as exc:
        raise RecipeError(tracking_problem(tracking_uri, exc)) from None


def tracking_problem(tracking_uri: str, exc: BaseException) -> str:
    """One message for each way the server can refuse MLflow's client; the rest name the status or reason."""
    server = f"the MLflow tracking server at {tracking_uri}"
    if _tls_failure(exc) is not None:
        return (
            f"TLS with {server} failed ({_tls_failure(exc)}): if it uses a private certificate authority, set "
            "MLFLOW_TRACKING_SERVER_CERT_PATH to its CA bundle (MLFLOW_TRACKING_INSECURE_TLS=true skips the check); "
            "nothing was run"
        )
    status = http_status(exc)
    if status == 401:
        return _refused(tracking_uri, credentials_sent())
    if status == 403:
        return (
            f"{server} accepted {credentials_sent() or 'the request'} but denied access (HTTP 403): the user needs "
            "permission to read and write the recipe's experiment and registered model; nothing was run"
        )
    if status == 404:
        return (
            f"{server} has no MLflow REST API at that address (HTTP 404 for /api/2.0/mlflow/experiments/search): "
            "check the URI, including any path prefix a proxy serves MLflow under; nothing was run"
        )
    if status is not None and status < 500 and status != 429:
        return f"{server} refused MLflow's request with HTTP {status} ({_short(exc)}); nothing was run"
    retries = os.environ.get("MLFLOW_HTTP_REQUEST_MAX_RETRIES")
    return f"{server} did not answer usefully after {retries} retries ({_short(exc)}); check the server and its log; nothing was run"


def credentials_sent() -> str | None:
    """What MLflow's client authenticates with, in its own order of precedence (never the secret itself)."""
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        return f"the credentials of user {user!r} (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD)"
    if os.environ.get("MLFLOW_TRACKING_TOKEN"):
        return "the token in MLFLOW_TRACKING_TOKEN"
    if os.environ.get("MLFLOW_TRACKING_AUTH"):
        return f"the credentials of the {os.environ['MLFLOW_TRACKING_AUTH']!r} auth provider (MLFLOW_TRACKING_AUTH)"
    return None


def _tls_failure(exc: BaseException) -> str | None:
    """The TLS error MLflow's client wrapped (a certificate not trusted, a name that does not match)."""
    import requests

    seen: BaseException | None = exc
    while seen is not None:
        if isinstance(seen, requests.exceptions.SSLError):
            reason = str(seen)
            marker = "SSLError("
            return reason[reason.rfind(marker):][:200] if marker in reason else reason[:200]
        seen = seen.__cause__ or seen.__context__
    return None


def _short(exc: BaseException) -> str:
    reason = " ".join(str(exc).split())
    return reason if len(reason) <= 300 else reason[:300] + "..."


def _refused(tracking_uri: str, credentials: str | None) -> str:
    if credentials is None:
        return (
            f"the MLflow tracking server at {tracking_uri} requires credentials: set MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD (or MLFLOW_TRACKING_TOKEN, or an MLFLOW_TRACKING_AUTH provider); nothing was run"
        )
    return f"the MLflow tracking server at {tracking_uri} refused {credentials} (HTTP 401); nothing was run or registered"
