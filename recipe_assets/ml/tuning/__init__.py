"""Hyperparameter tuning in the train step (`steps.train.tuning`), with MLflow Recipes 2.x's keys.

    config.py    the keys, checked when the recipe loads
    spaces.py    search spaces: hyperopt's, and the same distributions through optuna
    backends.py  the search behind `ask` / `tell`: hyperopt as `fmin` drives it, or an optuna sampler
    trials.py    one trial (fit, score the validation split), worker processes, the search loop
    choice.py    the tuned estimator, what the search found, the trials' nested MLflow runs
    checks.py    checks with the recipe's code at load; our code's digest for `model`'s code version

The names other packages use are importable from here.
"""
from recipe_assets.ml.tuning.checks import check_tuning, implementation_digest
from recipe_assets.ml.tuning.choice import EstimatorChoice, tuned_estimator
from recipe_assets.ml.tuning.config import TuningConfig
from recipe_assets.ml.tuning.trials import SearchSettings, TrialOutcome, best_outcome

__all__ = [
    "EstimatorChoice",
    "SearchSettings",
    "TrialOutcome",
    "TuningConfig",
    "best_outcome",
    "check_tuning",
    "implementation_digest",
    "tuned_estimator",
]
