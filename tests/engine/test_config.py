"""Config errors name the file, the key path or column, and what was expected; MLflow Recipes keys we
do not implement yet fail with "not supported yet: <key path>" instead of being ignored."""
from __future__ import annotations

import importlib.util
import shutil
import sys
from pathlib import Path

import pytest

from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeConfigError, RecipeError
from conftest import FIXTURES

DROPIN = FIXTURES / "dropin_recipe"


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return Path(shutil.copytree(DROPIN, tmp_path / "dropin_recipe", ignore=shutil.ignore_patterns("__pycache__", "metadata")))


def load_error(root: Path, profile: str = "local") -> str:
    with pytest.raises(RecipeError) as caught:
        load_config(root, profile)
    return str(caught.value)


# --- what MLflow Recipes users rely on -----------------------------------------------------------------


def test_profile_variables_defaults_and_overrides(recipe: Path):
    config = load_config(recipe, "local").config
    assert config.steps.split.split_ratios == [0.7, 0.15, 0.15]  # {{SPLIT_RATIOS|default(...)}}
    assert config.steps.train.estimator_params == {"alpha": 0.5}  # RIDGE_ALPHA from the profile
    assert config.experiment.name == "dropin_experiment"  # profile key wins over recipe.yaml's
    assert config.steps.ingest.loader_method == "load_file_as_dataframe"


def test_another_profile_changes_only_what_it_sets(recipe: Path):
    config = load_config(recipe, "ci").config
    assert config.steps.split.split_ratios == [8, 1, 1]
    assert config.steps.evaluate.validation_criteria[0].threshold == 3
    assert config.steps.train.estimator_params == {"alpha": 1.0}
    assert config.steps.ingest.locations == ["./data/measurements.csv"]
    assert (config.experiment.name, config.model_registry.model_name) == ("dropin_ci", "dropin_regressor_ci")


def test_relative_paths_resolve_against_the_recipe_root_not_the_cwd(recipe: Path, tmp_path: Path, monkeypatch):
    from recipe_assets.engine.graph import mlflow_resource
    from recipe_assets.data.sources import resolve_files

    monkeypatch.chdir(tmp_path)
    loaded = load_config(recipe, "local")
    assert resolve_files(loaded.root, loaded.config.steps.ingest, "steps.ingest") == [recipe / "data" / "measurements.csv"]
    assert mlflow_resource(loaded).tracking_uri == f"sqlite:///{recipe}/metadata/mlflow/mlruns.db"


def test_every_supported_key_of_the_templates_loads(recipe: Path, edit):
    (recipe / "steps" / "custom_metrics.py").write_text("def double_mae(eval_df, builtin_metrics):\n    return 2 * builtin_metrics['mean_absolute_error']\n")
    (recipe / "steps" / "split.py").write_text(
        "def drop_incomplete_rows(df):\n    return df.notna().all(axis=1)\n\n"
        "def by_row(df):\n    return ['TRAINING'] * len(df)\n\n"
        "def keep(df):\n    return df\n"
    )
    edit(recipe / "recipe.yaml", "    post_split_filter_method: drop_incomplete_rows",
         "    post_split_filter_method: drop_incomplete_rows\n    post_split_method: keep\n    using: custom\n    split_method: by_row")
    edit(recipe / "recipe.yaml", "    estimator_method: estimator_fn",
         "    estimator_method: estimator_fn\n    tuning:\n      enabled: false\n      max_trials: 4\n      parameters:\n        alpha: {distribution: uniform, low: 0, high: 1}")
    edit(recipe / "recipe.yaml", "    allow_non_validated_model: false", "    allow_non_validated_model: true")
    edit(recipe / "profiles" / "local.yaml", "model_name: \"dropin_regressor\"", "model_name: \"dropin_regressor\"\n  uri: \"sqlite:///metadata/registry.db\"")
    edit(recipe / "profiles" / "local.yaml", "  loader_method: load_file_as_dataframe", "  loader_method: load_file_as_dataframe\n  skip_data_profiling: true")
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text + "custom_metrics:\n  - name: double_mae\n    function: double_mae\n    greater_is_better: false\n")
    config = load_config(recipe, "local").config
    assert config.steps.split.using == "custom" and config.steps.split.split_method == "by_row"
    assert config.steps.split.post_split_method == "keep"
    assert config.steps.train.tuning.enabled is False and config.steps.train.tuning.max_trials == 4
    assert config.steps.register.allow_non_validated_model is True
    assert config.model_registry.registry_uri == "sqlite:///metadata/registry.db"
    assert config.steps.ingest.skip_data_profiling is True
    assert config.custom_metrics[0].greater_is_better is False


def test_registry_uri_may_be_spelled_registry_uri(recipe: Path, edit):
    edit(recipe / "profiles" / "local.yaml", "model_name: \"dropin_regressor\"", "model_name: \"dropin_regressor\"\n  registry_uri: \"sqlite:///r.db\"")
    assert load_config(recipe, "local").config.model_registry.registry_uri == "sqlite:///r.db"


# --- errors ------------------------------------------------------------------------------------------


def test_misspelled_key_names_file_key_path_and_the_likely_key(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "split_ratios:", "split_ratio:")
    message = load_error(recipe)
    assert "recipe.yaml" in message and "steps.split.split_ratio: unknown key" in message
    assert "did you mean 'split_ratios'?" in message


def test_missing_required_key(recipe: Path, edit):
    edit(recipe / "recipe.yaml", 'target_col: "y"\n', "")
    message = load_error(recipe)
    assert "recipe.yaml" in message and "target_col: required key is missing" in message


def test_wrong_type_says_what_was_expected(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "allow_non_validated_model: false", "allow_non_validated_model: perhaps")
    message = load_error(recipe)
    assert "steps.register.allow_non_validated_model" in message
    assert "valid boolean" in message and "'perhaps'" in message


def test_wrong_type_in_a_list_item_names_the_index(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "threshold: 2\n", "threshold: low\n")
    message = load_error(recipe)
    assert "steps.evaluate.validation_criteria[1].threshold" in message and "valid number" in message


def test_unknown_recipe_template(recipe: Path, edit):
    edit(recipe / "recipe.yaml", '"regression/v1"', '"regression/v2"')
    message = load_error(recipe)
    assert "recipe: unknown recipe template 'regression/v2'" in message
    assert "regression/v1, classification/v1" in message


def test_undefined_template_variable_names_variable_file_and_line(recipe: Path, edit):
    edit(recipe / "profiles" / "local.yaml", "RIDGE_ALPHA: 0.5\n", "")
    edit(recipe / "recipe.yaml", "{{ RIDGE_ALPHA|default(1.0) }}", "{{ RIDGE_ALPHA }}")
    message = load_error(recipe)
    line = next(n for n, text in enumerate((recipe / "recipe.yaml").read_text().splitlines(), 1) if "RIDGE_ALPHA" in text)
    assert f"{recipe / 'recipe.yaml'}: line {line}: template variable RIDGE_ALPHA is not defined" in message
    assert "profiles/local.yaml" in message


def test_unknown_profile_lists_the_profiles(recipe: Path):
    message = load_error(recipe, "staging")
    assert "no profile named 'staging'" in message and "ci" in message and "local" in message


def test_a_misspelled_profile_gets_a_did_you_mean(recipe: Path):
    assert "no profile named 'locl' (did you mean 'local'?)" in load_error(recipe, "locl")


@pytest.mark.parametrize("template", ["regression", "classification"])
@pytest.mark.parametrize("profile", ["local", "server", "cluster"])
def test_every_built_in_profile_loads_the_bundled_templates(tmp_path: Path, template: str, profile: str):
    from recipe_assets.engine.config import BUILTIN_PROFILES, BUNDLED_TEMPLATES
    from recipe_assets.app.recipe import create_recipe

    assert (BUILTIN_PROFILES / f"{profile}.yaml").is_file()
    root = create_recipe(tmp_path / template, template)
    config = load_config(root, profile).config
    assert config.steps.ingest.locations == ["./data/sample.parquet"]
    assert config.steps.predict.output.location == "./data/sample_output.parquet"
    assert config.model_registry.model_name == load_config(BUNDLED_TEMPLATES / template, "local").config.model_registry.model_name


def test_every_problem_is_shown_not_just_the_first(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "split_ratios:", "split_ratio:")
    edit(recipe / "recipe.yaml", "estimator_method:", "estimator_methd:")
    message = load_error(recipe)
    assert message.startswith("2 problems:")
    assert "steps.split.split_ratio: unknown key" in message and "steps.train.estimator_methd: unknown key" in message
    assert "more problem" not in message


def test_a_step_dedented_out_of_steps_is_told_to_move_under_steps(recipe: Path):
    text = (recipe / "recipe.yaml").read_text()
    start = text.index("  train:\n")
    end = text.index("\n  evaluate:")
    block = text[start:end]
    dedented = "\n".join(line[2:] for line in block.splitlines())
    (recipe / "recipe.yaml").write_text(text[:start] + text[end + 1:] + "\n" + dedented + "\n")
    message = load_error(recipe)
    assert "train: unknown top-level key; 'train' is a step: move the block under `steps:`" in message


def test_unknown_key_without_a_close_match_ends_its_sentence_before_the_expected_keys(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "split_ratios:", "zzz_qqq:")
    message = load_error(recipe)
    assert "not a key of this section). Expected one of: using, split_ratios" in message


def test_recipe_yaml_is_found_in_a_parent_folder(recipe: Path, monkeypatch):
    from recipe_assets.engine.config import find_recipe_root
    from recipe_assets.app.recipe import Recipe

    monkeypatch.chdir(recipe / "steps")
    assert find_recipe_root(Path.cwd()) == recipe
    assert Recipe().root == recipe


def test_no_recipe_yaml_anywhere_says_how_to_name_one(tmp_path: Path, monkeypatch):
    from recipe_assets.engine.config import find_recipe_root

    (tmp_path / "elsewhere").mkdir()
    with pytest.raises(RecipeConfigError) as caught:
        find_recipe_root(tmp_path / "elsewhere")
    assert "no recipe.yaml here or in any folder above" in str(caught.value)
    assert "--recipe-root" in str(caught.value) and "RECIPE_ROOT" in str(caught.value)


def test_missing_data_file_fails_the_run_not_the_definitions(recipe: Path, edit):
    """Reading states, cards and artifacts must not need the raw data; a run names the missing file."""
    from recipe_assets.app.recipe import Recipe

    edit(recipe / "profiles" / "local.yaml", "./data/measurements.csv", "./data/measurements_2024.csv")
    loaded_without_the_data = Recipe(recipe_root=recipe)
    with pytest.raises(RecipeError, match=r"steps\.ingest\.location: .*data/measurements_2024\.csv does not exist"):
        loaded_without_the_data.run("ingest")


def test_target_col_not_in_the_data_fails_at_ingest_naming_the_column(recipe: Path, edit):
    from recipe_assets.app.recipe import Recipe

    edit(recipe / "recipe.yaml", 'target_col: "y"', 'target_col: "price"')
    with pytest.raises(RecipeError) as caught:
        Recipe(recipe_root=recipe).run("ingest")
    message = str(caught.value)
    # names the key, the column, the file it was looked for in, and the columns there are
    assert "target_col: column 'price' is not in the data" in message
    assert "measurements.csv" in message and "x1, x2, color, y" in message


def test_step_module_that_does_not_parse(recipe: Path):
    from recipe_assets.engine.graph import build_definitions

    (recipe / "steps" / "transform.py").write_text("def transformer_fn(:\n    pass\n")
    with pytest.raises(RecipeError) as caught:
        build_definitions(load_config(recipe, "local"))
    message = str(caught.value)
    assert f"{recipe / 'steps' / 'transform.py'} line 1: does not parse" in message
    assert "steps.transform.transformer_method" in message


def test_step_module_without_the_function(recipe: Path, edit):
    from recipe_assets.engine.graph import build_definitions

    edit(recipe / "recipe.yaml", "estimator_method: estimator_fn", "estimator_method: make_model")
    with pytest.raises(RecipeError) as caught:
        build_definitions(load_config(recipe, "local"))
    assert str(caught.value) == f"steps.train.estimator_method: no function 'make_model' in {recipe / 'steps' / 'train.py'}"


# --- keys of MLflow Recipes' templates we do not implement yet -------------------------------------------

# tuning and AutoML keys load now (tests/ml/test_tuning.py and tests/ml/test_automl.py run them)
TRAIN_KEYS_SUPPORTED = {
    "steps.train.tuning.enabled": ("    estimator_method: estimator_fn", "    estimator_method: estimator_fn\n    tuning:\n      enabled: true\n      max_trials: 5\n      parameters:\n        alpha: {distribution: uniform, low: 0, high: 1}"),
    "steps.train.using": ('    using: "custom"\n    estimator_method', '    using: "automl/flaml"\n    estimator_method'),
    "steps.train.time_budget_secs": ("    estimator_method: estimator_fn", "    estimator_method: estimator_fn\n    time_budget_secs: 60"),
    "steps.train.flaml_params": ("    estimator_method: estimator_fn", "    estimator_method: estimator_fn\n    flaml_params: {estimator_list: [lgbm]}"),
}
LOADED_AS = {
    "steps.train.tuning.enabled": lambda train: train.tuning.enabled and train.tuning.max_trials == 5,
    "steps.train.using": lambda train: train.using == "automl/flaml",
    "steps.train.time_budget_secs": lambda train: train.time_budget_secs == 60,
    "steps.train.flaml_params": lambda train: train.flaml_params == {"estimator_list": ["lgbm"]},
}
NOT_SUPPORTED_INGEST = {
    "dbfs": ("steps.ingest.location", "  using: parquet\n  location: dbfs:/mnt/trips\n"),
}
# once refused, now read (tests/data/test_tables.py, tests/data/test_remote.py): loading them reads no data yet
INGEST_SUPPORTED = {
    "spark_sql": ("  using: spark_sql\n  sql: SELECT * FROM trips\n", lambda ingest: ingest.sql == "SELECT * FROM trips"),
    "table": ("  using: table\n  location: trips\n", lambda ingest: ingest.location == "trips"),
    "https": (
        "  using: csv\n  location: https://example.com/trips.csv\n  loader_method: load_file_as_dataframe\n",
        lambda ingest: ingest.is_remote,
    ),
    "s3 in a list": (
        "  using: parquet\n  location: [./data/a.parquet, s3://bucket/b.parquet]\n",
        lambda ingest: ingest.locations == ["./data/a.parquet", "s3://bucket/b.parquet"],
    ),
}


def set_ingest_config(recipe: Path, ingest: str) -> None:
    """Replace the profile's INGEST_CONFIG block (the last block of the drop-in fixture's profile)."""
    profile = recipe / "profiles" / "local.yaml"
    head = profile.read_text().split("INGEST_CONFIG:")[0]
    profile.write_text(head + "INGEST_CONFIG:\n" + ingest)


@pytest.mark.parametrize("case", INGEST_SUPPORTED)
def test_sql_table_and_url_ingest_keys_load(recipe: Path, case: str):
    ingest, check = INGEST_SUPPORTED[case]
    set_ingest_config(recipe, ingest)
    assert check(load_config(recipe, "local").config.steps.ingest)


@pytest.mark.parametrize("key_path", TRAIN_KEYS_SUPPORTED)
def test_tuning_and_automl_keys_load(recipe: Path, edit, key_path: str):
    edit(recipe / "recipe.yaml", *TRAIN_KEYS_SUPPORTED[key_path])
    assert LOADED_AS[key_path](load_config(recipe, "local").config.steps.train)


@pytest.mark.parametrize("case", NOT_SUPPORTED_INGEST)
def test_ingest_keys_not_supported_yet(recipe: Path, case: str):
    key_path, ingest = NOT_SUPPORTED_INGEST[case]
    set_ingest_config(recipe, ingest)
    message = load_error(recipe)
    assert f"not supported yet: {key_path}" in message and "recipe.yaml" in message


def test_not_supported_error_is_a_config_error_carrying_the_key_path(recipe: Path):
    profile = recipe / "profiles" / "local.yaml"
    head = profile.read_text().split("INGEST_CONFIG:")[0]
    profile.write_text(head + "INGEST_CONFIG:\n  using: parquet\n  location: dbfs:/mnt/trips\n")
    with pytest.raises(RecipeConfigError) as caught:
        load_config(recipe, "local")
    assert caught.value.key_path == "steps.ingest.location"


def test_disabled_tuning_section_is_accepted(recipe: Path, edit):
    edit(recipe / "recipe.yaml", "    estimator_method: estimator_fn", "    estimator_method: estimator_fn\n    tuning:\n      enabled: false")
    assert load_config(recipe, "local").config.steps.train.tuning.enabled is False


def test_every_unknown_metric_is_shown(recipe: Path, edit):
    edit(recipe / "recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "rmse_typo"')
    edit(recipe / "recipe.yaml", "- metric: mean_absolute_error", "- metric: mae_typo")
    message = load_error(recipe)
    assert message.startswith("2 problems:")
    assert "primary_metric: unknown metric 'rmse_typo'" in message
    assert "steps.evaluate.validation_criteria[1].metric: unknown metric 'mae_typo'" in message


def test_a_custom_metric_named_like_a_built_in_is_refused_at_load(recipe: Path):
    (recipe / "steps" / "custom_metrics.py").write_text("def my_mae(eval_df, builtin_metrics):\n    return 0.0\n")
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(
        text + "custom_metrics:\n  - name: double_mae\n    function: my_mae\n    greater_is_better: false\n"
        "  - name: mean_absolute_error\n    function: my_mae\n    greater_is_better: false\n"
    )
    message = load_error(recipe)
    assert "recipe.yaml" in message
    assert "custom_metrics[1].name: 'mean_absolute_error' is a built-in metric name" in message
    assert "custom_metrics[0]" not in message


def test_invalid_jinja_in_recipe_yaml_names_the_file_and_line(recipe: Path, edit):
    text = (recipe / "recipe.yaml").read_text()
    assert "{{" in text
    line = text[: text.index("{{")].count("\n") + 1
    (recipe / "recipe.yaml").write_text(text.replace("}}", " | no_such_filter }}", 1))
    message = load_error(recipe)
    assert f"{recipe / 'recipe.yaml'}: line {line}: " in message and "no_such_filter" in message


def test_invalid_yaml_in_recipe_yaml_names_the_file_and_line(recipe: Path, edit):
    text = (recipe / "recipe.yaml").read_text()
    lines = text.splitlines()
    (recipe / "recipe.yaml").write_text("\n".join([*lines[:3], "broken: [unclosed", *lines[3:]]) + "\n")
    message = load_error(recipe)
    assert f"{recipe / 'recipe.yaml'}: line 5: not valid YAML" in message
    assert "while parsing a flow sequence at line 4" in message  # where the unclosed bracket opened


# --- optional features whose package extra is not installed (core/extras.py) ---------------------------

MISSING_EXTRA = {
    # case: (the profile's ingest block or a recipe.yaml edit, the module made missing, the key path, the extra)
    "delta ingest": ("  using: delta\n  location: ./data/trips\n", "deltalake", "steps.ingest.using", "tables"),
    "sql ingest": ("  using: spark_sql\n  sql: SELECT * FROM trips\n", "datafusion", "steps.ingest.using", "tables"),
    "s3 location": ("  using: parquet\n  location: s3://bucket/trips.parquet\n", "s3fs", "steps.ingest.location", "remote"),
    "https location": ("  using: csv\n  location: https://example.com/trips.csv\n  loader_method: load_file_as_dataframe\n", "aiohttp", "steps.ingest.location", "remote"),
}


@pytest.mark.parametrize("case", MISSING_EXTRA)
def test_a_feature_whose_extra_is_not_installed_is_refused_at_load_naming_the_extra(recipe: Path, monkeypatch, case: str):
    ingest, module, key_path, extra = MISSING_EXTRA[case]
    set_ingest_config(recipe, ingest)
    load_config(recipe, "local")  # installed here (the dev group has every extra): it loads
    real_find_spec = importlib.util.find_spec
    monkeypatch.setattr(importlib.util, "find_spec", lambda name, *a: None if name.split(".")[0] == module else real_find_spec(name, *a))
    monkeypatch.delitem(sys.modules, module, raising=False)
    with pytest.raises(RecipeConfigError) as caught:
        load_config(recipe, "local")
    assert caught.value.key_path == key_path
    assert f"pip install 'recipe-assets[{extra}]'" in str(caught.value) and module in str(caught.value)


def test_automl_without_its_extra_is_refused_at_load(recipe: Path, edit, monkeypatch):
    edit(recipe / "recipe.yaml", *TRAIN_KEYS_SUPPORTED["steps.train.using"])
    monkeypatch.setattr("recipe_assets.core.extras.is_installed", lambda module: module != "flaml")
    with pytest.raises(RecipeConfigError) as caught:
        load_config(recipe, "local")
    assert caught.value.key_path == "steps.train.using"
    assert "using: automl/flaml needs the Python package flaml" in str(caught.value) and "recipe-assets[automl]" in str(caught.value)


def test_tuning_without_its_extra_is_refused_at_load(recipe: Path, edit, monkeypatch):
    edit(recipe / "recipe.yaml", *TRAIN_KEYS_SUPPORTED["steps.train.tuning.enabled"])
    load_config(recipe, "local")
    monkeypatch.setattr("recipe_assets.core.extras.is_installed", lambda module: module != "hyperopt")
    with pytest.raises(RecipeConfigError) as caught:
        load_config(recipe, "local")
    assert caught.value.key_path == "steps.train.tuning.enabled"
    assert "tuning needs the Python package hyperopt" in str(caught.value) and "recipe-assets[tuning]" in str(caught.value)
