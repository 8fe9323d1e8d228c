"""The navigation and the frame around every page: one script run of the app's entry,
``app.py`` (in a checkout, or as ``rnnviz/_app/app.py`` in an installed package).

``main`` takes the folder the pages are in and gives st.Page absolute paths (Streamlit resolves
a page path against the entry's folder, and an absolute one stays itself). The wheel keeps the
checkout's layout, ``app.py`` beside ``pages/``, because the pages link to each other by paths
relative to the entry (``st.page_link("pages/gates.py")``).
"""

from __future__ import annotations

import os
from pathlib import Path

import streamlit as st

from rnnviz.core.tasks import ASSETS

from . import classroom, phone
from .entry import frame, through_app
from .launch import LOGDIR_ENV

# (file, title, icon) of every page, in the navigation's order; the first is the default
PAGES = [
    ("home.py", "Home", ":material/home:"),
    ("lessons.py", "Lessons", ":material/school:"),
    ("playground.py", "Playground", ":material/tune:"),
    ("hidden_states.py", "Hidden states", ":material/memory:"),
    ("gates.py", "Gates", ":material/door_open:"),
    ("gradients.py", "Gradients", ":material/trending_down:"),
    ("compare.py", "Compare", ":material/compare_arrows:"),
    ("step_through.py", "Step through", ":material/footprint:"),
    ("forecast.py", "Forecasting", ":material/show_chart:"),
    ("text.py", "Text", ":material/text_fields:"),
    ("sentiment.py", "Sentiment", ":material/sentiment_satisfied:"),
    ("speech.py", "Speech", ":material/graphic_eq:"),
    ("translation.py", "Translation", ":material/translate:"),
]
# shown only when the app reads a log folder (``rnnviz app --logdir``, or RNNVIZ_LOGDIR set)
RECORDED = ("recorded.py", "Recorded runs", ":material/folder_open:")


def page_list(folder: Path) -> list[tuple[str, str, str]]:
    """The pages this server shows: every page, and Recorded runs first after Home when a
    log folder is given (the learner started the app to see their runs)."""
    pages = list(PAGES)
    if os.environ.get(LOGDIR_ENV) and (folder / RECORDED[0]).is_file():
        pages.insert(1, RECORDED)
    return pages


def main(folder: Path) -> None:
    """One script run: the page the visitor asked for, in the app's frame."""
    # a projector needs the whole width: classroom mode (a ?classroom=1 link included) opens with
    # the sidebar collapsed; a sidebar the visitor opened or closed themselves stays as they left it
    st.set_page_config(page_title="rnnviz · inside recurrent networks",
                       page_icon=str(ASSETS / "favicon.png"),
                       layout="wide",
                       initial_sidebar_state="collapsed" if classroom.starts_on() else "auto")

    folder = Path(folder).resolve()
    pages = [st.Page(folder / name, title=title, icon=icon, default=i == 0)
             for i, (name, title, icon) in enumerate(page_list(folder))]

    # Streamlit leaves 6rem above every page; 4rem clears its header and gives the first screen
    # (the result of a Train press, the chart a lesson is about) the difference
    # The header's "Stop" (Streamlit's status widget) stops the script run drawing the page, not
    # the training, which goes on in a worker: a learner who pressed it saw nothing stop. Training
    # has its own Stop button on the Playground, so the header's is hidden.
    st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 4rem; }"
            "[data-testid='stStatusWidget'] button { display: none; }</style>")

    # every page in the sidebar: collapsed (the default), Streamlit lists the first ten and
    # hides Sentiment, Speech and Translation behind "View more"
    page = st.navigation(pages, expanded=True)
    frame()
    phone.scripts()  # the sidebar closes after a link on a phone
    with through_app():
        page.run()
