"""Run `recipe-assets` and SIGKILL it at one named point: `python tests/fault_injection.py POINT ARGS...`.

The points are found by wrapping library and package functions in this process only (nothing in the
package knows about them), so a test can kill a run at the same place every time:

    half-write:<output>     the output's temp file is half written (truncated), then the kill
    before-publish:<output> the temp file is complete, the kill comes before its rename
    after-publish:<output>  the file is in place, the kill comes before Dagster records it
    fit                     inside the estimator's fit
    log-model               after the first artifacts of the logged model were written
    before-register         as the registry is about to create the version
    after-register          the version exists, its alias is not set yet
    score-write:<n>         after n record batches of the scored output were written
"""
from __future__ import annotations

import os
import signal
import sys


def die() -> None:
    sys.stdout.flush()
    sys.stderr.flush()
    os.kill(os.getpid(), signal.SIGKILL)


def wrap(owner, name: str, before=None, after=None) -> None:
    original = getattr(owner, name)

    def wrapped(*args, **kwargs):
        if before is not None:
            before(*args, **kwargs)
        result = original(*args, **kwargs)
        if after is not None:
            after(*args, **kwargs)
        return result

    setattr(owner, name, wrapped)


def install(point: str) -> None:
    kind, _, arg = point.partition(":")
    if kind in ("half-write", "before-publish", "after-publish"):
        from recipe_assets.core import atomic  # every write goes through its publish

        def matches(path) -> bool:
            return os.path.basename(str(path)).split(".")[0] == arg

        def before(temp_name, path):
            if matches(path) and kind == "half-write":
                size = os.path.getsize(temp_name)
                os.truncate(temp_name, size // 2)
                die()
            if matches(path) and kind == "before-publish":
                die()

        def after(temp_name, path):
            if matches(path) and kind == "after-publish":
                die()

        wrap(atomic, "publish", before=before, after=after)
    elif kind == "fit":
        from sklearn.linear_model import SGDRegressor

        wrap(SGDRegressor, "fit", before=lambda *a, **k: die())
    elif kind == "log-model":
        from mlflow.store.artifact.local_artifact_repo import LocalArtifactRepository

        wrap(LocalArtifactRepository, "log_artifacts", after=lambda *a, **k: die())
    elif kind in ("before-register", "after-register"):
        import mlflow

        if kind == "before-register":
            wrap(mlflow, "register_model", before=lambda *a, **k: die())
        else:
            wrap(mlflow, "register_model", after=lambda *a, **k: die())
    elif kind == "score-write":
        import pyarrow.parquet as pq

        written = {"batches": 0}

        def count(*args, **kwargs):
            written["batches"] += 1
            if written["batches"] >= int(arg):
                die()

        wrap(pq.ParquetWriter, "write_table", after=count)
    else:
        raise SystemExit(f"unknown kill point {point!r}")


if __name__ == "__main__":
    install(sys.argv[1])
    from recipe_assets.app.cli import main

    sys.exit(main(sys.argv[2:]))
