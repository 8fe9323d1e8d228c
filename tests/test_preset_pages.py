"""A page that needs a model of its own task (Forecasting, Text, Sentiment, Speech) offers to
train one, and says before the press that it replaces the learner's current run, naming it
(issue 20, item 2: "Train a forecaster" replaced the Playground's model without a word), with
no duration promised in fixed words (item 3: "a few seconds")."""

from __future__ import annotations

from rnnviz.app import state
from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run


def _texts(at) -> str:
    return " ".join(element.value for element in (*at.info, *at.caption, *at.markdown))


def test_the_forecasting_offer_names_the_run_it_replaces():
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "task": "adding", "cell": "gru"})
    press(at, "Train")
    wait_for_run(at)
    before = at.session_state[state.RUN]
    at.switch_page("pages/forecast.py").run()
    assert not at.exception
    offer = _texts(at)
    assert "replaces your current run" in offer, offer
    assert f"a {before.config.cell.upper()} on Adding problem" in offer, offer
    assert "few seconds" not in offer
    # this server has measured a run: the offer says how long the forecaster takes here
    assert "on this server" in offer, offer
    button = next(b for b in at.button if b.label.startswith("Train a forecaster"))
    assert "few seconds" not in button.label


def test_with_no_run_there_is_nothing_to_replace():
    at = open_app()
    at.switch_page("pages/forecast.py").run()
    assert not at.exception
    assert "replaces" not in _texts(at)
