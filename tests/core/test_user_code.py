"""The recipe's steps/*.py, loaded the way MLflow Recipes loaded them: as the `steps` package of the
recipe root, so the recipe's own tests (`from steps.transform import ...`) keep working."""
from __future__ import annotations

import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.user_code import check_function_defined, load_function
from conftest import FIXTURES

DROPIN = FIXTURES / "dropin_recipe"


def recipe_with_train(root: Path, body: str, package: bool = False) -> Path:
    (root / "steps").mkdir(parents=True)
    if package:
        (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "train.py").write_text(body)
    return root


@pytest.mark.slow
def test_the_recipes_own_tests_pass_in_its_directory(tmp_path: Path):
    root = Path(shutil.copytree(DROPIN, tmp_path / "dropin_recipe", ignore=shutil.ignore_patterns("__pycache__", "metadata")))
    result = subprocess.run(
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "tests"], cwd=root, capture_output=True, text=True, timeout=300
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "3 passed" in result.stdout


def test_each_recipe_gets_its_own_steps_package(tmp_path: Path):
    first = recipe_with_train(tmp_path / "first", "def estimator_fn(estimator_params=None):\n    return 'first'\n")
    second = recipe_with_train(tmp_path / "second", "def estimator_fn(estimator_params=None):\n    return 'second'\n", package=True)
    assert load_function(first, "train", "estimator_fn")() == "first"
    assert load_function(second, "train", "estimator_fn")() == "second"
    assert load_function(first, "train", "estimator_fn")() == "first"


def test_an_edited_step_file_is_loaded_again(tmp_path: Path):
    root = recipe_with_train(tmp_path / "recipe", "def estimator_fn(estimator_params=None):\n    return 1\n")
    assert load_function(root, "train", "estimator_fn")() == 1
    (root / "steps" / "train.py").write_text("def estimator_fn(estimator_params=None):\n    return 2  # edited\n")
    assert load_function(root, "train", "estimator_fn")() == 2


def test_a_module_that_fails_to_import_is_named(tmp_path: Path):
    root = recipe_with_train(tmp_path / "recipe", "import not_a_real_package\n\ndef estimator_fn():\n    pass\n")
    with pytest.raises(UserCodeError, match=r"steps/train\.py: failed to import: ModuleNotFoundError: No module named 'not_a_real_package'"):
        load_function(root, "train", "estimator_fn")


def test_a_missing_function_is_named(tmp_path: Path):
    root = recipe_with_train(tmp_path / "recipe", "def estimator_fn():\n    pass\n")
    with pytest.raises(UserCodeError, match=r"no function 'make_model' in .*steps/train\.py"):
        load_function(root, "train", "make_model")


def test_definition_load_checks_without_importing(tmp_path: Path):
    root = recipe_with_train(tmp_path / "recipe", "import not_a_real_package\nfrom x import make_model\n\ndef estimator_fn():\n    pass\n")
    check_function_defined(root, "train", "estimator_fn", "steps.train.estimator_method")
    check_function_defined(root, "train", "make_model", "steps.train.estimator_method")  # imported names count
    with pytest.raises(UserCodeError, match=r"steps\.train\.estimator_method: no function 'fit' in .*train\.py"):
        check_function_defined(root, "train", "fit", "steps.train.estimator_method")
    with pytest.raises(UserCodeError, match=r"steps\.ingest\.loader_method: 'load' is expected in .*steps/ingest\.py, but that file does not exist"):
        check_function_defined(root, "ingest", "load", "steps.ingest.loader_method")
    (root / "steps" / "split.py").write_text("def f(:\n")
    with pytest.raises(UserCodeError, match=r"steps/split\.py line 1: does not parse .*steps\.split\.split_method needs it"):
        check_function_defined(root, "split", "f", "steps.split.split_method")
