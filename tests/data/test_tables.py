"""Spark SQL and table ingest without a JVM: DataFusion over Spark's local warehouse and the `tables:` mapping."""
from __future__ import annotations

import os
from pathlib import Path

import pandas as pd
import pytest
from deltalake import DeltaTable, write_deltalake

from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import RecipeConfigError, RecipeDataError
from recipe_assets.app.recipe import Recipe
from recipe_assets.data.sources import IngestConfig, read_data, resolve_files

PROFILE = """
experiment:
  name: "tables"
  tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"
  artifact_location: "./metadata/mlflow/mlartifacts"
model_registry:
  model_name: "taxi_fare_tables"
"""


@pytest.fixture
def trips(regression_recipe: Path) -> pd.DataFrame:
    return pd.read_parquet(regression_recipe / "data" / "sample.parquet")


@pytest.fixture
def warehouse(regression_recipe: Path, trips: pd.DataFrame) -> Path:
    """The regression template with its data where a local Spark session's saveAsTable left it:
    `trips` as Parquet parts (plus Spark's _SUCCESS marker), `sales.zones` as a Delta table."""
    table = regression_recipe / "spark-warehouse" / "trips"
    table.mkdir(parents=True)
    trips.iloc[:3000].to_parquet(table / "part-00000-1f0c.c000.snappy.parquet", index=False)
    trips.iloc[3000:].to_parquet(table / "part-00001-1f0c.c000.snappy.parquet", index=False)
    (table / "_SUCCESS").write_text("")
    zones = pd.DataFrame({"zip": sorted(trips["pickup_zip"].unique())})
    zones["borough"] = ["north" if z % 2 else "south" for z in zones["zip"]]
    write_deltalake(str(regression_recipe / "spark-warehouse" / "sales.db" / "zones"), zones)
    return regression_recipe


def use_profile(recipe: Path, body: str, name: str = "tables") -> str:
    (recipe / "profiles" / f"{name}.yaml").write_text(PROFILE + body)
    return name


def test_spark_sql_reads_the_spark_warehouse_in_spark_sql_spelling(warehouse: Path, trips: pd.DataFrame):
    config = IngestConfig(
        using="spark_sql",
        sql="SELECT t.*, z.borough FROM `trips` t JOIN sales.zones z ON t.pickup_zip = z.zip WHERE t.`fare_amount` > 10",
    )
    df = read_data(warehouse, config, "steps.ingest")
    expected = trips[trips["fare_amount"] > 10]
    assert len(df) == len(expected) and list(df.columns) == [*trips.columns, "borough"]
    assert set(df["borough"]) == {"north", "south"}
    tables_read = {p.relative_to(warehouse).parts[:2] for p in resolve_files(warehouse, config, "steps.ingest")}
    assert tables_read == {("spark-warehouse", "trips"), ("spark-warehouse", "sales.db")}


def test_a_table_by_name_is_the_whole_table_in_file_order_as_mlflow_recipes_read_it(warehouse: Path, trips: pd.DataFrame):
    for config in (IngestConfig(using="spark_sql", location="trips"), IngestConfig(using="table", location="default.trips")):
        pd.testing.assert_frame_equal(read_data(warehouse, config, "steps.ingest"), trips)


def test_the_profiles_tables_mapping_names_csv_parquet_and_delta_data(warehouse: Path, trips: pd.DataFrame):
    trips.iloc[:100].to_csv(warehouse / "data" / "recent.csv", index=False)
    delta = warehouse / "data" / "trips_delta"
    write_deltalake(str(delta), trips.iloc[:300])
    profile = use_profile(
        warehouse,
        """
tables:
  recent: ./data/recent.csv
  archive.trips: ./data/trips_delta
  Warehouse_Trips: ./spark-warehouse/trips
INGEST_CONFIG:
  using: spark_sql
  sql: >
    SELECT 'recent' AS origin, fare_amount FROM recent
    UNION ALL SELECT 'archive', fare_amount FROM archive.trips
    UNION ALL SELECT 'warehouse', fare_amount FROM warehouse_trips
""",
    )
    loaded = load_config(warehouse, profile)
    counts = read_data(warehouse, loaded.config.steps.ingest, "steps.ingest")["origin"].value_counts().to_dict()
    assert counts == {"recent": 100, "archive": 300, "warehouse": len(trips)}


def test_ingest_runs_again_only_when_a_file_of_a_table_it_reads_changes(warehouse: Path, trips: pd.DataFrame):
    profile = use_profile(
        warehouse,
        """
INGEST_CONFIG:
  using: spark_sql
  sql: "SELECT t.*, z.borough FROM trips t JOIN sales.zones z ON t.pickup_zip = z.zip"
""",
    )
    assert Recipe(profile, warehouse).run("ingest").materialized == ["ingested_data"]
    assert Recipe(profile, warehouse).run("ingest").materialized == []
    part = warehouse / "spark-warehouse" / "trips" / "part-00001-1f0c.c000.snappy.parquet"
    os.utime(part, (1, 1))  # touched, same bytes
    (warehouse / "spark-warehouse" / "unrelated").mkdir()
    trips.iloc[:10].to_parquet(warehouse / "spark-warehouse" / "unrelated" / "part-0.parquet")  # a table the query does not read
    assert Recipe(profile, warehouse).run("ingest").materialized == []
    trips.iloc[3000:-50].to_parquet(part, index=False)
    assert Recipe(profile, warehouse).run("ingest").materialized == ["ingested_data"]
    assert len(Recipe(profile, warehouse).latest_value("ingested_data")) == len(trips) - 50
    zones = DeltaTable(str(warehouse / "spark-warehouse" / "sales.db" / "zones")).to_pandas()
    write_deltalake(str(warehouse / "spark-warehouse" / "sales.db" / "zones"), zones.iloc[:1], mode="overwrite")
    assert Recipe(profile, warehouse).run("ingest").materialized == ["ingested_data"]


def test_an_unknown_table_says_where_it_was_looked_for(warehouse: Path):
    config = IngestConfig(using="spark_sql", sql="SELECT * FROM trip", tables={"recent": "./data/recent.csv"})
    with pytest.raises(RecipeDataError, match=r"steps\.ingest\.sql: no table 'trip'; looked in `tables:` \(recent\) and .*spark-warehouse \(sales\.zones, trips\)"):
        resolve_files(warehouse, config, "steps.ingest")
    with pytest.raises(RecipeDataError, match=r"steps\.ingest\.location: no table 'sales\.trips'"):
        read_data(warehouse, IngestConfig(using="table", location="sales.trips"), "steps.ingest")


def test_sql_that_datafusion_cannot_run_names_the_key_and_the_reason(warehouse: Path):
    with pytest.raises(RecipeDataError, match=r"steps\.ingest_scoring\.sql: DataFusion SQL could not run this query: .*No field named fare"):
        read_data(warehouse, IngestConfig(using="spark_sql", sql="SELECT fare FROM trips"), "steps.ingest_scoring")


def test_a_mapped_path_that_holds_no_table_names_the_mapping_key(warehouse: Path):
    (warehouse / "data" / "notes").mkdir()
    (warehouse / "data" / "notes" / "readme.txt").write_text("no data here")
    config = IngestConfig(using="table", location="notes", tables={"notes": "./data/notes"})
    with pytest.raises(RecipeDataError, match=r"tables\.notes: .*data/notes holds no \.parquet or \.csv files and is not a Delta table"):
        resolve_files(warehouse, config, "steps.ingest")


@pytest.mark.parametrize(
    ("body", "key", "problem"),
    [
        ("tables:\n  bad-name: ./data/x.csv\n", "tables", "table name 'bad-name' is not"),
        ('INGEST_CONFIG:\n  using: parquet\n  location: ./data/sample.parquet\n  sql: "SELECT 1"\n', "steps.ingest", "`sql` applies to `using: spark_sql` only"),
        ("INGEST_CONFIG:\n  using: table\n  location: [a, b]\n", "steps.ingest", "takes one table name as `location`, not a list"),
        ("INGEST_CONFIG:\n  using: spark_sql\n", "steps.ingest", "needs `sql` (a query) or `location` (a table name)"),
        ("PREDICT_OUTPUT_CONFIG:\n  using: table\n  location: ./data/out\n", "steps.predict.output", "takes a table name"),
    ],
)
def test_table_settings_that_cannot_work_fail_when_the_config_loads(regression_recipe: Path, body: str, key: str, problem: str):
    profile = use_profile(regression_recipe, body)
    with pytest.raises(RecipeConfigError) as raised:
        load_config(regression_recipe, profile)
    assert raised.value.key_path == key and problem in raised.value.problem


@pytest.mark.slow
def test_scoring_data_from_sql_and_predictions_written_as_a_table_sql_can_read_back(warehouse: Path, trips: pd.DataFrame):
    profile = use_profile(
        warehouse,
        """
INGEST_CONFIG:
  using: table
  location: trips
INGEST_SCORING_CONFIG:
  using: spark_sql
  sql: "SELECT * FROM trips WHERE trip_distance > 5"
PREDICT_OUTPUT_CONFIG:
  using: table
  location: scored.trips
""",
    )
    assert Recipe(profile, warehouse).run().success
    summary = Recipe(profile, warehouse).run("predict")
    assert summary.success, summary.error
    scored = read_data(warehouse, IngestConfig(using="spark_sql", sql="SELECT * FROM scored.trips"), "steps.ingest")
    assert len(scored) == int((trips["trip_distance"] > 5).sum())
    assert list(scored.columns) == [*trips.columns, "prediction"]
    assert (warehouse / "spark-warehouse" / "scored.db" / "trips" / "_delta_log").is_dir()
    assert Recipe(profile, warehouse).run("predict").materialized == []


def test_a_date_column_arrives_as_pandas_datetimes_as_mlflow_recipes_converted_spark_dates(warehouse: Path):
    config = IngestConfig(using="spark_sql", sql="SELECT CAST(tpep_pickup_datetime AS DATE) AS pickup_day FROM trips")
    assert str(read_data(warehouse, config, "steps.ingest")["pickup_day"].dtype) == "datetime64[ns]"


def test_a_partitioned_spark_table_reads_its_partition_column_and_not_a_failed_jobs_leftovers(warehouse: Path, trips: pd.DataFrame):
    table = warehouse / "spark-warehouse" / "by_zip"
    for zip_code, rows in list(trips.groupby("pickup_zip"))[:3]:
        (table / f"pickup_zip={zip_code}").mkdir(parents=True)
        rows.drop(columns=["pickup_zip"]).to_parquet(table / f"pickup_zip={zip_code}" / "part-00000.snappy.parquet", index=False)
    (table / "_temporary" / "0").mkdir(parents=True)
    trips.to_parquet(table / "_temporary" / "0" / "part-00009.snappy.parquet", index=False)  # left by a failed Spark job
    (table / "_SUCCESS").write_text("")
    config = IngestConfig(using="table", location="by_zip")
    df = read_data(warehouse, config, "steps.ingest")
    expected = trips[trips["pickup_zip"].isin(sorted(trips["pickup_zip"].unique())[:3])]
    assert len(df) == len(expected) and sorted(df["pickup_zip"].unique()) == sorted(str(z) for z in expected["pickup_zip"].unique())
    assert all("_temporary" not in str(p) for p in resolve_files(warehouse, config, "steps.ingest"))


def test_spark_path_tables_read_files_by_path_as_spark_sql_on_files_did(warehouse: Path, trips: pd.DataFrame):
    write_deltalake(str(warehouse / "data" / "Trips_Delta"), trips.iloc[:300])
    trips.iloc[:40].to_csv(warehouse / "data" / "recent.csv", index=False)
    sql = """
        SELECT 'delta' AS origin, fare_amount FROM delta.`./data/Trips_Delta`
        UNION ALL SELECT 'parquet', fare_amount FROM parquet.`spark-warehouse/trips`
        UNION ALL SELECT 'csv', fare_amount FROM csv.`data/recent.csv`
    """
    config = IngestConfig(using="spark_sql", sql=sql)
    counts = read_data(warehouse, config, "steps.ingest")["origin"].value_counts().to_dict()
    assert counts == {"delta": 300, "parquet": len(trips), "csv": 40}
    assert len(resolve_files(warehouse, config, "steps.ingest")) == 1 + 2 + 1  # a Delta commit, two parts, one CSV


@pytest.mark.parametrize(
    ("sql", "problem"),
    [
        ("SELECT * FROM delta.`./data/nowhere`", r"delta\.`\./data/nowhere`: .*data/nowhere does not exist"),
        ("SELECT * FROM delta.`dbfs:/databricks-datasets/nyctaxi`", r"delta\.`dbfs:/databricks-datasets/nyctaxi`: .*dbfs: paths exist only on Databricks"),
    ],
)
def test_a_path_table_that_cannot_be_read_names_the_path_as_written(warehouse: Path, sql: str, problem: str):
    with pytest.raises(RecipeDataError, match=problem):
        resolve_files(warehouse, IngestConfig(using="spark_sql", sql=sql), "steps.ingest")
