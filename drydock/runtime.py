"""Process-level preparation done explicitly, right before the code that needs it."""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["prepare_numba"]


def prepare_numba(cache_dir: Path | None = None) -> Path:
    """Point numba's on-disk cache (vectorbt's compiled kernels) at a reusable folder.

    Must run before numba is first imported (numba reads ``NUMBA_CACHE_DIR`` once, at import).
    An explicit ``NUMBA_CACHE_DIR`` in the environment wins; otherwise ``cache_dir`` or the
    settings' ``numba_cache_dir`` (``$DRYDOCK_HOME/numba_cache``). Returns the folder in use.
    """
    if "NUMBA_CACHE_DIR" not in os.environ:
        if cache_dir is None:
            from drydock.settings import get_settings

            cache_dir = get_settings().numba_cache_dir
        os.environ["NUMBA_CACHE_DIR"] = str(cache_dir)
    path = Path(os.environ["NUMBA_CACHE_DIR"])
    path.mkdir(parents=True, exist_ok=True)
    return path
