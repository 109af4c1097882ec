"""Locations as URLs, read through fsspec: an S3-compatible server (moto) and a plain HTTP server, both on
127.0.0.1. A changed remote object makes ingest stale; telling so never downloads the data."""
from __future__ import annotations

import functools
import http.server
import threading
import uuid
from collections.abc import Iterator
from pathlib import Path

import pandas as pd
import pytest
from deltalake import write_deltalake

from recipe_assets.engine.config import load_config
from recipe_assets.core.errors import NotSupportedYet, RecipeConfigError, RecipeDataError
from recipe_assets.app.recipe import Recipe
from recipe_assets.data.sources import IngestConfig, read_data, resolve_files, source_fingerprint
from servers import free_port

PROFILE = """
experiment:
  name: "remote"
  tracking_uri: "sqlite:///metadata/mlflow/mlruns.db"
  artifact_location: "./metadata/mlflow/mlartifacts"
model_registry:
  model_name: "taxi_fare_remote"
"""


def use_profile(recipe: Path, body: str) -> str:
    (recipe / "profiles" / "remote.yaml").write_text(PROFILE + body)
    return "remote"


@pytest.fixture
def http_root(tmp_path: Path) -> Iterator[tuple[Path, str]]:
    """A folder served by python's http.server (which sends Last-Modified and Content-Length, no ETag)."""
    folder = tmp_path / "www"
    folder.mkdir()
    handler = functools.partial(http.server.SimpleHTTPRequestHandler, directory=str(folder))
    handler.log_message = lambda *args: None  # type: ignore[method-assign]
    server = http.server.ThreadingHTTPServer(("127.0.0.1", free_port()), handler)
    thread = threading.Thread(target=server.serve_forever, daemon=True)
    thread.start()
    try:
        yield folder, f"http://127.0.0.1:{server.server_address[1]}"
    finally:
        server.shutdown()
        server.server_close()


@pytest.fixture
def trips(regression_recipe: Path) -> pd.DataFrame:
    return pd.read_parquet(regression_recipe / "data" / "sample.parquet")


def put_parquet(bucket, key: str, frame: pd.DataFrame, tmp_path: Path) -> None:
    client, name = bucket
    local = tmp_path / f"upload-{uuid.uuid4().hex}.parquet"
    frame.to_parquet(local, index=False)
    client.upload_file(str(local), name, key)


@pytest.mark.slow  # a scenario of several recipe runs: CI's slow stage
def test_an_s3_folder_is_ingested_and_only_a_changed_object_reruns_ingest(regression_recipe: Path, trips, bucket, tmp_path: Path):
    client, name = bucket
    put_parquet(bucket, "trips/part-0.parquet", trips.iloc[:2500], tmp_path)
    put_parquet(bucket, "trips/part-1.parquet", trips.iloc[2500:], tmp_path)
    client.put_object(Bucket=name, Key="trips/_SUCCESS", Body=b"")
    profile = use_profile(regression_recipe, f"INGEST_CONFIG:\n  using: parquet\n  location: s3://{name}/trips/\n")
    assert Recipe(profile, regression_recipe).run("ingest").materialized == ["ingested_data"]
    pd.testing.assert_frame_equal(Recipe(profile, regression_recipe).latest_value("ingested_data").reset_index(drop=True), trips)
    assert Recipe(profile, regression_recipe).run("ingest").materialized == []
    put_parquet(bucket, "trips/part-1.parquet", trips.iloc[2500:-40], tmp_path)
    assert Recipe(profile, regression_recipe).run("ingest").materialized == ["ingested_data"]
    assert len(Recipe(profile, regression_recipe).latest_value("ingested_data")) == len(trips) - 40


def test_fingerprints_of_remote_objects_come_from_their_metadata_not_their_bytes(regression_recipe: Path, trips, bucket, tmp_path, monkeypatch):
    import s3fs

    client, name = bucket
    put_parquet(bucket, "one/trips.parquet", trips, tmp_path)
    config = IngestConfig(using="parquet", location=f"s3://{name}/one/trips.parquet")
    before = source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe)

    def no_download(*args, **kwargs):
        raise AssertionError("the data was read to fingerprint it")

    with monkeypatch.context() as patched:
        for method in ("_cat_file", "_get_file", "open"):
            patched.setattr(s3fs.S3FileSystem, method, no_download)
        files = resolve_files(regression_recipe, config, "steps.ingest")
        assert source_fingerprint(files, regression_recipe) == before
        assert files[0].size == client.head_object(Bucket=name, Key="one/trips.parquet")["ContentLength"]
        put_parquet(bucket, "one/trips.parquet", trips.iloc[:10], tmp_path)
        assert source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe) != before


def test_s3_globs_lists_and_a_loader_method_get_what_local_paths_get(regression_recipe: Path, trips, bucket, tmp_path):
    client, name = bucket
    for number, chunk in enumerate((trips.iloc[:1000], trips.iloc[1000:3000], trips.iloc[3000:])):
        client.put_object(Bucket=name, Key=f"csv/part-{number}.csv", Body=chunk.to_csv(index=False).encode())
    client.put_object(Bucket=name, Key="csv/notes.txt", Body=b"not data")
    globbed = IngestConfig(using="csv", location=f"s3://{name}/csv/part-*.csv")
    listed = IngestConfig(using="csv", location=[f"s3://{name}/csv/part-0.csv", f"s3://{name}/csv/part-2.csv"])
    assert [f.name for f in resolve_files(regression_recipe, globbed, "steps.ingest")] == ["part-0.csv", "part-1.csv", "part-2.csv"]
    assert len(read_data(regression_recipe, globbed, "steps.ingest")) == len(trips)
    assert len(read_data(regression_recipe, listed, "steps.ingest")) == 1000 + len(trips) - 3000
    custom = IngestConfig(using="csv", location=f"s3://{name}/csv/", loader_method="load_file_as_dataframe")
    loaded = read_data(regression_recipe, custom, "steps.ingest")
    assert len(loaded) == len(trips) and str(loaded["tpep_pickup_datetime"].dtype).startswith("datetime64")


def test_a_delta_table_on_s3_is_read_and_a_new_version_is_noticed(regression_recipe: Path, trips, bucket, tmp_path):
    client, name = bucket
    local = tmp_path / "delta"
    write_deltalake(str(local), trips.iloc[:2000])

    def upload() -> None:
        for path in sorted(p for p in local.rglob("*") if p.is_file()):
            client.upload_file(str(path), name, f"delta/{path.relative_to(local).as_posix()}")

    upload()
    config = IngestConfig(using="delta", location=f"s3://{name}/delta")
    before = source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe)
    assert len(read_data(regression_recipe, config, "steps.ingest")) == 2000
    write_deltalake(str(local), trips.iloc[2000:], mode="append")
    upload()
    assert source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe) != before
    assert len(read_data(regression_recipe, config, "steps.ingest")) == len(trips)
    pinned = IngestConfig(using="delta", location=f"s3://{name}/delta", version=0)
    assert len(read_data(regression_recipe, pinned, "steps.ingest")) == 2000


def test_a_table_mapped_to_an_s3_folder_is_queried_and_its_objects_fingerprinted(regression_recipe: Path, trips, bucket, tmp_path):
    _, name = bucket
    put_parquet(bucket, "tables/trips/part-0.parquet", trips.iloc[:1000], tmp_path)
    put_parquet(bucket, "tables/trips/part-1.parquet", trips.iloc[1000:], tmp_path)
    config = IngestConfig(using="spark_sql", sql="SELECT count(*) AS n FROM trips", tables={"trips": f"s3://{name}/tables/trips"})
    before = source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe)
    assert read_data(regression_recipe, config, "steps.ingest")["n"].tolist() == [len(trips)]
    whole = IngestConfig(using="table", location="trips", tables=config.tables)
    pd.testing.assert_frame_equal(read_data(regression_recipe, whole, "steps.ingest"), trips)  # in file order, every run
    by_path = IngestConfig(using="spark_sql", sql=f"SELECT count(*) AS n FROM parquet.`s3://{name}/tables/trips/`")
    assert read_data(regression_recipe, by_path, "steps.ingest")["n"].tolist() == [len(trips)]
    put_parquet(bucket, "tables/trips/part-1.parquet", trips.iloc[1000:1100], tmp_path)
    assert source_fingerprint(resolve_files(regression_recipe, config, "steps.ingest"), regression_recipe) != before
    assert read_data(regression_recipe, config, "steps.ingest")["n"].tolist() == [1100]


def test_a_missing_s3_object_names_the_key_and_the_url(regression_recipe: Path, bucket):
    _, name = bucket
    with pytest.raises(RecipeDataError, match=rf"steps\.ingest_scoring\.location: s3://{name}/nowhere\.parquet does not exist"):
        resolve_files(regression_recipe, IngestConfig(using="parquet", location=f"s3://{name}/nowhere.parquet"), "steps.ingest_scoring")


def test_an_http_file_is_ingested_and_a_changed_file_reruns_ingest(regression_recipe: Path, trips, http_root):
    folder, url = http_root
    trips.to_parquet(folder / "trips.parquet", index=False)
    profile = use_profile(regression_recipe, f"INGEST_CONFIG:\n  using: parquet\n  location: {url}/trips.parquet\n")
    assert Recipe(profile, regression_recipe).run("ingest").materialized == ["ingested_data"]
    assert Recipe(profile, regression_recipe).run("ingest").materialized == []
    trips.iloc[:-25].to_parquet(folder / "trips.parquet", index=False)
    assert Recipe(profile, regression_recipe).run("ingest").materialized == ["ingested_data"]
    assert len(Recipe(profile, regression_recipe).latest_value("ingested_data")) == len(trips) - 25


def test_a_missing_http_file_names_the_key_and_the_url(regression_recipe: Path, http_root):
    _, url = http_root
    with pytest.raises(RecipeDataError, match=rf"steps\.ingest\.location: {url}/gone\.csv does not exist"):
        resolve_files(regression_recipe, IngestConfig(using="csv", location=f"{url}/gone.csv"), "steps.ingest")


def test_a_file_url_is_the_local_path_it_names(regression_recipe: Path, trips):
    for location in ((regression_recipe / "data" / "sample.parquet").as_uri(), "file:data/sample.parquet"):
        config = IngestConfig(using="parquet", location=location)
        assert resolve_files(regression_recipe, config, "steps.ingest") == [regression_recipe / "data" / "sample.parquet"]
        pd.testing.assert_frame_equal(read_data(regression_recipe, config, "steps.ingest"), trips)


@pytest.mark.parametrize(
    ("location", "error", "problem"),
    [
        ("gs://bucket/trips.parquet", RecipeConfigError, "gs:// locations need the gcsfs package; install it (pip install gcsfs)"),
        ("abfs://container/trips.parquet", RecipeConfigError, "abfs:// locations need the adlfs package; install it (pip install adlfs)"),
        ("nosuch://bucket/trips.parquet", RecipeConfigError, "no filesystem knows the protocol 'nosuch'"),
        ("dbfs:/mnt/trips.parquet", NotSupportedYet, "dbfs: paths exist only on Databricks"),
    ],
)
def test_a_url_this_machine_cannot_read_fails_when_the_config_loads(regression_recipe: Path, location: str, error: type, problem: str):
    profile = use_profile(regression_recipe, f"INGEST_CONFIG:\n  using: parquet\n  location: {location}\n")
    with pytest.raises(error) as raised:
        load_config(regression_recipe, profile)
    assert problem in str(raised.value) and "steps.ingest.location" in str(raised.value)


@pytest.mark.slow
def test_scoring_data_on_s3_is_staged_and_scored(regression_recipe: Path, trips, bucket, tmp_path):
    _, name = bucket
    put_parquet(bucket, "scoring/part-0.parquet", trips.iloc[:700], tmp_path)
    put_parquet(bucket, "scoring/part-1.parquet", trips.iloc[700:1000], tmp_path)
    profile = use_profile(
        regression_recipe,
        f"INGEST_SCORING_CONFIG:\n  using: parquet\n  location: s3://{name}/scoring/\n"
        "PREDICT_OUTPUT_CONFIG:\n  using: parquet\n  location: ./data/scored.parquet\n",
    )
    assert Recipe(profile, regression_recipe).run().success
    summary = Recipe(profile, regression_recipe).run("predict")
    assert summary.success, summary.error
    scored = pd.read_parquet(regression_recipe / "data" / "scored.parquet")
    pd.testing.assert_frame_equal(scored.drop(columns=["prediction"]), trips.iloc[:1000].reset_index(drop=True))
    assert Recipe(profile, regression_recipe).run("predict").materialized == []
    put_parquet(bucket, "scoring/part-1.parquet", trips.iloc[700:900], tmp_path)
    assert Recipe(profile, regression_recipe).run("predict").materialized == ["ingested_scoring_data", "scored_data"]
    assert len(pd.read_parquet(regression_recipe / "data" / "scored.parquet")) == 900
