"""The one value unwrapping: numpy scalars (and 0-d arrays) as the Python values a user would write, so
labels compare and print as written, and YAML, JSON, MLflow params and estimators accept them."""
from __future__ import annotations

from typing import Any


def plain_value(value: Any) -> Any:
    """`np.int64(3)` -> 3, `np.str_('gini')` -> 'gini' (a str subclass YAML cannot represent), `np.float32(0.5)`
    -> 0.5, `np.bool_(True)` -> True, a 0-d array -> its value; everything else unchanged."""
    if type(value).__module__ == "numpy" and getattr(value, "ndim", None) == 0:
        return value.item()
    return value


def plain_values(value: Any) -> Any:
    """`plain_value` through dicts, lists and tuples (for YAML and JSON documents of parameters)."""
    if isinstance(value, dict):
        return {plain_value(key): plain_values(item) for key, item in value.items()}
    if isinstance(value, (list, tuple)):
        return type(value)(plain_values(item) for item in value)
    return plain_value(value)
