"""predict: batch scoring. Streams the scoring data in record batches through the registered model
and writes the scoring data plus predictions, so memory stays bounded on data larger than RAM and
no Spark is needed (MLflow Recipes scored through a PySpark UDF)."""
import hashlib
import os
import tempfile
import time
import uuid
from pathlib import Path
from collections.abc import Iterator
from typing import TYPE_CHECKING, Any, Literal

from dagster import AssetExecutionContext, AssetIn, DataVersion, MetadataValue, Output, asset
from pydantic import Field, field_validator, model_validator

from recipe_assets import cards
from recipe_assets.core.configmodel import ConfigModel
from recipe_assets.core.errors import RecipeDataError
from recipe_assets.core.keys import BATCH_SCORING, asset_key, io_manager_key, mlflow_key, mlflow_of, step_code_version

if TYPE_CHECKING:
    import pandas as pd
    import pyarrow as pa

    from recipe_assets.engine.config import LoadedConfig

RESULT_TYPES = {
    "double": "float64",
    "float": "float32",
    "int": "int32",
    "integer": "int32",
    "long": "int64",
    "string": "str",
    "boolean": "bool",
    "bool": "bool",
}
SAVE_MODES = ("overwrite", "append", "error", "errorifexists", "ignore", "default")


class PredictOutput(ConfigModel):
    using: Literal["parquet", "delta", "table"] = "parquet"
    location: str

    @model_validator(mode="after")
    def _on_this_machine(self) -> "PredictOutput":
        from recipe_assets.data import remote
        from recipe_assets.data import tables

        if self.using == "table" and not tables.TABLE_NAME.match(self.location):
            raise ValueError(f"using: 'table' takes a table name (`table` or `database.table`) as location; got {self.location!r}")
        if remote.is_remote(self.location):
            raise ValueError(f"predictions are written on this machine; {self.location!r} is a URL (write locally, then copy it)")
        return self


class PredictConfig(ConfigModel):
    output: PredictOutput
    model_uri: str | None = None
    result_type: str = "double"
    save_mode: str = "overwrite"
    batch_rows: int = Field(default=65536, ge=1)  # (ours) rows per record batch while streaming

    @field_validator("result_type")
    @classmethod
    def _known_result_type(cls, value: str) -> str:
        if value.lower() not in RESULT_TYPES:
            raise ValueError(f"unknown result_type {value!r}; expected one of {', '.join(RESULT_TYPES)}")
        return value.lower()

    @field_validator("save_mode")
    @classmethod
    def _known_save_mode(cls, value: str) -> str:
        if value.lower() not in SAVE_MODES:
            raise ValueError(f"unknown save_mode {value!r}; expected one of {', '.join(SAVE_MODES)}")
        return "overwrite" if value.lower() == "default" else value.lower()


def output_location(loaded: "LoadedConfig", config: PredictConfig) -> Path:
    if config.output.using == "table":  # a table name: a Delta table where Spark's saveAsTable would have put it
        from recipe_assets.data.tables import output_table_path

        return output_table_path(loaded.root, loaded.config.tables, config.output.location)
    path = Path(config.output.location).expanduser()
    return path if path.is_absolute() else loaded.root / path


def add_predictions(model: Any, batch: "pd.DataFrame", loaded: "LoadedConfig", result_type: str) -> "pd.DataFrame":
    """The batch plus its predictions: `prediction` for regression; label and class scores for classification."""
    from recipe_assets.steps import train

    config = loaded.config
    out = batch.copy()  # what is written: the scoring data as read; `batch` itself goes to the model's user code
    if config.task == "classification" and hasattr(train, "score_frame"):
        scores = train.score_frame(model, batch, config.steps.train, config.task, getattr(model, "classes_", None))
    else:
        scores = None
    if scores is None:
        out["prediction"] = _cast(model.predict(batch), result_type)
    else:
        for name in scores.columns:
            out[name] = scores[name].to_numpy()
    return out


def _cast(values: Any, result_type: str) -> Any:
    import numpy as np

    target = RESULT_TYPES[result_type]
    return np.asarray(values).astype(str if target == "str" else target)


def required_columns(model: Any) -> list[str]:
    names = getattr(model, "feature_names_in_", None)
    return [str(n) for n in names] if names is not None else []


def record_batches(files: list[str], file_format: str, batch_rows: int) -> Iterator["pa.RecordBatch"]:
    """The scoring data, one record batch at a time, file after file.

    ParquetFile without pre-buffering reads one row group at a time: memory stays flat with the data's
    size (measured: peak RSS 183 MB at 1M rows, 211 MB at 10M), where a dataset scanner's read-ahead grew
    to 745 MB at 10M rows."""
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    for path in files:
        if file_format == "parquet":
            yield from pq.ParquetFile(path, pre_buffer=False).iter_batches(batch_size=batch_rows)
        else:
            for block in pacsv.open_csv(path):  # blocks of about 1 MB of text, whatever batch_rows says
                yield from _slices(block, batch_rows)


def _slices(batch: "pa.RecordBatch", rows: int) -> Iterator["pa.RecordBatch"]:
    for start in range(0, batch.num_rows, rows):
        yield batch.slice(start, rows)


def scoring_columns(files: list[str], file_format: str) -> list[str]:
    import pyarrow.csv as pacsv
    import pyarrow.parquet as pq

    if file_format == "parquet":
        return pq.ParquetFile(files[0]).schema_arrow.names
    return pacsv.open_csv(files[0]).schema.names


def stream_predictions(model, files: list[str], file_format: str, target: Path, loaded, config: PredictConfig) -> dict[str, Any]:
    """Read record batches, score each, write each: one batch in memory at a time."""
    import pyarrow as pa
    import pyarrow.parquet as pq

    columns = scoring_columns(files, file_format)
    missing = [c for c in required_columns(model) if c not in columns]
    if missing:
        raise RecipeDataError(
            f"steps.ingest_scoring: the scoring data lacks column {', '.join(map(repr, missing))} the model needs; "
            f"it has {', '.join(columns)}"
        )
    digest = hashlib.sha256()
    rows = batches = 0
    summary = _PredictionSummary()
    writer = None
    try:
        for record_batch in record_batches(files, file_format, config.batch_rows):
            if record_batch.num_rows == 0:
                continue
            frame = record_batch.to_pandas()
            try:
                scored = add_predictions(model, frame, loaded, config.result_type)
            except (ValueError, TypeError, KeyError) as exc:
                raise scoring_failed(exc, frame, files) from exc
            table = pa.Table.from_pandas(scored, preserve_index=False)
            if writer is None:
                writer = pq.ParquetWriter(str(target), table.schema)
            writer.write_table(table)
            digest.update(_hash_batch(scored))
            summary.add(scored["prediction"])
            rows += record_batch.num_rows
            batches += 1
    finally:
        if writer is not None:
            writer.close()
    if writer is None:
        raise RecipeDataError("steps.ingest_scoring: the scoring data has no rows")
    return {"rows": rows, "batches": batches, "digest": digest.hexdigest()[:16], "summary": summary.table()}


def scoring_failed(exc: Exception, frame: "pd.DataFrame", files: list[str]) -> RecipeDataError:
    """Name the scoring column the model could not take: the one holding the value the error quotes,
    else the columns whose values are text."""
    import re

    quoted = set(re.findall(r"'([^']*)'", str(exc)))
    text_columns = [str(c) for c in frame.columns if frame[c].dtype == object]
    named = [c for c in text_columns if quoted & set(frame[c].dropna().astype(str).head(10000))] or text_columns
    columns = f"column {', '.join(map(repr, named))} ({', '.join(str(frame[c].dtype) for c in named)})" if named else "the data"
    where = ", ".join(str(f) for f in files[:3])
    return RecipeDataError(
        f"steps.ingest_scoring: the model cannot score {columns} of {where}: {type(exc).__name__}: {exc}; "
        "the scoring data must have the columns and types the model was trained on"
    )


def _hash_batch(frame: "pd.DataFrame") -> bytes:
    import pandas as pd

    return pd.util.hash_pandas_object(frame, index=False).to_numpy().tobytes()


class _PredictionSummary:
    """Counts for labels, running min/mean/max for numbers, without keeping the predictions."""

    def __init__(self):
        self.count = 0
        self.total = 0.0
        self.low = float("inf")
        self.high = float("-inf")
        self.labels: dict[str, int] = {}

    def add(self, predictions: "pd.Series") -> None:
        import pandas as pd

        if pd.api.types.is_numeric_dtype(predictions) and not pd.api.types.is_bool_dtype(predictions):
            self.count += len(predictions)
            self.total += float(predictions.sum())
            self.low = min(self.low, float(predictions.min()))
            self.high = max(self.high, float(predictions.max()))
        else:
            for label, count in predictions.astype(str).value_counts().items():
                self.labels[label] = self.labels.get(label, 0) + int(count)

    def table(self):
        if self.labels:
            return cards.table(("predicted label", "rows"), sorted(self.labels.items()))
        mean = self.total / self.count if self.count else float("nan")
        return cards.table(("min", "mean", "max"), [(self.low, mean, self.high)])


def write_output(loaded: "LoadedConfig", config: PredictConfig, produce) -> tuple[Path, dict[str, Any]]:
    """Write through a temporary file next to the output, then rename: a failed run keeps the old output."""
    location = output_location(loaded, config)
    if config.output.using in ("delta", "table"):
        return location, _write_delta(location, config, produce)
    mode = config.save_mode
    if location.exists() and mode in ("error", "errorifexists"):
        raise RecipeDataError(f"steps.predict.output.location: {location} exists and save_mode is {mode!r}")
    if location.exists() and mode == "ignore":
        return location, _kept_output_stats(location)
    if mode == "append":
        if location.exists() and not location.is_dir():
            raise RecipeDataError(f"steps.predict.output.location: save_mode 'append' needs a directory; {location} is a file")
        final = location / f"part-{time.strftime('%Y%m%dT%H%M%S')}-{uuid.uuid4().hex[:12]}.parquet"
    else:
        final = location
    return final, _write_through_temp_file(final, produce)


def _write_through_temp_file(final: Path, produce) -> dict[str, Any]:
    from recipe_assets.data.io_manager import is_write_failure, not_writable, publish, temp_file_beside

    temp_name = temp_file_beside(final)
    try:
        stats = produce(Path(temp_name))
        publish(temp_name, final)
    except OSError as exc:
        if is_write_failure(exc):
            raise not_writable(final, exc) from None
        raise
    finally:
        Path(temp_name).unlink(missing_ok=True)
    return stats


def _kept_output_stats(location: Path) -> dict[str, Any]:
    """save_mode 'ignore' with an output already there: nothing is scored or written, as Spark's mode did."""
    import pyarrow.dataset as ds

    from recipe_assets.core.versioning import files_fingerprint

    files = sorted(location.rglob("*.parquet")) if location.is_dir() else [location]
    rows = ds.dataset([str(f) for f in files], format="parquet").count_rows() if files else 0
    note = cards.table(("kept", "why"), [(str(location), "it exists and save_mode is 'ignore'")])
    return {"rows": rows, "batches": 0, "digest": files_fingerprint(files, location.parent)[:16], "summary": note}


def _write_delta(location: Path, config: PredictConfig, produce) -> dict[str, Any]:
    import pyarrow as pa
    import pyarrow.parquet as pq
    from deltalake import write_deltalake

    location.parent.mkdir(parents=True, exist_ok=True)
    with tempfile.TemporaryDirectory(dir=location.parent) as scratch:
        staged = Path(scratch) / "scored.parquet"
        stats = produce(staged)
        mode = {"errorifexists": "error"}.get(config.save_mode, config.save_mode)
        parquet = pq.ParquetFile(staged, pre_buffer=False)
        # a Delta commit is atomic: a failed write leaves the table at its previous version
        write_deltalake(str(location), pa.RecordBatchReader.from_batches(parquet.schema_arrow, parquet.iter_batches()), mode=mode)
    return stats


def model_uri_for(config: PredictConfig, registered: dict[str, Any] | None) -> str:
    if config.model_uri:
        return config.model_uri
    return registered["model_uri"]


def build(loaded: "LoadedConfig") -> list:
    recipe = loaded.config
    config = recipe.steps.predict
    if config is None or recipe.steps.ingest_scoring is None:
        return []
    version = step_code_version(__file__, [config.slice_for_version(), recipe.task, recipe.steps.train.slice_for_version()], loaded.root, [])
    ins = {"ingested_scoring_data": AssetIn(key=asset_key(loaded.name, "ingested_scoring_data"))}
    if not config.model_uri:
        ins["registered_model_version"] = AssetIn(key=asset_key(loaded.name, "registered_model_version"))

    def score(context: AssetExecutionContext, ingested_scoring_data: dict, registered: dict | None) -> Output:
        model_uri = model_uri_for(config, registered)
        model = mlflow_of(context, loaded.name).load_model(model_uri)
        started = time.perf_counter()
        location, stats = write_output(
            loaded,
            config,
            lambda target: stream_predictions(
                model, ingested_scoring_data["files"], ingested_scoring_data["format"], target, loaded, config
            ),
        )
        elapsed = time.perf_counter() - started
        value = {"location": str(location), "rows": stats["rows"], "model_uri": model_uri, "format": config.output.using}
        metadata = {
            "dagster/row_count": MetadataValue.int(stats["rows"]),
            "output": MetadataValue.path(str(location)),
            "model uri": MetadataValue.text(model_uri),
            "record batches": stats["batches"],
            "rows per second": round(stats["rows"] / elapsed) if elapsed > 0 else stats["rows"],
            "predictions": stats["summary"],
        }
        return Output(value, data_version=DataVersion(stats["digest"] + model_uri), metadata=metadata)

    spec = dict(
        key=asset_key(loaded.name, "scored_data"),
        ins=ins,
        group_name=BATCH_SCORING,
        code_version=version,
        required_resource_keys={mlflow_key(loaded.name)},
        io_manager_key=io_manager_key(loaded.name),
        kinds={"pyarrow", "mlflow"},
        description=f"The scoring data plus predictions, written to `{config.output.location}` ({config.output.using}).",
    )
    if config.model_uri:

        @asset(**spec)
        @cards.card_step(loaded, "predict")
        def _predict_with_model_uri(context: AssetExecutionContext, ingested_scoring_data) -> Output:
            return score(context, ingested_scoring_data, None)

        return [_predict_with_model_uri]

    @asset(**spec)
    @cards.card_step(loaded, "predict")
    def _predict(context: AssetExecutionContext, ingested_scoring_data, registered_model_version) -> Output:
        return score(context, ingested_scoring_data, registered_model_version)

    return [_predict]
