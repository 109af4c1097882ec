"""Search spaces: the one MLflow Recipes built for hyperopt, the same distributions drawn through optuna,
and one sampled point (for the checks at load)."""
from __future__ import annotations

import math
from typing import Any

from recipe_assets.core.values import plain_value
from recipe_assets.ml.tuning.config import SearchParameter

NORMAL_QUANTILE_EDGE = 1e-12


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


def sample_point(parameters: dict[str, SearchParameter]) -> dict[str, Any]:
    """One point of the search space (fixed seed), to try the estimator with."""
    import numpy as np
    from hyperopt.pyll import stochastic

    if not parameters:
        return {}
    drawn = stochastic.sample(hyperopt_space(parameters), rng=np.random.default_rng(0))
    return {name: plain_value(value) for name, value in drawn.items()}

