"""The benchmark series: deterministic 1m bars synthesized from the bundled BTC/USDT 1h sample."""

from __future__ import annotations

import numpy as np
import polars as pl

from drydock.ohlcv import SeriesKey
from drydock.sample import read_sample

BTC_1H = SeriesKey("binance", "BTC/USDT", "1h")
MINUTES = 60
SEED = 20240101
MINUTE_VOL = 0.0008  # per-minute log-return scale of the bridge noise (~BTC's 1m volatility)


def minute_bars(n: int = 120_000, seed: int = SEED) -> pl.DataFrame:
    """``n`` 1m bars: inside each real 1h bar, a seeded Brownian bridge from its open to its close.

    Every synthetic hour opens at the real hour's open and closes at its close, so the 1m series
    follows the real BTC path; the minutes in between are seeded noise. Highs and lows wrap each
    minute's open/close with a small seeded excursion; volume is the hour's volume spread evenly.
    """
    hours = -(-n // MINUTES)
    hourly = read_sample(BTC_1H).head(hours)
    if hourly.height < hours:
        raise ValueError(
            f"{n:,} 1m bars need {hours:,} hourly bars; the bundled {BTC_1H} sample has "
            f"{hourly.height:,}. Ask for at most {hourly.height * MINUTES:,} bars."
        )
    rng = np.random.default_rng(seed)
    log_open = np.log(hourly["open"].to_numpy())
    log_close = np.log(hourly["close"].to_numpy())
    steps = rng.normal(0.0, MINUTE_VOL, size=(hours, MINUTES))
    walk = np.cumsum(steps, axis=1)
    frac = np.arange(1, MINUTES + 1) / MINUTES
    bridge = walk - frac * walk[:, -1:]  # pinned to 0 at both ends of the hour
    closes = np.exp(log_open[:, None] + frac * (log_close - log_open)[:, None] + bridge)
    closes[:, -1] = hourly["close"].to_numpy()  # exact, not exp(log(close))
    opens = np.concatenate([hourly["open"].to_numpy()[:, None], closes[:, :-1]], axis=1)
    wick = np.abs(rng.normal(0.0, MINUTE_VOL / 2, size=(hours, MINUTES, 2)))
    highs = np.maximum(opens, closes) * (1 + wick[..., 0])
    lows = np.minimum(opens, closes) * (1 - wick[..., 1])
    volume = np.repeat(hourly["volume"].to_numpy()[:, None] / MINUTES, MINUTES, axis=1)
    hour_starts = hourly["ts"].dt.replace_time_zone(None).to_numpy().astype("datetime64[us]")
    offsets = np.arange(MINUTES).astype("timedelta64[m]").astype("timedelta64[us]")
    ts = pl.Series("ts", (hour_starts[:, None] + offsets).ravel()).dt.replace_time_zone("UTC")
    frame = pl.DataFrame(
        {
            "ts": ts,
            "open": opens.ravel(),
            "high": highs.ravel(),
            "low": lows.ravel(),
            "close": closes.ravel(),
            "volume": volume.ravel(),
        }
    )
    return frame.head(n)


MARKET_START_MS = 1_704_067_200_000  # 2024-01-01 00:00 UTC
MINUTE_MS = 60_000


def market_minutes(
    instrument: int, n: int = 500_000, *, seed: int = SEED, bad_every: int = 0
) -> dict[str, np.ndarray]:
    """Raw 1m bars of one synthetic instrument as a ccxt-like download gives them, from 2024-01-01.

    Returns numpy columns ``ts`` (int64 epoch ms) and float64 ``open, high, low, close, volume``:
    a seeded geometric random walk (per-minute scale :data:`MINUTE_VOL`) with wicks around each
    bar and positive volume. With ``bad_every`` every such row gets a NaN close (rows the
    validation must quarantine). Deterministic per ``(instrument, n, seed)``.
    """
    rng = np.random.default_rng([seed, instrument])
    start = 100.0 * (1 + instrument)
    closes = start * np.exp(np.cumsum(rng.normal(0.0, MINUTE_VOL, n)))
    opens = np.concatenate([[start], closes[:-1]])
    wick = np.abs(rng.normal(0.0, MINUTE_VOL / 2, size=(2, n)))
    highs = np.maximum(opens, closes) * (1 + wick[0])
    lows = np.minimum(opens, closes) * (1 - wick[1])
    volume = rng.gamma(2.0, 5.0, n)
    if bad_every:
        closes[bad_every - 1 :: bad_every] = np.nan
    ts = MARKET_START_MS + np.arange(n, dtype=np.int64) * MINUTE_MS
    return {"ts": ts, "open": opens, "high": highs, "low": lows, "close": closes, "volume": volume}
