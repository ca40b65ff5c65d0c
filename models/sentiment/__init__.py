"""News sentiment: an offline classifier trained on labelled headlines (MLflow model ``sentiment``)
and a Claude scorer that falls back to it."""
