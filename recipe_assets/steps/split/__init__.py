"""split: `ingested_data` -> `training_data`, `validation_data`, `test_data`, row by row where MLflow Recipes put them."""
