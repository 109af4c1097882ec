"""`steps.train.fit_params` (ours): keyword arguments for the estimator's `fit`, so an estimator that
early-stops on an evaluation set sees the recipe's validation split (MLflow Recipes called `fit(X, y)`
only; mlflow #10405).

The mapping, applied to the values of `fit_params` (everything else is passed as written):
- `validation` → `[(X_val, y_val)]`, the transformed validation split as LightGBM's and XGBoost's
  `eval_set` take it (`eval_set: validation`);
- `validation_features` / `validation_target` → `X_val` / `y_val` alone, for a `fit` that takes them apart;
- a list under `callbacks` of one-key mappings `{module.function: {params}}` → the objects those
  functions return, e.g. `{lightgbm.early_stopping: {stopping_rounds: 20}}`, `{lightgbm.log_evaluation:
  {period: 0}}` (callbacks are objects; YAML can only name them).

X_val is what the estimator gets inside the model (the transformer's output, after any `before: train`
custom step), y_val the validation target. A classifier is fitted on label codes; its `y_val` is coded
the same way by the label-encoding wrapper (ml/estimators.py).

Per estimator: LightGBM `eval_set: validation` with `lightgbm.early_stopping` in callbacks; XGBoost
`eval_set: validation` with `early_stopping_rounds` in `estimator_params` (XGBoost 2 takes it in the
constructor). scikit-learn's HistGradientBoosting* (1.5) has no evaluation-set argument: it early-stops
on its own `validation_fraction` of the training data (`early_stopping: true` in estimator_params);
passing `eval_set` to it is refused with that explanation, and its stopping iteration (`n_iter_`) is
reported like the others'.
"""
from __future__ import annotations

import importlib
import inspect
from typing import Any

from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.values import plain_value

VALIDATION = "validation"
VALIDATION_FEATURES = "validation_features"
VALIDATION_TARGET = "validation_target"
KEY_PATH = "steps.train.fit_params"
WRAPPERS = ("LabelEncodedClassifier", "CalibratedClassifierCV")  # ours (ml/estimators.py) and calibrate_proba's; both pass fit's keywords on


def resolve(fit_params: dict[str, Any] | None, features: Any, target: Any) -> dict[str, Any]:
    """`fit_params` with the validation split and callbacks in place of their names; {} when none."""
    if not fit_params:
        return {}
    resolved = {}
    for key, value in fit_params.items():
        if key == "callbacks":
            resolved[key] = [_callback(entry, index) for index, entry in enumerate(value or [])]
        else:
            resolved[key] = _value(value, features, target)
    return resolved


def _value(value: Any, features: Any, target: Any) -> Any:
    if value == VALIDATION:
        return [(features, target)]
    if value == VALIDATION_FEATURES:
        return features
    if value == VALIDATION_TARGET:
        return target
    return value


def _callback(entry: Any, index: int) -> Any:
    where = f"{KEY_PATH}.callbacks[{index}]"
    if not (isinstance(entry, dict) and len(entry) == 1):
        raise UserCodeError(f"{where}: expected one `module.function: {{params}}` mapping, e.g. {{lightgbm.early_stopping: {{stopping_rounds: 20}}}}; got {entry!r}")
    (name, params), = entry.items()
    module_name, _, function_name = str(name).rpartition(".")
    try:
        function = getattr(importlib.import_module(module_name), function_name)
    except (ImportError, AttributeError, ValueError) as exc:
        raise UserCodeError(f"{where}: cannot load {name!r}: {exc}") from None
    return function(**(params or {}))


def check_accepted(estimator: Any, fit_params: dict[str, Any]) -> None:
    """Every key is a parameter of the estimator's `fit` (or `fit` takes **kwargs): a clear error before
    fitting, naming the estimator and what its `fit` takes."""
    if not fit_params:
        return
    inner = estimator
    while type(inner).__name__ in WRAPPERS:  # the user's estimator is inside; a meta-estimator of theirs is not unwrapped
        inner = inner.estimator
    parameters = inspect.signature(inner.fit).parameters
    if any(p.kind is inspect.Parameter.VAR_KEYWORD for p in parameters.values()):
        return
    unknown = [key for key in fit_params if key not in parameters]
    if unknown:
        name = type(inner).__name__
        hint = (
            "; HistGradientBoosting early-stops on its own validation_fraction of the training data: set early_stopping in estimator_params instead"
            if name.startswith("HistGradientBoosting")
            else ""
        )
        raise UserCodeError(f"{KEY_PATH}: {name}.fit does not take {', '.join(map(repr, unknown))} (it takes {', '.join(parameters)}){hint}")


def early_stopping(estimator: Any) -> dict[str, float]:
    """Where the fitted estimator stopped, by its own account: LightGBM's `best_iteration_`, XGBoost's
    `best_iteration`, HistGradientBoosting's `n_iter_` (with early stopping on); {} when it did not stop early."""
    inner = getattr(estimator, "estimator_", estimator)
    found: dict[str, float] = {}
    best = _attribute(inner, "best_iteration_")  # LightGBM: 0 without early stopping
    if best:
        found["best_iteration"] = float(best)
        scores = getattr(inner, "best_score_", None) or {}
        for data_name, metrics in scores.items():
            for metric, value in metrics.items():
                found[f"best_{data_name}_{metric}"] = float(plain_value(value))
        return found
    best = _attribute(inner, "best_iteration")  # XGBoost: only after early stopping
    if best is not None and getattr(inner, "early_stopping_rounds", None):
        found["best_iteration"] = float(best)
        score = _attribute(inner, "best_score")
        if score is not None:
            found["best_score"] = float(score)
        return found
    if getattr(inner, "do_early_stopping_", False) and _attribute(inner, "n_iter_") is not None:  # HistGradientBoosting
        found["best_iteration"] = float(inner.n_iter_)
    return found


def _attribute(estimator: Any, name: str) -> Any:
    try:
        return plain_value(getattr(estimator, name))
    except Exception:  # fitted attributes that raise when the estimator did not early-stop
        return None


def for_validation(fit_params: dict[str, Any] | None, transformer: Any, validation: Any, target_col: str) -> dict[str, Any]:
    """`resolve` with the validation split as the estimator sees it inside the model: through `transformer`."""
    if not fit_params:
        return {}
    from recipe_assets.ml.transformers import apply_transformer

    features = apply_transformer(transformer, validation.drop(columns=[target_col])).to_numpy()
    return resolve(fit_params, features, validation[target_col].to_numpy())
