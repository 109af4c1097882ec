"""predict: `ingested_scoring_data` scored by the registered model (or `steps.predict.model_uri`) -> `scored_data`,
streamed in record batches."""
