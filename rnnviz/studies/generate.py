"""What a trained model can do on its own: write text and forecast a wave.

Two loops that feed the model's output back in as its next input, both pure torch on the
model's own fused module (``model.rnn`` with its state carried from call to call, so every
number is the trained network's):

* ``generate_text``: char-rnn sampling. After reading a prompt, draw the next character from
  ``softmax(logits / temperature)`` with a seeded ``torch.Generator`` (same seed, same text), feed
  it back, repeat. Every position keeps its hidden state (to colour a character by a unit) and its
  next-character distribution (to show the top candidates).
* ``forecast``: closed-loop forecasting for the sine task. The model reads a prompt of observed
  values; from then on its input at step t is its own prediction made at step t-1 — the truth is
  never looked at again. Errors compound; ``drift_step`` is the first step ahead where the
  forecast leaves a tolerance band around the truth, ``steps_inside_band`` how many steps it
  stayed inside before that (``band_summary`` over many waves), and ``persistence_error`` the
  yardstick of repeating the last value the model read.

``read_text`` runs a model over a whole text in one call (teacher forcing), for the unit finder.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rnnviz.core.models import RecurrentModel
from rnnviz.core.tasks import TASKS, SineTask, seeded_generator

GREEDY_BELOW = 1e-3  # temperatures this small mean "always take the most likely character"


def _device(model: RecurrentModel) -> torch.device:
    return next(model.parameters()).device


def _top_hidden(out: torch.Tensor) -> torch.Tensor:
    """``[1, steps, hidden]`` top-layer outputs -> ``[steps, hidden]``."""
    return out[0]


def _cell_state(state) -> torch.Tensor | None:
    """The top layer's LSTM cell state ``[1, hidden]`` from a fused module's state, else None."""
    if isinstance(state, tuple):
        return state[1][-1]
    return None


@dataclass
class TextReading:
    """A model reading a text, one character per step (all arrays numpy).

    text         the characters read
    hidden       ``[len, hidden]`` top-layer h_t after reading character t
    cell         ``[len, hidden]`` LSTM c_t (None for other cells)
    next_probs   ``[len, vocab]`` the model's distribution for the character after t
    """

    text: str
    hidden: np.ndarray
    cell: np.ndarray | None
    next_probs: np.ndarray

    def top_candidates(self, position: int, k: int = 5, vocab: list[str] | None = None):
        """The ``k`` most likely next characters after ``position``: ``[(char, p), ...]``."""
        probs = self.next_probs[position]
        order = np.argsort(-probs)[:k]
        vocab = vocab or TASKS["text"].vocab
        return [(vocab[int(i)], float(probs[i])) for i in order]


@torch.no_grad()
def _step(model: RecurrentModel, index: torch.Tensor, state, vocab_size: int):
    """Feed one character (``[1]`` index); returns ``(h [1, H], c or None, logits [V], state)``."""
    x = F.one_hot(index.view(1, 1), vocab_size).float()
    out, state = model.rnn(x, state)
    h = out[:, -1]
    return h, _cell_state(state), model.head(h)[0], state


@torch.no_grad()
def read_text(model: RecurrentModel, text: str) -> TextReading:
    """Run a text-task model over ``text`` (teacher forcing) in one call of the fused module.

    For the LSTM the cell state of every step is needed, which the fused module only returns
    for the last step; then the text is read step by step instead (same weights, same numbers).
    """
    task = TASKS["text"]
    model.eval()
    indices = task.encode(text).to(_device(model))
    x = F.one_hot(indices, len(task.vocab)).float().unsqueeze(0)
    if model.cell != "lstm":
        out, _ = model.rnn(x)
        hidden = _top_hidden(out)
        cells = None
    else:
        state, rows, cell_rows = None, [], []
        for t in range(x.shape[1]):
            out, state = model.rnn(x[:, t: t + 1], state)
            rows.append(out[0, -1])
            cell_rows.append(state[1][-1, 0])
        hidden = torch.stack(rows)
        cells = torch.stack(cell_rows).cpu().numpy()
    probs = torch.softmax(model.head(hidden), dim=-1)
    return TextReading(text, hidden.cpu().numpy(), cells, probs.cpu().numpy())


@dataclass
class Generation(TextReading):
    """``generate_text``'s result: a TextReading of prompt + generated text, plus where the
    prompt ends and what the sampler was told."""

    prompt_length: int = 0
    temperature: float = 1.0
    seed: int = 0

    @property
    def generated(self) -> str:
        return self.text[self.prompt_length:]


@torch.no_grad()
def generate_text(model: RecurrentModel, prompt: str, length: int = 200,
                  temperature: float = 0.8, seed: int = 0) -> Generation:
    """Write ``length`` characters after ``prompt`` with a text-task model.

    Each new character is drawn from ``softmax(logits / temperature)`` with a generator seeded by
    ``seed``: a fixed seed gives the same text. Temperature below ``GREEDY_BELOW`` takes the most
    likely character every time; low temperatures are cautious and repetitive, high ones
    inventive and misspelt. ``prompt`` must be non-empty and use the corpus alphabet
    (``TextTask.encode`` names any character that is not).
    """
    if not prompt:
        raise ValueError("the prompt needs at least one character")
    task = TASKS["text"]
    vocab_size = len(task.vocab)
    model.eval()
    device = _device(model)
    generator = seeded_generator(seed)
    indices = task.encode(prompt).tolist()
    hidden_rows, cell_rows, prob_rows = [], [], []
    state = None
    position = 0
    while True:
        h, c, logits, state = _step(model, torch.tensor([indices[position]], device=device),
                                    state, vocab_size)
        probs = torch.softmax(logits, dim=-1)
        hidden_rows.append(h[0])
        if c is not None:
            cell_rows.append(c[0])
        prob_rows.append(probs)
        position += 1
        if position == len(indices):
            if len(indices) >= len(prompt) + length:
                break
            if temperature < GREEDY_BELOW:
                indices.append(int(logits.argmax()))
            else:
                tempered = torch.softmax(logits.double().cpu() / temperature, dim=-1)
                indices.append(int(torch.multinomial(tempered, 1, generator=generator)))
    return Generation(
        text=task.decode(indices), hidden=torch.stack(hidden_rows).cpu().numpy(),
        cell=torch.stack(cell_rows).cpu().numpy() if cell_rows else None,
        next_probs=torch.stack(prob_rows).cpu().numpy(), prompt_length=len(prompt),
        temperature=float(temperature), seed=int(seed))


# ---------------------------------------------------------------- forecasting


@dataclass
class Forecast:
    """A closed-loop forecast of one wave (numpy arrays, time on the same axis as the wave).

    observed      ``[prompt]`` the noisy values the model read
    truth         ``[prompt + horizon]`` the clean wave: truth[t] is what x_t would have been
                  without noise; the model's prediction at step t-1 targets truth[t]
    one_step      ``[prompt]`` the model's next-value predictions while it read the prompt
                  (one_step[t] forecasts truth[t + 1])
    forecast      ``[horizon]`` the closed-loop forecast of truth[prompt:]
    fed_back      ``[horizon]`` what the model was given as input at steps prompt.. — its own
                  previous prediction; kept so that anyone can check no truth leaked in
    tolerance     the |error| band used for ``drift_step``
    """

    observed: np.ndarray
    truth: np.ndarray
    one_step: np.ndarray
    forecast: np.ndarray
    fed_back: np.ndarray
    tolerance: float

    @property
    def prompt_length(self) -> int:
        return len(self.observed)

    @property
    def horizon(self) -> int:
        return len(self.forecast)

    @property
    def error(self) -> np.ndarray:
        return self.forecast - self.truth[self.prompt_length:]

    @property
    def drift_step(self) -> int | None:
        """Steps ahead (1 = the first forecast value) at which |error| first exceeds the
        tolerance; None when the forecast stays inside the band for the whole horizon."""
        outside = np.flatnonzero(np.abs(self.error) > self.tolerance)
        return int(outside[0]) + 1 if outside.size else None


def sine_wave(seed: int, length: int, noise: float) -> tuple[np.ndarray, np.ndarray]:
    """One wave of the sine task's distribution: ``(clean [length], noisy [length])``, seeded."""
    generator = seeded_generator(seed)
    clean = SineTask.clean_signal(1, length, generator)[0]
    noisy = clean + noise * torch.randn(length, generator=generator)
    return clean.numpy(), noisy.numpy()


@torch.no_grad()
def forecast(model: RecurrentModel, observed: np.ndarray, truth: np.ndarray, horizon: int,
             tolerance: float = 0.15) -> Forecast:
    """Read ``observed`` (the prompt), then run closed-loop for ``horizon`` steps: from the
    prompt's end on, each input is the model's previous prediction.

    ``truth`` (``[len(observed) + horizon]``) is used only to measure the error afterwards —
    the loop itself never reads it.
    """
    if len(observed) < 1:
        raise ValueError("the prompt needs at least one observed value")
    if horizon < 1:
        raise ValueError("the horizon must be at least one step")
    if model.task != "sine":
        raise ValueError("forecasting needs a model trained on the sine task")
    model.eval()
    device = _device(model)
    prompt = torch.as_tensor(np.asarray(observed, dtype=np.float32), device=device)
    out, state = model.rnn(prompt.view(1, -1, 1))
    one_step = model.head(out)[0, :, 0]
    value = one_step[-1:]  # the prediction of the first step after the prompt
    predictions, fed = [], []
    for _ in range(horizon):
        predictions.append(value)
        fed.append(value)
        out, state = model.rnn(value.view(1, 1, 1), state)
        value = model.head(out)[0, :, 0]
    truth = np.asarray(truth, dtype=np.float64)
    if len(truth) != len(observed) + horizon:
        raise ValueError(f"truth needs {len(observed) + horizon} values, got {len(truth)}")
    return Forecast(np.asarray(observed, dtype=np.float64), truth,
                    one_step.cpu().double().numpy(), torch.cat(predictions).cpu().double().numpy(),
                    torch.cat(fed).cpu().double().numpy(), float(tolerance))


def forecast_example(model: RecurrentModel, seed: int, prompt_length: int, horizon: int,
                     noise: float = 0.05, tolerance: float = 0.15) -> Forecast:
    """Draw a fresh wave (seeded) and forecast it: ``prompt_length`` noisy values read, then
    ``horizon`` steps on the model's own predictions."""
    clean, noisy = sine_wave(seed, prompt_length + horizon, noise)
    return forecast(model, noisy[:prompt_length], clean, horizon, tolerance)


def drift_words(fc: Forecast) -> str:
    """One forecast's band in the words every place uses, with one number: the steps inside
    ('stays within ±0.25 for 18 steps, then drifts out', or 'for all 100 steps'). The page's
    "18 steps" sat beside the chart's "19 steps ahead" (the first step outside, counted from 1:
    the same forecast, another count; issue 20)."""
    inside = steps_inside_band(fc)
    if fc.drift_step is None:
        return f"stays within ±{fc.tolerance:g} for all {fc.horizon} steps"
    return f"stays within ±{fc.tolerance:g} for {inside} step{_plural(inside)}, then drifts out"


def steps_inside_band(fc: Forecast) -> int:
    """How many forecast steps stay inside the band before the first one outside it.

    ``drift_step`` is 1-based (1 = the first forecast value), so a forecast that leaves at step
    4 stayed inside for 3; one that never leaves stayed inside for the whole horizon (never
    more than the horizon)."""
    drift = fc.drift_step
    return fc.horizon if drift is None else drift - 1


@dataclass(frozen=True)
class BandSummary:
    """``steps_inside_band`` over several forecasts of the same horizon and tolerance."""

    horizon: int
    tolerance: float
    inside: tuple[int, ...]  # steps inside the band, one per wave, in the order given

    @property
    def waves(self) -> int:
        return len(self.inside)

    @property
    def median(self) -> float:
        return float(np.median(self.inside))

    @property
    def shortest(self) -> int:
        return min(self.inside)

    @property
    def longest(self) -> int:
        return max(self.inside)

    @property
    def never_leave(self) -> int:
        """How many waves stay inside the band for the whole horizon."""
        return sum(k == self.horizon for k in self.inside)

    def describe(self) -> str:
        """The claim as markdown, without a full stop: 'stays inside ±tol for a median of **m
        steps** of the H (shortest a, longest b); n of the W never leave the band', or 'for
        **all H steps** on every one of the W'. No number of steps in it exceeds H."""
        band = f"stays inside ±{self.tolerance:g}"
        if self.never_leave == self.waves:
            every = "it" if self.waves == 1 else f"every one of the {self.waves}"
            return f"{band} for **all {self.horizon} steps** on {every}"
        longest = (f"all {self.longest}" if self.longest == self.horizon else str(self.longest))
        text = (f"{band} for a median of **{self.median:g} step{_plural(self.median)}** of the "
                f"{self.horizon} (shortest {self.shortest}, longest {longest})")
        if self.never_leave:
            verb = "leaves" if self.never_leave == 1 else "leave"
            text += f"; {self.never_leave} of the {self.waves} never {verb} the band"
        return text


def _plural(count: float) -> str:
    return "" if count == 1 else "s"


def band_summary(forecasts: list[Forecast]) -> BandSummary:
    """How long each forecast stays inside its band (all with the same horizon and tolerance)."""
    if not forecasts:
        raise ValueError("the summary needs at least one forecast")
    horizon, tolerance = forecasts[0].horizon, forecasts[0].tolerance
    if any(fc.horizon != horizon or fc.tolerance != tolerance for fc in forecasts):
        raise ValueError("the forecasts differ in horizon or tolerance")
    return BandSummary(horizon, tolerance, tuple(steps_inside_band(fc) for fc in forecasts))


def persistence_error(fc: Forecast) -> float:
    """RMS error over the horizon of the laziest forecast, "the wave stays where it was": the
    last observed (noisy) prompt value, the last thing the model read, repeated for every step
    ahead and scored against the clean truth like the model's own forecast (a yardstick for
    it)."""
    ahead = fc.truth[fc.prompt_length:]
    return float(math.sqrt(np.mean((ahead - fc.observed[-1]) ** 2)))
