"""Recorded runs: the runs the learner's own training loop wrote with ``rnnviz.record`` into
the log folder (``rnnviz app --logdir``), listed, followed while written, opened on the inside
pages."""

from rnnviz.app.entry import via_app

via_app()


import streamlit as st

from rnnviz.app import logdir_ui

st.title("Recorded runs")
logdir_ui.recorded_page()
