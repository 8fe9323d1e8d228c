"""Training curves: loss and metric over steps (with chance), the live chart's data, the
total gradient norm with clipped steps, and several runs' losses on one chart."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.palette import (
    CLIPPED_COLOR,
    PAPER,
    REFERENCE_COLOR,
    TRAIN_COLOR,
    VALIDATION_COLOR,
    rgba,
    series_color,
)
from rnnviz.charts.style import (
    HEIGHT,
    LEGEND_BELOW,
    LEGEND_ROW_PX,
    MAX_LINE_POINTS,
    STEP_AXIS,
    TEMPLATE,
    TITLE_PAD_PX,
    TITLE_SIZE,
    _base_layout,
    _finite,
    _log_axis,
    _log_axis_ok,
    _log_safe,
    _message,
    _reference_line,
    downsample,
    log_axis,
    title_height,
    wrap_text,
)


def _history_line(steps: np.ndarray, values: np.ndarray, name: str, color: str,
                  hover_name: str, width: float = 1, **kwargs) -> go.Scatter:
    """A per-step series strided to MAX_LINE_POINTS, true step numbers on x."""
    keep = downsample(len(steps), MAX_LINE_POINTS)
    return go.Scatter(x=steps[keep], y=_finite(values)[keep], mode="lines", name=name,
                      line=dict(color=color, width=width), opacity=0.8,
                      hovertemplate=f"step %{{x}}<br>{hover_name} %{{y:.4g}}<extra></extra>",
                      **kwargs)


def chance_number(value: float) -> str:
    """A chance level as the captions print it (``Task.chance_words``: three decimals), so the
    chart's 0.150 is the caption's 0.150, not 0.15 beside it."""
    return f"{value:.3f}" if 0.01 <= abs(value) < 1000 else f"{value:.3g}"


def loss_curves(history, chance, metric_name: str, higher_is_better: bool,
                height: int = HEIGHT) -> go.Figure:
    """Training and validation curves of a run, side by side.

    Left: training loss per step (thin line, strided) and validation loss (markers at
    ``history.val_step``) with the chance loss as a dashed line; log y when all values are > 0.
    Right, for a classification task (``higher_is_better``): the same for its accuracy, on
    [0, 1], with the chance accuracy. A regression task's metric is its loss (the MSE), so it
    gets the one panel, its axis named "loss (MSE)", not the same curve twice.

    ``history`` is a ``rnnviz.core.train.History``; ``chance`` a ``rnnviz.core.tasks.Chance``.
    An empty history gives empty axes that say "no steps yet"; NaN values are gaps.
    """
    # room between the panels for the right one's ticks and title, also at phone width
    two = higher_is_better  # the metric is not the loss
    fig = make_subplots(rows=1, cols=2, horizontal_spacing=0.17) if two else \
        make_subplots(rows=1, cols=1)
    steps, val_steps = history.step, history.val_step
    last = int(steps[-1]) if len(steps) else 1
    panels = (
        (1, "loss" if two else f"loss ({metric_name})", history.loss, history.val_loss,
         chance.loss, False),
        (2, metric_name, history.metric, history.val_metric, chance.metric, higher_is_better),
    )[:2 if two else 1]
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
            _log_axis(fig, train_values, val_values, [chance_value], row=1, col=col)
        elif bounded:
            fig.update_yaxes(range=[-0.02, 1.02], row=1, col=col)
        axis = "" if col == 1 else "2"
        # at the right end, where a model that learned is far from the line; a light box
        # keeps it readable where the curves do cross it
        fig.add_annotation(
            x=1, xref=f"x{axis} domain", xanchor="right", yref=f"y{axis}", yanchor="bottom",
            y=math.log10(chance_value) if log_y else chance_value, showarrow=False,
            text=f"chance {chance_number(chance_value)}",
            font=dict(size=11, color=REFERENCE_COLOR),
            bgcolor=rgba(PAPER, 0.8))
        fig.update_yaxes(title_text=name, row=1, col=col)
        if not len(steps):
            _message(fig, "no steps yet", xref=f"x{axis} domain", yref=f"y{axis} domain",
                     x=0.5, y=0.8)
    fig.update_xaxes(title_text=STEP_AXIS)
    if not two:
        return _base_layout(fig, f"Loss ({metric_name}) during training<br>"
                                 "<sup>lower is better</sup>", height=height)
    return _base_layout(fig, f"Loss and {metric_name} during training<br>"
                             f"<sup>{metric_name}: higher is better</sup>", height=height)


LIVE_POINTS = 400


def live_loss_figure(history, chance, metric_name: str) -> dict:
    """The loss curve drawn while a run trains: training loss (thinned to LIVE_POINTS),
    validation loss and the chance line, on a log axis (the live board, ``live.live_board``,
    marks on it the snapshot its inside panels show).

    A plain figure dict, not a ``go.Figure``: the live view redraws it for every watching
    session a few times a second, and plotly's property validation (~40 ms a figure) would
    compete with the training threads for the interpreter."""
    steps = history.step
    keep = downsample(len(steps), LIVE_POINTS)
    loss = history.loss[keep]
    positive = bool(len(loss)) and bool(np.all(loss[np.isfinite(loss)] > 0))
    last_step = int(steps[-1]) if len(steps) else 1
    y_axis = ({"title": {"text": "loss"}, **log_axis(loss, history.val_loss, [chance.loss])}
              if positive else {"title": {"text": "loss"}, "type": "linear"})
    title = wrap_text(f"Training live ({metric_name} task): loss per step")
    return {
        "data": [
            {"type": "scatter", "mode": "lines", "name": "training loss",
             "x": steps[keep].tolist(), "y": loss.tolist(),
             "line": {"color": TRAIN_COLOR, "width": 1}},
            {"type": "scatter", "mode": "lines+markers", "name": "validation loss",
             "x": history.val_step.tolist(), "y": history.val_loss.tolist(),
             "line": {"color": VALIDATION_COLOR, "width": 2}, "marker": {"size": 5}},
            {"type": "scatter", "mode": "lines", "name": "chance level",
             "x": [0, last_step], "y": [chance.loss, chance.loss],
             "hovertemplate": f"chance loss %{{y:.4g}}: {chance.how}<extra></extra>",
             "line": {"color": REFERENCE_COLOR, "dash": "dash"}},
        ],
        "layout": {
            "template": TEMPLATE, "height": 320,
            "title": {"text": title, "x": 0, "xref": "container", "xanchor": "left",
                      "y": 1, "yref": "container", "yanchor": "top",
                      "pad": {"t": TITLE_PAD_PX, "l": 8}, "font": {"size": TITLE_SIZE}},
            "xaxis": {"title": {"text": STEP_AXIS}},
            "yaxis": y_axis,
            "legend": LEGEND_BELOW,
            "margin": {"l": 60, "r": 20, "t": title_height(title) + 8,
                       "b": 60 + LEGEND_ROW_PX + 8},
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
            f"clipping threshold {clip:g}: larger gradients are rescaled to this norm"))
    fig = go.Figure(data)
    if not len(steps):
        _message(fig, "no steps yet")
    elif floored.any():
        fig.add_annotation(text=f"{int(floored.sum())} zero norms drawn at {floor:.2g}",
                           xref="paper", yref="paper", x=1, y=0, xanchor="right",
                           yanchor="bottom", showarrow=False, font=dict(size=11))
    _log_axis(fig, drawn, [clip] if clip is not None else [])
    return _base_layout(fig, "Gradient norm during training (before clipping)",
                        x_title=STEP_AXIS, y_title="‖∂L/∂θ‖ (log scale)")


def compare_loss_chart(histories: dict, chance) -> go.Figure:
    """Training loss of several runs, one line per label (``{"rnn": history, ...}``; labels
    naming a cell get its CELL_COLORS colour), with the chance loss; log y when positive."""
    data = []
    last = 1
    for index, (label, history) in enumerate(histories.items()):
        data.append(_history_line(history.step, history.loss, label,
                                    series_color(label, index), f"{label} training loss",
                                    width=1.5))
        if len(history.step):
            last = max(last, int(history.step[-1]))
    data.append(_reference_line(0, last, chance.loss, "chance level",
                                  f"chance loss {chance.loss:.4g}: {chance.how}"))
    fig = go.Figure(data)
    losses = [h.loss for h in histories.values()]
    if _log_axis_ok(*losses, [chance.loss]):
        _log_axis(fig, *losses, [chance.loss])
    if not any(len(h.step) for h in histories.values()):
        _message(fig, "no steps yet")
    return _base_layout(fig, "Training loss by cell", x_title=STEP_AXIS,
                        y_title="training loss")


