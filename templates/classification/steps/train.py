"""The estimator the recipe trains."""


def estimator_fn(estimator_params=None):
    """Return an unfitted scikit-learn classifier."""
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=1000, **(estimator_params or {}))
