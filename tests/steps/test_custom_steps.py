"""Custom steps (`custom_steps:` in recipe.yaml): assets of the recipe with a card, versioned by their
source and config, run / inspect / get-artifact / clean like a built-in step."""
from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from conftest import copy_template
from recipe_assets.app.recipe import Recipe
from recipe_assets.core.errors import RecipeConfigError, RecipeError

REPORT_STEP = '''
custom_steps:
  - name: feature_report
    function: per_feature_report
    inputs: [test_data, model, run]
'''

REPORT_MODULE = '''"""Custom steps of this recipe."""
import matplotlib

matplotlib.use("Agg")
import matplotlib.pyplot as plt
import pandas as pd


def per_feature_report(test_data, model, run):
    """Absolute error of the model on the test split, by feature: its mean over the rows above and below
    each numeric feature's median, beside the test RMSE evaluate logged."""
    features = test_data.drop(columns=["fare_amount"])
    error = (model.predict(features) - test_data["fare_amount"]).abs()
    rows = []
    for column in features.select_dtypes("number").columns:
        high = features[column] > features[column].median()
        rows.append({"feature": column, "error above median": error[high].mean(), "error below median": error[~high].mean()})
    figure, axes = plt.subplots()
    axes.hist(error, bins=20)
    rmse = run.data.metrics["test_root_mean_squared_error"]
    return {"report": pd.DataFrame(rows), "mean_absolute_error": float(error.mean()), "error_to_rmse": float(error.mean()) / rmse, "errors": figure}
'''


def with_report_step(root: Path) -> Path:
    (root / "recipe.yaml").write_text((root / "recipe.yaml").read_text() + REPORT_STEP)
    (root / "steps" / "custom.py").write_text(REPORT_MODULE)
    return root


@pytest.fixture(scope="module")
def materialized(tmp_path_factory) -> Path:
    """The regression template with a report step after evaluate, run once to `register`."""
    root = with_report_step(copy_template("regression", tmp_path_factory.mktemp("custom") / "regression"))
    summary = Recipe(recipe_root=root).run(quiet=True)
    assert summary.success, summary.error
    done = summary.materialized
    assert done.index("run") < done.index("feature_report") and "registered_model_version" in done
    return root


@pytest.fixture
def recipe_copy(materialized: Path, tmp_path: Path) -> Path:
    return Path(shutil.copytree(materialized, tmp_path / "regression"))


def test_a_step_after_evaluate_materializes_with_its_card_and_logs_its_metrics_to_the_model_run(materialized: Path):
    recipe = Recipe(recipe_root=materialized)
    assert recipe.steps.index("feature_report") > recipe.steps.index("evaluate")
    event = recipe.instance.get_latest_materialization_event(recipe.key("feature_report"))
    metadata = event.asset_materialization.metadata
    report = metadata["report"].value
    assert {"feature", "error above median", "error below median"} <= {column.name for column in report.schema.columns}
    assert "trip_distance" in [row.data["feature"] for row in report.records]
    assert metadata["metric: mean_absolute_error"].value > 0
    assert "plot: errors" in metadata and metadata["plot: errors"].value.startswith("![errors](data:image/png;base64,")
    run_id = recipe.latest_value("model")["run_id"]
    logged = recipe.mlflow.get_run(run_id).data.metrics
    assert logged["feature_report_mean_absolute_error"] == pytest.approx(metadata["metric: mean_absolute_error"].value)
    artifacts = [item.path for item in recipe.mlflow.client().list_artifacts(run_id, "custom_steps/feature_report")]
    assert artifacts == ["custom_steps/feature_report/errors.png"]
    stored = recipe.get_artifact("feature_report")
    assert list(stored["report"]["feature"]) == [row.data["feature"] for row in report.records]
    card = str(recipe.inspect("feature_report"))
    assert "mean_absolute_error" in card and "trip_distance" in card
    assert "feature_report" in str(recipe.inspect())
    assert recipe.artifact_location("feature_report").endswith("feature_report.pkl")


def test_a_no_op_run_skips_it_and_an_edit_to_its_source_reruns_only_it(recipe_copy: Path):
    assert Recipe(recipe_root=recipe_copy).run(quiet=True).materialized == []
    module = recipe_copy / "steps" / "custom.py"
    module.write_text(module.read_text().replace("bins=20", "bins=10"))
    assert Recipe(recipe_root=recipe_copy).run(quiet=True).materialized == ["feature_report"]


def test_clean_forgets_it(recipe_copy: Path):
    recipe = Recipe(recipe_root=recipe_copy)
    # the step and the steps after it in the run order (register), as for a built-in step
    assert recipe.clean("feature_report") == ["feature_report", "registered_model_version"]
    assert recipe.get_artifact("feature_report") is None
    assert recipe.run(quiet=True).materialized == ["feature_report", "registered_model_version"]


def test_a_step_that_raises_names_its_file_and_line(recipe_copy: Path):
    module = recipe_copy / "steps" / "custom.py"
    module.write_text(module.read_text().replace('    rows = []\n', '    rows = []\n    raise ValueError("no median for a constant column")\n'))
    with pytest.raises(RecipeError) as caught:
        Recipe(recipe_root=recipe_copy).run(quiet=True)
    line = module.read_text().splitlines().index('    raise ValueError("no median for a constant column")') + 1
    message = str(caught.value)
    assert f'File "{module}", line {line}, in per_feature_report' in message
    assert "ValueError: no median for a constant column" in message


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_a_before_train_step_that_adds_a_column_changes_the_models_input_and_reruns_train(recipe_copy: Path):
    before = Recipe(recipe_root=recipe_copy).get_artifact("model")
    width = before[-1].n_features_in_
    (recipe_copy / "recipe.yaml").write_text(
        (recipe_copy / "recipe.yaml").read_text()
        + "  - name: distance_squared\n    function: add_distance_squared\n    before: train\n"
    )
    module = recipe_copy / "steps" / "custom.py"
    module.write_text(
        module.read_text()
        + '\n\ndef add_distance_squared(features):\n    return features.assign(distance_squared=features.iloc[:, -2] ** 2)\n'
    )
    recipe = Recipe(recipe_root=recipe_copy)
    assert recipe.steps.index("transform") < recipe.steps.index("distance_squared") < recipe.steps.index("train")
    summary = recipe.run(quiet=True)
    assert summary.materialized[:3] == ["distance_squared", "distance_squared_transformer", "model"]
    assert "ingested_data" not in summary.materialized and "transformer" not in summary.materialized
    model = recipe.get_artifact("model")  # as MLflow loads it: the function is part of the model
    assert model[-1].n_features_in_ == width + 1
    test_data = recipe.get_artifact("test_data")
    assert len(model.predict(test_data.drop(columns=["fare_amount"]))) == len(test_data)
    assert "distance_squared" in recipe.get_artifact("distance_squared").columns


def test_an_input_no_step_makes_is_a_config_error_naming_the_entry(regression_recipe: Path):
    (regression_recipe / "recipe.yaml").write_text(
        (regression_recipe / "recipe.yaml").read_text() + "custom_steps:\n  - name: report\n    function: report\n    inputs: [test_data, modle]\n"
    )
    (regression_recipe / "steps" / "custom.py").write_text("def report(test_data, modle):\n    return None\n")
    with pytest.raises(RecipeConfigError, match=r"recipe.yaml: custom_steps\[0\].inputs\[1\]: unknown output 'modle'; expected one of ingested_data"):
        Recipe(recipe_root=regression_recipe)


@pytest.mark.parametrize("template", ["regression", "classification"])
def test_the_templates_commented_example_loads_when_uncommented(template: str, tmp_path: Path):
    root = copy_template(template, tmp_path / template)
    recipe_file = root / "recipe.yaml"
    lines = recipe_file.read_text().splitlines()
    start = lines.index("# custom_steps:")
    end = next(i for i in range(start, len(lines)) if not lines[i].startswith("#"))
    recipe_file.write_text("\n".join(lines[:start] + [line[2:] for line in lines[start:end]] + lines[end:]) + "\n")
    steps = Recipe(recipe_root=root).steps
    assert steps.index("transform") < steps.index("extra_features") < steps.index("train") < steps.index("evaluate") < steps.index("feature_report")
    with_profile = Recipe(recipe_root=copy_template(template, tmp_path / "profiled" / template), profile="custom_steps")
    assert "feature_report" in with_profile.steps and "extra_features" not in with_profile.steps


def test_the_cli_knows_a_custom_steps_output(regression_recipe: Path, capsys):
    from recipe_assets.app.cli import main

    with_report_step(regression_recipe)
    assert main(["get-artifact", "feature_report", "--recipe-root", str(regression_recipe)]) == 1
    assert "feature_report is not materialized yet; run `" in capsys.readouterr().err
    assert main(["get-artifact", "feature_reports", "--recipe-root", str(regression_recipe)]) == 2
    assert "unknown artifact 'feature_reports'; expected one of ingested_data," in capsys.readouterr().err
    assert main(["inspect", "--step", "feature_report", "--recipe-root", str(regression_recipe)]) == 0
    assert "feature_report: not materialized yet; run `" in capsys.readouterr().out


def test_a_before_train_step_with_inputs_is_refused_with_the_contract(regression_recipe: Path):
    (regression_recipe / "recipe.yaml").write_text(
        (regression_recipe / "recipe.yaml").read_text()
        + "custom_steps:\n  - name: weights\n    function: weights\n    before: train\n    inputs: [training_data]\n"
    )
    with pytest.raises(RecipeConfigError, match=r"custom_steps\[0\]: a `before: train` step takes no inputs: it is called with the transformed training features"):
        Recipe(recipe_root=regression_recipe)


def test_a_step_reading_scored_data_needs_batch_scoring(regression_recipe: Path):
    text = (regression_recipe / "recipe.yaml").read_text()
    start, end = text.index("  ingest_scoring:"), text.index("custom_metrics:")
    (regression_recipe / "recipe.yaml").write_text(
        text[:start] + text[end:] + "custom_steps:\n  - name: score_report\n    function: score_report\n    inputs: [scored_data]\n"
    )
    (regression_recipe / "steps" / "custom.py").write_text("def score_report(scored_data):\n    return None\n")
    with pytest.raises(RecipeConfigError, match=r"custom_steps\[0\].inputs: reads a batch-scoring output, but the recipe has no steps.ingest_scoring"):
        Recipe(recipe_root=regression_recipe)
