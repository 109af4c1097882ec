"""A recipe's own Dagster assets (defs.py in the recipe folder) beside the recipe's, reading its outputs by
asset key through its IO manager; and `dagster definitions validate` on a recipe with custom steps."""
from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from dagster import AssetKey

from conftest import copy_template
from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import UserCodeError

OWN_DEFS = '''import dagster as dg
import numpy as np

from recipe_assets import recipe_input


@dg.asset(ins={"model": recipe_input(__file__, "model"), "test_data": recipe_input(__file__, "test_data")})
def test_residuals(model, test_data) -> dg.MaterializeResult:
    predicted = model["pipeline"].predict(test_data.drop(columns=["fare_amount"]))
    residuals = test_data["fare_amount"].to_numpy() - predicted
    return dg.MaterializeResult(metadata={"rmse": float(np.sqrt(np.mean(residuals ** 2))), "rows": len(residuals), "run_id": model["run_id"]})


defs = dg.Definitions(assets=[test_residuals])
'''

CUSTOM_STEP = """
custom_steps:
  - name: test_errors
    function: test_errors
    inputs: [test_data, model]
  - name: trip_ratio
    function: trip_ratio
    before: train
"""

CUSTOM_MODULE = '''def test_errors(test_data, model):
    return {"mean_error": float((model.predict(test_data.drop(columns=["fare_amount"])) - test_data["fare_amount"]).mean())}


def trip_ratio(features):
    return features.assign(ratio=features.iloc[:, -1] / (1 + features.iloc[:, -2].abs()))
'''


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_recipe_defined_asset_reads_model_and_test_data_through_the_recipe_io_manager(regression_recipe: Path):
    (regression_recipe / "defs.py").write_text(OWN_DEFS)
    recipe = Recipe(recipe_root=regression_recipe)
    own = AssetKey("test_residuals")
    assert recipe.definitions.resolve_asset_graph().get(own).parent_keys == {recipe.key("model"), recipe.key("test_data")}
    assert recipe.run("train", quiet=True).success
    job = recipe.definitions.resolve_implicit_global_asset_job_def()
    assert job.execute_in_process(instance=recipe.instance, asset_selection=[own]).success
    metadata = recipe.instance.get_latest_materialization_event(own).asset_materialization.metadata
    model, test_data = recipe.get_artifact("model"), recipe.get_artifact("test_data")
    expected = np.sqrt(np.mean((test_data["fare_amount"].to_numpy() - model.predict(test_data.drop(columns=["fare_amount"]))) ** 2))
    assert metadata["rmse"].value == pytest.approx(expected) and metadata["rows"].value == len(test_data)
    assert metadata["run_id"].value == recipe.latest_value("model")["run_id"]


def test_a_defs_module_that_raises_names_its_file_and_line(regression_recipe: Path):
    (regression_recipe / "defs.py").write_text("import dagster as dg\n\nraise RuntimeError('no warehouse credentials')\n")
    with pytest.raises(UserCodeError, match=r"defs.py line 3: failed to import: RuntimeError: no warehouse credentials"):
        Recipe(recipe_root=regression_recipe)


@pytest.mark.slow  # the dagster CLI in a subprocess: CI's slow stage
def test_dagster_definitions_validate_passes_for_a_recipe_with_custom_steps(regression_recipe: Path, tmp_path: Path):
    (regression_recipe / "recipe.yaml").write_text((regression_recipe / "recipe.yaml").read_text() + CUSTOM_STEP)
    (regression_recipe / "steps" / "custom.py").write_text(CUSTOM_MODULE)
    (regression_recipe / "defs.py").write_text(OWN_DEFS)
    (tmp_path / "home").mkdir()
    env = {**os.environ, "RECIPE_ROOT": str(regression_recipe), "DAGSTER_HOME": str(tmp_path / "home")}
    dagster = Path(sys.executable).parent / "dagster"
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "recipe_assets.definitions"], env=env, capture_output=True, text=True)
    assert result.returncode == 0, result.stderr
    assert "Validation successful" in result.stderr + result.stdout
    # and a custom step whose function is missing fails validation, naming the entry and the file
    (regression_recipe / "steps" / "custom.py").write_text(CUSTOM_MODULE.replace("def trip_ratio", "def trip_ratios"))
    result = subprocess.run([str(dagster), "definitions", "validate", "-m", "recipe_assets.definitions"], env=env, capture_output=True, text=True)
    assert result.returncode != 0
    assert f"custom_steps[1].function: no function 'trip_ratio' in {regression_recipe / 'steps' / 'custom.py'}" in result.stderr + result.stdout
