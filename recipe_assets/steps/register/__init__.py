"""register: the evaluated model (`run`) becomes a version in the MLflow model registry (`registered_model_version`),
and an alias moves to it."""
