"""Models: news sentiment, market regime and portfolio risk (features, training, MLflow registry)."""
