"""Batch scoring with the drift counts on vs off: time and peak memory at 1M and 10M rows.

    uv run python bench/drift_scoring.py [--sizes 1000000 10000000] [--repeats 1] [--work DIR]

Trains the regression template on the NYC sample once (steps.predict.drift on), writes NYC-like scoring
files (bench/data.py), then scores each in a fresh process, alternating drift off / on: the streamed
scoring predict runs (`stream_predictions`), with and without `DriftWatch.observe` on every batch and its
verdict at the end. Reports seconds, peak RSS of the process and its growth over the RSS before scoring
(the model loaded): flat memory means the growth does not scale with rows. Goal: drift on <= 1.15x time.
"""
from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BENCH = Path(__file__).resolve().parent
sys.path.insert(0, str(BENCH))


def rss_mb() -> float:
    with open("/proc/self/status") as status:
        return next(int(line.split()[1]) for line in status if line.startswith("VmRSS:")) / 1024


def cpu_seconds() -> float:
    """User + system CPU of this process, all threads: the work done, which a busy machine delays but does
    not inflate as it does wall time (the drift counting's thread included)."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def child(root: Path, source: Path, drift_on: bool) -> dict:
    """Score `source` once in this process; what it cost."""
    from recipe_assets.app.recipe import Recipe
    from recipe_assets.steps.predict.drift import DriftWatch, load_reference
    from recipe_assets.steps.predict.scoring import scoring_columns, stream_predictions

    recipe = Recipe(recipe_root=root)
    steps = recipe.loaded.config.steps
    registered = recipe.latest_value("registered_model_version")
    model = recipe.mlflow.load_model(registered["model_uri"])
    watch = None
    if drift_on:
        watch = DriftWatch.start(steps.predict.drift, load_reference(recipe.mlflow, registered["model_uri"], registered), scoring_columns([str(source)], "parquet"))
    before = rss_mb()
    with tempfile.TemporaryDirectory(dir=source.parent) as scratch:
        started, cpu_started = time.perf_counter(), cpu_seconds()
        stats = stream_predictions(model, [str(source)], "parquet", Path(scratch) / "scored.parquet", recipe.loaded.settings.task, steps.train, steps.predict,
                                   watch.observe if watch else None)
        verdict = None
        if watch is not None:
            _, check = watch.finish(recipe.key("scored_data"))
            verdict = check.description
        seconds, cpu = time.perf_counter() - started, cpu_seconds() - cpu_started
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
    return {"rows": stats["rows"], "seconds": round(seconds, 2), "cpu_seconds": round(cpu, 2), "peak_rss_mb": round(peak), "rss_before_mb": round(before),
            "growth_mb": round(peak - before), "verdict": verdict}


def prepare(work: Path) -> Path:
    from data import make_bench_recipe

    from recipe_assets.app.recipe import Recipe

    root = make_bench_recipe(work / "recipe")
    recipe_file = root / "recipe.yaml"
    recipe_file.write_text(recipe_file.read_text().replace("\n  predict:\n", "\n  predict:\n    drift: {warn: 0.1, fail: 0.25}\n", 1))
    assert Recipe(recipe_root=root).run(quiet=True).success
    return root


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--sizes", type=int, nargs="+", default=[1_000_000, 10_000_000])
    parser.add_argument("--repeats", type=int, default=1)
    parser.add_argument("--work", type=Path, default=None)
    parser.add_argument("--reuse", action="store_true", help="keep the trained recipe and scoring files already in --work")
    parser.add_argument("--child", nargs=3, metavar=("ROOT", "SOURCE", "DRIFT"), help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        print(json.dumps(child(Path(args.child[0]), Path(args.child[1]), args.child[2] == "on")))
        return
    import pyarrow.parquet as pq
    from data import write_scoring_parquet

    work = args.work or Path(tempfile.mkdtemp(prefix="drift-bench-"))
    root = work / "recipe" if args.reuse and (work / "recipe" / "metadata").is_dir() else prepare(work)
    print(f"work dir {work}", flush=True)
    rows_out = []
    for rows in args.sizes:
        source = work / f"scoring-{rows}.parquet"
        if not (args.reuse and source.is_file() and pq.ParquetFile(source).metadata.num_rows == rows):
            write_scoring_parquet(source, rows)
        for repeat in range(args.repeats):
            for mode in ("off", "on"):
                done = subprocess.run([sys.executable, __file__, "--child", str(root), str(source), mode], capture_output=True, text=True, check=True)
                result = json.loads(done.stdout.strip().splitlines()[-1])
                rows_out.append({"rows": rows, "drift": mode, "repeat": repeat, **result})
                print(json.dumps(rows_out[-1]), flush=True)
    print("\n| rows | drift | seconds | CPU seconds | peak RSS MB | growth over model loaded MB |\n|---|---|---|---|---|---|")
    for r in rows_out:
        print(f"| {r['rows']:,} | {r['drift']} | {r['seconds']} | {r['cpu_seconds']} | {r['peak_rss_mb']} | {r['growth_mb']} |")
    for rows in args.sizes:
        off = min(r["seconds"] for r in rows_out if r["rows"] == rows and r["drift"] == "off")
        on = min(r["seconds"] for r in rows_out if r["rows"] == rows and r["drift"] == "on")
        print(f"{rows:,} rows: drift on / off = {on / off:.3f}x time (best of {args.repeats})")
        cpu_off = min(r["cpu_seconds"] for r in rows_out if r["rows"] == rows and r["drift"] == "off")
        cpu_on = min(r["cpu_seconds"] for r in rows_out if r["rows"] == rows and r["drift"] == "on")
        print(f"{rows:,} rows: drift on / off = {cpu_on / cpu_off:.3f}x CPU (best of {args.repeats})")


if __name__ == "__main__":
    main()
