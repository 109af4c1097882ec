"""Ingest: the locations and formats MLflow Recipes accepted, read without Spark."""
from __future__ import annotations

from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake

from recipe_assets.core.errors import RecipeDataError
from recipe_assets.data.sources import IngestConfig, read_data, resolve_files
from recipe_assets.app.recipe import Recipe


@pytest.fixture
def trips(regression_recipe: Path) -> pd.DataFrame:
    return pd.read_parquet(regression_recipe / "data" / "sample.parquet")


def use_ingest(recipe: Path, block: str) -> None:
    profile = recipe / "profiles" / "local.yaml"
    text = profile.read_text()
    old = 'INGEST_CONFIG:\n  using: parquet\n  location: "./data/sample.parquet"'
    assert old in text
    profile.write_text(text.replace(old, "INGEST_CONFIG:\n" + block))


def test_a_directory_glob_or_list_of_parquet_files_is_read_in_order(regression_recipe: Path, trips: pd.DataFrame):
    parts = regression_recipe / "data" / "parts"
    parts.mkdir()
    for number, chunk in enumerate((trips.iloc[:2000], trips.iloc[2000:])):
        chunk.to_parquet(parts / f"part-{number}.parquet", index=False)
    (parts / "notes.txt").write_text("not data")
    for location in ("./data/parts", "./data/parts/*.parquet", ["./data/parts/part-0.parquet", "./data/parts/part-1.parquet"]):
        config = IngestConfig(using="parquet", location=location)
        assert [p.name for p in resolve_files(regression_recipe, config, "steps.ingest")] == ["part-0.parquet", "part-1.parquet"]
        ingested = read_data(regression_recipe, config, "steps.ingest")
        pd.testing.assert_frame_equal(ingested.reset_index(drop=True), trips)
        # each file keeps its own index, as MLflow Recipes concatenated them (the split's row hash covers it)
        assert list(ingested.index) == [*range(2000), *range(len(trips) - 2000)]


def test_files_of_several_locations_are_read_sorted_by_name_as_mlflow_recipes_did(regression_recipe: Path, trips: pd.DataFrame):
    data = regression_recipe / "data"
    trips.iloc[:100].to_parquet(data / "b-first-listed.parquet")
    trips.iloc[100:250].to_parquet(data / "a-second-listed.parquet")
    config = IngestConfig(using="parquet", location=["./data/b-first-listed.parquet", "./data/a-second-listed.parquet"])
    ingested = read_data(regression_recipe, config, "steps.ingest")
    pd.testing.assert_frame_equal(ingested, pd.concat([trips.iloc[100:250], trips.iloc[:100]]))


def test_a_missing_location_names_the_key_and_the_path(regression_recipe: Path):
    with pytest.raises(RecipeDataError, match=r"steps\.ingest\.location: .*data/nowhere\.parquet does not exist"):
        resolve_files(regression_recipe, IngestConfig(using="parquet", location="./data/nowhere.parquet"), "steps.ingest")


def test_delta_tables_are_read_without_spark_at_the_latest_or_a_pinned_version(regression_recipe: Path, trips: pd.DataFrame):
    table = regression_recipe / "data" / "trips_delta"
    write_deltalake(str(table), trips.iloc[:3000])
    write_deltalake(str(table), trips.iloc[3000:], mode="append")
    latest = read_data(regression_recipe, IngestConfig(using="delta", location="./data/trips_delta"), "steps.ingest")
    first = read_data(regression_recipe, IngestConfig(using="delta", location="./data/trips_delta", version=0), "steps.ingest")
    assert (len(latest), len(first)) == (len(trips), 3000)


def test_a_new_delta_version_reruns_ingest_but_not_for_a_recipe_pinned_to_an_older_one(regression_recipe: Path, trips: pd.DataFrame):
    table = regression_recipe / "data" / "trips_delta"
    write_deltalake(str(table), trips.iloc[:3000])
    use_ingest(regression_recipe, '  using: delta\n  location: "./data/trips_delta"\n  version: 0')
    assert Recipe(recipe_root=regression_recipe).run("ingest").materialized == ["ingested_data"]
    write_deltalake(str(table), trips.iloc[3000:], mode="append")
    assert Recipe(recipe_root=regression_recipe).run("ingest").materialized == []
    profile = regression_recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace("  version: 0\n", "\n").replace("  version: 0", ""))
    rerun = Recipe(recipe_root=regression_recipe)
    assert rerun.run("ingest").materialized == ["ingested_data"]
    assert len(rerun.latest_value("ingested_data")) == len(trips)


def test_a_recipe_pinned_to_a_delta_timestamp_stays_fresh_when_a_later_version_lands(regression_recipe: Path, trips: pd.DataFrame):
    import datetime as dt
    import time

    table = regression_recipe / "data" / "trips_delta"
    write_deltalake(str(table), trips.iloc[:3000])
    pinned = dt.datetime.now(dt.timezone.utc)
    time.sleep(0.05)  # the next commit's time (milliseconds) must fall after the pinned time
    use_ingest(regression_recipe, f'  using: delta\n  location: "./data/trips_delta"\n  timestamp: "{pinned.isoformat()}"')
    first = Recipe(recipe_root=regression_recipe)
    assert first.run("ingest").materialized == ["ingested_data"]
    assert len(first.latest_value("ingested_data")) == 3000
    write_deltalake(str(table), trips.iloc[3000:], mode="append")
    assert Recipe(recipe_root=regression_recipe).run("ingest").materialized == []
    profile = regression_recipe / "profiles" / "local.yaml"
    profile.write_text(profile.read_text().replace(pinned.isoformat(), dt.datetime.now(dt.timezone.utc).isoformat()))
    moved = Recipe(recipe_root=regression_recipe)
    assert moved.run("ingest").materialized == ["ingested_data"]
    assert len(moved.latest_value("ingested_data")) == len(trips)



def test_schema_drift_is_named_before_user_code_and_clean_accepts_an_intended_change(regression_recipe: Path, trips: pd.DataFrame):
    assert Recipe(recipe_root=regression_recipe).run("ingest").materialized == ["ingested_data"]
    trips.drop(columns=["trip_distance"]).assign(extra=1).to_parquet(regression_recipe / "data" / "sample.parquet")
    summary = Recipe(recipe_root=regression_recipe).run("ingest", raise_on_error=False)
    assert not summary.success
    assert "'trip_distance' is missing (it was float64)" in str(summary.error)
    assert "sample.parquet" in str(summary.error)
    assert "extra" not in str(summary.error)  # new columns are fine
    recipe = Recipe(recipe_root=regression_recipe)
    recipe.clean("ingest")
    assert recipe.run("ingest").materialized == ["ingested_data"]
    assert "trip_distance" not in recipe.latest_value("ingested_data").columns
