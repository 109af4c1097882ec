"""The estimator the recipe trains."""


def estimator_fn(estimator_params=None):
    """Return an unfitted scikit-learn regressor."""
    from sklearn.linear_model import SGDRegressor

    return SGDRegressor(random_state=42, **(estimator_params or {}))
