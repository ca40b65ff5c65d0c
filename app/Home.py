"""Drydock home page: data coverage, latest backtests, and the equity curve of a chosen run."""

from __future__ import annotations

import streamlit as st

from app.data import backtest_runs, data_coverage, run_equity
from research.report import equity_chart

st.set_page_config(page_title="Drydock", layout="wide")
st.title("Drydock")
st.caption("Crypto research workbench: lake coverage, backtests tracked in MLflow, live replays.")

st.header("Data coverage")
coverage = data_coverage()
if coverage.broken:
    st.error(coverage.error)
elif coverage.error:
    st.warning(coverage.error)
else:
    st.dataframe(coverage.frame, hide_index=True, width="stretch")

st.header("Latest backtests")
runs = backtest_runs()
if runs.error:
    st.info(runs.error)
else:
    st.dataframe(runs.frame, hide_index=True, width="stretch")
    labels = {
        f"{row['run_name']} · {row['start_time']:%Y-%m-%d %H:%M:%S} · {row['run_id'][:8]}": row[
            "run_id"
        ]
        for row in runs.frame.iter_rows(named=True)
    }
    choice = st.selectbox("Run", list(labels), key="run")
    if choice:
        equity = run_equity(labels[choice])
        st.plotly_chart(equity_chart(equity, choice), width="stretch")
