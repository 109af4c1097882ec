def estimator_fn(estimator_params=None):
    from sklearn.tree import DecisionTreeClassifier

    return DecisionTreeClassifier(random_state=0, **(estimator_params or {}))
