"""Research: vectorbt backtests, reference engine, reports and MLflow run logging."""

import os

from drydock.settings import get_settings

# vectorbt compiles with numba on first use; keep the cache under data/ so runs reuse it.
os.environ.setdefault("NUMBA_CACHE_DIR", str(get_settings().numba_cache_dir))
