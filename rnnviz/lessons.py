"""Lessons: one click sets up a classroom experiment, trains it and opens the page that shows it.

Each ``Lesson`` names its runs (label -> RunConfig, small enough to train in seconds on a CPU),
the page to open, what to look at there, a question for the class, and ``check``: a function of
the trained runs that measures the lesson's claim on the real models and returns an ``Outcome``
(plain-language facts with the numbers, and whether the claim held). The tests train every
lesson with its shipped seed and assert ``outcome.holds``; the Lessons page shows the same facts.

``LESSONS`` (key -> Lesson, in teaching order) and ``lesson_configs()`` (every distinct config,
for pre-training) are the public surface. ``python -m rnnviz.lessons`` trains every lesson and
prints a table of outcomes and training times.

Every lesson run is pinned to the CPU (``device="cpu"``): the claims were measured there, these
networks are too small to gain from a GPU, and a pinned device keeps the cache key of a lesson
the same on every server.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
import torch

from .config import RunConfig
from .models import parameter_count, recurrent_blocks, spectral_radius
from .tasks import probe_batch, validation_set
from .trace import trace
from .train import Run, train

PAGES = {  # page file -> the title in the app's navigation
    "pages/playground.py": "Playground",
    "pages/hidden_states.py": "Hidden states",
    "pages/gates.py": "Gates",
    "pages/gradients.py": "Gradients",
    "pages/forecast.py": "Forecasting",
    "pages/text.py": "Text",
}


@dataclass
class Outcome:
    """What a lesson's runs measured. ``facts`` are markdown sentences with the numbers;
    ``numbers`` the same numbers by name; ``arrays`` what the lesson's charts draw."""

    holds: bool
    facts: list[str]
    numbers: dict[str, float] = field(default_factory=dict)
    arrays: dict[str, np.ndarray] = field(default_factory=dict)


@dataclass(frozen=True)
class Lesson:
    key: str  # the URL's ?lesson=...
    number: int
    title: str
    summary: str  # one line for the list of lessons
    runs: tuple[tuple[str, RunConfig], ...]  # (label, config); the first opens on the page
    page: str  # page file to open (a key of PAGES)
    look_at: str  # markdown: what to look at on that page
    question: str  # for the class
    claim: str  # the outcome the lesson promises, in words (checked by ``check``)
    topics: tuple[str, ...]  # keys of rnnviz.explain.TOPICS
    check: Callable[[dict[str, Run]], Outcome] = field(repr=False, compare=False)

    @property
    def configs(self) -> list[RunConfig]:
        return [cfg for _, cfg in self.runs]

    @property
    def primary(self) -> tuple[str, RunConfig]:
        return self.runs[0]

    @property
    def page_title(self) -> str:
        return PAGES[self.page]

    def label_of(self, cfg: RunConfig) -> str | None:
        return next((label for label, c in self.runs if c == cfg), None)

    def outcome(self, runs: dict[str, Run]) -> Outcome:
        """The measured outcome, computed once per set of runs (kept on the first run's cache,
        so every session looking at the same cached runs shares it)."""
        first = runs[self.runs[0][0]]
        key = ("lesson", self.key, tuple(id(runs[label]) for label, _ in self.runs))
        if key not in first.cache:
            first.cache[key] = self.check(runs)
        return first.cache[key]


# ---------------------------------------------------------------- measurements


def _ratio(a: float, b: float) -> float:
    return a / b if b > 0 else math.inf


def _fmt(value: float) -> str:
    return f"{value:.3g}"


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


def trained_profile(run: Run) -> np.ndarray:
    """Mean ||dL/dh_t|| over the probe batch for the trained model (the top layer)."""
    x, y = probe_batch(run.config)
    return trace(run.model, x, y, jacobians=False).grad_h[-1].mean(axis=0)


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


# ---------------------------------------------------------------- the lessons' runs

_CPU = dict(device="cpu", seed=0)
SINE = RunConfig(task="sine", cell="rnn", seq_len=50, hidden_size=16, lr=0.01, steps=300,
                 eval_every=25, probe_every=25, **_CPU)
ADDING_RNN_20 = RunConfig(task="adding", cell="rnn", seq_len=20, hidden_size=16, lr=0.02,
                          steps=1000, eval_every=50, probe_every=50, **_CPU)
ADDING_RNN_50 = ADDING_RNN_20.replace(seq_len=50)
EXPLODING = RunConfig(task="sine", cell="rnn", seq_len=30, hidden_size=32, optimizer="sgd",
                      lr=0.1, recurrent_scale=3.0, clip=None, steps=300, eval_every=25,
                      probe_every=25, **_CPU)
CLIPPED = EXPLODING.replace(clip=1.0)
ADDING_LSTM = RunConfig(task="adding", cell="lstm", seq_len=50, hidden_size=32, lr=0.02,
                        steps=600, eval_every=50, probe_every=50, **_CPU)
# GRU vs LSTM at 30 steps: a GRU step costs about three LSTM steps on a CPU (torch has no
# fused CPU kernel for it), and the shorter task keeps the pair within seconds
SHORT_LSTM = ADDING_LSTM.replace(seq_len=30, steps=500)
SHORT_GRU = SHORT_LSTM.replace(cell="gru")
INIT_BASE = RunConfig(task="adding", cell="rnn", nonlinearity="relu", seq_len=50,
                      hidden_size=64, lr=0.002, steps=400, eval_every=50, probe_every=50,
                      **_CPU)
OVERFIT = RunConfig(task="text", cell="lstm", seq_len=32, hidden_size=64, lr=0.01,
                    batch_size=32, train_size=16, steps=300, eval_every=20, probe_every=50,
                    **_CPU)


# ---------------------------------------------------------------- the checks


def _check_recurrence(runs: dict[str, Run]) -> Outcome:
    run = runs["vanilla RNN"]
    per_step = memory_ablation(run)
    chance = run.chance.loss
    with_memory = float(per_step["with_memory"].mean())
    without = float(per_step["without_memory"].mean())
    persistence = float(per_step["persistence"].mean())
    holds = with_memory < 0.12 * chance and without > 3 * with_memory
    facts = [
        f"With its memory the RNN forecasts the next value with a validation MSE of "
        f"**{_fmt(with_memory)}**, {with_memory / chance:.0%} of chance ({_fmt(chance)}).",
        f"The *same weights* with the hidden state wiped before every step score "
        f"**{_fmt(without)}**: {without / with_memory:.1f}× worse, and worse even than the lazy "
        f"guess \"the next value equals this one\" ({_fmt(persistence)}).",
        f"At t = 0 both are equal ({_fmt(per_step['with_memory'][0])}: there is no past yet); "
        f"by t = 5 the RNN's error is down to {_fmt(per_step['with_memory'][5])}.",
    ]
    return Outcome(holds, facts, {"with_memory": with_memory, "without_memory": without,
                                  "persistence": persistence, "chance": chance}, per_step)


def _check_vanishing(runs: dict[str, Run]) -> Outcome:
    short, long = runs["T = 20"], runs["T = 50"]
    chance = long.chance.loss
    short_val, long_val = final_val_loss(short), final_val_loss(long)
    short_profile, long_profile = trained_profile(short), trained_profile(long)
    short_ratio, long_ratio = gradient_ratio(short_profile), gradient_ratio(long_profile)
    radius = spectral_radius(recurrent_blocks(long.model, 0)[0])
    x, _ = probe_batch(long.config)
    slope = float((1 - trace(long.model, x, jacobians=False).hidden[0] ** 2).mean())
    holds = (short_val < 0.25 * chance and long_val > 0.75 * chance
             and long_ratio < 1e-4 and short_ratio > 100 * long_ratio)
    facts = [
        f"At **20 steps** the vanilla RNN learns: validation MSE **{_fmt(short_val)}**, "
        f"{short_val / chance:.0%} of chance ({_fmt(chance)}).",
        f"At **50 steps** the same network, trained just as long, stays at "
        f"**{_fmt(long_val)}**: {long_val / chance:.0%} of chance — it learned nothing beyond "
        "the average.",
        f"Why: in the trained 50-step network the gradient reaching step 0 is "
        f"**{long_ratio:.1e}** of the gradient at the last step; at 20 steps it is "
        f"{short_ratio:.1e}. The first marker sits in the first half, where almost no learning "
        "signal arrives.",
        f"Not because W_hh is small: its spectral radius ended at **{radius:.2f}**, so by ρ "
        f"alone the gradient would grow. The units are saturated — the average tanh slope "
        f"1 − h² is **{slope:.2f}** — and every step back multiplies the gradient by these "
        "slopes.",
    ]
    return Outcome(holds, facts, {"short_val": short_val, "long_val": long_val,
                                  "short_ratio": short_ratio, "long_ratio": long_ratio,
                                  "radius": radius, "slope": slope, "chance": chance},
                   {"T = 20": short_profile, "T = 50": long_profile})


def _check_exploding(runs: dict[str, Run]) -> Outcome:
    wild, clipped = runs["no clipping"], runs["clipping at 1"]
    chance = clipped.chance.loss
    exploded = "exploded" in wild.history.stop_reason
    wild_max = float(np.nanmax(wild.history.grad_norm)) if wild.history.steps_done else 0.0
    clipped_val = final_val_loss(clipped)
    clipped_share = float(clipped.history.clipped.mean())
    clipped_max = float(np.nanmax(clipped.history.grad_norm))
    holds = (exploded and wild_max > 1e6 and clipped.history.stop_reason == "finished"
             and clipped_val < 0.25 * chance and clipped_max > 10 * CLIPPED.clip)
    facts = [
        f"Without clipping the run **blew up after {wild.history.steps_done} steps**: the "
        f"gradient norm reached **{wild_max:.1e}** and the loss overflowed "
        f"({wild.history.stop_reason.split(':')[0]}).",
        f"With clipping at {CLIPPED.clip:g} the identical network trains to a validation MSE "
        f"of **{_fmt(clipped_val)}** ({clipped_val / chance:.0%} of chance). Its raw gradient "
        f"still spiked to {clipped_max:.3g}; clipping rescaled {clipped_share:.0%} of the "
        "steps.",
    ]
    return Outcome(holds, facts, {"wild_max": wild_max, "clipped_val": clipped_val,
                                  "clipped_share": clipped_share, "clipped_max": clipped_max,
                                  "wild_steps": wild.history.steps_done, "chance": chance})


def _check_lstm(runs: dict[str, Run]) -> Outcome:
    run = runs["LSTM"]
    chance = run.chance.loss
    val = final_val_loss(run)
    units = carrying_units(run)
    forget, correlation = units["forget"], units["correlation"]
    carrier = int(units["carriers"][0])
    median_forget = float(np.median(forget))
    holds = (val < 0.05 * chance and abs(correlation[carrier]) > 0.9
             and forget[carrier] > 0.95 and forget[carrier] > median_forget + 0.2)
    facts = [
        f"The LSTM solves the 50-step adding problem that defeated the vanilla RNN: validation "
        f"MSE **{_fmt(val)}**, {val / chance:.1%} of chance.",
        f"Unit **{carrier}** carries the first marked number: its cell state halfway through "
        f"follows it with r = {correlation[carrier]:+.3f}.",
        f"On that unit the forget gate averages **{forget[carrier]:.3f}** over the steps "
        f"between the first marker and the answer; the median unit's is {median_forget:.2f}. "
        "f ≈ 1 means c_t ≈ c_{t−1}: the number is copied forward, and so is its gradient.",
    ]
    return Outcome(holds, facts, {"val": val, "carrier": carrier,
                                  "carrier_forget": float(forget[carrier]),
                                  "median_forget": median_forget,
                                  "correlation": float(correlation[carrier]), "chance": chance},
                   units)


def _check_gru(runs: dict[str, Run]) -> Outcome:
    lstm, gru = runs["LSTM"], runs["GRU"]
    chance = lstm.chance.loss
    lstm_val, gru_val = final_val_loss(lstm), final_val_loss(gru)
    lstm_params, gru_params = parameter_count(lstm.model), parameter_count(gru.model)
    recurrent = {name: sum(p.numel() for n, p in run.model.named_parameters()
                           if n.startswith("rnn"))
                 for name, run in (("LSTM", lstm), ("GRU", gru))}
    holds = (lstm_val < 0.05 * chance and gru_val < 0.05 * chance
             and recurrent["GRU"] * 4 == recurrent["LSTM"] * 3)
    facts = [
        f"Both gated cells solve the {lstm.config.seq_len}-step adding problem, trained alike: "
        f"LSTM **{_fmt(lstm_val)}**, GRU **{_fmt(gru_val)}** validation MSE (chance "
        f"{_fmt(chance)}).",
        f"The GRU does it with 3 weight blocks instead of 4: **{gru_params:,}** parameters "
        f"against the LSTM's **{lstm_params:,}** (recurrent layer: exactly ¾).",
    ]
    return Outcome(holds, facts, {"lstm_val": lstm_val, "gru_val": gru_val,
                                  "lstm_params": lstm_params, "gru_params": gru_params,
                                  "chance": chance})


def _check_init(runs: dict[str, Run]) -> Outcome:
    chance = runs["identity"].chance.loss
    at_init = {label: run.history.probe_grad[0] for label, run in runs.items()}
    ratios = {label: gradient_ratio(profile) for label, profile in at_init.items()}
    best = {label: best_val_loss(run) for label, run in runs.items()}
    holds = (ratios["identity"] > 0.1 and ratios["default"] < 1e-10
             and ratios["default"] < ratios["orthogonal"] < ratios["identity"]
             and best["identity"] < 0.3 * chance and best["default"] > 0.75 * chance)
    facts = [
        "Before any training, the share of the last step's gradient that reaches step 0: "
        + ", ".join(f"{label} **{ratios[label]:.1e}**" for label in runs) + ".",
        f"Identity (IRNN) starts with h_t = relu(h_{{t−1}} + input): the state is copied "
        f"forward, the gradient passes back intact, and it learns — best validation MSE "
        f"**{_fmt(best['identity'])}** ({best['identity'] / chance:.0%} of chance).",
        f"Orthogonal keeps more than default but relu zeroes half of the state at each step: "
        f"best **{_fmt(best['orthogonal'])}**. Default stays near chance: best "
        f"**{_fmt(best['default'])}** ({best['default'] / chance:.0%}).",
    ]
    numbers = {f"ratio_{k}": v for k, v in ratios.items()}
    numbers.update({f"best_{k}": v for k, v in best.items()})
    numbers["chance"] = chance
    return Outcome(holds, facts, numbers, at_init)


def _check_overfitting(runs: dict[str, Run]) -> Outcome:
    plain, decay, early = runs["16 examples"], runs["weight decay"], runs["early stopping"]
    chance = plain.chance.loss

    def train_end(run: Run) -> float:
        return float(np.mean(run.history.loss[-20:]))

    plain_val, plain_best, plain_train = final_val_loss(plain), best_val_loss(plain), \
        train_end(plain)
    decay_val, decay_train = final_val_loss(decay), train_end(decay)
    early_steps = early.history.steps_done
    holds = (plain_train < 0.1 * plain_val and plain_val > 1.5 * plain_best
             and plain_val > chance and decay_val < chance and decay_val < 0.6 * plain_val
             and (decay_val - decay_train) < 0.5 * (plain_val - plain_train)
             and early_steps < early.config.steps and "early stopping" in
             early.history.stop_reason)
    facts = [
        f"With only {plain.config.train_size} training snippets the LSTM memorises them: "
        f"training loss **{plain_train:.3f}** while the validation loss, best "
        f"{plain_best:.2f} at step {plain.history.best_step}, climbs back to "
        f"**{plain_val:.2f}** — worse than guessing by letter frequency ({chance:.2f}).",
        f"Weight decay {decay.config.weight_decay:g} keeps the weights small: training loss "
        f"{decay_train:.2f}, validation **{decay_val:.2f}** — the gap between them shrinks from "
        f"{plain_val - plain_train:.2f} to {decay_val - decay_train:.2f}.",
        f"Early stopping (patience {early.config.early_stopping} checks) stopped at step "
        f"**{early_steps}** and kept the weights of step {early.history.best_step}, the best "
        "validation loss.",
    ]
    return Outcome(holds, facts, {"plain_val": plain_val, "plain_best": plain_best,
                                  "plain_train": plain_train, "decay_val": decay_val,
                                  "decay_train": decay_train, "early_steps": early_steps,
                                  "chance": chance})


# ---------------------------------------------------------------- the lessons


LESSONS: dict[str, Lesson] = {lesson.key: lesson for lesson in (
    Lesson(
        "recurrence", 1, "What recurrence buys",
        "A small vanilla RNN forecasts a wave; wipe its memory and the same weights fail.",
        (("vanilla RNN", SINE),),
        "pages/hidden_states.py",
        "In the top chart, the dashed prediction misses at the first steps and then locks onto "
        "the target. In the heatmap and in \"Selected units over time\", some units rise and "
        "fall in step with the wave while others hold steady: together they keep where the "
        "wave is and where it is heading — which a single value x_t cannot tell.",
        "At t = 0 the network sees one number and has no past. Two steps later it predicts "
        "well. What does it know at t = 2 that it did not know at t = 0 — and where is that "
        "knowledge kept?",
        "The RNN forecasts well below chance, and the same weights with the hidden state wiped "
        "at every step are several times worse.",
        ("recurrence", "bptt"), _check_recurrence),
    Lesson(
        "vanishing", 2, "Vanishing gradients",
        "A vanilla RNN learns the adding problem at 20 steps and fails at 50; the gradient "
        "profile shows why.",
        (("T = 50", ADDING_RNN_50), ("T = 20", ADDING_RNN_20)),
        "pages/gradients.py",
        "The top chart: the gradient reaching each time step, on a log scale. It falls by "
        "about ten orders of magnitude from the last step back to the first. The dashed line "
        "is what the spectral radius ρ of W_hh alone would predict — after training ρ is above "
        "1, so it points up: the culprit is tanh's saturation (slope 1 − h² near 0), which "
        "every step back multiplies in. Switch to the T = 20 run above to compare.",
        "The first marked number sits somewhere in steps 0–24. How much learning signal "
        "reaches it at 50 steps, and how much at 20? What would have to change in W_hh for "
        "more of it to arrive?",
        "At 20 steps the vanilla RNN learns; at 50 it stays near chance, and the gradient at "
        "its first step is orders of magnitude below the last step's.",
        ("bptt", "vanishing"), _check_vanishing),
    Lesson(
        "exploding", 3, "Exploding gradients and clipping",
        "Spectral radius 3, plain SGD, no clipping: the run blows up. The same run with "
        "clipping trains.",
        (("no clipping", EXPLODING), ("clipping at 1", CLIPPED)),
        "pages/playground.py",
        "The red box explains the explosion; the loss curve (log scale) climbs by dozens of "
        "orders of magnitude until it overflows. Then switch to the clipped run: same starting "
        "weights, same data, and it learns. The Gradients page shows its raw gradient norm and "
        "the clipped steps in red.",
        "Clipping changes only the length of the update, never its direction. Why is that "
        "enough to save the run — and what would a learning rate ten times smaller have done "
        "instead?",
        "Without clipping the run explodes (gradient norm above a million); with clipping it "
        "trains well below chance.",
        ("exploding", "clipping", "optimizers"), _check_exploding),
    Lesson(
        "lstm", 4, "The LSTM keeps its memory",
        "Same 50-step adding problem as lesson 2: the LSTM solves it, with forget gates near 1 "
        "on the units that carry the number.",
        (("LSTM", ADDING_LSTM),),
        "pages/gates.py",
        "The heatmap of the forget gate f (every gate uses the same scale: white 0.5, dark "
        "red 1). A few rows stay dark red for the whole sequence: units whose cell value is "
        "copied forward at every step. The lesson notes name the unit that carries the first "
        "number and set its forget gate beside every other unit's.",
        "The cell update is c_t = f_t ⊙ c_{t−1} + i_t ⊙ g_t. If f_t = 1 and i_t = 0, what "
        "happens to c_t — and to the gradient flowing back along it?",
        "The LSTM reaches a small fraction of chance, and its forget gate sits near 1 on the "
        "units that carry the first number.",
        ("gating",), _check_lstm),
    Lesson(
        "gru", 5, "GRU vs LSTM",
        "Fewer gates, similar result: both gated cells solve the adding problem; the GRU has "
        "¾ of the parameters.",
        (("GRU", SHORT_GRU), ("LSTM", SHORT_LSTM)),
        "pages/gates.py",
        "The GRU's update gate z: where it is near 1 a unit keeps h_{t−1} unchanged, the job "
        "the LSTM's forget gate did. There is no separate cell state: h_t is the memory.",
        "The GRU merges the LSTM's forget and input gates into one z (keep vs write). What "
        "does it give up by tying them together, and why might it not matter here?",
        "Trained alike on the 30-step adding problem, the LSTM and the GRU both reach a small "
        "fraction of chance; the GRU's recurrent layer has exactly ¾ of the LSTM's parameters.",
        ("gating",), _check_gru),
    Lesson(
        "init", 6, "Initialization",
        "The same relu RNN from identity, orthogonal and default recurrent weights: only the "
        "start differs.",
        (("identity", INIT_BASE.replace(init="identity")),
         ("orthogonal", INIT_BASE.replace(init="orthogonal")),
         ("default", INIT_BASE.replace(init="default"))),
        "pages/gradients.py",
        "The heatmap \"over training\": its first row is the gradient at initialization. For "
        "the identity start it is bright all the way back to step 0. Switch to the default run: "
        "the left of that row is dark — the signal never arrives, and the run stays near "
        "chance.",
        "Identity means h_t = relu(h_{t−1} + W_ih x_t): the network starts out remembering "
        "everything. Why does a network that remembers everything learn faster than one that "
        "remembers a little?",
        "Before training the identity start passes the gradient back almost intact and the "
        "default start loses it; the identity run learns the task while the default run stays "
        "near chance.",
        ("initialization", "vanishing"), _check_init),
    Lesson(
        "overfitting", 7, "Overfitting",
        "An LSTM memorises 16 text snippets; weight decay and early stopping keep it honest.",
        (("16 examples", OVERFIT), ("weight decay", OVERFIT.replace(weight_decay=0.003)),
         ("early stopping", OVERFIT.replace(early_stopping=5))),
        "pages/playground.py",
        "The loss chart: the training loss dives towards zero while the validation loss turns "
        "around and climbs. Switch to the weight-decay run: both curves stay together.",
        "The training loss says the model is nearly perfect. Would you ship it? Which number "
        "should decide, and when should training have stopped?",
        "With 16 snippets the validation loss rises far above its minimum while the training "
        "loss approaches zero; weight decay narrows the gap; early stopping stops near the "
        "best validation.",
        ("regularization",), _check_overfitting),
)}


# The models the application pages offer to train when the session has none for their task.
FORECASTER = RunConfig(task="sine", cell="lstm", seq_len=50, hidden_size=32, lr=0.01,
                       steps=1000, eval_every=50, probe_every=50, **_CPU)
WRITER = RunConfig(task="text", cell="lstm", seq_len=64, hidden_size=64, lr=0.005,
                   batch_size=32, steps=800, eval_every=100, probe_every=100, **_CPU)
APPLICATION_CONFIGS = {"forecast": FORECASTER, "text": WRITER}


def lesson_configs(applications: bool = False) -> list[RunConfig]:
    """Every distinct config of every lesson, in lesson order (for pre-training); with
    ``applications`` also the models the Forecasting and Text pages offer to train."""
    seen: dict[str, RunConfig] = {}
    for lesson in LESSONS.values():
        for cfg in lesson.configs:
            seen.setdefault(cfg.key, cfg)
    if applications:
        for cfg in APPLICATION_CONFIGS.values():
            seen.setdefault(cfg.key, cfg)
    return list(seen.values())


def train_lesson(lesson: Lesson, trained: dict[str, Run] | None = None,
                 timings: dict[str, tuple[float, float]] | None = None) -> dict[str, Run]:
    """Train (or take from ``trained``, keyed by config key) every run of a lesson.
    ``timings`` receives (wall seconds, CPU seconds of this process) per trained config."""
    trained = {} if trained is None else trained
    runs = {}
    for label, cfg in lesson.runs:
        if cfg.key not in trained:
            wall, cpu = time.perf_counter(), time.process_time()
            trained[cfg.key] = train(cfg)
            if timings is not None:
                timings[cfg.key] = (time.perf_counter() - wall, time.process_time() - cpu)
        runs[label] = trained[cfg.key]
    return runs


def main(keys: list[str] | None = None) -> None:
    """Train every lesson (or those named) and print its outcome and its training time: wall
    seconds, and CPU seconds (one torch thread: what the wall time is on an idle core)."""
    torch.set_num_threads(1)
    trained, timings = {}, {}
    print(f"{'lesson':<36} {'holds':<6} {'wall s':>7} {'CPU s':>6}  runs (wall / CPU s)")
    for lesson in LESSONS.values():
        if keys and lesson.key not in keys:
            continue
        runs = train_lesson(lesson, trained, timings)
        outcome = lesson.outcome(runs)
        spent = [timings.get(cfg.key, (0.0, 0.0)) for cfg in lesson.configs]
        each = ", ".join(f"{label} {w:.1f}/{c:.1f}" for (label, _), (w, c) in
                         zip(lesson.runs, spent))
        print(f"{lesson.number}. {lesson.title:<33} {outcome.holds!s:<6} "
              f"{sum(w for w, _ in spent):>7.1f} {sum(c for _, c in spent):>6.1f}  {each}")
        for fact in outcome.facts:
            print("     -", fact.replace("**", ""))


def main_through_jobs(keys: list[str] | None = None) -> None:
    """Time every lesson (or those named) as the Lessons page trains it: all of its runs
    submitted at once to a server's job registry, which trains them in its worker processes,
    with nothing cached beforehand. Prints the wall time from the press to the last run done."""
    import tempfile

    from .jobs import JobRegistry
    from .store import RunStore

    with tempfile.TemporaryDirectory(prefix="rnnviz-lessons-") as empty:
        registry = JobRegistry(store=RunStore(empty))
        warm = registry.submit(RunConfig(steps=2, device="cpu", seed=123456))  # start workers
        if not isinstance(warm, Run):
            warm.wait()
        print(f"{'lesson':<36} {'holds':<6} {'runs':>4} {'wall s':>7}  "
              f"(all runs at once, {registry.max_jobs} workers)")
        for lesson in LESSONS.values():
            if keys and lesson.key not in keys:
                continue
            started = time.perf_counter()
            submitted = {label: registry.submit(cfg) for label, cfg in lesson.runs}
            runs = {label: job if isinstance(job, Run) else job.wait()
                    for label, job in submitted.items()}
            wall = time.perf_counter() - started
            holds = all(r is not None for r in runs.values()) and lesson.outcome(runs).holds
            print(f"{lesson.number}. {lesson.title:<33} {holds!s:<6} {len(runs):>4} "
                  f"{wall:>7.1f}")


if __name__ == "__main__":
    import sys

    args = sys.argv[1:]
    if "--through-jobs" in args:
        main_through_jobs([a for a in args if a != "--through-jobs"])
    else:
        main(args)
