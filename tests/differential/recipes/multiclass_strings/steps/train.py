def estimator_fn(estimator_params=None):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(**(estimator_params or {}))
