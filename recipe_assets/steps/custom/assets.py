"""The assets of a recipe's custom steps (config.py has the contract).

A downstream step is one asset named after it; a `before: train` step is a multi-asset with two outputs,
`<name>` (the training data the estimator is fitted on) and `<name>_transformer` (the recipe's
transformer followed by the function, what the logged model applies), which train then reads in place
of `transformed_training_data` and `transformer`.
"""

from typing import TYPE_CHECKING, Any

from dagster import AssetExecutionContext, AssetIn, AssetOut, DataVersion, MetadataValue, Output, asset, multi_asset

from recipe_assets import cards
from recipe_assets.core.code_ledger import step_code_version
from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, mlflow_key, mlflow_of
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.core.versioning import bytes_version, dataframe_version, step_files
from recipe_assets.data.artifact_values import is_dataframe, read_tables, stored_files
from recipe_assets.steps.custom.card import LAYOUT, sort_returned
from recipe_assets.steps.custom.config import CustomStepConfig

if TYPE_CHECKING:
    from recipe_assets.core.settings import RecipeSettings

# outputs whose stored value names the model's MLflow run: a step reading one logs its metrics there
RUN_BEARING = ("model", "run", "registered_model_version")


def where(custom: CustomStepConfig) -> str:
    return f"steps/{custom.module}.py:{custom.function}"


def custom_version(recipe: "RecipeSettings", custom: CustomStepConfig, index: int) -> str:
    """From the step's entry in recipe.yaml, its module's source and ours; checked to exist first."""
    check_function_defined(recipe.root, custom.module, custom.function, f"custom_steps[{index}].function")
    return step_code_version(step_files(__file__), [custom.slice_for_version(), recipe.target_col], recipe.root, [custom.module])


def build_downstream(recipe: "RecipeSettings", custom: CustomStepConfig, index: int, group: str) -> list:
    version = custom_version(recipe, custom, index)

    @asset(
        key=asset_key(recipe.name, custom.name),
        ins={name: AssetIn(key=asset_key(recipe.name, name)) for name in custom.inputs},
        group_name=group,
        code_version=version,
        required_resource_keys={mlflow_key(recipe.name)},
        io_manager_key=io_manager_key(recipe.name),
        kinds={"python"},
        description=f"Custom step {custom.name}: {where(custom)}({', '.join(custom.inputs)}).",
    )
    @cards.card_step(recipe, custom.name, LAYOUT)
    def _custom(context: AssetExecutionContext, **stored: Any) -> Output:
        mlflow_resource = mlflow_of(context, recipe.name)
        function = load_function(recipe.root, custom.module, custom.function)
        value = function(**{name: as_user_reads_it(name, stored[name], mlflow_resource) for name in custom.inputs})
        returned = sort_returned(custom.name, where(custom), value)
        metadata = {"function": where(custom), **returned.metadata}
        run_id = next((stored[name]["run_id"] for name in RUN_BEARING if name in stored and isinstance(stored[name], dict)), None)
        if run_id and (returned.metrics or returned.figures):
            log_to_run(mlflow_resource, run_id, custom.name, returned.metrics, returned.figures)
            metadata["mlflow run"] = MetadataValue.text(run_id)
            metadata.update(mlflow_resource.run_link(run_id))
        elif returned.metrics or returned.figures:
            metadata["mlflow"] = "not logged: the step reads none of model, run, registered_model_version"
        return Output(value, data_version=DataVersion(value_version(value, returned)), metadata=metadata)

    return [_custom]


def as_user_reads_it(name: str, stored: Any, mlflow_resource: Any) -> Any:
    """An input as `get_artifact` returns it (the fitted model from the output train stored, which is the
    object MLflow logged, without paying for MLflow's model loading)."""
    if name == "model":
        return stored["pipeline"]
    if name == "run":
        return mlflow_resource.get_run(stored["run_id"])
    if name == "registered_model_version":
        return mlflow_resource.client().get_model_version(stored["name"], stored["version"])
    if not is_dataframe(stored) and stored_files(stored):
        return read_tables(stored_files(stored))
    return stored


def log_to_run(mlflow_resource: Any, run_id: str, step: str, metrics: dict[str, float], figures: dict[str, bytes]) -> None:
    """Metrics as `<step>_<name>` (they never collide with train's and evaluate's `val_`/`test_` ones),
    figures as PNGs under `custom_steps/<step>/`."""
    import tempfile
    from pathlib import Path

    with mlflow_resource.resume_run(run_id):
        import mlflow

        if metrics:
            mlflow.log_metrics({f"{step}_{name}": number for name, number in metrics.items()})
        if figures:
            with tempfile.TemporaryDirectory() as folder:
                for title, png in figures.items():
                    path = Path(folder) / f"{''.join(c if c.isalnum() or c in '-_' else '_' for c in title)}.png"
                    path.write_bytes(png)
                    mlflow.log_artifact(str(path), artifact_path=f"custom_steps/{step}")


def value_version(value: Any, returned: Any) -> str:
    """A DataFrame's content hash; otherwise the hash of what the card shows (metrics, figures), so a
    step returning the same numbers keeps its version."""
    import json

    if is_dataframe(value):
        return dataframe_version(value)
    parts = json.dumps(returned.metrics, sort_keys=True).encode() + b"".join(returned.figures.values())
    if isinstance(value, dict):
        parts += b"".join(dataframe_version(v).encode() for v in value.values() if is_dataframe(v))
    return bytes_version(parts)


def build_before_train(recipe: "RecipeSettings", custom: CustomStepConfig, index: int, previous: "CustomStepConfig | None") -> list:
    """Reads the transformer and transformed training data (or the previous `before: train` step's)."""
    version = custom_version(recipe, custom, index)
    target_col = recipe.target_col
    reads = {
        "transformer": previous.transformer_output if previous else "transformer",
        "transformed_training_data": previous.name if previous else "transformed_training_data",
    }
    outs = {
        name: AssetOut(key=asset_key(recipe.name, name), code_version=version, io_manager_key=io_manager_key(recipe.name))
        for name in (custom.name, custom.transformer_output)
    }

    @multi_asset(
        name=f"{recipe.name}__{custom.name}",
        outs=outs,
        ins={name: AssetIn(key=asset_key(recipe.name, asset_name)) for name, asset_name in reads.items()},
        group_name=MODEL_DEVELOPMENT,
        description=f"Custom step {custom.name} (before train): {where(custom)} on the transformed training features; part of the model.",
    )
    @cards.card_step(recipe, custom.name, LAYOUT)
    def _before_train(context: AssetExecutionContext, transformer, transformed_training_data):
        import cloudpickle

        function = load_function(recipe.root, custom.module, custom.function)
        features = transformed_training_data.drop(columns=[target_col])
        fitted_on = checked_features(function(features.copy()), features, target_col, where(custom))
        frame = fitted_on.assign(**{target_col: transformed_training_data[target_col].to_numpy()})
        extended = with_feature_step(transformer, custom.name, function, list(features.columns), list(fitted_on.columns))
        added = [c for c in fitted_on.columns if c not in features.columns]
        removed = [c for c in features.columns if c not in fitted_on.columns]
        changes = {"function": where(custom), "columns added": ", ".join(map(str, added)) or "none", "columns removed": ", ".join(map(str, removed)) or "none"}
        yield Output(frame, output_name=custom.name, data_version=DataVersion(dataframe_version(frame)), metadata={**changes, **cards.frame_card(frame)})
        yield Output(
            extended,
            output_name=custom.transformer_output,
            data_version=DataVersion(bytes_version(cloudpickle.dumps(extended))),
            metadata={"transformer structure": "the recipe's transformer, then " + where(custom)},
        )

    return [_before_train]


def checked_features(result: Any, features: Any, target_col: str, source: str) -> Any:
    if not is_dataframe(result):
        raise UserCodeError(f"{source} returned {type(result).__name__}; a `before: train` step must return a DataFrame of the features")
    if len(result) != len(features):
        raise UserCodeError(f"{source} returned {len(result)} rows for {len(features)}; it must return one row per input row")
    if target_col in result.columns:
        raise UserCodeError(f"{source} returned the target column {target_col!r}; it gets and returns the features only")
    return result.reset_index(drop=True)


def with_feature_step(transformer: Any, name: str, function: Any, columns_in: list, columns_out: list) -> Any:
    """The transformer followed by the user's function, as one scikit-learn transformer. The function gets a
    DataFrame with the columns it was fitted with whatever the transformer outputs (often an array), and its
    result goes on as an array, as the transformer's does (the estimator is fitted on arrays).

    The adapter is a nested function on purpose: cloudpickle stores it by value with the model, so the
    logged model loads where only scikit-learn and the recipe's steps/ are installed."""
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import FunctionTransformer

    def apply(matrix):
        import numpy as np
        import pandas as pd

        if not isinstance(matrix, pd.DataFrame):
            dense = matrix.toarray() if hasattr(matrix, "toarray") else np.asarray(matrix)
            matrix = pd.DataFrame(dense, columns=columns_in)
        return function(matrix.reset_index(drop=True)).to_numpy()

    def names_out(_transformer, _names_in):
        import numpy as np

        return np.asarray(columns_out, dtype=object)

    step = FunctionTransformer(apply, validate=False, feature_names_out=names_out)
    return Pipeline([("transformer", transformer), (name, step)])
