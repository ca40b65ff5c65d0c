"""The end-to-end demo: a leaf that orchestrates ingest, backtest, MLflow and paper replay."""
