"""The ways in: the `recipe-assets` CLI, the `Recipe` API, notebook results, the Dagster Component."""
