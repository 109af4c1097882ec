"""Build a bench recipe dir: the regression template with the real NYC taxi sample, optionally scaled."""
from __future__ import annotations

import argparse
import re
import shutil
from pathlib import Path

import numpy as np
import pandas as pd

REPO = Path(__file__).resolve().parent.parent
TEMPLATE = REPO / "templates" / "regression"
NYC_SAMPLE = REPO.parent / "shared" / "data" / "nyc-taxi-sample.parquet"  # shared/ sits beside the repo checkout


def nyc_trips(rows: int | None = None) -> pd.DataFrame:
    """The NYC sample; fewer rows are its head, more rows are jittered repeats of it."""
    base = pd.read_parquet(NYC_SAMPLE)
    if rows is None or rows == len(base):
        return base
    if rows < len(base):
        return base.head(rows).reset_index(drop=True)
    return _scaled_up(base, rows)


def _scaled_up(base: pd.DataFrame, rows: int, first_copy: int = 0) -> pd.DataFrame:
    """`rows` rows of copies of `base`, numbered from `first_copy`; every copy but number 0 is jittered."""
    repeats = -(-rows // len(base))
    df = pd.concat([base] * repeats, ignore_index=True).head(rows)
    copy_index = first_copy + np.arange(rows) // len(base)
    is_copy = copy_index > 0
    rng = np.random.default_rng(20160201 + first_copy)
    shift = pd.to_timedelta(np.where(is_copy, rng.integers(-300, 300, rows), 0), unit="s")
    df["tpep_pickup_datetime"] += shift
    df["tpep_dropoff_datetime"] += shift
    distance_jitter = np.where(is_copy, rng.normal(1.0, 0.02, rows), 1.0)
    df["trip_distance"] = np.round(df["trip_distance"] * distance_jitter, 3)
    df["fare_amount"] = np.round(df["fare_amount"] + np.where(is_copy, rng.normal(0, 0.25, rows), 0.0), 2)
    return df


def write_scoring_parquet(dest: Path, rows: int, chunk_copies: int = 100, row_group_rows: int = 65536) -> Path:
    """`rows` NYC-like trips as one parquet file in row groups of `row_group_rows`, so it can be streamed.
    Written `chunk_copies` copies of the sample at a time (1M rows), so 10M rows never sit in memory."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    base = pd.read_parquet(NYC_SAMPLE)
    chunk_rows = chunk_copies * len(base)
    schema = pa.Schema.from_pandas(base, preserve_index=False)
    dest.parent.mkdir(parents=True, exist_ok=True)
    with pq.ParquetWriter(dest, schema) as writer:
        for start in range(0, rows, chunk_rows):
            chunk = _scaled_up(base, min(chunk_rows, rows - start), first_copy=start // len(base))
            writer.write_table(pa.Table.from_pandas(chunk, schema=schema, preserve_index=False), row_group_size=row_group_rows)
    return dest


def set_split_ratios(recipe_dir: Path, ratios: list[float]) -> None:
    profile = recipe_dir / "profiles" / "local.yaml"
    text, count = re.subn(r"(?m)^SPLIT_RATIOS:.*$", f"SPLIT_RATIOS: {list(ratios)}", profile.read_text())
    if count == 0:
        text += f"\nSPLIT_RATIOS: {list(ratios)}\n"
    profile.write_text(text)


def make_bench_recipe(dest: Path, rows: int | None = None, split_ratios: list[float] | None = None) -> Path:
    """Copy the template (without metadata/) to `dest` with the NYC data; returns `dest`."""
    if dest.exists():
        shutil.rmtree(dest)
    shutil.copytree(TEMPLATE, dest, ignore=shutil.ignore_patterns("metadata", "__pycache__", "sample_output.parquet"))
    nyc_trips(rows).to_parquet(dest / "data" / "sample.parquet", index=False)
    if split_ratios:
        set_split_ratios(dest, split_ratios)
    return dest


def main() -> None:
    # this process exits right after reading Parquet: the product's fix for Arrow's I/O threads aborting the
    # interpreter at exit ("terminate called without an active exception", seen here once) applies here too
    from recipe_assets.data import parquet_reads

    parquet_reads.install()
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("dest", type=Path)
    parser.add_argument("--rows", type=int, default=None, help="default: the sample's 10,000 rows")
    parser.add_argument("--split-ratios", type=float, nargs=3, default=None)
    args = parser.parse_args()
    dest = make_bench_recipe(args.dest, args.rows, args.split_ratios)
    print(f"{dest}: {len(pd.read_parquet(dest / 'data' / 'sample.parquet'))} rows")


if __name__ == "__main__":
    main()
