def estimator_fn(estimator_params=None):
    from sklearn.linear_model import LogisticRegression

    return LogisticRegression(max_iter=300, **(estimator_params or {}))
