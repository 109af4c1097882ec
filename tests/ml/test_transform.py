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


def test_sparse_output_is_densified_with_the_transformers_own_names():
    from sklearn.preprocessing import OneHotEncoder

    frame = pd.DataFrame({"colour": ["red", "white", "red", "rose"]})
    encoder = OneHotEncoder().fit(frame)
    out = apply_transformer(encoder, frame.copy())
    assert list(out.columns) == ["colour_red", "colour_rose", "colour_white"]
    assert out.to_numpy().sum() == 4
