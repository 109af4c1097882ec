"""The search behind two methods, `ask` and `tell`: `HyperoptSearch` drives hyperopt's suggestion algorithms
exactly as `hyperopt.fmin` calls them; `OptunaSearch` (ours) draws the same distributions with an optuna sampler."""
from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Any

from recipe_assets.core.values import plain_value
from recipe_assets.ml.tuning.config import OPTUNA_SAMPLERS, SearchParameter, TuningConfig
from recipe_assets.ml.tuning.spaces import hyperopt_space, optuna_value


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
            suggestions.append(Suggestion(doc["tid"], {name: plain_value(value) for name, value in values.items()}))
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
            suggestions.append(Suggestion(trial, {name: plain_value(optuna_value(trial, name, p)) for name, p in self.parameters.items()}))
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

