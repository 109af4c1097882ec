"""transform's card tabs, as MLflow Recipes' card had them."""

LAYOUT = (
    ("Data Profile (Train Transformed)", (r"profile", r"plot: transformed training data", r"row_count$")),
    ("Transformer", (r"transformer structure",)),
    ("Input Schema", (r"input schema",)),
    ("Output Schema", (r"column_schema$", r"output columns")),
    ("Data Preview", (r"preview$",)),
)
