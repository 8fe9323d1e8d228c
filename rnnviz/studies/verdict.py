"""The verdict on a finished run: how far it got from chance towards perfect on its validation
set, in plain words, and whether that is more than the validation set's noise.

One source of truth for "better than chance": the Playground's and Home's verdict and the
Compare page's badges all read ``run_verdict``. Progress is measured the same way for both kinds
of metric, so the bars mean the same thing for an MSE (lower is better) and an accuracy::

    MSE:       progress = (chance − val) / chance          (0 at chance, 1 at MSE 0)
    accuracy:  progress = (val − chance) / (1 − chance)    (0 at chance, 1 at 100%)

Below 0 is worse than the constant guess. Whether a small progress is real or luck of the 256
validation examples is decided by its noise: the standard error of the progress, from how much
the model's per-example score beats the constant guess's on each example (a paired comparison:
both are scored on the same examples). A progress within two standard errors of 0 is "no better
than guessing"; above that and below the task's "partly" bar it is "a little better than
chance", never "no better than guessing" (issue 19: 25.2% against chance 18.7%, 8% of the way,
was called guessing).
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.config import is_data_task
from rnnviz.core.tasks import TASKS, Task, best_constant, validation_set

# per task: the share of the way from chance to perfect that counts as "learned" and as "partly"
# (next-character text and real series are hard: a model that halves the gap has learned a lot)
VERDICT_BARS = {"text": (0.35, 0.1), "sine": (0.9, 0.5)}
DEFAULT_BARS = (0.8, 0.3)
DATA_BARS = (0.5, 0.2)
# "most of the task" is literal: more than half of the way, and still below the "learned" bar
# (the clipped run of lesson 3 gets 87% of the way on the sine, whose bar is 90%: it was called
# "partly" and offered fixes, while the lesson rightly says clipping rescued it)
MOST = 0.5
NOISE_Z = 2.0  # standard errors of the progress that a run must clear to beat chance

LEARNED, MOSTLY, PARTLY, A_LITTLE, GUESSING = (
    "learned", "mostly", "partly", "a little better than chance", "no better than guessing")
# a run at these levels gets no list of fixes: it did what it was set up to do, or most of it
GOOD = (LEARNED, MOSTLY)


@dataclass(frozen=True)
class Verdict:
    """``level``: one of LEARNED, MOSTLY, PARTLY, A_LITTLE, GUESSING. ``progress``: the share of
    the way from chance to perfect (module docstring); ``noise``: its standard error on the
    validation set (0 when unknown); ``words``: the sentence the pages print."""

    level: str
    progress: float
    noise: float
    words: str

    @property
    def good(self) -> bool:
        """Learned, or most of the way: shown as a success, with no "Try:" fixes."""
        return self.level in GOOD

    @property
    def beats_chance(self) -> bool:
        """Better than chance by more than the validation set's noise."""
        return self.level != GUESSING


def progress_towards_perfect(val: float, chance: float, higher_is_better: bool) -> float:
    if higher_is_better:
        return (val - chance) / (1 - chance) if chance < 1 else 0.0
    return (chance - val) / chance if chance > 0 else 0.0


def _share(progress: float) -> str:
    # one decimal below 10%: a 0.5% gain must not read as "1%" next to a ±1% noise
    return f"{progress:.0%}" if abs(progress) >= 0.1 else f"{progress:.1%}"


def verdict(val_metric: float | None, chance_metric: float, higher_is_better: bool,
            task: str, data_task: bool = False, noise: float = 0.0,
            examples: int = 0) -> Verdict | None:
    """The verdict for a validation score (None without a finite one). ``noise``: the standard
    error of the progress (``progress_noise``), ``examples`` how many validation examples it
    comes from (for the words)."""
    if val_metric is None or not math.isfinite(val_metric):
        return None
    learned, partly = DATA_BARS if data_task else VERDICT_BARS.get(task, DEFAULT_BARS)
    progress = progress_towards_perfect(val_metric, chance_metric, higher_is_better)
    margin = NOISE_Z * noise
    if progress <= margin:  # within the noise of chance, or below it
        level = GUESSING
    elif progress >= learned:
        level = LEARNED
    elif progress >= max(MOST, partly):
        level = MOSTLY
    elif progress >= partly:
        level = PARTLY
    else:
        level = A_LITTLE
    share = f"{_share(progress)} of the way from chance to perfect on the validation set"
    of = f" of its {examples} examples" if examples else ""
    if level == GUESSING:
        noisy = f", within the noise{of} (±{_share(margin)})" if noise > 0 else ""
        where = (f"{share}{noisy}" if progress > 0 else
                 f"no closer to perfect than chance on the validation set{noisy}"
                 if progress >= -margin else
                 f"it scores worse than chance on the validation set ({_share(progress)} of "
                 "the way from chance to perfect)")
        return Verdict(level, progress, noise, f"It is **no better than guessing**: {where}.")
    head = {LEARNED: "It **learned** the task", MOSTLY: "It learned **most** of the task",
            PARTLY: "It learned the task **partly**",
            A_LITTLE: "It is **a little better than chance**"}[level]
    tail = (f", more than the noise{of} (±{_share(margin)})" if level == A_LITTLE and noise > 0
            else "")
    return Verdict(level, progress, noise, f"{head}: {share}{tail}.")


def per_example_gain(task: Task, pred: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, float]:
    """How much each validation example's score beats the best constant guess's (``[examples]``,
    in float64), and the total that turns their sum into progress: the chance's squared error
    summed over every output for an MSE, the targets the constant guess gets wrong for an
    accuracy. ``gain.sum() / room`` is the progress of the model's predictions ``pred``."""
    constant, _ = best_constant(task, y)
    batch = y.shape[0]
    if not task.classification:
        def squared(p: torch.Tensor) -> torch.Tensor:
            return (p.double() - y.double()).pow(2).reshape(batch, -1).sum(dim=1)
        chance = squared(constant)
        return (chance - squared(pred)).numpy(), float(chance.sum())
    target = y.reshape(batch, -1).long()
    mask = target >= 0  # a step without a target counts for neither

    def correct(p: torch.Tensor) -> torch.Tensor:
        guess = p.reshape(batch, target.shape[1], -1).argmax(dim=-1)
        return ((guess == target) & mask).double().sum(dim=1)
    chance = correct(constant)
    return (correct(pred) - chance).numpy(), float(mask.sum() - chance.sum())


def progress_noise(gain: np.ndarray, room: float) -> float:
    """The standard error of ``gain.sum() / room`` over the examples (0 when it cannot be
    measured: fewer than two examples, or nothing to gain)."""
    if len(gain) < 2 or room <= 0:
        return 0.0
    return float(np.std(gain, ddof=1) * math.sqrt(len(gain)) / room)


def run_noise(run) -> tuple[float, int]:
    """The noise of ``run``'s progress on its validation set, from the model it holds, and the
    number of validation examples; computed once per run (``run.cache``)."""
    key = "verdict-noise"
    if key not in run.cache:
        model, task = run.model, TASKS[run.config.task]
        x, y = validation_set(run.config)
        device = next(model.parameters()).device
        was_training = model.training
        model.eval()
        try:
            with torch.no_grad():
                pred = model(x.to(device)).cpu()
        finally:
            model.train(was_training)
        gain, room = per_example_gain(task, pred, y)
        run.cache[key] = (progress_noise(gain, room), len(gain))
    return run.cache[key]


def run_verdict(run) -> Verdict | None:
    """The verdict on a finished run: its kept validation score against its chance, with the
    noise of its validation set."""
    summary = run.summary()
    if summary["val_metric"] is None or not math.isfinite(summary["val_metric"]):
        return None
    noise, examples = run_noise(run)
    return verdict(summary["val_metric"], run.chance.metric, run.task.higher_is_better,
                   run.config.task, is_data_task(run.config.task), noise, examples)
