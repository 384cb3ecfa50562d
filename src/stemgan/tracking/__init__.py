"""MLflow: runs that resume, flattened params, metrics, figures, models."""
