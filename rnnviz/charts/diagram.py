"""The recurrent loop drawn folded and unrolled over time (the Home page's diagram)."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    ARROW_COLOR,
    CELL_COLORS,
    CELL_NAMES,
    INK,
    INPUT_COLOR,
    PAPER,
    PREDICTION_COLOR,
    TEXT_COLOR,
    rgba,
)
from rnnviz.charts.style import _base_layout


class _Drawing:
    """Shapes and annotations collected in lists and handed to plotly once (plotly's
    add_shape / add_annotation revalidate the whole layout on every call: 0.6 s for the
    diagram)."""

    def __init__(self) -> None:
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []

    def text(self, x: float, y: float, text: str, size: int = 12, color: str = ARROW_COLOR,
             **kwargs) -> None:
        self.annotations.append(dict(x=x, y=y, xref="x", yref="y", text=text, showarrow=False,
                                     font=dict(size=size, color=color), **kwargs))

    def box(self, cx: float, cy: float, width: float, height: float, label: str, fill: str,
            line: str) -> None:
        self.shapes.append(dict(type="rect", xref="x", yref="y", x0=cx - width / 2,
                                x1=cx + width / 2, y0=cy - height / 2, y1=cy + height / 2,
                                fillcolor=fill, line=dict(color=line, width=1.5),
                                layer="below"))
        self.text(cx, cy, label, size=15, color=TEXT_COLOR)

    def arrow(self, start: tuple[float, float], end: tuple[float, float], label: str = "",
              label_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        self.annotations.append(dict(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x",
                                     yref="y", axref="x", ayref="y", showarrow=True,
                                     arrowhead=2, arrowsize=1.1, arrowwidth=1.6,
                                     arrowcolor=ARROW_COLOR, text=""))
        if label:
            self.text((start[0] + end[0]) / 2 + label_offset[0],
                      (start[1] + end[1]) / 2 + label_offset[1], label)


def unrolled_diagram(steps: int = 4, cell: str = "rnn") -> go.Figure:
    """The recurrence folded (a box h with a self-loop, input x below, output y above) = the
    same network unrolled over ``steps`` time steps (1-8): h_0 ... h_{steps-1}, each fed by
    x_t and by the previous state through W_hh, each read out as ŷ_t. Drawn with shapes and
    annotations; hover a box for its equation."""
    steps = int(np.clip(steps, 1, 8))
    # the palette's meanings: the state filled with its cell's colour, the input grey, ŷ a
    # prediction (outlined only: the vanilla RNN's ochre and the vermillion are both warm)
    cell_color = CELL_COLORS.get(cell, INK)
    state_fill, input_fill, output_fill = (rgba(cell_color, 0.25), rgba(INPUT_COLOR, 0.15),
                                           PAPER)
    state = "h<sub>{t}</sub>, c<sub>{t}</sub>" if cell == "lstm" else "h<sub>{t}</sub>"
    update = {"rnn": "h_t = tanh(W_ih x_t + b_ih + W_hh h_(t−1) + b_hh)",
              "lstm": "c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)",
              "gru": "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t−1)"}.get(cell, "h_t = f(x_t, h_(t−1))")
    box_w, box_h, io_w, io_h, io_y = 1.0, 0.8, 0.75, 0.5, 1.5
    draw = _Drawing()
    hover_x, hover_y, hover_text = [], [], []

    def column(cx: float, t: str, hover_t: str) -> None:
        draw.box(cx, 0, box_w, box_h, state.format(t=t), state_fill, cell_color)
        draw.box(cx, -io_y, io_w, io_h, f"x<sub>{t}</sub>", input_fill, INPUT_COLOR)
        draw.box(cx, io_y, io_w, io_h, f"ŷ<sub>{t}</sub>", output_fill, PREDICTION_COLOR)
        draw.arrow((cx, -io_y + io_h / 2), (cx, -box_h / 2))
        draw.arrow((cx, box_h / 2), (cx, io_y - io_h / 2))
        hover_x.extend([cx, cx, cx])
        hover_y.extend([0, -io_y, io_y])
        hover_text.extend([f"hidden state at {hover_t}<br>{update}",
                           f"input at {hover_t}", f"prediction at {hover_t}: head(h_t)"])

    # folded network, its self-loop (a Bezier curve) and the arrowhead closing it
    column(0.0, "t", "step t")
    draw.shapes.append(dict(type="path", xref="x", yref="y",
                            path="M 0.5,0.2 C 1.3,0.9 1.3,-0.9 0.5,-0.2",
                            line=dict(color=ARROW_COLOR, width=1.6)))
    draw.arrow((0.62, -0.31), (0.5, -0.2))
    for x, y, text in ((1.15, 0.5, "W<sub>hh</sub>"), (0.08, -0.95, "W<sub>ih</sub>"),
                       (0.08, 0.95, "head")):
        draw.text(x, y, text, xanchor="left")
    draw.text(1.9, 0, "=", size=30, color=TEXT_COLOR)

    first, gap = 4.1, 2.0
    centres = [first + gap * k for k in range(steps)]
    draw.arrow((2.6, 0), (first - box_w / 2, 0), label="h<sub>−1</sub> = 0",
               label_offset=(0, 0.22))
    for k, cx in enumerate(centres):
        column(cx, str(k), f"step t = {k}")
        if k:  # more than four W_hh labels would crowd at 700 px
            label = "W<sub>hh</sub>" if k == 1 or steps <= 5 else ""
            draw.arrow((centres[k - 1] + box_w / 2, 0), (cx - box_w / 2, 0), label=label,
                       label_offset=(0, 0.22))
    right = centres[-1] + box_w / 2
    draw.arrow((right, 0), (right + 0.6, 0))
    draw.text(right + 0.85, 0, "…", size=20, color=TEXT_COLOR)

    fig = go.Figure(go.Scatter(x=hover_x, y=hover_y, mode="markers", hovertext=hover_text,
                               marker=dict(size=36, color=rgba(PAPER, 0)),
                               hovertemplate="%{hovertext}<extra></extra>", showlegend=False))
    fig.update_layout(shapes=draw.shapes, annotations=draw.annotations)
    fig.update_xaxes(visible=False, range=[-0.8, right + 1.2], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-2.0, 2.0], scaleanchor="x", scaleratio=1,
                     fixedrange=True)
    article = "An" if cell == "lstm" else "A"
    return _base_layout(fig, f"{article} {CELL_NAMES.get(cell, cell)} folded (left) and "
                             "unrolled through time (right)",
                        height=330, margin=dict(l=10, r=10, t=60, b=10))
