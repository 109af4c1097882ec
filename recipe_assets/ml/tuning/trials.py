"""Trials: each builds the recipe's estimator with the trial's values over `estimator_params`, fits it on the
training data (sampled by `sample_fraction`) and scores the validation split, in batches of `parallelism`
local worker processes. A batch is suggested before any of its trials ends, so the same seed gives the same
trials however long each takes. Trials do not touch MLflow."""
from __future__ import annotations

import math
import os
import time
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Protocol

from recipe_assets.core.errors import RecipeDataError, RecipeError, UserCodeError
from recipe_assets.core.metrics import greater_is_better
from recipe_assets.core.user_code import load_function, use_recipe_steps
from recipe_assets.core.values import plain_value
from recipe_assets.ml.estimators import EstimatorSettings, fit_estimator, make_classifier, predict_with_probabilities
from recipe_assets.ml.fit_params import check_accepted, early_stopping, resolve
from recipe_assets.ml.evaluation import compute_metrics
from recipe_assets.ml.transformers import apply_transformer
from recipe_assets.ml.tuning.backends import Search
from recipe_assets.ml.tuning.config import SAMPLING_SEED, TuningConfig

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


class SearchSettings(EstimatorSettings, Protocol):
    """What of `steps.train` a search reads: the estimator's settings and `tuning` (the train step's config has these keys)."""

    tuning: TuningConfig


@dataclass
class TrialData:
    """What every trial needs, sent once to each worker process."""

    root: Path
    recipe: "RecipeSettings"
    config: "SearchSettings"
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
    early_stopping: dict[str, float] = field(default_factory=dict)  # where the trial's estimator stopped (steps.train.fit_params)


def estimator_params(config: "SearchSettings", tuned: dict[str, Any]) -> dict[str, Any]:
    """`estimator_params` are the base; the trial's values override them. A new dict for every call."""
    return {**(config.estimator_params or {}), **tuned}


def build_estimator(root: Path, config: "SearchSettings", params: dict[str, Any]) -> Any:
    estimator_fn = load_function(root, "train", config.estimator_method)
    estimator = estimator_fn(dict(params)) if params else estimator_fn()
    if not hasattr(estimator, "fit"):
        raise UserCodeError(
            f"steps/train.py:{config.estimator_method} returned {type(estimator).__name__}; expected an unfitted estimator with fit()"
        )
    return estimator


def score_trial(data: TrialData, params: dict[str, Any], stopped: dict[str, float] | None = None) -> dict[str, float]:
    """Validation metrics of the estimator built with `params`, fitted as the train step fits it (with
    `steps.train.fit_params`, so each trial early-stops on the validation split as the final fit does);
    where it stopped goes into `stopped`."""
    estimator = build_estimator(data.root, data.config, estimator_params(data.config, params))
    model = make_classifier(estimator, data.config, data.target) if data.recipe.task == "classification" else estimator
    fit_params = data.config.fit_params or {}
    check_accepted(model, fit_params)
    resolved = resolve(fit_params, data.validation_features.to_numpy(), data.validation_target.to_numpy())
    fit_estimator(model, data.features, data.target, data.config.estimator_method, resolved)
    if stopped is not None:
        stopped.update(early_stopping(model))
    if data.recipe.task == "classification":
        labels, probabilities = predict_with_probabilities(model, data.validation_features.to_numpy())
        classes = [plain_value(c) for c in model.classes_]
        return compute_metrics(data.root, data.recipe, data.validation_target, labels, probabilities, classes)
    predicted = estimator.predict(data.validation_features.to_numpy())
    return compute_metrics(data.root, data.recipe, data.validation_target, predicted)


def run_trial(data: TrialData, number: int, params: dict[str, Any]) -> TrialOutcome:
    started = time.time()
    # caught here and raised again once by the parent: a worker's warnings would bypass the step's card
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            stopped: dict[str, float] = {}
            metrics = score_trial(data, params, stopped)
        except RecipeError as exc:
            raise UserCodeError(f"tuning trial {number} with {params}: {exc}") from None
    value = metrics.get(data.primary, float("nan"))
    loss = None if math.isnan(value) else (-value if data.greater_is_better else value)
    seen = list(dict.fromkeys((w.category, str(w.message)) for w in caught))
    return TrialOutcome(number, params, metrics, loss, started, time.time(), os.getpid(), seen, stopped)


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


def trials_frame(outcomes: list[TrialOutcome], names: list[str], primary: str) -> "pd.DataFrame":
    import pandas as pd

    rows = []
    for outcome in outcomes:
        row = {"trial": outcome.number, **{n: outcome.params.get(n) for n in names}}
        row[f"validation {primary}"] = outcome.metrics.get(primary, float("nan"))
        row["duration s"] = round(outcome.ended - outcome.started, 3)
        row["pid"] = outcome.pid
        row.update(outcome.early_stopping)
        row.update({f"val_{k}": v for k, v in outcome.metrics.items()})
        rows.append(row)
    return pd.DataFrame(rows)


def best_outcome(outcomes: list[TrialOutcome]) -> TrialOutcome:
    """The lowest loss; the earliest trial among equals."""
    scored = [o for o in outcomes if o.loss is not None]
    if not scored:
        raise RecipeDataError(f"tuning: none of the {len(outcomes)} trials gave a value for the primary metric on the validation data")
    return min(scored, key=lambda o: (o.loss, o.number))


def load_early_stop(root: Path, name: str) -> Callable:
    """`early_stop_fn`: a name in steps/train.py, or `module.function` importable with the recipe's steps/ on the path."""
    import importlib


    if "." not in name:
        return load_function(root, "train", name)
    module, function = name.rsplit(".", 1)
    use_recipe_steps(root)
    try:
        return getattr(importlib.import_module(module), function)
    except (ImportError, AttributeError) as exc:
        raise UserCodeError(f"steps.train.tuning.early_stop_fn: cannot load {name!r}: {exc}") from None


def trial_data(root: Path, recipe: "RecipeSettings", config: "SearchSettings", transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame") -> TrialData:
    """`transformed` is the training data the model is fitted on (for classification, already rebalanced)."""
    target_col = recipe.target_col
    if config.tuning.sample_fraction < 1:
        transformed = transformed.sample(frac=config.tuning.sample_fraction, random_state=SAMPLING_SEED)
    primary = recipe.leading_metrics[0]
    return TrialData(
        root=root,
        recipe=recipe,
        config=config,
        features=transformed.drop(columns=[target_col]),
        target=transformed[target_col],
        validation_features=apply_transformer(transformer, validation.drop(columns=[target_col])),
        validation_target=validation[target_col].reset_index(drop=True),
        primary=primary,
        greater_is_better=greater_is_better(primary, recipe.custom_metrics),
    )

