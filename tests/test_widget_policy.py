"""A deep link with config values opens the Playground on them without Streamlit's
widget-policy warning ("created with a default value but also had its value set via the Session
State API", logged with a full stack): a widget whose value the link put into Session State is
given no default besides (AppTest; tests/e2e/test_clean_logs.py checks a real server's log)."""

import logging

import pytest
from streamlit.elements.lib import policies
from streamlit.testing.v1 import AppTest

from rnnviz.core.config import FIELDS
from tests.conftest import ROOT

LINK = {"seed": "1", "steps": "40", "seq_len": "12", "cell": "gru", "lr": "0.01"}


@pytest.fixture
def streamlit_log():
    """Streamlit's log lines at WARNING and above. Streamlit warns about the widget policy once
    per process: the flag is reset so that this test sees the warning if it comes."""
    lines = []

    class Collect(logging.Handler):
        def emit(self, record):
            lines.append(f"{record.name}: {record.getMessage()}")

    handler = Collect(logging.WARNING)
    logger = logging.getLogger("streamlit.elements.lib.policies")
    logger.addHandler(handler)
    policies._shown_default_value_warning = False
    yield lines
    logger.removeHandler(handler)


def _open_on_playground(query: dict) -> AppTest:
    """The session's first run is the Playground with ``query`` in its URL, as when a student
    opens a shared link (``tests.apptest.open_app`` would run the Home page first)."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    for key, value in query.items():
        at.query_params[key] = value
    return at.switch_page("pages/playground.py").run()


def _widget(at, key):
    return next(w for kind in ("slider", "number_input", "selectbox") for w in at.get(kind)
                if w.key == key)


def test_a_deep_link_opens_its_values_without_a_warning(streamlit_log):
    at = _open_on_playground(LINK)
    assert not at.exception
    assert [_widget(at, k).value for k in ("seed", "steps", "seq_len", "cell", "lr")] == [
        1, 40, 12, "gru", 0.01]
    assert at.session_state["config"].steps == 40
    at.run()  # and on the next run, the values stay and each widget has its default again
    assert [_widget(at, k).value for k in ("seed", "steps", "seq_len")] == [1, 40, 12]
    assert _widget(at, "steps").proto.default == 1000
    assert _widget(at, "seq_len").proto.default == [20]
    assert not [line for line in streamlit_log if "Session State API" in line], streamlit_log


def test_a_repaired_link_value_warns_on_the_page_not_in_the_log(streamlit_log):
    at = _open_on_playground({"seq_len": "-3", "steps": "40"})
    assert not at.exception
    assert any("seq_len=-3" in w.value for w in at.warning)
    assert _widget(at, "seq_len").value == FIELDS["seq_len"].low  # clamped to the lowest
    assert _widget(at, "steps").value == 40
    assert not [line for line in streamlit_log if "Session State API" in line], streamlit_log
