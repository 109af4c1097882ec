"""transform: fit the user's transformer on the training data only -> `transformer` (fitted),
`transformed_training_data` and `transformed_validation_data` (features after the transformer, plus the target)."""
