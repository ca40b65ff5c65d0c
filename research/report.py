"""Self-contained HTML backtest reports (plotly): equity with trades, and drawdown."""

from __future__ import annotations

from pathlib import Path

import plotly.graph_objects as go
import polars as pl
from plotly.subplots import make_subplots

from research.backtest import BacktestResult


def equity_figure(result: BacktestResult) -> go.Figure:
    """The report figure of one backtest, titled with its headline metrics."""
    m = result.metrics
    return equity_chart(
        result.equity_frame(),
        f"{result.strategy_id} {result.key} · return {m['total_return']:.1%} · Sharpe {m['sharpe']:.2f} · "
        f"max DD {m['max_drawdown']:.1%} · {int(m['trade_count'])} trades",
    )


def equity_chart(frame: pl.DataFrame, title: str) -> go.Figure:
    """Two stacked panels from an equity frame (ts, equity, drawdown): equity and drawdown %."""
    fig = make_subplots(
        rows=2, cols=1, shared_xaxes=True, row_heights=[0.7, 0.3], vertical_spacing=0.04
    )
    fig.add_trace(
        go.Scatter(x=frame["ts"], y=frame["equity"], name="equity", line={"width": 1.4}),
        row=1,
        col=1,
    )
    fig.add_trace(
        go.Scatter(
            x=frame["ts"],
            y=frame["drawdown"] * 100,
            name="drawdown %",
            fill="tozeroy",
            line={"width": 1, "color": "#d62728"},
        ),
        row=2,
        col=1,
    )
    fig.update_layout(
        title=title,
        height=620,
        template="plotly_white",
        legend={"orientation": "h"},
    )
    fig.update_yaxes(title_text="equity (quote)", row=1, col=1)
    fig.update_yaxes(title_text="drawdown %", row=2, col=1)
    return fig


def write_report(result: BacktestResult, path: Path) -> Path:
    """Write the report as one self-contained HTML file (plotly.js embedded; works offline)."""
    path.parent.mkdir(parents=True, exist_ok=True)
    equity_figure(result).write_html(path, include_plotlyjs=True, full_html=True)
    return path
