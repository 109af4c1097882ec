"""Several recipes in one `dg` project: one defs.yaml per recipe, one graph per recipe, one code location."""
from __future__ import annotations

import sys
import textwrap
from pathlib import Path

import pytest
import dagster as dg
from dagster import AssetKey, load_from_defs_folder

from conftest import copy_template
from recipe_assets.app.recipe import Recipe


def write_project(root: Path, recipes: dict[str, Path]) -> Path:
    (root / "pyproject.toml").write_text(
        textwrap.dedent(
            """
            [project]
            name = "ml-recipes"
            version = "0.1.0"

            [tool.dg]
            directory_type = "project"

            [tool.dg.project]
            root_module = "ml_recipes"
            """
        )
    )
    package = root / "src" / "ml_recipes"
    (package / "defs").mkdir(parents=True)
    (package / "__init__.py").write_text("")
    (package / "defs" / "__init__.py").write_text("")
    for name, recipe_root in recipes.items():
        folder = package / "defs" / name
        folder.mkdir()
        relative = Path("../../../../") / recipe_root.relative_to(root)
        (folder / "defs.yaml").write_text(
            f"type: recipe_assets.RecipeComponent\nattributes:\n  recipe_root: {relative}\n  profile: local\n"
        )
    return root


@pytest.fixture
def project(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    taxi = copy_template("regression", tmp_path / "recipes" / "taxi_fares")
    wine = copy_template("classification", tmp_path / "recipes" / "wine_quality")
    write_project(tmp_path, {"taxi": taxi, "wine": wine})
    monkeypatch.syspath_prepend(str(tmp_path / "src"))
    yield tmp_path
    for name in [n for n in sys.modules if n.startswith("ml_recipes")]:
        del sys.modules[name]


def test_two_recipes_load_side_by_side_with_their_own_keys_jobs_and_resources(project: Path):
    defs = load_from_defs_folder(project_root=project)
    keys = {k.to_user_string() for k in defs.resolve_asset_graph().get_all_asset_keys()}
    assert {"taxi_fares/model", "wine_quality/model", "taxi_fares/scored_data", "wine_quality/raw_data"} <= keys
    assert {j.name for j in defs.jobs} >= {"taxi_fares__model_development", "wine_quality__model_development"}
    taxi_job = defs.resolve_job_def("taxi_fares__model_development")
    assert all(k.path[0] == "taxi_fares" for k in taxi_job.asset_layer.executable_asset_keys)


def test_a_recipe_from_the_project_materializes_through_its_job(project: Path):
    defs = load_from_defs_folder(project_root=project)
    recipe = Recipe(recipe_root=project / "recipes" / "taxi_fares")
    job = defs.resolve_job_def("taxi_fares__model_development")
    result = job.execute_in_process(instance=recipe.instance)
    assert result.success
    assert recipe.latest_value("registered_model_version")["model_uri"] == "models:/taxi_fare_regressor/1"
    assert recipe.instance.get_latest_materialization_event(AssetKey(["wine_quality", "model"])) is None
    # the run observed the raw files as it started, so recipe-assets finds nothing stale afterwards
    assert Recipe(recipe_root=project / "recipes" / "taxi_fares").run().materialized == []


def test_a_users_own_component_reads_a_recipes_outputs_by_key_through_its_io_manager(project: Path):
    """A module of the user's beside the recipes' defs.yaml: its asset depends on `taxi_fares/model` and
    `taxi_fares/test_data`, loaded by that recipe's IO manager, a resource the RecipeComponent provides."""
    (project / "src" / "ml_recipes" / "defs" / "reports.py").write_text(
        "import dagster as dg\n"
        "from recipe_assets import recipe_input\n\n"
        f"TAXI = {str(project / 'recipes' / 'taxi_fares')!r}\n\n"
        "@dg.asset(ins={'model': recipe_input(TAXI, 'model'), 'test_data': recipe_input(TAXI, 'test_data')})\n"
        "def taxi_test_rows(model, test_data) -> int:\n"
        "    return len(model['pipeline'].predict(test_data.drop(columns=['fare_amount'])))\n"
    )
    defs = load_from_defs_folder(project_root=project)
    graph = defs.resolve_asset_graph()
    assert graph.get(AssetKey("taxi_test_rows")).parent_keys == {AssetKey(["taxi_fares", "model"]), AssetKey(["taxi_fares", "test_data"])}
    # the inputs' manager is the recipe's IO manager (a missing resource key would fail here); reading through it
    # is what tests/engine/test_recipe_defs.py materializes
    job = defs.resolve_implicit_global_asset_job_def()
    assert {job.graph.node_named("taxi_test_rows").definition.input_def_named(name).input_manager_key for name in ("model", "test_data")} == {"taxi_fares__io_manager"}
    dg.Definitions.validate_loadable(defs)
