"""The shared services a profile names, checked before a run starts: a service that does not answer
fails the run at once with its name and address, instead of hanging in a client's retry loop after part
of the recipe was already materialized or registered."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from recipe_assets.core.errors import RecipeError

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


def check_tracking_credentials(tracking_uri: str, timeout: float = 30) -> None:
    """A server with authentication (`mlflow server --app-name basic-auth`) must accept the credentials
    MLflow's client sends (MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD) before anything is logged."""
    import base64
    import urllib.error
    import urllib.request

    request = urllib.request.Request(f"{tracking_uri.rstrip('/')}/api/2.0/mlflow/experiments/search?max_results=1")
    user, password = os.environ.get("MLFLOW_TRACKING_USERNAME"), os.environ.get("MLFLOW_TRACKING_PASSWORD")
    if user and password:
        request.add_header("Authorization", "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode())
    try:
        with urllib.request.urlopen(request, timeout=timeout):
            return
    except urllib.error.HTTPError as exc:
        if exc.code in (401, 403):
            raise RecipeError(_refused(tracking_uri, user if password else None)) from None
        if exc.code >= 500:
            raise RecipeError(f"the MLflow tracking server at {tracking_uri} answered HTTP {exc.code}; check its log") from None
    except (urllib.error.URLError, TimeoutError) as exc:
        reason = getattr(exc, "reason", exc)
        raise RecipeError(f"the MLflow tracking server at {tracking_uri} did not answer within {timeout:.0f}s ({reason})") from None


def _refused(tracking_uri: str, user: str | None) -> str:
    if user is None:
        return (
            f"the MLflow tracking server at {tracking_uri} requires credentials: set MLFLOW_TRACKING_USERNAME "
            "and MLFLOW_TRACKING_PASSWORD; nothing was run"
        )
    return (
        f"the MLflow tracking server at {tracking_uri} refused the credentials of user {user!r} "
        "(MLFLOW_TRACKING_USERNAME / MLFLOW_TRACKING_PASSWORD); nothing was run or registered"
    )
