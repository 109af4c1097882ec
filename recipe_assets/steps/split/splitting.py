"""Where each row goes: MLflow Recipes' hash rule (per class for classification), the recipe's own
split function, and the filters after the split."""
from __future__ import annotations

from typing import TYPE_CHECKING, Any

from recipe_assets.core.errors import RecipeConfigError, RecipeDataError, UserCodeError
from recipe_assets.core.user_code import load_function
from recipe_assets.ml.metrics import resolve_positive_class
from recipe_assets.steps.split.config import SplitConfig

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd


HASH_BUCKETS = 1000


SPLITS = ("TRAINING", "VALIDATION", "TEST")


OUTPUTS = {"TRAINING": "training_data", "VALIDATION": "validation_data", "TEST": "test_data"}


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

