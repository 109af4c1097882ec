"""The split is MLflow Recipes' split: same rows land in the same sets."""
from __future__ import annotations

import pandas as pd
import pytest

from conftest import NYC_SAMPLE, shared
from recipe_assets.steps.split.config import SplitConfig
from recipe_assets.steps.split.splitting import assign_splits, split_frames


def test_nyc_sample_splits_exactly_as_mlflow_recipes_did():
    """MLflow Recipes 2.22 split the NYC sample with ratios [0.8, 0.1, 0.1] into 8051 / 959 / 990 rows."""
    trips = pd.read_parquet(shared(NYC_SAMPLE))
    labels = pd.Series(assign_splits(trips, (0.8, 0.1, 0.1))).value_counts()
    assert (labels["TRAINING"], labels["VALIDATION"], labels["TEST"]) == (8051, 959, 990)


def test_ratios_are_normalized_by_their_sum():
    assert SplitConfig(split_ratios=[8, 1, 1]).normalized_ratios == pytest.approx((0.8, 0.1, 0.1))


def test_appending_rows_never_moves_existing_rows():
    trips = pd.read_parquet(shared(NYC_SAMPLE))
    head = trips.iloc[:6000]
    before = assign_splits(head, (0.75, 0.125, 0.125))
    after = assign_splits(trips, (0.75, 0.125, 0.125))[:6000]
    assert (before == after).all()


def test_split_is_deterministic_across_calls():
    trips = pd.read_parquet(shared(NYC_SAMPLE))
    assert (assign_splits(trips, (0.6, 0.2, 0.2)) == assign_splits(trips, (0.6, 0.2, 0.2))).all()


def test_post_split_filter_drops_rows_in_every_split(regression_recipe):
    trips = pd.read_parquet(shared(NYC_SAMPLE))
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


# ---- classification: MLflow Recipes' split, and exact stratification as an opt-in ----------------------


def _labelled(rows: int, seed: int) -> pd.DataFrame:
    import numpy as np

    rng = np.random.default_rng(seed)
    return pd.DataFrame({"x": rng.normal(size=rows), "y": rng.integers(0, 9, rows), "label": rng.choice(["red", "white"], rows, p=[0.25, 0.75])})


def test_classification_split_puts_each_row_where_mlflow_recipes_did(tmp_path):
    """MLflow Recipes hashed each class's rows on their own, which puts every row in the split the
    unstratified hash rule picks, then concatenated the classes in sorted order."""
    data = _labelled(3000, seed=11)
    frames = split_frames(data, SplitConfig(split_ratios=[0.8, 0.1, 0.1]), tmp_path, "label", "classification")
    where = mlflow_recipes_split(data, (0.8, 0.1, 0.1))
    assert set(frames) == set(where)
    for split, frame in frames.items():
        expected = pd.concat([data[where[split] & (data["label"] == label)] for label in sorted(data["label"].unique())])
        assert len(expected) > 100
        pd.testing.assert_frame_equal(frame, expected)  # rows keep their ingested index, as there


def mlflow_recipes_split(data: pd.DataFrame, ratios: tuple[float, float, float]) -> dict[str, pd.Series]:
    """MLflow Recipes 2.22's rule written out from its split.py (_create_hash_buckets, _get_split_df), not
    through our assign_splits: pandas' row hash (index included) into 1000 buckets, cut at the ratios."""
    buckets = pd.util.hash_pandas_object(data).map(lambda h: (h % 1000) / 1000)
    train_end, validation_end = ratios[0] / sum(ratios), (ratios[0] + ratios[1]) / sum(ratios)
    return {"TRAINING": buckets < train_end, "VALIDATION": (buckets >= train_end) & (buckets < validation_end), "TEST": buckets >= validation_end}


def test_classification_rows_never_move_when_rows_are_added(tmp_path):
    data = _labelled(3000, seed=12)
    before = split_frames(data.iloc[:2000], SplitConfig(), tmp_path, "label", "classification")
    after = split_frames(data, SplitConfig(), tmp_path, "label", "classification")
    for split in before:
        kept = before[split].merge(after[split], how="left", indicator=True)
        assert (kept["_merge"] == "both").all(), f"rows of {split} moved to another split"


def test_exact_stratification_is_an_opt_in_that_cuts_each_class_at_the_ratios(tmp_path):
    data = _labelled(3000, seed=13)
    config = SplitConfig(split_ratios=[0.8, 0.1, 0.1], stratify="exact")
    frames = split_frames(data, config, tmp_path, "label", "classification")
    for label, count in data["label"].value_counts().items():
        sizes = [int((frames[s]["label"] == label).sum()) for s in ("TRAINING", "VALIDATION", "TEST")]
        assert sizes == pytest.approx([0.8 * count, 0.1 * count, 0.1 * count], abs=1)


# ---- user functions get what MLflow Recipes gave them, and cannot change what we keep -------------------


def _steps(root, source: str) -> None:
    (root / "steps").mkdir(parents=True, exist_ok=True)
    (root / "steps" / "split.py").write_text(source)


def test_a_filter_that_changes_its_argument_in_place_changes_no_output(tmp_path):
    _steps(tmp_path, (
        "seen = []\n"
        "def keep_positive(df):\n"
        "    seen.append(list(df.index[:3]))\n"
        "    mask = df['x'] > 0\n"
        "    df['x'] = 0.0\n"
        "    df.drop(columns=['y'], inplace=True)\n"
        "    return mask\n"
    ))
    data = _labelled(400, seed=14)
    frames = split_frames(data, SplitConfig(post_split_filter_method="keep_positive"), tmp_path, "label", "regression")
    import steps.split as user_split

    rule = assign_splits(data, (0.75, 0.125, 0.125))
    for split, frame in frames.items():
        expected = data[(rule == split) & (data["x"] > 0)]
        pd.testing.assert_frame_equal(frame, expected)
    # each split reached the filter with its rows' ingested index, as MLflow Recipes passed it
    assert user_split.seen[0] == list(data.index[rule == "TRAINING"][:3])


def test_post_split_method_gets_the_three_splits_at_once(tmp_path):
    _steps(tmp_path, (
        "def trim(train, validation, test):\n"
        "    return train[train['x'] > 0], validation.head(5), test\n"
    ))
    data = _labelled(400, seed=15)
    frames = split_frames(data, SplitConfig(post_split_method="trim"), tmp_path, "label", "regression")
    rule = assign_splits(data, (0.75, 0.125, 0.125))
    assert len(frames["TRAINING"]) == int(((rule == "TRAINING") & (data["x"] > 0)).sum())
    assert len(frames["VALIDATION"]) == 5
    assert len(frames["TEST"]) == int((rule == "TEST").sum())


def test_post_split_method_that_drops_a_column_is_refused(tmp_path):
    from recipe_assets.core.errors import UserCodeError

    _steps(tmp_path, "def narrow(train, validation, test):\n    return train.drop(columns=['y']), validation, test\n")
    with pytest.raises(UserCodeError, match="changed the columns of the training_data split"):
        split_frames(_labelled(200, seed=16), SplitConfig(post_split_method="narrow"), tmp_path, "label", "regression")


def test_a_custom_split_method_that_changes_its_argument_changes_no_output(tmp_path):
    _steps(tmp_path, (
        "import numpy as np\n"
        "def by_sign(df):\n"
        "    labels = np.where(df['x'] > 0.5, 'TEST', np.where(df['x'] > 0, 'VALIDATION', 'TRAINING'))\n"
        "    df.drop(columns=['y'], inplace=True)\n"
        "    return labels\n"
    ))
    data = _labelled(300, seed=17)
    frames = split_frames(data, SplitConfig(using="custom", split_method="by_sign"), tmp_path, "label", "regression")
    assert list(frames["TEST"].columns) == ["x", "y", "label"]
    assert (frames["TEST"]["x"] > 0.5).all() and (frames["TRAINING"]["x"] <= 0).all()
