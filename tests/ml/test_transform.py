"""transform: the user's transformer gets what MLflow Recipes gave it, a fresh frame on every call."""
from __future__ import annotations

import numpy as np
import pandas as pd

from recipe_assets.ml.transformers import apply_transformer, feature_names, features_of


def mutating_transformer():
    """Like MLflow's published `calculate_features`: adds a column and drops one, in place."""
    from sklearn.preprocessing import FunctionTransformer

    def calculate(df):
        df["ratio"] = df["a"] / (df["b"] + 1)
        df.drop(columns=["b"], inplace=True)
        return df

    return FunctionTransformer(calculate)


def test_a_transformer_that_changes_its_input_in_place_fits_and_transforms_fresh_frames():
    training = pd.DataFrame({"a": np.arange(6.0), "b": np.arange(6.0) * 2, "target": np.arange(6.0)})
    transformer = mutating_transformer()
    transformer.fit(features_of(training, "target"), training["target"])
    out = apply_transformer(transformer, features_of(training, "target"))
    assert list(out.columns) == ["a", "ratio"]
    assert list(training.columns) == ["a", "b", "target"]  # ours is untouched
    again = apply_transformer(transformer, features_of(training, "target"))
    pd.testing.assert_frame_equal(out, again)


def test_array_output_gets_mlflow_recipes_generated_names():
    """Without output names, MLflow Recipes named the features f_0.. zero-padded to the count's width."""
    assert feature_names(object(), 3) == ["f_0", "f_1", "f_2"]
    assert feature_names(object(), 12)[:2] == ["f_00", "f_01"] and feature_names(object(), 12)[-1] == "f_11"


class NamesFail:
    def get_feature_names_out(self, input_features=None):
        raise ValueError("input_features is not equal to feature_names_in_")


class NamesShort:
    def get_feature_names_out(self, input_features=None):
        return ["only_one"]


def test_falling_back_to_generated_names_is_said_unless_the_transformer_offers_none(caplog):
    """A transformer whose names fail or do not fit gets f_N names with a warning (on the card); one that offers no names gets them quietly."""
    import logging

    with caplog.at_level(logging.WARNING, logger="recipe_assets.ml.transformers"):
        assert feature_names(object(), 2) == ["f_0", "f_1"]
        assert caplog.records == []
        assert feature_names(NamesFail(), 2) == ["f_0", "f_1"]
        assert feature_names(NamesShort(), 2) == ["f_0", "f_1"]
    said = [record.getMessage() for record in caplog.records]
    assert said == [
        "the transformed columns are named f_0..f_1: NamesFail.get_feature_names_out failed "
        "(ValueError: input_features is not equal to feature_names_in_)",
        "the transformed columns are named f_0..f_1: NamesShort.get_feature_names_out gave 1 names for 2 columns",
    ]


def test_sparse_output_is_densified_with_the_transformers_own_names():
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"colour": ["red", "white", "red", "rose"]})
    encoder = OneHotEncoder().fit(frame)
    out = apply_transformer(encoder, frame.copy())
    assert list(out.columns) == ["colour_red", "colour_rose", "colour_white"]
    assert out.to_numpy().sum() == 4
