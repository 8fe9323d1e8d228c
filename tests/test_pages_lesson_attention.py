"""Lesson 10 (why attention was invented) through Streamlit's AppTest: its six runs pretrained
on the server open the Translation page at once on the lesson's first run, with the gradient
chart the look-at names drawn for it and its twin without attention and brought into view; the
banner's switcher changes the page's run; the Lessons page's notes draw the measured numbers."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnviz.app import state
from rnnviz.core.train import train
from rnnviz.studies.lesson_attention import LENGTHS, label
from rnnviz.studies.lessons import LESSONS
from tests.apptest import decode_plotly, open_app


@pytest.fixture(scope="module")
def lesson_runs():
    return {name: train(cfg) for name, cfg in LESSONS["attention"].runs}


def _cache(runs) -> None:
    for run in runs.values():
        state.registry().cache.put(run)  # what the pre-training CLI leaves on a server


def _figures(at) -> list[dict]:
    return [json.loads(c.proto.spec) for c in at.get("plotly_chart")]


def test_the_lesson_opens_the_translation_page_on_its_run(lesson_runs):
    _cache(lesson_runs)
    lesson = LESSONS["attention"]
    at = open_app({"lesson": "attention"}, timeout=120)
    at.switch_page("pages/lessons.py").run()
    at.button(key="start_detail_attention").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Translation")
    first_label, first = lesson.primary
    assert at.session_state["translation_run"].config == first
    # the chart the look-at starts with was brought into view (its scroll request consumed)
    assert "lesson_scroll" not in at.session_state
    at.switch_page("pages/translation.py").run()
    assert not at.exception, at.exception
    gradient = next(f for f in _figures(at)
                    if f["layout"]["title"]["text"].startswith("Gradient reaching"))
    lines = {t["name"]: np.asarray(decode_plotly(t["y"]), dtype=float) for t in gradient["data"]}
    twin = lesson_runs[label(LENGTHS[-1], "none")]
    np.testing.assert_allclose(lines["additive (Bahdanau)"],
                               lesson_runs[first_label].history.probe_grad[-1], rtol=1e-6)
    np.testing.assert_allclose(lines["none"], twin.history.probe_grad[-1], rtol=1e-6)
    switch = next(s for s in at.get("segmented_control") if s.key == "lesson_run")
    switch.set_value(label(LENGTHS[0], "none")).run()
    assert not at.exception, at.exception
    assert at.session_state["translation_run"].config == dict(lesson.runs)[
        label(LENGTHS[0], "none")]


def test_the_notes_draw_the_measured_numbers(lesson_runs):
    _cache(lesson_runs)
    at = open_app({"lesson": "attention"}, timeout=120)
    at.switch_page("pages/lessons.py").run()
    assert not at.exception, at.exception
    outcome = LESSONS["attention"].outcome(lesson_runs)
    texts = "\n".join(m.value for m in at.markdown)
    for fact in outcome.facts:
        assert fact in texts
    assert not [w for w in at.warning if "lesson's claim" in w.value]
    figures = _figures(at)
    bottleneck = next(f for f in figures if f["layout"]["title"]["text"].startswith(
        "The bottleneck"))
    plain = next(t for t in bottleneck["data"] if t["name"] == "no attention")
    np.testing.assert_allclose(np.asarray(decode_plotly(plain["y"]), dtype=float),
                               [outcome.numbers[f"plain_{n}"] for n in LENGTHS])
    gradient = next(f for f in figures if f["layout"]["title"]["text"].startswith(
        "Gradient reaching"))
    first = next(t for t in gradient["data"] if t["name"] == "without attention")
    np.testing.assert_allclose(np.asarray(decode_plotly(first["y"]), dtype=float),
                               outcome.arrays["without attention"], rtol=1e-6)


def test_the_inside_pages_point_a_translation_run_to_its_page(lesson_runs):
    """The lesson makes a translation run the session's run; the pages that replay one cell's
    trace said nothing and raised AttributeError ('Seq2SeqModel' has no 'embed')."""
    _cache(lesson_runs)
    at = open_app({"lesson": "attention"}, timeout=120)
    at.switch_page("pages/lessons.py").run()
    at.button(key="start_detail_attention").click().run()
    assert not at.exception, at.exception
    for page in ("hidden_states", "gates", "gradients", "step_through", "playground"):
        at.switch_page(f"pages/{page}.py").run()
        assert not at.exception, (page, at.exception)
        assert any("translation model" in i.value and "Translation page" in i.value
                   for i in at.info), page
