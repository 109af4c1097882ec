"""The feature transformer, fitted on the training split only."""
from sklearn.compose import ColumnTransformer
from sklearn.preprocessing import OneHotEncoder, StandardScaler

MEASUREMENTS = [
    "fixed_acidity",
    "volatile_acidity",
    "citric_acid",
    "residual_sugar",
    "chlorides",
    "free_sulfur_dioxide",
    "total_sulfur_dioxide",
    "density",
    "pH",
    "sulphates",
    "alcohol",
]


def transformer_fn():
    """Return an unfitted transformer: scaled measurements plus a one-hot wine type."""
    return ColumnTransformer(
        transformers=[
            ("type", OneHotEncoder(handle_unknown="ignore", sparse_output=False), ["wine_type"]),
            ("scaled", StandardScaler(), MEASUREMENTS),
        ]
    )
