"""The floor for batch scoring: a registered model over a parquet file, one record batch at a time, by hand.

    python bench/plain_scoring.py SOURCE TARGET --tracking-uri URI --model-uri models:/NAME/VERSION
"""
from __future__ import annotations

import argparse
import json
import time
from pathlib import Path


def score_file(source: Path, target: Path, tracking_uri: str, model_uri: str, batch_rows: int = 65536) -> dict:
    started = time.perf_counter()
    import mlflow
    import pyarrow as pa
    import pyarrow.parquet as pq

    mlflow.set_tracking_uri(tracking_uri)
    model = mlflow.sklearn.load_model(model_uri)
    loaded = time.perf_counter()
    rows = 0
    writer = None
    try:
        # pre_buffer (on by default) keeps every column chunk read so far: memory grows with the file
        for batch in pq.ParquetFile(source, pre_buffer=False).iter_batches(batch_size=batch_rows):
            predictions = pa.array(model.predict(batch.to_pandas()), type=pa.float64())
            scored = pa.Table.from_batches([batch]).append_column("prediction", predictions)
            if writer is None:
                writer = pq.ParquetWriter(target, scored.schema)
            writer.write_table(scored)
            rows += batch.num_rows
    finally:
        if writer is not None:
            writer.close()
    done = time.perf_counter()
    return {"rows": rows, "seconds": {"import and load model": loaded - started, "score and write": done - loaded}}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("source", type=Path)
    parser.add_argument("target", type=Path)
    parser.add_argument("--tracking-uri", required=True)
    parser.add_argument("--model-uri", required=True)
    parser.add_argument("--batch-rows", type=int, default=65536)
    args = parser.parse_args()
    print(json.dumps(score_file(args.source, args.target, args.tracking_uri, args.model_uri, args.batch_rows)))


if __name__ == "__main__":
    main()
