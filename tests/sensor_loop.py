"""Evaluate a recipe's batch-scoring sensor the way the daemon does, until it has nothing more to ask:
`python tests/sensor_loop.py RECIPE_ROOT CURSOR_FILE`.

Each tick: the sensor is evaluated against the recipe's real Dagster instance with the cursor of the last
completed tick; each run request whose run key has no run yet is launched as the batch-scoring job (the
daemon dedupes on run keys the same way); the tick's cursor is then persisted (written to a temp file and
renamed, as the daemon commits the tick). A process killed mid-tick restarts from the last cursor.
Prints one line per tick: `tick N: skip|run KEY`.
"""
from __future__ import annotations

import os
import sys
import time
from pathlib import Path

from dagster import RunsFilter, SensorResult, build_sensor_context

from recipe_assets.app.recipe import Recipe

IDLE_TICKS_TO_STOP = 3


def persist(cursor_file: Path, cursor: str | None) -> None:
    if cursor is None:
        return
    temp = cursor_file.with_suffix(".writing")
    temp.write_text(cursor)
    os.replace(temp, cursor_file)


def run_key_done(instance, key: str) -> bool:
    return bool(instance.get_runs(filters=RunsFilter(tags={"dagster/run_key": key}), limit=1))


def main(root: str, cursor_path: str) -> None:
    cursor_file = Path(cursor_path)
    idle = tick = 0
    while idle < IDLE_TICKS_TO_STOP:
        tick += 1
        recipe = Recipe(recipe_root=root)  # the daemon reloads the code location's definitions each tick
        sensor = recipe.definitions.get_sensor_def(f"{recipe.loaded.name}__batch_scoring_sensor")
        cursor = cursor_file.read_text() if cursor_file.exists() else None
        context = build_sensor_context(instance=recipe.instance, cursor=cursor, definitions=recipe.definitions)
        result = sensor(context)
        if not isinstance(result, SensorResult) or not result.run_requests:
            print(f"tick {tick}: skip", flush=True)
            idle += 1
            time.sleep(0.5)
            continue
        idle = 0
        for request in result.run_requests:
            if run_key_done(recipe.instance, request.run_key):
                continue
            print(f"tick {tick}: run {request.run_key}", flush=True)
            job = recipe.definitions.resolve_job_def(sensor.job_name)
            outcome = job.execute_in_process(instance=recipe.instance, tags={**request.tags, "dagster/run_key": request.run_key})
            assert outcome.success
        persist(cursor_file, result.cursor)


if __name__ == "__main__":
    main(sys.argv[1], sys.argv[2])
