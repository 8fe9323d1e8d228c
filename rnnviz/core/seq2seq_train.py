"""Training a translation run (issue 21): ``rnnviz.core.train.train`` hands a seq2seq task's
config here, and what comes back is a ``Run`` like any other (history, snapshots, ``model_at``,
run files), so the job registry, the worker pool, the runs folder and rewind take it unchanged.

The loop is ``train``'s, step for step: the same batch stream, optimizer, clipping with the same
norm, validation every ``eval_every`` steps and a probe snapshot (weights and a gradient row)
every ``probe_every``. What differs:

- the loss is token cross-entropy over the target steps (``<eos>`` included, padding not);
- teacher forcing below 1: before each target step a coin from a generator seeded by (seed,
  step) says whether the decoder reads the true previous token or its own guess, so a run is
  still a function of its config;
- the training metric is exact match under teacher forcing, the validation metric exact match
  of free decoding (greedy, or beam search of the config's width): what a user of the model
  gets;
- a probe row is ``||dL/dh_t^enc||`` over the encoder's steps
  (``seq2seq.encoder_gradient_profile``), the gradient that reaches each source step.

An exploding run stops with its reason and keeps the last validated weights, as ``train`` does.
"""

from __future__ import annotations

import contextlib
import math
import time

import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.determinism import seeded_rng, step_seed
from rnnviz.core.history import History, model_weights
from rnnviz.core.models import build_model
from rnnviz.core.seq2seq import Seq2SeqModel, beam_search, encoder_gradient_profile
from rnnviz.core.tasks import TASKS, probe_batch, validation_set


@torch.no_grad()
def exact_match(model: Seq2SeqModel, x: torch.Tensor, y: torch.Tensor, beam: int = 1) -> float:
    """The share of examples whose free decoding (greedy, or beam search of width ``beam``)
    equals the target up to and including ``<eos>``."""
    was_training = model.training
    model.eval()
    try:
        if beam == 1:
            ids, _ = model.greedy(x, y.shape[1])
        else:
            ids = torch.full_like(y, -2)
            for b in range(x.shape[0]):
                out, _, _, _ = beam_search(model, x[b:b + 1], y.shape[1], beam)
                out = (out + [0])[: y.shape[1]]
                ids[b, :len(out)] = torch.tensor(out, device=ids.device)
        return float(((ids == y) | (y < 0)).all(dim=1).float().mean())
    finally:
        model.train(was_training)


@torch.no_grad()
def token_accuracy(model: Seq2SeqModel, x: torch.Tensor, y: torch.Tensor) -> float:
    """The share of target tokens (``<eos>`` included) greedy decoding gets right at their
    position."""
    model.eval()
    ids, _ = model.greedy(x, y.shape[1])
    mask = y >= 0
    return float(((ids == y) & mask).sum() / mask.sum())


def evaluate(model: Seq2SeqModel, x, y, beam: int) -> tuple[float, float]:
    """(teacher-forced token cross-entropy, exact match of free decoding)."""
    task = TASKS[model.task]
    was_training = model.training
    model.eval()
    with torch.no_grad():
        logits, _ = model(x, y)
    model.train(was_training)
    return float(task.loss(logits, y)), exact_match(model, x, y, beam)


def teacher_mask(cfg: RunConfig, step: int, length: int) -> torch.Tensor | None:
    """Which target steps of training step ``step`` read the true previous token: None (all of
    them) at ratio 1, else a coin per step seeded by (seed, step)."""
    if cfg.teacher_forcing >= 1.0:
        return None
    generator = torch.Generator().manual_seed(step_seed(cfg.seed, step) & ((1 << 63) - 1))
    return torch.rand(length, generator=generator) < cfg.teacher_forcing


def train_seq2seq(cfg: RunConfig, device: torch.device, on_step, on_start, loop):
    """``rnnviz.core.train._train`` for a seq2seq task (see the module docstring); ``loop`` is
    ``rnnviz.core.train`` itself, whose batches, optimizer, clipping and Run this shares."""
    task = TASKS[cfg.task]
    model = build_model(cfg).to(device)
    history = History(cfg.steps, cfg.eval_every, cfg.seq_len,
                      n_params=sum(t.numel() for t in model.state_dict().values()))
    optimizer = loop.make_optimizer(cfg, model.parameters())
    batches = loop.BatchStream(cfg, device)
    val_x, val_y = (t.to(device) for t in validation_set(cfg))
    probe_x, probe_y = (t.to(device) for t in probe_batch(cfg))
    params = list(model.parameters())

    def profile():
        return encoder_gradient_profile(model, probe_x, probe_y, task.loss_per_example)[0]

    run = loop.Run(cfg, model, history, device=device.type)
    if on_start is not None:
        on_start(run)
    started = time.perf_counter()
    history.record_probe(0, profile())
    last_good, last_good_step, exploded = loop._copy_state(model), 0, ""
    last_good_val = None
    best_val, best_state, stale = math.inf, None, 0
    dropout = model.encoder.dropout > 0
    model.train()
    for step in range(1, cfg.steps + 1):
        x, y = batches.next()
        teacher = teacher_mask(cfg, step, y.shape[1])
        with (seeded_rng(step_seed(cfg.seed, step), device) if dropout
              else contextlib.nullcontext()):
            logits, _ = model(x, y, teacher)
        loss = task.loss(logits, y)
        loss_value = float(loss.detach())
        if not math.isfinite(loss_value):
            exploded = f"{loop.LOSS_OVERFLOW} {loss_value} at step {step}"
            break
        optimizer.zero_grad(set_to_none=True)
        loss.backward()
        norm = loop.total_grad_norm(params)
        grad_norm = float(norm)
        if not grad_norm <= loop.FLOAT32_MAX:
            exploded = loop.gradient_overflow(model, step, loss_value, grad_norm)
            break
        if cfg.clip is not None:
            torch.nn.utils.clip_grads_with_norm_(params, cfg.clip, norm)
        optimizer.step()
        clipped = cfg.clip is not None and grad_norm > cfg.clip
        metric = task.metric(logits.detach(), y)
        history.record_step(loss_value, metric, grad_norm, clipped)
        metrics = {"loss": loss_value, "metric": metric, "grad_norm": grad_norm,
                   "clipped": clipped}
        if step % cfg.eval_every == 0 or step == cfg.steps:
            val_loss, val_metric = evaluate(model, val_x, val_y, cfg.beam)
            history.record_validation(step, val_loss, val_metric)
            metrics.update(val_loss=val_loss, val_metric=val_metric)
            if math.isfinite(val_loss):
                last_good, last_good_step = loop._copy_state(model), step
                last_good_val = (val_loss, val_metric)
            if val_loss < best_val:
                best_val, stale, history.best_step = val_loss, 0, step
                if cfg.early_stopping is not None:
                    best_state = loop._copy_state(model)
                    best_kept_val = (val_loss, val_metric)
            else:
                stale += 1
        if step % cfg.probe_every == 0:
            history.record_probe(step, profile(), model_weights(model))
        if on_step is not None and on_step(step, metrics) is False:
            history.stop_reason = f"stopped by the user at step {step}"
            break
        if cfg.early_stopping is not None and stale >= cfg.early_stopping:
            history.stop_reason = (f"early stopping at step {step}: no validation "
                                   f"improvement in {cfg.early_stopping} checks")
            break
    if history.steps_done and history.probe_step[-1] != history.steps_done:
        history.record_probe(history.steps_done, profile(), model_weights(model), force=True)
    if exploded:
        model.load_state_dict(last_good)
        history.weights_step = last_good_step
        history.weights_val = last_good_val or evaluate(model, val_x, val_y, 1)
        history.stop_reason = (f"{exploded}: the run exploded; the weights were rolled back "
                               f"to step {last_good_step}")
    elif best_state is not None and history.best_step != history.steps_done:
        model.load_state_dict(best_state)
        history.weights_step, history.weights_val = history.best_step, best_kept_val
    model.eval()
    run.elapsed_s = time.perf_counter() - started
    return run
