"""Replay and live runs from the journal, with each run's orders, fills and policy decisions."""

from __future__ import annotations

import streamlit as st

from app.live_data import replay_runs, run_decisions, run_fills, run_orders

st.set_page_config(page_title="Drydock · Live", layout="wide")
st.title("Live runs")

runs = replay_runs()
if runs.error:
    st.info(runs.error)
else:
    st.dataframe(runs.frame, hide_index=True, width="stretch")
    run_id = st.selectbox("Run", runs.frame["run_id"].to_list(), key="live_run")
    if run_id:
        decisions = run_decisions(run_id)
        st.header("Policy decisions")
        st.dataframe(decisions, hide_index=True, width="stretch")
        st.header("Orders")
        st.dataframe(run_orders(run_id), hide_index=True, width="stretch")
        st.header("Fills")
        st.dataframe(run_fills(run_id), hide_index=True, width="stretch")
