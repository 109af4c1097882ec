"""Built-in metrics: names per task, and values equal to scikit-learn's with the documented averaging."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.metrics import BINARY_METRICS, MULTICLASS_METRICS, REGRESSION_METRICS, builtin_metric_names, default_primary_metric
from recipe_assets.ml.metrics import classification_metrics, confusion_table, per_class_table, resolve_positive_class


def test_metric_names_follow_the_task_and_positive_class():
    assert builtin_metric_names("regression") == REGRESSION_METRICS
    assert builtin_metric_names("classification", "good") == BINARY_METRICS
    assert builtin_metric_names("classification") == MULTICLASS_METRICS
    assert default_primary_metric("classification", "good") == "f1_score"
    assert default_primary_metric("classification") == "f1_score_macro"


@pytest.fixture
def binary_predictions():
    rng = np.random.default_rng(0)
    truth = rng.choice(["bad", "good"], size=300, p=[0.7, 0.3])
    good_probability = np.clip(np.where(truth == "good", 0.65, 0.3) + rng.normal(0, 0.2, 300), 0.01, 0.99)
    predicted = np.where(good_probability > 0.5, "good", "bad")
    return truth, predicted, np.column_stack([1 - good_probability, good_probability])


def test_binary_metrics_score_the_positive_class(binary_predictions):
    truth, predicted, probabilities = binary_predictions
    got = classification_metrics(truth, predicted, probabilities, ["bad", "good"], "good")
    tn, fp, fn, tp = sk.confusion_matrix(truth, predicted, labels=["bad", "good"]).ravel()
    expected = {
        "example_count": 300,
        "true_negatives": tn,
        "false_positives": fp,
        "false_negatives": fn,
        "true_positives": tp,
        "recall_score": sk.recall_score(truth, predicted, pos_label="good"),
        "precision_score": sk.precision_score(truth, predicted, pos_label="good"),
        "f1_score": sk.f1_score(truth, predicted, pos_label="good"),
        "accuracy_score": sk.accuracy_score(truth, predicted),
        "roc_auc": sk.roc_auc_score(truth == "good", probabilities[:, 1]),
        # MLflow's evaluator logged the PR curve's area as average precision
        "precision_recall_auc": sk.average_precision_score(truth == "good", probabilities[:, 1]),
        "log_loss": sk.log_loss(truth, probabilities, labels=["bad", "good"]),
    }
    assert set(got) == set(BINARY_METRICS)
    assert got == pytest.approx(expected)


def test_binary_metrics_with_bad_as_positive_flip_the_confusion_counts(binary_predictions):
    truth, predicted, probabilities = binary_predictions
    good = classification_metrics(truth, predicted, probabilities, ["bad", "good"], "good")
    bad = classification_metrics(truth, predicted, probabilities, ["bad", "good"], "bad")
    assert (bad["true_positives"], bad["false_negatives"]) == (good["true_negatives"], good["false_positives"])
    assert bad["roc_auc"] == pytest.approx(good["roc_auc"])
    assert bad["recall_score"] == pytest.approx(sk.recall_score(truth, predicted, pos_label="bad"))


def test_multiclass_metrics_use_weighted_recall_precision_and_auc():
    rng = np.random.default_rng(1)
    truth = rng.choice([3, 5, 7], size=400, p=[0.5, 0.3, 0.2])
    scores = rng.dirichlet([1, 1, 1], size=400) + np.eye(3)[np.searchsorted([3, 5, 7], truth)] * 0.8
    probabilities = scores / scores.sum(axis=1, keepdims=True)
    predicted = np.array([3, 5, 7])[probabilities.argmax(axis=1)]
    got = classification_metrics(truth, predicted, probabilities, [3, 5, 7])
    expected = {
        "example_count": 400,
        "recall_score": sk.recall_score(truth, predicted, average="weighted"),
        "precision_score": sk.precision_score(truth, predicted, average="weighted"),
        "f1_score": sk.f1_score(truth, predicted, average="weighted"),  # MLflow 2.x's multiclass f1_score
        "f1_score_macro": sk.f1_score(truth, predicted, average="macro"),
        "f1_score_micro": sk.f1_score(truth, predicted, average="micro"),
        "accuracy_score": sk.accuracy_score(truth, predicted),
        "roc_auc": sk.roc_auc_score(truth, probabilities, multi_class="ovr", average="weighted"),
        "log_loss": sk.log_loss(truth, probabilities),
    }
    assert set(got) == set(MULTICLASS_METRICS)
    assert got == pytest.approx(expected)


def test_probability_metrics_are_left_out_without_probabilities(binary_predictions):
    truth, predicted, _ = binary_predictions
    got = classification_metrics(truth, predicted, None, ["bad", "good"], "good")
    assert "roc_auc" not in got and "log_loss" not in got and "f1_score" in got


def test_auc_of_a_single_class_is_nan_not_a_crash():
    got = classification_metrics(["good"] * 4, ["good", "bad", "good", "good"], np.full((4, 2), 0.5), ["bad", "good"], "good")
    assert np.isnan(got["roc_auc"])


@pytest.mark.parametrize(("classes", "named", "expected"), [([0, 1], "1", 1), ([0, 1], 1, 1), (["no", "yes"], "yes", "yes"), ([False, True], True, True)])
def test_positive_class_matches_labels_across_yaml_types(classes, named, expected):
    assert resolve_positive_class(classes, named) == expected


def test_unknown_positive_class_names_the_values():
    with pytest.raises(RecipeDataError, match="'maybe' is not a value of the target column; its values are 'no', 'yes'"):
        resolve_positive_class(["no", "yes"], "maybe")


def test_card_tables_list_every_class():
    headers, rows = confusion_table(["a", "b", "c", "a"], ["a", "c", "c", "b"], ["a", "b", "c"])
    assert headers == ["true \\ predicted", "a", "b", "c"]
    assert rows == [("a", 1, 1, 0), ("b", 0, 0, 1), ("c", 0, 0, 1)]
    _, per_class = per_class_table(["a", "b", "c", "a"], ["a", "c", "c", "b"], ["a", "b", "c"])
    assert [r[0] for r in per_class] == ["a", "b", "c"] and [r[4] for r in per_class] == [2, 1, 1]


def test_label_sums_are_named_as_mlflow_2_logged_them_and_the_old_names_still_work(regression_recipe, edit):
    """recipe-format.md says *_on_label; MLflow 2.x's evaluator logged *_on_target. A recipe may name
    either; custom metrics see both keys in builtin_metrics."""
    from recipe_assets.engine.config import load_config
    from recipe_assets.ml.metrics import regression_metrics
    from recipe_assets.core.metrics import with_aliases

    values = regression_metrics([1.0, 2.0, 3.0], [1.0, 2.0, 4.0])
    assert (values["sum_on_target"], values["mean_on_target"]) == (6.0, 2.0)
    assert "sum_on_label" not in values
    assert with_aliases(values)["mean_on_label"] == 2.0
    edit(regression_recipe / "recipe.yaml", "- metric: root_mean_squared_error", "- metric: mean_on_label")
    edit(regression_recipe / "recipe.yaml", 'primary_metric: "root_mean_squared_error"', 'primary_metric: "sum_on_label"')
    config = load_config(regression_recipe).config
    assert config.primary_metric == "sum_on_target"
    assert config.steps.evaluate.validation_criteria[0].metric == "mean_on_target"


def test_primary_and_custom_metrics_lead_the_card_table():
    from recipe_assets.cards.models import metrics_table

    table = metrics_table({"training": {"r2_score": 0.9, "root_mean_squared_error": 2.0, "wmse": 3.0}}, ("root_mean_squared_error", "wmse"))
    rows = [(r.data["metric"], r.data["role"]) for r in table.records]
    assert rows == [("root_mean_squared_error", "primary"), ("wmse", "custom"), ("r2_score", "")]
