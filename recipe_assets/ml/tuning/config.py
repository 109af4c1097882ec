"""`steps.train.tuning`: MLflow Recipes 2.x's keys, checked when the recipe loads: the search space
(hyperopt's distributions by name), the algorithm or sampler, the trial budget and parallelism."""
from __future__ import annotations

import math
from typing import Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel

SAMPLING_SEED = 42  # MLflow Recipes sampled `sample_fraction` of the training rows with this seed


DEFAULT_SEED = 42


# hyperopt's distributions (`hyperopt.hp.<name>`): required and optional arguments by name
DISTRIBUTIONS: dict[str, tuple[tuple[str, ...], tuple[str, ...]]] = {
    "choice": (("options",), ()),
    "pchoice": (("p_options",), ()),
    "randint": (("low",), ("high",)),
    "uniform": (("low", "high"), ()),
    "uniformint": (("low", "high"), ()),
    "quniform": (("low", "high", "q"), ()),
    "loguniform": (("low", "high"), ()),
    "qloguniform": (("low", "high", "q"), ()),
    "normal": (("mu", "sigma"), ()),
    "qnormal": (("mu", "sigma", "q"), ()),
    "lognormal": (("mu", "sigma"), ()),
    "qlognormal": (("mu", "sigma", "q"), ()),
}


HYPEROPT_ALGORITHMS = ("hyperopt.rand.suggest", "hyperopt.tpe.suggest", "hyperopt.anneal.suggest", "hyperopt.atpe.suggest")


OPTUNA_SAMPLERS = {
    "hyperopt.rand.suggest": "RandomSampler",
    "hyperopt.tpe.suggest": "TPESampler",
    "optuna.samplers.RandomSampler": "RandomSampler",
    "optuna.samplers.TPESampler": "TPESampler",
    "optuna.samplers.QMCSampler": "QMCSampler",
}


class SearchParameter(ConfigModel):
    """One entry of `tuning.parameters`: `values: [...]` or `distribution: <hyperopt name>` and its arguments."""

    distribution: str
    args: dict[str, Any]

    @model_validator(mode="before")
    @classmethod
    def _from_recipe_form(cls, data: Any) -> Any:
        if not isinstance(data, dict):
            raise ValueError(f"expected a mapping with `values: [...]` or `distribution:` and its arguments; got {data!r}")
        if set(data) == {"distribution", "args"}:
            return data  # already in this model's form (e.g. re-validated)
        data = dict(data)
        if "values" in data:
            values = data.pop("values")
            if data and set(data) != {"distribution"} or data.get("distribution", "choice") != "choice":
                raise ValueError(f"`values` is a choice among values and takes no other keys; got {', '.join(sorted(data))}")
            return {"distribution": "choice", "args": {"options": values}}
        if "distribution" not in data:
            raise ValueError("expected `values: [...]` or `distribution:` with its arguments (a hyperopt parameter expression)")
        return {"distribution": data.pop("distribution"), "args": data}

    @model_validator(mode="after")
    def _known_distribution_and_arguments(self) -> "SearchParameter":
        if self.distribution not in DISTRIBUTIONS:
            raise ValueError(f"unknown distribution {self.distribution!r}; expected one of {', '.join(DISTRIBUTIONS)}")
        required, optional = DISTRIBUTIONS[self.distribution]
        expected = ", ".join(required + tuple(f"{name} (optional)" for name in optional))
        missing = [name for name in required if name not in self.args]
        unknown = [name for name in self.args if name not in required + optional]
        if missing or unknown:
            problem = f"missing {', '.join(missing)}" if missing else f"unknown argument {', '.join(unknown)}"
            raise ValueError(f"{self.distribution} takes {expected}; {problem}")
        _check_argument_values(self.distribution, self.args)
        return self


def _check_argument_values(distribution: str, args: dict[str, Any]) -> None:
    if distribution == "choice":
        if not isinstance(args["options"], list) or not args["options"]:
            raise ValueError(f"choice needs a non-empty list of values; got {args['options']!r}")
        return
    if distribution == "pchoice":
        _check_pchoice(args["p_options"])
        return
    for name, value in args.items():
        if isinstance(value, bool) or not isinstance(value, (int, float)):
            raise ValueError(f"{distribution}: {name} must be a number; got {value!r}")
    if "low" in args and "high" in args and not args["low"] < args["high"]:
        raise ValueError(f"{distribution}: low ({args['low']}) must be less than high ({args['high']})")
    for positive in ("sigma", "q"):
        if positive in args and not args[positive] > 0:
            raise ValueError(f"{distribution}: {positive} must be positive; got {args[positive]}")
    if distribution == "randint" and "high" not in args and not args["low"] > 0:
        raise ValueError(f"randint with only low draws from 0 to low (exclusive); low must be positive, got {args['low']}")


def _check_pchoice(pairs: Any) -> None:
    well_formed = isinstance(pairs, list) and pairs and all(isinstance(p, (list, tuple)) and len(p) == 2 for p in pairs)
    if not well_formed or not all(isinstance(p[0], (int, float)) and p[0] >= 0 for p in pairs):
        raise ValueError(f"pchoice needs p_options: a list of [probability, value] pairs; got {pairs!r}")
    if not math.isclose(sum(p[0] for p in pairs), 1.0, abs_tol=1e-6):
        raise ValueError(f"pchoice probabilities must add up to 1; they add up to {sum(p[0] for p in pairs)}")


class TuningConfig(ConfigModel):
    """`steps.train.tuning`. `backend` and `seed` are ours; the rest are MLflow Recipes 2.x's keys."""

    enabled: bool = False
    backend: Literal["hyperopt", "optuna"] = "hyperopt"
    algorithm: str = "hyperopt.rand.suggest"
    max_trials: int | None = Field(default=None, ge=1, validate_default=True)
    parallelism: int = Field(default=1, ge=1)
    sample_fraction: float = Field(default=1.0, gt=0, le=1)
    early_stop_fn: str | None = None
    seed: int = DEFAULT_SEED
    parameters: dict[str, SearchParameter] | None = Field(default=None, validate_default=True)

    @model_validator(mode="before")
    @classmethod
    def _enabled_is_explicit(cls, data: Any) -> Any:
        if isinstance(data, dict) and data and "enabled" not in data:
            raise ValueError("the tuning section needs `enabled: true` or `enabled: false`")
        return data

    @field_validator("algorithm")
    @classmethod
    def _known_algorithm(cls, value: str, info: ValidationInfo) -> str:
        backend = info.data.get("backend", "hyperopt")
        known = HYPEROPT_ALGORITHMS if backend == "hyperopt" else tuple(OPTUNA_SAMPLERS)
        if value not in known:
            raise ValueError(f"unknown algorithm {value!r} for backend {backend}; expected one of {', '.join(known)}")
        return value

    @field_validator("max_trials")
    @classmethod
    def _budget_when_enabled(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is None and info.data.get("enabled"):
            raise ValueError("required when tuning is enabled: the number of trials to run")
        return value

    @field_validator("parallelism")
    @classmethod
    def _not_above_budget(cls, value: int, info: ValidationInfo) -> int:
        budget = info.data.get("max_trials")
        if budget is not None and value > budget:
            raise ValueError(f"parallelism {value} is above max_trials {budget}; at most max_trials trials can run at once")
        return value

    @field_validator("early_stop_fn")
    @classmethod
    def _function_name(cls, value: str | None) -> str | None:
        if value is not None and not all(part.isidentifier() for part in value.split(".")):
            raise ValueError(f"expected a function in steps/train.py or a dotted module.function path; got {value!r}")
        return value

    @field_validator("parameters")
    @classmethod
    def _space_when_enabled(cls, value: dict | None, info: ValidationInfo) -> dict | None:
        if not value and info.data.get("enabled"):
            raise ValueError("required when tuning is enabled: the estimator parameters to search, with their distributions")
        return value

