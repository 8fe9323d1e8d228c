"""Every claim the app makes about what training does, as something a machine can check.

A claim is a sentence a learner reads (a lesson's promise, a Home page recipe), the runs it is
about (label -> RunConfig) and ``check``: a function of those trained runs that returns an
``Outcome`` (facts with the numbers, and whether the claim held). The lessons' claims come from
``rnnviz.studies.lessons``; the Home page's recipes are checked here.

Such a sentence is about most seeds and every machine, not one run: PyTorch's CPU kernels round
differently per instruction set, so a run near a tipping point ends elsewhere on another CPU.
``rnnviz claims --seeds 5`` (``rnnviz.measure.robustness``) trains every claim on seeds 0-4
under the machine's native kernels and under ``ATEN_CPU_CAPABILITY=default`` and prints how many
(seed, kernel) pairs each held on. ``Claim.on_seed`` gives the same runs with another seed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field

from rnnviz.core.config import RunConfig
from rnnviz.core.train import Run
from rnnviz.studies.lesson_checks import Outcome
from rnnviz.studies.lesson_measures import final_val_loss
from rnnviz.studies.lessons import LESSONS
from rnnviz.studies.recipes import EXPLODE, HOME_RUN, LONG_LSTM, LONG_RNN, RESCUE
from rnnviz.studies.verdict import LEARNED, run_verdict


@dataclass(frozen=True)
class Claim:
    key: str
    where: str  # where a learner reads it: "Lesson 3", "Home"
    says: str  # the sentence, in words
    runs: tuple[tuple[str, RunConfig], ...]
    check: Callable[[dict[str, Run]], Outcome] = field(repr=False, compare=False)
    # the numbers of ``Outcome.numbers`` that the robustness table shows, with their format
    headline: tuple[tuple[str, str], ...] = ()

    def on_seed(self, seed: int) -> tuple[tuple[str, RunConfig], ...]:
        """The claim's runs with every config's seed replaced (the shipped runs at their own)."""
        return tuple((label, cfg.replace(seed=seed)) for label, cfg in self.runs)


def _of_chance(run: Run) -> float:
    """The validation loss of the weights the run holds, as a share of chance's loss."""
    kept = run.history.kept_validation()
    loss = kept[0] if kept is not None else final_val_loss(run)
    return loss / run.chance.loss


def _exploded(run: Run) -> bool:
    return "exploded" in run.history.stop_reason


# the Home page: "the run explodes. With clipping ... the same network trains; either change
# alone is not enough". "Trains": the weights it ends with score under a quarter of chance.
TRAINS_BELOW = 0.25
NOT_ENOUGH_ABOVE = 0.5  # "not enough": it explodes, or stays above half of chance


def check_rescue(runs: dict[str, Run]) -> Outcome:
    wild, rescued = runs["explodes"], runs["rescued"]
    clip_only, lr_only = runs["clipping alone"], runs["learning rate alone"]
    rescued_share = _of_chance(rescued)
    halves = {label: run for label, run in (("clipping alone", clip_only),
                                            ("learning rate alone", lr_only))}
    not_enough = {label: _exploded(run) or _of_chance(run) > NOT_ENOUGH_ABOVE
                  for label, run in halves.items()}
    holds = (_exploded(wild) and rescued.history.stop_reason == "finished"
             and rescued_share < TRAINS_BELOW and all(not_enough.values()))
    facts = [
        f"Without clipping the run {'explodes' if _exploded(wild) else 'does not explode'} "
        f"after {wild.history.steps_done} steps.",
        f"With both changes it ends at {rescued_share:.0%} of chance "
        f"({rescued.history.stop_reason}).",
    ] + [f"{label}: " + ("explodes" if _exploded(run) else f"{_of_chance(run):.0%} of chance")
         for label, run in halves.items()]
    numbers = {"rescued_share": rescued_share, "wild_steps": wild.history.steps_done}
    numbers.update({f"{label} share": (float("inf") if _exploded(run) else _of_chance(run))
                    for label, run in halves.items()})
    return Outcome(holds, facts, numbers)


# "a vanilla RNN stays near chance, an LSTM solves it"
NEAR_CHANCE_ABOVE = 0.8
SOLVES_BELOW = 0.05


def check_long_adding(runs: dict[str, Run]) -> Outcome:
    rnn, lstm = _of_chance(runs["vanilla RNN"]), _of_chance(runs["LSTM"])
    holds = rnn > NEAR_CHANCE_ABOVE and lstm < SOLVES_BELOW
    return Outcome(holds, [f"Vanilla RNN at {rnn:.0%} of chance, LSTM at {lstm:.1%}."],
                   {"rnn_share": rnn, "lstm_share": lstm})


def check_home_run(runs: dict[str, Run]) -> Outcome:
    """The Home page's example model is "a working model": it learns the task."""
    run = runs["Home run"]
    found = run_verdict(run)
    level = "none" if found is None else found.level
    share = _of_chance(run)
    return Outcome(level == LEARNED, [f"Verdict: {level}; {share:.1%} of chance."],
                   {"share": share})


# the README's classic result: ``rnnviz train --task adding --steps 1500`` with each cell at 50
# and at 20 steps (the Playground's other defaults: hidden 32, Adam lr 0.01, clip 1)
CLASSIC = RunConfig(task="adding", steps=1500)
CLASSIC_RUNS = tuple((f"{cell} T={length}", CLASSIC.replace(cell=cell, seq_len=length))
                     for length in (50, 20) for cell in ("lstm", "rnn"))


def check_classic(runs: dict[str, Run]) -> Outcome:
    """At 50 steps the LSTM solves the adding problem and the vanilla RNN stays at chance; at 20
    steps both learn (Hochreiter & Schmidhuber 1997's result, on this budget)."""
    share = {label: _of_chance(run) for label, run in runs.items()}
    holds = (share["lstm T=50"] < 0.01 and share["rnn T=50"] > NEAR_CHANCE_ABOVE
             and share["lstm T=20"] < 0.01 and share["rnn T=20"] < 0.1)
    return Outcome(holds, [f"{label}: {value:.2%} of chance" for label, value in share.items()],
                   {label: value for label, value in share.items()})


def _lesson_headline(key: str) -> tuple[tuple[str, str], ...]:
    return {
        "recurrence": (("with_memory", "{:.3g}"), ("without_memory", "{:.3g}")),
        "vanishing": (("short_val", "{:.3g}"), ("long_val", "{:.3g}"),
                      ("long_ratio", "{:.1e}")),
        "exploding": (("wild_steps", "{:.0f}"), ("clipped_val", "{:.3g}")),
        "lstm": (("val", "{:.2g}"), ("carrier_forget", "{:.3f}")),
        "gru": (("lstm_val", "{:.2g}"), ("gru_val", "{:.2g}")),
        "init": (("best_identity", "{:.3g}"), ("best_default", "{:.3g}"),
                 ("ratio_identity", "{:.2f}")),
        "overfitting": (("plain_val", "{:.2f}"), ("decay_val", "{:.2f}"),
                        ("chance", "{:.2f}")),
        "negation": (("lstm_far", "{:.0%}"), ("rnn_far", "{:.0%}")),
    }.get(key, ())


CLAIMS: dict[str, Claim] = {
    **{lesson.key: Claim(lesson.key, f"Lesson {lesson.number}", lesson.claim, lesson.runs,
                         lesson.check, _lesson_headline(lesson.key))
       for lesson in LESSONS.values()},
    "home_rescue": Claim(
        "home_rescue", "Home",
        "The vanilla RNN at spectral radius 1.5, SGD lr 0.1 and no clipping explodes; with "
        "clipping at 1 and lr 0.05 the same network trains; either change alone is not enough.",
        (("explodes", EXPLODE), ("rescued", RESCUE),
         ("clipping alone", EXPLODE.replace(clip=RESCUE.clip)),
         ("learning rate alone", EXPLODE.replace(lr=RESCUE.lr))),
        check_rescue, (("rescued_share", "{:.0%}"),)),
    "home_long": Claim(
        "home_long", "Home",
        "Adding problem at 50 steps: a vanilla RNN stays near chance, an LSTM solves it.",
        (("vanilla RNN", LONG_RNN), ("LSTM", LONG_LSTM)),
        check_long_adding, (("rnn_share", "{:.0%}"), ("lstm_share", "{:.1%}"))),
    "classic": Claim(
        "classic", "README",
        "Adding problem, 1500 steps: at 50 steps the LSTM gets under 1% of chance while the "
        "vanilla RNN stays at chance; at 20 steps both learn (the RNN under 10% of chance).",
        CLASSIC_RUNS, check_classic,
        tuple((label, "{:.2%}") for label, _ in CLASSIC_RUNS)),
    "home_run": Claim(
        "home_run", "Home", "The example model the Home page trains learns the task.",
        (("Home run", HOME_RUN),), check_home_run, (("share", "{:.1%}"),)),
}
