"""What the Translation page reads off a seq2seq run (issue 21): the attention of one example
against the true alignment, the bottleneck sweep's configs and table, and the page's default
runs.

The attention shown is the teacher-forced one: each row is the output step that should produce
the true target token, so row k lines up with the true alignment's row k even while the model
still gets tokens wrong. The share of aligned output tokens whose strongest attention falls on
the true source position is computed here, from those numbers, never typed.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import PROBE_SIZE, TASKS, VALIDATION_SIZE, seeded_generator

# the page's one-click runs; measured by rnnviz.measure.translation (its table is the README's)
DEFAULTS = {
    "dates": RunConfig(task="dates", seq_len=33, cell="lstm", hidden_size=64, attention="additive",
                       steps=600, eval_every=100, probe_every=50, lr=0.01),
    "reverse": RunConfig(task="reverse", seq_len=12, cell="lstm", hidden_size=64,
                         attention="additive", steps=1000, eval_every=250, probe_every=50),
    "en_fr": RunConfig(task="en_fr", seq_len=12, cell="lstm", hidden_size=64,
                       attention="additive", steps=1500, eval_every=250, probe_every=50),
}
BOTTLENECK_LENGTHS = (5, 10, 20, 30)
SWEEP_STEPS, SWEEP_LR = 1500, 0.003  # every run of the sweep: the same budget


@dataclass(frozen=True)
class AttentionView:
    """One probe example after ``step`` training steps: the source and true target tokens, the
    greedy output (the model fed its own guesses), the teacher-forced output (fed the true
    previous tokens: the gap between the two is exposure bias), and the teacher-forced
    attention ``[target steps + <eos>, source tokens]`` (None without attention)."""

    step: int
    source: list[str]
    target: list[str]
    output: list[str]
    weights: np.ndarray | None
    loss: float
    forced: list[str] = field(default_factory=list)  # argmax at each step, true tokens fed


def aligned_probe(cfg: RunConfig) -> tuple[torch.Tensor, torch.Tensor, torch.Tensor]:
    """The probe batch with its true alignment: the validation set drawn again from the same
    seeded generator through ``sample_aligned`` (which ``sample`` calls), so ``x`` and ``y`` are
    ``probe_batch(cfg)``'s exactly (tests check)."""
    task = TASKS[cfg.task]
    x, y, align = task.sample_aligned(VALIDATION_SIZE, cfg.seq_len,
                                      seeded_generator(cfg.seed + 1_000_003))
    return x[:PROBE_SIZE], y[:PROBE_SIZE], align[:PROBE_SIZE]


def attention_view(model, x: torch.Tensor, y: torch.Tensor, step: int,
                   example: int = 0) -> AttentionView:
    """Example ``example`` of a probe batch read by ``model`` (in eval mode, no RNG touched:
    calling it between training steps leaves training as it was)."""
    task = TASKS[model.task]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            xs, ys = x[example:example + 1], y[example:example + 1]
            logits, weights = model(xs, ys)
            loss = float(task.loss(logits, ys))
            ids, _ = model.greedy(xs, ys.shape[1])
    finally:
        model.train(was_training)
    real = xs[0] != 0
    steps = int((ys[0] >= 0).sum())  # target tokens and <eos>
    out = ids[0].tolist()
    out = out[: out.index(0)] if 0 in out else out
    return AttentionView(
        step=step, source=[task.source_vocab[i] for i in xs[0][real].tolist()],
        target=[task.target_vocab[i] for i in ys[0][: steps - 1].tolist()],
        output=[task.target_vocab[i] for i in out],
        weights=None if weights is None else weights[0, :steps][:, real].cpu().numpy(),
        loss=loss, forced=[task.target_vocab[i] if i else "<eos>"
                           for i in logits[0, :steps].argmax(-1).tolist()])


def true_positions(cfg: RunConfig, example: int = 0) -> list[int]:
    """Each target token's true source position among the real (unpadded) source tokens, -1
    where none (``-`` of a date, ``<eos>``)."""
    x, y, align = aligned_probe(cfg)
    pad = int((x[example] == 0).sum())
    steps = int((y[example] >= 0).sum())
    return [p - pad if p >= 0 else -1 for p in align[example, :steps].tolist()]


def alignment_share(weights: np.ndarray, positions: list[int]) -> tuple[float, int]:
    """The share of output tokens with a true source position whose strongest attention falls
    on it, and how many such tokens there are."""
    rows = [(k, p) for k, p in enumerate(positions) if p >= 0 and k < len(weights)]
    if not rows:
        return 0.0, 0
    hits = sum(int(np.argmax(weights[k]) == p) for k, p in rows)
    return hits / len(rows), len(rows)


def bottleneck_configs(attention: str = "additive",
                       lengths: tuple[int, ...] = BOTTLENECK_LENGTHS) -> list[RunConfig]:
    """The sweep of the bottleneck: reverse at every length, without attention and with
    ``attention`` (additive if "none"), on the same budget (``SWEEP_STEPS`` at learning rate
    ``SWEEP_LR``: at 0.01 the exact match of a finished run swung between 86% and 98% from
    one validation to the next at length 20; at 0.003 it ends at 100%)."""
    attention = attention if attention != "none" else "additive"
    base = DEFAULTS["reverse"].replace(steps=SWEEP_STEPS, lr=SWEEP_LR,
                                       eval_every=SWEEP_STEPS // 4)
    return [base.replace(seq_len=n, attention=a) for n in lengths for a in ("none", attention)]


def bottleneck_table(runs) -> list[dict]:
    """One row per run: length, attention, exact match on its validation set (free decoding)."""
    return [{"length": r.config.seq_len, "attention": r.config.attention,
             "exact match": float(r.history.val_metric[-1]) if len(r.history.val_metric)
             else 0.0} for r in runs]


@dataclass(frozen=True)
class States:
    """The top layer's states of one probe example: the encoder's ``[source tokens, H]`` (its
    last row is the context vector, all a decoder without attention gets) and the decoder's
    ``[target steps + <eos>, H]``, teacher-forced."""

    source: list[str]
    target: list[str]
    encoder: np.ndarray
    decoder: np.ndarray


def hidden_states(model, x: torch.Tensor, y: torch.Tensor, example: int = 0) -> States:
    """Encoder and decoder states of example ``example``, through the fused modules."""
    task = TASKS[model.task]
    was_training = model.training
    model.eval()
    try:
        with torch.no_grad():
            xs, ys = x[example:example + 1], y[example:example + 1]
            enc, state, _ = model.encode(xs)
            dec, _ = model.decoder(model.target_embedding(model.decoder_inputs(ys)), state)
    finally:
        model.train(was_training)
    real = xs[0] != 0
    steps = int((ys[0] >= 0).sum())
    return States(source=[task.source_vocab[i] for i in xs[0][real].tolist()],
                  target=[task.target_vocab[i] for i in ys[0][: steps - 1].tolist()] + ["<eos>"],
                  encoder=enc[0][real].cpu().numpy(), decoder=dec[0, :steps].cpu().numpy())


def validation_scores(run) -> dict:
    """A finished run on its validation set, by free (greedy) decoding: exact match, token
    accuracy and, for en_fr, corpus BLEU against the grammar's translations (sacrebleu)."""
    from rnnviz.core.seq2seq_train import exact_match, token_accuracy
    from rnnviz.core.tasks import validation_set
    from rnnviz.core.translate import bleu

    x, y = validation_set(run.config)
    task = TASKS[run.config.task]
    scores = {"exact": exact_match(run.model, x, y), "token": token_accuracy(run.model, x, y)}
    if task.joiner:
        with torch.no_grad():
            ids, _ = run.model.greedy(x, y.shape[1])
        hyps, refs = [], []
        for out, ref in zip(ids.tolist(), y.tolist()):
            out = out[: out.index(0)] if 0 in out else out
            hyps.append(" ".join(task.target_vocab[i] for i in out))
            refs.append(" ".join(task.target_vocab[i] for i in ref[: ref.index(0)]))
        scores["bleu"] = bleu(hyps, refs)
    return scores
