"""rnnviz: train recurrent networks in the browser and look inside them.

Run with:  streamlit run app.py
"""

import streamlit as st

from rnnviz.app.views import sidebar_summary
from rnnviz.app.widgets import read_link

st.set_page_config(page_title="rnnviz · inside recurrent networks", page_icon="🔁",
                   layout="wide")

PAGES = [
    st.Page("pages/home.py", title="Home", icon="🏠", default=True),
    st.Page("pages/playground.py", title="Playground", icon="🎛️"),
    st.Page("pages/hidden_states.py", title="Hidden states", icon="🧠"),
    st.Page("pages/gates.py", title="Gates", icon="🚪"),
    st.Page("pages/gradients.py", title="Gradients", icon="📉"),
]

page = st.navigation(PAGES)
read_link()
sidebar_summary()
page.run()
