"""Lesson 9 (spoken digits) through Streamlit's AppTest: its three runs pretrained on the server
open the Speech page at once with the LSTM, the lesson banner switches the page to the vanilla
RNN, and the notes show the measured accuracies, drawn from the lesson's own outcome. The
Lessons page counts its lessons (it said "Eight" whatever LESSONS held)."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnviz.app import state
from rnnviz.core.train import train
from rnnviz.studies.lessons import DIGITS_LSTM, DIGITS_RNN, LESSONS
from tests.apptest import decode_plotly, open_app


@pytest.fixture(scope="module")
def lesson_runs():
    lesson = LESSONS["speech"]
    runs = {label: train(cfg) for label, cfg in lesson.runs}
    return runs


def _texts(at) -> str:
    return "\n".join(m.value for m in at.markdown)


def test_the_speech_lesson_opens_the_speech_page_and_switches_runs(lesson_runs):
    for run in lesson_runs.values():
        state.registry().cache.put(run)  # what the pre-training CLI leaves on a server
    at = open_app({"lesson": "speech"}, timeout=120)
    at.switch_page("pages/lessons.py").run()
    at.button(key="start_detail_speech").click().run()
    assert not at.exception, at.exception
    assert at.title[0].value.startswith("Speech")
    assert at.session_state["run"].config == DIGITS_LSTM
    assert "Lesson 9 · Spoken digits and a new voice" in _texts(at)
    # the chart the look-at starts with ("In the chart, read P(digit)") was brought into view:
    # the scroll request is consumed by the recording's chart (it stayed, unserved, before)
    assert "lesson_scroll" not in at.session_state
    # AppTest reruns the page it was last sent to: go to the lesson's page as the browser did
    at.switch_page("pages/speech.py").run()
    switch = next(s for s in at.get("segmented_control") if s.key == "lesson_run")
    switch.set_value("vanilla RNN").run()
    assert not at.exception
    assert at.session_state["run"].config == DIGITS_RNN
    titles = [json.loads(c.proto.spec)["layout"]["title"]["text"]
              for c in at.get("plotly_chart")]
    assert any("what the RNN hears" in t.replace("<br>", " ") for t in titles), titles


def test_the_notes_draw_the_measured_accuracies(lesson_runs):
    for run in lesson_runs.values():
        state.registry().cache.put(run)
    at = open_app({"lesson": "speech"}, timeout=120)
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    outcome = LESSONS["speech"].outcome(lesson_runs)
    texts = _texts(at)
    for fact in outcome.facts:
        assert fact in texts
    assert not [w for w in at.warning if "lesson's claim" in w.value]
    figure = next(json.loads(c.proto.spec) for c in at.get("plotly_chart")
                  if json.loads(c.proto.spec)["layout"]["title"]["text"].startswith("Share"))
    bars = next(t for t in figure["data"] if t["type"] == "bar")
    assert list(bars["x"]) == ["LSTM", "vanilla RNN", "LSTM, new voice"]
    np.testing.assert_allclose(np.asarray(decode_plotly(bars["y"]), dtype=float),
                               [100 * outcome.numbers["lstm_acc"], 100 * outcome.numbers["rnn_acc"],
                                100 * outcome.numbers["new_voice_acc"]])


def test_the_lessons_page_counts_its_lessons():
    at = open_app(timeout=120)
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    words = {8: "Eight", 9: "Nine", 10: "Ten"}
    assert f"{words[len(LESSONS)]} short experiments" in _texts(at)
