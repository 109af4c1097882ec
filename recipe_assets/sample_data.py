"""Deterministic, taxi-like sample data for the bundled templates.

The templates ship data the project makes itself (no third-party data in the repo). The columns and
value ranges follow the NYC yellow-taxi trips the MLflow regression example used, so recipes written
for that example run on it unchanged.
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

MANHATTAN_ZIPS = np.array(
    [10001, 10002, 10003, 10009, 10010, 10011, 10012, 10013, 10014, 10016, 10017, 10018, 10019,
     10021, 10022, 10023, 10024, 10025, 10028, 10036, 10065, 10075, 10103, 10110, 10128, 10199]
)
OUTER_ZIPS = np.array([7114, 11101, 11201, 11211, 11215, 11371, 11430, 11217, 10451, 11691])


def taxi_trips(rows: int, seed: int = 20160201) -> pd.DataFrame:
    """`rows` trips from Jan-Feb 2016 with a fare driven by distance, duration and time of day."""
    rng = np.random.default_rng(seed)
    start = np.datetime64("2016-01-01T00:00:00")
    pickup = start + rng.integers(0, 60 * 24 * 3600, size=rows).astype("timedelta64[s]")
    hour = (pickup.astype("datetime64[h]").astype(np.int64) % 24)
    rush = np.isin(hour, [8, 9, 17, 18, 19])
    distance = np.round(np.clip(rng.lognormal(mean=0.6, sigma=0.75, size=rows), 0.1, 60.0), 2)
    speed_mph = np.clip(rng.normal(np.where(rush, 8.0, 13.0), 3.0), 3.0, 40.0)
    duration_min = distance / speed_mph * 60 + rng.exponential(2.0, size=rows)
    dropoff = pickup + np.round(duration_min * 60).astype("timedelta64[s]")
    fare = 2.5 + 2.5 * distance + 0.35 * duration_min + np.where(rush, 1.0, 0.0)
    fare = np.round(np.clip(fare + rng.normal(0, 1.5, size=rows), 2.5, None) * 2) / 2
    far = distance > 8
    pickup_zip = np.where(far & (rng.random(rows) < 0.5), rng.choice(OUTER_ZIPS, rows), rng.choice(MANHATTAN_ZIPS, rows))
    dropoff_zip = np.where(far, rng.choice(OUTER_ZIPS, rows), rng.choice(MANHATTAN_ZIPS, rows))
    return pd.DataFrame(
        {
            "tpep_pickup_datetime": pickup.astype("datetime64[us]"),
            "tpep_dropoff_datetime": dropoff.astype("datetime64[us]"),
            "trip_distance": distance,
            "fare_amount": fare,
            "pickup_zip": pickup_zip.astype("int32"),
            "dropoff_zip": dropoff_zip.astype("int32"),
        }
    )


def write_sample(path: Path, rows: int = 5000, seed: int = 20160201) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp")
    taxi_trips(rows, seed).to_parquet(tmp, index=False)
    tmp.replace(path)
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write the regression template's sample data.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--rows", type=int, default=5000)
    parser.add_argument("--seed", type=int, default=20160201)
    args = parser.parse_args(argv)
    print(write_sample(args.path, args.rows, args.seed))


if __name__ == "__main__":
    main()
