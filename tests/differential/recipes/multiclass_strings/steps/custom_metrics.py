def misclassified_share(eval_df, builtin_metrics):
    return float((eval_df["prediction"] != eval_df["target"]).mean())


def correct_count(eval_df, builtin_metrics):
    return float((eval_df["prediction"] == eval_df["target"]).sum())
