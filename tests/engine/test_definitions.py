"""The default code location: RECIPE_ROOT / RECIPE_PROFILE pick the recipe; loading stays light."""
from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

from conftest import REPO

LOAD_AND_REPORT = """
import json, sys
import recipe_assets.definitions as d
graph = d.defs.resolve_asset_graph()
print(json.dumps({
    "root": str(d.recipe.root),
    "profile": d.recipe.profile,
    "keys": sorted(k.to_user_string() for k in graph.get_all_asset_keys()),
    "groups": sorted({graph.get(k).group_name for k in graph.get_all_asset_keys()}),
    "heavy_imports": sorted(m for m in ("mlflow", "sklearn", "dagster._core.storage.event_log.sqlite") if m in sys.modules),
}))
"""


def load_in_subprocess(env: dict[str, str]) -> dict:
    result = subprocess.run([sys.executable, "-c", LOAD_AND_REPORT], env={**os.environ, **env}, capture_output=True, text=True, cwd=REPO)
    assert result.returncode == 0, result.stderr
    return json.loads(result.stdout.strip().splitlines()[-1])


def test_default_code_location_is_the_bundled_regression_template():
    report = load_in_subprocess({})
    assert report["root"] == str(REPO / "templates" / "regression")
    assert report["profile"] == "local"
    assert "regression/model" in report["keys"] and "regression/raw_data" in report["keys"]
    assert report["groups"] == ["batch_scoring", "model_development"]


def installed_copy(site: Path) -> Path:
    """The package as a wheel lays it out (templates and profiles inside it), outside any checkout."""
    import shutil

    ignore = shutil.ignore_patterns("__pycache__", "metadata", "sample_output.parquet")
    shutil.copytree(REPO / "recipe_assets", site / "recipe_assets", ignore=ignore)
    shutil.copytree(REPO / "templates", site / "recipe_assets" / "templates", ignore=ignore)
    shutil.copytree(REPO / "profiles", site / "recipe_assets" / "profiles", ignore=ignore)
    return site / "recipe_assets"


@pytest.mark.slow  # a Python process started from the test: CI's slow stage
def test_an_installed_package_refuses_without_recipe_root(tmp_path: Path):
    package = installed_copy(tmp_path / "site")
    env = {key: value for key, value in os.environ.items() if key not in ("RECIPE_ROOT", "RECIPE_PROFILE", "DAGSTER_HOME")}
    result = subprocess.run(
        [sys.executable, "-c", "import recipe_assets.definitions as d; print('LOADED', d.recipe.root)"],
        env={**env, "PYTHONPATH": str(tmp_path / "site")},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode != 0, result.stdout
    assert "RECIPE_ROOT is not set" in result.stderr and "RECIPE_PROFILE" in result.stderr, result.stderr
    assert str(package / "templates" / "regression") in result.stderr  # the copy was the one imported
    assert not (package / "templates" / "regression" / "metadata").exists(), "nothing may be prepared inside the package"
    # with RECIPE_ROOT it loads as before
    recipe = tmp_path / "my_recipe"
    import shutil

    shutil.copytree(package / "templates" / "regression", recipe)
    result = subprocess.run(
        [sys.executable, "-c", "import recipe_assets.definitions as d; print('LOADED', d.recipe.root)"],
        env={**env, "PYTHONPATH": str(tmp_path / "site"), "RECIPE_ROOT": str(recipe)},
        capture_output=True,
        text=True,
        cwd=tmp_path,
    )
    assert result.returncode == 0, result.stderr
    assert f"LOADED {recipe}" in result.stdout


def test_loading_definitions_imports_neither_mlflow_nor_sklearn_nor_dagsters_storage():
    # Dagster's SQLite storage classes (engine/dagster_internal.py subclasses them) cost 0.4 s: only opening an
    # instance needs them, which a code location's definitions load does not do
    assert load_in_subprocess({})["heavy_imports"] == []


def test_recipe_root_and_profile_come_from_the_environment(regression_recipe: Path):
    renamed = regression_recipe.rename(regression_recipe.parent / "taxi_fares")
    (renamed / "profiles" / "staging.yaml").write_text((renamed / "profiles" / "local.yaml").read_text())
    report = load_in_subprocess({"RECIPE_ROOT": str(renamed), "RECIPE_PROFILE": "staging"})
    assert report["root"] == str(renamed)
    assert report["profile"] == "staging"
    assert "taxi_fares/registered_model_version" in report["keys"]


def test_a_bad_recipe_fails_definition_load_with_the_file_and_key(regression_recipe: Path, edit):
    edit(regression_recipe / "recipe.yaml", "target_col:", "target_column:")
    result = subprocess.run(
        [sys.executable, "-c", "import recipe_assets.definitions"],
        env={**os.environ, "RECIPE_ROOT": str(regression_recipe)},
        capture_output=True,
        text=True,
    )
    assert result.returncode != 0
    assert "recipe.yaml" in result.stderr and "target_column" in result.stderr


@pytest.mark.slow
def test_dagster_cli_validates_the_code_location(regression_recipe: Path, tmp_path: Path):
    env = {**os.environ, "RECIPE_ROOT": str(regression_recipe), "DAGSTER_HOME": str(tmp_path / "home")}
    (tmp_path / "home").mkdir()
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "recipe_assets.definitions"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Validation successful" in result.stderr + result.stdout
