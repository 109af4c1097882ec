"""The recipe directories the differential harness runs on both systems, and the data our own
variations are generated with (seeded, so both systems read the very same files)."""
from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import os

import numpy as np
import pandas as pd

HERE = Path(__file__).resolve().parent
REPO = HERE.parents[1]
PUBLISHED = Path(os.environ.get("RECIPE_ASSETS_SHARED") or REPO.parent / "shared") / "corpus" / "mlflow-recipes-examples"
VARIATIONS = HERE / "recipes"


@dataclass(frozen=True)
class CorpusDir:
    name: str
    source: Path
    target_col: str
    make_data: Callable[[Path], None] | None = None
    # the published examples carry their own step tests, which must pass against our run as against the peer's
    has_step_tests: bool = False
    # the step where MLflow Recipes 2.22.2 is known to fail on this dir (we then compare what came before;
    # "register" is the refusal to register a rejected model, after everything else ran)
    peer_fails_at: str | None = None
    # the step where recipe-assets must stop too (the same refusal); None: ours must run to the end
    ours_fails_at: str | None = None
    # run again unchanged, then with `data_file` changed: both systems must agree on which steps run
    rerun_checks: bool = False
    data_file: str = ""
    # an edit to the copy both systems run, where the dir as it is cannot run on the peer at all
    adjust: Callable[[Path], None] | None = None


def write_multiclass_parts(root: Path) -> None:
    rng = np.random.default_rng(7)
    n = 900
    species = rng.choice(["alpha", "beta", "gamma"], size=n, p=[0.5, 0.3, 0.2])
    centre = pd.Series(species).map({"alpha": 0.0, "beta": 1.5, "gamma": 3.0}).to_numpy()
    frame = pd.DataFrame(
        {
            "a": np.round(centre + rng.normal(0, 1.0, n), 4),
            "b": np.round(rng.normal(2, 1.0, n) - centre, 4),
            "c": np.round(rng.uniform(0, 10, n), 4),
            "species": species,
        }
    )
    parts = root / "data" / "parts"
    parts.mkdir(parents=True, exist_ok=True)
    for index, chunk in enumerate(np.array_split(frame, 3)):
        chunk.to_csv(parts / f"part-{index}.csv", index=False)


def write_binary_rebalanced(root: Path) -> None:
    """7,000 rows, about 18% positive: the 0.8 training share is above the 5,000-row cutoff."""
    rng = np.random.default_rng(11)
    n = 7000
    x = rng.normal(0, 1, size=(n, 4))
    logit = 1.6 * x[:, 0] - 1.1 * x[:, 1] + 0.5 * x[:, 2] - 2.2
    churned = np.where(rng.uniform(size=n) < 1 / (1 + np.exp(-logit)), "yes", "no")
    frame = pd.DataFrame(np.round(x, 4), columns=["tenure", "tickets", "usage", "noise"])
    frame["churned"] = churned
    (root / "data").mkdir(exist_ok=True)
    frame.iloc[:3500].to_csv(root / "data" / "first.csv", index=False)
    frame.iloc[3500:].to_csv(root / "data" / "second.csv", index=False)


def write_messages(root: Path) -> None:
    """1,500 rows, about 15% spam: under the cutoff, so neither system rebalances."""
    rng = np.random.default_rng(5)
    n = 1500
    spam = rng.uniform(size=n) < 0.15
    frame = pd.DataFrame(
        {
            "message_id": np.arange(n),
            "length": np.round(np.where(spam, rng.normal(220, 80, n), rng.normal(120, 60, n)).clip(1, 420), 1),
            "links": np.where(spam, rng.poisson(3, n), rng.poisson(0.4, n)),
            "exclamations": np.where(spam, rng.poisson(2.5, n), rng.poisson(0.7, n)),
            "label": np.where(spam, "spam", "ham"),
        }
    )
    (root / "data").mkdir(exist_ok=True)
    frame.to_parquet(root / "data" / "messages.parquet", index=False)


def write_houses(root: Path) -> None:
    rng = np.random.default_rng(3)
    n = 1200
    district = rng.choice(["north", "south", "east", "west"], size=n)
    area = rng.uniform(30, 200, n)
    rooms = rng.integers(1, 11, n)
    age = rng.uniform(0, 80, n)
    premium = pd.Series(district).map({"north": 40.0, "south": 0.0, "east": 15.0, "west": 25.0}).to_numpy()
    price = 50 + 2.5 * area + 8 * rooms - 0.6 * age + premium + rng.normal(0, 20, n)
    frame = pd.DataFrame({"district": district, "area": area.round(2), "rooms": rooms, "age": age.round(1), "price": price.round(2)})
    (root / "data").mkdir(exist_ok=True)
    frame.to_parquet(root / "data" / "houses.parquet", index=False)


def drop_recipe_level_experiment(root: Path) -> None:
    """The drop-in fixture sets `experiment:` in recipe.yaml and again in its profile, which we merge
    (profile wins) but MLflow Recipes 2.22 refuses ("The two merging dictionaries contains duplicate
    keys: {'experiment'}", mlflow/utils/__init__.py merge_dicts). Both systems run it without the
    recipe-level block, which the profile overrides anyway."""
    recipe = root / "recipe.yaml"
    lines = recipe.read_text().splitlines(keepends=True)
    start = next(i for i, line in enumerate(lines) if line.startswith("experiment:"))
    end = next((i for i in range(start + 1, len(lines)) if lines[i].strip() and not lines[i].startswith((" ", "\t"))), len(lines))
    recipe.write_text("".join(lines[:start] + lines[end:]))


CORPUS = [
    CorpusDir(
        "published_regression", PUBLISHED / "regression", "fare_amount", has_step_tests=True, rerun_checks=True, data_file="data/sample.parquet"
    ),
    CorpusDir("published_classification", PUBLISHED / "classification", "is_red", has_step_tests=True),
    CorpusDir("template_regression", REPO / "templates" / "regression", "fare_amount"),
    CorpusDir("template_classification", REPO / "templates" / "classification", "quality"),
    CorpusDir("dropin_fixture", REPO / "tests" / "fixtures" / "dropin_recipe", "y", adjust=drop_recipe_level_experiment),
    CorpusDir("multiclass_strings", VARIATIONS / "multiclass_strings", "species", write_multiclass_parts),
    CorpusDir("binary_rebalanced", VARIATIONS / "binary_rebalanced", "churned", write_binary_rebalanced),
    CorpusDir("binary_custom_split", VARIATIONS / "binary_custom_split", "label", write_messages, peer_fails_at="register", ours_fails_at="register"),
    CorpusDir("regression_filtered", VARIATIONS / "regression_filtered", "price", write_houses),
    CorpusDir("sparse_transformer", VARIATIONS / "sparse_transformer", "price", write_houses, peer_fails_at="transform"),
]


def compares_model(entry: CorpusDir) -> bool:
    """Whether the peer gets as far as a trained and evaluated model on this dir."""
    return entry.peer_fails_at in (None, "register")
