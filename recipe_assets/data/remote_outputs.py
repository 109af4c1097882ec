"""Step outputs in object storage (`execution.outputs_location: s3://bucket/prefix`), for steps on several
machines. The same contract as the local folder: a reader sees the previous output or the new one, never
a half-written one. S3 has no rename; the object is uploaded under a temporary key, then copied onto its
name in one server-side copy (which replaces the object atomically), then the temporary key is deleted.

Endpoint and credentials come from the usual variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), as
boto3 reads them; connections time out instead of hanging a run.

Unpickling runs code, so whoever can write the prefix could run code in every worker and in `get-artifact`:
each object's SHA-256 is recorded in its materialization metadata (in the Dagster instance, not beside the
object), and an object whose bytes do not match is refused before it is parsed.
"""
from __future__ import annotations

import hashlib
import io
import os
import uuid
from pathlib import Path
from typing import Any

from recipe_assets.core.errors import RecipeError
from recipe_assets.core.user_code import use_recipe_steps

PARQUET = ".parquet"
PICKLE = ".pkl"
CLIENT_SETTINGS = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}}


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file:")


_filesystems: dict[tuple, Any] = {}


def _filesystem(location: str):
    """One filesystem per process and environment: fsspec's own cache would keep the endpoint and keys of
    its first use, though the environment (a notebook's, a test session's) may name another endpoint since."""
    import fsspec

    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith("AWS_")))
    key = (location.split("://", 1)[0], os.getpid(), environment)
    if key not in _filesystems:
        _filesystems[key], _ = fsspec.core.url_to_fs(location, skip_instance_cache=True, use_listings_cache=False, **CLIENT_SETTINGS)
    fs = _filesystems[key]
    return fs, fs._strip_protocol(location).rstrip("/")


def _url(location: str, key: str) -> str:
    return f"{location.split('://', 1)[0]}://{key}"


def write_output(location: str, name: str, obj: Any) -> tuple[str, str]:
    """Store `obj` as `<location>/<name>.parquet` (DataFrames) or `.pkl`; returns its URL and the SHA-256
    of the bytes stored."""
    import pandas as pd

    fs, root = _filesystem(location)
    if isinstance(obj, pd.DataFrame):
        buffer = io.BytesIO()
        obj.to_parquet(buffer)  # the index kept, as in the local folder (the split hashes it)
        suffix, payload = PARQUET, buffer.getvalue()
    else:
        import cloudpickle

        suffix, payload = PICKLE, cloudpickle.dumps(obj)
    final = f"{root}/{name}{suffix}"
    temporary = f"{root}/.{name}{suffix}.{uuid.uuid4().hex}.tmp"
    fs.pipe_file(temporary, payload)
    try:
        fs.copy(temporary, final)
    finally:
        fs.rm(temporary)
    other = f"{root}/{name}{PICKLE if suffix == PARQUET else PARQUET}"
    if fs.exists(other):
        fs.rm(other)
    return _url(location, final), hashlib.sha256(payload).hexdigest()


def stored_key(location: str, name: str) -> str | None:
    fs, root = _filesystem(location)
    for suffix in (PARQUET, PICKLE):
        if fs.exists(f"{root}/{name}{suffix}"):
            return f"{root}/{name}{suffix}"
    return None


def stored_url(location: str, name: str) -> str | None:
    """The URL of output `name` under `location` (`s3://bucket/prefix/<name>.parquet` or `.pkl`), None when absent."""
    key = stored_key(location, name)
    return None if key is None else _url(location, key)


def remove_output(location: str, name: str) -> None:
    fs, root = _filesystem(location)
    for suffix in (PARQUET, PICKLE):
        if fs.exists(f"{root}/{name}{suffix}"):
            fs.rm(f"{root}/{name}{suffix}")


def read_object(url: str, recipe_root: Path, asset: str, expected_sha256: str | None) -> Any:
    """A stored output by its URL, as `write_output` stored it, once its bytes match the SHA-256 recorded
    when it was materialized."""
    fs, key = _filesystem(url)
    payload = fs.cat_file(key)
    verify_digest(payload, url, asset, expected_sha256)
    if key.endswith(PARQUET):
        import pandas as pd

        return pd.read_parquet(io.BytesIO(payload))
    import cloudpickle

    use_recipe_steps(recipe_root)
    return cloudpickle.loads(payload)


def verify_digest(payload: bytes, url: str, asset: str, expected_sha256: str | None) -> None:
    if expected_sha256 is None:
        raise RecipeError(
            f"{asset}: no SHA-256 is recorded for {url} in the Dagster instance (stored before digests were "
            "recorded, or its materialization was wiped), so it is not loaded unverified; materialize it again "
            "(`recipe-assets clean --step <its step>`, then run)"
        )
    actual = hashlib.sha256(payload).hexdigest()
    if actual != expected_sha256:
        raise RecipeError(
            f"{asset}: {url} is not the object this recipe stored (SHA-256 expected {expected_sha256}, found "
            f"{actual}); it was changed after it was written, so it is not loaded. Find out who can write that "
            "prefix, then materialize the output again"
        )
