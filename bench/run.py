"""Benchmark driver: our product vs the plain-script floor vs MLflow Recipes 2.22.2; writes RESULTS.md.

    uv run python bench/run.py [--smoke] [--repeats 3] [--skip-peer]
"""
from __future__ import annotations

import argparse
import datetime as dt
import importlib.metadata
import json
import os
import platform
import re
import shutil
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from cases import CASES
from data import make_bench_recipe
from measure import CaseResult, measure
from peer import PEER_VENV, RECIPE_STEPS, ensure_peer_venv, run_peer_cases

BENCH = Path(__file__).resolve().parent
REPO = BENCH.parent
VENV_BIN = Path(sys.prefix) / "bin"
PRODUCT, PLAIN, PEER = "a: recipe-assets", "b: plain script", "c: MLflow Recipes 2.22.2"
PACKAGES = ["dagster", "mlflow", "scikit-learn", "pandas", "pyarrow", "numpy"]


class Results:
    def __init__(self):
        self.samples: dict[tuple[str, str, str], list[CaseResult]] = {}
        self.plain_phases: dict[str, dict[str, float]] = {}

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


def clean_env() -> dict:
    return {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "DAGSTER_", "RECIPE_"))}


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


def bench_batch_scoring(results: Results, recipe: Path, work: Path, repeats: int) -> None:
    """Hook for the batch-scoring benchmark (a later issue): adds rows to section "scoring" once written."""


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


def write_report(results: Results, path: Path, args: argparse.Namespace, started: float) -> None:
    ways = [PRODUCT, PLAIN, PEER]
    lines = [
        "# Benchmark results",
        "",
        f"Generated by `uv run python bench/run.py{' --smoke' if args.smoke else ''} --repeats {args.repeats}` "
        f"on {dt.datetime.now(dt.timezone.utc):%Y-%m-%d %H:%M UTC} in {time.perf_counter() - started:.0f} s.",
        "",
        "## Machine and versions",
        "",
        *[f"- {k}: {v}" for k, v in machine().items()],
        f"- ours (a, b): " + ", ".join(f"{k} {v}" for k, v in package_versions().items()),
    ]
    if args.with_peer:
        lines.append("- peer (c): " + ", ".join(f"{k} {v}" for k, v in package_versions(PEER_VENV / "bin" / "python").items()))
    lines += [
        "",
        "Each number is one subprocess, start to exit: (a) `recipe-assets run --recipe-root DIR --profile local`, "
        "(b) `python bench/plain.py DIR` (no cache: it redoes all the work every time), "
        "(c) `mlflow recipes run --profile local` in the recipe dir. "
        "Tree RSS: peak of the summed RSS of the process and all its descendants, polled every 50 ms "
        "(shared pages count once per process). Max process RSS: `wait4` ru_maxrss, the largest single process. "
        "Steps ran: (a) from the CLI's progress lines, (c) from MLflow Recipes' `Running step` lines.",
        "",
        f"## Incremental cases (NYC taxi sample, {args.case_rows or 10000:,} rows; in order on one recipe copy)",
        "",
        "| case | way | ok runs | min s | median s | tree RSS MB | max process RSS MB | steps ran |",
        "|---|---|---|---|---|---|---|---|",
    ]
    medians: dict[tuple[str, str], float | None] = {}
    for case, _ in CASES:
        for way in ways:
            if way == PEER and not args.with_peer:
                continue
            medians[case, way], row = summary_row(results, "cases", case, way)
            lines.append(row)
    lines += ["", "| case | a/b (median) | a/c (median) |", "|---|---|---|"]
    for case, _ in CASES:
        lines.append(f"| {case} | {ratio(medians[case, PRODUCT], medians[case, PLAIN])} | {ratio(medians[case, PRODUCT], medians.get((case, PEER)))} |")
    lines += ["", "## Scale (cold runs)", "", "| case | way | ok runs | min s | median s | tree RSS MB | max process RSS MB | steps ran |", "|---|---|---|---|---|---|---|---|"]
    scale_cases = sorted({case for section, case, _ in results.samples if section == "scale"}, key=lambda c: int(re.sub(r"\D", "", c)))
    scale_ratios = []
    for case in scale_cases:
        a, row_a = summary_row(results, "scale", case, PRODUCT)
        b, row_b = summary_row(results, "scale", case, PLAIN)
        lines += [row_a, row_b]
        scale_ratios.append(f"| {case} | {ratio(a, b)} |")
    lines += ["", "| case | a/b (median) |", "|---|---|", *scale_ratios]
    lines += ["", "## Where the plain script spends its time (seconds, last repeat; process start-up not included)", ""]
    phases = list(next(iter(results.plain_phases.values()), {}))
    lines += ["| case | " + " | ".join(phases) + " |", "|---|" + "---|" * len(phases)]
    for case, seconds in results.plain_phases.items():
        lines.append(f"| {case} | " + " | ".join(fmt(seconds.get(p)) for p in phases) + " |")
    lines += ["", "## Definitions load", "", "| case | way | ok runs | min s | median s | tree RSS MB | max process RSS MB | steps ran |", "|---|---|---|---|---|---|---|---|"]
    lines.append(summary_row(results, "import", "import recipe_assets.definitions", PRODUCT)[1])
    path.write_text("\n".join(lines) + "\n")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--smoke", action="store_true", help="tiny sizes, 1 repeat, no peer (for CI)")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--skip-peer", action="store_true")
    parser.add_argument("--output", type=Path, default=None, help="default: bench/RESULTS.md (smoke: bench/out/RESULTS-smoke.md)")
    parser.add_argument("--keep", action="store_true", help="keep the work dir (logs, recipe copies)")
    args = parser.parse_args()
    if args.smoke:
        args.repeats, args.skip_peer = 1, True
    args.with_peer = not args.skip_peer
    args.case_rows = 2000 if args.smoke else None
    sizes = [1000] if args.smoke else [10_000, 100_000, 1_000_000]
    output = args.output or (BENCH / "out" / "RESULTS-smoke.md" if args.smoke else BENCH / "RESULTS.md")

    started = time.perf_counter()
    (BENCH / "out").mkdir(exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="run-", dir=BENCH / "out"))
    print(f"work dir: {work}", flush=True)
    if args.with_peer:
        ensure_peer_venv()
    results = Results()
    base = make_bench_recipe(work / "base", args.case_rows)
    bench_definitions_import(results, base, work, args.repeats)
    bench_cases(results, base, work, args.repeats, args.with_peer)
    bench_scale(results, sizes, work, args.repeats)
    bench_batch_scoring(results, base, work, args.repeats)
    write_report(results, output, args, started)
    print(f"wrote {output} in {time.perf_counter() - started:.0f} s", flush=True)
    if not args.keep:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
