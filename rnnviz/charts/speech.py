"""Speech figures: a recording as the network hears it (its spectrogram, the hidden state,
P(digit) and the saliency on one time axis), and the confusion matrix of the test split.

One figure for the four rows, not four charts: their columns are the same frames, so a
learner reads down a column (this sound, this state, this belief, this much influence) and the
browser draws one moment at once. Magnitudes (mel power, probabilities) are on the sequential
scale, the hidden state on the diverging one, centred on zero, as everywhere in the app.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.palette import MEASURED_COLOR
from rnnviz.charts.style import DIVERGING, SEQUENTIAL, _base_layout, _finite

FRAME_AXIS = "time step t (one frame every 16 ms)"
ROWS = ("log-mel frame x_t", "hidden state h_t", "P(digit) after t", "saliency ‖∂L/∂x_t‖")


def _colorbar(title: str, domain: list[float]) -> dict:
    middle, span = (domain[0] + domain[1]) / 2, domain[1] - domain[0]
    return dict(title=dict(text=title, side="right"), thickness=12, len=span, y=middle,
                yanchor="middle", x=1.01)


def listening_figure(frames, hidden, probs, saliency, title: str) -> go.Figure:
    """Four rows over one frame axis: the input frames (mel band x frame), the top layer's
    hidden state (unit x frame), P(digit) after every frame (digit x frame) and the saliency
    of every frame (bars). ``frames [T, bands]``, ``hidden [T, H]``, ``probs [T, 10]``,
    ``saliency [T]``."""
    frames, hidden = _finite(frames), _finite(hidden)
    probs, saliency = _finite(probs), _finite(saliency).reshape(-1)
    t = np.arange(len(frames))
    # P(digit) labels every one of its ten rows: 18 px each at 700 px, room for a projector's
    # 16 px ticks (at 0.24 of the height they touched); the 32 bands and units tick every 10
    fig = make_subplots(rows=4, cols=1, shared_xaxes=True, vertical_spacing=0.05,
                        row_heights=[0.24, 0.24, 0.36, 0.16], subplot_titles=ROWS)
    bound = float(max(np.abs(hidden).max(), 1e-6))
    traces = [
        go.Heatmap(z=frames.T, x=t, y=np.arange(frames.shape[1]), colorscale=SEQUENTIAL,
                   hovertemplate="t = %{x}<br>mel band %{y}<br>scaled log power %{z:.2f}"
                                 "<extra></extra>"),
        go.Heatmap(z=hidden.T, x=t, y=np.arange(hidden.shape[1]), colorscale=DIVERGING,
                   zmin=-bound, zmax=bound, zmid=0.0,
                   hovertemplate="t = %{x}<br>unit %{y}<br>h = %{z:.3f}<extra></extra>"),
        go.Heatmap(z=probs.T, x=t, y=np.arange(10), colorscale=SEQUENTIAL, zmin=0, zmax=1,
                   hovertemplate="after frame %{x}<br>P(digit %{y}) = %{z:.3f}"
                                 "<extra></extra>"),
    ]
    bars = ["mel power", "h_t", "P(digit)"]
    for row, trace in enumerate(traces, start=1):
        fig.add_trace(trace, row=row, col=1)
    fig.add_trace(go.Bar(x=t, y=saliency, name="saliency", marker_color=MEASURED_COLOR,
                         hovertemplate="frame %{x}<br>‖∂L/∂x_t‖ = %{y:.3g}<extra></extra>"),
                  row=4, col=1)
    fig.update_traces(showlegend=False)  # each row's title says what it is
    _base_layout(fig, title, height=700)
    for row, bar in enumerate(bars, start=1):
        domain = list(fig.layout[f"yaxis{'' if row == 1 else row}"].domain)
        fig.data[row - 1].colorbar = _colorbar(bar, domain)
    fig.update_yaxes(title_text="mel band", row=1, col=1)
    fig.update_yaxes(title_text="unit", autorange="reversed", row=2, col=1)
    fig.update_yaxes(title_text="digit", dtick=1, row=3, col=1)
    fig.update_yaxes(title_text="‖∂L/∂x_t‖", row=4, col=1)
    fig.update_xaxes(title_text=FRAME_AXIS, row=4, col=1)
    for row in (1, 2, 3):  # the frame axis is drawn once, under the last row
        fig.update_xaxes(visible=False, row=row, col=1)
    fig.update_layout(margin=dict(r=90))
    return fig


def confusion_figure(matrix, title: str) -> go.Figure:
    """The confusion matrix as counts: row = digit said, column = digit predicted, the count
    written in each cell; the diagonal is what was right."""
    matrix = np.asarray(matrix)
    said = matrix.sum(axis=1, keepdims=True)
    share = np.divide(matrix, said, out=np.zeros(matrix.shape), where=said > 0)
    digits = np.arange(matrix.shape[0])
    fig = go.Figure(go.Heatmap(
        z=share, x=digits, y=digits, text=matrix, texttemplate="%{text}",
        colorscale=SEQUENTIAL, zmin=0, zmax=1, customdata=matrix,
        colorbar=dict(title=dict(text="share of the row", side="right"), thickness=12),
        hovertemplate="said %{y}, predicted %{x}: %{customdata} recordings "
                      "(%{z:.0%} of the %{y}s)<extra></extra>"))
    _base_layout(fig, title, x_title="predicted digit", y_title="digit said", height=480)
    fig.update_xaxes(dtick=1, side="bottom")
    fig.update_yaxes(dtick=1, autorange="reversed")
    return fig


def digits_panel(task, x, y, prediction, t):
    """The sequence panel of one digits example (for ``charts.sequences``): its frames as a
    heatmap, the digit said and the model's answer in the title."""
    said = int(np.asarray(y).reshape(-1)[0])
    logits = np.asarray(prediction, dtype=np.float64).reshape(-1)
    p = np.exp(logits - logits.max())
    p /= p.sum()
    trace = go.Heatmap(z=np.asarray(x).T, x=t, y=np.arange(np.asarray(x).shape[1]),
                       colorscale=SEQUENTIAL, colorbar=dict(title=dict(text="mel power",
                                                                       side="top")),
                       hovertemplate="t = %{x}<br>mel band %{y}<br>%{z:.2f}<extra></extra>")
    title = (f"A recording of {said}, one frame per step (silence in front pads it); after "
             f"the last frame the model says {int(p.argmax())} (P = {p.max():.2f})")
    return [trace], title, "mel band", {}
