"""The app's entry in an installed package, what ``rnnviz app`` hands to Streamlit; a
checkout's entry is the top-level ``app.py``, which does the same with its ``pages/``.

Run by Streamlit for a page view (``__name__ == "__main__"``) it draws the navigation and the
frame (``rnnviz.app.main``). Imported first by ``streamlit run`` (by its bare name), it
defines ``app``, an ``st.App`` whose lifespan starts the training workers with the server.
Streamlit finds ``app`` by reading this file's syntax, so the assignment stays written out here.
"""

from contextlib import asynccontextmanager

import streamlit as st

from rnnviz.app.main import main, pages_dir
from rnnviz.app.serving import started_with_server

if __name__ == "__main__":  # Streamlit runs this file once per page view
    main(pages_dir())
else:  # `streamlit run` first imports it and serves `app` (Streamlit's st.App)
    app = st.App(__file__, lifespan=asynccontextmanager(started_with_server))
