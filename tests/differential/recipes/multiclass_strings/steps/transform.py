from sklearn.compose import ColumnTransformer
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import FunctionTransformer, StandardScaler


def add_ratio_in_place(df):
    """Mutates its input, as the published NYC example's calculate_features does."""
    df["ratio"] = df["a"] / (df["b"].abs() + 1.0)
    df.drop(columns=["b"], inplace=True)
    return df


def transformer_fn():
    return Pipeline(
        steps=[
            ("ratio", FunctionTransformer(add_ratio_in_place)),
            ("scale", ColumnTransformer([("std", StandardScaler(), ["a", "c", "ratio"])])),
        ]
    )
