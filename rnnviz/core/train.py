"""The training loop: one readable loop, a bounded History, and a callback instead of UI code.

``train(cfg, on_step)`` builds the model, trains it with the chosen optimizer and records per
step: the training loss and metric, the total gradient norm *before* clipping (in float64 where
float32 overflows: ``total_grad_norm``) and whether the step was clipped; every ``eval_every``
steps the validation loss and metric; every ``probe_every`` steps the per-time-step gradient
norms ``||dL/dh_t||`` of the top layer on a fixed probe batch (a row of the "gradient at each
time step over training" heatmap).

Thread policy: on the CPU each training job runs on **one** torch thread. These networks are
tiny (a [64 x 32] by [32 x 128] matmul per step); splitting them across threads costs more in
synchronisation than it gains, and when several jobs share a machine (a class on one server) the
threads fight for cores: measured on 2 cores, an LSTM step took ~2.8 ms with two threads on an
idle machine, ~12 ms with two threads while another process kept one core busy, and ~3.5 ms with
one thread under the same load. ``python -m rnnviz bench`` prints the comparison for this
machine. One thread is also what makes a run's bits the same in a server's thread and in a
worker process; with the per-step seeding of dropout, a run is a function of its config alone
(``rnnviz.core.determinism``).
"""

from __future__ import annotations

import contextlib
import copy
import dataclasses
import math
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.determinism import seeded_rng, single_thread, step_seed
from rnnviz.core.history import History, load_weights, model_weights
from rnnviz.core.models import RecurrentModel, build_model
from rnnviz.core.tasks import (
    TASKS,
    Chance,
    chance_for,
    probe_batch,
    seeded_generator,
    task_params,
    validation_set,
)
from rnnviz.core.trace import gradient_profile

SGD_MOMENTUM = 0.9
# An exploding run rolls back to the last validation whose loss was finite and at most this many
# times the best validation loss seen (the initial weights' included): a finite loss alone is
# not enough, since the loss climbs by orders of magnitude for dozens of steps before it
# overflows, and weights from that climb have learned nothing worth showing.
ROLLBACK_FACTOR = 2.0


@dataclass
class Run:
    """A trained (or stopped) model with its config and history."""

    config: RunConfig
    model: RecurrentModel
    history: History
    device: str = "cpu"
    elapsed_s: float = 0.0
    meta: dict = field(default_factory=dict)
    # traces and other derived views of this run, computed once and shared by every page and
    # session that looks at it (not saved, not compared)
    cache: dict = field(default_factory=dict, repr=False, compare=False)

    @property
    def task(self):
        return TASKS[self.config.task]

    @property
    def chance(self) -> Chance:
        return chance_for(self.config)

    @property
    def snapshot_steps(self) -> list[int]:
        """The training steps whose weights ``model_at`` can give, ascending: 0, the probe
        schedule (thinned like the "over training" heatmap, row for row) and the last step. A
        run read from a file written before snapshots existed has only its last step."""
        if not self.history.has_snapshots:
            return [self.history.steps_done]
        return [int(s) for s in self.history.probe_step]

    def model_at(self, step: int) -> RecurrentModel:
        """A model in eval mode holding exactly the weights after ``step`` training steps (on
        the CPU). ``model_at(last step)`` is the weights as trained: for an early-stopped or
        exploded run these differ from ``model``, which holds the weights it kept. A step that
        was not kept is a ValueError naming the nearest kept ones."""
        steps = self.snapshot_steps
        if step not in steps:
            nearest = sorted(steps, key=lambda s: (abs(s - step), s))[:2]
            raise ValueError(f"no snapshot at step {step}; the nearest kept are "
                             f"{' and '.join(str(s) for s in sorted(nearest))}")
        if not self.history.has_snapshots:
            return self.model
        index = steps.index(step)
        model = build_model(self.config.replace(device="cpu"))
        if index:
            load_weights(model, self.history.snapshot_weights(index))
        return model.eval()

    def at(self, step: int) -> Run:
        """This run as it was after ``step`` training steps: the same config and history with
        ``model_at(step)`` as its model and a cache of its own (its traces)."""
        return dataclasses.replace(self, model=self.model_at(step), cache={})

    @property
    def steps_per_s(self) -> float:
        return self.history.steps_done / self.elapsed_s if self.elapsed_s > 0 else 0.0

    def summary(self) -> dict:
        """The run in numbers. ``val_loss`` and ``val_metric`` score the weights the model
        holds (an early-stopped run's best validation, an exploded run's rollback), not
        necessarily the last validation; ``weights_step`` says which step those weights are
        from."""
        h = self.history
        kept = h.kept_validation()
        return {
            "cell": self.config.cell, "task": self.config.task, "steps": h.steps_done,
            "loss": _last(h.loss), "metric": _last(h.metric), "metric_name": self.task.metric_name,
            "val_loss": None if kept is None else kept[0],
            "val_metric": None if kept is None else kept[1],
            "weights_step": h.steps_done if h.weights_step is None else h.weights_step,
            "chance_metric": self.chance.metric, "chance_loss": self.chance.loss,
            "stop_reason": h.stop_reason, "elapsed_s": round(self.elapsed_s, 3),
            "steps_per_s": round(self.steps_per_s, 1), "device": self.device,
        }


def stopped_copy(run: Run, step: int) -> Run:
    """A copy of a run still training, taken between two steps, as if stopped at ``step``
    (what a watcher who leaves a shared job keeps)."""
    snapshot = copy.deepcopy(run)
    snapshot.model.eval()
    snapshot.history.stop_reason = f"stopped by the user at step {step}"
    return snapshot


def _last(values: np.ndarray) -> float | None:
    return float(values[-1]) if len(values) else None


def resolve_device(name: str) -> torch.device:
    """"auto" -> CUDA when present, else CPU. Asking for "cuda" without a GPU is an error."""
    if name == "auto":
        return torch.device("cuda" if torch.cuda.is_available() else "cpu")
    if name == "cuda" and not torch.cuda.is_available():
        raise ValueError("device: cuda was requested but this machine has no CUDA GPU; "
                         "choose auto or cpu")
    return torch.device(name)


def make_optimizer(cfg: RunConfig, params) -> torch.optim.Optimizer:
    if cfg.optimizer == "sgd":
        return torch.optim.SGD(params, lr=cfg.lr, momentum=SGD_MOMENTUM,
                               weight_decay=cfg.weight_decay)
    if cfg.optimizer == "rmsprop":
        return torch.optim.RMSprop(params, lr=cfg.lr, weight_decay=cfg.weight_decay)
    return torch.optim.Adam(params, lr=cfg.lr, weight_decay=cfg.weight_decay)


class BatchStream:
    """Training batches: fresh samples every step, or minibatches of a fixed training set
    (``train_size``) reshuffled each epoch. Deterministic given the config's seed."""

    def __init__(self, cfg: RunConfig, device: torch.device):
        self.cfg, self.device = cfg, device
        self.task = TASKS[cfg.task]
        self.generator = seeded_generator(cfg.seed)
        self.params = task_params(cfg)
        self.fixed = None
        if cfg.train_size is not None:
            x, y = self.task.sample(cfg.train_size, cfg.seq_len, self.generator, **self.params)
            self.fixed = (x.to(device), y.to(device))
            self.order = torch.empty(0, dtype=torch.long)

    def next(self) -> tuple[torch.Tensor, torch.Tensor]:
        if self.fixed is None:
            x, y = self.task.sample(self.cfg.batch_size, self.cfg.seq_len, self.generator,
                                    **self.params)
            return x.to(self.device), y.to(self.device)
        if len(self.order) < min(self.cfg.batch_size, self.cfg.train_size):
            self.order = torch.randperm(self.cfg.train_size, generator=self.generator)
        take, self.order = self.order[: self.cfg.batch_size], self.order[self.cfg.batch_size:]
        take = take.to(self.device)
        return self.fixed[0][take], self.fixed[1][take]


@torch.no_grad()
def evaluate(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor) -> tuple[float, float]:
    """(loss, metric) of the model on a batch, in eval mode (no dropout)."""
    task = TASKS[model.task]
    was_training = model.training
    model.eval()
    pred = model(x)
    model.train(was_training)
    return float(task.loss(pred, y)), task.metric(pred, y)


FLOAT32_MAX = float(torch.finfo(torch.float32).max)  # 3.4e38
# an exploded run's stop reason begins with what was no longer finite (run_notes reads them)
LOSS_OVERFLOW = "the training loss became"
ENTRY_OVERFLOW = "a gradient entry became"
NORM_OVERFLOW = "the gradient norm became"


@torch.no_grad()
def total_grad_norm(params: list[torch.Tensor]) -> torch.Tensor:
    """The total gradient norm ``sqrt(sum_p ||g_p||^2)`` over ``params``' gradients, a scalar
    tensor on their device: torch's ``get_total_norm`` (float32) where that is finite, and the
    float64 norm where float32 overflowed.

    float32 overflows in the sum of squares long before the norm itself does: past 3.4e38,
    float32's largest number, which one entry of 1.9e19 reaches alone and a thousand of 6e17
    together. The float32 norm read inf at step 32 of the Home page's exploding recipe, where
    every gradient entry was finite (the largest 4.2e18), the norm was 2.4e19 and the loss
    4.4e36. Where it is finite it is within ~1e-7 of the exact norm, and it is the norm every
    run recorded and clipped with before: taking the float64 one everywhere changed every
    clipped run (``clip`` is on by default), and these runs carry a last-bit difference far:
    lesson 2's 20-step run went from validation MSE 0.0129 to 0.0331 and lesson 3's clipped
    run from 0.0197 to 0.0136, while the lessons' claims are measured on the runs as they were.
    Clipping with this norm (``clip_grads_with_norm_``) is ``clip_grad_norm_`` bit for bit
    where float32 holds it, and past that scales the gradient to the threshold where torch's
    coefficient, clip / inf, would zero it.
    """
    grads = [p.grad for p in params if p.grad is not None]
    norm = torch.nn.utils.get_total_norm(grads)
    if bool(torch.isfinite(norm)):
        return norm
    return torch.linalg.vector_norm(torch.stack(
        [torch.linalg.vector_norm(g, dtype=torch.float64) for g in grads]))


def gradient_overflow(model: torch.nn.Module, step: int, loss: float, norm: float) -> str:
    """The stop reason of a step whose loss was finite but whose gradient was not: the first
    parameter with a non-finite gradient entry, or else a norm too large for float32."""
    for name, param in model.named_parameters():
        if param.grad is not None and not bool(torch.isfinite(param.grad).all()):
            value = "nan" if bool(torch.isnan(param.grad).any()) else "inf"
            return (f"{ENTRY_OVERFLOW} {value} at step {step} (in {name}; the training loss "
                    f"was {loss:.3g})")
    return (f"{NORM_OVERFLOW} {norm:.3g} at step {step}, past float32's largest number "
            f"{FLOAT32_MAX:.3g} (its entries and the training loss, {loss:.3g}, were finite)")


def _copy_state(model: torch.nn.Module) -> dict[str, torch.Tensor]:
    return {k: v.detach().clone() for k, v in model.state_dict().items()}


OnStep = Callable[[int, dict], "bool | None"]


def train(cfg: RunConfig, on_step: OnStep | None = None,
          on_start: Callable[[Run], None] | None = None) -> Run:
    """Train a fresh model for ``cfg``; ``on_step(step, metrics)`` is called after every step
    and returning ``False`` stops training at once, keeping what was learned. ``on_start(run)``
    receives the Run being filled before the first step (for live views of its history).

    ``metrics`` holds ``loss``, ``metric``, ``grad_norm``, ``clipped`` and, on validation steps,
    ``val_loss`` and ``val_metric``. A non-finite loss or gradient ends the run cleanly with the
    reason in ``history.stop_reason``, which names what was no longer finite (the loss, a
    gradient entry, or the gradient norm past float32's range: ``gradient_overflow``), and the
    weights roll back to the last validation whose loss was finite and within
    ``ROLLBACK_FACTOR`` of the best (the initial weights if none was), so the model can still
    be inspected.
    """
    device = resolve_device(cfg.device)
    # the whole run on one torch thread on the CPU, building the model included: one is the
    # fastest here (module doc), and a worker's count, so a config trained in a server's thread
    # gives a worker's bits (rnnviz.core.determinism)
    with single_thread() if device.type == "cpu" else contextlib.nullcontext():
        return _train(cfg, device, on_step, on_start)


def _train(cfg: RunConfig, device: torch.device, on_step: OnStep | None,
           on_start: Callable[[Run], None] | None) -> Run:
    task = TASKS[cfg.task]
    if getattr(task, "seq2seq", False):  # a translation task: its own loop, the same Run
        from rnnviz.core.seq2seq_train import train_seq2seq
        # this module's pieces (batches, optimizer, clipping, Run) go along as an argument,
        # so that seq2seq_train does not import train back (no import cycle)
        return train_seq2seq(cfg, device, on_step, on_start, sys.modules[__name__])
    model = build_model(cfg).to(device)
    history = History(cfg.steps, cfg.eval_every, cfg.seq_len,
                      n_params=sum(t.numel() for t in model.state_dict().values()))
    optimizer = make_optimizer(cfg, model.parameters())
    batches = BatchStream(cfg, device)
    val_x, val_y = (t.to(device) for t in validation_set(cfg))
    probe_x, probe_y = (t.to(device) for t in probe_batch(cfg))
    params = list(model.parameters())
    best_val, best_state, stale = math.inf, None, 0
    # what an exploding run rolls back to: the last validation whose loss was finite and not far
    # above the best seen (ROLLBACK_FACTOR), the initial weights to begin with
    last_good, last_good_step, exploded = _copy_state(model), 0, ""
    last_good_val = evaluate(model, val_x, val_y)
    lowest_val = last_good_val[0] if math.isfinite(last_good_val[0]) else math.inf
    run = Run(cfg, model, history, device=device.type)
    if on_start is not None:
        on_start(run)
    started = time.perf_counter()
    history.record_probe(0, gradient_profile(model, probe_x, probe_y))
    model.train()
    # the fused RNN's dropout between layers draws its masks from torch's global RNG, which
    # every thread of a server shares: each step's forward draws them seeded by (seed, step)
    # alone (its backward reuses the masks, and evaluation and probes run in eval mode)
    dropout = model.rnn.dropout > 0
    for step in range(1, cfg.steps + 1):
        x, y = batches.next()
        with (seeded_rng(step_seed(cfg.seed, step), device) if dropout
              else contextlib.nullcontext()):
            pred = model(x)
        loss = task.loss(pred, y)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            exploded = f"{LOSS_OVERFLOW} {loss_value} at step {step}"
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = total_grad_norm(params)
        grad_norm = float(norm)
        if not grad_norm <= FLOAT32_MAX:  # inf or nan, or past what the history's float32 holds
            exploded = gradient_overflow(model, step, loss_value, grad_norm)
            break
        if cfg.clip is not None:  # clip_grad_norm_, given that norm
            torch.nn.utils.clip_grads_with_norm_(params, cfg.clip, norm)
        optimizer.step()
        clipped = cfg.clip is not None and grad_norm > cfg.clip
        metric = task.metric(pred.detach(), y)
        history.record_step(loss_value, metric, grad_norm, clipped)
        metrics = {"loss": loss_value, "metric": metric, "grad_norm": grad_norm,
                   "clipped": clipped}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val_loss, val_metric = evaluate(model, val_x, val_y)
            history.record_validation(step, val_loss, val_metric)
            metrics.update(val_loss=val_loss, val_metric=val_metric)
            if math.isfinite(val_loss):
                lowest_val = min(lowest_val, val_loss)
                if val_loss <= ROLLBACK_FACTOR * lowest_val:
                    last_good, last_good_step = _copy_state(model), step
                    last_good_val = (val_loss, val_metric)
            if val_loss < best_val:
                best_val, stale, history.best_step = val_loss, 0, step
                if cfg.early_stopping is not None:
                    best_state = _copy_state(model)
                    best_kept_val = (val_loss, val_metric)
            else:
                stale += 1
        if step % cfg.probe_every == 0:
            history.record_probe(step, gradient_profile(model, probe_x, probe_y),
                                 model_weights(model))
        if on_step is not None and on_step(step, metrics) is False:
            history.stop_reason = f"stopped by the user at step {step}"
            break
        if cfg.early_stopping is not None and stale >= cfg.early_stopping:
            history.stop_reason = (f"early stopping at step {step}: no validation "
                                   f"improvement in {cfg.early_stopping} checks")
            break
    # the last step's probe and snapshot, as trained: before the model takes the weights
    # it keeps (an early stop's best, an explosion's rollback)
    if history.steps_done and history.probe_step[-1] != history.steps_done:
        history.record_probe(history.steps_done, gradient_profile(model, probe_x, probe_y),
                             model_weights(model), force=True)
    if exploded:
        model.load_state_dict(last_good)
        history.weights_step, history.weights_val = last_good_step, last_good_val
        kept = ("the initial weights" if last_good_step == 0 else
                f"the weights of the last validation within {ROLLBACK_FACTOR:g}x of the best "
                "validation loss")
        history.stop_reason = (f"{exploded}: the run exploded; the weights were rolled back "
                               f"to step {last_good_step} ({kept}, validation loss "
                               f"{last_good_val[0]:.3g})")
    elif best_state is not None and history.best_step != history.steps_done:
        model.load_state_dict(best_state)
        history.weights_step, history.weights_val = history.best_step, best_kept_val
    model.eval()
    run.elapsed_s = time.perf_counter() - started
    return run
