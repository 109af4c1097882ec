"""Benchmark driver: our product vs the plain-script floor vs MLflow Recipes 2.22.2; writes RESULTS.md.

    uv run python bench/run.py [--smoke] [--repeats 3] [--skip-peer] [--only batch-scoring ...]

Exits 1 (after writing the report) when any run of ours or of the plain scripts failed.
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shlex
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import yaml

from cases import CASES
from data import make_bench_recipe, write_scoring_parquet
from measure import CaseResult, clean_env, measure
from peer import PEER_VENV, RECIPE_STEPS, ensure_peer_venv, run_peer_cases

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = Path(sys.prefix) / "bin"
PRODUCT, PLAIN, PEER = "a: recipe-assets", "b: plain script", "c: MLflow Recipes 2.22.2"
PACKAGES = ["dagster", "mlflow", "scikit-learn", "pandas", "pyarrow", "numpy"]
SECTIONS = ["import", "cases", "scale", "batch-scoring"]
OPTIONAL_SECTIONS = ["tuning"]  # run only when named: --only tuning (bench/tuning.py)
SCORING_STEPS = ["ingest_scoring", "predict"]


class Results:
    def __init__(self):
        self.samples: dict[tuple[str, str, str], list[CaseResult]] = {}
        self.plain_phases: dict[str, dict[str, float]] = {}
        self.scoring: dict[str, dict] = {}  # case -> {"rows": n, "outputs match": "yes" or what differs}
        self.tuning: tuple[str, bool] | None = None  # the tuning section's table, and whether both runs succeeded

    def failures(self, ways=(PRODUCT, PLAIN)) -> list[tuple[str, str, str, CaseResult]]:
        return [(s, c, w, r) for (s, c, w), rs in self.samples.items() if w in ways for r in rs if not r.ok]

    def add(self, section: str, way: str, result: CaseResult) -> None:
        self.samples.setdefault((section, result.case, way), []).append(result)

    def ok_seconds(self, section: str, case: str, way: str) -> list[float]:
        return [r.seconds for r in self.samples.get((section, case, way), []) if r.ok]


def product_steps_that_ran(output: str) -> list[str]:
    ran = set(re.findall(r"(?m)^\s+(\w+)\s+done in", output))
    return [step for step in RECIPE_STEPS if step in ran]


def run_product(recipe: Path, case: str, log: Path) -> CaseResult:
    cmd = [str(VENV_BIN / "recipe-assets"), "run", "--recipe-root", str(recipe), "--profile", "local"]
    try:
        m = measure(cmd, cwd=recipe.parent, env=clean_env(), log=log)
    except OSError as error:
        log.write_text(f"could not start {cmd}: {error}")
        return CaseResult(case, float("nan"), float("nan"), float("nan"), [], False, str(log))
    return CaseResult.of(case, m, product_steps_that_ran(m.output), log)


def run_plain_script(results: Results, section: str, recipe: Path, tracking_dir: Path, case: str, log: Path) -> None:
    report = log.with_suffix(".json")
    cmd = [sys.executable, str(BENCH / "plain.py"), str(recipe), "--workdir", str(tracking_dir), "--json", str(report)]
    m = measure(cmd, cwd=recipe.parent, env=clean_env(), log=log)
    results.add(section, PLAIN, CaseResult.of(case, m, list(RECIPE_STEPS) if m.returncode == 0 else [], log))
    if m.returncode == 0:
        results.plain_phases[case] = json.loads(report.read_text())["seconds"]


def fresh_copy(source: Path, dest: Path) -> Path:
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(source, dest)
    return dest


def bench_cases(results: Results, base: Path, work: Path, repeats: int, with_peer: bool) -> None:
    """The incremental cases, in order, each repeat on a fresh copy of `base`."""
    for repeat in range(repeats):
        product_recipe = fresh_copy(base, work / f"product-{repeat}" / "recipe")
        plain_recipe = fresh_copy(base, work / f"plain-{repeat}" / "recipe")
        for index, (case, edit) in enumerate(CASES):
            label = f"{repeat}-{index}-{case.replace(' ', '_')}"
            edit(product_recipe)
            results.add("cases", PRODUCT, run_product(product_recipe, case, work / f"product-{label}.log"))
            edit(plain_recipe)
            tracking = work / f"plain-{repeat}" / "tracking"
            run_plain_script(results, "cases", plain_recipe, tracking, case, work / f"plain-{label}.log")
            print(f"  repeat {repeat} {case}: done", flush=True)
        if with_peer:
            for result in run_peer_cases(base, work / f"peer-{repeat}"):
                results.add("cases", PEER, result)
            print(f"  repeat {repeat} peer: done", flush=True)


def bench_scale(results: Results, sizes: list[int], work: Path, repeats: int) -> None:
    """Cold runs at growing row counts, product and plain script only."""
    for rows in sizes:
        base = make_bench_recipe(work / f"scale-{rows}" / "base", rows)
        case = f"cold, {rows:,} rows"
        for repeat in range(repeats):
            recipe = fresh_copy(base, work / f"scale-{rows}" / f"product-{repeat}" / "recipe")
            results.add("scale", PRODUCT, run_product(recipe, case, work / f"scale-{rows}-product-{repeat}.log"))
            recipe = fresh_copy(base, work / f"scale-{rows}" / f"plain-{repeat}" / "recipe")
            tracking = work / f"scale-{rows}" / f"plain-{repeat}" / "tracking"
            run_plain_script(results, "scale", recipe, tracking, case, work / f"scale-{rows}-plain-{repeat}.log")
        print(f"  scale {rows:,}: done", flush=True)


def bench_definitions_import(results: Results, recipe: Path, work: Path, repeats: int) -> None:
    env = {**clean_env(), "RECIPE_ROOT": str(recipe), "RECIPE_PROFILE": "local"}
    cmd = [sys.executable, "-c", "import recipe_assets.definitions"]
    for repeat in range(repeats):
        log = work / f"import-{repeat}.log"
        m = measure(cmd, cwd=REPO, env=env, log=log)
        results.add("import", PRODUCT, CaseResult.of("import recipe_assets.definitions", m, [], log))


def bench_batch_scoring(results: Results, recipe: Path, work: Path, repeats: int, sizes: list[int]) -> None:
    """Train once, then score scaled-up parquet files: (a) `recipe-assets run --step predict`,
    (b) bench/plain_scoring.py with the same registered model from the same tracking store."""
    recipe = fresh_copy(recipe, work / "scoring" / "recipe")
    trained = run_product(recipe, "train (once, cold)", work / "scoring-train.log")
    results.add("scoring", PRODUCT, trained)
    registered = re.search(r"registered model: (\S+) .*tracking store (\S+)", Path(trained.log).read_text(errors="replace"))
    if not trained.ok or not registered:
        return
    model_uri, tracking_uri = registered.groups()
    for rows in sizes:
        case = f"score {rows:,} rows"
        results.scoring[case] = {"rows": rows, "outputs match": "not compared"}
        source = write_scoring_parquet(work / "scoring" / f"input-{rows}.parquet", rows)
        ours, plain = work / "scoring" / f"ours-{rows}.parquet", work / "scoring" / f"plain-{rows}.parquet"
        set_scoring_locations(recipe, source, ours)
        for repeat in range(repeats):
            label = f"scoring-{rows}-{repeat}"
            results.add("scoring", PRODUCT, run_product_scoring(recipe, case, work, label, forget_last=repeat > 0))
            cmd = [sys.executable, str(BENCH / "plain_scoring.py"), str(source), str(plain), "--tracking-uri", tracking_uri, "--model-uri", model_uri]
            log = work / f"{label}-plain.log"
            results.add("scoring", PLAIN, CaseResult.of(case, measure(cmd, cwd=work, env=clean_env(), log=log), ["score"], log))
        results.scoring[case]["outputs match"] = compare_predictions(ours, plain)
        for path in (source, ours, plain):
            path.unlink(missing_ok=True)
        print(f"  batch scoring {rows:,}: done", flush=True)


def set_scoring_locations(recipe: Path, source: Path, output: Path) -> None:
    profile = recipe / "profiles" / "local.yaml"
    config = yaml.safe_load(profile.read_text())
    config["INGEST_SCORING_CONFIG"]["location"] = str(source)
    config["PREDICT_OUTPUT_CONFIG"]["location"] = str(output)
    profile.write_text(yaml.safe_dump(config, sort_keys=False))


def run_product_scoring(recipe: Path, case: str, work: Path, label: str, forget_last: bool) -> CaseResult:
    """`run --step predict`; after the first repeat the inputs are unchanged, so clean first (untimed)."""
    base = [str(VENV_BIN / "recipe-assets")]
    where = ["--recipe-root", str(recipe), "--profile", "local"]
    if forget_last:
        log = work / f"{label}-clean.log"
        m = measure([*base, "clean", "--step", "ingest_scoring", *where], cwd=recipe.parent, env=clean_env(), log=log)
        if m.returncode != 0:
            return CaseResult.of(case, m, [], log)
    log = work / f"{label}-ours.log"
    m = measure([*base, "run", "--step", "predict", *where], cwd=recipe.parent, env=clean_env(), log=log)
    ran = [step for step in SCORING_STEPS if re.search(rf"(?m)^\s+{step}\s+done in", m.output)]
    result = CaseResult.of(case, m, ran, log)
    if result.ok and "predict" not in ran:
        with open(log, "a") as out:
            out.write("\nbench: exit 0 but predict did not run, so this run scored nothing\n")
        result.ok = False
    return result


def compare_predictions(ours: Path, plain: Path) -> str:
    import numpy as np
    import pyarrow.parquet as pq

    if not ours.exists() or not plain.exists():
        return "no output: " + ", ".join(p.name for p in (ours, plain) if not p.exists())
    a = pq.read_table(ours, columns=["prediction"]).column(0).to_numpy()
    b = pq.read_table(plain, columns=["prediction"]).column(0).to_numpy()
    if len(a) != len(b):
        return f"DIFFERENT: {len(a):,} vs {len(b):,} rows"
    return "yes" if np.allclose(a, b) else f"DIFFERENT: {int((~np.isclose(a, b)).sum()):,} predictions differ"


def package_versions(python: Path | None = None) -> dict[str, str]:
    if python is None:
        versions = {}
        for name in PACKAGES:
            try:
                versions[name] = importlib.metadata.version(name)
            except importlib.metadata.PackageNotFoundError:
                versions[name] = "-"
        return versions
    code = (
        "import importlib.metadata as m\n"
        f"for n in {PACKAGES!r}:\n"
        "    try: print(n, m.version(n))\n"
        "    except m.PackageNotFoundError: print(n, '-')\n"
    )
    out = subprocess.run([str(python), "-c", code], capture_output=True, text=True, check=True).stdout
    return dict(line.split(" ", 1) for line in out.splitlines())


def machine() -> dict[str, str]:
    meminfo = dict(line.split(":", 1) for line in Path("/proc/meminfo").read_text().splitlines())
    cpu = re.search(r"(?m)^model name\s*:\s*(.+)$", Path("/proc/cpuinfo").read_text())
    return {
        "cores": str(os.cpu_count()),
        "memory": f"{int(meminfo['MemTotal'].split()[0]) / 2**20:.1f} GiB",
        "cpu": cpu.group(1) if cpu else platform.processor(),
        "os": platform.platform(),
        "python": platform.python_version(),
    }


def fmt(value: float | None, digits: int = 2) -> str:
    return "n/a" if value is None or value != value else f"{value:.{digits}f}"


def summary_row(results: Results, section: str, case: str, way: str) -> tuple[float | None, str]:
    samples = results.samples.get((section, case, way), [])
    seconds = results.ok_seconds(section, case, way)
    median = statistics.median(seconds) if seconds else None
    if not seconds:
        return None, f"| {case} | {way} | 0/{len(samples)} | n/a | n/a | n/a | n/a | failed: {last_line(samples[-1].log) if samples else '-'} |"
    ok = [r for r in samples if r.ok]
    steps = ", ".join(ok[-1].steps_ran) or "none"
    failed = [r for r in samples if not r.ok]
    if failed:
        steps += f"; {len(failed)} failed: {last_line(failed[-1].log)}"
    row = (
        f"| {case} | {way} | {len(seconds)}/{len(samples)} | {fmt(min(seconds))} | {fmt(median)} "
        f"| {fmt(max(r.tree_rss_mb for r in ok), 0)} | {fmt(max(r.max_process_rss_mb for r in ok), 0)} | {steps} |"
    )
    return median, row


def last_line(log: str) -> str:
    lines = [line.strip() for line in Path(log).read_text(errors="replace").splitlines() if line.strip()]
    return (lines[-1] if lines else "no output").replace("|", "/")[:160]


def ratio(numerator: float | None, denominator: float | None) -> str:
    return "n/a" if not numerator or not denominator else f"{numerator / denominator:.2f}"


TABLE_HEAD = [
    "| case | way | ok runs | min s | median s | tree RSS MB | max process RSS MB | steps ran |",
    "|---|---|---|---|---|---|---|---|",
]


def write_report(results: Results, path: Path, args: argparse.Namespace, started: float) -> None:
    sections = {section for section, _, _ in results.samples}
    lines = header_lines(args, started) + failure_lines(results)
    if "cases" in sections:
        lines += cases_lines(results, args)
    if "scale" in sections:
        lines += scale_lines(results)
    if results.plain_phases:
        lines += plain_phase_lines(results)
    if "import" in sections:
        lines += ["", "## Definitions load", "", *TABLE_HEAD, summary_row(results, "import", "import recipe_assets.definitions", PRODUCT)[1]]
    if "scoring" in sections:
        lines += scoring_lines(results, args)
    if results.tuning:
        lines += ["", "## Tuning", "", results.tuning[0]]
    path.write_text("\n".join(lines) + "\n")


def header_lines(args: argparse.Namespace, started: float) -> list[str]:
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `uv run python bench/run.py {shlex.join(sys.argv[1:])}` "
        f"on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} in {time.perf_counter() - started:.0f} s; "
        f"each figure is the min or median of the {args.repeats} repeat(s) of this run, each ratio a ratio of medians of this run.",
        "",
        "## Machine and versions",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        f"- ours (a, b): " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
    ]
    if args.with_peer:
        lines.append("- peer (c): " + ", ".join(f"{k} {v}" for k, v in package_versions(PEER_VENV / "bin" / "python").items()))
    return lines + [
        "",
        "Each number is one subprocess, start to exit: (a) `recipe-assets run --recipe-root DIR --profile local`, "
        "(b) `python bench/plain.py DIR` (no cache: it redoes all the work every time), "
        "(c) `mlflow recipes run --profile local` in the recipe dir. "
        "Tree RSS: peak of the summed RSS of the process and all its descendants, polled every 50 ms "
        "(shared pages count once per process). Max process RSS: `wait4` ru_maxrss, the largest single process. "
        "Steps ran: (a) from the CLI's progress lines, (c) from MLflow Recipes' `Running step` lines and its Makefile's `Run MLflow Recipe step` echoes. "
        "Every way runs without the caller's MLFLOW_*, DAGSTER_*, RECIPE_* and PYTHON* variables (bench/measure.py's clean_env).",
    ]


def failure_lines(results: Results) -> list[str]:
    failed = results.failures(ways=(PRODUCT, PLAIN, PEER))
    mismatched = {case: v["outputs match"] for case, v in results.scoring.items() if v["outputs match"] != "yes"}
    if not failed and not mismatched:
        return ["", "All runs succeeded."]
    lines = ["", f"## FAILURES: {len(failed)} failed run(s), {len(mismatched)} batch-scoring output mismatch(es)", ""]
    lines += [f"- {section} / {case} / {way}: {last_line(r.log)} (log {r.log})" for section, case, way, r in failed]
    lines += [f"- scoring / {case}: outputs of (a) and (b) {check}" for case, check in mismatched.items()]
    return lines


def cases_lines(results: Results, args: argparse.Namespace) -> list[str]:
    ways = [PRODUCT, PLAIN] + ([PEER] if args.with_peer else [])
    lines = ["", f"## Incremental cases (NYC taxi sample, {args.case_rows or 10000:,} rows; in order on one recipe copy)", "", *TABLE_HEAD]
    medians: dict[tuple[str, str], float | None] = {}
    for case, _ in CASES:
        for way in ways:
            medians[case, way], row = summary_row(results, "cases", case, way)
            lines.append(row)
    lines += ["", "| case | a/b (median) | a/c (median) |", "|---|---|---|"]
    for case, _ in CASES:
        lines.append(f"| {case} | {ratio(medians[case, PRODUCT], medians[case, PLAIN])} | {ratio(medians[case, PRODUCT], medians.get((case, PEER)))} |")
    return lines


def scale_lines(results: Results) -> list[str]:
    lines = ["", "## Scale (cold runs)", "", *TABLE_HEAD]
    scale_cases = sorted({case for section, case, _ in results.samples if section == "scale"}, key=lambda c: int(re.sub(r"\D", "", c)))
    scale_ratios = []
    for case in scale_cases:
        a, row_a = summary_row(results, "scale", case, PRODUCT)
        b, row_b = summary_row(results, "scale", case, PLAIN)
        lines += [row_a, row_b]
        scale_ratios.append(f"| {case} | {ratio(a, b)} |")
    return lines + ["", "| case | a/b (median) |", "|---|---|", *scale_ratios]


def plain_phase_lines(results: Results) -> list[str]:
    lines = ["", "## Where the plain script spends its time (seconds, last repeat; process start-up not included)", ""]
    phases = list(next(iter(results.plain_phases.values())))
    lines += ["| case | " + " | ".join(phases) + " |", "|---|" + "---|" * len(phases)]
    for case, seconds in results.plain_phases.items():
        lines.append(f"| {case} | " + " | ".join(fmt(seconds.get(p)) for p in phases) + " |")
    return lines


def scoring_lines(results: Results, args: argparse.Namespace) -> list[str]:
    lines = [
        "",
        "## Batch scoring",
        "",
        (f"Train once (cold `recipe-assets run` on the {args.case_rows or 10000:,}-row bench recipe), then per size score one "
        "parquet file of NYC-like trips in row groups of 65,536 rows, writing the rows plus a float64 `prediction` column. "
        "(a) `recipe-assets run --step predict`: ingest_scoring (fingerprints the input file) then predict "
        "(record batches of 65,536 rows); before each repeat but the first, an untimed `recipe-assets clean --step ingest_scoring`. "
        "(b) `python bench/plain_scoring.py`: `mlflow.sklearn.load_model` of the same registered version from the same "
        "tracking store, `ParquetFile(pre_buffer=False).iter_batches(batch_size=65536)`, predict, `ParquetWriter`. "
        "Both are whole processes, so both include interpreter start-up, imports and model load. "
        "Outputs compared once per size after the last repeat: same row count and `np.allclose` predictions."),
        "",
        *TABLE_HEAD,
        summary_row(results, "scoring", "train (once, cold)", PRODUCT)[1],
    ]
    throughput = ["", "| rows | a rows/s | b rows/s | a/b wall (median) | a tree RSS MB | b tree RSS MB | same rows and predictions |", "|---|---|---|---|---|---|---|"]
    peaks: dict[str, list[tuple[int, float]]] = {PRODUCT: [], PLAIN: []}
    for case, info in results.scoring.items():
        rows, medians = info["rows"], {}
        for way in (PRODUCT, PLAIN):
            medians[way], row = summary_row(results, "scoring", case, way)
            lines.append(row)
            ok = [r.tree_rss_mb for r in results.samples.get(("scoring", case, way), []) if r.ok]
            if ok:
                peaks[way].append((rows, max(ok)))
        rss = {way: next((f"{mb:.0f}" for n, mb in peaks[way] if n == rows), "n/a") for way in peaks}
        throughput.append(
            f"| {rows:,} | {fmt(rows / medians[PRODUCT] if medians[PRODUCT] else None, 0)} "
            f"| {fmt(rows / medians[PLAIN] if medians[PLAIN] else None, 0)} | {ratio(medians[PRODUCT], medians[PLAIN])} "
            f"| {rss[PRODUCT]} | {rss[PLAIN]} | {info['outputs match']} |"
        )
    lines += throughput
    if all(len(p) >= 2 for p in peaks.values()):
        (small, _), (large, _) = peaks[PRODUCT][0], peaks[PRODUCT][-1]
        growth = "; ".join(f"{way}: {p[0][1]:.0f} → {p[-1][1]:.0f} MB ({p[-1][1] / p[0][1]:.2f}×)" for way, p in peaks.items())
        lines += ["", f"Peak tree RSS from {small:,} to {large:,} rows ({large / small:.0f}× the data; bounded memory means ≈ 1×): {growth}."]
    return lines


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat, no peer (for CI)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--only", action="append", choices=SECTIONS + OPTIONAL_SECTIONS, default=None, help="run only this section (repeatable)")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/RESULTS.md (smoke: bench/out/RESULTS-smoke.md, --only: bench/out/RESULTS-partial.md)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, recipe copies); kept anyway when a run failed")
    args = parser.parse_args()
    only = set(args.only or SECTIONS)
    if args.smoke:
        args.repeats, args.skip_peer = 1, True
    args.with_peer = not args.skip_peer and "cases" in only
    args.case_rows = 2000 if args.smoke else None
    sizes = [1000] if args.smoke else [10_000, 100_000, 1_000_000]
    scoring_sizes = [20_000] if args.smoke else [1_000_000, 10_000_000]
    default_output = BENCH / "out" / "RESULTS-smoke.md" if args.smoke else BENCH / "out" / "RESULTS-partial.md" if args.only else BENCH / "RESULTS.md"
    output = args.output or default_output

    started = time.perf_counter()
    (BENCH / "out").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH / "out"))
    print(f"work dir: {work}", flush=True)
    if args.with_peer:
        ensure_peer_venv()
    results = Results()
    base = make_bench_recipe(work / "base", args.case_rows)
    if "import" in only:
        bench_definitions_import(results, base, work, args.repeats)
    if "cases" in only:
        bench_cases(results, base, work, args.repeats, args.with_peer)
    if "scale" in only:
        bench_scale(results, sizes, work, args.repeats)
    if "batch-scoring" in only:
        bench_batch_scoring(results, base, work, args.repeats, scoring_sizes)
    if "tuning" in only:
        from tuning import tuning_section

        results.tuning = tuning_section(work / "tuning", trials=4 if args.smoke else 20, parallelism=2)
    write_report(results, output, args, started)
    print(f"wrote {output} in {time.perf_counter() - started:.0f} s", flush=True)
    failed = results.failures() + [case for case, v in results.scoring.items() if v["outputs match"] != "yes"]
    failed += ["tuning"] if results.tuning and not results.tuning[1] else []
    if failed:
        print(f"FAILED: {len(failed)} run(s) of ours or the plain scripts failed or disagreed; see {output}; logs kept in {work}", file=sys.stderr)
        sys.exit(1)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
