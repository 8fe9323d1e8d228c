"""rnnviz: train recurrent networks in the browser and look inside them.

Run with:  streamlit run app.py   (from an installed package: rnnviz app)

The entry of a checkout and, as ``rnnviz/_app/app.py`` beside ``pages/`` and
``.streamlit/config.toml`` (pyproject.toml), of an installed package: ``rnnviz app`` runs it.
The navigation and the frame are ``rnnviz.app.main``.
"""

from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

from rnnviz.app.main import main
from rnnviz.app.serving import started_with_server

if __name__ == "__main__":  # Streamlit runs this file once per page view
    main(Path(__file__).parent / "pages")
else:  # `streamlit run app.py` first imports it and serves `app` (Streamlit's st.App)
    app = st.App(__file__, lifespan=asynccontextmanager(started_with_server))
