from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder


def transformer_fn():
    return ColumnTransformer(
        [("district", OneHotEncoder(), ["district"])],
        remainder="passthrough",
        sparse_threshold=1.0,
    )
