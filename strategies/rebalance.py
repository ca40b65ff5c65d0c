"""Portfolio weight schemes for the multi-asset engine: fixed, equal and inverse volatility.

Each returns a (bars x assets) weight array whose row t uses only closes up to t's close, held
between rebalancing dates (every ``every`` bars), scaled to a gross exposure ``gross``. The
portfolio engine trades a row at the next open (docs/backtesting.md, "Portfolios").
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
import numpy.typing as npt

from drydock.errors import ConfigError

SCHEMES = ("equal", "fixed", "inverse_vol")
FloatArray = npt.NDArray[np.float64]


def _check(gross: float, every: int, lookback: int) -> None:
    if not (0 < gross <= 100):
        raise ConfigError(
            f"Gross exposure {gross!r} must be in (0, 100], e.g. 1 for fully invested."
        )
    if every < 1 or lookback < 2:
        raise ConfigError(
            f"Rebalance every {every!r} bars with a {lookback!r}-bar lookback: need every >= 1 and "
            "lookback >= 2, e.g. every=24, lookback=168 on 1h bars."
        )


def fixed_weights(n: int, weights: Sequence[float]) -> FloatArray:
    """The same weights on every bar (drift is corrected by the engine's ``rebalance_every``)."""
    row = np.asarray(weights, dtype=np.float64)
    if not np.isfinite(row).all():
        raise ConfigError(f"Fixed weights {list(weights)!r} must be finite numbers, e.g. 0.6,0.4.")
    return np.tile(row, (n, 1))


def inverse_volatility_weights(
    closes: FloatArray, lookback: int = 168, every: int = 24, gross: float = 1.0
) -> FloatArray:
    """Weights proportional to 1 / stdev of the last ``lookback`` log returns, recomputed every
    ``every`` bars from the first bar with a full lookback (flat before; an asset with zero
    volatility over the window gets the highest finite weight, never inf)."""
    _check(gross, every, lookback)
    n, k = closes.shape
    out = np.zeros((n, k))
    if n <= lookback:
        return out
    rets = np.diff(np.log(closes), axis=0)  # rets[t-1] is the return into bar t
    row = np.zeros(k)
    for t in range(lookback, n):
        if (t - lookback) % every == 0:
            vol = rets[t - lookback : t].std(axis=0, ddof=1)
            floor = np.min(vol[vol > 0]) if (vol > 0).any() else 1.0
            inv = 1.0 / np.maximum(vol, floor * 1e-3)
            row = gross * inv / inv.sum()
        out[t] = row
    return out


def scheme_weights(
    scheme: str, closes: FloatArray, *, weights: Sequence[float] | None = None,
    lookback: int = 168, every: int = 24, gross: float = 1.0,
) -> FloatArray:  # fmt: skip
    """Weights of ``scheme`` (one of :data:`SCHEMES`) for ``closes`` (bars x assets)."""
    n, k = closes.shape
    if scheme == "equal":
        _check(gross, every, lookback)
        return fixed_weights(n, [gross / k] * k)
    if scheme == "fixed":
        if weights is None or len(weights) != k:
            raise ConfigError(
                f"Scheme 'fixed' needs one weight per asset ({k}), e.g. --weights 0.6,0.4."
            )
        return fixed_weights(n, weights)
    if scheme == "inverse_vol":
        return inverse_volatility_weights(closes, lookback, every, gross)
    raise ConfigError(f"Weight scheme {scheme!r} is not one of {', '.join(SCHEMES)}.")
