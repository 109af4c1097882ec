"""predict's drift: the scored batches counted against the reference summary train saved with the model
(ml.drift), judged by `steps.predict.drift` into the `scoring_data_drift` asset check and the card's Drift tab."""
from __future__ import annotations

import contextlib
import io
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from dagster import AssetCheckResult, AssetCheckSeverity, AssetKey, MetadataValue

from recipe_assets import cards
from recipe_assets.cards import monitoring_plots
from recipe_assets.core.errors import RecipeDataError, RecipeError
from recipe_assets.ml import drift
from recipe_assets.steps.predict.config import DriftConfig

if TYPE_CHECKING:
    import pandas as pd

DRIFT_CHECK = "scoring_data_drift"
PLOTTED_COLUMNS = 3  # histograms of the most drifted columns on the card


def load_reference(mlflow_resource: Any, model_uri: str, registered: dict[str, Any] | None) -> dict[str, Any] | None:
    """The reference summary logged in the run of the model being scored; None when that run has none (a
    model trained before drift summaries were saved, or logged by something other than a recipe).

    Only a run whose artifact listing lacks the file has no reference: a tracking server that cannot be
    reached, fails (5xx, 429) or refuses (403) is an error naming it, never "no reference", or an outage
    would pass for an old model and scoring would go on unwatched. It is raised before anything is scored,
    so the output of the last run stays as it was."""
    import mlflow

    action = f"loading the drift reference ({drift.REFERENCE_ARTIFACT}) of {model_uri}"
    with _store_failure(mlflow_resource.tracking_uri, action), mlflow_resource.talking_to_server(action):
        client = mlflow_resource.client()  # also points mlflow at the recipe's tracking store
        run_id = registered["run_id"] if registered else mlflow.models.get_model_info(model_uri).run_id
        if not run_id or not _has_reference(client, run_id):
            return None
        with contextlib.redirect_stderr(io.StringIO()):  # MLflow's download progress bar, for one small file
            return mlflow.artifacts.load_dict(f"runs:/{run_id}/{drift.REFERENCE_ARTIFACT}")


def _has_reference(client: Any, run_id: str) -> bool:
    """Whether the run's artifacts list the reference: every artifact store answers a missing folder with
    an empty listing, so an error here is the store failing, not the file missing."""
    folder = drift.REFERENCE_ARTIFACT.rsplit("/", 1)[0]
    return any(entry.path == drift.REFERENCE_ARTIFACT for entry in client.list_artifacts(run_id, folder))


@contextlib.contextmanager
def _store_failure(tracking_uri: str, action: str):
    """What talking_to_server leaves as it was (a local store's failures, an unreadable file): one error
    naming the store and the action, instead of MLflow's own words alone."""
    from mlflow.exceptions import MlflowException

    try:
        yield
    except (MlflowException, OSError, ValueError) as exc:
        reason = " ".join(str(exc).split())[:300]
        raise RecipeError(
            f"MLflow tracking store {tracking_uri}: {action} failed ({type(exc).__name__}: {reason}); nothing was scored and "
            "the output is as it was. Check the store, then run again (or remove steps.predict.drift to score unwatched)"
        ) from exc


@dataclass
class DriftWatch:
    """Counts the scored batches as they stream past; judges them at the end.

    The counting (sorting and searching numpy arrays, which release the GIL) runs on one thread beside the
    scoring: batch N is counted while batch N+1 is read, scored and written. At most one batch waits to be
    counted, so memory stays flat; an error in counting surfaces at the next batch or at the end."""

    config: DriftConfig
    reference: dict[str, Any] | None
    accumulator: drift.DriftAccumulator | None
    pending: Future | None = None
    counter: ThreadPoolExecutor | None = None

    @classmethod
    def start(cls, config: DriftConfig, reference: dict[str, Any] | None, scoring_columns: list[str]) -> "DriftWatch":
        if reference is None:
            return cls(config, None, None)
        columns, unknown = drift.compared_columns(reference, scoring_columns, config.columns)
        if unknown:
            have = [name for name in reference["columns"] if name in scoring_columns]
            raise RecipeDataError(
                f"steps.predict.drift.columns: {', '.join(map(repr, unknown))} is not a training feature in the scoring data; "
                f"expected some of {', '.join(map(repr, [*have, drift.PREDICTION]))}"
            )
        return cls(config, reference, drift.DriftAccumulator(reference, columns))

    def observe(self, scored: "pd.DataFrame") -> None:
        if self.accumulator is None:
            return
        self._wait()
        if self.counter is None:
            self.counter = ThreadPoolExecutor(max_workers=1, thread_name_prefix="drift-counts")
        self.pending = self.counter.submit(self.accumulator.add, scored)

    def _wait(self) -> None:
        if self.pending is not None:
            pending, self.pending = self.pending, None
            pending.result()

    def close(self) -> None:
        """Wait for the last batch's counts and stop the counting thread (also when scoring failed)."""
        try:
            self._wait()
        finally:
            if self.counter is not None:
                self.counter.shutdown(wait=True)
                self.counter = None

    def finish(self, asset: AssetKey) -> tuple[dict[str, Any], AssetCheckResult]:
        """(card entries, the check's result)."""
        self.close()
        if self.accumulator is None:
            why = "the model's MLflow run has no drift reference (it was trained before drift summaries were saved, or outside this recipe); retrain it to compare"
            check = AssetCheckResult(asset_key=asset, check_name=DRIFT_CHECK, passed=False, severity=AssetCheckSeverity.WARN,
                                     description=why, metadata={"reason": why})
            return {"drift verdict": MetadataValue.md(f"**not compared**: {why}")}, check
        results = self.accumulator.results()
        return self._card(results), self._check(asset, results)

    def _status(self, result: drift.ColumnDrift) -> str:
        score = result.score(self.config.metric)
        return "FAIL" if score >= self.config.fail else "WARN" if score >= self.config.warn else "ok"

    def _check(self, asset: AssetKey, results: list[drift.ColumnDrift]) -> AssetCheckResult:
        metric = self.config.metric
        rows = results[0].rows if results else 0
        failing = [r for r in results if self._status(r) == "FAIL"]
        warning = [r for r in results if self._status(r) == "WARN"]
        worst = max(results, key=lambda r: r.score(metric)) if results else None
        named = ", ".join(f"{r.column} ({metric} {r.score(metric):.3g})" for r in (failing or warning))
        if rows == 0:
            description = "nothing was scored (the output was kept as it was)"
        elif failing:
            description = f"drifted at or above fail ({self.config.fail}): {named}"
        elif warning:
            description = f"drifted at or above warn ({self.config.warn}): {named}"
        else:
            description = f"no column reaches warn ({self.config.warn}); most drifted: {worst.column} ({metric} {worst.score(metric):.3g})" if worst else "no columns compared"
        metadata: dict[str, Any] = {
            "metric": metric,
            "warn": self.config.warn,
            "fail": self.config.fail,
            "rows": rows,
            "drifted columns": ", ".join(r.column for r in failing + warning) or "none",
            "columns": self._table(results),
        }
        if worst is not None:
            metadata["most drifted column"] = worst.column
            metadata["most drifted score"] = worst.score(metric)
        return AssetCheckResult(
            asset_key=asset,
            check_name=DRIFT_CHECK,
            passed=rows == 0 or not (failing or warning),
            severity=AssetCheckSeverity.ERROR if failing else AssetCheckSeverity.WARN,
            description=description,
            metadata=metadata,
        )

    def _table(self, results: list[drift.ColumnDrift]):
        return cards.table(
            ("column", "status", "kind", "PSI", "KS", "KS p-value", "unseen rows"),
            [(r.column, self._status(r), r.kind, r.psi, r.ks, r.ks_pvalue, r.unseen if r.kind == "categorical" else None) for r in results],
        )

    def _card(self, results: list[drift.ColumnDrift]) -> dict[str, Any]:
        metric = self.config.metric
        ranked = sorted(results, key=lambda r: -r.score(metric))
        for result in ranked[:PLOTTED_COLUMNS]:
            cards.add_plot(monitoring_plots.drift_histogram, result.column, result.bins, result.reference_shares, result.scoring_shares,
                           f"{metric} {result.score(metric):.3g}")
        counts = {status: sum(self._status(r) == status for r in results) for status in ("FAIL", "WARN", "ok")}
        verdict = (f"{counts['FAIL']} column(s) at or above fail ({self.config.fail}), {counts['WARN']} at or above warn "
                   f"({self.config.warn}), {counts['ok']} below, by {metric}; training vs scoring, most drifted first")
        return {"drift verdict": MetadataValue.md(verdict), "drift by column": self._table(ranked)}
