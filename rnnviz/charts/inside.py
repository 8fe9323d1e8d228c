"""Inside views: hidden states (heatmap, selected units, brushable chart, PCA path) and gates
(heatmaps, means over time, saturation)."""

from __future__ import annotations

import altair as alt
import numpy as np
import pandas as pd
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.palette import (
    CELL_NAMES,
    END_COLOR,
    GATE_COLORS,
    INK,
    MARKERS,
    MEASURED_COLOR,
    OTHER_COLOR,
    PAPER,
    REFERENCE_COLOR,
    START_COLOR,
    UNIT_COLORS,
    rgba,
)
from rnnviz.charts.style import (
    BRUSH_WIDTH_PX,
    GATE_WORDS,
    MAX_BRUSH_UNITS,
    MAX_HEATMAP_COLUMNS,
    MAX_LINE_POINTS,
    SEQUENTIAL,
    TANH_GATES,
    TIME_AXIS,
    UNIT_AXIS,
    _base_layout,
    _finite,
    _integer_ticks,
    _message,
    _units_heatmap,
    downsample,
    title_height,
    wrap_lines,
)
from rnnviz.core.analysis import SATURATION_HIGH, SATURATION_LOW


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
    # vega-lite draws a list of strings as lines: titles wrap as plotly's do
    top = alt.Chart(overview, title=wrap_lines("Overview: mean |h_t| over all units (drag to "
                                               "select time steps)")).mark_area(
        line=True, opacity=0.4, color=MEASURED_COLOR).encode(
        x=alt.X("t:Q", title=TIME_AXIS, scale=time_scale),
        y=alt.Y("mean_abs_h:Q", title="mean |h_t|"),
        tooltip=[alt.Tooltip("t:Q", title=TIME_AXIS),
                 alt.Tooltip("mean_abs_h:Q", title="mean |h_t|", format=".3f")],
    ).add_params(brush).properties(width=BRUSH_WIDTH_PX, height=90)
    bottom = alt.Chart(detail, title=wrap_lines("Detail: selected units in the brushed "
                                                "range")).mark_line(
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
        title=wrap_lines("Hidden state over time: overview and detail"),
        description=f"Mean |h_t| over time above the values of units "
                    f"{', '.join(str(u) for u in chosen)} in the brushed time range",
        # drawn on a canvas: vega-lite gives the SVG of an interval brush's rectangles no text
        # alternative (axe-core's svg-img-alt), and the description above says what it shows
        usermeta={"embedOptions": {"renderer": "canvas"}},
    )


def pca_trajectory(projected: np.ndarray, explained: np.ndarray, dims: int = 2) -> go.Figure:
    """The hidden-state trajectory of one example in PCA space: ``projected [T, k >= 2]``
    (``rnnviz.core.analysis.pca(...).projected[b]``), ``explained [k]`` shares of variance.

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
    ends = [("start (t = 0)", 0, START_COLOR, MARKERS["start"]),
            (f"end (t = {last})", -1, END_COLOR, MARKERS["end"])]
    if dims == 2:
        fig = go.Figure(go.Scatter(x=coords[:, 0], y=coords[:, 1], mode="lines+markers",
                                   name="trajectory", customdata=t, hovertemplate=hover,
                                   line=dict(color=OTHER_COLOR, width=1.5), marker=marker))
        for name, index, color, symbol in ends if len(t) else ():
            fig.add_trace(go.Scatter(x=coords[[index], 0], y=coords[[index], 1],
                                     mode="markers", name=name, customdata=t[[index]],
                                     hovertemplate=hover, cliponaxis=False,
                                     marker=dict(color=color, size=13, symbol=symbol,
                                                 line=dict(color=INK, width=1.5))))
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
                                       marker=dict(color=color, size=7, symbol=symbol,
                                                   line=dict(color=INK, width=1.5))))
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
                                     fill="tonexty", fillcolor=rgba(color, 0.15),
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
    subtitle = "<br><sup>band: 10–90% of units</sup>" if band and gates else ""
    return _base_layout(fig, f"{CELL_NAMES.get(cell, cell)} gates: mean over units"
                             f"{subtitle}", x_title=TIME_AXIS,
                        y_title="mean activation over units", yaxis_range=[low, 1.05])


SATURATION_BIN = 0.1  # units closer than this on both axes share one counted marker
MAX_LISTED_UNITS = 16


def _saturation_groups(left: np.ndarray, right: np.ndarray):
    """Units binned to SATURATION_BIN on both axes: ``(x, y, units)`` per occupied bin, at the
    bin's centre, units in order; units with a non-finite share are left out."""
    finite = np.isfinite(left) & np.isfinite(right)
    keys = {}
    for unit in np.flatnonzero(finite):
        key = (int(round(left[unit] / SATURATION_BIN)), int(round(right[unit] / SATURATION_BIN)))
        keys.setdefault(key, []).append(int(unit))
    return [(kx * SATURATION_BIN, ky * SATURATION_BIN, units)
            for (kx, ky), units in sorted(keys.items())]


def _share_range(values: np.ndarray) -> str:
    low, high = float(values.min()), float(values.max())
    return f"{low:.0%}" if round(low, 2) == round(high, 2) else f"{low:.0%}–{high:.0%}"


def saturation_scatter(saturation: dict[str, tuple[np.ndarray, np.ndarray]]) -> go.Figure:
    """Per sigmoid gate, a panel of its units: x = share of (example, step) pairs where the
    gate is left-saturated (< 0.1), y = right-saturated (> 0.9) (Karpathy, Johnson & Fei-Fei
    2015; ``rnnviz.core.analysis.gate_saturation``). Points on the diagonal x + y = 1 are
    always saturated; near the origin, never. The tanh candidates (g, n) are skipped.

    Many units sit at the same spot (never saturated, always open), so units within
    SATURATION_BIN of each other on both axes are one marker, sized by and labelled with its
    count; the hover names the units and their exact shares. Every unit is counted once."""
    gates = [(name, _finite(left).reshape(-1), _finite(right).reshape(-1))
             for name, (left, right) in saturation.items() if name not in TANH_GATES]
    columns = max(len(gates), 1)
    fig = make_subplots(rows=1, cols=columns, horizontal_spacing=0.09 if columns > 1 else 0,
                        subplot_titles=[f"{name}: {GATE_WORDS.get(name, 'gate').split()[0]}"
                                        for name, _, _ in gates] or None)
    for col, (name, left, right) in enumerate(gates, start=1):
        fig.add_trace(go.Scatter(
            x=[0, 1], y=[1, 0], mode="lines", name="x + y = 1 (always saturated)",
            legendgroup="diagonal", showlegend=col == 1,
            line=dict(color=REFERENCE_COLOR, dash="dash", width=1), hoverinfo="skip"),
            row=1, col=col)
        groups = _saturation_groups(left, right)
        counts = np.array([len(units) for _, _, units in groups])
        listed = [", ".join(str(u) for u in units[:MAX_LISTED_UNITS])
                  + (f", … ({len(units)} in all)" if len(units) > MAX_LISTED_UNITS else "")
                  for _, _, units in groups]
        hover = [f"{len(units)} unit{'s' if len(units) > 1 else ''}: {names}<br>"
                 f"{name} < {SATURATION_LOW:g}: {_share_range(left[units])} of the time<br>"
                 f"{name} > {SATURATION_HIGH:g}: {_share_range(right[units])} of the time"
                 for (_, _, units), names in zip(groups, listed)]
        fig.add_trace(go.Scatter(
            x=[x for x, _, _ in groups], y=[y for _, y, _ in groups], mode="markers+text",
            name=_gate_label(name), cliponaxis=False,
            customdata=[[len(units), ",".join(map(str, units))] for _, _, units in groups],
            hovertext=hover, text=[str(c) if c > 1 else "" for c in counts],
            textfont=dict(color=PAPER, size=11),
            marker=dict(color=GATE_COLORS.get(name, REFERENCE_COLOR), opacity=0.9,
                        size=np.minimum(10 + 4 * np.sqrt(np.maximum(counts - 1, 0)), 34),
                        line=dict(width=1, color=PAPER)),
            hovertemplate=f"%{{hovertext}}<extra>{_gate_label(name)}</extra>"), row=1, col=col)
        fig.update_xaxes(title_text=f"shut (< {SATURATION_LOW:g})", row=1, col=col)
        # the panels share the y scale: numbers on the first only, where there is room
        fig.update_yaxes(title_text=f"open (> {SATURATION_HIGH:g})" if col == 1 else
                         f"> {SATURATION_HIGH:g}", showticklabels=col == 1, title_standoff=4,
                         row=1, col=col)
    if not gates:
        _message(fig, "no sigmoid gates (a vanilla RNN has none)")
        fig.update_xaxes(title_text=f"share of the time < {SATURATION_LOW:g}")
        fig.update_yaxes(title_text=f"share of the time > {SATURATION_HIGH:g}")
    share = dict(range=[-0.12, 1.12], tickvals=[0, 0.5, 1], ticktext=["0", "50%", "100%"],
                 tickangle=0, tickfont=dict(size=11))
    fig.update_xaxes(**share)
    fig.update_yaxes(**share)
    for annotation in fig.layout.annotations:  # the panels' titles, over their panels
        annotation.update(font=dict(size=13))
    title = ("Gate saturation: how often each unit's gate is shut or open<br>"
             "<sup>a number on a dot: that many units at one spot</sup>")
    return _base_layout(fig, title, height=400, margin=dict(t=title_height(title) + 30))
