"""The Playground's "Your own model" section alone, called the way the Playground calls it (for
tests/test_inspect.py's AppTests: the Playground itself is being changed elsewhere)."""

import streamlit as st

from rnnviz.app import own_model_ui, state

notice = state.take_notice()
if notice:
    getattr(st, notice[0])(notice[1])
own_model_ui.own_model_section()
