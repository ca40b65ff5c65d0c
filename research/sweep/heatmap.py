"""A parameter heatmap of a sweep's results table (plotly): the objective over two parameters,
the best value over any others; a line for one-parameter sweeps."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import polars as pl


def heatmap_figure(table: pl.DataFrame, params: tuple[str, ...], value: str = "objective") -> Any:
    """Plotly figure of ``value`` (feasible rows only) over the first two ``params``."""
    import plotly.graph_objects as go
    import polars as pl

    rows = table.filter(pl.col("feasible") & pl.col(value).is_not_nan())
    if len(params) == 1 or rows.is_empty():
        x = params[0]
        best = rows.group_by(x).agg(pl.col(value).max()).sort(x)
        figure = go.Figure(
            go.Scatter(x=best[x].to_list(), y=best[value].to_list(), mode="lines+markers")
        )
        figure.update_layout(xaxis_title=x, yaxis_title=value)
    else:
        x, y = params[0], params[1]
        grid = rows.group_by(x, y).agg(pl.col(value).max())
        xs, ys = sorted(grid[x].unique().to_list()), sorted(grid[y].unique().to_list())
        cell = {(a, b): v for a, b, v in grid.select(x, y, value).iter_rows()}
        z = [[cell.get((a, b)) for a in xs] for b in ys]
        figure = go.Figure(go.Heatmap(x=xs, y=ys, z=z, colorscale="RdYlGn", colorbar_title=value))
        figure.update_layout(xaxis_title=x, yaxis_title=y)
    figure.update_layout(
        title=f"{value} by parameter (best over the others)", template="plotly_white"
    )
    return figure


def write_heatmap(
    table: pl.DataFrame, params: tuple[str, ...], path: Path, value: str = "objective"
) -> Path:
    """Write the heatmap as one self-contained HTML file (plotly.js embedded; works offline)."""
    heatmap_figure(table, params, value).write_html(path, include_plotlyjs=True, full_html=True)
    return path
