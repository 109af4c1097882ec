"""The peer: MLflow Recipes 2.22.2, run through its CLI in its own venv and timed on the bench cases."""
from __future__ import annotations

import argparse
import contextlib
import fcntl
import json
import os
import re
import shutil
import subprocess
import sys
import tempfile
from dataclasses import asdict
from pathlib import Path

from cases import CASES
from measure import CaseResult, measure

BENCH = Path(__file__).resolve().parent
PEER_VENV = BENCH / "out" / "peer-venv"
PEER_REQUIREMENTS = ["mlflow==2.22.2", "scikit-learn==1.5.2", "pandas==2.2.3", "sqlalchemy<2.1"]
RECIPE_STEPS = ["ingest", "split", "transform", "train", "evaluate", "register"]


def uv_command() -> list[str]:
    """uv itself, or `python -m uv` where it is installed as a module only (.ci/run installs it into the
    interpreter the project venv is made from, which is not the venv's own python)."""
    if shutil.which("uv"):
        return [shutil.which("uv")]
    for python in dict.fromkeys([getattr(sys, "_base_executable", sys.executable), sys.executable, shutil.which("python3"), shutil.which("python")]):
        if python and subprocess.run([python, "-m", "uv", "--version"], capture_output=True).returncode == 0:
            return [python, "-m", "uv"]
    raise FileNotFoundError("uv is needed to create the MLflow Recipes venv: `python -m pip install uv`")


@contextlib.contextmanager
def venv_lock(venv: Path):
    """One process at a time creates or changes the peer's venv (pytest-xdist workers share it)."""
    venv.parent.mkdir(parents=True, exist_ok=True)
    with open(venv.parent / f"{venv.name}.lock", "w") as handle:
        fcntl.flock(handle, fcntl.LOCK_EX)
        yield


def ensure_peer_venv(venv: Path = PEER_VENV) -> Path:
    """Create the peer's venv once; a marker file records what was installed."""
    marker = venv / "bench-requirements.json"
    with venv_lock(venv):
        if marker.exists() and json.loads(marker.read_text()) == PEER_REQUIREMENTS:
            return venv
        if venv.exists():
            shutil.rmtree(venv)
        subprocess.run([*uv_command(), "venv", "--quiet", "--python", "3.11", str(venv)], check=True)
        subprocess.run([*uv_command(), "pip", "install", "--quiet", "--python", str(venv / "bin" / "python"), *PEER_REQUIREMENTS], check=True)
        marker.write_text(json.dumps(PEER_REQUIREMENTS))
    return venv


def ensure_peer_pytest(venv: Path = PEER_VENV) -> Path:
    """pytest in the peer's venv, for running a published recipe's own step tests as they ran there."""
    python = venv / "bin" / "python"
    with venv_lock(venv):
        if subprocess.run([str(python), "-c", "import pytest"], capture_output=True).returncode != 0:
            subprocess.run([*uv_command(), "pip", "install", "--quiet", "--python", str(python), "pytest<9"], check=True)
    return venv / "bin" / "pytest"


def peer_env(venv: Path, home: Path) -> dict:
    """The step Makefile calls bare `python`, and MLflow Recipes caches under ~/.mlflow/recipes.
    Matplotlib's font cache lives outside HOME so only the first ever peer run pays for building it."""
    env = {k: v for k, v in os.environ.items() if not k.startswith(("MLFLOW_", "PYTHON", "UV_"))}
    env.update(PATH=f"{venv / 'bin'}:{env.get('PATH', '')}", HOME=str(home), VIRTUAL_ENV=str(venv))
    env["MPLCONFIGDIR"] = str(venv.parent / "peer-matplotlib")
    return env


def steps_that_ran(output: str) -> list[str]:
    """From the step Makefile's `Run MLflow Recipe step: X` echoes and the `Running step X...` log lines: the
    log line alone can be cut by another process's output written into the same log (seen for evaluate)."""
    ran = set(re.findall(r"Running step (\w+)\.\.\.|Run MLflow Recipe step: (\w+)", output))
    ran = {step for pair in ran for step in pair if step}
    return [step for step in RECIPE_STEPS if step in ran]


def run_peer_cases(recipe_dir: Path, workdir: Path, venv: Path | None = None) -> list[CaseResult]:
    """Time the bench cases in order on a fresh copy of `recipe_dir` with a fresh peer cache."""
    venv = ensure_peer_venv(venv or PEER_VENV)
    workdir = workdir.resolve()
    workdir.mkdir(parents=True, exist_ok=True)
    recipe, home = workdir / "peer-recipe", workdir / "peer-home"
    for stale in (recipe, home):
        if stale.exists():
            shutil.rmtree(stale)
    shutil.copytree(recipe_dir, recipe)
    home.mkdir()
    env = peer_env(venv, home)
    results = []
    for index, (case, edit) in enumerate(CASES):
        edit(recipe)
        log = workdir / f"peer-{index}-{case.replace(' ', '_')}.log"
        m = measure([str(venv / "bin" / "mlflow"), "recipes", "run", "--profile", "local"], cwd=recipe, env=env, log=log)
        results.append(CaseResult.of(case, m, steps_that_ran(m.output), log))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--recipe", type=Path, default=None, help="default: the template with the NYC sample")
    parser.add_argument("--workdir", type=Path, default=None)
    args = parser.parse_args()
    workdir = args.workdir or Path(tempfile.mkdtemp(prefix="peer-", dir=BENCH / "out"))
    recipe = args.recipe
    if recipe is None:
        from data import make_bench_recipe

        recipe = make_bench_recipe(workdir / "recipe")
    for result in run_peer_cases(recipe, workdir):
        row = asdict(result)
        print(json.dumps(row))


if __name__ == "__main__":
    main()
