"""The tuned estimator the train step fits, what choosing it found, and the trials' nested MLflow runs
(written afterwards under the model's run, by the process that owns it)."""
from __future__ import annotations

import math
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from recipe_assets.core.values import plain_values
from recipe_assets.ml.tuning.backends import make_search
from recipe_assets.ml.tuning.trials import (
    SearchSettings,
    TrialOutcome,
    TrialRunner,
    best_outcome,
    build_estimator,
    estimator_params,
    load_early_stop,
    search,
    trial_data,
    trials_frame,
    warn_once,
)

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.core.settings import RecipeSettings


@dataclass
class EstimatorChoice:
    """The unfitted estimator the train step fits, and what choosing it found (for the card and MLflow).

    `trials` is one row per trial, in trial order (None when nothing was searched)."""

    estimator: Any
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
            mlflow.log_params({k: str(plain_values(v))[:500] for k, v in extra.items()})
        if self.best_params:
            mlflow.log_text(yaml.safe_dump(plain_values(dict(self.best_params)), sort_keys=False), "train/best_parameters.yaml")
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
        metrics += [Metric(k, float(v), stamp, 0) for k, v in outcome.early_stopping.items()]
        params = [Param(k, str(plain_values(v))[:500]) for k, v in outcome.params.items()]
        client.log_batch(child.info.run_id, metrics=metrics, params=params)
        client.set_terminated(child.info.run_id, "FINISHED", end_time=stamp)


def tuned_estimator(
    root: Path, recipe: "RecipeSettings", config: "SearchSettings", transformer: Any, transformed: "pd.DataFrame", validation: "pd.DataFrame"
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
    return EstimatorChoice(
        estimator=build_estimator(root, config, estimator_params(config, best.params)),
        best_params=dict(best.params),
        trials=frame,
        outcomes=outcomes,
        summary_params={"tuning_trials": len(outcomes), "tuning_best_trial": best.number},
    )

