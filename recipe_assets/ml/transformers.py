"""The recipe's transformer: made from the user's function (or MLflow Recipes' identity), applied to a
frame with the names MLflow Recipes gave its output columns. Each call into user code gets its own frame."""
from __future__ import annotations

import logging
from typing import TYPE_CHECKING, Any

from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.user_code import load_function

if TYPE_CHECKING:
    import pandas as pd

log = logging.getLogger(__name__)


def make_transformer(root, transformer_method: str | None) -> Any:
    """The user's unfitted transformer, or the identity when there is none."""
    from sklearn.preprocessing import FunctionTransformer

    transformer = None
    if transformer_method:
        transformer = load_function(root, "transform", transformer_method)()
    if transformer is None:  # MLflow Recipes' identity: a one-step Pipeline
        from sklearn.pipeline import Pipeline

        return Pipeline([("identity", FunctionTransformer(feature_names_out="one-to-one"))])
    if not (hasattr(transformer, "fit") and hasattr(transformer, "transform")):
        raise UserCodeError(
            f"steps/transform.py:{transformer_method} returned {type(transformer).__name__}; "
            "expected an unfitted scikit-learn transformer (with fit and transform) or None"
        )
    return transformer


def feature_names(transformer: Any, width: int, input_columns: Any = None) -> list[str]:
    """The transformer's own output names (asked with the input columns, as MLflow Recipes asked), else
    MLflow Recipes' generated names `f_0`.. zero-padded to the width of the count (`f_00`..`f_11`).
    A transformer that offers names but cannot give them, or gives the wrong number, is said at WARNING
    (on the card), as MLflow Recipes warned; one without names (a plain FunctionTransformer) is not."""
    problems = []
    for candidate in (transformer, getattr(transformer, "steps", [[None, None]])[-1][1]):
        try:
            names = [str(n) for n in candidate.get_feature_names_out(input_columns)]
        except AttributeError:  # offers no names (no such method, or scikit-learn's available_if says no)
            continue
        except Exception as exc:
            problems.append(f"{type(candidate).__name__}.get_feature_names_out failed ({type(exc).__name__}: {exc})")
            continue
        if len(names) == width:
            return names
        problems.append(f"{type(candidate).__name__}.get_feature_names_out gave {len(names)} names for {width} columns")
    digits = len(str(width))
    generated = [f"f_{str(i).zfill(digits)}" for i in range(width)]
    if problems:
        log.warning("the transformed columns are named %s..%s: %s", generated[0], generated[-1], "; ".join(problems))
    return generated


def apply_transformer(transformer: Any, features: "pd.DataFrame") -> "pd.DataFrame":
    """The transformed features as a DataFrame. `features` goes to user code and is not used after."""
    import numpy as np
    import pandas as pd

    input_columns = np.asarray(features.columns, dtype=object)  # read before the transformer may change them
    transformed = transformer.transform(features)
    if isinstance(transformed, pd.DataFrame):
        return transformed.reset_index(drop=True)
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    transformed = np.asarray(transformed)
    if transformed.ndim == 1:
        transformed = transformed.reshape(-1, 1)
    return pd.DataFrame(transformed, columns=feature_names(transformer, transformed.shape[1], input_columns))


def features_of(frame: "pd.DataFrame", target_col: str) -> "pd.DataFrame":
    """A new frame of the feature columns, for one call into user code (pandas' drop copies the data)."""
    return frame.drop(columns=[target_col])


def with_target(features: "pd.DataFrame", target: "pd.Series") -> "pd.DataFrame":
    """A frame of `features` and the target as its last column. The copy is not only for safety: a
    transformer's row-major array makes a frame whose columns are strided, and each column-wise pass after it
    (data version, Parquet write) is slower on it (1M rows: 0.4 s more than the copy costs)."""
    if len(features) != len(target):
        raise UserCodeError(
            f"steps/transform.py: the transformer returned {len(features)} rows for {len(target)} input rows; "
            "it must return one row per input row (drop rows in the split's filter instead)"
        )
    out = features.copy()
    out[target.name] = target.reset_index(drop=True).to_numpy()
    return out
