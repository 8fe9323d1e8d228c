"""What the lessons measure on trained runs: memory ablation, gradient profiles and how much of
the last step's gradient reaches the first (now and at every snapshot), the units that carry a
number and their forget gates, parameter counts. The checks in ``rnnviz.studies.lesson_checks``
turn these into each lesson's facts; the Lessons page draws some of them.
"""

from __future__ import annotations

import copy
import math

import numpy as np
import torch

from rnnviz.core.tasks import probe_batch, validation_set
from rnnviz.core.trace import trace
from rnnviz.core.train import Run


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def final_val_loss(run: Run) -> float:
    values = run.history.val_loss
    return float(values[-1]) if len(values) else math.nan


def best_val_loss(run: Run) -> float:
    values = run.history.val_loss[np.isfinite(run.history.val_loss)]
    return float(values.min()) if len(values) else math.nan


@torch.no_grad()
def memory_ablation(run: Run) -> dict[str, np.ndarray]:
    """Per-step validation MSE of a many-to-many regression model, as trained and with its
    memory wiped: the same weights reading every step as a sequence of length one (h_{t-1} = 0),
    so the prediction at t can use only x_t. Also the "persistence" forecast (predict x_t)."""
    x, y = validation_set(run.config)
    model = run.model.eval()
    batch, steps, _ = x.shape
    with_memory = ((model(x) - y) ** 2).mean(dim=(0, 2))
    alone = model(x.reshape(batch * steps, 1, -1)).reshape(y.shape)
    without_memory = ((alone - y) ** 2).mean(dim=(0, 2))
    persistence = ((x[..., :1] - y) ** 2).mean(dim=(0, 2))
    return {"with_memory": with_memory.numpy(), "without_memory": without_memory.numpy(),
            "persistence": persistence.numpy()}


def gradient_ratio(profile: np.ndarray) -> float:
    """||dL/dh_0|| / ||dL/dh_{T-1}||: how much of the last step's gradient reaches the first."""
    return _ratio(float(profile[0]), float(profile[-1]))


def trained_profile(run: Run, dtype: torch.dtype = torch.float32) -> np.ndarray:
    """Mean ||dL/dh_t|| over the probe batch for the trained model (the top layer). In float64
    a profile that falls by dozens of orders of magnitude does not underflow to 0 as it does in
    float32, the precision the network trains in."""
    x, y = probe_batch(run.config)
    model = run.model if dtype == torch.float32 else copy.deepcopy(run.model).to(dtype)
    return trace(model, x.to(dtype), y.to(dtype), jacobians=False).grad_h[-1].mean(axis=0)


def snapshot_shares(run: Run) -> np.ndarray:
    """Per snapshot (``run.snapshot_steps``, the rows of the "over training" heatmap), the share
    of the last step's gradient that reaches step 0 on the probe batch, ``[snapshots]``."""
    grads = np.asarray(run.history.probe_grad, dtype=np.float64)
    last = grads[:, -1]
    return np.where(last > 0, grads[:, 0] / np.where(last > 0, last, 1.0), 0.0)


def carrying_units(run: Run, top: int = 3) -> dict[str, np.ndarray]:
    """Adding problem, LSTM: which cell units carry the first marked value, and their forget gate.

    On the validation set, correlate each unit's cell state c_t at the last step of the first
    half (the first marker has been read, the second not yet) with the first marked value; the
    ``top`` units by |r| carry the number. For every unit, the mean forget gate f_t over the
    steps from just after the first marker to the end of the sequence: the steps across which
    the number must be kept.
    """
    x, _ = validation_set(run.config)
    tr = trace(run.model, x, jacobians=False)
    cell = tr.cell[-1]  # [batch, time, hidden]
    forget = tr.gates[-1]["f"]
    markers = x[..., 1].numpy()
    values = x[..., 0].numpy()
    half = max(x.shape[1] // 2, 1)
    first = markers[:, :half].argmax(axis=1)
    first_value = values[np.arange(len(first)), first]
    held = cell[:, half - 1]
    centred = held - held.mean(axis=0)
    target = first_value - first_value.mean()
    denominator = np.sqrt((centred ** 2).sum(axis=0) * (target ** 2).sum())
    r = np.where(denominator > 0, (centred * target[:, None]).sum(axis=0) /
                 np.maximum(denominator, 1e-12), 0.0)
    steps = np.arange(x.shape[1])
    after = steps[None, :] > first[:, None]  # [batch, time]
    mean_forget = (forget * after[..., None]).sum(axis=(0, 1)) / after.sum()
    order = np.argsort(-np.abs(r))
    return {"correlation": r, "forget": mean_forget, "carriers": order[:top]}


def always_open_forget_units(run: Run, example: int = 0, threshold: float = 0.9) -> np.ndarray:
    """LSTM: the units whose forget gate stays above ``threshold`` at every step of probe
    example ``example`` (the example the Gates page opens on): the rows of its f heatmap that
    stay dark red all the way."""
    x, y = probe_batch(run.config)
    forget = trace(run.model, x[example:example + 1], jacobians=False).gates[-1]["f"][0]
    return np.flatnonzero((forget > threshold).all(axis=0))


def parameter_breakdown(run: Run) -> dict[str, int]:
    """Parameters of a model by kind, for a side-by-side bar chart."""
    kinds = {"input weights W_ih": 0, "recurrent weights W_hh": 0, "biases": 0,
             "readout": 0}
    for name, p in run.model.named_parameters():
        if name.startswith("head"):
            kinds["readout"] += p.numel()
        elif "weight_ih" in name:
            kinds["input weights W_ih"] += p.numel()
        elif "weight_hh" in name:
            kinds["recurrent weights W_hh"] += p.numel()
        else:
            kinds["biases"] += p.numel()
    return kinds


def profile_drop(profile64: np.ndarray, profile32: np.ndarray) -> str:
    """How far a gradient profile ``[T]`` falls from its last step back to its first, in words:
    orders of magnitude measured in float64, and how many of the first steps float32, the
    precision training uses, rounds to exactly 0."""
    last, first = float(profile64[-1]), float(profile64[0])
    if last <= 0 or first <= 0:
        return "is 0 at the last step already" if last <= 0 else "reaches exactly 0"
    words = f"falls {math.log10(last / first):.0f} orders of magnitude from the last step back " \
            "to the first"
    zeros = int(np.argmax(profile32 > 0)) if (profile32 > 0).any() else len(profile32)
    if zeros:
        words += (f" (measured in float64: float32, in which the network trains, rounds the "
                  f"first {zeros} steps' gradient to exactly 0)")
    return words
