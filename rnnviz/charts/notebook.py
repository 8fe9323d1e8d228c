"""``rnnviz.show``: the figure a page draws, for a notebook (Jupyter, VS Code).

``show(run_or_trace, view, step=None)`` returns a plotly figure, which a notebook renders
inline when it is the cell's last value. It draws with the builders the pages use, on the
example the pages show first:

``"hidden"``         ``state_heatmap`` of one example's h_t (the Hidden states page)
``"gates"``          ``gate_means`` of every gate, or ``gate_heatmap`` of ``gate=`` (Gates)
``"gradients"``      ``gradient_profile``, ``||dL/dh_t||`` per time step (Gradients)
``"over_training"``  ``probe_heatmap`` of the profiles at every snapshot (Gradients; a Run only)

For a ``Run`` the trace at ``step`` (a snapshot step; default the last) comes from the engine
(``rnnviz.core.recorded.probe_trace``): this module is the one door of ``charts`` that asks the
engine for what it draws, so that a notebook needs one call. A recorded run's gradient profile
is the one recorded with the learner's own loss, not a replay with another. Bad names and
steps are ValueErrors that list the allowed ones.
"""

from __future__ import annotations

import plotly.graph_objects as go

from rnnviz.charts.gradients import gradient_profile, probe_heatmap
from rnnviz.charts.inside import gate_heatmap, gate_means, state_heatmap
from rnnviz.core.recorded import RecordedRun, probe_trace
from rnnviz.core.trace import Trace
from rnnviz.core.train import Run

VIEWS = ("gates", "hidden", "gradients", "over_training")


def _index(value, count: int, what: str) -> int:
    if isinstance(value, bool) or not isinstance(value, int) or not 0 <= value < count:
        raise ValueError(f"{what} must be a whole number from 0 to {count - 1}; got {value!r}")
    return value


def _steps_words(steps: list[int]) -> str:
    shown = steps if len(steps) <= 8 else steps[:4] + ["..."] + steps[-3:]
    return ", ".join(str(s) for s in shown)


def show(run_or_trace, view: str = "hidden", step: int | None = None, *,
         layer: int | None = None, example: int = 0, gate: str | None = None) -> go.Figure:
    """The plotly figure of ``view`` for a ``Run`` (trained, loaded or recorded: at snapshot
    ``step``, default the last) or a ``Trace`` (``rnnviz.inspect``, ``rnnviz.trace``).

    ``layer`` (default the top one) and ``example`` pick what is drawn; ``gate`` one gate's
    heatmap in the ``"gates"`` view (LSTM i f g o, GRU r z n). ValueError, listing what is
    allowed, for an unknown view, a step that is not a snapshot, a view the object cannot
    give (``"over_training"`` of a Trace, ``"gradients"`` of a Trace without a loss).
    """
    if view not in VIEWS:
        raise ValueError(f"view must be one of {', '.join(map(repr, VIEWS))}; got {view!r}")
    if isinstance(run_or_trace, Trace):
        if step is not None:
            raise ValueError("a Trace is one moment of one model; step= needs a Run (its "
                             "snapshots), e.g. rnnviz.load_run('runs/my-lstm')")
        if view == "over_training":
            raise ValueError("view='over_training' needs a Run with its snapshots; a Trace is "
                             "one moment")
        tr, label, run = run_or_trace, "", None
    elif isinstance(run_or_trace, Run):
        run = run_or_trace
        steps = run.snapshot_steps
        if step is not None and step not in steps:
            raise ValueError(f"step must be one of the run's snapshot steps "
                             f"({_steps_words(steps)}); got {step!r}")
        if view == "over_training":
            return probe_heatmap(run.history.probe_step, run.history.probe_grad)
        recorded = isinstance(run, RecordedRun)
        step, tr = probe_trace(run, step, gradients=view == "gradients" and not recorded)
        label = f", step {step}"
    else:
        raise TypeError("show() draws a Run (rnnviz.train, rnnviz.load_run) or a Trace "
                        f"(rnnviz.inspect, rnnviz.trace); got {type(run_or_trace).__name__}")
    layer = _index(tr.num_layers - 1 if layer is None else layer, tr.num_layers, "layer")
    example = _index(example, tr.hidden[layer].shape[0], "example")
    cell = tr.cell_type
    if view == "hidden":
        bounded = float(abs(tr.hidden[layer]).max(initial=0)) <= 1.0
        return state_heatmap(tr.hidden[layer][example], f"Hidden state h_t, layer {layer}"
                             f"{label}", (-1, 1) if bounded else None)
    if view == "gates":
        gates = {name: values[example] for name, values in tr.gates[layer].items()}
        if not gates:
            raise ValueError("a vanilla RNN has no gates; view='hidden' shows its state")
        if gate is None:
            return gate_means(gates, cell)
        if gate not in gates:
            raise ValueError(f"gate must be one of {', '.join(gates)} for this {cell}; got "
                             f"{gate!r}")
        return gate_heatmap(gates[gate], gate, cell)
    if run is not None and isinstance(run, RecordedRun):
        if layer != tr.num_layers - 1:
            raise ValueError("a recording keeps the gradient profile of the top layer only; "
                             f"leave layer= out (or pass {tr.num_layers - 1})")
        return gradient_profile(run.profile_at(step), title="Gradient reaching each time "
                                f"step: ‖∂L/∂h_t‖ (your loss, step {step})")
    if not tr.grad_h:
        raise ValueError("this trace has no gradients: pass loss_fn to rnnviz.inspect "
                         "(or y to rnnviz.trace)")
    return gradient_profile(tr.grad_h[layer].mean(axis=0))
