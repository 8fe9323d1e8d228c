"""Make every page get the app's frame (link checking, sidebar summary), however it is run.

Streamlit keeps its legacy "pages/ folder" mode on until a script run calls ``st.navigation``.
If the first visitor after a server start opens a deep link such as ``/playground?cell=gru``,
Streamlit runs ``pages/playground.py`` alone: no sidebar summary, no link checking, the
folder's file names as navigation. So app.py marks the runs it wraps (``through_app``) and each
page calls ``via_app()`` first: on a session's first run in the legacy mode it switches that
mode off and reruns through app.py; when a page runs on its own later (Streamlit's AppTest
re-enters the legacy mode on every run, and a rerun there would drop the click that caused
it) it draws the frame itself.
"""

import contextlib
import logging
import threading

import streamlit as st
from streamlit.runtime.pages_manager import PagesManager

from rnnviz.serve import pool

from . import classroom, rewind, state
from .phone import NARROW
from .views import sidebar_summary
from .widgets import read_link

_run = threading.local()  # each script run happens in one thread


def _log_events() -> None:
    """rnnviz's own log lines (a job started, finished or failed; the training workers started
    or stopped), at INFO, on stderr beside Streamlit's and in its format, unless the process
    already logs somewhere (a test runner, an operator's own logging setup)."""
    logger = logging.getLogger("rnnviz")
    if logger.handlers or logging.getLogger().handlers:
        return
    handler = logging.StreamHandler()
    formatter = logging.Formatter(st.get_option("logger.messageFormat"))
    formatter.default_msec_format = "%s.%03d"  # as Streamlit's own lines
    handler.setFormatter(formatter)
    logger.addHandler(handler)
    logger.setLevel(logging.INFO)


_log_events()
_SEEN = "_ran_through_app"


# KaTeX makes a displayed equation a scroll box, and the glyphs' rounding overflows it by a
# pixel or two: a scrollable region that keyboard users cannot reach (axe-core's
# scrollable-region-focusable). On a screen wide enough for every equation of the app nothing
# needs to scroll; on a phone a long equation still scrolls sideways.
#
# plotly's toolbar (the modebar) sits in a chart's top right corner, where a phone's narrow
# chart has its title: it hid the step numbers ("GRU z gate, step 2[50]"), and on a phone it
# showed without a hover. Its tools (box zoom, pan, a PNG) are for a mouse; on a phone window
# it is hidden, and a double tap still resets a zoom. ``phone.NARROW`` is the same width.
_STYLE = ("<style>.katex-display { overflow-y: hidden; padding: 0.2em 0; }"
          "@media (min-width: 700px) { .katex-display { overflow: visible !important; } }"
          "@media NARROW { .js-plotly-plot .modebar-container { display: none !important; } }"
          "</style>").replace("NARROW", NARROW)


def frame() -> None:
    """What surrounds every page."""
    st.html(_STYLE)
    paused = state.paused_banner()  # shared mode with Redis away: said on every page
    if paused:
        st.warning(paused[0].upper() + paused[1:] + ". It resumes by itself when the store "
                   "is back.", icon=":material/cloud_off:")
    if not state.shared_mode():  # in shared mode `rnnviz worker`s train; the pool starts on
        pool.warm_up()           # its first use (the Compare page), not on every replica
    read_link()  # (embedded: the workers start in the background with the first page view)
    sidebar_summary()
    classroom.apply()
    rewind.reset()


@contextlib.contextmanager
def through_app():
    st.session_state[_SEEN] = True
    _run.entered = True
    try:
        yield
    finally:
        _run.entered = False


def via_app() -> None:
    if getattr(_run, "entered", False):
        return
    if PagesManager.uses_pages_directory:
        PagesManager.uses_pages_directory = False
        if not st.session_state.get(_SEEN):
            st.rerun()  # a session's first run: no click can be lost, so rerun through app.py
    frame()
