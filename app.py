"""rnnviz: train recurrent networks in the browser and look inside them.

Run with:  streamlit run app.py
"""

from contextlib import asynccontextmanager
from pathlib import Path

import streamlit as st

from rnnviz.app import classroom, phone
from rnnviz.app.entry import frame, through_app
from rnnviz.app.serving import started_with_server


def main() -> None:
    """One script run: the page the visitor asked for, in the app's frame."""
    # a projector needs the whole width: classroom mode (a ?classroom=1 link included) opens with
    # the sidebar collapsed; a sidebar the visitor opened or closed themselves stays as they left it
    st.set_page_config(page_title="rnnviz · inside recurrent networks",
                       page_icon=str(Path(__file__).parent / "assets" / "favicon.png"),
                       layout="wide",
                       initial_sidebar_state="collapsed" if classroom.starts_on() else "auto")

    PAGES = [
        st.Page("pages/home.py", title="Home", icon=":material/home:", default=True),
        st.Page("pages/lessons.py", title="Lessons", icon=":material/school:"),
        st.Page("pages/playground.py", title="Playground", icon=":material/tune:"),
        st.Page("pages/hidden_states.py", title="Hidden states", icon=":material/memory:"),
        st.Page("pages/gates.py", title="Gates", icon=":material/door_open:"),
        st.Page("pages/gradients.py", title="Gradients", icon=":material/trending_down:"),
        st.Page("pages/compare.py", title="Compare", icon=":material/compare_arrows:"),
        st.Page("pages/step_through.py", title="Step through", icon=":material/footprint:"),
        st.Page("pages/forecast.py", title="Forecasting", icon=":material/show_chart:"),
        st.Page("pages/text.py", title="Text", icon=":material/text_fields:"),
        st.Page("pages/sentiment.py", title="Sentiment", icon=":material/sentiment_satisfied:"),
        st.Page("pages/speech.py", title="Speech", icon=":material/graphic_eq:"),
    ]

    # Streamlit leaves 6rem above every page; 4rem clears its header and gives the first screen
    # (the result of a Train press, the chart a lesson is about) the difference
    # The header's "Stop" (Streamlit's status widget) stops the script run drawing the page, not
    # the training, which goes on in a worker: a learner who pressed it saw nothing stop. Training
    # has its own Stop button on the Playground, so the header's is hidden.
    st.html("<style>[data-testid='stMainBlockContainer'] { padding-top: 4rem; }"
            "[data-testid='stStatusWidget'] button { display: none; }</style>")

    page = st.navigation(PAGES)
    frame()
    phone.scripts()  # the sidebar closes after a link on a phone
    with through_app():
        page.run()


if __name__ == "__main__":  # Streamlit runs this file once per page view
    main()
else:  # `streamlit run app.py` first imports it and serves `app` (Streamlit's st.App)
    app = st.App(__file__, lifespan=asynccontextmanager(started_with_server))
