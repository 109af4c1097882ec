"""The shared services a profile names, checked before a run starts: a service that does not answer
fails the run at once with its name and address, instead of hanging in a client's retry loop after part
of the recipe was already materialized or registered."""
from __future__ import annotations

import os
import socket
from typing import TYPE_CHECKING
from urllib.parse import urlsplit

from recipe_assets.errors import RecipeError

if TYPE_CHECKING:
    from recipe_assets.config import LoadedConfig

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
    endpoint = s3_endpoint()
    if endpoint and (execution.outputs_location or "").startswith("s3://"):
        check_url_reachable("the S3 endpoint", endpoint)
