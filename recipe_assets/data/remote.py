"""Locations given as URLs (s3://, gs://, abfs://, https://...) read through fsspec.

Credentials come from the environment, as each filesystem library reads them (AWS_* for s3fs and
deltalake, GOOGLE_APPLICATION_CREDENTIALS for gcsfs, AZURE_STORAGE_* for adlfs). Versioning never
downloads data: a remote file's fingerprint is its URL, size and what the store says identifies its
content (ETag, last modification time).
"""
from __future__ import annotations

import hashlib
import os
import re
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from recipe_assets.core import extras
from recipe_assets.core.errors import DataNotFound, RecipeDataError

URL = re.compile(r"^([A-Za-z][A-Za-z0-9+.-]*)://")
# protocols whose filesystem is a separate package, named so the error says what to install
PACKAGES = {"gs": "gcsfs", "gcs": "gcsfs", "abfs": "adlfs", "abfss": "adlfs", "az": "adlfs", "adl": "adlfs", "s3": "s3fs", "s3a": "s3fs",
            "http": "aiohttp", "https": "aiohttp"}
# headers/fields that change with an object's content, in the order stores report them
VERSION_FIELDS = ("ETag", "etag", "md5Hash", "content_md5", "LastModified", "Last-Modified", "last_modified", "updated", "mtime")


def is_remote(location: str) -> bool:
    return bool(URL.match(location)) and not location.startswith("file://") or location.startswith("dbfs:")


def without_file_scheme(location: Any) -> Any:
    """`file:///data/x.parquet` (or `file:data/x.parquet`) as the local path it names, as MLflow Recipes took it."""
    if not isinstance(location, str) or not location.startswith("file:"):
        return location
    from urllib.parse import unquote, urlparse

    return unquote(urlparse(location).path)


def protocol(location: str) -> str:
    match = URL.match(location)
    return match.group(1).lower() if match else location.split(":", 1)[0].lower()


def missing_package(location: str, scheme: str, package: str) -> str:
    return f"{location!r}: {scheme}:// locations need the {package} package; install it ({extras.install_hint(package)})"


def location_problem(location: str) -> str | None:
    """Why this URL cannot be read here, or None. Checked when the config loads, before any data is read."""
    import fsspec

    scheme = protocol(location)
    if scheme == "dbfs":
        return f"{location!r}: dbfs: paths exist only on Databricks; copy the data out (databricks fs cp) and point location at the copy"
    package = PACKAGES.get(scheme)
    if package and not extras.is_installed(package):
        return missing_package(location, scheme, package)
    try:
        fsspec.get_filesystem_class(scheme)
    except ImportError:
        return missing_package(location, scheme, package or fsspec.registry.known_implementations.get(scheme, {}).get("class", scheme).split(".")[0])
    except ValueError:
        return f"{location!r}: no filesystem knows the protocol {scheme!r}; expected s3://, gs://, abfs://, https:// or a local path"
    return None


# settings the filesystem libraries read from the environment when a filesystem is created
_ENVIRONMENT_PREFIXES = ("AWS_", "FSSPEC_", "GOOGLE_", "GCS", "AZURE_")
_filesystems: dict[tuple, Any] = {}


def filesystem(location: str, where: str) -> tuple[Any, str]:
    """A filesystem for `location` without listing caches, so a changed object is seen within one process
    too. Creating one (an S3 session) takes about a second, so one is kept per protocol, process and
    environment: a changed endpoint or credential gets a new one."""
    from fsspec.core import url_to_fs

    problem = location_problem(location)
    if problem:
        raise RecipeDataError(f"{where}: {problem}")
    environment = tuple(sorted((k, v) for k, v in os.environ.items() if k.startswith(_ENVIRONMENT_PREFIXES)))
    key = (protocol(location), os.getpid(), environment)
    if key not in _filesystems:
        _filesystems[key], _ = url_to_fs(location, skip_instance_cache=True, use_listings_cache=False)
    fs = _filesystems[key]
    fs.invalidate_cache()
    return fs, fs._strip_protocol(location)


@dataclass(frozen=True)
class RemoteFile:
    """One remote object, identified without reading it."""

    url: str
    size: int
    version: str  # ETag and/or modification time, as the store reports them

    @property
    def name(self) -> str:
        return self.url.rstrip("/").rsplit("/", 1)[-1]

    def __str__(self) -> str:
        return self.url


def _remote_file(fs: Any, info: dict[str, Any]) -> RemoteFile:
    version = ";".join(f"{key}={info[key]}" for key in VERSION_FIELDS if info.get(key) not in (None, ""))
    url = info.get("url") or fs.unstrip_protocol(info["name"])
    return RemoteFile(url=url, size=int(info.get("size") or 0), version=version)


def _has_glob(path: str) -> bool:
    return any(ch in path for ch in "*?[")


def _describe(exc: Exception) -> str:
    return f"{type(exc).__name__}: {exc}" if str(exc) else type(exc).__name__


def list_files(location: str, file_format: str, where: str, version: int | None = None) -> list[RemoteFile]:
    """The objects a remote `location` names: one file, a glob, or a folder's `*.<format>` files (sorted)."""
    fs, path = filesystem(location, where)
    if file_format == "delta":
        return delta_log_objects(location, version, where)
    try:
        if _has_glob(path):
            infos = [info for info in fs.glob(path, detail=True).values() if info.get("type") == "file"]
        else:
            info = fs.info(path)
            if info.get("type") == "directory":
                suffix = "" if file_format == "custom" else f".{file_format}"
                infos = [i for i in fs.ls(path, detail=True) if i.get("type") == "file" and i["name"].endswith(suffix)]
            else:
                infos = [info]
    except FileNotFoundError:
        raise DataNotFound(f"{where}: {location} does not exist") from None
    except Exception as exc:  # permissions, endpoint or credentials: the library's own words say which
        raise RecipeDataError(f"{where}: cannot read {location}: {_describe(exc)}") from None
    return sorted((_remote_file(fs, info) for info in infos), key=lambda f: f.url)


def delta_log_objects(location: str, version: int | None, where: str) -> list[RemoteFile]:
    """A remote Delta table's commit files up to the version read (as for a local table)."""
    fs, path = filesystem(location, where)
    log = path.rstrip("/") + "/_delta_log"
    try:
        infos = fs.ls(log, detail=True)
    except FileNotFoundError:
        raise RecipeDataError(f"{where}: {location} is not a Delta table (no _delta_log folder)") from None
    except Exception as exc:
        raise RecipeDataError(f"{where}: cannot read {location}: {_describe(exc)}") from None
    commits = [i for i in infos if i["name"].endswith(".json") and Path(i["name"]).stem.isdigit()]
    commits = [i for i in commits if version is None or int(Path(i["name"]).stem) <= version]
    return sorted((_remote_file(fs, info) for info in commits), key=lambda f: f.url)


def fingerprint(files: list[RemoteFile]) -> str:
    digest = hashlib.sha256()
    for remote_file in files:
        digest.update(f"{remote_file.url}\0{remote_file.size}\0{remote_file.version}\n".encode())
    return digest.hexdigest()[:16]


def download(files: list[RemoteFile], directory: Path, where: str) -> list[Path]:
    """Local copies, in order, keeping each file's name (a loader_method may look at it)."""
    copies = []
    for number, remote_file in enumerate(files):
        target = directory / f"{number:05d}" / remote_file.name
        target.parent.mkdir(parents=True, exist_ok=True)
        fs, path = filesystem(remote_file.url, where)
        try:
            fs.get_file(path, str(target))
        except Exception as exc:
            raise RecipeDataError(f"{where}: cannot download {remote_file.url}: {_describe(exc)}") from None
        copies.append(target)
    return copies


def detect_table_format(location: str, where: str) -> str:
    fs, path = filesystem(location, where)
    try:
        if fs.exists(path.rstrip("/") + "/_delta_log"):
            return "delta"
    except Exception as exc:
        raise RecipeDataError(f"{where}: cannot read {location}: {_describe(exc)}") from None
    for file_format in ("parquet", "csv"):
        if path.endswith(f".{file_format}") or _table_data_files(fs, path, file_format):
            return file_format
    raise RecipeDataError(f"{where}: {location} holds no .parquet or .csv files and is not a Delta table (no _delta_log folder)")


def _table_data_files(fs: Any, path: str, file_format: str) -> list[dict[str, Any]]:
    try:
        found = fs.find(path, detail=True)
    except FileNotFoundError:
        return []
    prefix = path.rstrip("/") + "/"
    return [
        info
        for name, info in sorted(found.items())
        if name.endswith(f".{file_format}") and all("=" in part for part in name.removeprefix(prefix).split("/")[:-1])
    ]


def table_objects(location: str, file_format: str, where: str) -> list[RemoteFile]:
    if file_format == "delta":
        return delta_log_objects(location, None, where)
    fs, path = filesystem(location, where)
    if path.endswith(f".{file_format}"):
        return list_files(location, file_format, where)
    return [_remote_file(fs, info) for info in _table_data_files(fs, path, file_format)]


def download_table(location: str, file_format: str, target: Path, where: str) -> Path:
    """A local copy of a remote table's data files, partition folders kept: the file itself for a file URL."""
    fs, path = filesystem(location, where)
    if path.endswith(f".{file_format}"):
        return download(list_files(location, file_format, where), target, where)[0]
    prefix = path.rstrip("/") + "/"
    for info in _table_data_files(fs, path, file_format):
        copy = target / info["name"].removeprefix(prefix)
        copy.parent.mkdir(parents=True, exist_ok=True)
        try:
            fs.get_file(info["name"], str(copy))
        except Exception as exc:
            raise RecipeDataError(f"{where}: cannot download {fs.unstrip_protocol(info['name'])}: {_describe(exc)}") from None
    return target


def delta_storage_options(location: str) -> dict[str, str] | None:
    """deltalake reads AWS_* itself; a plain-http endpoint (a local S3-compatible server) must be allowed explicitly."""
    if not is_remote(location):
        return None
    endpoint = os.environ.get("AWS_ENDPOINT_URL_S3") or os.environ.get("AWS_ENDPOINT_URL") or ""
    return {"AWS_ALLOW_HTTP": "true"} if endpoint.startswith("http://") else {}
