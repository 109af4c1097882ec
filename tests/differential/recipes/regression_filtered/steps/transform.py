from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler


def transformer_fn():
    return ColumnTransformer(
        [
            ("district", OneHotEncoder(sparse_output=False, handle_unknown="ignore"), ["district"]),
            ("numbers", StandardScaler(), ["area", "rooms", "age"]),
        ]
    )
