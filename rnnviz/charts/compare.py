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
from rnnviz.charts.palette import (
    CELL_COLORS,
    MEASURED_COLOR,
    REFERENCE_COLOR,
)
from rnnviz.charts.style import (
    _base_layout,
    _finite,
    _log_axis,
    _log_axis_ok,
    _log_safe,
)
from rnnviz.charts.training import compare_loss_chart


def cell_label(cell: str) -> str:
    return {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}.get(cell, cell)


# ---------------------------------------------------------------- compare


def final_metric_chart(values: dict[str, float], chance: float, chance_how: str,
                       metric_name: str, higher_is_better: bool) -> go.Figure:
    """One bar per cell (``{"rnn": 0.93, ...}``) in the cell's colour: its final validation
    metric, with the chance level as a dashed line. Accuracy on a linear 0-100% axis; an
    error (MSE) on a log axis, where 0.0003 and 0.15 both show (zeros drawn at the floor)."""
    cells = list(values)
    numbers = [float(values[c]) if values[c] is not None else float("nan") for c in cells]
    fmt = (lambda v: f"{v:.1%}") if metric_name == "accuracy" else (lambda v: f"{v:.4g}")
    log_y = metric_name != "accuracy" and _log_axis_ok(numbers, [chance])
    drawn = _log_safe(numbers)[0] if log_y else _finite(numbers)
    fig = go.Figure(go.Bar(
        x=[cell_label(c) for c in cells], y=drawn, cliponaxis=False,
        marker_color=[CELL_COLORS.get(c, MEASURED_COLOR) for c in cells],
        text=[fmt(v) if math.isfinite(v) else "–" for v in numbers], textposition="outside",
        name=f"validation {metric_name}", showlegend=False,  # each bar is named below it
        hovertemplate=f"%{{x}}<br>validation {metric_name} %{{text}}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[cell_label(c) for c in cells], y=[chance] * len(cells), mode="lines",
        name=f"chance {fmt(chance)}", line=dict(color=REFERENCE_COLOR, dash="dash", width=2),
        hovertemplate=f"chance {metric_name} {fmt(chance)}: {chance_how}<extra></extra>"))
    top = max([v for v in numbers if math.isfinite(v)] + [chance])
    better = "higher" if higher_is_better else "lower"
    if metric_name == "accuracy":
        fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    elif log_y:
        _log_axis(fig, drawn, [chance])
    else:
        fig.update_yaxes(range=[0, top * 1.25 or 1])
    scale = " · log scale" if log_y else ""
    return _base_layout(fig, f"Final validation {metric_name}<br><sup>{better} is better · "
                             f"dashed: chance{scale}</sup>",
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
            name=cell_label(cell), line=dict(color=CELL_COLORS.get(cell, MEASURED_COLOR), width=3),
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
        _log_axis(fig, *result.metric.values(), result.chance)
    fig.update_xaxes(tickvals=lengths)
    if len(lengths) > 2 and lengths[-1] / max(lengths[0], 1) >= 8:
        # doubling lengths read evenly spaced, each labelled with its own length (a log axis
        # would label powers of ten, none of which was tried)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=lengths)
    better = "higher" if result.higher_is_better else "lower"
    return _base_layout(
        fig, f"Where does each cell break?<br><sup>final validation {result.metric_name} "
             f"against {result.param_label} · {better} is better</sup>",
        x_title=result.param_label, y_title=f"validation {result.metric_name}", height=420)


def hidden_column_heatmap(hidden: np.ndarray, cell: str, bounded: bool) -> go.Figure:
    """One cell's hidden states ``[T, H]`` for the Compare page's columns (narrow: the
    colorbar title is short)."""
    fig = state_heatmap(hidden, f"{cell_label(cell)}: h_t", (-1, 1) if bounded else None)
    fig.update_layout(height=min(fig.layout.height or 360, 380),
                      margin=dict(l=50, r=10, t=max(50, fig.layout.margin.t or 0), b=50))
    return fig


def live_compare_loss_chart(histories: dict, chance, steps: int) -> go.Figure:
    """``compare_loss_chart`` while the cells train: the step axis spans the whole budget
    (``steps``), so each curve grows to the right as its run trains instead of the axis
    rescaling under it, and the title says how far the slowest cell is."""
    fig = compare_loss_chart(histories, chance)
    done = min((h.steps_done for h in histories.values()), default=0)
    fig.update_xaxes(range=[0, steps])
    fig.update_layout(title_text=f"Training loss by cell, live<br><sup>every cell at step "
                                 f"{done} or later, of {steps}</sup>")
    return fig
