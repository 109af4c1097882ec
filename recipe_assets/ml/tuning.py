"""Hyperparameter tuning in the train step (`steps.train.tuning`), with MLflow Recipes 2.x's keys.

Each trial builds the recipe's estimator with `estimator_params` overridden by the trial's values, fits it
on the training data the model is fitted on (rebalanced for classification), sampled by `sample_fraction`, and
scores the primary metric on the validation split. The search itself sits behind two methods, `ask` and
`tell`: `HyperoptSearch` drives hyperopt's suggestion algorithms exactly as `hyperopt.fmin` calls them;
`OptunaSearch` (ours, `backend: optuna`) draws the same distributions with an optuna sampler.

Trials run in batches of `parallelism`, each batch in local worker processes; a batch is suggested before
any of its trials ends, so the same seed gives the same trials however long each one takes. Trials do not
touch MLflow: their nested runs are written afterwards under the model's run, by the process that owns it.
"""
from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

from pydantic import Field, ValidationInfo, field_validator, model_validator

from recipe_assets.core.configmodel import ConfigModel

if TYPE_CHECKING:
    import numpy as np
    import pandas as pd

    from recipe_assets.engine.config import RecipeConfig
    from recipe_assets.steps.train import TrainConfig

SAMPLING_SEED = 42  # MLflow Recipes sampled `sample_fraction` of the training rows with this seed
DEFAULT_SEED = 42
NORMAL_QUANTILE_EDGE = 1e-12

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


# --- search spaces ----------------------------------------------------------------------------------


def plain(value: Any) -> Any:
    """numpy scalars as Python values, so estimators, YAML and MLflow see what a user would write."""
    if hasattr(value, "item") and not hasattr(value, "__len__"):
        return value.item()
    return value


def hyperopt_space(parameters: dict[str, SearchParameter]) -> dict[str, Any]:
    """The search space MLflow Recipes built: `hp.<distribution>(name, **arguments)`, `values` as `hp.choice`."""
    from hyperopt import hp

    space = {}
    for name, parameter in parameters.items():
        args = dict(parameter.args)
        if parameter.distribution == "pchoice":
            args["p_options"] = [tuple(pair) for pair in args["p_options"]]
        if parameter.distribution == "randint" and "high" in args:
            # the same integers; hyperopt's TPE mis-indexes randint(low, high) with low > 0 (hyperopt 0.2.7-0.3.0)
            space[name] = hp.randint(name, int(args["high"]) - int(args["low"])) + int(args["low"])
            continue
        space[name] = getattr(hp, parameter.distribution)(name, **args)
    return space


def optuna_value(trial: Any, name: str, parameter: SearchParameter) -> Any:
    """A draw from hyperopt's distribution `parameter`, through optuna's `trial` (the same distribution:
    a transformed uniform for the q- and normal families, an index for choices)."""
    from scipy.special import ndtri

    d, a = parameter.distribution, parameter.args
    if d == "choice":
        return a["options"][trial.suggest_categorical(name, list(range(len(a["options"]))))]
    if d == "pchoice":
        draw, total = trial.suggest_float(name, 0.0, 1.0), 0.0
        for probability, option in a["p_options"]:
            total += probability
            if draw < total:
                return option
        return a["p_options"][-1][1]
    if d == "randint":
        low, high = (a["low"], a["high"]) if "high" in a else (0, a["low"])
        return trial.suggest_int(name, int(low), int(high) - 1)
    if d in ("uniform", "quniform", "uniformint"):
        draw = trial.suggest_float(name, a["low"], a["high"])
    elif d in ("loguniform", "qloguniform"):
        draw = trial.suggest_float(name, math.exp(a["low"]), math.exp(a["high"]), log=True)
    else:  # the normal family, through the quantile of a uniform draw
        quantile = trial.suggest_float(name, NORMAL_QUANTILE_EDGE, 1 - NORMAL_QUANTILE_EDGE)
        draw = a["mu"] + a["sigma"] * float(ndtri(quantile))
        if d in ("lognormal", "qlognormal"):
            draw = math.exp(draw)
    if d == "uniformint":
        return int(round(draw))
    if "q" in a:
        return round(draw / a["q"]) * a["q"]
    return draw


# --- the search interface and its two backends ---------------------------------------------------------


@dataclass
class Suggestion:
    key: Any  # the backend's handle for `tell`
    params: dict[str, Any]


class Search:
    """What the trial loop needs from a search library: suggest `count` points, hear back their losses.

    `record` is a hyperopt `Trials` holding every finished trial: `early_stop_fn` is called with it as
    `hyperopt.fmin` calls it, `(trials, *args) -> (stop, args)`, whichever backend searches.
    """

    record: Any

    def ask(self, count: int) -> list[Suggestion]:
        raise NotImplementedError

    def tell(self, suggestion: Suggestion, loss: float | None) -> None:
        raise NotImplementedError


def _result(loss: float | None) -> dict[str, Any]:
    from hyperopt import STATUS_FAIL, STATUS_OK

    if loss is None or math.isnan(loss):
        return {"status": STATUS_FAIL}
    return {"loss": loss, "status": STATUS_OK}


class HyperoptSearch(Search):
    """hyperopt's own loop (`FMinIter.run`): ids, `algo(new_ids, domain, trials, seed)`, insert, evaluate.
    With one trial at a time it suggests exactly what `fmin(rstate=np.random.default_rng(seed))` would."""

    def __init__(self, parameters: dict[str, SearchParameter], algorithm: str, seed: int):
        import importlib

        import numpy as np
        from hyperopt import Trials, base

        self.space = hyperopt_space(parameters)
        self.domain = base.Domain(lambda _: 0.0, self.space)  # only used to suggest: trials are scored elsewhere
        module, name = algorithm.rsplit(".", 1)
        self.algo = getattr(importlib.import_module(module), name)
        self.record = Trials()
        self.rng = np.random.default_rng(seed)

    def ask(self, count: int) -> list[Suggestion]:
        from hyperopt import base, space_eval

        ids = self.record.new_trial_ids(count)
        self.record.refresh()
        docs = self.algo(ids, self.domain, self.record, self.rng.integers(2**31 - 1))
        self.record.insert_trial_docs(docs)
        self.record.refresh()
        suggestions = []
        for doc in self._docs(ids):
            doc["state"] = base.JOB_STATE_RUNNING
            values = space_eval(self.space, base.spec_from_misc(doc["misc"]))
            suggestions.append(Suggestion(doc["tid"], {name: plain(value) for name, value in values.items()}))
        return suggestions

    def tell(self, suggestion: Suggestion, loss: float | None) -> None:
        from hyperopt import base

        for doc in self._docs([suggestion.key]):
            doc["state"] = base.JOB_STATE_DONE
            doc["result"] = _result(loss)
        self.record.refresh()

    def _docs(self, ids: list[int]) -> list[dict]:
        wanted = set(ids)
        return [doc for doc in self.record._dynamic_trials if doc["tid"] in wanted]


class OptunaSearch(Search):
    """optuna's ask-and-tell interface with a seeded sampler; losses are minimized."""

    def __init__(self, parameters: dict[str, SearchParameter], algorithm: str, seed: int):
        import optuna
        from hyperopt import Trials

        optuna.logging.set_verbosity(optuna.logging.WARNING)
        name = OPTUNA_SAMPLERS[algorithm]
        # constant_liar: a batch's later suggestions stay away from the trials still running
        options = {"constant_liar": True} if name == "TPESampler" else {}
        sampler = getattr(optuna.samplers, name)(seed=seed, **options)
        self.study = optuna.create_study(direction="minimize", sampler=sampler)
        self.parameters = parameters
        self.record = Trials()

    def ask(self, count: int) -> list[Suggestion]:
        suggestions = []
        for _ in range(count):
            trial = self.study.ask()
            suggestions.append(Suggestion(trial, {name: plain(optuna_value(trial, name, p)) for name, p in self.parameters.items()}))
        return suggestions

    def tell(self, suggestion: Suggestion, loss: float | None) -> None:
        from hyperopt import base
        from optuna.trial import TrialState

        if loss is None or math.isnan(loss):
            self.study.tell(suggestion.key, state=TrialState.FAIL)
        else:
            self.study.tell(suggestion.key, loss)
        tid = self.record.new_trial_ids(1)[0]
        misc = {"tid": tid, "cmd": None, "workdir": None, "idxs": {k: [tid] for k in suggestion.params}, "vals": {k: [v] for k, v in suggestion.params.items()}}
        doc = self.record.new_trial_docs([tid], [None], [_result(loss)], [misc])[0]
        doc["state"] = base.JOB_STATE_DONE
        self.record.insert_trial_docs([doc])
        self.record.refresh()


def make_search(config: TuningConfig) -> Search:
    backend = HyperoptSearch if config.backend == "hyperopt" else OptunaSearch
    return backend(config.parameters or {}, config.algorithm, config.seed)


# --- trials -------------------------------------------------------------------------------------------


@dataclass
class TrialData:
    """What every trial needs, sent once to each worker process."""

    root: Path
    recipe: "RecipeConfig"
    config: "TrainConfig"
    features: "pd.DataFrame"  # transformed training features: rebalanced, then sampled
    target: "pd.Series"
    validation_features: "pd.DataFrame"  # transformed validation features
    validation_target: "pd.Series"
    primary: str
    greater_is_better: bool


@dataclass
class TrialOutcome:
    number: int
    params: dict[str, Any]
    metrics: dict[str, float]
    loss: float | None
    started: float
    ended: float
    pid: int
    warnings: list[tuple[type, str]] = field(default_factory=list)  # (category, message), each once


def estimator_params(config: "TrainConfig", tuned: dict[str, Any]) -> dict[str, Any]:
    """`estimator_params` are the base; the trial's values override them. A new dict for every call."""
    return {**(config.estimator_params or {}), **tuned}


def build_estimator(root: Path, config: "TrainConfig", params: dict[str, Any]) -> Any:
    from recipe_assets.core.errors import UserCodeError
    from recipe_assets.core.user_code import load_function

    estimator_fn = load_function(root, "train", config.estimator_method)
    estimator = estimator_fn(dict(params)) if params else estimator_fn()
    if not hasattr(estimator, "fit"):
        raise UserCodeError(
            f"steps/train.py:{config.estimator_method} returned {type(estimator).__name__}; expected an unfitted estimator with fit()"
        )
    return estimator


def score_trial(data: TrialData, params: dict[str, Any]) -> dict[str, float]:
    """Validation metrics of the estimator built with `params`, fitted as the train step fits it."""
    from recipe_assets.steps.evaluate import compute_metrics
    from recipe_assets.steps.train import fit_estimator, make_classifier, predict_with_probabilities

    estimator = build_estimator(data.root, data.config, estimator_params(data.config, params))
    if data.recipe.task == "classification":
        model = make_classifier(estimator, data.config, data.target)
        fit_estimator(model, data.features, data.target, data.config.estimator_method)
        labels, probabilities = predict_with_probabilities(model, data.validation_features.to_numpy())
        classes = [plain(c) for c in model.classes_]
        return compute_metrics(data.root, data.recipe, data.validation_target, labels, probabilities, classes)
    fit_estimator(estimator, data.features, data.target, data.config.estimator_method)
    predicted = estimator.predict(data.validation_features.to_numpy())
    return compute_metrics(data.root, data.recipe, data.validation_target, predicted)


def run_trial(data: TrialData, number: int, params: dict[str, Any]) -> TrialOutcome:
    from recipe_assets.core.errors import RecipeError, UserCodeError

    started = time.time()
    # caught here and raised again once by the parent: a worker's warnings would bypass the step's card
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            metrics = score_trial(data, params)
        except RecipeError as exc:
            raise UserCodeError(f"tuning trial {number} with {params}: {exc}") from None
    value = metrics.get(data.primary, float("nan"))
    loss = None if math.isnan(value) else (-value if data.greater_is_better else value)
    seen = list(dict.fromkeys((w.category, str(w.message)) for w in caught))
    return TrialOutcome(number, params, metrics, loss, started, time.time(), os.getpid(), seen)


def warn_once(outcomes: list[TrialOutcome]) -> None:
    """Each distinct warning of the trials once, naming the trials that gave it."""
    trials_by_warning: dict[tuple[type, str], list[int]] = {}
    for outcome in outcomes:
        for warning in outcome.warnings:
            trials_by_warning.setdefault(warning, []).append(outcome.number)
    for (category, message), numbers in trials_by_warning.items():
        warnings.warn(f"tuning trials {', '.join(map(str, numbers))}: {message}", category, stacklevel=2)


_WORKER_DATA: TrialData | None = None


def _start_worker(data: TrialData, threads: int) -> None:
    global _WORKER_DATA
    from threadpoolctl import threadpool_limits

    _WORKER_DATA = data
    threadpool_limits(threads)  # parallel trials share the cores instead of each taking all of them
    load_user_code(data)  # imports once here, so trial durations are the trials'


def load_user_code(data: TrialData) -> None:
    import sklearn.metrics  # noqa: F401 (what scoring a trial imports first)

    from recipe_assets.steps import evaluate, train  # noqa: F401
    from recipe_assets.core.user_code import load_function

    load_function(data.root, "train", data.config.estimator_method)
    for metric in data.recipe.custom_metrics:
        load_function(data.root, "custom_metrics", metric.function)


def _run_in_worker(number: int, params: dict[str, Any]) -> TrialOutcome:
    assert _WORKER_DATA is not None
    return run_trial(_WORKER_DATA, number, params)


class TrialRunner:
    """Runs batches of trials: in this process for `parallelism: 1`, else one trial of a batch per worker
    process (one single-worker pool per slot, so a worker that is ready first cannot take a batch alone)."""

    def __init__(self, data: TrialData, parallelism: int):
        self.data = data
        self.slots: list = []
        if parallelism > 1:
            import multiprocessing
            from concurrent.futures import ProcessPoolExecutor

            threads = max(1, (os.cpu_count() or 1) // parallelism)
            # spawn, not fork: the parent holds Dagster's and MLflow's threads and open stores
            context = multiprocessing.get_context("spawn")
            self.slots = [
                ProcessPoolExecutor(1, mp_context=context, initializer=_start_worker, initargs=(data, threads)) for _ in range(parallelism)
            ]

    def run(self, batch: list[tuple[int, dict[str, Any]]]) -> list[TrialOutcome]:
        if not self.slots:
            return [run_trial(self.data, number, params) for number, params in batch]
        futures = [slot.submit(_run_in_worker, number, params) for slot, (number, params) in zip(self.slots, batch)]
        return [future.result() for future in futures]

    def close(self) -> None:
        for slot in self.slots:
            slot.shutdown(cancel_futures=True)


def search(search: Search, runner: TrialRunner, max_trials: int, parallelism: int, early_stop: Callable | None = None) -> list[TrialOutcome]:
    """Ask, run and tell in batches of `parallelism` until `max_trials` trials ran or `early_stop` says stop.

    `early_stop` is consulted after every trial, as hyperopt does; a stop lets the batch already running finish.
    """
    outcomes: list[TrialOutcome] = []
    stop, stop_args = False, []
    while len(outcomes) < max_trials and not stop:
        suggestions = search.ask(min(parallelism, max_trials - len(outcomes)))
        batch = [(len(outcomes) + i + 1, s.params) for i, s in enumerate(suggestions)]
        for suggestion, outcome in zip(suggestions, runner.run(batch)):
            search.tell(suggestion, outcome.loss)
            outcomes.append(outcome)
            if early_stop is not None and not stop:
                stop, stop_args = early_stop(search.record, *stop_args)
    return outcomes


# --- the tuned estimator, its card and its MLflow runs -------------------------------------------------


@dataclass
class EstimatorChoice:
    """The unfitted estimator the train step fits, and what choosing it found (for the card and MLflow).

    `trials` is one row per trial, in trial order (None when nothing was searched)."""

    estimator: Any
    card: dict[str, Any] = field(default_factory=dict)
    best_params: dict[str, Any] = field(default_factory=dict)
    trials: "pd.DataFrame | None" = None
    outcomes: list[TrialOutcome] = field(default_factory=list)
    summary_params: dict[str, Any] = field(default_factory=dict)

    def log_to_mlflow(self, parent_run: Any, run_name: str) -> None:
        """Nested runs for the trials, and the best parameters on the model's run (inside that run)."""
        import mlflow
        import yaml

        if self.outcomes:
            log_trial_runs(parent_run, run_name, self.outcomes)
        logged = mlflow.get_run(parent_run.info.run_id).data.params
        extra = {**{k: v for k, v in self.best_params.items() if k not in logged}, **self.summary_params}
        if extra:
            mlflow.log_params({k: str(v)[:500] for k, v in extra.items()})
        if self.best_params:
            mlflow.log_text(yaml.safe_dump({k: plain(v) for k, v in self.best_params.items()}, sort_keys=False), "train/best_parameters.yaml")
        if self.trials is not None:
            mlflow.log_text(self.trials.to_csv(index=False), "train/trials.csv")


def log_trial_runs(parent_run: Any, run_name: str, outcomes: list[TrialOutcome]) -> None:
    from mlflow.entities import Metric, Param
    from mlflow.tracking import MlflowClient

    client = MlflowClient()
    for outcome in outcomes:
        tags = {"mlflow.parentRunId": parent_run.info.run_id, "recipe.tuning.trial": str(outcome.number)}
        child = client.create_run(
            parent_run.info.experiment_id, start_time=int(outcome.started * 1000), tags=tags, run_name=f"{run_name}-trial-{outcome.number}"
        )
        stamp = int(outcome.ended * 1000)
        metrics = [Metric(f"val_{k}", float(v), stamp, 0) for k, v in outcome.metrics.items() if not math.isnan(v)]
        params = [Param(k, str(v)[:500]) for k, v in outcome.params.items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, "FINISHED", end_time=stamp)


def trials_frame(outcomes: list[TrialOutcome], names: list[str], primary: str) -> "pd.DataFrame":
    import pandas as pd

    rows = []
    for outcome in outcomes:
        row = {"trial": outcome.number, **{n: outcome.params.get(n) for n in names}}
        row[f"validation {primary}"] = outcome.metrics.get(primary, float("nan"))
        row["duration s"] = round(outcome.ended - outcome.started, 3)
        row["pid"] = outcome.pid
        row.update({f"val_{k}": v for k, v in outcome.metrics.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def best_outcome(outcomes: list[TrialOutcome]) -> TrialOutcome:
    """The lowest loss; the earliest trial among equals."""
    from recipe_assets.core.errors import RecipeDataError

    scored = [o for o in outcomes if o.loss is not None]
    if not scored:
        raise RecipeDataError(f"tuning: none of the {len(outcomes)} trials gave a value for the primary metric on the validation data")
    return min(scored, key=lambda o: (o.loss, o.number))


def tuning_card(config: TuningConfig, frame: "pd.DataFrame", best: TrialOutcome, names: list[str], primary: str, base: dict[str, Any]) -> dict[str, Any]:
    from recipe_assets import cards

    metric_column = f"validation {primary}"
    columns = ("trial", *names, metric_column, "duration s")
    rows = [tuple(row[c] for c in columns) for row in frame.to_dict("records")]
    best_rows = [(name, best.params[name]) for name in names] + [(name, value) for name, value in base.items() if name not in best.params]
    ran = len(frame)
    stopped = f", stopped early by {config.early_stop_fn}" if ran < (config.max_trials or 0) else ""
    summary = (
        f"{config.backend} {config.algorithm}: {ran} of {config.max_trials} trials, up to {config.parallelism} at a time{stopped}; "
        f"best trial {best.number} ({metric_column} {cards.fmt(best.metrics[primary])})"
    )
    return {
        "tuning": summary,
        "tuning trials": cards.table(columns, rows),
        "best parameters": cards.table(("parameter", "value"), [(n, v if isinstance(v, (int, float, str, bool)) else str(v)) for n, v in best_rows]),
    }


def load_early_stop(root: Path, name: str) -> Callable:
    """`early_stop_fn`: a name in steps/train.py, or `module.function` importable with the recipe's steps/ on the path."""
    import importlib

    from recipe_assets.core.errors import UserCodeError
    from recipe_assets.core.user_code import load_function, use_recipe_steps

    if "." not in name:
        return load_function(root, "train", name)
    module, function = name.rsplit(".", 1)
    use_recipe_steps(root)
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise UserCodeError(f"steps.train.tuning.early_stop_fn: cannot load {name!r}: {exc}") from None


def trial_data(root: Path, recipe: "RecipeConfig", config: "TrainConfig", transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame") -> TrialData:
    """`transformed` is the training data the model is fitted on (for classification, already rebalanced)."""
    from recipe_assets.engine.config import greater_is_better
    from recipe_assets.steps.train import leading_metrics
    from recipe_assets.steps.transform import apply_transformer

    target_col = recipe.target_col
    if config.tuning.sample_fraction < 1:
        transformed = transformed.sample(frac=config.tuning.sample_fraction, random_state=SAMPLING_SEED)
    primary = leading_metrics(recipe)[0]
    return TrialData(
        root=root,
        recipe=recipe,
        config=config,
        features=transformed.drop(columns=[target_col]),
        target=transformed[target_col],
        validation_features=apply_transformer(transformer, validation.drop(columns=[target_col])),
        validation_target=validation[target_col].reset_index(drop=True),
        primary=primary,
        greater_is_better=greater_is_better(recipe, primary),
    )


def tuned_estimator(
    root: Path, recipe: "RecipeConfig", config: "TrainConfig", transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame"
) -> EstimatorChoice:
    """Search `tuning.parameters`; the estimator built with the best trial's values over `estimator_params`."""
    tuning = config.tuning
    assert tuning.max_trials is not None and tuning.parameters
    data = trial_data(root, recipe, config, transformer, transformed, validation)
    early_stop = load_early_stop(root, tuning.early_stop_fn) if tuning.early_stop_fn else None
    runner = TrialRunner(data, tuning.parallelism)
    try:
        outcomes = search(make_search(tuning), runner, tuning.max_trials, tuning.parallelism, early_stop)
    finally:
        runner.close()
    warn_once(outcomes)
    names = list(tuning.parameters)
    best = best_outcome(outcomes)
    frame = trials_frame(outcomes, names, data.primary)
    base = dict(config.estimator_params or {})
    return EstimatorChoice(
        estimator=build_estimator(root, config, estimator_params(config, best.params)),
        card=tuning_card(tuning, frame, best, names, data.primary, base),
        best_params=dict(best.params),
        trials=frame,
        outcomes=outcomes,
        summary_params={"tuning_trials": len(outcomes), "tuning_best_trial": best.number},
    )


# --- checks at definition load ------------------------------------------------------------------------


def implementation_digest(config: "TrainConfig") -> str:
    """Our search code, for `model`'s code version when the recipe uses it (train.py's own source is already in it)."""
    import hashlib

    here = Path(__file__)
    files = ([here] if config.tuning.enabled else []) + ([here.with_name("automl.py")] if config.using == "automl/flaml" else [])
    return hashlib.sha256(b"".join(f.read_bytes() for f in files)).hexdigest()[:16] if files else ""


def check_tuning(root: Path, config: "TrainConfig", recipe_file: str) -> None:
    """What can only be known with the recipe's code: the estimator accepts every tuned parameter, and
    `early_stop_fn` exists. Builds the estimator once with a sampled point of the search space."""
    from recipe_assets.core.errors import RecipeConfigError
    from recipe_assets.core.user_code import check_function_defined

    tuning = config.tuning
    if tuning.early_stop_fn and "." not in tuning.early_stop_fn:
        check_function_defined(root, "train", tuning.early_stop_fn, "steps.train.tuning.early_stop_fn")
    point = sample_point(tuning.parameters or {})
    known = set(_estimator_param_names(root, config, recipe_file, estimator_params(config, {})))
    for name, value in point.items():
        if name in known:
            continue
        try:
            accepted = build_estimator(root, config, estimator_params(config, {name: value}))
            if hasattr(accepted, "get_params") and name not in accepted.get_params() and not _changes_estimator(root, config, name, value):
                raise ValueError("the estimator has no such parameter")
        except Exception as exc:  # whatever the user's function or the estimator raises for an unknown name
            raise RecipeConfigError(
                recipe_file,
                f"steps.train.tuning.parameters.{name}",
                f"steps/train.py:{config.estimator_method} does not accept a parameter {name!r} ({exc}); "
                f"its estimator's parameters are: {', '.join(sorted(known))}",
            ) from None


def _estimator_param_names(root: Path, config: "TrainConfig", recipe_file: str, base: dict[str, Any]) -> list[str]:
    from recipe_assets.core.errors import RecipeConfigError

    try:
        estimator = build_estimator(root, config, base)
    except Exception as exc:
        raise RecipeConfigError(recipe_file, "steps.train.estimator_params", f"steps/train.py:{config.estimator_method} failed with them: {exc}") from None
    return list(estimator.get_params()) if hasattr(estimator, "get_params") else []


def _changes_estimator(root: Path, config: "TrainConfig", name: str, value: Any) -> bool:
    """A name the user's function translates itself (not an estimator parameter) still changes what it builds."""
    base = build_estimator(root, config, estimator_params(config, {}))
    changed = build_estimator(root, config, estimator_params(config, {name: value}))
    return repr(base.get_params()) != repr(changed.get_params())


def sample_point(parameters: dict[str, SearchParameter]) -> dict[str, Any]:
    """One point of the search space (fixed seed), to try the estimator with."""
    import numpy as np
    from hyperopt.pyll import stochastic

    if not parameters:
        return {}
    drawn = stochastic.sample(hyperopt_space(parameters), rng=np.random.default_rng(0))
    return {name: plain(value) for name, value in drawn.items()}
