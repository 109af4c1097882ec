"""The recipe's own steps: functions that `custom_steps:` in recipe.yaml makes assets of the recipe, each with a
card of what it returns (a DataFrame, a matplotlib Figure, numbers as metrics, or a dict of those)."""
import pandas as pd


def per_feature_report(test_data: pd.DataFrame, model, run) -> dict:
    """Where the model errs: its error rate on the test set for the wines above and below each numeric
    feature's median, beside the test F1 score evaluate logged to the model's MLflow run."""
    import matplotlib

    matplotlib.use("Agg")
    import matplotlib.pyplot as plt

    features = test_data.drop(columns=["quality"])
    wrong = pd.Series(model.predict(features) != test_data["quality"].to_numpy(), index=test_data.index)
    rows = []
    for column in features.select_dtypes("number").columns:
        above = features[column] > features[column].median()
        rows.append({"feature": column, "error rate above median": wrong[above].mean(), "error rate at or below median": wrong[~above].mean()})
    report = pd.DataFrame(rows)
    figure, axes = plt.subplots(figsize=(6, 4))
    report.set_index("feature").plot.barh(ax=axes)
    axes.set_xlabel("error rate (test)")
    plt.close(figure)
    return {"per feature": report, "error rate by feature": figure, "error_rate": float(wrong.mean()), "test_f1_score": run.data.metrics["test_f1_score"]}


def add_features(features: pd.DataFrame) -> pd.DataFrame:
    """A `before: train` step: the transformed features plus their mean and spread across each row. It becomes part
    of the model, so it must work row by row and read nothing but its argument."""
    return features.assign(row_mean=features.mean(axis=1), row_spread=features.std(axis=1))
