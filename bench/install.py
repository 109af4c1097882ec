"""What a newcomer's install costs: the README's two commands on a fresh clone, and `pip install recipe-assets`.

    python bench/install.py [--ref main] [--ref 2b5e0cc ...]

For each git ref: clone it into a temp folder (with ../shared beside it, as CI lays it out), then time
1. the README's first command (uv installs the base package and runs the regression template), and measure
   the venv it left;
2. the test command's install (`uv sync --locked`: the dev group and every extra), and measure that venv;
3. the built wheel installed with no extras into a fresh venv (what `pip install recipe-assets` installs),
   with the lock's versions as constraints.
uv's package cache is the machine's own (warm after one run); the figures are printed as a Markdown table.
"""
from __future__ import annotations

import argparse
import os
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]


def uv() -> list[str]:
    return [shutil.which("uv")] if shutil.which("uv") else [sys.executable, "-m", "uv"]


def folder_mb(path: Path) -> int:
    total = sum(f.stat().st_size for f in path.rglob("*") if f.is_file() and not f.is_symlink())
    return round(total / 2**20)


def timed(command: list[str], cwd: Path, env: dict[str, str]) -> float:
    began = time.perf_counter()
    done = subprocess.run(command, cwd=cwd, env=env, capture_output=True, text=True)
    if done.returncode != 0:
        raise SystemExit(f"{' '.join(command)} failed in {cwd}:\n{done.stdout[-2000:]}\n{done.stderr[-3000:]}")
    return time.perf_counter() - began


def first_command(ref: str) -> list[str]:
    """The README's first command at that ref (the line after its comment), without the pip install of uv."""
    readme = subprocess.run(["git", "show", f"{ref}:README.md"], cwd=REPO, capture_output=True, text=True, check=True).stdout
    line = next(l for l in readme.splitlines() if "recipe-assets run --recipe-root templates/regression" in l and "uv run" in l)
    words = line.split("&&")[-1].split()
    assert words[:3] == ["python", "-m", "uv"], line
    return [*uv(), *words[3:]]


def measure_ref(ref: str, work: Path) -> dict[str, str]:
    clone = work / ref / "recipe-assets"
    clone.parent.mkdir(parents=True)
    subprocess.run(["git", "clone", "-q", str(REPO), str(clone)], check=True)
    subprocess.run(["git", "checkout", "-q", ref], cwd=clone, check=True)
    (clone.parent / "shared").symlink_to((REPO.parent / "shared").resolve())
    env = {k: v for k, v in os.environ.items() if not k.startswith(("VIRTUAL_ENV", "UV_", "RECIPE_", "DAGSTER_", "MLFLOW_"))}
    first = timed(first_command(ref), clone, env)
    first_mb = folder_mb(clone / ".venv")
    tests_install = timed([*uv(), "sync", "--locked"], clone, env)
    tests_mb = folder_mb(clone / ".venv")
    dist = work / ref / "dist"
    timed([*uv(), "build", "--wheel", "--out-dir", str(dist)], clone, env)
    constraints = work / ref / "constraints.txt"
    exported = subprocess.run([*uv(), "export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project"], cwd=clone, env=env, capture_output=True, text=True, check=True)
    constraints.write_text(exported.stdout)
    venv = work / ref / "pip-venv"
    timed([*uv(), "venv", "-q", "--python", sys.executable, str(venv)], work, env)
    wheel = next(dist.glob("*.whl"))
    pip_install = timed([*uv(), "pip", "install", "-q", "--python", str(venv / "bin" / "python"), "-c", str(constraints), str(wheel)], work, env)
    return {
        "ref": ref,
        "first command (install + run)": f"{first:.1f} s",
        "its venv": f"{first_mb} MB",
        "test command's install": f"{tests_install:.1f} s",
        "test venv": f"{tests_mb} MB",
        "pip install (no extras)": f"{folder_mb(venv)} MB, {pip_install:.1f} s",
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--ref", action="append", help="git ref to measure (default: HEAD)")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="bench-install-") as tmp:
        rows = [measure_ref(ref, Path(tmp)) for ref in args.ref or ["HEAD"]]
    header = list(rows[0])
    print("| " + " | ".join(header) + " |")
    print("|" + "---|" * len(header))
    for row in rows:
        print("| " + " | ".join(row[h] for h in header) + " |")


if __name__ == "__main__":
    main()
