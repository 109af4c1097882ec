"""ingest: the raw files `steps.ingest` names -> `ingested_data` (and the observable source of those files)."""
