"""Figure builders: engine objects and numpy arrays in, plotly (and altair) figures out.

Pure functions, no Streamlit: a page calls ``st.plotly_chart(charts.state_heatmap(...))``.
Every figure speaks one visual language (after poloclub/cnn-explainer):

* signed quantities use one diverging scale, ``DIVERGING``, centred on zero; tanh states are
  fixed to [-1, 1]; sigmoid gates use the same scale on [0, 1] with its white midpoint at 0.5
  (the colorbar title says so). Unsigned magnitudes (log gradient norms, the time colouring of
  a trajectory) use the one sequential scale, ``SEQUENTIAL``.
* the time axis is always ``TIME_AXIS`` ("time step t") and starts at 0; hidden units are on
  the y axis, titled ``UNIT_AXIS``.
* gradient magnitudes are drawn on log scales (log10 colour, log y axis); zeros, which a log
  scale cannot show, are floored to the smallest positive value and the hover says so.
* every figure has a title, axis titles, hover text with the numbers, a fixed height and
  ``template="plotly_white"``; a legend whenever more than one trace is named.
* long series are strided with ``downsample`` before drawing (true step numbers stay on the
  axis): at most ``MAX_LINE_POINTS`` points per line and ``MAX_HEATMAP_COLUMNS`` x
  ``MAX_HEATMAP_ROWS`` cells per heatmap.
"""

from __future__ import annotations

import math

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from .analysis import SATURATION_HIGH, SATURATION_LOW

DIVERGING = "RdBu_r"  # the one scale for signed values: blue < 0 (or 0.5) < red
SEQUENTIAL = "Viridis"  # the one scale for unsigned magnitudes and for time order
TIME_AXIS = "time step t"
UNIT_AXIS = "hidden unit"
STEP_AXIS = "training step"
TEMPLATE = "plotly_white"

# Okabe-Ito colours: colour-blind safe and clear of the red/blue of the diverging scale.
CELL_COLORS = {"rnn": "#E69F00", "lstm": "#009E73", "gru": "#CC79A7"}
GATE_COLORS = {"i": "#0072B2", "f": "#D55E00", "g": "#009E73", "o": "#CC79A7",
               "r": "#0072B2", "z": "#D55E00", "n": "#009E73"}
UNIT_COLORS = ("#4C78A8", "#F58518", "#E45756", "#72B7B2", "#54A24B", "#EECA3B", "#B279A2",
               "#FF9DA6", "#9D755D", "#BAB0AC")  # tableau10, as altair's default scheme
TRAIN_COLOR, VALIDATION_COLOR = "#0072B2", "#E69F00"
TARGET_COLOR, PREDICTION_COLOR, INPUT_COLOR = "#0072B2", "#D55E00", "#8C8C8C"
REFERENCE_COLOR = "#555555"  # chance level, reference lines
CORRECT_COLOR, WRONG_COLOR = "#1A9850", "#D73027"
CLIPPED_COLOR = "#D62728"

GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate (cell input)",
              "o": "output gate", "r": "reset gate", "z": "update gate",
              "n": "candidate (new state)"}
TANH_GATES = frozenset({"g", "n"})  # the candidates; every other gate is a sigmoid
CELL_NAMES = {"rnn": "vanilla RNN", "lstm": "LSTM", "gru": "GRU"}

MAX_LINE_POINTS = 2000
MAX_HEATMAP_COLUMNS = 400
MAX_HEATMAP_ROWS = 256
MAX_BRUSH_UNITS = 12  # altair's default transformer refuses more than 5,000 rows
BRUSH_WIDTH_PX = 540  # vega-lite cannot stretch the views of a vconcat; fits a 700 px column
TEXT_WINDOW = 60  # characters visible at once in the text task's panel (drag to pan)
SYMBOL_WINDOW = 100  # steps visible at once in the copy task's panel

HEIGHT = 380
MARGIN = dict(l=70, r=30, t=90, b=60)
LEGEND_TOP = dict(orientation="h", yanchor="bottom", y=1.02, xanchor="left", x=0)
LEGEND_RIGHT = dict(orientation="v", yanchor="top", y=1, xanchor="left", x=1.02)
LEGEND_WIDTH_PX = 620  # plot width assumed when estimating how many rows a top legend wraps to
# log axes: powers of ten as 10^k (not SI "µ") and few enough ticks that digits don't crowd
LOG_AXIS = dict(type="log", exponentformat="power", nticks=4)


# ---------------------------------------------------------------- shared helpers


def downsample(n: int, max_points: int) -> np.ndarray:
    """Indices of at most ``max_points`` evenly spaced items out of ``n``, always including the
    first and the last (``np.arange(n)`` when ``n`` already fits)."""
    n, max_points = int(n), max(int(max_points), 1)
    if n <= 0:
        return np.zeros(0, dtype=np.int64)
    if n <= max_points:
        return np.arange(n, dtype=np.int64)
    if max_points == 1:
        return np.array([n - 1], dtype=np.int64)
    return np.unique(np.linspace(0, n - 1, max_points).round().astype(np.int64))


def _finite(values) -> np.ndarray:
    """float64 copy with inf replaced by NaN (drawn as a gap)."""
    values = np.array(values, dtype=np.float64)
    values[~np.isfinite(values)] = np.nan
    return values


def _log_safe(values) -> tuple[np.ndarray, np.ndarray, float]:
    """Values a log scale can draw: ``(drawn, floored, floor)``.

    Zeros and negatives are raised to ``floor``, the smallest positive finite value (1.0 when
    there is none), and flagged in ``floored`` so the hover can say "0"; NaN/inf become NaN.
    """
    values = _finite(values)
    positive = values[values > 0]
    floor = float(positive.min()) if positive.size else 1.0
    floored = values <= 0  # NaN compares False
    return np.where(floored, floor, values), floored, floor


def _log_axis_ok(*arrays) -> bool:
    """True when every finite value is > 0 and there is at least one (log axis possible)."""
    finite = np.concatenate([_finite(a).ravel() for a in arrays] or [np.zeros(0)])
    finite = finite[np.isfinite(finite)]
    return finite.size > 0 and bool((finite > 0).all())


def _legend_names(fig: go.Figure) -> list[str]:
    return [trace.name or "" for trace in fig.data if trace.showlegend is not False]


def _shown_legend_entries(fig: go.Figure) -> int:
    return len(_legend_names(fig))


def _legend_rows(fig: go.Figure) -> int:
    """Rows a horizontal legend wraps to: plotly lays entries out in columns as wide as the
    widest entry (about 45 px of symbol and padding + 7 px per character)."""
    names = _legend_names(fig)
    widest = 45 + 7 * max((len(name) for name in names), default=0)
    columns = max(1, LEGEND_WIDTH_PX // widest)
    return math.ceil(len(names) / columns)


def _base_layout(fig: go.Figure, title: str, *, x_title: str | None = None,
                 y_title: str | None = None, height: int = HEIGHT, legend: str = "top",
                 **layout) -> go.Figure:
    """The common look: template, left-aligned title, margins, legend (shown only when more
    than one trace has an entry), axis titles with automatic margins."""
    showlegend = _shown_legend_entries(fig) > 1
    margin = dict(MARGIN)
    if showlegend and legend == "top":
        margin["t"] = 56 + 22 * _legend_rows(fig)
    margin.update(layout.pop("margin", {}))
    fig.update_layout(
        template=TEMPLATE, height=height, margin=margin,
        title=dict(text=title, x=0, xref="paper", xanchor="left", y=1, yref="container",
                   yanchor="top", pad=dict(t=14)),
        showlegend=showlegend, legend=LEGEND_TOP if legend == "top" else LEGEND_RIGHT,
        hoverlabel=dict(namelength=-1), **layout)
    fig.update_xaxes(automargin=True)
    fig.update_yaxes(automargin=True)
    if x_title is not None:
        fig.update_xaxes(title_text=x_title)
    if y_title is not None:
        fig.update_yaxes(title_text=y_title)
    return fig


def _integer_ticks(fig: go.Figure, count: int, start: int = 0) -> None:
    """Whole-number x ticks on a short index axis (plotly would otherwise tick at halves)."""
    if 0 < count <= 10:
        fig.update_xaxes(tick0=start, dtick=1)


def _message(fig: go.Figure, text: str, **where) -> None:
    """A grey note in the middle of the plot (or of one subplot's axes via xref/yref)."""
    where = where or dict(xref="paper", yref="paper", x=0.5, y=0.5)
    fig.add_annotation(text=text, showarrow=False, font=dict(size=15, color="#777777"), **where)


def _reference_line(x0: float, x1: float, y: float, name: str, hover: str,
                    color: str = REFERENCE_COLOR, **kwargs) -> go.Scatter:
    """A horizontal dashed line as a trace (so it has a legend entry and a hover)."""
    return go.Scatter(x=[x0, x1], y=[y, y], mode="lines", name=name,
                      line=dict(color=color, dash="dash", width=1.5),
                      hovertemplate=hover + "<extra></extra>", **kwargs)


def _rgba(hex_color: str, alpha: float) -> str:
    r, g, b = (int(hex_color[i: i + 2], 16) for i in (1, 3, 5))
    return f"rgba({r},{g},{b},{alpha})"


def _cell_color(label: str, index: int) -> str:
    """CELL_COLORS for labels naming a cell ("lstm", "GRU (seed 1)"), else a palette colour."""
    words = "".join(c if c.isalnum() else " " for c in label.lower()).split()
    for cell, color in CELL_COLORS.items():
        if cell in words:
            return color
    return UNIT_COLORS[index % len(UNIT_COLORS)]


def _heatmap(z: np.ndarray, x: np.ndarray, y: np.ndarray, *, colorscale: str, zmin: float,
             zmax: float, zmid: float | None, colorbar_title: str, hovertemplate: str,
             customdata: np.ndarray | None = None) -> go.Heatmap:
    """A heatmap trace with the house colorbar (titled, beside the plot)."""
    return go.Heatmap(z=z, x=x, y=y, colorscale=colorscale, zmin=zmin, zmax=zmax, zmid=zmid,
                      customdata=customdata, hovertemplate=hovertemplate + "<extra></extra>",
                      colorbar=dict(title=dict(text=colorbar_title, side="top"),
                                    thickness=14, len=0.9))


def _heatmap_height(rows: int) -> int:
    return int(np.clip(150 + 5 * rows, 300, 560))


def _units_by_time(states: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """``[T, H]`` -> ``(z [units, steps], t, units)``, strided to the heatmap caps."""
    states = np.asarray(states, dtype=np.float64)
    if states.ndim == 1:
        states = states[:, None]
    t = downsample(states.shape[0], MAX_HEATMAP_COLUMNS)
    units = downsample(states.shape[1], MAX_HEATMAP_ROWS)
    return states[np.ix_(t, units)].T, t, units


def _units_heatmap(states: np.ndarray, title: str, zrange: tuple[float, float] | None,
                   colorbar_title: str, value_name: str) -> go.Figure:
    """Units x time heatmap on the diverging scale, centred on the middle of ``zrange`` (or on
    0 with a symmetric range fitted to the data when ``zrange`` is None)."""
    z, t, units = _units_by_time(states)
    if zrange is None:
        finite = np.abs(z[np.isfinite(z)])
        bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
        zmin, zmax = -bound, bound
    else:
        zmin, zmax = float(zrange[0]), float(zrange[1])
    trace = _heatmap(_finite(z), t, units, colorscale=DIVERGING, zmin=zmin, zmax=zmax,
                     zmid=(zmin + zmax) / 2, colorbar_title=colorbar_title,
                     hovertemplate=f"{TIME_AXIS} = %{{x}}<br>unit %{{y}}<br>"
                                   f"{value_name} = %{{z:.3f}}")
    fig = go.Figure(trace)
    _base_layout(fig, title, x_title=TIME_AXIS, y_title=UNIT_AXIS,
                 height=_heatmap_height(len(units)))
    fig.update_yaxes(autorange="reversed")  # unit 0 on top, as in a matrix
    _integer_ticks(fig, len(t))
    return fig


def _softmax(logits: np.ndarray) -> np.ndarray:
    logits = np.asarray(logits, dtype=np.float64)
    shifted = np.exp(logits - logits.max(axis=-1, keepdims=True))
    return shifted / shifted.sum(axis=-1, keepdims=True)


def _time_window(fig: go.Figure, steps: int, visible: int) -> None:
    """Long sequences: open on the first ``visible`` steps; dragging pans along time (a range
    slider would redraw every label in miniature, which reads as noise)."""
    if steps > visible:
        fig.update_xaxes(range=[-0.5, visible - 0.5],
                         title_text=f"{TIME_AXIS} (showing 0–{visible - 1} of {steps}: drag "
                                    "sideways to scroll)")
        fig.update_yaxes(fixedrange=True)
        fig.update_layout(dragmode="pan")


# ---------------------------------------------------------------- training curves


def _history_line(steps: np.ndarray, values: np.ndarray, name: str, color: str,
                  hover_name: str, width: float = 1, **kwargs) -> go.Scatter:
    """A per-step series strided to MAX_LINE_POINTS, true step numbers on x."""
    keep = downsample(len(steps), MAX_LINE_POINTS)
    return go.Scatter(x=steps[keep], y=_finite(values)[keep], mode="lines", name=name,
                      line=dict(color=color, width=width), opacity=0.8,
                      hovertemplate=f"step %{{x}}<br>{hover_name} %{{y:.4g}}<extra></extra>",
                      **kwargs)


def loss_curves(history, chance, metric_name: str, higher_is_better: bool) -> go.Figure:
    """Training and validation curves of a run, side by side.

    Left: training loss per step (thin line, strided) and validation loss (markers at
    ``history.val_step``) with the chance loss as a dashed line; log y when all values are > 0.
    Right: the same for the task metric (``metric_name``; accuracy on [0, 1] when
    ``higher_is_better``, else MSE on a log axis when positive) with the chance metric.

    ``history`` is a ``rnnviz.train.History``; ``chance`` a ``rnnviz.tasks.Chance``. An empty
    history gives empty axes that say "no steps yet"; NaN values are gaps.
    """
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.12)
    steps, val_steps = history.step, history.val_step
    last = int(steps[-1]) if len(steps) else 1
    panels = (
        (1, "loss", history.loss, history.val_loss, chance.loss, False),
        (2, metric_name, history.metric, history.val_metric, chance.metric, higher_is_better),
    )
    for col, name, train_values, val_values, chance_value, bounded in panels:
        first = col == 1  # legend entries once: the panels share their meaning
        fig.add_traces([
            _history_line(steps, train_values, "training", TRAIN_COLOR, f"training {name}",
                          legendgroup="training", showlegend=first),
            go.Scatter(x=val_steps, y=_finite(val_values), mode="lines+markers",
                       name="validation", legendgroup="validation", showlegend=first,
                       line=dict(color=VALIDATION_COLOR, width=2), marker=dict(size=5),
                       hovertemplate=f"step %{{x}}<br>validation {name} %{{y:.4g}}"
                                     "<extra></extra>"),
            _reference_line(0, last, chance_value, "chance level",
                            f"chance {name} {chance_value:.4g}: {chance.how}",
                            legendgroup="chance", showlegend=first),
        ], rows=1, cols=col)
        log_y = (not bounded and len(steps) > 0
                 and _log_axis_ok(train_values, val_values, [chance_value]))
        if log_y:
            fig.update_yaxes(**LOG_AXIS, row=1, col=col)
        elif bounded:
            fig.update_yaxes(range=[-0.02, 1.02], row=1, col=col)
        axis = "" if col == 1 else "2"
        # at the right end, where a model that learned is far from the line; a light box
        # keeps it readable where the curves do cross it
        fig.add_annotation(
            x=1, xref=f"x{axis} domain", xanchor="right", yref=f"y{axis}", yanchor="bottom",
            y=math.log10(chance_value) if log_y else chance_value, showarrow=False,
            text=f"chance {chance_value:.3g}", font=dict(size=11, color=REFERENCE_COLOR),
            bgcolor="rgba(255,255,255,0.8)")
        fig.update_yaxes(title_text=name, row=1, col=col)
        if not len(steps):
            _message(fig, "no steps yet", xref=f"x{axis} domain", yref=f"y{axis} domain",
                     x=0.5, y=0.8)
    fig.update_xaxes(title_text=STEP_AXIS)
    better = "higher" if higher_is_better else "lower"
    return _base_layout(fig, f"Loss and {metric_name} during training "
                             f"({metric_name}: {better} is better)", height=HEIGHT)


LIVE_POINTS = 400


def live_loss_figure(history, chance, metric_name: str) -> dict:
    """The loss curve drawn while a run trains: training loss (thinned to LIVE_POINTS),
    validation loss and the chance line, on a log axis.

    A plain figure dict, not a ``go.Figure``: the live view redraws it for every watching
    session a few times a second, and plotly's property validation (~40 ms a figure) would
    compete with the training threads for the interpreter."""
    steps = history.step
    keep = downsample(len(steps), LIVE_POINTS)
    loss = history.loss[keep]
    positive = bool(len(loss)) and bool(np.all(loss[np.isfinite(loss)] > 0))
    last_step = int(steps[-1]) if len(steps) else 1
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "training loss",
             "x": steps[keep].tolist(), "y": loss.tolist(),
             "line": {"color": TRAIN_COLOR, "width": 1}},
            {"type": "scatter", "mode": "lines+markers", "name": "validation loss",
             "x": history.val_step.tolist(), "y": history.val_loss.tolist(),
             "line": {"color": VALIDATION_COLOR}},
            {"type": "scatter", "mode": "lines", "name": f"chance ({chance.how})",
             "x": [0, last_step], "y": [chance.loss, chance.loss],
             "line": {"color": REFERENCE_COLOR, "dash": "dash"}},
        ],
        "layout": {
            "template": "plotly_white", "height": 320,
            "title": {"text": f"Training live ({metric_name} task): loss per step"},
            "xaxis": {"title": {"text": STEP_AXIS}},
            "yaxis": {"title": {"text": "loss"}, "type": "log" if positive else "linear"},
            "legend": {"orientation": "h", "y": 1.12},
            "margin": {"l": 60, "r": 20, "t": 70, "b": 50},
        },
    }


def grad_norm_over_training(history, clip: float | None) -> go.Figure:
    """Total gradient norm per training step (before clipping) on a log axis, the clipping
    threshold as a dashed line and the clipped steps as red markers. Long runs are strided;
    the clipped steps are strided separately so they stay representative."""
    steps, norms, clipped = history.step, history.grad_norm, history.clipped
    drawn, floored, floor = _log_safe(norms)
    data = []
    keep = downsample(len(steps), MAX_LINE_POINTS)
    data.append(go.Scatter(
        x=steps[keep], y=drawn[keep], mode="lines", name="total gradient norm ‖∂L/∂θ‖",
        line=dict(color=TRAIN_COLOR, width=1), customdata=_finite(norms)[keep],
        hovertemplate="step %{x}<br>‖∂L/∂θ‖ %{customdata:.4g}<extra></extra>"))
    clipped_index = np.flatnonzero(clipped)
    if clipped_index.size:
        clipped_index = clipped_index[downsample(clipped_index.size, MAX_LINE_POINTS)]
        data.append(go.Scatter(
            x=steps[clipped_index], y=drawn[clipped_index], mode="markers",
            name=f"clipped ({int(clipped.sum())} of {len(steps)} steps)",
            marker=dict(color=CLIPPED_COLOR, size=5), customdata=_finite(norms)[clipped_index],
            hovertemplate="step %{x}<br>‖∂L/∂θ‖ %{customdata:.4g} → rescaled to the "
                          "threshold<extra></extra>"))
    if clip is not None:
        data.append(_reference_line(
            0, int(steps[-1]) if len(steps) else 1, clip, f"clipping threshold {clip:g}",
            f"clipping threshold {clip:g}: larger gradients are rescaled to this norm",
            color=CLIPPED_COLOR))
    fig = go.Figure(data)
    if not len(steps):
        _message(fig, "no steps yet")
    elif floored.any():
        fig.add_annotation(text=f"{int(floored.sum())} zero norms drawn at {floor:.2g}",
                           xref="paper", yref="paper", x=1, y=0, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(size=11))
    fig.update_yaxes(**LOG_AXIS)
    return _base_layout(fig, "Gradient norm during training (before clipping)",
                        x_title=STEP_AXIS, y_title="‖∂L/∂θ‖ (log scale)")


def compare_loss_chart(histories: dict, chance) -> go.Figure:
    """Training loss of several runs, one line per label (``{"rnn": history, ...}``; labels
    naming a cell get its CELL_COLORS colour), with the chance loss; log y when positive."""
    data = []
    last = 1
    for index, (label, history) in enumerate(histories.items()):
        data.append(_history_line(history.step, history.loss, label,
                                    _cell_color(label, index), f"{label} training loss",
                                    width=1.5))
        if len(history.step):
            last = max(last, int(history.step[-1]))
    data.append(_reference_line(0, last, chance.loss, "chance level",
                                  f"chance loss {chance.loss:.4g}: {chance.how}"))
    fig = go.Figure(data)
    if _log_axis_ok(*(h.loss for h in histories.values()), [chance.loss]):
        fig.update_yaxes(**LOG_AXIS)
    if not any(len(h.step) for h in histories.values()):
        _message(fig, "no steps yet")
    return _base_layout(fig, "Training loss by cell", x_title=STEP_AXIS,
                        y_title="training loss")


# ---------------------------------------------------------------- one example


def _display_char(char: str) -> str:
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(char, char)


def _class_rows(t: np.ndarray, target: np.ndarray, predicted: np.ndarray,
                confidence: np.ndarray, y_position, labels) -> list[go.Scatter]:
    """Predicted classes split into correct / wrong / no-target traces (legend + colour),
    drawn at ``y_position`` (a number or an array like ``predicted``)."""
    y_position = np.broadcast_to(np.asarray(y_position), predicted.shape)
    groups = (("prediction ✓ correct", (target >= 0) & (predicted == target), CORRECT_COLOR),
              ("prediction ✗ wrong", (target >= 0) & (predicted != target), WRONG_COLOR),
              ("prediction (no target)", target < 0, INPUT_COLOR))
    traces = []
    for name, mask, color in groups:
        if not mask.any():
            continue
        text = [labels[int(p)] for p in predicted[mask]]
        traces.append(go.Scatter(
            x=t[mask], y=y_position[mask], name=name, customdata=confidence[mask],
            hovertext=text, text=text, textfont=dict(color=color, size=14),
            marker=dict(color=color, symbol="x", size=9), mode="markers",
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>predicted %{{hovertext}} "
                          f"(p = %{{customdata:.2f}})<extra>{name}</extra>"))
    return traces


def _sine_panel(task, x, y, prediction, t):
    target, predicted = y.reshape(len(t), -1)[:, 0], prediction.reshape(len(t), -1)[:, 0]
    series = (("input x_t (noisy wave)", x[:, 0], INPUT_COLOR, "dot"),
              ("target: next clean value", target, TARGET_COLOR, "solid"),
              ("prediction ŷ_t", predicted, PREDICTION_COLOR, "dash"))
    traces = [go.Scatter(x=t, y=values, name=name, mode="lines",
                         line=dict(color=color, dash=dash, width=2),
                         hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name} %{{y:.3f}}<extra></extra>")
              for name, values, color, dash in series]
    mse = float(np.nanmean((predicted - target) ** 2))
    return traces, f"Sine forecast: one example (MSE {mse:.3g})", "value", {}


def _adding_panel(task, x, y, prediction, t):
    values, marked = x[:, 0], x[:, 1] > 0.5
    target, predicted = float(y.reshape(-1)[0]), float(prediction.reshape(-1)[0])
    last = len(t) - 1
    traces = [
        go.Bar(x=t, y=np.where(marked, np.nan, values), name="value", marker_color="#C8C8C8",
               hovertemplate=f"{TIME_AXIS} = %{{x}}<br>value %{{y:.3f}}<extra></extra>"),
        go.Bar(x=t, y=np.where(marked, values, np.nan), name="marked value (to add)",
               marker_color=VALIDATION_COLOR,
               hovertemplate=f"{TIME_AXIS} = %{{x}}<br>marked value %{{y:.3f}}<extra></extra>"),
    ]
    for name, value, color, size, side in (("target sum", target, TARGET_COLOR, 34, "left"),
                                           ("prediction ŷ", predicted, PREDICTION_COLOR, 22,
                                            "right")):
        traces.append(go.Scatter(
            x=[last], y=[value], name=f"{name} = {value:.3f}", mode="markers+text",
            text=[f"{value:.2f}"], textposition=f"middle {side}", cliponaxis=False,
            textfont=dict(color=color),
            marker=dict(symbol="line-ew-open", size=size, color=color,
                        line=dict(width=4, color=color)),
            hovertemplate=f"{name} %{{y:.3f}} (read at the last step)<extra></extra>"))
    title = (f"Adding problem: sum of the marked values {target:.3f}, "
             f"predicted {predicted:.3f}")
    return traces, title, "value", dict(barmode="overlay", bargap=0.15)


def _copy_panel(task, x, y, prediction, t):
    symbols = x.argmax(axis=-1)
    target = np.asarray(y, dtype=np.float64).reshape(-1).round().astype(np.int64)
    probabilities = _softmax(prediction.reshape(len(t), -1))
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities[np.arange(len(t)), predicted]
    lag = int(np.argmax(target >= 0)) if (target >= 0).any() else len(t)
    has = target >= 0
    labels = [str(k) for k in range(probabilities.shape[-1])]
    traces = [
        go.Scatter(x=t, y=symbols, name="input symbol", mode="markers",
                   marker=dict(color=INPUT_COLOR, size=7),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>input symbol %{{y}}<extra></extra>"),
        go.Scatter(x=t[has], y=target[has], name=f"target: input at t − {lag}",
                   mode="markers",
                   marker=dict(symbol="square-open", size=14, color=TARGET_COLOR,
                               line=dict(width=2, color=TARGET_COLOR)),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>target symbol %{{y}}"
                                 "<extra></extra>"),
        *_class_rows(t, target, predicted, confidence, predicted, labels),
    ]
    accuracy = float((predicted[has] == target[has]).mean()) if has.any() else float("nan")
    title = f"Copy task (lag {lag}): {accuracy:.0%} of the {int(has.sum())} targets recalled"
    layout = dict(yaxis=dict(tickmode="linear", dtick=1,
                             range=[-0.6, probabilities.shape[-1] - 0.4]))
    return traces, title, "symbol", layout


def _parity_panel(task, x, y, prediction, t):
    bits, marked = x[:, 0], x[:, 1] > 0.5
    target = int(round(float(y.reshape(-1)[0])))
    p_one = float(_softmax(prediction.reshape(-1))[1])
    last = len(t) - 1
    traces = [
        go.Scatter(x=t[~marked], y=bits[~marked], name="bit (not marked)", mode="markers",
                   marker=dict(color="#C8C8C8", size=7),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>bit %{{y:.0f}}<extra></extra>"),
        go.Scatter(x=t[marked], y=bits[marked], name="marked bit", mode="markers",
                   marker=dict(color=VALIDATION_COLOR, size=13, symbol="diamond"),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>marked bit %{{y:.0f}}"
                                 "<extra></extra>"),
        go.Scatter(x=[last], y=[target], name=f"target parity = {target}", mode="markers",
                   marker=dict(symbol="square-open", size=22, color=TARGET_COLOR,
                               line=dict(width=3, color=TARGET_COLOR)), cliponaxis=False,
                   hovertemplate="target parity %{y}<extra></extra>"),
        go.Scatter(x=[last], y=[p_one], name=f"predicted P(parity = 1) = {p_one:.2f}",
                   mode="markers+text", text=[f"P(1) = {p_one:.2f}"],
                   textposition="middle left", cliponaxis=False,
                   textfont=dict(color=PREDICTION_COLOR),
                   marker=dict(symbol="x", size=12, color=PREDICTION_COLOR),
                   hovertemplate="predicted P(parity = 1) %{y:.3f}<extra></extra>"),
    ]
    title = (f"Parity of {int(marked.sum())} marked bits = {target}; "
             f"predicted P(1) = {p_one:.2f}")
    layout = dict(yaxis=dict(range=[-0.2, 1.2], tickvals=[0, 0.5, 1]))
    return traces, title, "bit · P(parity = 1)", layout


def _text_panel(task, x, y, prediction, t):
    vocab = [_display_char(c) for c in task.vocab]
    inputs = x.argmax(axis=-1)
    target = np.asarray(y, dtype=np.float64).reshape(-1).round().astype(np.int64)
    probabilities = _softmax(prediction.reshape(len(t), -1))
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities[np.arange(len(t)), predicted]
    rows = {"input": 2, "target": 1, "prediction": 0}
    traces = []
    for name, row, indices, color in (
            ("input x_t", rows["input"], inputs, INPUT_COLOR),
            ("target (next character)", rows["target"], target, TARGET_COLOR)):
        text = [vocab[i] if i >= 0 else "" for i in indices]
        traces.append(go.Scatter(
            x=t, y=np.full(len(t), row), mode="text", text=text, name=name,
            textfont=dict(color=color, size=14, family="monospace"), hovertext=text,
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name}: %{{hovertext}}<extra></extra>"))
    for trace in _class_rows(t, target, predicted, confidence, rows["prediction"], vocab):
        trace.update(mode="text", textfont_family="monospace")
        traces.append(trace)
    has = target >= 0
    accuracy = float((predicted[has] == target[has]).mean()) if has.any() else float("nan")
    title = f"Next character: {accuracy:.0%} of {int(has.sum())} predictions correct"
    layout = dict(yaxis=dict(tickvals=list(rows.values()), ticktext=list(rows),
                             range=[-0.6, 2.6], fixedrange=True))
    return traces, title, "character", layout


_SEQUENCE_PANELS = {"sine": _sine_panel, "adding": _adding_panel, "copy": _copy_panel,
                    "parity": _parity_panel, "text": _text_panel}


def sequence_panel(task, x: np.ndarray, y: np.ndarray, prediction: np.ndarray) -> go.Figure:
    """Input, target and prediction of ONE example on one time axis.

    ``task`` is an ``rnnviz.tasks.Task``; ``x`` ``[T, input]``; ``y`` and ``prediction`` as the
    task gives them for one example: sine ``[T, 1]`` / ``[T, 1]``; adding ``[1]`` / ``[1]``
    (read at the last step); copy ``[T]`` class index, -1 = no target / logits ``[T, C]``;
    parity ``[1]`` / logits ``[2]`` (shown as P(parity = 1) at the last step); text ``[T]`` /
    logits ``[T, vocab]`` (characters as text, predictions green when right, red when wrong).
    Copy and text sequences longer than a screen open on their first steps; dragging pans.
    """
    x = _finite(x)
    if x.ndim == 1:
        x = x[:, None]
    t = np.arange(x.shape[0])
    y, prediction = np.asarray(y), _finite(prediction)
    if task.name in _SEQUENCE_PANELS:
        traces, title, y_title, layout = _SEQUENCE_PANELS[task.name](task, x, y, prediction, t)
    else:  # a task made at run time (an uploaded series) brings its own panel
        traces, title, y_title, layout = task.sequence_panel(x, y, prediction, t)
    fig = go.Figure(traces)
    _base_layout(fig, title, x_title=TIME_AXIS, y_title=y_title, height=360, **layout)
    _integer_ticks(fig, len(t))
    if task.name == "text":
        _time_window(fig, len(t), TEXT_WINDOW)
    elif task.name == "copy":
        _time_window(fig, len(t), SYMBOL_WINDOW)
    return fig


# ---------------------------------------------------------------- hidden states


def state_heatmap(states: np.ndarray, title: str,
                  zrange: tuple[float, float] | None = (-1, 1),
                  colorbar_title: str = "h_t") -> go.Figure:
    """Units x time heatmap of one example's states ``[T, H]`` (z is ``[H, T]``).

    Diverging scale centred on the middle of ``zrange`` (tanh states: the default (-1, 1));
    ``zrange=None`` fits a symmetric range around 0 to the data (relu RNN, LSTM cell c_t).
    """
    return _units_heatmap(states, title, zrange, colorbar_title, colorbar_title)


def unit_lines(states: np.ndarray, units: list[int], title: str,
               value_title: str = "h_t") -> go.Figure:
    """One line per selected unit of ``states [T, H]`` over time; units out of range are
    skipped."""
    states = _finite(states)
    if states.ndim == 1:
        states = states[:, None]
    keep = downsample(states.shape[0], MAX_LINE_POINTS)
    data = []
    for index, unit in enumerate(u for u in units if 0 <= int(u) < states.shape[1]):
        data.append(go.Scatter(
            x=keep, y=states[keep, int(unit)], mode="lines", name=f"unit {int(unit)}",
            line=dict(color=UNIT_COLORS[index % len(UNIT_COLORS)], width=2),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{value_title} = %{{y:.3f}}"
                          f"<extra>unit {int(unit)}</extra>"))
    fig = go.Figure(data)
    if not data:
        _message(fig, "no units selected")
    _integer_ticks(fig, len(keep))
    return _base_layout(fig, title, x_title=TIME_AXIS, y_title=value_title, height=340)


def hidden_brush_chart(states: np.ndarray, units: list[int]) -> alt.VConcatChart:
    """Overview + detail (altair): top, the mean |h_t| over all units per time step with an
    interval brush on x; below, the selected units' lines zoomed to the brushed range.

    ``states`` ``[T, H]``; at most MAX_BRUSH_UNITS units are drawn (the first four when none
    of ``units`` is valid).
    """
    states = _finite(states)
    if states.ndim == 1:
        states = states[:, None]
    steps, hidden = states.shape
    t = downsample(steps, MAX_HEATMAP_COLUMNS)
    chosen = [int(u) for u in units if 0 <= int(u) < hidden][:MAX_BRUSH_UNITS]
    chosen = chosen or list(range(min(4, hidden)))
    overview = pd.DataFrame({"t": t, "mean_abs_h": np.nanmean(np.abs(states[t]), axis=1)})
    detail = pd.DataFrame({
        "t": np.tile(t, len(chosen)),
        "unit": np.repeat([f"unit {u}" for u in chosen], len(t)),
        "h": states[np.ix_(t, chosen)].T.ravel(),
    })
    # start with the whole sequence selected: a scale bound to an empty brush makes Vega's
    # CSP-safe interpreter (the one Streamlit uses) fail on the first draw
    brush = alt.selection_interval(encodings=["x"], name="time_range",
                                   value={"x": [0, max(steps - 1, 1)]})
    time_scale = alt.Scale(domain=[0, max(steps - 1, 1)])
    top = alt.Chart(overview, title="Overview: mean |h_t| over all units (drag to select "
                                    "time steps)").mark_area(
        line=True, opacity=0.4, color=TRAIN_COLOR).encode(
        x=alt.X("t:Q", title=TIME_AXIS, scale=time_scale),
        y=alt.Y("mean_abs_h:Q", title="mean |h_t|"),
        tooltip=[alt.Tooltip("t:Q", title=TIME_AXIS),
                 alt.Tooltip("mean_abs_h:Q", title="mean |h_t|", format=".3f")],
    ).add_params(brush).properties(width=BRUSH_WIDTH_PX, height=90)
    bottom = alt.Chart(detail, title="Detail: selected units in the brushed range").mark_line(
        clip=True).encode(
        x=alt.X("t:Q", title=TIME_AXIS, scale=alt.Scale(domain=brush)),
        y=alt.Y("h:Q", title="h_t", scale=alt.Scale(zero=False)),
        color=alt.Color("unit:N", title=UNIT_AXIS, sort=[f"unit {u}" for u in chosen],
                        legend=alt.Legend(orient="top"),
                        scale=alt.Scale(range=list(UNIT_COLORS))),
        tooltip=[alt.Tooltip("t:Q", title=TIME_AXIS), alt.Tooltip("unit:N", title="unit"),
                 alt.Tooltip("h:Q", title="h_t", format=".3f")],
    ).properties(width=BRUSH_WIDTH_PX, height=240)
    return alt.vconcat(top, bottom).properties(
        title="Hidden state over time: overview and detail")


def pca_trajectory(projected: np.ndarray, explained: np.ndarray, dims: int = 2) -> go.Figure:
    """The hidden-state trajectory of one example in PCA space: ``projected [T, k >= 2]``
    (``rnnviz.analysis.pca(...).projected[b]``), ``explained [k]`` shares of variance.

    Line + markers coloured by time step (sequential scale, colorbar "time step t"), start and
    end marked; a 3D scatter when ``dims == 3`` and k >= 3.
    """
    projected = _finite(projected)
    if projected.ndim == 1:
        projected = projected[:, None]
    explained = np.asarray(explained, dtype=np.float64).reshape(-1)
    dims = 3 if dims == 3 else 2
    if projected.shape[1] < dims:  # fewer components than asked: pad with zeros
        projected = np.pad(projected, ((0, 0), (0, dims - projected.shape[1])))
    explained = np.pad(explained, (0, max(0, dims - len(explained))))
    keep = downsample(projected.shape[0], MAX_LINE_POINTS)
    coords, t = projected[keep, :dims], keep
    titles = [f"PC{k + 1} ({100 * explained[k]:.1f}% var)" for k in range(dims)]
    last = int(t[-1]) if len(t) else 0
    colorbar = dict(title=dict(text=TIME_AXIS, side="right"), thickness=14, len=0.8)
    marker = dict(color=t, colorscale=SEQUENTIAL, cmin=0, cmax=max(last, 1), size=5,
                  colorbar=colorbar, showscale=True)
    axes_hover = "<br>".join(f"PC{k + 1} %{{{axis}:.3f}}" for k, axis in
                             zip(range(dims), "xyz"))
    hover = f"{TIME_AXIS} = %{{customdata}}<br>{axes_hover}<extra></extra>"
    ends = [("start (t = 0)", 0, "#222222", "circle-open" if dims == 3 else "star"),
            (f"end (t = {last})", -1, PREDICTION_COLOR, "square" if dims == 3 else "x")]
    if dims == 2:
        fig = go.Figure(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="lines+markers",
                                   name="trajectory", customdata=t, hovertemplate=hover,
                                   line=dict(color="#BBBBBB", width=1.5), marker=marker))
        for name, index, color, symbol in ends if len(t) else ():
            fig.add_trace(go.Scatter(x=coords[[index], 0], y=coords[[index], 1],
                                     mode="markers", name=name, customdata=t[[index]],
                                     hovertemplate=hover, cliponaxis=False,
                                     marker=dict(color=color, size=15, symbol=symbol)))
        layout = dict(xaxis_title=titles[0], yaxis_title=titles[1])
    else:
        fig = go.Figure(go.Scatter3d(
            x=coords[:, 0], y=coords[:, 1], z=coords[:, 2], mode="lines+markers",
            name="trajectory", customdata=t, hovertemplate=hover, marker=marker,
            line=dict(color=t, colorscale=SEQUENTIAL, cmin=0, cmax=max(last, 1), width=4)))
        for name, index, color, symbol in ends if len(t) else ():
            fig.add_trace(go.Scatter3d(x=coords[[index], 0], y=coords[[index], 1],
                                       z=coords[[index], 2], mode="markers", name=name,
                                       customdata=t[[index]], hovertemplate=hover,
                                       marker=dict(color=color, size=8, symbol=symbol)))
        layout = dict(scene=dict(xaxis_title=titles[0], yaxis_title=titles[1],
                                 zaxis_title=titles[2]))
    shown = 100 * float(explained[:dims].sum())
    return _base_layout(fig, f"Hidden-state trajectory in PCA space (PC1–{dims}: "
                             f"{shown:.0f}% of the variance)",
                        height=460 if dims == 2 else 540, **layout)


# ---------------------------------------------------------------- gates


def _gate_label(name: str) -> str:
    return f"{name} — {GATE_WORDS.get(name, 'gate')}"


def gate_heatmap(gate: np.ndarray, name: str, cell: str) -> go.Figure:
    """Units x time heatmap of one gate of one example, ``gate [T, H]`` (PyTorch gate name:
    LSTM i f g o, GRU r z n). Sigmoid gates on [0, 1] (white = 0.5), the tanh candidates
    g and n on [-1, 1] (white = 0), both on the diverging scale."""
    if name in TANH_GATES:
        zrange, scale = (-1.0, 1.0), "tanh, −1…1<br>white = 0"
    else:
        zrange, scale = (0.0, 1.0), "sigmoid, 0…1<br>white = 0.5"
    # short enough for a half-width column: the page says "per unit and step" around it
    title = f"{CELL_NAMES.get(cell, cell)} {_gate_label(name)}"
    return _units_heatmap(gate, title, zrange, f"{name}_t<br>{scale}", f"{name}_t")


def gate_means(gates: dict[str, np.ndarray], cell: str, band: bool = True) -> go.Figure:
    """Mean over units of each gate ``[T, H]`` per time step, one line per gate, with a shaded
    band from the 10th to the 90th percentile over units when ``band``."""
    data = []
    for name, values in gates.items():
        values = _finite(values)
        if values.ndim == 1:
            values = values[:, None]
        t = downsample(values.shape[0], MAX_LINE_POINTS)
        values = values[t]
        color = GATE_COLORS.get(name, REFERENCE_COLOR)
        if band:
            percentile = np.percentile if np.isfinite(values).all() else np.nanpercentile
            low, high = percentile(values, [10, 90], axis=1)  # nanpercentile is 10x slower
            data.append(go.Scatter(x=t, y=high, mode="lines", line=dict(width=0),
                                     legendgroup=name, showlegend=False, hoverinfo="skip"))
            data.append(go.Scatter(x=t, y=low, mode="lines", line=dict(width=0),
                                     fill="tonexty", fillcolor=_rgba(color, 0.15),
                                     legendgroup=name, showlegend=False, hoverinfo="skip"))
        data.append(go.Scatter(
            x=t, y=np.nanmean(values, axis=1), mode="lines", name=_gate_label(name),
            legendgroup=name, line=dict(color=color, width=2),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>mean {name}_t = %{{y:.3f}}"
                          f"<extra>{_gate_label(name)}</extra>"))
    fig = go.Figure(data)
    if not gates:
        _message(fig, f"a {CELL_NAMES.get(cell, cell)} has no gates")
    _integer_ticks(fig, max((len(v) for v in gates.values()), default=0))
    low = -1.05 if TANH_GATES & set(gates) else -0.05
    subtitle = " (band: 10–90% of units)" if band and gates else ""
    return _base_layout(fig, f"{CELL_NAMES.get(cell, cell)} gates: mean over units"
                             f"{subtitle}", x_title=TIME_AXIS,
                        y_title="mean activation over units", yaxis_range=[low, 1.05])


def saturation_scatter(saturation: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Per sigmoid gate, one point per unit: x = share of (example, step) pairs where the gate
    is left-saturated (< 0.1), y = right-saturated (> 0.9) (Karpathy, Johnson & Fei-Fei 2015;
    ``rnnviz.analysis.gate_saturation``). Points on the diagonal x + y = 1 are always
    saturated; near the origin, never. The tanh candidates (g, n) are skipped."""
    data = [go.Scatter(
        x=[0, 1], y=[1, 0], mode="lines", name="x + y = 1 (always saturated)",
        line=dict(color=REFERENCE_COLOR, dash="dash", width=1), hoverinfo="skip")]
    for name, (left, right) in saturation.items():
        if name in TANH_GATES:
            continue
        left, right = _finite(left).reshape(-1), _finite(right).reshape(-1)
        data.append(go.Scatter(
            x=left, y=right, mode="markers", name=_gate_label(name), cliponaxis=False,
            customdata=np.arange(len(left)),
            marker=dict(color=GATE_COLORS.get(name, REFERENCE_COLOR), size=9, opacity=0.8,
                        line=dict(width=0.5, color="white")),
            hovertemplate=f"unit %{{customdata}}<br>{name} < {SATURATION_LOW:g}: %{{x:.0%}} "
                          f"of the time<br>{name} > {SATURATION_HIGH:g}: %{{y:.0%}} of the "
                          f"time<extra>{_gate_label(name)}</extra>"))
    fig = go.Figure(data)
    if len(data) == 1:
        _message(fig, "no sigmoid gates (a vanilla RNN has none)")
    fig.update_xaxes(range=[0, 1], tickformat=".0%", constrain="domain")
    fig.update_yaxes(range=[0, 1], tickformat=".0%", scaleanchor="x", constrain="domain")
    return _base_layout(fig, "Gate saturation per unit",
                        x_title=f"fraction left-saturated (< {SATURATION_LOW:g})",
                        y_title=f"fraction right-saturated (> {SATURATION_HIGH:g})",
                        height=480)


# ---------------------------------------------------------------- gradients


def _positive_line(x: np.ndarray, values, name: str, color: str, value_name: str,
                   **kwargs) -> go.Scatter:
    """A line on a log axis: zeros drawn at the floor with a hover that says so."""
    drawn, floored, floor = _log_safe(values)
    notes = [f"0 (drawn at {floor:.2g}: a log axis cannot show 0)" if zero else f"{v:.3g}"
             for v, zero in zip(_finite(values), floored)]
    return go.Scatter(x=x, y=drawn, name=name, hovertext=notes,
                      line=dict(color=color, width=2),
                      hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{value_name} = %{{hovertext}}"
                                    f"<extra>{name}</extra>", **kwargs)


def gradient_profile(grad_h: np.ndarray, spectral_radius: float | None,
                     title: str = "Gradient reaching each time step: ‖∂L/∂h_t‖") -> go.Figure:
    """||dL/dh_t|| against t on a log axis (``grad_h [T]``, e.g. ``trace.grad_h[-1].mean(0)``).

    With ``spectral_radius`` rho > 0, the dashed reference ``c * rho**(T-1-t)`` anchored at the
    last step's value (or the last positive one): how the gradient would shrink (rho < 1) or
    grow (rho > 1) if each step back multiplied it by rho. Reference points far outside the
    data's range (beyond 100x) are left out so they don't squash the measured curve.
    Zeros are drawn at the smallest positive value (marked in the hover); NaN are gaps.
    """
    grad_h = _finite(grad_h).reshape(-1)
    steps = len(grad_h)
    t = np.arange(steps)
    fig = go.Figure(_positive_line(t, grad_h, "measured ‖∂L/∂h_t‖", TRAIN_COLOR,
                                   "‖∂L/∂h_t‖", mode="lines+markers", marker=dict(size=4)))
    positive = np.flatnonzero(grad_h > 0)
    if spectral_radius is not None and math.isfinite(spectral_radius) and \
            spectral_radius > 0 and positive.size:
        anchor = positive[-1]
        # in log space: rho ** 400 overflows for rho = 3
        log_reference = np.log(grad_h[anchor]) + (anchor - t) * math.log(spectral_radius)
        log_low, log_high = np.log(grad_h[positive]).min(), np.log(grad_h[positive]).max()
        in_view = (log_reference >= log_low - math.log(100)) & \
                  (log_reference <= log_high + math.log(100))
        reference = np.where(in_view, np.exp(np.where(in_view, log_reference, 0.0)), np.nan)
        fig.add_trace(go.Scatter(
            x=t, y=reference, mode="lines",
            name=f"c·ρ^(T−1−t), ρ = spectral radius of W_hh = {spectral_radius:.2f}",
            line=dict(color=REFERENCE_COLOR, dash="dash", width=1.5),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>c·ρ^(T−1−t) = %{{y:.3g}}<extra>if each "
                          f"step back multiplied the gradient by ρ = {spectral_radius:.3g}"
                          "</extra>"))
    if not steps:
        _message(fig, "no gradient recorded")
    _integer_ticks(fig, steps)
    fig.update_yaxes(**LOG_AXIS)
    return _base_layout(fig, title, x_title=TIME_AXIS, y_title="‖∂L/∂h_t‖ (log scale)")


def compare_gradient_chart(profiles: dict[str, np.ndarray]) -> go.Figure:
    """||dL/dh_t|| against t for several runs, one line per label (cell colours), log y."""
    data = []
    for index, (label, profile) in enumerate(profiles.items()):
        profile = _finite(profile).reshape(-1)
        data.append(_positive_line(np.arange(len(profile)), profile, label,
                                     _cell_color(label, index), "‖∂L/∂h_t‖", mode="lines"))
    fig = go.Figure(data)
    if not profiles:
        _message(fig, "no runs to compare")
    _integer_ticks(fig, max((len(np.ravel(p)) for p in profiles.values()), default=0))
    fig.update_yaxes(**LOG_AXIS)
    return _base_layout(fig, "Gradient reaching each time step, by cell",
                        x_title=TIME_AXIS, y_title="‖∂L/∂h_t‖ (log scale)")


def probe_heatmap(probe_step: np.ndarray, probe_grad: np.ndarray) -> go.Figure:
    """How the gradient reaching each time step changed during training: x = time step t,
    y = training step of the probe snapshot (true step numbers), colour = log10 ||dL/dh_t||
    on the sequential scale (a magnitude, not a signed value). ``probe_step [S]``,
    ``probe_grad [S, T]`` (``history.probe_step`` / ``history.probe_grad``); zeros are floored
    to the smallest positive value."""
    probe_step = np.asarray(probe_step).reshape(-1)
    probe_grad = _finite(probe_grad)
    fig = go.Figure()
    if probe_step.size == 0 or probe_grad.size == 0:
        _message(fig, "no snapshots yet")
    else:
        rows = downsample(probe_grad.shape[0], MAX_HEATMAP_ROWS)
        t = downsample(probe_grad.shape[1], MAX_HEATMAP_COLUMNS)
        values = probe_grad[np.ix_(rows, t)]
        drawn, _, _ = _log_safe(values)
        z = np.log10(drawn)
        finite = z[np.isfinite(z)]
        zmin, zmax = (float(finite.min()), float(finite.max())) if finite.size else (0.0, 1.0)
        fig.add_trace(_heatmap(
            z, t, probe_step[rows], colorscale=SEQUENTIAL, zmin=zmin,
            zmax=zmax if zmax > zmin else zmin + 1, zmid=None,
            colorbar_title="log10 ‖∂L/∂h_t‖", customdata=values,
            hovertemplate=f"training step %{{y}}<br>{TIME_AXIS} = %{{x}}<br>‖∂L/∂h_t‖ = "
                          "%{customdata:.3g} (log10 %{z:.2f})"))
        _integer_ticks(fig, len(t))
    return _base_layout(fig, "Gradient reaching each time step, over training",
                        x_title=TIME_AXIS, y_title=STEP_AXIS, height=420)


def parameter_grad_bars(norms: dict[str, float]) -> go.Figure:
    """One horizontal bar per parameter (``{"rnn.weight_hh_l0": 0.12, ...}``), ||dL/dW`` on a
    log x axis, top to bottom in the given order; zero norms are drawn at the floor."""
    names = list(norms)
    values = _finite([norms[n] for n in names])
    drawn, floored, floor = _log_safe(values)
    labels = [f"{v:.3g}" if not z else "0" for v, z in zip(values, floored)]
    fig = go.Figure(go.Bar(
        x=drawn, y=names, orientation="h", marker_color=TRAIN_COLOR, text=labels,
        textposition="outside", cliponaxis=False, customdata=labels,
        hovertemplate="%{y}<br>‖∂L/∂W‖ = %{customdata}<extra></extra>"))
    if not names:
        _message(fig, "no parameters")
    fig.update_xaxes(**LOG_AXIS)
    fig.update_yaxes(autorange="reversed", type="category")
    return _base_layout(fig, "Gradient norm of each parameter tensor",
                        x_title="‖∂L/∂W‖ (log scale)", y_title="parameter",
                        height=int(np.clip(110 + 28 * len(names), 260, 700)))


def saliency_chart(grad_x: np.ndarray, log_y: bool = False) -> go.Figure:
    """Input saliency ||dL/dx_t|| per time step (``grad_x [T]``, e.g.
    ``trace.grad_x[b]``): which inputs the loss is sensitive to. Bars; log y optional."""
    grad_x = _finite(grad_x).reshape(-1)
    drawn = _log_safe(grad_x)[0] if log_y else grad_x
    fig = go.Figure(go.Bar(
        x=np.arange(len(grad_x)), y=drawn, marker_color=TRAIN_COLOR, customdata=grad_x,
        name="‖∂L/∂x_t‖",
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖∂L/∂x_t‖ = %{{customdata:.3g}}"
                      "<extra></extra>"))
    if log_y:
        fig.update_yaxes(**LOG_AXIS)
    if not len(grad_x):
        _message(fig, "no gradient recorded")
    _integer_ticks(fig, len(grad_x))
    return _base_layout(fig, "Input saliency: ‖∂L/∂x_t‖ at each time step",
                        x_title=TIME_AXIS,
                        y_title="‖∂L/∂x_t‖" + (" (log scale)" if log_y else ""), height=320)


# ---------------------------------------------------------------- weights


def singular_value_chart(spectra: list) -> go.Figure:
    """Singular values of each square block of W_hh (``rnnviz.analysis.recurrent_spectra``),
    largest first, one line per block ("layer 0 · f"), with a reference line at 1: values
    above 1 stretch the state along some direction, below 1 shrink it."""
    data = []
    longest = 1
    for index, spectrum in enumerate(spectra):
        values = _finite(spectrum.singular_values).reshape(-1)
        longest = max(longest, len(values))
        label = f"layer {spectrum.layer}" + (f" · {spectrum.gate}" if spectrum.gate else "")
        color = GATE_COLORS.get(spectrum.gate, UNIT_COLORS[index % len(UNIT_COLORS)])
        data.append(go.Scatter(
            x=np.arange(1, len(values) + 1), y=values, mode="lines+markers",
            name=f"{label} (ρ = {spectrum.spectral_radius:.2f})",
            line=dict(color=color, width=2, dash=("solid", "dash", "dot")[spectrum.layer % 3]),
            marker=dict(size=5),
            hovertemplate=f"σ_%{{x}} = %{{y:.3f}}<extra>{label}, spectral radius "
                          f"{spectrum.spectral_radius:.3f}</extra>"))
    data.append(_reference_line(1, longest, 1.0, "σ = 1",
                                  "σ = 1: neither stretches nor shrinks"))
    fig = go.Figure(data)
    _integer_ticks(fig, longest, start=1)
    if spectra:
        top = max(spectra, key=lambda s: s.spectral_radius)
        where = f"layer {top.layer}" + (f" · {top.gate}" if top.gate else "")
        title = (f"Singular values of W_hh (largest spectral radius ρ = "
                 f"{top.spectral_radius:.2f}, {where})")
    else:
        title = "Singular values of W_hh"
        _message(fig, "no recurrent weights")
    return _base_layout(fig, title, x_title="index k (largest first)",
                        y_title="singular value σ_k", height=400,
                        legend="top" if len(spectra) <= 4 else "right")


# ---------------------------------------------------------------- diagram


class _Drawing:
    """Shapes and annotations collected in lists and handed to plotly once (plotly's
    add_shape / add_annotation revalidate the whole layout on every call: 0.6 s for the
    diagram)."""

    def __init__(self) -> None:
        self.shapes: list[dict] = []
        self.annotations: list[dict] = []

    def text(self, x: float, y: float, text: str, size: int = 12, color: str = "#444444",
             **kwargs) -> None:
        self.annotations.append(dict(x=x, y=y, xref="x", yref="y", text=text, showarrow=False,
                                     font=dict(size=size, color=color), **kwargs))

    def box(self, cx: float, cy: float, width: float, height: float, label: str, fill: str,
            line: str) -> None:
        self.shapes.append(dict(type="rect", xref="x", yref="y", x0=cx - width / 2,
                                x1=cx + width / 2, y0=cy - height / 2, y1=cy + height / 2,
                                fillcolor=fill, line=dict(color=line, width=1.5),
                                layer="below"))
        self.text(cx, cy, label, size=15, color="#2A3F5F")

    def arrow(self, start: tuple[float, float], end: tuple[float, float], label: str = "",
              label_offset: tuple[float, float] = (0.0, 0.0)) -> None:
        self.annotations.append(dict(x=end[0], y=end[1], ax=start[0], ay=start[1], xref="x",
                                     yref="y", axref="x", ayref="y", showarrow=True,
                                     arrowhead=2, arrowsize=1.1, arrowwidth=1.6,
                                     arrowcolor="#444444", text=""))
        if label:
            self.text((start[0] + end[0]) / 2 + label_offset[0],
                      (start[1] + end[1]) / 2 + label_offset[1], label)


def unrolled_diagram(steps: int = 4, cell: str = "rnn") -> go.Figure:
    """The recurrence folded (a box h with a self-loop, input x below, output y above) = the
    same network unrolled over ``steps`` time steps (1-8): h_0 ... h_{steps-1}, each fed by
    x_t and by the previous state through W_hh, each read out as ŷ_t. Drawn with shapes and
    annotations; hover a box for its equation."""
    steps = int(np.clip(steps, 1, 8))
    state_fill, input_fill, output_fill = "#D1E5F0", "#EEEEEE", "#FDDBC7"  # RdBu tints
    state = "h<sub>{t}</sub>, c<sub>{t}</sub>" if cell == "lstm" else "h<sub>{t}</sub>"
    update = {"rnn": "h_t = tanh(W_ih x_t + b_ih + W_hh h_(t−1) + b_hh)",
              "lstm": "c_t = f_t ⊙ c_(t−1) + i_t ⊙ g_t;  h_t = o_t ⊙ tanh(c_t)",
              "gru": "h_t = (1 − z_t) ⊙ n_t + z_t ⊙ h_(t−1)"}.get(cell, "h_t = f(x_t, h_(t−1))")
    box_w, box_h, io_w, io_h, io_y = 1.0, 0.8, 0.75, 0.5, 1.5
    draw = _Drawing()
    hover_x, hover_y, hover_text = [], [], []

    def column(cx: float, t: str, hover_t: str) -> None:
        draw.box(cx, 0, box_w, box_h, state.format(t=t), state_fill, "#4393C3")
        draw.box(cx, -io_y, io_w, io_h, f"x<sub>{t}</sub>", input_fill, "#999999")
        draw.box(cx, io_y, io_w, io_h, f"ŷ<sub>{t}</sub>", output_fill, "#D6604D")
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
                            line=dict(color="#444444", width=1.6)))
    draw.arrow((0.62, -0.31), (0.5, -0.2))
    for x, y, text in ((1.15, 0.5, "W<sub>hh</sub>"), (0.08, -0.95, "W<sub>ih</sub>"),
                       (0.08, 0.95, "head")):
        draw.text(x, y, text, xanchor="left")
    draw.text(1.9, 0, "=", size=30, color="#2A3F5F")

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
    draw.text(right + 0.85, 0, "…", size=20, color="#2A3F5F")

    fig = go.Figure(go.Scatter(x=hover_x, y=hover_y, mode="markers", hovertext=hover_text,
                               marker=dict(size=36, color="rgba(0,0,0,0)"),
                               hovertemplate="%{hovertext}<extra></extra>", showlegend=False))
    fig.update_layout(shapes=draw.shapes, annotations=draw.annotations)
    fig.update_xaxes(visible=False, range=[-0.8, right + 1.2], fixedrange=True)
    fig.update_yaxes(visible=False, range=[-2.0, 2.0], scaleanchor="x", scaleratio=1,
                     fixedrange=True)
    article = "An" if cell == "lstm" else "A"
    return _base_layout(fig, f"{article} {CELL_NAMES.get(cell, cell)} folded (left) and "
                             "unrolled through time (right)",
                        height=330, margin=dict(l=10, r=10, t=60, b=10))
