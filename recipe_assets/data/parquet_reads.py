"""`pandas.read_parquet` of a local file, read by Arrow itself instead of through a Python file object.

Why: for a local path pandas opens a Python file object and hands it to pyarrow. pyarrow then pre-buffers
the file's column chunks on its I/O thread pool as buffers that wrap Python bytes (`arrow::py::PyBuffer`),
and some of those reads are still in flight when `read_table` returns. When the process exits right after,
an I/O thread may drop the last such buffer while the interpreter is finalizing: its destructor asks for
the GIL, CPython 3.11 ends any thread that asks for the GIL during finalization with `pthread_exit`, and the
forced unwind through that `noexcept` destructor calls `std::terminate` ("terminate called without an
active exception", exit 134). Seen in about 1 to 15 fresh processes in 100 with pyarrow 25.0.1 and 26.0.1
alike (the destructor is unchanged), more often with the mimalloc or jemalloc pools only because they
change the timing. The same Python file object is why a corrupt file's error says `'<Buffer>'`
instead of its path.

Read through Arrow's own local filesystem, the buffers are Arrow's: no GIL, no abort, and errors name the
file. The fix is installed when a process builds a recipe's definitions (engine.graph.build_definitions), which
every way in does before it reads anything: the CLI, `Recipe` in a notebook, the `dagster` CLI's code location,
the webserver, the daemon, step subprocesses, Celery workers, a `dg` project's Component. Importing
`recipe_assets` alone changes nothing. pandas is patched once it is imported (or at once if it already is),
so installing stays light.
"""
from __future__ import annotations

import functools
import importlib.abc
import importlib.util
import os
import sys
from typing import Any

PATCHED_FLAG = "__recipe_assets_native_local_reads__"


def install() -> None:
    if "pandas" in sys.modules:
        _patch_pandas(sys.modules["pandas"])
    elif not any(isinstance(finder, _AfterPandasImport) for finder in sys.meta_path):
        sys.meta_path.insert(0, _AfterPandasImport())


def _is_local_file(path: Any) -> bool:
    if not isinstance(path, (str, os.PathLike)):
        return False
    text = os.fspath(path)
    return isinstance(text, str) and "://" not in text and os.path.isfile(text)


def native_local_reads(read_parquet):
    """`read_parquet` with Arrow's local filesystem for a plain local file, when the caller chose none."""
    if getattr(read_parquet, PATCHED_FLAG, False):
        return read_parquet

    @functools.wraps(read_parquet)
    def read_parquet_locally(path, *args, **kwargs):
        chosen_elsewhere = len(args) > 2 or kwargs.get("filesystem") is not None or kwargs.get("storage_options")
        engine = args[0] if args else kwargs.get("engine", "auto")
        if not chosen_elsewhere and engine in ("auto", "pyarrow") and _is_local_file(path):
            from pyarrow.fs import LocalFileSystem

            kwargs["filesystem"] = LocalFileSystem()
            path = os.path.abspath(os.fspath(path))
        return read_parquet(path, *args, **kwargs)

    setattr(read_parquet_locally, PATCHED_FLAG, True)
    return read_parquet_locally


def _patch_pandas(pandas) -> None:
    parquet_module = sys.modules.get("pandas.io.parquet")
    original = getattr(pandas, "read_parquet", None)
    if original is None:
        return
    patched = native_local_reads(original)
    pandas.read_parquet = patched
    if parquet_module is not None and getattr(parquet_module, "read_parquet", None) is original:
        parquet_module.read_parquet = patched
    api = sys.modules.get("pandas.io.api")
    if api is not None and getattr(api, "read_parquet", None) is original:
        api.read_parquet = patched


class _AfterPandasImport(importlib.abc.MetaPathFinder):
    """Patches pandas right after its own import finishes, then leaves sys.meta_path."""

    def find_spec(self, fullname, path, target=None):
        if fullname != "pandas":
            return None
        sys.meta_path.remove(self)
        spec = importlib.util.find_spec(fullname)
        if spec is None or spec.loader is None:
            return spec
        loader = spec.loader
        run_module = loader.exec_module

        def exec_then_patch(module):
            run_module(module)
            _patch_pandas(module)

        loader.exec_module = exec_then_patch
        return spec
