"""Machine-learning building blocks the steps share: metrics, tuning and AutoML."""
