"""The split is MLflow Recipes' split: same rows land in the same sets."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import NYC_SAMPLE
from recipe_assets.steps.split import SplitConfig, assign_splits, split_frames


def test_nyc_sample_splits_exactly_as_mlflow_recipes_did():
    """MLflow Recipes 2.22 split the NYC sample with ratios [0.8, 0.1, 0.1] into 8051 / 959 / 990 rows."""
    trips = pd.read_parquet(NYC_SAMPLE)
    labels = pd.Series(assign_splits(trips, (0.8, 0.1, 0.1))).value_counts()
    assert (labels["TRAINING"], labels["VALIDATION"], labels["TEST"]) == (8051, 959, 990)


def test_ratios_are_normalized_by_their_sum():
    assert SplitConfig(split_ratios=[8, 1, 1]).normalized_ratios == pytest.approx((0.8, 0.1, 0.1))


def test_appending_rows_never_moves_existing_rows():
    trips = pd.read_parquet(NYC_SAMPLE)
    head = trips.iloc[:6000]
    before = assign_splits(head, (0.75, 0.125, 0.125))
    after = assign_splits(trips, (0.75, 0.125, 0.125))[:6000]
    assert (before == after).all()


def test_split_is_deterministic_across_calls():
    trips = pd.read_parquet(NYC_SAMPLE)
    assert (assign_splits(trips, (0.6, 0.2, 0.2)) == assign_splits(trips, (0.6, 0.2, 0.2))).all()


def test_post_split_filter_drops_rows_in_every_split(regression_recipe):
    trips = pd.read_parquet(NYC_SAMPLE)
    trips.loc[:99, "fare_amount"] = -1.0
    config = SplitConfig(post_split_filter_method="create_dataset_filter")
    frames = split_frames(trips, config, regression_recipe, "fare_amount")
    plausible = (trips["fare_amount"] > 0) & trips["trip_distance"].between(0, 400, inclusive="neither")
    assert sum(len(f) for f in frames.values()) == int(plausible.sum()) <= len(trips) - 100
    assert all((f["fare_amount"] > 0).all() for f in frames.values())


@pytest.mark.parametrize("ratios", [[0.5, 0.5], [1, 0, 1], [-1, 1, 1]])
def test_bad_ratios_are_refused(ratios):
    with pytest.raises(ValueError, match="three positive numbers"):
        SplitConfig(split_ratios=ratios)
