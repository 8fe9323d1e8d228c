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

import numpy as np
import plotly.graph_objects as go

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
TRAIN_COLOR = "#0072B2"
VALIDATION_COLOR = "#E69F00"
TARGET_COLOR = "#0072B2"
PREDICTION_COLOR = "#D55E00"
INPUT_COLOR = "#8C8C8C"
REFERENCE_COLOR = "#555555"  # chance level, reference lines
CORRECT_COLOR = "#1A9850"
WRONG_COLOR = "#D73027"
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
