"""The package as a user gets it: the built wheel installed into a fresh venv outside the repository, and
every hint the tool prints run as printed, from where the user stands (no `uv run`, no checkout)."""
from __future__ import annotations

import os
import pwd
import shlex
import shutil
import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

from servers import free_port, running
from conftest import REPO

pytestmark = pytest.mark.slow

BASE_PATH = "/usr/local/bin:/usr/bin:/bin"


def uv_command() -> list[str]:
    """uv as CI and developers have it: `uv run` sets $UV; else on PATH; else the base interpreter's module."""
    if os.environ.get("UV"):
        return [os.environ["UV"]]
    if shutil.which("uv"):
        return [shutil.which("uv")]
    base = Path(sys._base_executable)
    probe = subprocess.run([str(base), "-m", "uv", "--version"], capture_output=True)
    assert probe.returncode == 0, "uv is needed to build and install the wheel (python -m pip install uv)"
    return [str(base), "-m", "uv"]


def uv(*args: str, cwd: Path = REPO) -> str:
    # the real cache (the autouse fixture points HOME at a temp folder): dependencies come from it or PyPI
    env = {**os.environ, "UV_CACHE_DIR": os.environ.get("UV_CACHE_DIR") or str(Path(pwd.getpwuid(os.getuid()).pw_dir) / ".cache" / "uv")}
    env.pop("VIRTUAL_ENV", None)
    done = subprocess.run([*uv_command(), *args], cwd=cwd, env=env, capture_output=True, text=True, timeout=900)
    assert done.returncode == 0, f"uv {' '.join(args)} failed:\n{done.stdout[-2000:]}\n{done.stderr[-4000:]}"
    return done.stdout


@pytest.fixture(scope="module")
def installed(tmp_path_factory) -> dict[str, Path]:
    """`uv build` the wheel, then a fresh venv outside the repo with the wheel and the locked versions of
    its dependencies (exported from uv.lock, so the install is what the tests ran against)."""
    base = tmp_path_factory.mktemp("install")
    dist = base / "dist"
    uv("build", "--wheel", "--out-dir", str(dist))
    wheel = next(dist.glob("recipe_assets-*.whl"))
    constraints = base / "constraints.txt"
    constraints.write_text(uv("export", "--frozen", "--no-hashes", "--no-dev", "--no-emit-project"))
    venv = base / "venv"
    uv("venv", "--python", sys._base_executable, str(venv), cwd=base)
    uv("pip", "install", "--python", str(venv / "bin" / "python"), "--constraints", str(constraints), str(wheel), cwd=base)
    work = base / "work"
    work.mkdir()
    return {"wheel": wheel, "bin": venv / "bin", "work": work}


def user_env(home: Path, path: str = BASE_PATH) -> dict[str, str]:
    """A user's shell: no project venv on PATH, no uv run, no recipe or Dagster settings."""
    keep = {k: v for k, v in os.environ.items() if k in ("LANG", "LC_ALL", "TERM", "TMPDIR", "UV_CACHE_DIR")}
    return {**keep, "HOME": str(home), "PATH": path, "MLFLOW_ENABLE_TELEMETRY": "false"}


def shell(command: str, cwd: Path, env: dict[str, str], timeout: int = 600) -> subprocess.CompletedProcess:
    """A printed hint, run as the user would paste it (leading VAR=value words are environment)."""
    words = shlex.split(command)
    extra = {}
    while words and "=" in words[0] and not words[0].startswith(("/", "-")):
        name, _, value = words.pop(0).partition("=")
        extra[name] = value
    resolved = shutil.which(words[0], path=env["PATH"]) or words[0]
    return subprocess.run([resolved, *words[1:]], cwd=cwd, env={**env, **extra}, capture_output=True, text=True, timeout=timeout)


def hint(output: str, label: str) -> str:
    lines = [line for line in output.splitlines() if line.startswith(f"{label}: ")]
    assert lines, f"no `{label}:` line in:\n{output}"
    return lines[0].removeprefix(f"{label}: ")


def test_the_wheel_carries_the_built_in_profiles_templates_and_their_gitignores(installed):
    names = set(zipfile.ZipFile(installed["wheel"]).namelist())
    for needed in (
        "recipe_assets/profiles/local.yaml",
        "recipe_assets/profiles/server.yaml",
        "recipe_assets/templates/regression/recipe.yaml",
        "recipe_assets/templates/regression/data/sample.parquet",
        "recipe_assets/templates/classification/steps/train.py",
        "recipe_assets/templates/classification/.gitignore",
        "recipe_assets/__main__.py",
        "recipe_assets/data/mlflow_tracking.py",
    ):
        assert needed in names
    assert not [name for name in names if "/metadata/" in name or "__pycache__" in name]


def test_installing_the_wheel_adds_only_recipe_assets_to_site_packages(installed):
    """A user's own `resources` (or any other) package cannot collide with ours: the wheel installs one package."""
    site_packages = next((installed["bin"].parent / "lib").glob("python3.*/site-packages"))
    record = next(site_packages.glob("recipe_assets-*.dist-info")) / "RECORD"
    top_level = {line.split(",")[0].split("/")[0] for line in record.read_text().splitlines() if line and not line.startswith("..")}
    assert top_level == {"recipe_assets", record.parent.name}
    assert not (site_packages / "resources").exists()


def test_help_from_the_console_script_and_python_m(installed, tmp_path):
    env = user_env(tmp_path)
    for command in ([str(installed["bin"] / "recipe-assets"), "--help"], [str(installed["bin"] / "python"), "-m", "recipe_assets", "--help"]):
        shown = subprocess.run(command, cwd=installed["work"], env=env, capture_output=True, text=True, timeout=120)
        assert shown.returncode == 0, shown.stderr
        assert "{run,inspect,clean,get-artifact,init,promote,rollback}" in shown.stdout


def test_init_run_and_every_printed_hint_work_outside_the_repo(installed, tmp_path):
    env = user_env(tmp_path / "home")
    work = installed["work"]
    created = subprocess.run([str(installed["bin"] / "recipe-assets"), "init", "taxi"], cwd=work, env=env, capture_output=True, text=True, timeout=120)
    assert created.returncode == 0, created.stderr
    assert not (REPO / "taxi").exists() and (work / "taxi" / ".gitignore").is_file()

    next_command = hint(created.stdout, "next")
    assert next_command.startswith(str(installed["bin"] / "recipe-assets") + " run")  # the venv is not on this PATH
    ran = shell(next_command, work, env)
    assert ran.returncode == 0, ran.stdout + ran.stderr
    assert "registered model: models:/taxi_fare_regressor/1" in ran.stdout
    assert str(REPO) not in ran.stdout  # nothing is read from or points into the checkout

    browse = hint(ran.stdout, "browse it")
    assert " -m mlflow ui --backend-store-uri sqlite:///" in browse
    port = free_port()
    # one worker: four uvicorn workers starting at once on a busy 2-core machine outlive the health wait
    with running(shlex.split(browse) + ["--port", str(port), "--workers", "1"], tmp_path / "mlflow-ui.log", f"http://127.0.0.1:{port}/health", env=env, cwd=work):
        pass

    graph = hint(ran.stdout, "see the asset graph")
    port = free_port()
    words = shlex.split(graph)
    assignments = dict(word.split("=", 1) for word in words if "=" in word and not word.startswith("-"))
    program = [word for word in words if not ("=" in word and not word.startswith("-"))]
    with running(program + ["--port", str(port)], tmp_path / "dagster-dev.log", f"http://127.0.0.1:{port}/server_info",
                 env={**env, **assignments}, cwd=work):
        pass


def test_an_activated_venv_gets_bare_command_names_and_a_sub_folder_finds_its_recipe(installed, tmp_path):
    env = user_env(tmp_path / "home", f"{installed['bin']}:{BASE_PATH}")
    work = installed["work"]
    created = shell("recipe-assets init wines --template classification", work, env)
    assert created.returncode == 0, created.stderr
    assert hint(created.stdout, "next").startswith("recipe-assets run --recipe-root ")
    assert (work / "wines" / ".gitignore").read_text().startswith("metadata/")
    inside = shell("recipe-assets inspect", work / "wines" / "steps", env)
    assert inside.returncode == 0, inside.stderr
    assert f"root: {work / 'wines'}" in inside.stdout and "ingested_data" in inside.stdout
    nowhere = shell("recipe-assets inspect", tmp_path, env)
    assert nowhere.returncode == 2 and "--recipe-root" in nowhere.stderr and "RECIPE_ROOT" in nowhere.stderr
