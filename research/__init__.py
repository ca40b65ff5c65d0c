"""Research: vectorbt backtests, reference engine, reports and MLflow run logging."""
