"""Deterministic sample data for the bundled templates.

The templates ship data the project makes itself (no third-party data in the repo). The regression
sample follows the NYC yellow-taxi trips the MLflow regression example used, so recipes written for
that example run on it unchanged; the classification sample is wine-quality-like: physico-chemical
measurements of red and white wines, labelled "good" or "bad".
"""
from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
import pandas as pd

from recipe_assets.core.atomic import write_atomically

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


WINE_SEED = 1976


def wine_quality(rows: int, seed: int = WINE_SEED) -> pd.DataFrame:
    """`rows` wines; `quality` is "good" (about a fifth of them) when a hidden score of alcohol, acidity and
    sulphates, plus tasting noise, is high, else "bad"."""
    rng = np.random.default_rng(seed)
    red = rng.random(rows) < 0.25
    alcohol = np.round(np.clip(rng.normal(10.5, 1.2, rows), 8.0, 14.9), 1)
    volatile_acidity = np.round(np.clip(rng.normal(np.where(red, 0.53, 0.28), 0.12), 0.08, 1.6), 3)
    sulphates = np.round(np.clip(rng.normal(np.where(red, 0.66, 0.49), 0.13), 0.22, 2.0), 2)
    residual_sugar = np.round(np.clip(rng.lognormal(np.where(red, 0.8, 1.6), 0.6), 0.6, 65.0), 1)
    chlorides = np.round(np.clip(rng.normal(np.where(red, 0.087, 0.046), 0.02), 0.009, 0.6), 3)
    free_so2 = np.round(np.clip(rng.normal(np.where(red, 16, 35), 9), 1, 120))
    total_so2 = np.round(np.clip(free_so2 + rng.normal(np.where(red, 30, 103), 25), 6, 440))
    citric_acid = np.round(np.clip(rng.normal(np.where(red, 0.27, 0.33), 0.14), 0.0, 1.0), 2)
    ph = np.round(np.clip(rng.normal(np.where(red, 3.31, 3.19), 0.15), 2.7, 4.0), 2)
    density = np.round(0.9978 + 0.0004 * residual_sugar / 5 - 0.0012 * (alcohol - 10.5), 5)
    score = 0.9 * (alcohol - 10.5) - 4.0 * (volatile_acidity - 0.34) + 2.5 * (sulphates - 0.53) + 0.8 * (citric_acid - 0.31)
    score += rng.normal(0, 0.8, rows)
    return pd.DataFrame(
        {
            "wine_type": np.where(red, "red", "white"),
            "fixed_acidity": np.round(np.clip(rng.normal(np.where(red, 8.3, 6.9), 1.2), 3.8, 15.9), 1),
            "volatile_acidity": volatile_acidity,
            "citric_acid": citric_acid,
            "residual_sugar": residual_sugar,
            "chlorides": chlorides,
            "free_sulfur_dioxide": free_so2,
            "total_sulfur_dioxide": total_so2,
            "density": density,
            "pH": ph,
            "sulphates": sulphates,
            "alcohol": alcohol,
            "quality": np.where(score > np.quantile(score, 0.8), "good", "bad"),
        }
    )


SAMPLES = {"regression": (taxi_trips, 5000, 20160201), "classification": (wine_quality, 3000, WINE_SEED)}


def write_sample(path: Path, rows: int = 5000, seed: int = 20160201, kind: str = "regression") -> Path:
    frame = SAMPLES[kind][0](rows, seed)
    write_atomically(path, lambda temp_name: frame.to_parquet(temp_name, index=False))
    return path


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description="Write a template's sample data.")
    parser.add_argument("path", type=Path)
    parser.add_argument("--kind", choices=sorted(SAMPLES), default="regression")
    parser.add_argument("--rows", type=int, help="default: 5000 (regression), 3000 (classification)")
    parser.add_argument("--seed", type=int, help="default: the template's own seed")
    args = parser.parse_args(argv)
    _, rows, seed = SAMPLES[args.kind]
    print(write_sample(args.path, args.rows or rows, args.seed if args.seed is not None else seed, args.kind))


if __name__ == "__main__":
    main()
