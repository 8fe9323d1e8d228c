"""The Speech page's listening figure stays readable on a projector: the P(digit) row gives each
of its ten digit labels at least the projector's tick font in height (at 1280x720 in classroom
mode its labels 0-9 touched one another: 12 px per digit for 16 px labels)."""

from __future__ import annotations

import numpy as np

from rnnviz.app.projector import TICK_FONT_PX
from rnnviz.charts.speech import listening_figure


def test_each_digit_of_the_p_digit_row_has_a_labels_height():
    frames, hidden = np.zeros((40, 32)), np.zeros((40, 32))
    probs, saliency = np.full((40, 10), 0.1), np.ones(40)
    figure = listening_figure(frames, hidden, probs, saliency, "george says 7: what the LSTM "
                              "hears, frame by frame")
    layout = figure.layout
    plot_height = layout.height - layout.margin.t - layout.margin.b
    low, high = layout.yaxis3.domain
    assert figure.data[2].y.tolist() == list(range(10))  # the P(digit) row is the third
    per_digit = (high - low) * plot_height / 10
    assert per_digit >= TICK_FONT_PX + 1, per_digit
    # the hidden state's 32 units and the 32 mel bands keep room for their ticks every 10
    for axis in (layout.yaxis, layout.yaxis2):
        assert (axis.domain[1] - axis.domain[0]) * plot_height >= 100
