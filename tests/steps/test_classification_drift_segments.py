"""Drift and segments on a classifier (the wine template): a categorical column's unseen values fail the drift
check; the predicted labels are compared with the validation predictions; segments by wine type carry the
classification metrics of their own rows."""
from __future__ import annotations

import numpy as np
import pandas as pd
import pytest
from dagster import AssetCheckKey
from sklearn.metrics import f1_score

from recipe_assets.app.recipe import Recipe


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_classifier_drift_on_an_unseen_category_and_segment_metrics(tmp_path):
    from conftest import copy_template

    root = copy_template("classification", tmp_path / "classification")
    recipe_file = root / "recipe.yaml"
    text = recipe_file.read_text()
    text = text.replace("\n  predict:\n", "\n  predict:\n    drift: {columns: [wine_type, alcohol, prediction]}\n", 1)
    text = text.replace("\n  evaluate:\n", "\n  evaluate:\n    segments: [wine_type]\n", 1)
    recipe_file.write_text(text)
    assert Recipe(recipe_root=root).run().success
    recipe = Recipe(recipe_root=root)
    run = recipe.latest_value("run")
    test = recipe.latest_value("test_data")
    pipeline = recipe.latest_value("model")["pipeline"]
    predicted = np.asarray(pipeline.predict(test.drop(columns=["quality"])))
    for segment in run["segments"]["wine_type"]:
        rows = (test["wine_type"].astype(str) == segment["segment"]).to_numpy()
        expected = f1_score(test["quality"].to_numpy()[rows], predicted[rows], pos_label="good")
        assert segment["metrics"]["f1_score"] == pytest.approx(expected)
        assert segment["rows"] == rows.sum()

    scoring = pd.read_parquet(root / "data" / "sample.parquet")
    scoring.loc[: len(scoring) // 2, "wine_type"] = "rose"  # a wine type training never saw
    scoring.to_parquet(root / "data" / "sample.parquet", index=False)
    assert Recipe(recipe_root=root).run("predict").success
    record = recipe.instance.get_latest_asset_check_evaluation_record(AssetCheckKey(recipe.key("scored_data"), "scoring_data_drift"))
    evaluation = record.event.dagster_event.event_specific_data
    rows = {r.data["column"]: r.data for r in evaluation.metadata["columns"].value.records}
    assert not evaluation.passed and "wine_type" in evaluation.description
    assert rows["wine_type"]["unseen rows"] == len(scoring) // 2 + 1
    assert rows["wine_type"]["kind"] == "categorical" and rows["prediction"]["kind"] == "categorical"
    assert set(rows) == {"wine_type", "alcohol", "prediction"}
