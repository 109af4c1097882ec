"""What can only be checked with the recipe's code, when definitions load, and our search code's digest for
`model`'s code version."""
from __future__ import annotations

from pathlib import Path
from typing import Any

from recipe_assets.core.errors import RecipeConfigError, RecipeError
from recipe_assets.core.user_code import check_function_defined
from recipe_assets.ml.tuning.spaces import sample_point
from recipe_assets.ml.tuning.trials import SearchSettings, build_estimator, estimator_params


def implementation_digest(config: "SearchSettings") -> str:
    """Our search code, for `model`'s code version when the recipe uses it (train.py's own source is already in it)."""
    import hashlib

    package = Path(__file__).parent
    files = (sorted(package.glob("*.py")) if config.tuning.enabled else []) + ([package.parent / "automl.py"] if config.using == "automl/flaml" else [])
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16] if files else ""


def check_tuning(root: Path, config: "SearchSettings", recipe_file: str) -> None:
    """What can only be known with the recipe's code: the estimator accepts every tuned parameter, and
    `early_stop_fn` exists. Builds the estimator once with a sampled point of the search space."""
    tuning = config.tuning
    if tuning.early_stop_fn and "." not in tuning.early_stop_fn:
        check_function_defined(root, "train", tuning.early_stop_fn, "steps.train.tuning.early_stop_fn")
    point = sample_point(tuning.parameters or {})
    known = set(_estimator_param_names(root, config, recipe_file, estimator_params(config, {})))
    for name, value in point.items():
        if name in known:
            continue
        key_path = f"steps.train.tuning.parameters.{name}"
        try:
            accepted = build_estimator(root, config, estimator_params(config, {name: value}))
        except RecipeError:
            raise
        except TypeError as exc:
            if repr(name) not in str(exc):  # a TypeError of the function's own, not about this keyword
                raise RecipeConfigError(recipe_file, key_path, _failed_with(config, name, value, exc)) from None
            raise RecipeConfigError(recipe_file, key_path, _not_accepted(config, name, str(exc), known)) from None
        except Exception as exc:  # the user's function failed for a reason of its own: said as it is
            raise RecipeConfigError(recipe_file, key_path, _failed_with(config, name, value, exc)) from None
        if hasattr(accepted, "get_params") and name not in accepted.get_params() and not _changes_estimator(root, config, name, value):
            raise RecipeConfigError(recipe_file, key_path, _not_accepted(config, name, "the estimator has no such parameter", known))


def _not_accepted(config: "SearchSettings", name: str, reason: str, known: set[str]) -> str:
    return (
        f"steps/train.py:{config.estimator_method} does not accept a parameter {name!r} ({reason}); "
        f"its estimator's parameters are: {', '.join(sorted(known))}"
    )


def _failed_with(config: "SearchSettings", name: str, value: Any, exc: Exception) -> str:
    return f"steps/train.py:{config.estimator_method} failed when given {name}={value!r}: {type(exc).__name__}: {exc}"


def _estimator_param_names(root: Path, config: "SearchSettings", recipe_file: str, base: dict[str, Any]) -> list[str]:
    try:
        estimator = build_estimator(root, config, base)
    except Exception as exc:
        raise RecipeConfigError(recipe_file, "steps.train.estimator_params", f"steps/train.py:{config.estimator_method} failed with them: {exc}") from None
    return list(estimator.get_params()) if hasattr(estimator, "get_params") else []


def _changes_estimator(root: Path, config: "SearchSettings", name: str, value: Any) -> bool:
    """A name the user's function translates itself (not an estimator parameter) still changes what it builds."""
    base = build_estimator(root, config, estimator_params(config, {}))
    changed = build_estimator(root, config, estimator_params(config, {name: value}))
    return repr(base.get_params()) != repr(changed.get_params())

