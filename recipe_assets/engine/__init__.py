"""The recipe engine: config loading, graph building from the step registry, the Dagster instance, the
recipe lock, services checks, the runner, staleness and sensors."""
