"""Step outputs in object storage (`execution.outputs_location: s3://bucket/prefix`), for steps on several
machines. The same contract as the local folder: a reader sees the previous output or the new one, never
a half-written one. S3 has no rename; the object is uploaded under a temporary key, then copied onto its
name in one server-side copy (which replaces the object atomically), then the temporary key is deleted.

Endpoint and credentials come from the usual variables (AWS_ENDPOINT_URL, AWS_ACCESS_KEY_ID, ...), as
boto3 reads them; connections time out instead of hanging a run.
"""
from __future__ import annotations

import io
import uuid
from pathlib import Path
from typing import Any

PARQUET = ".parquet"
PICKLE = ".pkl"
CLIENT_SETTINGS = {"config_kwargs": {"connect_timeout": 5, "read_timeout": 60, "retries": {"max_attempts": 2}}}


def is_remote(location: str) -> bool:
    return "://" in location and not location.startswith("file:")


def _filesystem(location: str):
    import fsspec

    fs, root = fsspec.core.url_to_fs(location, **CLIENT_SETTINGS)
    return fs, root.rstrip("/")


def _url(location: str, key: str) -> str:
    return f"{location.split('://', 1)[0]}://{key}"


def write_output(location: str, name: str, obj: Any) -> str:
    """Store `obj` as `<location>/<name>.parquet` (DataFrames) or `.pkl`; returns its URL."""
    import pandas as pd

    fs, root = _filesystem(location)
    if isinstance(obj, pd.DataFrame):
        buffer = io.BytesIO()
        obj.to_parquet(buffer, index=False)
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
    return _url(location, final)


def stored_key(location: str, name: str) -> str | None:
    fs, root = _filesystem(location)
    for suffix in (PARQUET, PICKLE):
        if fs.exists(f"{root}/{name}{suffix}"):
            return f"{root}/{name}{suffix}"
    return None


def read_output(location: str, name: str, recipe_root: Path) -> Any:
    fs, _ = _filesystem(location)
    key = stored_key(location, name)
    if key is None:
        raise FileNotFoundError(f"no stored output {name} under {location}; materialize it first (it may have been cleaned)")
    payload = fs.cat_file(key)
    if key.endswith(PARQUET):
        import pandas as pd

        return pd.read_parquet(io.BytesIO(payload))
    import cloudpickle

    from recipe_assets.user_code import use_recipe_steps

    use_recipe_steps(recipe_root)
    return cloudpickle.loads(payload)
