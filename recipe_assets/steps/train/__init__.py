"""train: the estimator (the recipe's own, tuned, or FLAML's), fitted on the transformed training data, logged with
the transformer as one scikit-learn Pipeline to MLflow (`model`), and scored on the training and validation data."""
