"""The Speech page's figures keep the house style (as tests/test_charts.py checks every other
figure) and draw exactly the numbers they are given."""

from __future__ import annotations

import numpy as np
import plotly.io as pio
import torch

from rnnviz.charts.speech import FRAME_AXIS, confusion_figure, digits_panel, listening_figure
from rnnviz.core import speech
from rnnviz.core.config import RunConfig
from rnnviz.core.hear import listen
from rnnviz.core.models import build_model
from rnnviz.core.tasks import TASKS


def _figures():
    model = build_model(RunConfig(task="digits", seq_len=speech.SEQ_LEN, hidden_size=8))
    heard = listen(model, speech.recording(speech.find(3, "lucas", 1)), target=3)
    listening = listening_figure(heard.frames.numpy(), heard.hidden.numpy(),
                                 heard.probs.numpy(), heard.saliency.numpy(), "lucas says 3")
    matrix = np.arange(100).reshape(10, 10)
    return heard, listening, confusion_figure(matrix, "Confusion matrix"), matrix


def test_speech_figures_share_the_house_style():
    white = pio.templates["plotly_white"].to_plotly_json()["layout"]
    _, listening, matrix_figure, _ = _figures()
    for fig in (listening, matrix_figure):
        lay = fig.to_plotly_json()["layout"]
        assert lay["template"]["layout"] == white and lay["title"]["text"]
        assert 250 <= lay["height"] <= 700
        assert lay["showlegend"] is False
        for key, axis in lay.items():
            if key.startswith(("xaxis", "yaxis")) and axis.get("visible", True):
                assert axis["title"]["text"], key
        for trace in fig.data:
            assert trace.hovertemplate
            if trace.type == "heatmap":
                assert trace.colorbar.title.text


def test_listening_figure_draws_the_numbers_on_one_frame_axis():
    heard, fig, _, _ = _figures()
    spectrogram, hidden, probs, saliency = fig.data
    np.testing.assert_allclose(np.asarray(spectrogram.z), heard.frames.numpy().T)
    np.testing.assert_allclose(np.asarray(hidden.z), heard.hidden.numpy().T)
    np.testing.assert_allclose(np.asarray(probs.z), heard.probs.numpy().T)
    np.testing.assert_allclose(np.asarray(saliency.y), heard.saliency.numpy())
    frames = np.arange(len(heard.frames))
    for trace in fig.data:  # the same columns in every row
        assert np.asarray(trace.x).tolist() == frames.tolist()
    assert fig.layout.xaxis4.title.text == FRAME_AXIS
    assert hidden.zmid == 0 and hidden.zmin == -hidden.zmax


def test_confusion_figure_writes_the_counts_and_row_shares():
    _, _, fig, matrix = _figures()
    np.testing.assert_array_equal(np.asarray(fig.data[0].text), matrix)
    np.testing.assert_allclose(np.asarray(fig.data[0].z)[2], matrix[2] / matrix[2].sum())


def test_digits_panel_names_the_digit_and_the_answer():
    logits = torch.zeros(10)
    logits[4] = 3.0
    x = torch.zeros(48, speech.N_MELS)
    traces, title, y_title, _ = digits_panel(TASKS["digits"], x.numpy(), np.array([4.0]),
                                             logits.numpy(), np.arange(48))
    assert "recording of 4" in title and "says 4" in title and y_title == "mel band"
    assert traces[0].type == "heatmap"
