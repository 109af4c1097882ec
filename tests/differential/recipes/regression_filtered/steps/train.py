def estimator_fn(estimator_params=None):
    from sklearn.linear_model import Ridge

    return Ridge(**(estimator_params or {}))
