"""Figure builders for the applications (forecasting, text) and the lessons.

Same visual language as ``rnnviz.charts`` (its scales, colours, axis names and layout helper):
signed activations on the one diverging scale centred on zero, time on "time step t", a title,
axis titles, hover text with the numbers and a legend whenever more than one trace is named.
Pure functions, no Streamlit.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.palette import (
    INK,
    INPUT_COLOR,
    MEASURED_COLOR,
    NEGATIVE_COLOR,
    OTHER_COLOR,
    PAPER,
    POSITIVE_COLOR,
    PREDICTION_COLOR,
    REFERENCE_COLOR,
    SERIES_COLORS,
    SINGLED_OUT_COLOR,
    TARGET_COLOR,
    UNIT_COLORS,
    WRONG_COLOR,
    rgba,
    series_color,
)
from rnnviz.charts.sequences import _display_char
from rnnviz.charts.style import (
    DIVERGING,
    TIME_AXIS,
    UNIT_AXIS,
    _base_layout,
    _finite,
    _log_axis,
    _message,
)
from rnnviz.studies.generate import drift_words

GRID_COLUMNS = 48  # characters per row of the text grid
GRID_ROW_PX = 30
CANDIDATES = 5


# ---------------------------------------------------------------- forecasting


def forecast_chart(fc) -> go.Figure:
    """A closed-loop forecast (``rnnviz.studies.generate.Forecast``) against the truth.

    Top: the clean wave (truth), the noisy prompt the model read, its one-step predictions while
    reading, and the forecast made on its own predictions, with the tolerance band around the
    truth over the horizon and a marker where the forecast first leaves it. Bottom: the
    forecast's error |ŷ − y| per step ahead, with the tolerance as a dashed line.
    """
    prompt, horizon = fc.prompt_length, fc.horizon
    t_all = np.arange(prompt + horizon)
    t_ahead = np.arange(prompt, prompt + horizon)
    truth = _finite(fc.truth)
    error = np.abs(_finite(fc.error))
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.72, 0.28],
                        vertical_spacing=0.06)
    band_low, band_high = truth[prompt:] - fc.tolerance, truth[prompt:] + fc.tolerance
    fig.add_trace(go.Scatter(x=t_ahead, y=band_high, mode="lines", line=dict(width=0),
                             showlegend=False, hoverinfo="skip"), row=1, col=1)
    fig.add_trace(go.Scatter(x=t_ahead, y=band_low, mode="lines", line=dict(width=0),
                             fill="tonexty", fillcolor=rgba(TARGET_COLOR, 0.12),
                             name=f"tolerance ±{fc.tolerance:g}", hoverinfo="skip"),
                  row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t_all, y=truth, mode="lines", name="truth (clean wave)",
        line=dict(color=TARGET_COLOR, width=2),
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>truth %{{y:.3f}}<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=np.arange(prompt), y=_finite(fc.observed), mode="markers",
        name="prompt: noisy values the model read", marker=dict(color=INPUT_COLOR, size=5),
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>observed %{{y:.3f}}<extra></extra>"),
        row=1, col=1)
    fig.add_trace(go.Scatter(
        x=np.arange(1, prompt + 1), y=_finite(fc.one_step), mode="lines",
        name="one-step predictions while reading",
        line=dict(color=PREDICTION_COLOR, width=1.5, dash="dot"),
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>predicted from the values read so far %{{y:.3f}}"
                      "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t_ahead, y=_finite(fc.forecast), mode="lines", name="forecast on its own predictions",
        line=dict(color=PREDICTION_COLOR, width=2.5),
        customdata=np.arange(1, horizon + 1),
        hovertemplate=f"{TIME_AXIS} = %{{x}} (%{{customdata}} ahead)<br>forecast %{{y:.3f}}"
                      "<extra></extra>"), row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t_ahead, y=error, mode="lines", name="|forecast − truth|",
        line=dict(color=PREDICTION_COLOR, width=1.5), showlegend=False,
        customdata=np.arange(1, horizon + 1),
        hovertemplate=f"{TIME_AXIS} = %{{x}} (%{{customdata}} ahead)<br>|error| %{{y:.3f}}"
                      "<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(
        x=[prompt, prompt + horizon - 1], y=[fc.tolerance] * 2, mode="lines",
        name="tolerance", showlegend=False, line=dict(color=REFERENCE_COLOR, dash="dash",
                                                      width=1.5),
        hovertemplate=f"tolerance {fc.tolerance:g}<extra></extra>"), row=2, col=1)
    drift = fc.drift_step
    if drift is not None:
        t_drift = prompt + drift - 1
        fig.add_trace(go.Scatter(
            x=[t_drift], y=[fc.forecast[drift - 1]], mode="markers",
            name=f"drifts out of the band after {drift - 1} step{'' if drift == 2 else 's'}",
            marker=dict(color=WRONG_COLOR, size=13, symbol="x"),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>the first step outside the band, after "
                          f"{drift - 1} inside<extra></extra>"), row=1, col=1)
        for row in (1, 2):
            fig.add_vline(x=t_drift, line=dict(color=WRONG_COLOR, dash="dot", width=1),
                          row=row, col=1)
    fig.add_vline(x=prompt - 0.5, line=dict(color=REFERENCE_COLOR, width=1.5))
    fig.add_annotation(x=prompt - 0.5, y=1, yref="y domain", xanchor="left", yanchor="top",
                       text=" its own predictions from here →", showarrow=False,
                       font=dict(size=12, color=REFERENCE_COLOR))
    fig.update_yaxes(title_text="value", row=1, col=1)
    fig.update_yaxes(title_text="|error|", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    return _base_layout(fig, f"Closed-loop forecast after reading {prompt} values<br><sup>"
                             f"{horizon} steps on its own predictions: {drift_words(fc)}</sup>",
                        height=560)


# ---------------------------------------------------------------- text


def _symmetric_range(values: np.ndarray, bounded: bool) -> tuple[float, float]:
    if bounded:
        return -1.0, 1.0
    finite = np.abs(values[np.isfinite(values)])
    bound = float(finite.max()) if finite.size and finite.max() > 0 else 1.0
    return -bound, bound


def text_activation_grid(text: str, activation: np.ndarray, next_probs: np.ndarray | None,
                         vocab: list[str], title: str, value_name: str = "h_t",
                         bounded: bool = True, prompt_length: int = 0,
                         columns: int = GRID_COLUMNS) -> go.Figure:
    """The text as a grid of characters, each cell coloured by one unit's activation after
    reading it (diverging scale centred on 0; [-1, 1] for tanh states, fitted otherwise).

    Hovering a character shows its position, the activation and, when ``next_probs [len,
    vocab]`` is given, the model's top next-character candidates there. The first
    ``prompt_length`` characters (the seed prompt) are outlined.
    """
    activation = _finite(activation).reshape(-1)
    n = len(text)
    rows = max(1, math.ceil(n / columns))
    z = np.full((rows, columns), np.nan)
    labels = np.full((rows, columns), "", dtype=object)
    hover = np.full((rows, columns), "", dtype=object)
    for position, char in enumerate(text):
        row, col = divmod(position, columns)
        z[row, col] = activation[position]
        labels[row, col] = _display_char(char)
        lines = [f"position {position}: {_display_char(char)!s}",
                 f"{value_name} = {activation[position]:.3f}"]
        if next_probs is not None:
            probs = next_probs[position]
            order = np.argsort(-probs)[:CANDIDATES]
            candidates = " ".join(f"{_display_char(vocab[int(i)])} {probs[i]:.0%}"
                                  for i in order)
            lines.append(f"next: {candidates}")
        hover[row, col] = "<br>".join(lines)
    zmin, zmax = _symmetric_range(activation, bounded)
    fig = go.Figure(go.Heatmap(
        z=z, x=np.arange(columns), y=np.arange(rows), text=labels, texttemplate="%{text}",
        textfont=dict(family="monospace", size=15), customdata=hover,
        hovertemplate="%{customdata}<extra></extra>", colorscale=DIVERGING, zmin=zmin,
        zmax=zmax, zmid=0.0, xgap=1, ygap=3,
        colorbar=dict(title=dict(text=value_name, side="top"), thickness=14, len=0.9)))
    for start in range(0, min(prompt_length, n), columns):
        row = start // columns
        end = min(prompt_length, (row + 1) * columns) - 1
        fig.add_shape(type="rect", x0=start % columns - 0.5, x1=end % columns + 0.5,
                      y0=row - 0.5, y1=row + 0.5, line=dict(color=INK, width=2))
    if prompt_length:
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="lines", name="seed prompt (outlined)",
                                 line=dict(color=INK, width=2)))
        fig.add_trace(go.Scatter(x=[None], y=[None], mode="markers", name="generated text",
                                 marker=dict(color=PAPER, line=dict(color=INPUT_COLOR,
                                                                    width=1))))
    if not n:
        _message(fig, "no text")
    fig.update_xaxes(visible=False, range=[-0.5, columns - 0.5])
    fig.update_yaxes(autorange="reversed", tickvals=list(range(rows)),
                     ticktext=[f"{r * columns}" for r in range(rows)], title_text="position",
                     showgrid=False, zeroline=False)
    return _base_layout(fig, title, height=int(np.clip(110 + GRID_ROW_PX * rows, 200, 1200)),
                        plot_bgcolor=PAPER, margin=dict(b=16))


def unit_ranking_chart(scores, feature_label: str, chosen: int | None = None) -> go.Figure:
    """Units ranked by |r| with a text feature (``rnnviz.studies.features.rank_units``), one
    horizontal bar each, r on [-1, 1]; positive (red) means the unit rises with the feature,
    negative (blue) falls. ``chosen`` is outlined."""
    scores = list(scores)
    names = [f"unit {s.unit}" for s in scores]
    values = np.array([s.correlation for s in scores], dtype=np.float64)
    colors = [rgba(POSITIVE_COLOR if v >= 0 else NEGATIVE_COLOR, 0.85) for v in values]
    outline = [2.5 if s.unit == chosen else 0 for s in scores]  # the chosen unit is outlined
    fig = go.Figure(go.Bar(
        x=values, y=names, orientation="h",
        marker=dict(color=colors, line=dict(color=INK, width=outline)),
        text=[f"{v:+.2f}" for v in values], textposition="outside", cliponaxis=False,
        hovertemplate=f"%{{y}}<br>correlation with {feature_label}: r = %{{x:.3f}}"
                      "<extra></extra>"))
    if not scores:
        _message(fig, "no units")
    fig.update_xaxes(range=[-1.15, 1.15], zeroline=True, zerolinecolor=REFERENCE_COLOR)
    fig.update_yaxes(autorange="reversed", type="category")
    return _base_layout(fig, f"Units that track “{feature_label}”",
                        x_title="Pearson correlation r over the text", y_title=UNIT_AXIS,
                        height=int(np.clip(120 + 28 * len(scores), 260, 620)))


def feature_and_unit(text: str, feature: np.ndarray, activation: np.ndarray, unit: int,
                     feature_label: str, value_name: str = "h_t",
                     window: int = 300) -> go.Figure:
    """The feature (shaded, right axis) and one unit's activation (line, left axis) along the
    first ``window`` characters of the text; the hover shows the character."""
    n = min(len(text), window)
    t = np.arange(n)
    chars = [_display_char(c) for c in text[:n]]
    fig = make_subplots(specs=[[{"secondary_y": True}]])
    fig.add_trace(go.Scatter(
        x=t, y=_finite(feature[:n]), mode="lines", name=feature_label, line_shape="hv",
        fill="tozeroy", line=dict(color=INPUT_COLOR, width=1), fillcolor=rgba(INPUT_COLOR, 0.2),
        customdata=chars, hovertemplate="position %{x}: %{customdata}<br>"
                                        f"{feature_label} %{{y:.3g}}<extra></extra>"),
        secondary_y=True)
    fig.add_trace(go.Scatter(
        x=t, y=_finite(activation[:n]), mode="lines", name=f"unit {unit} ({value_name})",
        line=dict(color=UNIT_COLORS[0], width=2), customdata=chars,
        hovertemplate="position %{x}: %{customdata}<br>" + f"unit {unit} {value_name} "
                      "%{y:.3f}<extra></extra>"), secondary_y=False)
    fig.update_yaxes(title_text=f"unit {unit} {value_name}", secondary_y=False)
    finite = _finite(feature[:n])
    finite = finite[np.isfinite(finite)]
    top = float(finite.max()) if finite.size else 1.0
    fig.update_yaxes(title_text=feature_label, secondary_y=True, showgrid=False,
                     range=[0, max(top, 1e-9) * 1.05], tickmode="auto", nticks=4)
    return _base_layout(fig, f"Unit {unit} against “{feature_label}”, first {n} characters",
                        x_title="character position", height=360)


# ---------------------------------------------------------------- lessons


def per_step_lines(series: dict[str, np.ndarray], title: str, y_title: str,
                   reference: tuple[str, float] | None = None,
                   colors: dict[str, str] | None = None, log_y: bool = False) -> go.Figure:
    """One line per labelled series over the time step (e.g. the error at each step with and
    without memory), with an optional dashed reference level."""
    palette = colors or {}
    data, last = [], 1
    for index, (label, values) in enumerate(series.items()):
        values = _finite(values).reshape(-1)
        last = max(last, len(values) - 1)
        data.append(go.Scatter(
            x=np.arange(len(values)), y=values, mode="lines+markers", name=label,
            marker=dict(size=4), line=dict(width=2, color=palette.get(
                label, series_color(label, index))),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{y_title} %{{y:.4g}}<extra>{label}</extra>"))
    if reference is not None:
        name, value = reference
        data.append(go.Scatter(x=[0, last], y=[value, value], mode="lines",
                               name=f"{name} {value:.3g}",
                               line=dict(color=REFERENCE_COLOR, dash="dash", width=1.5),
                               hovertemplate=f"{name} {value:.4g}<extra></extra>"))
    fig = go.Figure(data)
    if log_y:
        _log_axis(fig, *(trace.y for trace in data))
    else:
        fig.update_yaxes(rangemode="tozero")
    return _base_layout(fig, title, x_title=TIME_AXIS, y_title=y_title)


def parameter_count_chart(counts: dict[str, dict[str, int]]) -> go.Figure:
    """Parameters per model, stacked by kind (``{"LSTM": {"input weights W_ih": n, ...}}``),
    with each model's total above its bar."""
    kinds = []
    for parts in counts.values():
        kinds += [k for k in parts if k not in kinds]
    labels = list(counts)
    data = [go.Bar(x=labels, y=[counts[m].get(kind, 0) for m in labels], name=kind,
                   marker_color=SERIES_COLORS[i % len(SERIES_COLORS)],
                   hovertemplate="%{x}<br>" + kind + ": %{y:,} parameters<extra></extra>")
            for i, kind in enumerate(kinds)]
    fig = go.Figure(data)
    totals = [sum(counts[m].values()) for m in labels]
    fig.add_trace(go.Scatter(x=labels, y=totals, mode="text",
                             text=[f"{n:,} in all" for n in totals],
                             textposition="top center", showlegend=False, hoverinfo="skip",
                             textfont=dict(size=14)))
    fig.update_layout(barmode="stack")
    fig.update_yaxes(range=[0, max(totals + [1]) * 1.18])
    return _base_layout(fig, "Parameters of each model, by kind", y_title="parameters",
                        height=400)


def measured_bars(values: dict[str, float], title: str, y_title: str,
                  reference: tuple[str, float] | None = None, log_y: bool = False,
                  colors: dict[str, str] | None = None) -> go.Figure:
    """One bar per measured number (``{"with memory": 0.01, ...}``), its value printed on it,
    with an optional dashed reference (e.g. ``("chance", 0.146)``)."""
    labels = list(values)
    numbers = _finite([values[k] for k in labels])
    palette = colors or {}
    fig = go.Figure(go.Bar(
        x=labels, y=numbers, text=[f"{v:.3g}" for v in numbers], textposition="outside",
        cliponaxis=False, marker_color=[palette.get(k, MEASURED_COLOR) for k in labels],
        hovertemplate="%{x}: %{y:.4g}<extra></extra>", name="measured"))
    if reference is not None:
        name, value = reference
        fig.add_trace(go.Scatter(x=labels, y=[value] * len(labels), mode="lines",
                                 name=f"{name} {value:.3g}", line=dict(color=REFERENCE_COLOR,
                                                                       dash="dash"),
                                 hovertemplate=f"{name} {value:.4g}<extra></extra>"))
    if log_y:
        _log_axis(fig, numbers, [] if reference is None else [reference[1]])
    return _base_layout(fig, title, y_title=y_title, height=380)


def unit_bars(values: np.ndarray, highlight: list[int], title: str, y_title: str,
              highlight_name: str, y_range: tuple[float, float] | None = None) -> go.Figure:
    """One bar per hidden unit; the ``highlight`` units marked as with a highlighter, the
    rest light grey."""
    values = _finite(values).reshape(-1)
    units = np.arange(len(values))
    chosen = np.isin(units, highlight)
    fig = go.Figure()
    for mask, name, color in ((~chosen, "other units", OTHER_COLOR),
                              (chosen, highlight_name, SINGLED_OUT_COLOR)):
        if mask.any():
            fig.add_trace(go.Bar(x=units[mask], y=values[mask], name=name,
                                 marker=dict(color=color, line=dict(color=INK, width=1)),
                                 hovertemplate="unit %{x}<br>" + y_title + " %{y:.3f}"
                                               "<extra></extra>"))
    if y_range is not None:
        fig.update_yaxes(range=list(y_range))
    fig.update_xaxes(dtick=1 if len(values) <= 16 else (2 if len(values) <= 32 else None),
                     tickangle=0)
    return _base_layout(fig, title, x_title=UNIT_AXIS, y_title=y_title, height=360)


__all__ = ["feature_and_unit", "forecast_chart", "measured_bars", "parameter_count_chart",
           "per_step_lines", "text_activation_grid", "unit_bars", "unit_ranking_chart"]
