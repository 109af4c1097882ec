def within_ten_percent(eval_df, builtin_metrics):
    error = (eval_df["prediction"] - eval_df["target"]).abs()
    return float((error <= 0.1 * eval_df["target"].abs()).mean())


def worst_overshoot(eval_df, builtin_metrics):
    return float((eval_df["prediction"] - eval_df["target"]).max())
