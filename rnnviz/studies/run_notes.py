"""Sentences about one finished run, computed from its history: what happened when it exploded,
and which weights it kept. The pages print them as they are, so every number in them is the
run's own.
"""

from __future__ import annotations

import math
import re
from dataclasses import dataclass

import numpy as np

from rnnviz.core.config import RunConfig
from rnnviz.core.history import History
from rnnviz.core.train import ENTRY_OVERFLOW, NORM_OVERFLOW, ROLLBACK_FACTOR


@dataclass(frozen=True)
class Explosion:
    """How an exploded run's training loss climbed before something overflowed.

    ``low_step``/``low_loss``: the smallest training loss before the peak; ``peak_step``/
    ``peak_loss``: the largest finite one; ``overflow_step``: the step whose loss or gradient
    was no longer finite (training stopped there, so it is one past ``history.steps_done``);
    ``overflowed``: what was not, read from the stop reason ``rnnviz.core.train`` wrote:
    "loss", "gradient entry" (the loss was finite, an entry of its gradient was not) or
    "gradient norm" (the loss and, in a run trained since the norm is taken in float64, every
    entry were finite, but the norm was past float32's range)."""

    low_step: int
    low_loss: float
    peak_step: int
    peak_loss: float
    overflow_step: int
    overflowed: str = "loss"
    at_overflow: str = "it was no longer a finite number"  # the story's clause for that step

    @property
    def orders_of_magnitude(self) -> float:
        return math.log10(self.peak_loss / self.low_loss) if self.low_loss > 0 else math.inf


# "a gradient entry became inf at step 32 (in rnn.weight_hh_l0; the training loss was 4.36e+36)"
_ENTRY = re.compile(rf"^{ENTRY_OVERFLOW} (\w+) at step \d+ \(in ([\w.]+); the training loss "
                    r"was ([^)]+)\)")
# "the gradient norm became inf at step 32" (a float32 norm, before it was taken in float64), or
# "... became 5.2e+39 at step 32, past float32's largest number ..."
_NORM = re.compile(rf"^{NORM_OVERFLOW} (\S+) at step \d+")


def _what_overflowed(stop_reason: str) -> tuple[str, str]:
    """(the quantity, the story's clause for the overflow step) from an exploded run's stop
    reason. The loss is checked first in training, so a gradient stop had a finite loss."""
    if entry := _ENTRY.match(stop_reason):
        value, parameter, loss = entry.groups()
        return "gradient entry", (f"the loss was still finite ({loss}) but an entry of its "
                                  f"gradient, in `{parameter}`, was {value}")
    if norm := _NORM.match(stop_reason):
        return "gradient norm", ("the loss was still finite but the gradient norm "
                                 f"({norm.group(1)}) was past the largest float32 number")
    return "loss", "it was no longer a finite number"


def explosion(history: History) -> Explosion | None:
    """The climb of an exploded run (None for a run that did not explode or has no steps)."""
    if "exploded" not in history.stop_reason or not history.steps_done:
        return None
    loss = np.asarray(history.loss, dtype=np.float64)
    finite = np.where(np.isfinite(loss), loss, np.nan)
    peak = int(np.nanargmax(finite))
    low = int(np.nanargmin(finite[: peak + 1]))
    overflowed, at_overflow = _what_overflowed(history.stop_reason)
    return Explosion(low_step=low + 1, low_loss=float(finite[low]), peak_step=peak + 1,
                     peak_loss=float(finite[peak]), overflow_step=history.steps_done + 1,
                     overflowed=overflowed, at_overflow=at_overflow)


def explosion_story(history: History) -> str:
    """What the loss did, in one sentence with the run's numbers, ending with what overflowed at
    the step training stopped ("" if it did not explode)."""
    climb = explosion(history)
    if climb is None:
        return ""
    span = climb.peak_step - climb.low_step
    if span == 0 or climb.peak_loss <= climb.low_loss:
        return (f"The loss was {climb.low_loss:.3g} at step {climb.low_step}, and at step "
                f"{climb.overflow_step} {climb.at_overflow}.")
    return (f"The training loss climbed from {climb.low_loss:.3g} at step {climb.low_step} to "
            f"{climb.peak_loss:.3g} at step {climb.peak_step}, "
            f"{climb.orders_of_magnitude:.0f} orders of magnitude in {span} "
            f"step{'s' if span != 1 else ''}, and at step {climb.overflow_step} "
            f"{climb.at_overflow}: each oversized update moved the weights to where the "
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
