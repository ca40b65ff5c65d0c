"""Data quality per series: bars, missing grid bars, duplicates, invalid and quarantined rows."""

from __future__ import annotations

import streamlit as st

from app.data import quarantine_reasons, quarantine_rows, series_quality

st.set_page_config(page_title="Drydock · Data", layout="wide")
st.title("Data quality")
st.caption(
    "Missing bars are counted on the timeframe grid between each series' first and last bar; "
    "rows that failed validation are kept in the lake's quarantine with their reason."
)

quality = series_quality()
if quality.broken:
    st.error(quality.error)
elif quality.error:
    st.warning(quality.error)
if not quality.frame.is_empty():
    st.dataframe(quality.frame, hide_index=True, width="stretch")

st.header("Quarantined rows")
rows = quarantine_rows()
if rows.is_empty():
    st.success("No quarantined rows: every ingested bar passed validation.")
else:
    st.dataframe(quarantine_reasons(rows), hide_index=True, width="stretch")
    st.dataframe(rows, hide_index=True, width="stretch")
