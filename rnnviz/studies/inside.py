"""The inside of a network at one moment of training, for the live view: what the Playground
draws while a run trains, computed once by whoever trains it (a worker process or a job thread)
from the weights of the newest snapshot, and shared by every session watching.

Only the first probe example is kept (``[time, hidden]`` arrays, a few kilobytes), so that it
travels cheaply between processes a few times a second.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.determinism import single_thread
from rnnviz.core.models import RecurrentModel, build_model
from rnnviz.core.tasks import probe_batch
from rnnviz.core.trace import gradient_profile, trace

# the gate that decides what a gated cell keeps: the one the live view shows
MEMORY_GATE = {"lstm": "f", "gru": "z"}


@dataclass(frozen=True)
class InsideView:
    """The top layer on probe example 0 after ``step`` training steps.

    hidden   [time, hidden]   h_t
    gates    {name: [time, hidden]}   LSTM i f g o / GRU r z n (empty for a vanilla RNN)
    grad_h   [time]           ||dL/dh_t|| of that example's loss
    loss     that example's loss
    """

    step: int
    cell: str
    hidden: np.ndarray
    grad_h: np.ndarray
    loss: float
    gates: dict[str, np.ndarray] = field(default_factory=dict)

    @property
    def memory_gate(self) -> str | None:
        return MEMORY_GATE.get(self.cell)


def inside_view(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor, step: int) -> InsideView:
    """Trace ``model`` on the first example of the probe batch ``x, y`` (``trace`` puts the model
    in eval mode and restores its mode, and touches no random number generator, so calling
    this between two training steps leaves training exactly as it was). A translation run's
    view is its attention on that example (``studies.translation``): the worker pool sends it
    live the same way."""
    if getattr(model, "seq2seq", False):
        from rnnviz.studies.translation import attention_view
        return attention_view(model, x, y, step)
    tr = trace(model, x[:1], y[:1], jacobians=False)
    return InsideView(step=step, cell=model.cell, hidden=tr.hidden[-1][0],
                      grad_h=tr.grad_h[-1][0], loss=float(tr.loss[0]),
                      gates={name: values[0] for name, values in tr.gates[-1].items()})


def initial_inside(cfg: RunConfig) -> tuple[InsideView, np.ndarray]:
    """The inside of ``cfg``'s network before its first training step, and the probe row of
    the gradient over training at step 0 (``[time]``, as ``train`` records it): what the
    Playground draws the moment Train is pressed, before any worker has started.

    Exact, not a stand-in: ``build_model`` draws the initial weights seeded by ``cfg.seed``
    alone, so these are the weights of the run's step-0 snapshot, traced on the same probe
    batch (on one torch thread, as training runs: the same bits)."""
    with single_thread():
        model = build_model(cfg)
        x, y = probe_batch(cfg)
        return inside_view(model, x, y, 0), gradient_profile(model, x, y)
