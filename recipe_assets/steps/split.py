"""split: `ingested_data` → `training_data`, `validation_data`, `test_data`.

Deterministic, as MLflow Recipes did it: each row (with its position in the ingested data) is hashed
into one of 1000 buckets and the bucket picks the split, so a row always lands in the same split and
never moves when rows are added. Classification recipes split class by class as MLflow Recipes did,
which puts every row where the hash puts it and orders each split by class; `stratify: exact` (ours)
instead cuts each class at exactly the ratios (see `assign_stratified_splits`). Rows without a target
value are dropped first, as MLflow Recipes did.
"""

from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetExecutionContext, AssetOut, DataVersion, MetadataValue, Output, multi_asset
from pydantic import Field, field_validator, model_validator

from recipe_assets import cards
from recipe_assets.cards import models as card_models
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeConfigError, RecipeDataError, UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, step_code_version
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.core.versioning import dataframe_version

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recipe_assets.engine.config import LoadedConfig

HASH_BUCKETS = 1000
SPLITS = ("TRAINING", "VALIDATION", "TEST")
OUTPUTS = {"TRAINING": "training_data", "VALIDATION": "validation_data", "TEST": "test_data"}


class SplitConfig(ConfigModel):
    using: Literal["split_ratios", "custom"] = "split_ratios"
    split_ratios: list[float] = Field(default_factory=lambda: [0.75, 0.125, 0.125])
    post_split_filter_method: str | None = None
    post_split_method: str | None = None
    split_method: str | None = None
    # (ours) classification only: `hash` puts rows where MLflow Recipes did; `exact` gives every class the
    # ratios to within one row, for small or very imbalanced data, at the cost of rows near a cut moving
    stratify: Literal["hash", "exact"] = "hash"

    @field_validator("split_ratios")
    @classmethod
    def _three_positive(cls, value: list[float]) -> list[float]:
        if len(value) != 3 or any(r <= 0 for r in value):
            raise ValueError("expected three positive numbers [train, validation, test]")
        return value

    @model_validator(mode="after")
    def _custom_needs_method(self) -> "SplitConfig":
        if self.using == "custom" and not self.split_method:
            raise ValueError("using: 'custom' needs `split_method` in steps/split.py: f(df) -> Series of TRAINING/VALIDATION/TEST")
        return self

    @property
    def normalized_ratios(self) -> tuple[float, float, float]:
        total = sum(self.split_ratios)
        return tuple(r / total for r in self.split_ratios)  # type: ignore[return-value]

    @property
    def user_functions(self) -> list[tuple[str, str]]:
        names = [
            ("split_method", self.split_method if self.using == "custom" else None),
            ("post_split_filter_method", self.post_split_filter_method),
            ("post_split_method", self.post_split_method),
        ]
        return [(key, fn) for key, fn in names if fn]


def row_hashes(df: "pd.DataFrame") -> "np.ndarray":
    """A stable 64-bit hash of each row's values and its index (as MLflow Recipes hashed rows)."""
    import pandas as pd

    hashable = df.copy(deep=False)
    for name in hashable.columns:
        column = hashable[name]
        if pd.api.types.is_datetime64_any_dtype(column):  # MLflow Recipes hashed nanosecond timestamps
            hashable[name] = column.dt.as_unit("ns")
    try:
        hashes = pd.util.hash_pandas_object(hashable, index=True)
    except TypeError:  # unhashable cells (lists, dicts): hash their text
        hashes = pd.util.hash_pandas_object(hashable.astype(str), index=True)
    return hashes.to_numpy()


def hash_buckets(df: "pd.DataFrame") -> "np.ndarray":
    """Bucket in [0, 1) of each row, from its hash (as MLflow Recipes)."""
    return (row_hashes(df) % HASH_BUCKETS) / HASH_BUCKETS


def assign_splits(df: "pd.DataFrame", ratios: tuple[float, float, float]) -> "np.ndarray":
    import numpy as np

    buckets = hash_buckets(df)
    train_end = ratios[0]
    validation_end = ratios[0] + ratios[1]
    return np.where(buckets < train_end, "TRAINING", np.where(buckets < validation_end, "VALIDATION", "TEST"))


def assign_stratified_splits(df: "pd.DataFrame", target_col: str, ratios: tuple[float, float, float]) -> "np.ndarray":
    """The classification split: every class is split by the ratios on its own.

    Within one class, rows are ordered by their hash bucket (ties by the row's full 64-bit hash, then by
    position) and the ordered rows are cut at round(n * train) and round(n * (train + validation)), n being
    the class's row count: the first part goes to TRAINING, the next to VALIDATION, the rest to TEST. So
    each class's split sizes match the ratios to within one row, and each row's split depends only on its
    own content and position and on the other rows of its class. Where the unstratified rule would
    already give a class its share, both agree; they differ only for the rows next to a cut point, which
    (unlike the regression split) can move when rows of that class are added. A class too small to reach
    a split leaves that split without the class; only a split empty of every class is an error.
    """
    import numpy as np
    import pandas as pd

    hashes = row_hashes(df)
    buckets = hashes % HASH_BUCKETS
    class_codes, _ = pd.factorize(df[target_col], use_na_sentinel=False)
    labels = np.empty(len(df), dtype=object)
    cumulative = np.cumsum(ratios)
    for code in np.unique(class_codes):
        members = np.flatnonzero(class_codes == code)
        ordered = members[np.lexsort((members, hashes[members], buckets[members]))]
        train_end, validation_end = (int(np.floor(len(ordered) * r + 0.5)) for r in cumulative[:2])
        labels[ordered[:train_end]] = "TRAINING"
        labels[ordered[train_end:validation_end]] = "VALIDATION"
        labels[ordered[validation_end:]] = "TEST"
    return labels.astype(str)


def split_frames(
    df: "pd.DataFrame", config: SplitConfig, root, target_col: str, task: str = "regression"
) -> dict[str, "pd.DataFrame"]:
    """The three splits. As in MLflow Recipes, rows keep their ingested index (which the row hash covers),
    except after a custom `split_method`, whose splits are numbered 0..n-1.

    User functions get what MLflow Recipes gave them: `split_method(df)` the ingested rows with a target,
    `post_split_filter_method(split)` each split with its rows' ingested index, `post_split_method(train,
    validation, test)` the three splits at once. Each gets a frame of its own, so a function that changes
    its argument in place cannot change what we keep.
    """
    import numpy as np

    df = df[df[target_col].notna()]
    labels = _labels(df, config, root, target_col, task)
    order = _class_order(df, target_col) if task == "classification" and config.using != "custom" else None
    frames = {}
    for split in SPLITS:
        positions = np.flatnonzero(labels == split)
        if order is not None:
            positions = positions[np.argsort(order[positions], kind="stable")]
        if config.post_split_filter_method and not config.post_split_method:
            positions = _filtered(df, positions, config, root)
        frames[split] = df.take(positions)
    if config.post_split_method:
        frames = _post_split(frames, config, root)
    if config.using == "custom":
        return {split: frame.reset_index(drop=True) for split, frame in frames.items()}
    return frames


def _class_order(df: "pd.DataFrame", target_col: str) -> "np.ndarray":
    """Each row's class rank in sorted class order: MLflow Recipes concatenated the classes' splits in
    that order, which fixes the row order estimators are fitted in."""
    import numpy as np

    _, ranks = np.unique(df[target_col].to_numpy(), return_inverse=True)
    return ranks


def _labels(df: "pd.DataFrame", config: SplitConfig, root, target_col: str, task: str) -> "np.ndarray":
    import numpy as np

    if config.using != "custom" and task == "classification" and config.stratify == "exact":
        return assign_stratified_splits(df, target_col, config.normalized_ratios)
    if config.using != "custom":
        return assign_splits(df, config.normalized_ratios)
    labels = load_function(root, "split", config.split_method)(df.copy())
    values = np.asarray(labels)
    unknown = set(values.tolist()) - set(SPLITS)
    if len(values) != len(df) or unknown:
        raise UserCodeError(
            f"steps/split.py:{config.split_method} must return one of {', '.join(SPLITS)} per row; "
            f"got {len(values)} labels for {len(df)} rows" + (f" and unknown labels {sorted(map(str, unknown))}" if unknown else "")
        )
    return values


def _filtered(df: "pd.DataFrame", positions: "np.ndarray", config: SplitConfig, root) -> "np.ndarray":
    """The positions of the split's rows that `post_split_filter_method` keeps."""
    import pandas as pd

    part = df.take(positions)  # a copy of its own: the function may change it, we select from `df` again
    keep = load_function(root, "split", config.post_split_filter_method)(part)
    if not isinstance(keep, pd.Series) or len(keep) != len(positions):
        raise UserCodeError(
            f"steps/split.py:{config.post_split_filter_method} must return a boolean Series with one value per row "
            f"(got {type(keep).__name__}{f' of {len(keep)} values for {len(positions)} rows' if hasattr(keep, '__len__') else ''})"
        )
    return positions[keep.fillna(False).astype(bool).to_numpy()]


def _post_split(frames: dict[str, "pd.DataFrame"], config: SplitConfig, root) -> dict[str, "pd.DataFrame"]:
    """`post_split_method(train, validation, test) -> (train, validation, test)`, as MLflow Recipes called it."""
    import pandas as pd

    function = config.post_split_method
    result = load_function(root, "split", function)(*(frames[s] for s in SPLITS))
    if not (isinstance(result, (tuple, list)) and len(result) == 3 and all(isinstance(f, pd.DataFrame) for f in result)):
        raise UserCodeError(f"steps/split.py:{function} must return a tuple of three DataFrames (train, validation, test); got {type(result).__name__}")
    for split, frame in zip(SPLITS, result):
        if list(frame.columns) != list(frames[split].columns):
            raise UserCodeError(
                f"steps/split.py:{function} changed the columns of the {OUTPUTS[split]} split "
                f"({list(frames[split].columns)} -> {list(frame.columns)}); it should filter rows, columns belong in the transform step"
            )
    return dict(zip(SPLITS, result))


def check_classes(df: "pd.DataFrame", target_col: str, positive_class: Any, recipe_file: str) -> None:
    """A classification target needs two classes or more; binary (two) names its `positive_class`, as in MLflow Recipes."""
    from recipe_assets.ml.metrics import resolve_positive_class

    if target_col not in df.columns:
        raise RecipeDataError(f"target_col {target_col!r} is not a column of the ingested data (columns: {', '.join(map(str, df.columns))})")
    classes = sorted(df[target_col].dropna().unique().tolist(), key=str)
    shown = ", ".join(repr(c) for c in classes[:10]) + (", ..." if len(classes) > 10 else "")
    if len(classes) < 2:
        raise RecipeDataError(f"target column {target_col!r} has {len(classes)} class(es) ({shown}); classification needs at least two")
    if positive_class is None and len(classes) == 2:
        raise RecipeConfigError(
            recipe_file, "positive_class", f"required: target column {target_col!r} has two classes ({shown}); name the one binary metrics score"
        )
    if positive_class is not None and len(classes) > 2:
        raise RecipeConfigError(
            recipe_file,
            "positive_class",
            f"set to {positive_class!r}, which makes the recipe binary, but target column {target_col!r} has {len(classes)} classes "
            f"({shown}); remove positive_class for multiclass",
        )
    if positive_class is not None:
        try:
            resolve_positive_class(classes, positive_class)
        except RecipeDataError as exc:
            raise RecipeConfigError(recipe_file, "positive_class", f"{exc} (target column {target_col!r})") from None


def class_balance_card(frames: dict[str, "pd.DataFrame"], target_col: str):
    """Rows of each class in each split, and the class's share of that split."""
    import pandas as pd

    counts = pd.DataFrame({OUTPUTS[s]: frames[s][target_col].value_counts() for s in SPLITS}).fillna(0).astype(int)
    counts = counts.sort_index(key=lambda index: index.map(str))
    totals = counts.sum()
    rows = [
        (str(label), *(f"{count} ({count / max(totals[name], 1):.1%})" for name, count in row.items()))
        for label, row in counts.iterrows()
    ]
    return cards.table((f"{target_col} (rows, share)", *counts.columns), rows)


def split_card(df: "pd.DataFrame", frames: dict[str, "pd.DataFrame"], target_col: str) -> dict[str, Any]:
    """What every split's card shares: sizes, rows dropped, and the splits side by side."""
    import pandas as pd

    sizes = [(OUTPUTS[s], len(frames[s]), f"{len(frames[s]) / max(len(df), 1):.1%}") for s in SPLITS]
    numeric = [c for c in df.columns if pd.api.types.is_numeric_dtype(df[c]) and not pd.api.types.is_bool_dtype(df[c])]
    rows = [(c, *(frames[s][c].mean() if len(frames[s]) else float("nan") for s in SPLITS)) for c in numeric]
    missing_target = int(df[target_col].isna().sum()) if target_col in df.columns else 0
    return {
        "split sizes": cards.table(("split", "rows", "share of ingested"), sizes),
        "ingested rows": MetadataValue.int(len(df)),
        "rows without a target (dropped)": MetadataValue.int(missing_target),
        "rows filtered out": MetadataValue.int(len(df) - missing_target - sum(len(f) for f in frames.values())),
        "splits compared (column means)": cards.table(("column", *OUTPUTS.values()), rows),
    }


def build(loaded: "LoadedConfig") -> list:
    config = loaded.config.steps.split
    root = loaded.root
    target_col = loaded.config.target_col
    task = loaded.config.task
    positive_class = loaded.config.positive_class
    recipe_file = loaded.describe_source()
    for key, function in config.user_functions:
        check_function_defined(root, "split", function, f"steps.split.{key}")
    version = step_code_version(
        __file__, [config.slice_for_version(), target_col, task, str(positive_class)], root, ["split"] if config.user_functions else []
    )
    outs = {
        OUTPUTS[s]: AssetOut(key=asset_key(loaded.name, OUTPUTS[s]), code_version=version, kinds={"pandas", "parquet"}, io_manager_key=io_manager_key(loaded.name))
        for s in SPLITS
    }

    @multi_asset(
        name=f"{loaded.name}__split",
        outs=outs,
        ins={"ingested_data": _in(loaded, "ingested_data")},
        group_name=MODEL_DEVELOPMENT,
        description="Deterministic hash split of the ingested data into training, validation and test sets.",
    )
    @cards.card_step(loaded, "split")
    def _split(context: AssetExecutionContext, ingested_data):
        if task == "classification":
            check_classes(ingested_data, target_col, positive_class, recipe_file)
        frames = split_frames(ingested_data, config, root, target_col, task)
        empty = [OUTPUTS[s] for s in SPLITS if frames[s].empty]
        if empty:
            raise RecipeDataError(
                f"steps.split: the {', '.join(empty)} split is empty ({len(ingested_data)} ingested rows, ratios "
                f"{config.split_ratios}); add data or change split_ratios / post_split_filter_method"
            )
        shared = split_card(ingested_data, frames, target_col)
        cards.add_plot(cards.plots.distributions, {OUTPUTS[s]: frames[s] for s in SPLITS}, "training vs validation vs test")
        if task == "classification":
            shared["class balance"] = class_balance_card(frames, target_col)
            cards.add_plot(cards.plots.distributions, card_models.class_frames(frames["TRAINING"], target_col, positive_class), "training data by class")
        for split in SPLITS:
            frame = frames[split]
            metadata: dict[str, Any] = {**shared, **cards.frame_card(frame)}
            yield Output(frame, output_name=OUTPUTS[split], data_version=DataVersion(dataframe_version(frame)), metadata=metadata)

    return [_split]


def _in(loaded: "LoadedConfig", name: str):
    from dagster import AssetIn

    return AssetIn(key=asset_key(loaded.name, name))
