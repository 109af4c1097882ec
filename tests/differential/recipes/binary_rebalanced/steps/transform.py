from sklearn.preprocessing import StandardScaler


def transformer_fn():
    return StandardScaler().set_output(transform="pandas")
