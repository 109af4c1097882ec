"""classification/v1: stratified split, rebalancing, label decoding, calibration, metrics, end to end."""
from __future__ import annotations

import shutil
import textwrap
from pathlib import Path

import numpy as np
import pandas as pd
import pytest
from sklearn import metrics as sk

from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeConfigError
from recipe_assets.steps.split.config import SplitConfig
from recipe_assets.steps.split.splitting import assign_stratified_splits, split_frames
from recipe_assets.ml.rebalancing import REBALANCING_MIN_ROWS, RESAMPLING_SEED, rebalance_training_data
from recipe_assets.steps.train.config import TrainConfig
from recipe_assets.ml.estimators import score_frame

from conftest import REPO

TEMPLATES = REPO / "templates"

PROFILE = """\
experiment:
  name: "{name}"
  tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"
  artifact_location: "./metadata/mlflow/mlartifacts"
model_registry:
  model_name: "{name}_model"
INGEST_CONFIG:
  using: parquet
  location: "./data/sample.parquet"
"""

RECIPE = """\
recipe: "classification/v1"
target_col: "label"
{positive_class}
steps:
  ingest: {{{{INGEST_CONFIG}}}}
  split:
    split_ratios: [0.7, 0.15, 0.15]
  transform:
    transformer_method: transformer_fn
  train:
    estimator_method: estimator_fn
{train_extra}
  evaluate:
    validation_criteria:
      - metric: {criterion}
        threshold: 0.1
  register:
    allow_non_validated_model: true
"""

TRANSFORM = """\
from sklearn.preprocessing import StandardScaler


def transformer_fn():
    return StandardScaler()
"""


@pytest.fixture(autouse=True)
def _restore_import_state():
    """Loading a logged model puts its code/ copy of steps/ on sys.path (MLflow's code_paths); later tests'
    recipes must not import that `steps`."""
    import sys

    path = list(sys.path)
    yield
    sys.path[:] = path
    for name in [n for n in sys.modules if n == "steps" or n.startswith("steps.")]:
        del sys.modules[name]


def copy_template(name: str, destination: Path) -> Path:
    shutil.copytree(TEMPLATES / name, destination, ignore=shutil.ignore_patterns("metadata", "__pycache__", "sample_output.parquet"))
    return destination


def synthetic(rows: int, labels: list, weights: list, seed: int) -> pd.DataFrame:
    """Features that carry the class, so every model beats chance."""
    from sklearn.datasets import make_classification

    features, classes = make_classification(
        n_samples=rows, n_features=6, n_informative=4, n_classes=len(labels), weights=weights, random_state=seed
    )
    frame = pd.DataFrame(features, columns=[f"x{i}" for i in range(6)])
    frame["label"] = np.asarray(labels, dtype=object if isinstance(labels[0], str) else None)[classes]
    return frame


def write_recipe(root: Path, data: pd.DataFrame, estimator: str, positive_class: str | None, criterion: str, train_extra: str = "") -> Path:
    """A recipe directory in MLflow Recipes' layout."""
    (root / "steps").mkdir(parents=True)
    (root / "data").mkdir()
    (root / "profiles").mkdir()
    data.to_parquet(root / "data" / "sample.parquet", index=False)
    (root / "profiles" / "local.yaml").write_text(PROFILE.format(name=root.name))
    (root / "recipe.yaml").write_text(
        RECIPE.format(
            positive_class=f"positive_class: {positive_class}" if positive_class is not None else "",
            criterion=criterion,
            train_extra=textwrap.indent(train_extra, "    "),
        )
    )
    (root / "steps" / "__init__.py").write_text("")
    (root / "steps" / "transform.py").write_text(TRANSFORM)
    (root / "steps" / "train.py").write_text(f"def estimator_fn(estimator_params=None):\n{textwrap.indent(estimator, '    ')}\n")
    return root


def run_recipe(root: Path):
    from recipe_assets.app.recipe import Recipe

    recipe = Recipe(profile="local", recipe_root=root)
    summary = recipe.run()
    assert summary.success, summary.error
    return recipe, summary


def logged_model_and_metrics(recipe, summary):
    import mlflow

    registered = summary.outputs["registered_model_version"]
    client = recipe.mlflow.client()
    model = mlflow.sklearn.load_model(registered["model_uri"])
    return model, client.get_run(registered["run_id"]).data


# ---- split -------------------------------------------------------------------------------------------


def test_stratified_split_gives_every_class_the_ratios():
    data = synthetic(3000, ["a", "b", "c"], [0.7, 0.25, 0.05], seed=3)
    labels = assign_stratified_splits(data, "label", (0.7, 0.15, 0.15))
    for label, rows in data.groupby("label"):
        shares = pd.Series(labels[rows.index]).value_counts(normalize=True)
        assert shares["TRAINING"] == pytest.approx(0.7, abs=1 / len(rows))
        assert shares["VALIDATION"] == pytest.approx(0.15, abs=1 / len(rows))
        assert shares["TEST"] == pytest.approx(0.15, abs=1 / len(rows))


def test_stratified_split_is_deterministic_and_keeps_a_tiny_class_in_training():
    data = synthetic(400, [0, 1], [0.5, 0.5], seed=4)
    data.loc[0, "label"] = 9  # a class of one row: training only, no error
    first = assign_stratified_splits(data, "label", (0.75, 0.125, 0.125))
    assert (first == assign_stratified_splits(data.copy(), "label", (0.75, 0.125, 0.125))).all()
    assert first[0] == "TRAINING"


def test_classification_split_drops_rows_without_a_label(tmp_path):
    data = synthetic(800, ["no", "yes"], [0.6, 0.4], seed=5)
    data.loc[:9, "label"] = None
    frames = split_frames(data, SplitConfig(), tmp_path, "label", "classification")
    assert sum(len(f) for f in frames.values()) == 790
    assert all(f["label"].notna().all() for f in frames.values())


# ---- rebalancing -------------------------------------------------------------------------------------


def imbalanced(rows: int, minority_share: float) -> pd.DataFrame:
    minority = int(rows * minority_share)
    return pd.DataFrame({"x": np.arange(rows), "label": ["rare"] * minority + ["common"] * (rows - minority)})


def test_rebalancing_downsamples_the_majority_to_the_minority_share():
    frame = imbalanced(REBALANCING_MIN_ROWS + 1000, 0.1)
    rebalanced, report = rebalance_training_data(frame, "label", 0.3)
    assert report.applied
    assert report.counts_before == {"common": 5400, "rare": 600}
    assert report.counts_after == {"common": 1400, "rare": 600}
    assert rebalanced["label"].value_counts(normalize=True)["rare"] == pytest.approx(0.3)
    assert report.class_weights == pytest.approx({"common": 6000 / (2 * 5400), "rare": 6000 / (2 * 600)})
    again, _ = rebalance_training_data(frame, "label", 0.3)
    assert again.index.equals(rebalanced.index), "the same data must give the same rows in the same order"


def test_rebalancing_keeps_mlflow_recipes_rows_and_order_when_seeded_alike():
    """MLflow Recipes' rule: sample the majority class, put the minority rows first, shuffle all; with the
    seed added to both samples (as the differential harness seeds the peer), the very same rows in the same order."""
    frame = imbalanced(REBALANCING_MIN_ROWS + 1000, 0.1).sample(frac=1, random_state=3)  # classes interleaved
    rebalanced, _ = rebalance_training_data(frame, "label", 0.3)
    majority = frame[frame["label"] == "common"].sample(1400, random_state=RESAMPLING_SEED)
    peer_rule = pd.concat([frame[frame["label"] == "rare"], majority]).sample(frac=1, random_state=RESAMPLING_SEED)
    assert rebalanced.index.tolist() == peer_rule.index.tolist()
    assert not rebalanced.index.is_monotonic_increasing  # shuffled, as the peer's rows are


@pytest.mark.parametrize(
    ("frame", "why"),
    [
        (imbalanced(REBALANCING_MIN_ROWS, 0.1), "not more than 5000"),
        (imbalanced(REBALANCING_MIN_ROWS + 1000, 0.35), "not below 30%"),
        (pd.DataFrame({"label": ["a"] * 5000 + ["b"] * 900 + ["c"] * 300}), "only binary"),
    ],
)
def test_rebalancing_leaves_small_balanced_or_multiclass_data_alone(frame, why):
    rebalanced, report = rebalance_training_data(frame, "label", 0.3)
    assert not report.applied and why in report.reason
    assert rebalanced is frame


# ---- scoring columns ---------------------------------------------------------------------------------


def fitted_classifier():
    from sklearn.linear_model import LogisticRegression

    from recipe_assets.ml.estimators import make_classifier

    data = synthetic(300, ["bad", "good"], [0.5, 0.5], seed=6)
    model = make_classifier(LogisticRegression(), TrainConfig(), data["label"])
    return model.fit(data.drop(columns=["label"]), data["label"]), data.drop(columns=["label"])


def test_score_frame_writes_mlflow_recipes_column_names():
    model, features = fitted_classifier()
    scored = score_frame(model, features, TrainConfig(), "classification", ["bad", "good"])
    assert list(scored.columns) == ["prediction", "predicted_score_bad", "predicted_score_good", "predicted_score"]
    assert set(scored["prediction"]) == {"bad", "good"}
    probabilities = model.predict_proba(features)
    assert scored["predicted_score_good"].to_numpy() == pytest.approx(probabilities[:, 1])
    assert scored["predicted_score"].to_numpy() == pytest.approx(probabilities.max(axis=1))


def test_score_frame_with_one_score_column_and_a_custom_prefix():
    model, features = fitted_classifier()
    config = TrainConfig(predict_prefix="p_", predict_scores_for_all_classes=False)
    assert list(score_frame(model, features, config, "classification", None).columns) == ["prediction", "p_score"]


# ---- config ------------------------------------------------------------------------------------------


def test_regression_metric_in_classification_criteria_fails_at_load(tmp_path, edit):
    root = copy_template("classification", tmp_path / "wine")
    edit(root / "recipe.yaml", "- metric: roc_auc", "- metric: root_mean_squared_error")
    with pytest.raises(RecipeConfigError) as caught:
        load_config(root)
    assert caught.value.key_path == "steps.evaluate.validation_criteria[1].metric"
    assert "'root_mean_squared_error'" in str(caught.value) and "binary" in str(caught.value)


def test_binary_metric_without_positive_class_fails_at_load(tmp_path, edit):
    root = copy_template("classification", tmp_path / "wine")
    edit(root / "recipe.yaml", 'positive_class: "good"\n', "")
    edit(root / "recipe.yaml", 'primary_metric: "f1_score"', 'primary_metric: "true_positives"')
    with pytest.raises(RecipeConfigError, match="primary_metric: unknown metric 'true_positives' for classification/v1 without positive_class"):
        load_config(root)


# ---- end to end --------------------------------------------------------------------------------------


def test_template_runs_end_to_end_and_logs_sklearn_equal_metrics(tmp_path):
    root = copy_template("classification", tmp_path / "wine")
    recipe, summary = run_recipe(root)
    assert summary.outputs["registered_model_version"]["version"] == "1"
    assert summary.outputs["run"]["model_validation_status"] == "VALIDATED"
    model, run = logged_model_and_metrics(recipe, summary)
    test = recipe.latest_value("test_data")
    predicted = model.predict(test.drop(columns=["quality"]))
    assert set(predicted) <= {"good", "bad"}
    good = list(model.classes_).index("good")
    probabilities = model.predict_proba(test.drop(columns=["quality"]))[:, good]
    assert run.metrics["test_f1_score"] == pytest.approx(sk.f1_score(test["quality"], predicted, pos_label="good"))
    assert run.metrics["test_recall_score"] == pytest.approx(sk.recall_score(test["quality"], predicted, pos_label="good"))
    assert run.metrics["test_roc_auc"] == pytest.approx(sk.roc_auc_score(test["quality"] == "good", probabilities))
    assert run.metrics["test_true_positives"] == int(((predicted == "good") & (test["quality"] == "good")).sum())
    fp, tn = run.metrics["test_false_positives"], run.metrics["test_true_negatives"]
    assert run.metrics["test_false_alarm_rate"] == pytest.approx(fp / (fp + tn))
    assert run.params["rebalanced_training_data"] == "False"
    assert run.metrics["test_precision_recall_auc"] == pytest.approx(sk.average_precision_score(test["quality"] == "good", probabilities))
    assert run.metrics["test_score"] == pytest.approx(sk.accuracy_score(test["quality"], predicted))


def test_binary_string_labels_with_calibrated_probabilities(tmp_path):
    from sklearn.calibration import CalibratedClassifierCV

    data = synthetic(1200, ["no", "yes"], [0.75, 0.25], seed=7)
    root = write_recipe(
        tmp_path / "churn",
        data,
        "from sklearn.linear_model import LogisticRegression\nreturn LogisticRegression()",
        positive_class='"yes"',
        criterion="precision_score",
        train_extra='calibrate_proba: "sigmoid"',
    )
    recipe, summary = run_recipe(root)
    model, run = logged_model_and_metrics(recipe, summary)
    assert isinstance(model.named_steps["estimator"].estimator_, CalibratedClassifierCV)
    assert model.named_steps["estimator"].estimator_.method == "sigmoid"
    assert run.params["calibrate_proba"] == "sigmoid"
    validation = recipe.latest_value("validation_data")
    predicted = model.predict(validation.drop(columns=["label"]))
    assert set(predicted) <= {"no", "yes"}
    assert run.metrics["val_precision_score"] == pytest.approx(sk.precision_score(validation["label"], predicted, pos_label="yes"))
    yes = list(model.classes_).index("yes")
    assert run.metrics["val_log_loss"] == pytest.approx(sk.log_loss(validation["label"] == "yes", model.predict_proba(validation.drop(columns=["label"]))[:, yes]))


def test_multiclass_numeric_labels_decode_and_match_sklearn(tmp_path):
    data = synthetic(1500, [10, 20, 30], [0.6, 0.3, 0.1], seed=8)
    root = write_recipe(
        tmp_path / "grades",
        data,
        "from sklearn.ensemble import RandomForestClassifier\nreturn RandomForestClassifier(n_estimators=30, random_state=0)",
        positive_class=None,
        criterion="f1_score_macro",
    )
    recipe, summary = run_recipe(root)
    model, run = logged_model_and_metrics(recipe, summary)
    test = recipe.latest_value("test_data")
    features = test.drop(columns=["label"])
    predicted = model.predict(features)
    assert set(predicted) <= {10, 20, 30} and list(model.classes_) == [10, 20, 30]
    assert run.metrics["test_f1_score_macro"] == pytest.approx(sk.f1_score(test["label"], predicted, average="macro"))
    assert run.metrics["test_f1_score_micro"] == pytest.approx(sk.f1_score(test["label"], predicted, average="micro"))
    assert run.metrics["test_recall_score"] == pytest.approx(sk.recall_score(test["label"], predicted, average="weighted"))
    assert run.metrics["test_roc_auc"] == pytest.approx(
        sk.roc_auc_score(test["label"], model.predict_proba(features), multi_class="ovr", average="weighted")
    )
    assert run.metrics["test_f1_score"] == pytest.approx(sk.f1_score(test["label"], predicted, average="weighted"))
    for name in ("training_data", "validation_data", "test_data"):
        labels = recipe.latest_value(name)["label"]
        assert labels.is_monotonic_increasing  # rows ordered class by class, as MLflow Recipes concatenated them


def test_estimator_without_predict_proba_leaves_out_probability_metrics(tmp_path):
    data = synthetic(600, [0, 1], [0.5, 0.5], seed=9)
    root = write_recipe(
        tmp_path / "margin",
        data,
        "from sklearn.linear_model import RidgeClassifier\nreturn RidgeClassifier()",
        positive_class='"1"',
        criterion="roc_auc",
    )
    recipe, summary = run_recipe(root)
    _, run = logged_model_and_metrics(recipe, summary)
    assert "test_roc_auc" not in run.metrics and "test_log_loss" not in run.metrics
    assert run.metrics["test_true_positives"] > 0
    assert summary.outputs["run"]["model_validation_status"] == "REJECTED"
    warnings = recipe.instance.get_latest_materialization_event(summary_key(recipe, "run")).asset_materialization.metadata["warnings"]
    assert "roc_auc" in warnings.value and "predict_proba" in warnings.value


def summary_key(recipe, name: str):
    from recipe_assets.core.keys import asset_key

    return asset_key(recipe.loaded.name, name)
