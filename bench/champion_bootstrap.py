"""What the champion gate's paired bootstrap costs at 10,000 and 1,000,000 test rows: wall and CPU seconds and
peak memory the bootstrap itself allocates (tracemalloc), for a per-row-mean metric (RMSE, vectorised) and a
metric recomputed on every resample (ROC AUC), 1,000 resamples, fixed seed. Predictions are synthetic: the cost
depends on the row count, not on the model.

    uv run python bench/champion_bootstrap.py [--rows 10000 1000000]
"""
from __future__ import annotations

import argparse
import time
import tracemalloc

import numpy as np


def measure(label: str, run) -> None:
    tracemalloc.start()
    wall, cpu = time.perf_counter(), time.process_time()
    result = run()
    wall, cpu = time.perf_counter() - wall, time.process_time() - cpu
    peak = tracemalloc.get_traced_memory()[1] / 2**20
    tracemalloc.stop()
    print(
        f"| {label} | {result.rows:,} | {result.rows_per_resample:,} | {result.resamples} | {wall:.2f} | {cpu:.2f} | {peak:.0f} | "
        f"{result.difference:+.5f} [{result.low:+.5f}, {result.high:+.5f}] |"
    )


def main() -> None:
    from sklearn.metrics import roc_auc_score

    from recipe_assets.ml.champion import Predictions, paired_bootstrap_recomputed, paired_bootstrap_terms

    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--rows", type=int, nargs="+", default=[10_000, 1_000_000])
    args = parser.parse_args()
    print("| metric | test rows | rows per resample | resamples | wall s | cpu s | peak MB | difference [95% interval] |")
    print("|---|---|---|---|---|---|---|---|")
    for n in args.rows:
        rng = np.random.default_rng(0)
        truth = rng.normal(10, 3, n)
        shared = rng.normal(0, 1, n)
        candidate, champion = truth + shared + rng.normal(0, 0.5, n), truth + shared + rng.normal(0, 0.55, n)
        measure("root_mean_squared_error", lambda: paired_bootstrap_terms("root_mean_squared_error", truth, Predictions(candidate), Predictions(champion)))

        labels = truth > 10
        def auc_difference(rows):
            return roc_auc_score(labels[rows], candidate[rows]) - roc_auc_score(labels[rows], champion[rows])

        whole = roc_auc_score(labels, candidate) - roc_auc_score(labels, champion)
        measure("roc_auc (recomputed)", lambda: paired_bootstrap_recomputed("roc_auc", n, auc_difference, whole))


if __name__ == "__main__":
    main()
