"""The Speech page through Streamlit's AppTest: its sections in order, and every number it
draws equal to the engine's own (listen, confusion, precision_recall) for the session's run."""

from __future__ import annotations

import json

import numpy as np
import pytest

from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.hear import listen
from rnnviz.core.train import train
from rnnviz.studies.speech import confusion, precision_recall
from tests.apptest import decode_plotly, open_app


@pytest.fixture(scope="module")
def digits_run():
    return train(RunConfig(task="digits", seq_len=speech.SEQ_LEN, steps=200, eval_every=100,
                           probe_every=100, device="cpu"))


def _figure(at, title_start: str) -> dict:
    figures = [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]
    return next(f for f in figures if f["layout"]["title"]["text"].startswith(title_start))


def _speech_page(run):
    at = open_app(timeout=120)
    at.session_state["run"] = run
    at.switch_page("pages/speech.py").run()
    assert not at.exception, at.exception
    return at


def test_speech_page_draws_the_models_own_numbers(digits_run):
    at = _speech_page(digits_run)
    assert [h.value for h in at.subheader] == ["A recording", "Your own voice",
                                               "On the whole test split"]
    # the default pick: the first speaker saying 7, take 0 (a test take)
    digit, speaker, take = 7, speech.speakers()[0], 0
    heard = listen(digits_run, speech.recording(speech.find(digit, speaker, take)),
                   target=digit)
    figure = _figure(at, f"{speaker} says {digit}")
    heatmaps = [t for t in figure["data"] if t["type"] == "heatmap"]
    np.testing.assert_allclose(np.asarray(decode_plotly(heatmaps[2]["z"]), dtype=float),
                               heard.probs.numpy().T, atol=1e-6)
    bars = next(t for t in figure["data"] if t["type"] == "bar")
    np.testing.assert_allclose(np.asarray(decode_plotly(bars["y"]), dtype=float),
                               heard.saliency.numpy(), rtol=1e-5, atol=1e-9)
    says = next(m for m in at.metric if m.label == "The model says")
    assert says.value == str(heard.digit)

    matrix = confusion(digits_run)
    shown = _figure(at, "Confusion matrix")
    assert np.asarray(decode_plotly(shown["data"][0]["text"])).tolist() == matrix.tolist()
    table = at.dataframe[0].value
    precision, recall = precision_recall(matrix)
    expected = [f"{p:.1%}" if not np.isnan(p) else "never predicted" for p in precision]
    assert list(table["precision"]) == expected
    assert list(table["recall"]) == [f"{r:.1%}" for r in recall]
    accuracy = next(m for m in at.metric if m.label == "Accuracy")
    assert accuracy.value == f"{np.trace(matrix) / matrix.sum():.1%}"


def test_surprise_me_picks_a_test_recording(digits_run):
    at = _speech_page(digits_run)
    next(b for b in at.button if b.key == "speech_surprise").click().run()
    assert not at.exception
    assert 0 <= at.session_state["speech_take"] < 5
    assert any("in the test set" in c.value for c in at.caption)


def test_without_a_digits_run_the_page_offers_one():
    at = open_app(timeout=120)
    at.switch_page("pages/speech.py").run()
    assert not at.exception
    assert any(b.label.startswith("Train a digits model") for b in at.button)
