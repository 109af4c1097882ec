"""The champion comparison's numbers: MLflow's change checks, and the paired bootstrap's interval."""
from __future__ import annotations

import numpy as np
import pytest
from sklearn import metrics as sk

from recipe_assets.ml.champion import (
    Predictions,
    change_check,
    has_per_row_terms,
    metric_threshold_error,
    paired_bootstrap_recomputed,
    paired_bootstrap_terms,
)


def regression_pair(n: int, candidate_noise: float, champion_noise: float, seed: int = 0):
    rng = np.random.default_rng(seed)
    truth = rng.normal(10, 3, n)
    return truth, truth + rng.normal(0, candidate_noise, n), truth + rng.normal(0, champion_noise, n)


def test_change_checks_are_mlflows_metric_threshold_in_the_metrics_direction():
    # lower is better: candidate must be at most champion - 0.05
    assert change_check("rmse", 1.0, 1.1, False, 0.05, None) == (True, "")
    passed, reason = change_check("rmse", 1.0, 1.02, False, 0.05, None)
    assert not passed and "minimum absolute change" in reason and "1.02" in reason
    # greater is better, relative to |champion|: 0.9 * (1 + 0.1) = 0.99
    assert change_check("f1", 0.995, 0.9, True, None, 0.1)[0]
    assert not change_check("f1", 0.98, 0.9, True, None, 0.1)[0]


def test_metric_threshold_values_mlflow_refuses_are_named():
    assert "positive" in metric_threshold_error(-1.0, None)
    assert "between 0 and 1" in metric_threshold_error(None, 2.0)
    assert metric_threshold_error(0.5, 0.1) is None


@pytest.mark.parametrize("metric", ["root_mean_squared_error", "mean_absolute_error", "r2_score", "mean_absolute_percentage_error"])
def test_per_row_terms_give_scikit_learns_difference_on_the_whole_test_set(metric):
    truth, ours, theirs = regression_pair(2_000, 1.0, 1.3)
    result = paired_bootstrap_terms(metric, truth, Predictions(ours), Predictions(theirs), resamples=200)
    score = {
        "root_mean_squared_error": lambda p: sk.root_mean_squared_error(truth, p),
        "mean_absolute_error": lambda p: sk.mean_absolute_error(truth, p),
        "r2_score": lambda p: sk.r2_score(truth, p),
        "mean_absolute_percentage_error": lambda p: sk.mean_absolute_percentage_error(truth, p),
    }[metric]
    assert result.difference == pytest.approx(score(ours) - score(theirs), rel=1e-9)
    assert result.low < result.difference < result.high


def test_a_clearly_better_candidate_clears_zero_and_a_coin_flip_does_not():
    truth, ours, theirs = regression_pair(5_000, 1.0, 1.5)
    clear = paired_bootstrap_terms("root_mean_squared_error", truth, Predictions(ours), Predictions(theirs))
    assert clear.high < 0 and clear.clears_zero(greater_is_better=False)
    # the same model with independent noise of the same size: no real difference
    truth, ours, theirs = regression_pair(5_000, 1.0, 1.0, seed=3)
    tie = paired_bootstrap_terms("root_mean_squared_error", truth, Predictions(ours), Predictions(theirs))
    assert tie.low < 0 < tie.high and not tie.clears_zero(greater_is_better=False)


def test_the_interval_covers_the_true_difference_about_95_times_in_100():
    covered = 0
    for seed in range(60):
        truth, ours, theirs = regression_pair(400, 1.0, 1.1, seed=seed)
        result = paired_bootstrap_terms("mean_squared_error", truth, Predictions(ours), Predictions(theirs), resamples=400, seed=seed)
        covered += result.low <= 1.0 - 1.21 <= result.high  # true MSE difference: 1.0² - 1.1²
    assert covered >= 51  # 95% nominal; a broken (too narrow, or off-centre) interval covers far less


def test_same_seed_same_interval_and_pairing_cancels_shared_noise():
    rng = np.random.default_rng(11)
    truth = rng.normal(10, 3, 3_000)
    shared = rng.normal(0, 2, 3_000)  # what both models get wrong on the same rows
    ours, theirs = truth + shared + rng.normal(0, 0.3, 3_000), truth + shared + rng.normal(0, 0.4, 3_000)
    first = paired_bootstrap_terms("mean_absolute_error", truth, Predictions(ours), Predictions(theirs), seed=7)
    again = paired_bootstrap_terms("mean_absolute_error", truth, Predictions(ours), Predictions(theirs), seed=7)
    assert (first.low, first.high) == (again.low, again.high)
    # resampling the two models with different rows (unpaired) would be much wider: the pairing matters
    rng = np.random.default_rng(7)
    unpaired = [np.abs(truth[a] - ours[a]).mean() - np.abs(truth[b] - theirs[b]).mean()
                for a, b in (rng.integers(0, 3_000, (2, 3_000)) for _ in range(300))]
    assert first.high - first.low < 0.7 * (np.percentile(unpaired, 97.5) - np.percentile(unpaired, 2.5))


def test_a_large_test_set_resamples_fewer_rows_and_scales_the_spread_back():
    truth, ours, theirs = regression_pair(200_000, 1.0, 1.02, seed=1)
    full = paired_bootstrap_terms("root_mean_squared_error", truth, Predictions(ours), Predictions(theirs), resamples=300, max_rows=200_000)
    capped = paired_bootstrap_terms("root_mean_squared_error", truth, Predictions(ours), Predictions(theirs), resamples=300, max_rows=20_000)
    assert (full.rows_per_resample, capped.rows_per_resample) == (200_000, 20_000)
    assert capped.difference == pytest.approx(full.difference)
    # m-out-of-n: the width is the full bootstrap's, not sqrt(10) times wider
    assert (capped.high - capped.low) == pytest.approx(full.high - full.low, rel=0.25)


def test_binary_f1_from_per_row_terms_matches_recomputing_it():
    rng = np.random.default_rng(2)
    truth = rng.choice(["bad", "good"], size=1_500)
    ours = np.where(rng.random(1_500) < 0.85, truth, np.where(truth == "good", "bad", "good"))
    theirs = np.where(rng.random(1_500) < 0.8, truth, np.where(truth == "good", "bad", "good"))
    assert has_per_row_terms("f1_score", binary=True, has_probabilities=False)
    assert not has_per_row_terms("roc_auc", binary=True, has_probabilities=True)  # a rank metric: recomputed
    assert not has_per_row_terms("log_loss", binary=True, has_probabilities=False)
    fast = paired_bootstrap_terms("f1_score", truth, Predictions(ours), Predictions(theirs), positive="good", resamples=500)

    def f1_difference(rows):
        return sk.f1_score(truth[rows], ours[rows], pos_label="good") - sk.f1_score(truth[rows], theirs[rows], pos_label="good")

    whole = f1_difference(np.arange(1_500))
    slow = paired_bootstrap_recomputed("f1_score", 1_500, f1_difference, whole, resamples=500)
    assert fast.difference == pytest.approx(whole)
    assert fast.low == pytest.approx(slow.low, abs=0.01) and fast.high == pytest.approx(slow.high, abs=0.01)


def test_a_recomputed_metric_stops_at_its_time_budget_and_says_how_many_resamples_it_did():
    import time

    def slow_difference(rows):
        time.sleep(0.01)
        return float(np.mean(rows) % 3)

    result = paired_bootstrap_recomputed("custom", 1_000, slow_difference, 0.0, resamples=1_000, time_budget=0.3)
    assert 20 <= result.resamples < 100 and result.method == "recomputed"


@pytest.mark.parametrize("metric,average", [("f1_score", "weighted"), ("f1_score_macro", "macro"), ("recall_score", "weighted")])
def test_multiclass_averages_from_per_class_terms_match_recomputing_them(metric, average):
    rng = np.random.default_rng(4)
    classes = np.array(["a", "b", "c", "d"])
    truth = rng.choice(classes, size=1_200, p=[0.5, 0.3, 0.15, 0.05])
    ours = np.where(rng.random(1_200) < 0.8, truth, rng.choice(classes, size=1_200))
    theirs = np.where(rng.random(1_200) < 0.7, truth, rng.choice(classes, size=1_200))
    assert has_per_row_terms(metric, binary=False, has_probabilities=False)
    score = {"f1_score": sk.f1_score, "f1_score_macro": sk.f1_score, "recall_score": sk.recall_score}[metric]

    def difference(rows):
        return score(truth[rows], ours[rows], average=average, zero_division=0) - score(truth[rows], theirs[rows], average=average, zero_division=0)

    fast = paired_bootstrap_terms(metric, truth, Predictions(ours), Predictions(theirs), resamples=400)
    slow = paired_bootstrap_recomputed(metric, 1_200, difference, difference(np.arange(1_200)), resamples=400)
    assert fast.difference == pytest.approx(difference(np.arange(1_200)))
    assert fast.low == pytest.approx(slow.low, abs=0.01) and fast.high == pytest.approx(slow.high, abs=0.01)
