"""Bench case "tuning": the same 20-trial search on the NYC sample through MLflow Recipes 2.22.2 (parallelism 1:
its parallel path needs Spark) and through recipe-assets (parallelism 2, local processes), in one run.

    uv run python bench/tuning.py [--trials 20] [--output bench/out/tuning.md]

Both run `run` cold on a fresh copy of the bench recipe with a GradientBoostingRegressor whose max_depth
and learning_rate are tuned by TPE; wall time is the whole run (ingest to register), the metric is the
trained model's validation RMSE as each logged it.
"""
from __future__ import annotations

import argparse
import json
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path

from data import make_bench_recipe
from measure import clean_env, measure
from peer import PEER_VENV, ensure_peer_venv, peer_env

BENCH = Path(__file__).resolve().parent
VENV_BIN = Path(sys.prefix) / "bin"
PEER_TUNING_REQUIREMENTS = ["hyperopt==0.2.7", "setuptools<81"]  # hyperopt 0.2.7 imports pkg_resources

ESTIMATOR = '''"""A tree model for the tuning bench."""


def estimator_fn(estimator_params=None):
    from sklearn.ensemble import GradientBoostingRegressor

    return GradientBoostingRegressor(n_estimators=100, random_state=42, **(estimator_params or {}))
'''

TUNING = """\
    estimator_method: estimator_fn
    tuning:
      enabled: true
      algorithm: hyperopt.tpe.suggest
      max_trials: {trials}
      parallelism: {parallelism}
      parameters:
        max_depth:
          values: [2, 3, 4, 5, 6, 7, 8]
        learning_rate:
          distribution: loguniform
          low: -4.6
          high: -0.7
"""

PEER_METRIC = """
import json, sys, mlflow
mlflow.set_tracking_uri(sys.argv[1])
runs = mlflow.search_runs(search_all_experiments=True, filter_string="tags.mlflow.runName != ''")
parents = runs[runs["tags.mlflow.parentRunId"].isna()] if "tags.mlflow.parentRunId" in runs else runs
children = len(runs) - len(parents)
print(json.dumps({"val_rmse": float(parents["metrics.val_root_mean_squared_error"].dropna().iloc[0]), "trials": int(children)}))
"""


def tuning_recipe(dest: Path, trials: int, parallelism: int) -> Path:
    recipe = make_bench_recipe(dest)
    (recipe / "steps" / "train.py").write_text(ESTIMATOR)
    text = (recipe / "recipe.yaml").read_text()
    assert "    estimator_method: estimator_fn\n" in text
    (recipe / "recipe.yaml").write_text(text.replace("    estimator_method: estimator_fn\n", TUNING.format(trials=trials, parallelism=parallelism), 1))
    return recipe


def ensure_peer_hyperopt(venv: Path) -> None:
    python = venv / "bin" / "python"
    if subprocess.run([str(python), "-c", "import hyperopt, pkg_resources"], capture_output=True).returncode != 0:
        uv = [shutil.which("uv")] if shutil.which("uv") else [shutil.which("python3") or "python3", "-m", "uv"]
        subprocess.run([*uv, "pip", "install", "--quiet", "--python", str(python), *PEER_TUNING_REQUIREMENTS], check=True)


def run_peer(work: Path, trials: int) -> dict:
    venv = ensure_peer_venv(PEER_VENV)
    ensure_peer_hyperopt(venv)
    recipe = tuning_recipe(work / "peer" / "recipe", trials, parallelism=1)
    home = work / "peer" / "home"
    home.mkdir(parents=True)
    env = peer_env(venv, home)
    m = measure([str(venv / "bin" / "mlflow"), "recipes", "run", "--profile", "local"], cwd=recipe, env=env, log=work / "peer.log")
    result = {"seconds": m.seconds, "ok": m.returncode == 0, "log": str(work / "peer.log")}
    if result["ok"]:
        uri = f"sqlite:///{recipe / 'metadata' / 'mlflow' / 'mlruns.db'}"
        found = subprocess.run([str(venv / "bin" / "python"), "-c", PEER_METRIC, uri], capture_output=True, text=True, env=env, cwd=recipe)
        result.update(json.loads(found.stdout) if found.returncode == 0 else {"error": found.stderr[-500:]})
    return result


def run_ours(work: Path, trials: int, parallelism: int) -> dict:
    from mlflow.tracking import MlflowClient

    recipe = tuning_recipe(work / "ours" / "recipe", trials, parallelism)
    m = measure([str(VENV_BIN / "recipe-assets"), "run", "--recipe-root", str(recipe), "--profile", "local"], cwd=recipe.parent, env=clean_env(), log=work / "ours.log")
    result = {"seconds": m.seconds, "ok": m.returncode == 0, "log": str(work / "ours.log")}
    if result["ok"]:
        client = MlflowClient(tracking_uri=f"sqlite:///{recipe / 'metadata' / 'mlflow' / 'mlruns.db'}")
        experiments = [e.experiment_id for e in client.search_experiments()]
        runs = client.search_runs(experiments)
        parent = next(r for r in runs if "mlflow.parentRunId" not in r.data.tags and "val_root_mean_squared_error" in r.data.metrics)
        result["val_rmse"] = parent.data.metrics["val_root_mean_squared_error"]
        result["trials"] = sum(1 for r in runs if r.data.tags.get("mlflow.parentRunId") == parent.info.run_id)
    return result


def report(peer: dict, ours: dict, trials: int, parallelism: int) -> str:
    def row(name: str, parallel: int, r: dict) -> str:
        rmse = f"{r['val_rmse']:.4f}" if "val_rmse" in r else "failed"
        return f"| {name} | {parallel} | {r.get('trials', '?')} | {r['seconds']:.1f} | {rmse} |"

    ratio = ours["seconds"] / peer["seconds"] if peer["ok"] and ours["ok"] else float("nan")
    return "\n".join(
        [
            f"### Tuning: {trials} TPE trials on the NYC sample (GradientBoostingRegressor: max_depth, learning_rate)",
            "",
            "Whole cold run (ingest to register), one run each, same recipe; metric = the trained model's validation RMSE.",
            "",
            "| way | parallelism | nested trial runs | wall s | validation RMSE |",
            "|---|---|---|---|---|",
            row("c: MLflow Recipes 2.22.2", 1, peer),
            row("a: recipe-assets", parallelism, ours),
            "",
            f"recipe-assets / MLflow Recipes wall time: {ratio:.2f}x",
        ]
    )


def tuning_section(work: Path, trials: int, parallelism: int) -> tuple[str, bool]:
    """Both runs in `work`; the report (with the failed run's log tail) and whether both succeeded."""
    work.mkdir(parents=True, exist_ok=True)
    peer = run_peer(work, trials)
    ours = run_ours(work, trials, parallelism)
    text = report(peer, ours, trials, parallelism)
    for name, r in (("peer", peer), ("ours", ours)):
        if not r["ok"]:
            text += f"\n\n{name} failed:\n```\n{Path(r['log']).read_text()[-3000:]}\n```"
    return text, peer["ok"] and ours["ok"]


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--trials", type=int, default=20)
    parser.add_argument("--parallelism", type=int, default=2)
    parser.add_argument("--output", type=Path, default=BENCH / "out" / "tuning.md")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-tuning-") as tmp:
        text, ok = tuning_section(Path(tmp), args.trials, args.parallelism)
    args.output.parent.mkdir(parents=True, exist_ok=True)
    args.output.write_text(text + "\n")
    print(text)
    sys.exit(0 if ok else 1)


if __name__ == "__main__":
    main()
