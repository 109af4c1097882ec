"""transform: fit the user's transformer on the training data only.

Outputs `transformer` (fitted), `transformed_training_data` and `transformed_validation_data`
(features after the transformer, plus the target column).
"""

from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetExecutionContext, AssetIn, AssetOut, DataVersion, MetadataValue, Output, multi_asset

from recipe_assets import cards
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import UserCodeError
from recipe_assets.core.keys import MODEL_DEVELOPMENT, asset_key, io_manager_key, step_code_version
from recipe_assets.core.user_code import check_function_defined, load_function
from recipe_assets.core.versioning import bytes_version, dataframe_version

if TYPE_CHECKING:
    import pandas as pd

    from recipe_assets.engine.config import LoadedConfig


class TransformConfig(ConfigModel):
    using: Literal["custom"] = "custom"
    transformer_method: str | None = None


def make_transformer(root, config: TransformConfig) -> Any:
    """The user's unfitted transformer, or the identity when there is none."""
    from sklearn.preprocessing import FunctionTransformer

    transformer = None
    if config.transformer_method:
        transformer = load_function(root, "transform", config.transformer_method)()
    if transformer is None:  # MLflow Recipes' identity: a one-step Pipeline
        from sklearn.pipeline import Pipeline

        return Pipeline([("identity", FunctionTransformer(feature_names_out="one-to-one"))])
    if not (hasattr(transformer, "fit") and hasattr(transformer, "transform")):
        raise UserCodeError(
            f"steps/transform.py:{config.transformer_method} returned {type(transformer).__name__}; "
            "expected an unfitted scikit-learn transformer (with fit and transform) or None"
        )
    return transformer


def feature_names(transformer: Any, width: int, input_columns: Any = None) -> list[str]:
    """The transformer's own output names (asked with the input columns, as MLflow Recipes asked), else
    MLflow Recipes' generated names `f_0`.. zero-padded to the width of the count (`f_00`..`f_11`)."""
    for candidate in (transformer, getattr(transformer, "steps", [[None, None]])[-1][1]):
        try:
            names = [str(n) for n in candidate.get_feature_names_out(input_columns)]
        except Exception:  # transformers without feature names (e.g. plain FunctionTransformer)
            continue
        if len(names) == width:
            return names
    digits = len(str(width))
    return [f"f_{str(i).zfill(digits)}" for i in range(width)]


def apply_transformer(transformer: Any, features: "pd.DataFrame") -> "pd.DataFrame":
    """The transformed features as a DataFrame. `features` goes to user code and is not used after."""
    import numpy as np
    import pandas as pd

    input_columns = np.asarray(features.columns, dtype=object)  # read before the transformer may change them
    transformed = transformer.transform(features)
    if isinstance(transformed, pd.DataFrame):
        return transformed.reset_index(drop=True)
    if hasattr(transformed, "toarray"):
        transformed = transformed.toarray()
    transformed = np.asarray(transformed)
    if transformed.ndim == 1:
        transformed = transformed.reshape(-1, 1)
    return pd.DataFrame(transformed, columns=feature_names(transformer, transformed.shape[1], input_columns))


def features_of(frame: "pd.DataFrame", target_col: str) -> "pd.DataFrame":
    """A new frame of the feature columns, for one call into user code (pandas' drop copies the data)."""
    return frame.drop(columns=[target_col])


def with_target(features: "pd.DataFrame", target: "pd.Series") -> "pd.DataFrame":
    if len(features) != len(target):
        raise UserCodeError(
            f"steps/transform.py: the transformer returned {len(features)} rows for {len(target)} input rows; "
            "it must return one row per input row (drop rows in the split's filter instead)"
        )
    out = features.copy()
    out[target.name] = target.reset_index(drop=True).to_numpy()
    return out


def structure(model: Any):
    """The steps of a (possibly nested) scikit-learn model as a table: where, what, with which settings,
    on which columns. Easier to read than a repr, which Dagster would also fold away."""
    return cards.table(("step", "class", "settings", "columns"), _structure_rows(model, "", None))


def _structure_rows(model: Any, path: str, columns: Any):
    from sklearn.compose import ColumnTransformer
    from sklearn.pipeline import Pipeline

    if isinstance(model, Pipeline):
        for name, step in model.steps:
            yield from _structure_rows(step, f"{path} › {name}" if path else name, columns)
    elif isinstance(model, ColumnTransformer):
        for name, transformer, selected in getattr(model, "transformers_", model.transformers):
            where = f"{path} › {name}" if path else name
            if isinstance(transformer, str):  # "drop" or "passthrough"
                yield (where, transformer, "", _columns_text(selected))
            else:
                yield from _structure_rows(transformer, where, selected)
    else:
        yield (path or type(model).__name__, type(model).__name__, _settings(model), _columns_text(columns))


def _settings(model: Any) -> str:
    function = getattr(model, "func", None)
    if callable(function):
        return f"func={getattr(function, '__module__', '')}.{getattr(function, '__name__', function)}"
    text = repr(model)
    settings = text[text.find("(") + 1 : -1] if "(" in text else ""
    return " ".join(settings.split())[:300]


def _columns_text(columns: Any) -> str:
    if columns is None:
        return ""
    return ", ".join(map(str, columns)) if isinstance(columns, (list, tuple)) else str(columns)


def build(loaded: "LoadedConfig") -> list:
    config = loaded.config.steps.transform
    root = loaded.root
    target_col = loaded.config.target_col
    if config.transformer_method:
        check_function_defined(root, "transform", config.transformer_method, "steps.transform.transformer_method")
    version = step_code_version(
        __file__, [config.slice_for_version(), target_col], root, ["transform"] if config.transformer_method else []
    )
    names = ("transformer", "transformed_training_data", "transformed_validation_data")
    outs = {n: AssetOut(key=asset_key(loaded.name, n), code_version=version, io_manager_key=io_manager_key(loaded.name)) for n in names}

    @multi_asset(
        name=f"{loaded.name}__transform",
        outs=outs,
        ins={
            "training_data": AssetIn(key=asset_key(loaded.name, "training_data")),
            "validation_data": AssetIn(key=asset_key(loaded.name, "validation_data")),
        },
        group_name=MODEL_DEVELOPMENT,
        description="Fits the recipe's transformer on the training data and applies it to training and validation data.",
    )
    @cards.card_step(loaded, "transform")
    def _transform(context: AssetExecutionContext, training_data, validation_data):
        import cloudpickle

        transformer = make_transformer(root, config)
        # read before any user code runs: the transformer may change the frames it is given
        input_schema = cards.table(("column", "type"), [(c, str(t)) for c, t in training_data.dtypes.items() if c != target_col])
        # each call gets its own features frame (drop copies), as MLflow Recipes did: a transformer that
        # changes its input in place (MLflow's own example drops columns) must not see its own changes
        try:
            transformer.fit(features_of(training_data, target_col), training_data[target_col])
        except Exception as exc:
            raise UserCodeError(f"steps/transform.py:{config.transformer_method}: fitting the transformer failed: {exc}") from exc
        transformed_train = with_target(apply_transformer(transformer, features_of(training_data, target_col)), training_data[target_col])
        transformed_val = with_target(apply_transformer(transformer, features_of(validation_data, target_col)), validation_data[target_col])
        structure_md = structure(transformer)
        cards.add_plot(cards.plots.distributions, {"transformed training": transformed_train}, "transformed training data")
        yield Output(
            transformer,
            output_name="transformer",
            data_version=DataVersion(bytes_version(cloudpickle.dumps(transformer))),
            metadata={"transformer structure": structure_md, "input schema": input_schema, "output columns": len(transformed_train.columns) - 1},
        )
        for name, frame in (("transformed_training_data", transformed_train), ("transformed_validation_data", transformed_val)):
            yield Output(frame, output_name=name, data_version=DataVersion(dataframe_version(frame)), metadata=cards.frame_card(frame))

    return [_transform]
