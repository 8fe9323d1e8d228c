"""The loss of a loop recorded with ``rnnviz.record``, as the Recorded runs page draws it
while the loop runs and after.

Why not ``training.loss_curves``: a recorded loop has no chance level (the app does not know
the learner's task) and no metric, so its chart is the loss alone, with the validation loss
where the learner passed one, and the snapshot steps (the Training step slider's stops) marked
on the step axis. The step the loop has reached is in the title, so a chart that follows a
loop says how far it got.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import REFERENCE_COLOR, TRAIN_COLOR, VALIDATION_COLOR
from rnnviz.charts.style import (
    MAX_LINE_POINTS,
    STEP_AXIS,
    _base_layout,
    _finite,
    _log_axis,
    _log_axis_ok,
    _message,
    downsample,
)


def recorded_loss(history, name: str, height: int = 340) -> go.Figure:
    """``history`` is a recorded run's (``rnnviz.core.recorded.RecordedHistory``): the loss at
    the kept steps, the validation losses, the snapshot steps and ``steps_done``."""
    steps, loss = np.asarray(history.step), np.asarray(history.loss, dtype=float)
    val_steps, val_loss = np.asarray(history.val_step), np.asarray(history.val_loss, float)
    snapshots = np.asarray(history.probe_step)
    keep = downsample(len(steps), MAX_LINE_POINTS)
    fig = go.Figure([
        go.Scatter(x=steps[keep], y=_finite(loss)[keep], mode="lines", name="training loss",
                   line=dict(color=TRAIN_COLOR, width=1.5),
                   hovertemplate="step %{x}<br>loss %{y:.4g}<extra></extra>"),
    ])
    if len(val_steps):
        fig.add_trace(go.Scatter(
            x=val_steps, y=_finite(val_loss), mode="lines+markers", name="validation loss",
            line=dict(color=VALIDATION_COLOR, width=2), marker=dict(size=5),
            hovertemplate="step %{x}<br>validation loss %{y:.4g}<extra></extra>"))
    if len(snapshots):
        fig.add_trace(go.Scatter(
            x=snapshots, y=np.full(len(snapshots), 0.04), yaxis="y2", mode="markers",
            name="snapshot (a Training step stop)",
            marker=dict(symbol="line-ns-open", size=10, line=dict(width=2), color=REFERENCE_COLOR),
            hovertemplate="snapshot at step %{x}<extra></extra>"))
        fig.update_layout(yaxis2=dict(overlaying="y", range=[0, 1], visible=False,
                                      fixedrange=True))
    if _log_axis_ok(loss, val_loss):
        _log_axis(fig, loss, val_loss)
    if not len(steps):
        _message(fig, "no steps yet", xref="x domain", yref="y domain", x=0.5, y=0.6)
    done = int(history.steps_done)
    return _base_layout(fig, f"Loss of {name}, up to step {done}<br><sup>your loop's loss, "
                             "as rec.step(loss) recorded it</sup>",
                        x_title=STEP_AXIS, y_title="loss", height=height)
