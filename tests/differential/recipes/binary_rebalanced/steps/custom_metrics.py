def hit_share(eval_df, builtin_metrics):
    positives = eval_df["target"] == "yes"
    return float((eval_df["prediction"][positives] == "yes").mean())
