"""The live inside view: the figures the Playground redraws while a run trains, from the
newest snapshot's ``InsideView`` and the history's probe rows. Compact (a 2 x 2 grid that fits
a 1280 x 720 projector under the loss curve), built from the same builders as the inside pages,
so a learner sees the same pictures live and afterwards."""

from __future__ import annotations

import plotly.graph_objects as go

from rnnviz.charts.gradients import gradient_profile, probe_heatmap
from rnnviz.charts.inside import gate_heatmap, state_heatmap
from rnnviz.charts.palette import CELL_NAMES
from rnnviz.charts.style import set_title
from rnnviz.studies.inside import InsideView

LIVE_HEIGHT = 300
LIVE_MARGIN = dict(l=60, r=20, t=60, b=50)


def _compact(fig: go.Figure, title: str) -> go.Figure:
    """The builder's figure, shorter, with its own title (wrapped, the top margin fitted) and
    the room its legend needs below."""
    bottom = max(LIVE_MARGIN["b"], fig.layout.margin.b or 0) if fig.layout.showlegend else \
        LIVE_MARGIN["b"]
    fig.update_layout(height=LIVE_HEIGHT, margin=dict(LIVE_MARGIN, b=bottom))
    return set_title(fig, title)


def live_figures(view: InsideView, probe_step, probe_grad) -> list[tuple[str, go.Figure]]:
    """``(key, figure)`` pairs: hidden states, the memory gate (LSTM f, GRU z; none for a
    vanilla RNN), ||dL/dh_t|| over t on a log axis, and the gradient over training so far."""
    at = f"step {view.step}"
    figures = [("live_hidden", _compact(state_heatmap(view.hidden, "h_t"),
                                        f"Hidden states h_t, example 0, {at}"))]
    gate = view.memory_gate
    if gate is not None and gate in view.gates:
        figure = gate_heatmap(view.gates[gate], gate, view.cell)
        figures.append(("live_gate", _compact(
            figure, f"{CELL_NAMES.get(view.cell, view.cell)} {gate} gate, {at}")))
    figures.append(("live_profile", _compact(
        gradient_profile(view.grad_h, None), f"‖∂L/∂h_t‖ of example 0, {at} (log)")))
    figures.append(("live_probe", _compact(
        probe_heatmap(probe_step, probe_grad), "Gradient over training, so far")))
    return figures
