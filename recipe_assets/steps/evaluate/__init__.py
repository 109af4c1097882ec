"""evaluate: score the model on validation and test data; `validation_criteria` become asset checks on `run`,
the MLflow run that holds the model and its metrics (logged with the `val_` and `test_` prefixes MLflow Recipes used)."""
