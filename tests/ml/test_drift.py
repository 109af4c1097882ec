"""Drift statistics, streamed in batches, against direct numpy / scipy computations on the same data."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from scipy.stats import ks_2samp

from recipe_assets.ml import drift


def training_frame(rows: int = 4000, seed: int = 1) -> pd.DataFrame:
    rng = np.random.default_rng(seed)
    return pd.DataFrame({
        "distance": rng.gamma(2.0, 2.0, rows),
        "count": rng.integers(0, 7, rows),
        "market": rng.choice(["north", "south", "east"], rows, p=[0.5, 0.3, 0.2]),
        "when": pd.Timestamp("2024-01-01") + pd.to_timedelta(rng.integers(0, 86400 * 30, rows), unit="s"),
    })


def streamed(reference: dict, frame: pd.DataFrame, batch: int) -> dict[str, drift.ColumnDrift]:
    columns = [*reference["columns"]]
    accumulator = drift.DriftAccumulator(reference, columns)
    for start in range(0, len(frame), batch):
        accumulator.add(frame.iloc[start:start + batch])
    return {result.column: result for result in accumulator.results()}


def direct_psi(training: np.ndarray, scoring: np.ndarray) -> float:
    """PSI on training deciles written out without the module: boolean masks per bin, the textbook formula."""
    edges = np.unique(np.quantile(training, np.linspace(0, 1, 11)[1:-1], method="inverted_cdf"))
    bounds = [-np.inf, *edges, np.inf]
    total = 0.0
    for low, high in zip(bounds, bounds[1:]):
        expected = max(np.mean((training > low) & (training <= high)), 1e-4)
        actual = max(np.mean((scoring > low) & (scoring <= high)), 1e-4)
        total += (actual - expected) * np.log(actual / expected)
    return total


def test_numeric_psi_and_ks_streamed_in_batches_equal_a_direct_computation():
    training = training_frame()
    scoring = training_frame(rows=2500, seed=7)
    scoring["distance"] = scoring["distance"] * 1.3 + 0.5
    reference = drift.reference_summary(training[["distance", "count"]], np.zeros(10))
    results = streamed(reference, scoring, batch=333)
    for column in ("distance", "count"):
        result = results[column]
        assert result.psi == pytest.approx(direct_psi(training[column].to_numpy(float), scoring[column].to_numpy(float)), rel=1e-9)
        expected = ks_2samp(training[column].to_numpy(float), scoring[column].to_numpy(float), method="asymp")
        assert result.ks == pytest.approx(expected.statistic, abs=1e-12)
        assert result.ks_pvalue == pytest.approx(expected.pvalue, rel=1e-6, abs=1e-300)
    assert results["distance"].psi > 0.1 > results["count"].psi


def test_ks_uses_a_fixed_reference_sample_when_training_is_large(monkeypatch):
    monkeypatch.setattr(drift, "REFERENCE_SAMPLE", 500)
    training = training_frame(rows=3000)
    reference = drift.reference_summary(training[["distance"]], np.zeros(3))
    sample = np.asarray(reference["columns"]["distance"]["sample"])
    assert len(sample) == 500 and set(sample) <= set(training["distance"])
    scoring = training_frame(rows=4000, seed=3)
    result = streamed(reference, scoring, batch=1000)["distance"]
    assert result.ks == pytest.approx(ks_2samp(sample, scoring["distance"].to_numpy()).statistic, abs=1e-12)


def test_categorical_psi_counts_unseen_categories_and_missing_values():
    training = training_frame()
    scoring = training_frame(rows=1000, seed=5)
    scoring.loc[:99, "market"] = "west"  # a market training never saw
    scoring.loc[100:149, "market"] = None
    reference = drift.reference_summary(training[["market"]], np.zeros(3))
    result = streamed(reference, scoring, batch=256)["market"]
    assert result.kind == "categorical" and result.ks is None
    assert result.unseen == 100 and result.unseen_examples == ["west"]
    shares = dict(zip(result.bins, result.scoring_shares))
    assert shares[drift.UNSEEN] == pytest.approx(0.1) and shares[drift.MISSING] == pytest.approx(0.05)
    labels = ["north", "south", "east", drift.MISSING, drift.UNSEEN]
    expected = [max(np.mean(training["market"] == m), 1e-4) for m in labels[:3]] + [1e-4, 1e-4]
    actual = [max(np.mean(scoring["market"] == m), 1e-4) for m in labels[:3]] + [0.05, 0.1]
    assert result.psi == pytest.approx(sum((a - e) * np.log(a / e) for a, e in zip(actual, expected)), rel=1e-9)


def test_datetimes_are_compared_as_numbers_and_missing_numbers_get_their_own_bin():
    training = training_frame()
    scoring = training_frame(rows=800, seed=9)
    scoring["when"] = scoring["when"] + pd.Timedelta(days=60)
    scoring.loc[:79, "distance"] = np.nan
    reference = drift.reference_summary(training[["when", "distance"]], np.zeros(3))
    results = streamed(reference, scoring, batch=100)
    assert results["when"].kind == "numeric" and results["when"].ks == pytest.approx(1.0)
    assert results["distance"].bins[-1] == drift.MISSING and results["distance"].scoring_shares[-1] == pytest.approx(0.1)


def test_prediction_reference_and_chosen_columns():
    reference = drift.reference_summary(training_frame()[["distance"]], np.array(["a", "b", "a"]))
    assert reference[drift.PREDICTION]["kind"] == "categorical"
    assert drift.compared_columns(reference, ["distance", "other"], []) == (["distance", drift.PREDICTION], [])
    assert drift.compared_columns(reference, ["distance"], ["distance", "nope"]) == (["distance"], ["nope"])


def test_counting_beside_scoring_gives_the_same_counts_and_surfaces_errors():
    from dagster import AssetKey

    from recipe_assets.steps.predict.config import DriftConfig
    from recipe_assets.steps.predict.drift import DriftWatch

    training = training_frame()
    scoring = training_frame(rows=3000, seed=11)
    reference = drift.reference_summary(training[["distance", "market"]], np.zeros(3))
    scoring["prediction"] = 0.0
    watch = DriftWatch.start(DriftConfig(), reference, list(scoring.columns))
    for start in range(0, len(scoring), 400):
        watch.observe(scoring.iloc[start:start + 400])
    _, check = watch.finish(AssetKey("scored"))
    direct = streamed(reference, scoring, batch=len(scoring))
    rows = {row.data["column"]: row.data for row in check.metadata["columns"].value.records}
    assert rows["distance"]["PSI"] == pytest.approx(direct["distance"].psi, rel=1e-5) and check.metadata["rows"].value == 3000
    broken = DriftWatch.start(DriftConfig(), reference, list(scoring.columns))
    broken.observe(scoring.drop(columns=["market"]))
    with pytest.raises(KeyError, match="market"):
        broken.finish(AssetKey("scored"))


def test_every_counting_path_gives_the_exact_ks_and_psi_of_a_direct_computation():
    """Small-range integers (counted by value), wide-range integers, values rounded so many fall exactly on the
    reference's values, a far outlier crowding the reference values together, and missing values: each column's
    streamed PSI and KS equal the direct ones."""
    rng = np.random.default_rng(11)

    def frame(rows: int, shift: float) -> pd.DataFrame:
        rounded = np.round(rng.normal(5 + shift, 2, rows), 1)
        crowded = rng.gamma(2.0, 1.0 + shift, rows)
        crowded[0] = 1e12  # one far value: the other reference values sit in a sliver of the range
        with_gaps = rng.normal(shift, 1, rows)
        with_gaps[rng.random(rows) < 0.05] = np.nan
        return pd.DataFrame({
            "small_ints": rng.integers(-40, 60, rows) + int(shift * 10),
            "wide_ints": rng.integers(-(10**12), 10**12, rows, dtype=np.int64),
            "rounded": rounded,
            "crowded": crowded,
            "with_gaps": with_gaps,
        })

    training, scoring = frame(5000, 0.0), frame(3001, 0.4)
    reference = drift.reference_summary(training, np.zeros(3))
    accumulator = drift.DriftAccumulator(reference, [*training.columns])
    for start in range(0, len(scoring), 700):
        accumulator.add(scoring.iloc[start:start + 700])
    results = {result.column: result for result in accumulator.results()}
    for column in training.columns:
        train, score = training[column].to_numpy(float), scoring[column].to_numpy(float)
        sample = np.asarray(reference["columns"][column]["sample"])
        result = results[column]
        present = score[~np.isnan(score)]
        # the counts KS is read from, at every distinct reference value (its sup may miss an error in one of them)
        counter = accumulator.counters[column]
        assert counter.at_or_below.tolist() == [(present <= point).sum() for point in counter.points], column
        assert counter.below.tolist() == [(present < point).sum() for point in counter.points], column
        assert result.ks == pytest.approx(ks_2samp(sample, present, method="asymp").statistic, abs=1e-12), column
        if column != "with_gaps":  # missing values are a PSI bin of their own there (the test above)
            assert result.psi == pytest.approx(direct_psi(train, score), rel=1e-9), column
        assert sum(result.scoring_shares) == pytest.approx(1.0) and result.rows == len(score)
