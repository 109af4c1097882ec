"""Code versions and data versions: what replaces MLflow Recipes' step cache.

A step's code version covers its resolved config slice, the user modules it calls and our own step
implementation; an output's data version is a hash of its content. Dagster's staleness does the rest.
"""
from __future__ import annotations

import functools
import hashlib
from collections.abc import Sequence
from pathlib import Path
from types import ModuleType
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    import pandas as pd

_HASH_CHUNK = 1 << 20


def code_version(implementation: "str | Path | Sequence[str | Path]", config_text: str, user_digest: str = "") -> str:
    """Short, stable hash of our step implementation's source (one file or several), its config slice and
    the user's step code."""
    files = [implementation] if isinstance(implementation, (str, Path)) else list(implementation)
    digest = hashlib.sha256()
    for file in files:
        digest.update(Path(file).read_bytes())
    digest.update(b"\0config\0" + config_text.encode())
    digest.update(b"\0user\0" + user_digest.encode())
    return digest.hexdigest()[:16]


def step_files(step_module_file: str, *shared_modules: ModuleType) -> list[Path]:
    """Our implementation of a step, for its code version: every module of its subpackage, then the shared
    modules (ml/, data/) whose code decides its outputs."""
    folder = Path(step_module_file).parent
    return sorted(folder.glob("*.py")) + [Path(module.__file__) for module in shared_modules if module.__file__]


def dataframe_version(df: "pd.DataFrame") -> str:
    """Content hash of a DataFrame's rows with their index labels, not of their order in the file: a row
    that keeps its index and values keeps the version (the index is part of the row, as the split's hash
    sees it)."""
    import numpy as np
    import pandas as pd

    digest = hashlib.sha256()
    digest.update(repr([(str(c), str(t)) for c, t in df.dtypes.items()]).encode())
    if len(df.columns):
        rows = pd.util.hash_pandas_object(df, index=True).to_numpy()
        digest.update(np.sort(rows).tobytes())
    digest.update(str(len(df)).encode())
    return digest.hexdigest()[:16]


def bytes_version(payload: bytes) -> str:
    return hashlib.sha256(payload).hexdigest()[:16]


def file_content_hash(path: Path) -> str:
    """Hash of a file's bytes. A run fingerprints its raw files twice (to decide what is stale, and as
    it starts); the cache, keyed by size and modification time, reads them once."""
    stat = path.stat()
    return _content_hash(str(path.resolve()), stat.st_size, stat.st_mtime_ns)


@functools.lru_cache(maxsize=4096)
def _content_hash(path: str, size: int, mtime_ns: int) -> str:
    digest = hashlib.blake2b(digest_size=16)
    with open(path, "rb") as handle:
        while chunk := handle.read(_HASH_CHUNK):
            digest.update(chunk)
    return digest.hexdigest()


def files_fingerprint(files: list[Path], root: Path) -> str:
    """Data version of raw input files: their paths (relative to the recipe, so moving it changes nothing),
    sizes and contents."""
    digest = hashlib.sha256()
    for path in files:
        name = path.relative_to(root) if path.is_relative_to(root) else path
        digest.update(f"{name}\0{path.stat().st_size}\0{file_content_hash(path)}\n".encode())
    return digest.hexdigest()[:16]
