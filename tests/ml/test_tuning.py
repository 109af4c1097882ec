"""steps.train.tuning: hyperopt's search as MLflow Recipes ran it (and optuna beside it), trials in local
processes, nested MLflow runs, the leaderboard on the card, versioning, and bad input at definition load."""
from __future__ import annotations

import math
import os
from pathlib import Path

import numpy as np
import pytest

from conftest import copy_template
from recipe_assets.engine.config import load_config
from recipe_assets.engine.graph import build_definitions
from recipe_assets.core.errors import RecipeConfigError, RecipeError
from recipe_assets.app.recipe import Recipe
from recipe_assets.ml.tuning.backends import HyperoptSearch, OptunaSearch
from recipe_assets.ml.tuning.config import SearchParameter, TuningConfig
from recipe_assets.ml.tuning.trials import TrialOutcome, search

TUNING = """\
    estimator_method: estimator_fn
    estimator_params:
      max_iter: 40
    tuning:
      enabled: true
      algorithm: {algorithm}
      max_trials: {max_trials}
      parallelism: {parallelism}
      parameters:
        alpha:
          distribution: loguniform
          low: -9
          high: -2
        penalty:
          values: [l2, l1]
"""


def with_tuning(root: Path, algorithm: str = "hyperopt.rand.suggest", max_trials: int = 4, parallelism: int = 1) -> Path:
    recipe = root / "recipe.yaml"
    text = recipe.read_text()
    assert "    estimator_method: estimator_fn\n" in text
    recipe.write_text(text.replace("    estimator_method: estimator_fn\n", TUNING.format(algorithm=algorithm, max_trials=max_trials, parallelism=parallelism), 1))
    return root


SPACE = {
    "alpha": {"distribution": "loguniform", "low": -6, "high": 0},
    "l1_ratio": {"distribution": "quniform", "low": 0, "high": 1, "q": 0.25},
    "depth": {"distribution": "uniformint", "low": 2, "high": 8},
    "power": {"distribution": "normal", "mu": 0.25, "sigma": 0.1},
    "loss": {"values": ["squared_error", "huber"]},
    "n": {"distribution": "randint", "low": 3, "high": 9},
}


def parameters(space: dict = SPACE) -> dict[str, SearchParameter]:
    return TuningConfig.model_validate({"enabled": True, "max_trials": 1, "parameters": space}).parameters


def loss_of(params: dict) -> float:
    return params["alpha"] + params["l1_ratio"] + params["depth"] / 10 + abs(params["power"]) + (params["loss"] == "huber") + params["n"] / 100


# --- the search itself ---------------------------------------------------------------------------------


@pytest.mark.parametrize("algorithm", ["hyperopt.rand.suggest", "hyperopt.tpe.suggest"])
def test_one_trial_at_a_time_suggests_exactly_what_hyperopt_fmin_suggests(algorithm: str):
    """The peer called hyperopt.fmin; our ask/tell loop must walk the same path for the same seed."""
    import importlib

    from hyperopt import Trials, fmin

    from recipe_assets.ml.tuning.spaces import hyperopt_space

    seen_by_fmin = []

    def objective(params):
        seen_by_fmin.append(params)
        return loss_of(params)

    module, name = algorithm.rsplit(".", 1)
    fmin(objective, hyperopt_space(parameters()), algo=getattr(importlib.import_module(module), name), max_evals=25,
         trials=Trials(), rstate=np.random.default_rng(7), show_progressbar=False)

    ours = HyperoptSearch(parameters(), algorithm, seed=7)
    seen_by_us = []
    for _ in range(25):
        (suggestion,) = ours.ask(1)
        seen_by_us.append(suggestion.params)
        ours.tell(suggestion, loss_of(suggestion.params))
    assert [sorted(p.items()) for p in seen_by_us] == [sorted(p.items()) for p in seen_by_fmin]


@pytest.mark.parametrize("backend", [HyperoptSearch, OptunaSearch])
def test_the_same_seed_gives_the_same_trials_and_another_seed_other_ones(backend):
    def walk(seed: int) -> list[dict]:
        searcher = backend(parameters(), "hyperopt.tpe.suggest", seed)
        seen = []
        for _ in range(4):
            batch = searcher.ask(3)
            for suggestion in batch:
                searcher.tell(suggestion, loss_of(suggestion.params))
                seen.append(suggestion.params)
        return seen

    assert walk(1) == walk(1)
    assert walk(1) != walk(2)


@pytest.mark.parametrize("backend", [HyperoptSearch, OptunaSearch])
def test_both_backends_draw_hyperopt_distributions(backend):
    searcher = backend(parameters(), "hyperopt.rand.suggest", 3)
    draws = [s.params for s in searcher.ask(400)]
    alphas = np.array([d["alpha"] for d in draws])
    assert alphas.min() >= math.exp(-6) and alphas.max() <= 1.0
    assert 0.1 < np.mean(np.log(alphas) < -3) < 0.9  # uniform in log space, not in value
    assert {d["l1_ratio"] for d in draws} <= {0.0, 0.25, 0.5, 0.75, 1.0}
    assert {d["depth"] for d in draws} <= set(range(2, 9)) and all(isinstance(d["depth"], int) for d in draws)
    assert {d["n"] for d in draws} == set(range(3, 9))
    assert {d["loss"] for d in draws} == {"squared_error", "huber"}
    powers = np.array([d["power"] for d in draws])
    assert abs(powers.mean() - 0.25) < 0.03 and abs(powers.std() - 0.1) < 0.03


class Runner:
    """Scores batches in this process and remembers their sizes."""

    def __init__(self):
        self.batches: list[int] = []

    def run(self, batch):
        self.batches.append(len(batch))
        return [TrialOutcome(number, params, {"m": loss_of(params)}, loss_of(params), 0.0, 0.0, os.getpid()) for number, params in batch]


def test_the_trial_budget_is_exact_and_trials_run_in_batches_of_parallelism():
    runner = Runner()
    outcomes = search(HyperoptSearch(parameters(), "hyperopt.tpe.suggest", 0), runner, max_trials=7, parallelism=3)
    assert [o.number for o in outcomes] == list(range(1, 8))
    assert runner.batches == [3, 3, 1]


def test_early_stop_fn_is_called_as_hyperopt_calls_it_and_stops_the_search():
    calls = []

    def stop_after_three(trials, *args):
        calls.append((len(trials.trials), args))
        return len(trials.trials) >= 3, [len(trials.trials)]

    runner = Runner()
    outcomes = search(OptunaSearch(parameters(), "hyperopt.tpe.suggest", 0), runner, max_trials=10, parallelism=2, early_stop=stop_after_three)
    assert len(outcomes) == 4  # the stop comes at trial 3; trial 4 of the same batch had already run
    assert calls == [(1, ()), (2, (1,)), (3, (2,))]


def test_warnings_of_the_trials_are_raised_again_once_naming_the_trials(monkeypatch):
    import warnings
    from types import SimpleNamespace

    from recipe_assets.ml.tuning import trials as tuning

    def score(data, params, stopped=None):
        warnings.warn("slow to converge", UserWarning)
        warnings.warn("slow to converge", UserWarning)
        return {"m": 1.0}

    monkeypatch.setattr(tuning, "score_trial", score)
    data = SimpleNamespace(primary="m", greater_is_better=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # nothing escapes a trial
        outcomes = [tuning.run_trial(data, number, {}) for number in (1, 2)]
    with pytest.warns(UserWarning, match="tuning trials 1, 2: slow to converge") as record:
        tuning.warn_once(outcomes)
    assert len(record) == 1


# --- bad input, at definition load ------------------------------------------------------------------


@pytest.fixture
def recipe(tmp_path: Path) -> Path:
    return copy_template("regression", tmp_path / "regression")


def load_problem(root: Path) -> RecipeConfigError:
    with pytest.raises(RecipeConfigError) as caught:
        build_definitions(load_config(root, "local"))
    return caught.value


@pytest.mark.parametrize(
    ("old", "new", "key_path", "words"),
    [
        ("max_trials: 4", "max_trials: 0", "steps.train.tuning.max_trials", "greater than or equal to 1"),
        ("parallelism: 1", "parallelism: 5", "steps.train.tuning.parallelism", "above max_trials 4"),
        ("distribution: loguniform", "distribution: log_uniform", "steps.train.tuning.parameters.alpha", "unknown distribution 'log_uniform'"),
        ("high: -2", "hi: -2", "steps.train.tuning.parameters.alpha", "loguniform takes low, high; missing high"),
        ("low: -9", "low: 1", "steps.train.tuning.parameters.alpha", "low (1) must be less than high (-2)"),
        ("algorithm: hyperopt.rand.suggest", "algorithm: rand", "steps.train.tuning.algorithm", "unknown algorithm 'rand'"),
        ("      max_trials: 4\n", "", "steps.train.tuning.max_trials", "required when tuning is enabled"),
        ("      enabled: true\n", "", "steps.train.tuning", "needs `enabled: true` or `enabled: false`"),
        ("    tuning:\n", "    tuning:\n      sample_fraction: 1.5\n", "steps.train.tuning.sample_fraction", "less than or equal to 1"),
    ],
)
def test_bad_tuning_config_names_the_key_path(recipe: Path, old: str, new: str, key_path: str, words: str):
    with_tuning(recipe)
    text = (recipe / "recipe.yaml").read_text()
    assert old in text
    (recipe / "recipe.yaml").write_text(text.replace(old, new, 1))
    error = load_problem(recipe)
    assert error.key_path == key_path
    assert words in error.problem


def test_a_parameter_the_estimator_does_not_accept_fails_at_definition_load(recipe: Path):
    with_tuning(recipe)
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text.replace("        penalty:\n", "        alpah:\n", 1))
    error = load_problem(recipe)
    assert error.key_path == "steps.train.tuning.parameters.alpah"
    assert "does not accept a parameter 'alpah'" in error.problem and "alpha" in error.problem
    assert not (recipe / "metadata" / "mlflow").exists()


def test_an_estimator_function_failing_for_its_own_reason_is_not_called_a_parameter_it_does_not_accept(recipe: Path):
    """A name the function translates itself (strength), whose translation fails: the failure is said, not 'does not accept'."""
    with_tuning(recipe)
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text.replace("        penalty:\n", "        strength:\n", 1))
    (recipe / "steps" / "train.py").write_text(
        "def estimator_fn(params=None):\n"
        "    from sklearn.linear_model import SGDRegressor\n"
        "    params = dict(params or {})\n"
        "    if 'strength' in params:\n"
        "        raise RuntimeError('licence server down')\n"
        "    return SGDRegressor(**params)\n"
    )
    error = load_problem(recipe)
    assert error.key_path == "steps.train.tuning.parameters.strength"
    assert "steps/train.py:estimator_fn failed when given strength=" in error.problem
    assert "RuntimeError: licence server down" in error.problem and "does not accept" not in error.problem


def test_a_parameter_the_estimator_function_translates_itself_is_accepted(recipe: Path):
    with_tuning(recipe)
    (recipe / "steps" / "train.py").write_text(
        "def estimator_fn(params=None):\n"
        "    from sklearn.linear_model import SGDRegressor\n"
        "    params = dict(params or {})\n"
        "    params['alpha'] = params.pop('strength', 1e-4)\n"
        "    return SGDRegressor(**params)\n"
    )
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text.replace("        alpha:\n", "        strength:\n", 1))
    build_definitions(load_config(recipe, "local"))


def test_an_early_stop_fn_missing_from_train_py_fails_at_definition_load(recipe: Path):
    with_tuning(recipe)
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text.replace("      max_trials: 4\n", "      max_trials: 4\n      early_stop_fn: stop_early\n", 1))
    with pytest.raises(RecipeError, match="stop_early"):
        build_definitions(load_config(recipe, "local"))


def test_disabled_tuning_ignores_the_search_space_checks(recipe: Path):
    with_tuning(recipe)
    text = (recipe / "recipe.yaml").read_text()
    (recipe / "recipe.yaml").write_text(text.replace("enabled: true", "enabled: false").replace("        penalty:\n", "        unknown_param:\n"))
    build_definitions(load_config(recipe, "local"))


# --- end to end --------------------------------------------------------------------------------------


def nested_runs(root: Path, parent_run_id: str):
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}")
    parent = client.get_run(parent_run_id)
    children = client.search_runs([parent.info.experiment_id], filter_string=f"tags.mlflow.parentRunId = '{parent_run_id}'")
    return parent, children


def card_of(root: Path, name: str = "model"):
    from recipe_assets.core.keys import asset_key

    recipe = Recipe(recipe_root=root)
    event = recipe.instance.get_latest_materialization_event(asset_key(recipe.loaded.name, name))
    return event.asset_materialization.metadata


def rows(table) -> list[dict]:
    return [record.data for record in table.records]


@pytest.mark.slow
@pytest.mark.parametrize("algorithm", ["hyperopt.rand.suggest", "hyperopt.tpe.suggest"])
def test_tuning_run_logs_one_nested_run_per_trial_and_trains_the_best(tmp_path: Path, algorithm: str):
    root = with_tuning(copy_template("regression", tmp_path / "regression"), algorithm=algorithm, max_trials=5)
    summary = Recipe(recipe_root=root).run(raise_on_error=False)
    assert summary.success, summary.error
    model = Recipe(recipe_root=root).latest_value("model")
    parent, children = nested_runs(root, model["run_id"])
    assert len(children) == 5
    # the best trial as MLflow recorded the trials (one nested run each), not as our card lists them
    by_trial = {int(c.data.tags["recipe.tuning.trial"]): c.data for c in children}
    assert sorted(by_trial) == [1, 2, 3, 4, 5]
    best_number = min(by_trial, key=lambda n: (by_trial[n].metrics["val_root_mean_squared_error"], n))
    best = by_trial[best_number]
    assert len({round(run.metrics["val_root_mean_squared_error"], 9) for run in by_trial.values()}) > 1, "trials that all score alike prove nothing"

    estimator = model["pipeline"][-1]
    assert estimator.penalty == best.params["penalty"] and estimator.alpha == pytest.approx(float(best.params["alpha"]), rel=1e-5)
    assert estimator.max_iter == 40  # estimator_params stay the base
    assert parent.data.params["penalty"] == best.params["penalty"]
    assert parent.data.params["tuning_best_trial"] == str(best_number)

    card = card_of(root)  # and the card says what MLflow says
    trials = rows(card["tuning trials"])
    metric = "validation root_mean_squared_error"
    assert [t["trial"] for t in trials] == [1, 2, 3, 4, 5]
    for trial in trials:
        child = by_trial[trial["trial"]]
        assert child.params["penalty"] == trial["penalty"]
        assert float(child.params["alpha"]) == pytest.approx(trial["alpha"], rel=1e-5)
        assert child.metrics["val_root_mean_squared_error"] == pytest.approx(trial[metric], rel=1e-5)
    best_params = {r["parameter"]: r["value"] for r in rows(card["best parameters"])}
    assert best_params["penalty"] == best.params["penalty"] and best_params["alpha"] == pytest.approx(float(best.params["alpha"]), rel=1e-5)
    assert best_params["max_iter"] == 40
    assert "tuning" in card and f"best trial {best_number}" in card["tuning"].value


@pytest.mark.slow
def test_parallel_trials_run_in_as_many_worker_processes(tmp_path: Path):
    from recipe_assets.engine.config import load_config as load
    from recipe_assets.ml.tuning import tuned_estimator

    root = with_tuning(copy_template("regression", tmp_path / "regression"), algorithm="hyperopt.tpe.suggest", max_trials=4, parallelism=2)
    summary = Recipe(recipe_root=root).run("transform")
    assert summary.success, summary.error
    recipe = Recipe(recipe_root=root)
    loaded = load(root, "local")
    choice = tuned_estimator(
        root, loaded.settings, loaded.config.steps.train, recipe.latest_value("transformer"),
        recipe.latest_value("transformed_training_data"), recipe.latest_value("validation_data"),
    )
    pids = set(choice.trials["pid"])
    assert len(pids) == 2 and os.getpid() not in pids
    assert list(choice.trials["trial"]) == [1, 2, 3, 4]


def trial_runs(root: Path) -> int:
    from mlflow.tracking import MlflowClient

    client = MlflowClient(tracking_uri=f"sqlite:///{root / 'metadata' / 'mlflow' / 'mlruns.db'}")
    experiments = [e.experiment_id for e in client.search_experiments()]
    return len(client.search_runs(experiments, filter_string="tags.`recipe.tuning.trial` != ''"))


@pytest.mark.slow
def test_tuning_is_part_of_the_models_code_version(tmp_path: Path, edit):
    """A run with nothing changed does not tune again; a new trial budget re-runs train, evaluate, register only."""
    root = with_tuning(copy_template("regression", tmp_path / "regression"), max_trials=3)
    first = Recipe(recipe_root=root).run(raise_on_error=False)
    assert first.success, first.error
    assert trial_runs(root) == 3

    again = Recipe(recipe_root=root).run(raise_on_error=False)
    assert again.success and again.materialized == []
    assert trial_runs(root) == 3

    edit(root / "recipe.yaml", "max_trials: 3", "max_trials: 4")
    changed = Recipe(recipe_root=root).run(raise_on_error=False)
    assert changed.success, changed.error
    assert changed.materialized == ["model", "run", "registered_model_version"]
    assert trial_runs(root) == 3 + 4


@pytest.mark.slow
def test_optuna_backend_tunes_the_classification_template(tmp_path: Path, edit):
    root = copy_template("classification", tmp_path / "classification")
    edit(
        root / "recipe.yaml",
        "    estimator_method: estimator_fn\n",
        "    estimator_method: estimator_fn\n    tuning:\n      enabled: true\n      backend: optuna\n      algorithm: hyperopt.tpe.suggest\n"
        "      max_trials: 3\n      parameters:\n        C: {distribution: loguniform, low: -3, high: 2}\n",
    )
    summary = Recipe(recipe_root=root).run(raise_on_error=False)
    assert summary.success, summary.error
    card = card_of(root)
    trials = rows(card["tuning trials"])
    assert [t["trial"] for t in trials] == [1, 2, 3]
    assert all(0 <= t["validation f1_score"] <= 1 for t in trials)
    best = max(trials, key=lambda t: (t["validation f1_score"], -t["trial"]))
    model = Recipe(recipe_root=root).latest_value("model")
    assert model["pipeline"][-1].estimator.C == pytest.approx(best["C"], rel=1e-5)
    _, children = nested_runs(root, model["run_id"])
    assert len(children) == 3
    assert "optuna" in card["tuning"].value
