"""Every claim the app makes about what training does, as something a machine can check.

A claim is a sentence a learner reads (a lesson's promise, a Home page recipe), the runs it is
about (label -> RunConfig) and ``check``: a function of those trained runs that returns an
``Outcome`` (facts with the numbers, and whether the claim held). The lessons' claims come from
``rnnviz.studies.lessons``; the Home page's own recipes and the README's classic result are
checked here (the Home page's exploding pair is lesson 3's, checked there).

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
from rnnviz.studies.recipes import HOME_RUN, LONG_LSTM, LONG_RNN
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
        "speech": (("lstm_acc", "{:.1%}"), ("rnn_acc", "{:.1%}"), ("new_voice_acc", "{:.1%}"),
                   ("voice_error_ratio", "{:.1f}")),
        "attention": (("plain_12", "{:.0%}"), ("attention_12", "{:.0%}"),
                      ("plain_24", "{:.0%}"), ("attention_24", "{:.0%}"),
                      ("crossover", "{:.0f}"), ("gradient_ratio", "{:.3g}")),
    }.get(key, ())


CLAIMS: dict[str, Claim] = {
    **{lesson.key: Claim(lesson.key, f"Lesson {lesson.number}", lesson.claim, lesson.runs,
                         lesson.check, _lesson_headline(lesson.key))
       for lesson in LESSONS.values()},
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
