"""Models: news sentiment today (offline classifier, Claude scorer, scoring and hourly features,
MLflow registry); market regime and portfolio risk models are planned, not built."""
