"""evaluate's fast path: when the only change since the last evaluation is a validation criterion's
threshold, that evaluation's metrics, champion comparison, segment metrics and plots still hold (the same
model scored on the same rows); only the verdicts are judged again. The model is not unpickled, the data not
read, and scikit-learn and matplotlib are not imported: editing a threshold costs what logging a verdict costs.

The last evaluation is reused only when it was made
- from the very materializations of `model`, `validation_data` and `test_data` that are the latest now
  (Dagster's provenance of the last `run` materialization records the storage id of each input it read),
- with the same metrics basis (`metrics_basis`, kept in the `run` value): our evaluate implementation, its
  config less the criteria thresholds, the custom metrics and their code, and every recipe setting the
  metrics or the champion comparison read,
- against the same champion: the caller checks that, as it needs the registry (`champion.same_champion`).
Anything else, or any doubt (an older `run` value, a stored value that is not the one the last
materialization recorded), takes the full evaluation.
"""
from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from dagster import AssetKey

from recipe_assets.cards.session import PLOT_PREFIX
from recipe_assets.core.keys import DATA_VERSION_TAG
from recipe_assets.core.user_code import source_digest
from recipe_assets.core.versioning import bytes_version, code_version
from recipe_assets.data.io_manager import stored_output

if TYPE_CHECKING:
    from dagster import AssetExecutionContext, DagsterInstance

    from recipe_assets.core.settings import RecipeSettings

METRICS_BASIS = "metrics_basis"  # the `run` value's record of what its metrics were computed under


def metrics_basis(implementation: list[Path], config_parts: list[str], root: Path, user_modules: list[str]) -> str:
    """A hash like a code version, of everything an evaluation's metrics depend on besides its inputs' data."""
    digest = source_digest(Path(root), user_modules) if user_modules else ""
    return code_version(implementation, "\n".join(config_parts), digest)


def value_version(value: dict[str, Any]) -> str:
    """The data version of a `run` value (what evaluate records with each materialization)."""
    return bytes_version(json.dumps(value, sort_keys=True, default=str).encode())


@dataclass(frozen=True)
class LastEvaluation:
    value: dict[str, Any]  # the `run` value it stored
    plots: dict[str, Any]  # its card's plots, by metadata label


def last_evaluation(
    context: "AssetExecutionContext", recipe: "RecipeSettings", run_key: AssetKey, input_keys: list[AssetKey], basis: str
) -> LastEvaluation | None:
    """The last evaluation, when its inputs and metrics basis are today's; else None."""
    instance = context.instance
    provenance = context.get_asset_provenance(run_key)
    if provenance is None or not _same_inputs(instance, provenance.input_storage_ids, input_keys):
        return None
    event = instance.get_latest_materialization_event(run_key)
    stored = stored_output(recipe, run_key.path[-1], instance)
    if event is None or event.asset_materialization is None or stored is None:
        return None
    value = stored.read()
    if not isinstance(value, dict) or value.get(METRICS_BASIS) != basis:
        return None
    materialization = event.asset_materialization
    # the stored value is written before its materialization is recorded: after a run killed in between,
    # the two would not belong together
    if materialization.tags.get(DATA_VERSION_TAG) != value_version(value):
        return None
    plots = {label: entry for label, entry in materialization.metadata.items() if label.startswith(PLOT_PREFIX)}
    return LastEvaluation(value, plots)


def _same_inputs(instance: "DagsterInstance", used: Any, input_keys: list[AssetKey]) -> bool:
    for key in input_keys:
        latest = instance.fetch_materializations(key, limit=1).records
        if not latest or used.get(key) is None or used[key] != latest[0].storage_id:
            return False
    return True
