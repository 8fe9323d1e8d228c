"""Sentences about one finished run, computed from its history: what happened when it exploded,
and which weights it kept. The pages print them as they are, so every number in them is the
run's own.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.train import ROLLBACK_FACTOR


@dataclass(frozen=True)
class Explosion:
    """How an exploded run's training loss climbed before it overflowed.

    ``low_step``/``low_loss``: the smallest training loss before the peak; ``peak_step``/
    ``peak_loss``: the largest finite one; ``overflow_step``: the step whose loss or gradient
    was no longer finite (training stopped there, so it is one past ``history.steps_done``).
    """

    low_step: int
    low_loss: float
    peak_step: int
    peak_loss: float
    overflow_step: int

    @property
    def orders_of_magnitude(self) -> float:
        return math.log10(self.peak_loss / self.low_loss) if self.low_loss > 0 else math.inf


def explosion(history: History) -> Explosion | None:
    """The climb of an exploded run (None for a run that did not explode or has no steps)."""
    if "exploded" not in history.stop_reason or not history.steps_done:
        return None
    loss = np.asarray(history.loss, dtype=np.float64)
    finite = np.where(np.isfinite(loss), loss, np.nan)
    peak = int(np.nanargmax(finite))
    low = int(np.nanargmin(finite[: peak + 1]))
    return Explosion(low_step=low + 1, low_loss=float(finite[low]), peak_step=peak + 1,
                     peak_loss=float(finite[peak]), overflow_step=history.steps_done + 1)


def explosion_story(history: History) -> str:
    """What the loss did, in one sentence with the run's numbers ("" if it did not explode)."""
    climb = explosion(history)
    if climb is None:
        return ""
    span = climb.peak_step - climb.low_step
    if span == 0 or climb.peak_loss <= climb.low_loss:
        return (f"The loss was {climb.low_loss:.3g} at step {climb.low_step}, and at step "
                f"{climb.overflow_step} it was no longer a finite number.")
    return (f"The training loss climbed from {climb.low_loss:.3g} at step {climb.low_step} to "
            f"{climb.peak_loss:.3g} at step {climb.peak_step}, "
            f"{climb.orders_of_magnitude:.0f} orders of magnitude in {span} "
            f"step{'s' if span != 1 else ''}, and at step {climb.overflow_step} it was no "
            "longer a finite number: each oversized update moved the weights to where the "
            "gradient was larger still.")


def kept_weights_note(history: History) -> str:
    """Which weights the model holds after an explosion or early stopping, and why ("" when it
    holds those of its last step)."""
    if history.weights_step is None or history.weights_val is None:
        return ""
    step, (loss, _) = history.weights_step, history.weights_val
    if "exploded" in history.stop_reason:
        if step == 0:
            return (f"The model holds its **initial weights** (validation loss {loss:.3g}): no "
                    f"later validation was within {ROLLBACK_FACTOR:g}× of the best validation "
                    "loss seen, so nothing it learned before the climb was worth keeping. The "
                    "other pages show the untrained network.")
        return (f"The model holds the weights of **step {step}** (validation loss {loss:.3g}), "
                f"the last validation within {ROLLBACK_FACTOR:g}× of the best validation loss "
                "seen: from before the climb, so the other pages show what it had learned.")
    return (f"The model holds the weights of **step {step}**, its best validation (loss "
            f"{loss:.3g}); the scores on this page are those weights'.")


# ---------------------------------------------------------------- the verdict on a run

# per task: the share of the way from chance to perfect that counts as "learned" and as "partly"
# (next-character text and real series are hard: a model that halves the gap has learned a lot)
VERDICT_BARS = {"text": (0.35, 0.1), "sine": (0.9, 0.5)}
DEFAULT_BARS = (0.8, 0.3)
DATA_BARS = (0.5, 0.2)


@dataclass(frozen=True)
class Verdict:
    """How far a finished run got from chance towards perfect on its validation set.

    ``progress``: (chance − val) / chance for an MSE, (val − chance) / (1 − chance) for an
    accuracy; 1 is perfect, 0 is chance, below 0 worse than chance. ``level``: "learned",
    "partly" or "no better than guessing", by the task's bars."""

    level: str
    progress: float
    words: str


def progress_towards_perfect(val: float, chance: float, higher_is_better: bool) -> float:
    if higher_is_better:
        return (val - chance) / (1 - chance) if chance < 1 else 0.0
    return (chance - val) / chance if chance > 0 else 0.0


def verdict(val_metric: float | None, chance_metric: float, higher_is_better: bool,
            task: str, data_task: bool = False) -> Verdict | None:
    """The plain verdict the Playground prints for a finished run (None without a validation)."""
    if val_metric is None or not math.isfinite(val_metric):
        return None
    learned, partly = DATA_BARS if data_task else VERDICT_BARS.get(task, DEFAULT_BARS)
    progress = progress_towards_perfect(val_metric, chance_metric, higher_is_better)
    level = ("learned" if progress >= learned else "partly" if progress >= partly
             else "no better than guessing")
    share = (f"{progress:.0%} of the way from chance to perfect" if progress > 0 else
             "no closer to perfect than chance")
    head = {"learned": "It **learned** the task", "partly": "It learned the task **partly**",
            "no better than guessing": "It is **no better than guessing**"}[level]
    return Verdict(level, progress, f"{head}: {share} on the validation set.")


def next_steps(cfg: RunConfig, stop_reason: str) -> list[tuple[str, RunConfig]]:
    """What to try when a run did not learn, most likely to help first, each a config one click
    away: clipping and a smaller learning rate for an explosion, a gated cell for a vanilla RNN,
    a shorter sequence, a smaller learning rate, clipping."""
    steps: list[tuple[str, RunConfig]] = []

    def offer(label: str, **changes) -> None:
        try:
            steps.append((label, cfg.replace(**changes)))
        except ValueError:  # a change that does not fit this config (a lag vs a length)
            pass

    if "exploded" in stop_reason:
        offer(f"clip gradients at 1 and lower the learning rate to {cfg.lr / 10:g}",
              clip=1.0, lr=cfg.lr / 10)
    if cfg.cell == "rnn":
        offer("use an LSTM, which can keep its memory", cell="lstm")
    if cfg.seq_len > 20:
        offer(f"a shorter sequence ({cfg.seq_len // 2} steps)", seq_len=cfg.seq_len // 2)
    if cfg.lr > 0.02 and "exploded" not in stop_reason:
        offer(f"a smaller learning rate ({cfg.lr / 10:g})", lr=cfg.lr / 10)
    if cfg.clip is None and "exploded" not in stop_reason:
        offer("clip gradients at 1", clip=1.0)
    return steps[:3]
