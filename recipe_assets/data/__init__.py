"""Data access: tables (SQL over files and Delta), remote files, stored outputs and the Parquet IO manager,
the MLflow tracking resource, data checks and the templates' sample data."""
