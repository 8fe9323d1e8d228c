"""Figure builders for the Compare page, in the visual language of ``rnnviz.charts`` ("time
step t" on x from 0, titles, legends, cell colours ``CELL_COLORS``); the Step-through page's
are in ``rnnviz.charts.stepthrough``. Pure functions: numpy and engine objects in, plotly
figures out.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.inside import state_heatmap
from rnnviz.charts.style import (
    CELL_COLORS,
    LOG_AXIS,
    REFERENCE_COLOR,
    TRAIN_COLOR,
    _base_layout,
    _finite,
    _log_axis_ok,
)


def cell_label(cell: str) -> str:
    return {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}.get(cell, cell)


# ---------------------------------------------------------------- compare


def final_metric_chart(values: dict[str, float], chance: float, chance_how: str,
                       metric_name: str, higher_is_better: bool) -> go.Figure:
    """One bar per cell (``{"rnn": 0.93, ...}``): its final validation metric, with the chance
    level as a dashed line. Accuracy on [0, 1]; MSE on a linear axis from 0."""
    cells = list(values)
    numbers = [float(values[c]) if values[c] is not None else float("nan") for c in cells]
    fmt = (lambda v: f"{v:.1%}") if metric_name == "accuracy" else (lambda v: f"{v:.4g}")
    fig = go.Figure(go.Bar(
        x=[cell_label(c) for c in cells], y=_finite(numbers),
        marker_color=[CELL_COLORS.get(c, TRAIN_COLOR) for c in cells],
        text=[fmt(v) if math.isfinite(v) else "–" for v in numbers], textposition="outside",
        name=f"validation {metric_name}",
        hovertemplate=f"%{{x}}<br>validation {metric_name} %{{text}}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[cell_label(c) for c in cells], y=[chance] * len(cells), mode="lines",
        name=f"chance {fmt(chance)}", line=dict(color=REFERENCE_COLOR, dash="dash", width=2),
        hovertemplate=f"chance {metric_name} {fmt(chance)}: {chance_how}<extra></extra>"))
    top = max([v for v in numbers if math.isfinite(v)] + [chance])
    better = "higher" if higher_is_better else "lower"
    fig.update_yaxes(range=[0, 1.12] if metric_name == "accuracy" else [0, top * 1.25 or 1],
                     tickformat=".0%" if metric_name == "accuracy" else None)
    return _base_layout(fig, f"Final validation {metric_name}<br><sup>{better} is better · "
                             "dashed: chance</sup>",
                        x_title="cell", y_title=f"validation {metric_name}", height=360)


def sweep_chart(result) -> go.Figure:
    """Final validation metric against sequence length (or copy lag), one line per cell, with
    the chance level: where each cell stops learning. ``result`` is a
    ``rnnviz.studies.compare.SweepResult``; a NaN (no validation) is a gap."""
    fig = go.Figure()
    lengths = list(result.lengths)
    fmt = ".1%" if result.metric_name == "accuracy" else ".4g"
    for cell in result.cells:
        reasons = [r if r != "finished" else "trained to the end"
                   for r in result.stop_reasons.get(cell, [""] * len(lengths))]
        fig.add_trace(go.Scatter(
            x=lengths, y=_finite(result.metric[cell]), mode="lines+markers",
            name=cell_label(cell), line=dict(color=CELL_COLORS.get(cell, TRAIN_COLOR), width=3),
            marker=dict(size=9), customdata=reasons,
            hovertemplate=f"{result.param_label} = %{{x}}<br>validation {result.metric_name} "
                          f"%{{y:{fmt}}}<br>%{{customdata}}<extra>{cell_label(cell)}</extra>"))
    fig.add_trace(go.Scatter(
        x=lengths, y=result.chance, mode="lines", name="chance level",
        line=dict(color=REFERENCE_COLOR, dash="dash", width=2),
        hovertemplate=f"chance {result.metric_name} %{{y:{fmt}}}<extra></extra>"))
    if result.metric_name == "accuracy":
        fig.update_yaxes(range=[-0.02, 1.05], tickformat=".0%")
    elif _log_axis_ok(*result.metric.values(), result.chance):
        fig.update_yaxes(**LOG_AXIS)
    fig.update_xaxes(tickvals=lengths)
    if len(lengths) > 2 and lengths[-1] / max(lengths[0], 1) >= 8:
        fig.update_xaxes(type="log")  # doubling lengths read evenly spaced
    better = "higher" if result.higher_is_better else "lower"
    return _base_layout(
        fig, f"Where does each cell break? Final validation {result.metric_name} against "
             f"{result.param_label} ({better} is better)",
        x_title=result.param_label, y_title=f"validation {result.metric_name}", height=420)


def hidden_column_heatmap(hidden: np.ndarray, cell: str, bounded: bool) -> go.Figure:
    """One cell's hidden states ``[T, H]`` for the Compare page's columns (narrow: the
    colorbar title is short)."""
    fig = state_heatmap(hidden, f"{cell_label(cell)}: h_t", (-1, 1) if bounded else None)
    fig.update_layout(height=min(fig.layout.height or 360, 380),
                      margin=dict(l=50, r=10, t=50, b=50))
    return fig
