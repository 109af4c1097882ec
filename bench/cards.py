"""What step cards cost a run: a cold `recipe-assets run` on the NYC recipe at each size, then the card
time each step recorded in its run summary: wall and CPU seconds of the step's thread spent on plots
(waiting for the drawing process included), card tables and profiles. CPU time is the figure to compare
on a machine shared with other work.

    uv run python bench/cards.py [--rows 10000 1000000]
"""
from __future__ import annotations

import argparse
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from data import make_bench_recipe

BENCH = Path(__file__).resolve().parent
CARD_COST = "card s (plots, card tables)"
CARD_CPU = "card cpu s"


def card_seconds(recipe_dir: Path) -> dict[str, tuple[float, float]]:
    """Step -> (wall, CPU) seconds spent on its card, from the latest materialization of its outputs."""
    from recipe_assets.steps.registry import STEP_OUTPUTS
    from recipe_assets.app.recipe import Recipe

    recipe = Recipe(recipe_root=recipe_dir)
    found = {}
    for step in recipe.steps:
        for name in STEP_OUTPUTS[step]:
            event = recipe.instance.get_latest_materialization_event(recipe.key(name))
            summary = event.asset_materialization.metadata.get("run summary") if event else None
            if summary is not None:
                rows = {record.data["item"]: record.data["value"] for record in summary.records}
                found[step] = (float(rows[CARD_COST]), float(rows[CARD_CPU]))
                break
    return found


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as work:
        for rows in args.rows:
            recipe = make_bench_recipe(Path(work) / f"cards-{rows}", rows)
            started = time.perf_counter()
            done = subprocess.run([sys.executable, "-m", "recipe_assets.app.cli", "run", "--recipe-root", str(recipe)], capture_output=True, text=True)
            if done.returncode != 0:
                raise SystemExit(f"{rows:,} rows: the run failed\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
            total = time.perf_counter() - started
            costs = card_seconds(recipe)
            per_step = ", ".join(f"{step} {wall:.2f}/{cpu:.2f}" for step, (wall, cpu) in costs.items())
            wall, cpu = sum(w for w, _ in costs.values()), sum(c for _, c in costs.values())
            print(f"{rows:>9,} rows: cold run {total:.1f} s; cards {wall:.2f} s wall, {cpu:.2f} s CPU (step wall/CPU: {per_step})", flush=True)


if __name__ == "__main__":
    sys.path.insert(0, str(BENCH))
    main()
