"""Batch scoring: streamed in record batches, same predictions as the model on the whole frame."""
from __future__ import annotations

from pathlib import Path

import mlflow
import numpy as np
import pandas as pd
import pytest

from recipe_assets.app.recipe import Recipe


@pytest.fixture(scope="module")
def trained(tmp_path_factory) -> Path:
    from conftest import copy_template

    root = copy_template("regression", tmp_path_factory.mktemp("scoring") / "regression")
    summary = Recipe(recipe_root=root).run()
    assert summary.success, summary.error
    return root


@pytest.fixture
def recipe(trained: Path, tmp_path: Path) -> Path:
    import shutil

    copy = tmp_path / "regression"
    shutil.copytree(trained, copy)
    return copy


def predict_option(root: Path, line: str) -> None:
    """Add one `steps.predict` option (e.g. `save_mode: error`) to the recipe."""
    recipe_file = root / "recipe.yaml"
    text = recipe_file.read_text()
    assert "\n  predict:\n" in text
    recipe_file.write_text(text.replace("\n  predict:\n", f"\n  predict:\n    {line}\n", 1))


def registered_model(root: Path):
    recipe = Recipe(recipe_root=root)
    registered = recipe.latest_value("registered_model_version")
    return recipe.mlflow.load_model(registered["model_uri"]), registered


def test_scored_data_is_the_scoring_data_plus_the_registered_models_predictions(recipe: Path, edit):
    predict_option(recipe, "batch_rows: 700")
    summary = Recipe(recipe_root=recipe).run("predict")
    assert summary.success, summary.error
    assert summary.materialized == ["ingested_scoring_data", "scored_data"]
    scored = pd.read_parquet(recipe / "data" / "sample_output.parquet")
    scoring = pd.read_parquet(recipe / "data" / "sample.parquet")
    model, registered = registered_model(recipe)
    assert list(scored.columns) == [*scoring.columns, "prediction"]
    pd.testing.assert_frame_equal(scored[scoring.columns], scoring)
    np.testing.assert_allclose(scored["prediction"], model.predict(scoring.drop(columns=["fare_amount"])))
    assert scored["prediction"].dtype == np.float64
    event = Recipe(recipe_root=recipe).instance.get_latest_materialization_event(summary_key(recipe, "scored_data"))
    metadata = event.asset_materialization.metadata
    assert metadata["record batches"].value == int(np.ceil(len(scoring) / 700))
    assert metadata["model uri"].value == registered["model_uri"]


def summary_key(root: Path, name: str):
    from dagster import AssetKey

    return AssetKey([root.name, name])


def test_scoring_again_with_nothing_new_does_nothing(recipe: Path):
    assert Recipe(recipe_root=recipe).run("predict").success
    assert Recipe(recipe_root=recipe).run("predict").materialized == []


def test_a_new_registered_version_makes_scoring_run_again(recipe: Path, edit):
    assert Recipe(recipe_root=recipe).run("predict").success
    edit(recipe / "steps" / "train.py", "random_state=42", "random_state=3")
    assert Recipe(recipe_root=recipe).run().success
    again = Recipe(recipe_root=recipe).run("predict")
    assert again.materialized == ["scored_data"]
    assert Recipe(recipe_root=recipe).latest_value("scored_data")["model_uri"].endswith("/2")


def test_scoring_data_missing_a_model_column_names_it(recipe: Path):
    scoring = pd.read_parquet(recipe / "data" / "sample.parquet").drop(columns=["trip_distance"])
    scoring.to_parquet(recipe / "data" / "scoring.parquet", index=False)
    profile = recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace("INGEST_SCORING_CONFIG:\n  using: parquet\n  location: \"./data/sample.parquet\"",
                                                   "INGEST_SCORING_CONFIG:\n  using: parquet\n  location: \"./data/scoring.parquet\""))
    output = recipe / "data" / "sample_output.parquet"
    output.write_bytes(b"previous output")
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert not summary.success
    assert "'trip_distance'" in summary.error and "steps.ingest_scoring" in summary.error
    assert output.read_bytes() == b"previous output"
    assert not [p for p in output.parent.iterdir() if p.name.endswith(".tmp")]


def test_save_mode_error_refuses_to_overwrite(recipe: Path, edit):
    predict_option(recipe, "save_mode: error")
    (recipe / "data" / "sample_output.parquet").write_bytes(b"keep me")
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert not summary.success and "exists and save_mode is 'error'" in summary.error
    assert (recipe / "data" / "sample_output.parquet").read_bytes() == b"keep me"


def test_save_mode_ignore_keeps_an_existing_output(recipe: Path, edit):
    predict_option(recipe, "save_mode: ignore")
    earlier = pd.read_parquet(recipe / "data" / "sample.parquet").head(7)
    earlier.to_parquet(recipe / "data" / "sample_output.parquet", index=False)
    kept = (recipe / "data" / "sample_output.parquet").read_bytes()
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert summary.success, summary.error
    assert (recipe / "data" / "sample_output.parquet").read_bytes() == kept
    assert Recipe(recipe_root=recipe).latest_value("scored_data")["rows"] == 7


def test_save_mode_ignore_writes_when_nothing_is_there(recipe: Path, edit):
    predict_option(recipe, "save_mode: ignore")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    assert "prediction" in pd.read_parquet(recipe / "data" / "sample_output.parquet").columns


def test_scored_output_gets_the_usual_file_mode_not_the_temp_files(recipe: Path):
    import os

    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    umask = os.umask(0o022)
    os.umask(umask)
    assert (recipe / "data" / "sample_output.parquet").stat().st_mode & 0o777 == 0o666 & ~umask
    assert (recipe / "metadata" / "outputs" / "ingested_data.parquet").stat().st_mode & 0o777 == 0o666 & ~umask


def test_explicit_model_uri_scores_without_the_registry_asset(recipe: Path, edit):
    model_uri = Recipe(recipe_root=recipe).latest_value("model")["model_uri"]
    predict_option(recipe, f'model_uri: "{model_uri}"')
    recipe_obj = Recipe(recipe_root=recipe)
    graph = recipe_obj.definitions.resolve_asset_graph()
    assert graph.get(summary_key(recipe, "scored_data")).parent_keys == {summary_key(recipe, "ingested_scoring_data")}
    summary = recipe_obj.run("predict")
    assert summary.success, summary.error
    assert recipe_obj.latest_value("scored_data")["model_uri"] == model_uri


def test_csv_scoring_data_is_streamed_too(recipe: Path, edit):
    predict_option(recipe, "batch_rows: 1000")
    scoring = pd.read_parquet(recipe / "data" / "sample.parquet")
    scoring.to_csv(recipe / "data" / "scoring.csv", index=False)
    profile = recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace(
        'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"',
        'INGEST_SCORING_CONFIG:\n  using: csv\n  location: "./data/scoring.csv"',
    ))
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert summary.success, summary.error
    scored = pd.read_parquet(recipe / "data" / "sample_output.parquet")
    model, _ = registered_model(recipe)
    assert len(scored) == len(scoring)
    np.testing.assert_allclose(scored["prediction"], model.predict(scoring.drop(columns=["fare_amount"])))
    event = Recipe(recipe_root=recipe).instance.get_latest_materialization_event(summary_key(recipe, "scored_data"))
    assert event.asset_materialization.metadata["record batches"].value == -(-len(scoring) // 1000)


def test_scored_data_can_be_written_as_a_delta_table_and_appended_to(recipe: Path):
    from deltalake import DeltaTable

    profile = recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace(
        'PREDICT_OUTPUT_CONFIG:\n  using: parquet\n  location: "./data/sample_output.parquet"',
        'PREDICT_OUTPUT_CONFIG:\n  using: delta\n  location: "./data/scored_delta"',
    ))
    predict_option(recipe, "save_mode: append")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    Recipe(recipe_root=recipe).clean("ingest_scoring")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    table = DeltaTable(str(recipe / "data" / "scored_delta"))
    scoring_rows = len(pd.read_parquet(recipe / "data" / "sample.parquet"))
    assert table.version() == 1
    assert len(table.to_pandas()) == 2 * scoring_rows
    assert "prediction" in table.schema().to_arrow().names


def test_parquet_append_adds_one_part_per_scoring_run(recipe: Path):
    profile = recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace('location: "./data/sample_output.parquet"', 'location: "./data/scored_parts"'))
    predict_option(recipe, "save_mode: append")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    Recipe(recipe_root=recipe).clean("ingest_scoring")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    parts = sorted((recipe / "data" / "scored_parts").glob("*.parquet"))
    rows = len(pd.read_parquet(recipe / "data" / "sample.parquet"))
    assert len(parts) == 2
    assert [len(pd.read_parquet(part)) for part in parts] == [rows, rows]


def test_result_type_sets_the_prediction_column_type(recipe: Path):
    predict_option(recipe, "result_type: int")
    assert Recipe(recipe_root=recipe).run("predict", raise_on_error=False).success
    assert str(pd.read_parquet(recipe / "data" / "sample_output.parquet")["prediction"].dtype) == "int32"


def test_get_artifact_scored_data_is_the_written_table(recipe: Path):
    recipe_obj = Recipe(recipe_root=recipe)
    assert recipe_obj.run("predict", raise_on_error=False).success
    pd.testing.assert_frame_equal(recipe_obj.get_artifact("scored_data"), pd.read_parquet(recipe / "data" / "sample_output.parquet"))


def scoring_config(root: Path, block: str) -> None:
    profile = root / "profiles" / "local.yaml"
    old = 'INGEST_SCORING_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"'
    assert old in profile.read_text()
    profile.write_text(profile.read_text().replace(old, "INGEST_SCORING_CONFIG:\n" + block))


def test_scoring_data_read_through_a_custom_loader_is_what_the_loader_returns(recipe: Path):
    scoring = pd.read_parquet(recipe / "data" / "sample.parquet").drop(columns=["fare_amount"])
    parts = recipe / "data" / "scoring"
    parts.mkdir()
    # stored under another column name: only the loader's renaming gives the model its `trip_distance`
    for name, chunk in (("a.trips", scoring.iloc[:300]), ("b.trips", scoring.iloc[300:700])):
        chunk.rename(columns={"trip_distance": "distance_miles"}).to_parquet(parts / name, index=False)
    with open(recipe / "steps" / "ingest.py", "a") as handle:
        handle.write(
            "\n\ndef load_trips(file_path, file_format):\n"
            "    assert file_format == 'trips'\n"
            "    return pd.read_parquet(file_path).rename(columns={'distance_miles': 'trip_distance'})\n"
        )
    scoring_config(recipe, '  using: trips\n  location: "./data/scoring"\n  loader_method: load_trips')
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert summary.success, summary.error
    scored = pd.read_parquet(recipe / "data" / "sample_output.parquet")
    expected = scoring.iloc[:700].reset_index(drop=True)
    pd.testing.assert_frame_equal(scored[expected.columns], expected)
    model, _ = registered_model(recipe)
    np.testing.assert_allclose(scored["prediction"], model.predict(expected))


def test_scoring_data_read_from_a_pinned_delta_version(recipe: Path):
    from deltalake import write_deltalake

    scoring = pd.read_parquet(recipe / "data" / "sample.parquet").drop(columns=["fare_amount"])
    table = recipe / "data" / "scoring_delta"
    write_deltalake(str(table), scoring.iloc[:400])
    write_deltalake(str(table), scoring.iloc[400:], mode="append")
    scoring_config(recipe, '  using: delta\n  location: "./data/scoring_delta"\n  version: 0')
    summary = Recipe(recipe_root=recipe).run("predict", raise_on_error=False)
    assert summary.success, summary.error
    scored = pd.read_parquet(recipe / "data" / "sample_output.parquet")
    expected = scoring.iloc[:400].reset_index(drop=True)
    pd.testing.assert_frame_equal(scored[expected.columns], expected, check_dtype=False)
    model, _ = registered_model(recipe)
    np.testing.assert_allclose(scored["prediction"], model.predict(expected))


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_classification_scoring_writes_a_score_column_per_class_from_predict_proba(tmp_path: Path):
    from conftest import copy_template

    root = copy_template("classification", tmp_path / "classification")
    summary = Recipe(recipe_root=root).run(raise_on_error=False)
    assert summary.success, summary.error
    assert Recipe(recipe_root=root).run("predict", raise_on_error=False).success
    scored = pd.read_parquet(root / "data" / "sample_output.parquet")
    model, _ = registered_model(root)
    scoring = pd.read_parquet(root / "data" / "sample.parquet")
    features = scoring.drop(columns=["quality"])
    probabilities = model.predict_proba(features)
    score_columns = [f"predicted_score_{c}" for c in model.classes_]
    assert score_columns == ["predicted_score_bad", "predicted_score_good"]
    assert list(scored.columns) == [*scoring.columns, "prediction", *score_columns, "predicted_score"]
    np.testing.assert_allclose(scored[score_columns].to_numpy(), probabilities)
    np.testing.assert_allclose(scored["predicted_score"], probabilities.max(axis=1))
    assert list(scored["prediction"]) == list(model.predict(features))
