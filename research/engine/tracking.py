"""MLflow runs of the research engine: the config as params, metrics and exit counts, the data
and code fingerprints as tags, equity and orders as Parquet artifacts."""

from __future__ import annotations

import inspect
import math
import tempfile
from dataclasses import asdict
from pathlib import Path
from typing import Any

import polars as pl

from drydock import ohlcv
from drydock.fills.model import EngineConfig
from drydock.series import SeriesKey
from drydock.settings import Settings, get_settings
from research.engine.run import EngineResult

EXPERIMENT = "simulations"


def config_params(config: EngineConfig) -> dict[str, str]:
    """Flat ``engine.*`` and ``exec.*`` params (unset rules omitted)."""
    out = {f"engine.{k}": str(v) for k, v in asdict(config).items()
           if k != "execution" and v is not None and v != ()}  # fmt: skip
    return out | config.execution.as_params()


def log_simulation(
    result: EngineResult,
    bars: pl.DataFrame,
    key: SeriesKey,
    config: EngineConfig,
    strategy_id: str,
    params: dict[str, Any],
    settings: Settings | None = None,
    strategy: object | None = None,
) -> str:
    """Log one research-engine run to the ``simulations`` experiment; returns the run id.
    ``strategy`` (an order-level strategy object) is looked up in the registry when omitted."""
    import research.engine.kernel as kernel_module
    from research.tracking import _mlflow, code_fingerprint, experiment_id, git_state
    from strategies.registry import get_strategy

    settings = settings or get_settings()
    mlflow = _mlflow(settings)
    sha, dirty = git_state()
    strategy_module = inspect.getmodule(type(strategy or get_strategy(strategy_id)))
    reasons = result.orders["reason"].value_counts().rows() if result.orders.height else []
    outcome = {
        "final_equity": result.final_equity,
        "orders": float(result.orders.height),
        "rejected_min_notional": float(result.rejected_min_notional),
        "liquidations": float(result.liquidations),
        "funding_paid": result.funding_paid,
        "open_position": result.open_position,
        "open_pnl": result.open_pnl,
    } | {f"orders.{reason}": float(n) for reason, n in reasons}
    finite = {k: v for k, v in (result.metrics | outcome).items() if math.isfinite(v)}
    with mlflow.start_run(
        experiment_id=experiment_id(settings, EXPERIMENT),
        run_name=f"{strategy_id} {key.symbol} {key.timeframe} (engine)",
    ) as run:
        mlflow.log_params(
            {f"param.{k}": v for k, v in params.items()}
            | config_params(config)
            | {
                "strategy": strategy_id,
                "exchange": key.exchange,
                "symbol": key.symbol,
                "timeframe": key.timeframe,
                "bars": bars.height,
            }
        )
        mlflow.log_metrics(finite)
        mlflow.set_tags(
            {
                "drydock.kind": "simulation",
                "strategy": strategy_id,
                "git_commit": sha,
                "git_dirty": str(dirty).lower(),
                "code_fingerprint": code_fingerprint(strategy_module, kernel_module),
                "data_fingerprint": ohlcv.fingerprint(bars),
                "position_open_at_end": str(bool(result.open_position)).lower(),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            for name, frame in (("equity", result.equity), ("orders", result.orders)):
                path = Path(tmp) / f"{name}.parquet"
                frame.write_parquet(path)
                mlflow.log_artifact(str(path))
        return str(run.info.run_id)


def log_portfolio(
    result: Any,
    bars: dict[str, pl.DataFrame],
    exchange: str,
    timeframe: str,
    config: Any,
    scheme: dict[str, Any],
    settings: Settings | None = None,
) -> str:
    """Log one portfolio run (a :class:`~research.engine.portfolio.PortfolioResult`) to the
    ``simulations`` experiment with every asset's data fingerprint; returns the run id."""
    import research.engine.portfolio_kernel as kernel_module
    import strategies.rebalance as scheme_module
    from research.tracking import _mlflow, code_fingerprint, experiment_id, git_state

    settings = settings or get_settings()
    mlflow = _mlflow(settings)
    sha, dirty = git_state()
    outcome = {
        "final_equity": result.final_equity,
        "orders": float(len(result.order_records)),
        "rejected_min_notional": float(result.rejected_min_notional),
        "skipped_by_band": float(result.skipped_by_band),
        "funding_paid": result.funding_paid,
        "fees_paid": result.fees_paid,
        "turnover": result.turnover,
    }
    finite = {k: v for k, v in (result.metrics | outcome).items() if math.isfinite(v)}
    params = {f"engine.{k}": str(v) for k, v in asdict(config).items()
              if k != "execution" and v is not None}  # fmt: skip
    with mlflow.start_run(
        experiment_id=experiment_id(settings, EXPERIMENT),
        run_name=f"portfolio {scheme.get('scheme')} {'+'.join(result.symbols)} {timeframe}",
    ) as run:
        mlflow.log_params(
            params
            | config.execution.as_params()
            | {f"scheme.{k}": str(v) for k, v in scheme.items()}
            | {
                "exchange": exchange,
                "symbols": ",".join(result.symbols),
                "timeframe": timeframe,
                "bars": result.ts.len(),
            }
        )
        mlflow.log_metrics(finite)
        mlflow.set_tags(
            {
                "drydock.kind": "portfolio",
                "git_commit": sha,
                "git_dirty": str(dirty).lower(),
                "code_fingerprint": code_fingerprint(scheme_module, kernel_module),
                "data_fingerprint": ",".join(ohlcv.fingerprint(f) for f in bars.values()),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            for name, frame in (("equity", result.equity), ("orders", result.orders)):
                path = Path(tmp) / f"{name}.parquet"
                frame.write_parquet(path)
                mlflow.log_artifact(str(path))
        return str(run.info.run_id)
