"""A fitted scikit-learn model (pipeline, column transformer, estimator) as a card table."""
from __future__ import annotations

from typing import Any

from recipe_assets.cards.tables import table


def structure(model: Any):
    """The steps of a (possibly nested) scikit-learn model as a table: where, what, with which settings,
    on which columns. Easier to read than a repr, which Dagster would also fold away."""
    return table(("step", "class", "settings", "columns"), _structure_rows(model, "", None))


def _structure_rows(model: Any, path: str, columns: Any):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        for name, step in model.steps:
            yield from _structure_rows(step, f"{path} › {name}" if path else name, columns)
    elif isinstance(model, ColumnTransformer):
        for name, transformer, selected in getattr(model, "transformers_", model.transformers):
            where = f"{path} › {name}" if path else name
            if isinstance(transformer, str):  # "drop" or "passthrough"
                yield (where, transformer, "", _columns_text(selected))
            else:
                yield from _structure_rows(transformer, where, selected)
    else:
        yield (path or type(model).__name__, type(model).__name__, _settings(model), _columns_text(columns))


def _settings(model: Any) -> str:
    function = getattr(model, "func", None)
    if callable(function):
        return f"func={getattr(function, '__module__', '')}.{getattr(function, '__name__', function)}"
    text = repr(model)
    settings = text[text.find("(") + 1 : -1] if "(" in text else ""
    return " ".join(settings.split())[:300]


def _columns_text(columns: Any) -> str:
    if columns is None:
        return ""
    return ", ".join(map(str, columns)) if isinstance(columns, (list, tuple)) else str(columns)
