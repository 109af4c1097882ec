"""`pandas.read_parquet` in any process that built a recipe's definitions (every way in does) reads local files
through Arrow's own filesystem: no Python file object, so no abort at exit (exit 134, "terminate called without an active
exception") and errors that name the file instead of `'<Buffer>'`. See recipe_assets/data/parquet_reads.py."""
from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pandas as pd
import pytest

from conftest import REPO

SAMPLE = REPO / "templates" / "regression" / "data" / "sample.parquet"

READ_CORRUPT = """
import sys
from recipe_assets.data import parquet_reads
order = sys.argv[2]
if order == "pandas first":
    import pandas as pd
    parquet_reads.install()
else:
    parquet_reads.install()
    import pandas as pd
try:
    pd.read_parquet(sys.argv[1])
except Exception as exc:
    print(exc)
"""

# one process per read, each exiting on its own: a child forked from a parent that imported pandas and pyarrow
# but did no Arrow I/O (so each child starts Arrow's thread pools itself) skips only the imports, a third of a
# fresh process's time. The race is in each process's own finalization, so unpatched children abort as often
# as fresh processes did (the test's docstring)
READS_IN_FORKED_CHILDREN = """
import json, os, sys
from recipe_assets.data import parquet_reads
parquet_reads.install()
import pandas as pd
import pyarrow.parquet
codes = []
for _ in range(int(sys.argv[2])):
    pid = os.fork()
    if pid == 0:
        assert len(pd.read_parquet(sys.argv[1])) > 0
        sys.exit(0)  # the interpreter's own finalization, where the abort happened
    codes.append(os.waitstatus_to_exitcode(os.waitpid(pid, 0)[1]))
print(json.dumps(codes))
"""


PATCHED = """
import sys
{setup}
import pandas
from recipe_assets.data.parquet_reads import PATCHED_FLAG
print(getattr(pandas.read_parquet, PATCHED_FLAG, False))
"""


@pytest.mark.slow  # a Python process started from the test: CI's slow stage
@pytest.mark.parametrize(
    ("setup", "patched"),
    [
        ("import recipe_assets; from recipe_assets import Recipe; import recipe_assets.app.cli", "False"),  # importing changes nothing
        ("from recipe_assets.engine.graph import load_definitions; load_definitions(sys.argv[1])", "True"),  # every way in builds these
    ],
    ids=["import alone", "definitions built"],
)
def test_the_patch_comes_with_a_recipes_definitions_not_with_an_import(tmp_path: Path, setup: str, patched: str):
    import shutil

    recipe = tmp_path / "regression"
    shutil.copytree(SAMPLE.parents[1], recipe, ignore=shutil.ignore_patterns("metadata"))
    shown = subprocess.run([sys.executable, "-c", PATCHED.format(setup=setup), str(recipe)], capture_output=True, text=True, timeout=120)
    assert shown.stdout.strip().splitlines()[-1:] == [patched], shown.stdout + shown.stderr


@pytest.mark.parametrize("order", ["recipe_assets first", "pandas first"])
def test_a_corrupt_file_is_named_whichever_was_imported_first(tmp_path: Path, order: str):
    corrupt = tmp_path / "corrupt.parquet"
    corrupt.write_bytes(b"PAR1" + b"\0" * 100)
    shown = subprocess.run([sys.executable, "-c", READ_CORRUPT, str(corrupt), order], capture_output=True, text=True, timeout=120)
    assert str(corrupt) in shown.stdout and "<Buffer>" not in shown.stdout, shown.stdout + shown.stderr


def test_reads_never_hand_arrow_a_python_file_object(monkeypatch: pytest.MonkeyPatch):
    import pandas.io.parquet

    from recipe_assets.data import parquet_reads

    parquet_reads.install()

    def refuse(*args, **kwargs):
        raise AssertionError("pandas opened a Python file object for Arrow")

    monkeypatch.setattr(pandas.io.parquet, "get_handle", refuse)
    frame = pd.read_parquet(SAMPLE)
    assert len(frame) == len(pd.read_parquet(str(SAMPLE), columns=["fare_amount"])) > 0


def test_the_callers_own_choices_are_kept(tmp_path: Path):
    """What reaches pandas' own read_parquet: the caller's file object, URL, filesystem, storage options or
    engine exactly as given; only a plain local path gets Arrow's local filesystem."""
    import fsspec
    from pyarrow.fs import LocalFileSystem

    from recipe_assets.data.parquet_reads import native_local_reads

    calls = []

    def pandas_read_parquet(path, *args, **kwargs):
        calls.append((path, args, kwargs))

    read = native_local_reads(pandas_read_parquet)
    their_fs = fsspec.filesystem("file")
    with open(SAMPLE, "rb") as handle:
        read(handle)
        read(f"file://{SAMPLE}")
        read(str(SAMPLE), filesystem=their_fs)
        read(str(SAMPLE), storage_options={"anon": True})
        read(str(SAMPLE), engine="fastparquet")
        read(str(SAMPLE), "pyarrow", ["fare_amount"], None)  # filesystem passed by position
        assert calls == [
            (handle, (), {}),
            (f"file://{SAMPLE}", (), {}),
            (str(SAMPLE), (), {"filesystem": their_fs}),
            (str(SAMPLE), (), {"storage_options": {"anon": True}}),
            (str(SAMPLE), (), {"engine": "fastparquet"}),
            (str(SAMPLE), ("pyarrow", ["fare_amount"], None), {}),
        ]
    calls.clear()
    read(SAMPLE, columns=["fare_amount"])  # ours to choose: a plain local path
    (path, args, kwargs), = calls
    assert path == str(SAMPLE.resolve()) and isinstance(kwargs.pop("filesystem"), LocalFileSystem) and kwargs == {"columns": ["fare_amount"]}


@pytest.mark.slow
def test_processes_reading_parquet_never_abort_at_exit():
    """Without the patch about 1 to 15 in 100 of these processes abort at exit (machine-dependent; forked children: 1 to 11 here)."""
    shown = subprocess.run([sys.executable, "-c", READS_IN_FORKED_CHILDREN, str(SAMPLE), "100"], capture_output=True, text=True, timeout=600)
    assert shown.returncode == 0, shown.stderr[-3000:]
    codes = json.loads(shown.stdout.strip().splitlines()[-1])
    print(f"\n100 processes reading Parquet: exit codes {sorted(set(codes))}, aborted {codes.count(-6) + codes.count(134)}")
    assert len(codes) == 100 and set(codes) == {0}
