"""Make every page run through app.py, even when a shared link points straight at a page.

Streamlit keeps the legacy "pages/ folder" mode on until the first script run calls
``st.navigation``. If the first visitor after a server start opens a deep link such as
``/playground?cell=gru``, Streamlit runs ``pages/playground.py`` alone: no sidebar summary, no
link checking, the folder's file names as navigation. Every page calls ``via_app()`` first; in
that legacy mode it switches the mode off and reruns, so app.py (and ``st.navigation``) runs.
"""

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager


def via_app() -> None:
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        st.rerun()
