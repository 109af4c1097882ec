"""The recipe's own steps: functions that `custom_steps:` in recipe.yaml makes assets of the recipe, each with a
card of what it returns (a DataFrame, a matplotlib Figure, numbers as metrics, or a dict of those)."""
import pandas as pd


def per_feature_report(test_data: pd.DataFrame, model, run) -> dict:
    """Where the model errs: its mean absolute error on the test set for the trips above and below each numeric
    feature's median, beside the test RMSE evaluate logged to the model's MLflow run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    features = test_data.drop(columns=["fare_amount"])
    error = (pd.Series(model.predict(features), index=test_data.index) - test_data["fare_amount"]).abs()
    rows = []
    for column in features.select_dtypes("number").columns:
        above = features[column] > features[column].median()
        rows.append({"feature": column, "MAE above median": error[above].mean(), "MAE at or below median": error[~above].mean()})
    report = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(6, 3))
    report.set_index("feature").plot.barh(ax=axes)
    axes.set_xlabel("mean absolute error (test)")
    plt.close(figure)
    test_rmse = run.data.metrics["test_root_mean_squared_error"]
    return {"per feature": report, "MAE by feature": figure, "mean_absolute_error": float(error.mean()), "mae_over_rmse": float(error.mean() / test_rmse)}


def add_features(features: pd.DataFrame) -> pd.DataFrame:
    """A `before: train` step: the transformed features plus their mean and spread across each row. It becomes part
    of the model, so it must work row by row and read nothing but its argument."""
    return features.assign(row_mean=features.mean(axis=1), row_spread=features.std(axis=1))
