"""The Translation page's figures in the house style (titles that fit a phone, axis titles,
hover text, the one log axis) and drawing exactly the numbers they are given."""

from __future__ import annotations

import re

import numpy as np

from rnnviz import charts
from rnnviz.charts.style import LOG_AXIS

LINE_LIMIT = 45  # as tests/test_chart_reading.py: a title line a 390 px phone shows


def _figures():
    weights = np.array([[0.7, 0.2, 0.1], [0.1, 0.1, 0.8], [0.3, 0.3, 0.4]])
    return [
        charts.attention_matrix(list("2 1"), list("21"), weights, 50, [0, 2, -1], 1.0),
        charts.attention_matrix(list("ab"), list("ba"), None, 0),
        charts.bottleneck_chart([{"length": 5, "attention": "none", "exact match": 1.0},
                                 {"length": 20, "attention": "none", "exact match": 0.4},
                                 {"length": 5, "attention": "dot", "exact match": 1.0},
                                 {"length": 20, "attention": "dot", "exact match": 0.97}]),
        charts.encoder_gradient_chart({"additive": np.array([1e-3, 2e-3, 1e-2]),
                                       "none": np.array([1e-7, 1e-5, 1e-2])}, 300),
        charts.states_chart(_states(), 7),
    ]


def _states():
    from rnnviz.studies.translation import States
    return States(source=list("ab"), target=["b", "a", "<eos>"],
                  encoder=np.array([[0.5, -0.2], [0.1, 0.9]]),
                  decoder=np.array([[-0.3, 0.2], [0.4, 0.0], [0.0, -1.0]]))


def test_house_style():
    for fig in _figures():
        title = fig.layout.title.text
        for line in re.split(r"<br\s*/?>", title):
            assert len(re.sub(r"<[^>]+>", "", line)) <= LINE_LIMIT, title
        assert fig.layout.xaxis.title.text and fig.layout.yaxis.title.text
        for trace in fig.data:
            assert trace.hovertemplate
    gradient = _figures()[3]
    assert gradient.layout.yaxis.type == "log"
    assert gradient.layout.yaxis.exponentformat == LOG_AXIS["exponentformat"]


def test_the_numbers_drawn_are_the_numbers_given():
    matrix, empty, bottleneck, gradient, states = _figures()
    assert np.asarray(states.data[1].z).tolist() == _states().decoder.T.tolist()
    assert states.layout.shapes[0].x0 == 0.5  # the context vector: the last source column
    assert np.asarray(matrix.data[0].z).tolist() == [[0.7, 0.2, 0.1], [0.1, 0.1, 0.8],
                                                     [0.3, 0.3, 0.4]]
    truth = next(t for t in matrix.data if t.name == "true alignment")
    assert list(truth.x) == [0, 2] and list(truth.y) == [0, 1]
    assert "100%" in matrix.layout.title.text
    assert list(matrix.layout.xaxis.ticktext) == ["2", "␣", "1"]  # repeats kept apart
    assert not empty.data and "last state" in empty.layout.annotations[0].text
    plain = next(t for t in bottleneck.data if t.name == "no attention")
    assert list(plain.x) == [5, 20] and list(plain.y) == [1.0, 0.4]
    assert list(gradient.data[1].y) == [1e-7, 1e-5, 1e-2]
