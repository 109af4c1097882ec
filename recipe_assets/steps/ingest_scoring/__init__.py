"""ingest_scoring: the scoring files `steps.ingest_scoring` names -> `ingested_scoring_data`, files predict
streams in record batches (the data is never loaded whole)."""
