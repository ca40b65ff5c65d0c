"""MLflow run logging for backtests (sqlite store under DRYDOCK_HOME) and run queries for the app.

Each sweep is one parent run in the ``sweeps`` experiment (the results table and a parameter
heatmap as artifacts) with its best sets as child backtest runs. Each backtest run records: params (strategy params, series, window, execution assumptions), the
metrics of drydock.metrics, tags (git commit and dirty flag, code fingerprint of the strategy and
engine sources, data fingerprint of the bars read), and artifacts ``report.html`` and
``equity.parquet``. No secrets or environment values are ever logged.
"""

from __future__ import annotations

import hashlib
import inspect
import math
import shutil
import subprocess
import tempfile
from pathlib import Path
from typing import TYPE_CHECKING, Any

import polars as pl

from drydock.execution import ExecutionModel
from drydock.mlflow_store import experiment_id as _experiment_id
from drydock.mlflow_store import mlflow_for
from drydock.series import SeriesKey
from drydock.settings import REPO_ROOT, Settings, get_settings
from research.backtest import BacktestResult
from research.report import write_report

if TYPE_CHECKING:
    from research.policy_audit import PolicyAudit
    from research.sweep.engine import SweepResult  # it loads numba: only when a sweep is logged

EXPERIMENT = "backtests"
SWEEP_EXPERIMENT = "sweeps"


def _mlflow(settings: Settings) -> Any:
    return mlflow_for(settings)


def experiment_id(settings: Settings | None = None, name: str = EXPERIMENT) -> str:
    """Id of the named experiment (see :func:`drydock.mlflow_store.experiment_id`)."""
    return _experiment_id(settings, name)


def git_state() -> tuple[str, bool]:
    """(commit sha or 'unknown', whether the work tree has uncommitted changes)."""
    try:
        sha = subprocess.run(
            ["git", "rev-parse", "HEAD"], cwd=REPO_ROOT, capture_output=True, text=True, check=True
        ).stdout.strip()
        dirty = bool(
            subprocess.run(
                ["git", "status", "--porcelain", "--untracked-files=no"],
                cwd=REPO_ROOT,
                capture_output=True,
                text=True,
                check=True,
            ).stdout.strip()
        )
    except (OSError, subprocess.CalledProcessError):
        return "unknown", False
    return sha, dirty


def code_fingerprint(*objects: object) -> str:
    """Hash of the source code of the given modules/classes (what actually ran)."""
    digest = hashlib.sha256()
    for obj in objects:
        digest.update(inspect.getsource(obj).encode())  # type: ignore[arg-type]
    return digest.hexdigest()[:16]


def log_backtest(
    result: BacktestResult,
    settings: Settings | None = None,
    run_name: str | None = None,
    *,
    experiment: str = EXPERIMENT,
    parent_run_id: str | None = None,
    audit: PolicyAudit | None = None,
) -> str:
    """Log one backtest as an MLflow run (a child of ``parent_run_id`` when given, e.g. a sweep's
    best sets); returns the run id. With a policy ``audit`` the run is tagged ``policy_clean``
    with the policy hash and version, the denial count per rule is logged as metrics and the
    per-order verdicts as ``policy_audit.parquet``."""
    import research.backtest as backtest_module
    from strategies.registry import get_strategy

    engine_modules: tuple[object, ...] = (backtest_module,)
    if result.engine == "research":  # the kernel that ran, not only the dispatching module
        import research.engine.kernel as kernel_module

        engine_modules += (kernel_module,)

    settings = settings or get_settings()
    mlflow = _mlflow(settings)
    sha, dirty = git_state()
    strategy_module = inspect.getmodule(type(get_strategy(result.strategy_id)))
    params: dict[str, Any] = {f"param.{k}": v for k, v in result.params.items()}
    params |= result.execution.as_params()
    if result.instrument is not None:  # the increments actually used (market data or override)
        inst = result.instrument
        params |= {
            "instrument.lot_size": str(inst.lot_size),
            "instrument.tick_size": str(inst.tick_size),
            "instrument.min_notional": str(inst.min_notional),
        }
    params |= {
        "strategy": result.strategy_id,
        "exchange": result.key.exchange,
        "symbol": result.key.symbol,
        "timeframe": result.key.timeframe,
        "start": result.start.isoformat(),
        "end": result.end.isoformat(),
        "bars": result.bars,
        "engine": result.engine,
    }
    outcome = {
        "final_equity": result.final_equity,
        "fees_paid": result.fees_paid,
        "orders": float(result.orders),
        "skipped_min_notional": float(result.skipped_min_notional),
    }
    finite = {k: v for k, v in (result.metrics | outcome).items() if math.isfinite(v)}
    with mlflow.start_run(
        experiment_id=experiment_id(settings, experiment),
        run_name=run_name or f"{result.strategy_id} {result.key.symbol} {result.key.timeframe}",
        parent_run_id=parent_run_id,
    ) as run:
        mlflow.log_params(params)
        mlflow.log_metrics(finite)
        mlflow.set_tags(
            {
                "drydock.kind": "backtest",
                "strategy": result.strategy_id,
                "symbol": result.key.symbol,
                "git_commit": sha,
                "git_dirty": str(dirty).lower(),
                "code_fingerprint": code_fingerprint(strategy_module, *engine_modules),
                "engine": result.engine,
                "data_fingerprint": result.data_fingerprint,
                "non_finite_metrics": ",".join(sorted(set(result.metrics) - set(finite))),
            }
        )
        with tempfile.TemporaryDirectory() as tmp:
            report = write_report(result, Path(tmp) / "report.html")
            equity = Path(tmp) / "equity.parquet"
            result.equity_frame().write_parquet(equity)
            mlflow.log_artifact(str(report))
            mlflow.log_artifact(str(equity))
            if audit is not None:
                _log_audit(mlflow, audit, Path(tmp))
        return str(run.info.run_id)


def _log_audit(mlflow: Any, audit: PolicyAudit, folder: Path) -> None:
    """Tags, per-rule denial metrics and the per-order verdicts of a policy audit."""
    from research.policy_audit import metric_name

    mlflow.set_tags(
        {
            "policy_clean": str(audit.clean).lower(),
            "policy_hash": audit.policy_hash,
            "policy_version": audit.policy_version,
            "policy_not_applied": ",".join(audit.not_applied),
        }
    )
    counts = {metric_name(rule): float(n) for rule, n in audit.rule_counts.items()}
    mlflow.log_metrics({"policy_denied_orders": float(audit.denied)} | counts)
    path = folder / "policy_audit.parquet"
    audit.orders.write_parquet(path)
    mlflow.log_artifact(str(path))


def latest_runs(limit: int = 20, settings: Settings | None = None) -> pl.DataFrame:
    """Most recent backtest runs with their key params and metrics (empty frame if none)."""
    settings = settings or get_settings()
    if not (settings.mlflow_dir / "mlflow.db").exists():
        return pl.DataFrame()
    mlflow = _mlflow(settings)
    runs = mlflow.search_runs(
        experiment_names=[EXPERIMENT], order_by=["attributes.start_time DESC"], max_results=limit
    )
    if runs.empty:
        return pl.DataFrame()
    keep = [
        c
        for c in runs.columns
        if c in ("run_id", "start_time", "tags.mlflow.runName")
        or c.startswith(("params.", "metrics."))
    ]
    frame = runs[keep].rename(columns={"tags.mlflow.runName": "run_name"})
    frame.columns = [c.removeprefix("params.").removeprefix("metrics.") for c in frame.columns]
    out: pl.DataFrame = pl.from_pandas(frame)
    return out


def load_equity(run_id: str, settings: Settings | None = None) -> pl.DataFrame:
    """The ``equity.parquet`` artifact of a run (ts, equity, drawdown, position)."""
    settings = settings or get_settings()
    mlflow = _mlflow(settings)
    with tempfile.TemporaryDirectory() as tmp:
        path = mlflow.artifacts.download_artifacts(
            run_id=run_id, artifact_path="equity.parquet", dst_path=tmp
        )
        return pl.read_parquet(path)


def log_sweep(
    result: SweepResult,
    frame: pl.DataFrame,
    key: SeriesKey,
    execution: ExecutionModel,
    children: int = 3,
    settings: Settings | None = None,
) -> str:
    """Log a sweep as a parent MLflow run (params, headline metrics, ``results.parquet`` and
    ``heatmap.html``) with its ``children`` best sets re-run as full backtests under it; returns
    the parent run id."""
    from research.backtest import backtest_frame
    from research.sweep.heatmap import write_heatmap
    from strategies.registry import get_strategy

    settings = settings or get_settings()
    mlflow = _mlflow(settings)
    strategy = get_strategy(result.strategy_id)
    table = result.table()
    best = result.top(children)
    feasible = int(table["feasible"].sum())
    params: dict[str, Any] = execution.as_params() | {
        "strategy": result.strategy_id,
        "exchange": key.exchange,
        "symbol": key.symbol,
        "timeframe": key.timeframe,
        "objective": result.objective,
        "sets": result.sets,
        "bars": result.bars,
        "engine": result.engine,
        "sweep_run_id": result.run_id,
    }
    headline = {"sets": float(result.sets), "feasible_sets": float(feasible)}
    headline |= {"seconds": result.seconds, "bar_params_per_s": result.bar_params_per_s}
    if best.height:
        headline["best_objective"] = float(best["objective"][0])
    sha, dirty = git_state()
    with mlflow.start_run(
        experiment_id=experiment_id(settings, SWEEP_EXPERIMENT),
        run_name=f"sweep {result.strategy_id} {key.symbol} {key.timeframe} by {result.objective}",
    ) as run:
        mlflow.log_params(params)
        mlflow.log_metrics({k: v for k, v in headline.items() if math.isfinite(v)})
        mlflow.set_tags(
            {"drydock.kind": "sweep", "strategy": result.strategy_id, "symbol": key.symbol,
             "git_commit": sha, "git_dirty": str(dirty).lower()}
        )  # fmt: skip
        with tempfile.TemporaryDirectory() as tmp:
            results = Path(tmp) / "results.parquet"
            shutil.copyfile(result.path, results)
            mlflow.log_artifact(str(results))
            heatmap = write_heatmap(table, result.param_names, Path(tmp) / "heatmap.html")
            mlflow.log_artifact(str(heatmap))
        parent = str(run.info.run_id)
    for rank, row in enumerate(best.iter_rows(named=True), start=1):
        chosen = {name: row[name] for name in result.param_names}
        single = backtest_frame(strategy, chosen, frame, key, execution)
        log_backtest(
            single, settings, f"#{rank} {result.strategy_id} {chosen}",
            experiment=SWEEP_EXPERIMENT, parent_run_id=parent,
        )  # fmt: skip
    return parent
