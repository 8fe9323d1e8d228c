"""Toy sequence tasks, generated from a seed (nothing is downloaded).

Every task returns batch-first float tensors ``x: [batch, time, input_size]`` and
``y: [batch, output_len, ...]``:

==========  ================  ===============================  ===========================
task        set-up            y                                metric (chance overall)
==========  ================  ===============================  ===========================
sine        many-to-many      ``[B, T, 1]`` next clean value   MSE (predict the mean)
adding      many-to-one       ``[B, 1]`` sum of marked values  MSE (predict 1.0: 1/6)
copy        many-to-many      ``[B, T]`` symbol at t - lag     accuracy (1 / symbols)
parity      many-to-one       ``[B]`` XOR of marked bits       accuracy (1/2)
text        many-to-many      ``[B, T]`` next character        accuracy (most common char)
sentiment   many-to-one       ``[B, 1]`` 1 positive, 0 neg.    accuracy (1/2)
digits      many-to-one       ``[B, 1]`` the digit said        accuracy (1/10)
==========  ================  ===============================  ===========================

The sentiment task's ``x`` is token ids ``[B, T]`` (int64) instead: ``Task.vocab_size`` says so,
and the model embeds them (``rnnviz.core.models``); its grammar is ``rnnviz.core.sentiment``.

Classification targets are class indices stored as floats; ``-1`` marks a step with no target
(the first ``lag`` steps of the copy task).

Chance is measured where a run is scored: ``chance_for(cfg)`` is what the best constant
prediction scores on the config's fixed validation set (``validation_set``), through the task's
own ``loss`` and ``metric``: the validation targets' mean for MSE, their class frequencies for
cross-entropy and their most frequent class for accuracy. The table's values (``Task.chance``)
are the same guesses over everything the generator can draw; on 256 validation examples the two
differ by up to a tenth (adding: 0.150 against 1/6), which matters when a claim says "x% of
chance".
"""

from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from pathlib import Path

import torch
import torch.nn.functional as F

from rnnviz.core import sentiment, seq2seq_tasks, speech


def _assets_dir() -> Path:
    """The project's ``assets/`` (corpus, example CSVs): beside the package in a checkout, inside
    it (``rnnviz/_assets``, see pyproject.toml) when installed from a wheel."""
    package = Path(__file__).resolve().parents[1]
    installed = package / "_assets"
    return installed if installed.is_dir() else package.parent / "assets"


ASSETS = _assets_dir()
COPY_SYMBOLS = 8
VALIDATION_SIZE = 256
PROBE_SIZE = 16


@dataclass(frozen=True)
class Chance:
    """What a model that ignores its input scores: the bar a learned model must clear.

    From ``chance_for``: ``loss`` and ``metric`` of the best constant prediction on a run's
    validation set, ``how`` in words with the population value, and ``population_loss`` and
    ``population_metric`` the same guess over everything the task's generator can draw (the
    training text for the text task, the whole validation part for a CSV task)."""

    loss: float
    metric: float
    how: str  # in words, e.g. "always predicting the validation set's mean sum, 1.006; ..."
    population_loss: float | None = None
    population_metric: float | None = None


class Task:
    """A sequence task: a seeded sampler, a per-example loss, a metric and its chance level."""

    name: str
    title: str
    description: str
    many_to_one: bool
    classification: bool
    metric_name: str  # "MSE" or "accuracy"

    @property
    def higher_is_better(self) -> bool:
        return self.classification

    def input_size(self) -> int:
        raise NotImplementedError

    def output_size(self) -> int:
        raise NotImplementedError

    def vocab_size(self) -> int | None:
        """None: ``x`` is float vectors. A number: ``x`` is token ids below it, which the model
        embeds into ``input_size()`` dimensions before the cell."""
        return None

    def sample(self, batch: int, seq_len: int, generator: torch.Generator, *,
               split: str = "train", **params) -> tuple[torch.Tensor, torch.Tensor]:
        raise NotImplementedError

    def chance(self, seq_len: int, **params) -> Chance:
        """The population chance: the best input-blind guess over everything the generator can
        draw. A run is compared with ``chance_for(cfg)``, the same on its validation set."""
        raise NotImplementedError

    def chance_words(self, constant: torch.Tensor, metric: float, population: Chance) -> str:
        """``Chance.how`` for the best constant on a validation set: ``constant`` is the mean
        target (one value per output) or the most frequent class (a 0-d integer tensor),
        ``metric`` what it scores there, ``population`` the task's population chance."""
        if self.classification:
            return (f"a fixed guess from the validation set's class frequencies, always class "
                    f"{int(constant)}, right {metric:.1%} of the time; {population.how} scores "
                    f"{population.metric:.1%}")
        return (f"always predicting the validation set's mean scores {metric:.3f} here; "
                f"{population.how}")

    # ---- losses and metrics, shared by the regression and the classification tasks ----
    def loss_per_example(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        """Training loss of each example, shape ``[batch]``: MSE, or cross-entropy averaged over
        the steps that have a target."""
        if not self.classification:
            return (pred - y).pow(2).reshape(pred.shape[0], -1).mean(dim=1)
        logits, target, mask = _flatten_classes(pred, y)
        ce = F.cross_entropy(logits, target.clamp(min=0), reduction="none").reshape(mask.shape)
        return (ce * mask).sum(dim=1) / mask.sum(dim=1).clamp(min=1)

    def loss(self, pred: torch.Tensor, y: torch.Tensor) -> torch.Tensor:
        return self.loss_per_example(pred, y).mean()

    def metric(self, pred: torch.Tensor, y: torch.Tensor) -> float:
        """MSE over all outputs, or accuracy over all steps that have a target."""
        if not self.classification:
            return float((pred - y).pow(2).mean())
        logits, target, mask = _flatten_classes(pred, y)
        correct = (logits.argmax(dim=-1) == target).reshape(mask.shape) & mask
        return float(correct.sum() / mask.sum().clamp(min=1))


def _flatten_classes(pred: torch.Tensor, y: torch.Tensor):
    """logits ``[B*T, C]``, integer targets ``[B*T]`` and a validity mask ``[B, T]``."""
    batch, classes = pred.shape[0], pred.shape[-1]
    target = y.reshape(batch, -1).long()
    mask = target >= 0
    return pred.reshape(-1, classes), target.reshape(-1), mask


def _uniform(generator: torch.Generator, *shape: int) -> torch.Tensor:
    return torch.rand(*shape, generator=generator)


class SineTask(Task):
    name = "sine"
    title = "Sine-wave forecasting"
    description = (
        "Each example is a mixture of two sine waves with random frequencies, amplitudes and "
        "phases, plus a little noise. At every time step the network sees the current (noisy) "
        "value and must predict the next clean value: a many-to-many regression. A network "
        "without memory can only guess the current value; to forecast well it has to keep the "
        "phase and frequency of the wave in its hidden state. The score is the mean squared "
        "error; chance is always predicting the mean (zero over all waves).")
    many_to_one = False
    classification = False
    metric_name = "MSE"

    def input_size(self) -> int:
        return 1

    def output_size(self) -> int:
        return 1

    def sample(self, batch, seq_len, generator, *, split="train", noise=0.05, **_):
        signal = self.clean_signal(batch, seq_len + 1, generator)
        x = signal[:, :-1] + noise * torch.randn(batch, seq_len, generator=generator)
        return x.unsqueeze(-1), signal[:, 1:].unsqueeze(-1)

    @staticmethod
    def clean_signal(batch: int, length: int, generator: torch.Generator) -> torch.Tensor:
        """``[batch, length]``: 0.5 * sum of two sines, frequencies 0.02 to 0.12 cycles/step."""
        freq = 0.02 + 0.10 * _uniform(generator, batch, 2, 1)
        amp = 0.5 + 0.5 * _uniform(generator, batch, 2, 1)
        phase = 2 * math.pi * _uniform(generator, batch, 2, 1)
        t = torch.arange(length, dtype=torch.float32)
        return 0.5 * (amp * torch.sin(2 * math.pi * freq * t + phase)).sum(dim=1)

    def chance(self, seq_len, **params):
        # E[s^2] for s = 0.5 * (a1 sin + a2 sin): each sine has mean square a^2/2 with
        # E[a^2] = 7/12 for a ~ U(0.5, 1); the independent phases make the cross term vanish.
        mean_square = 0.25 * 2 * (7 / 12) / 2
        return Chance(loss=mean_square, metric=mean_square,
                      how="always predicting the mean of all waves, 0.0")

    def chance_words(self, constant, metric, population):
        return (f"always predicting the validation set's mean, {float(constant[0]):.3f}, scores "
                f"{metric:.3f} here; over all waves the mean, 0, scores {population.metric:.3f}")


class AddingTask(Task):
    name = "adding"
    title = "Adding problem"
    description = (
        "Hochreiter & Schmidhuber's adding problem (1997). Each time step carries two numbers: "
        "a random value between 0 and 1, and a marker that is 1 at exactly two steps (one in "
        "each half of the sequence) and 0 elsewhere. After the last step the network must "
        "output the sum of the two marked values: a many-to-one regression. The first marked "
        "value has to be carried across many steps, so the task measures how far back a cell "
        "can remember. Always answering 1.0 (the mean sum) scores an MSE of 1/6 ≈ 0.167 over "
        "all sequences; the chance level a run is compared with is the best constant on its "
        "validation set.")
    many_to_one = True
    classification = False
    metric_name = "MSE"

    def input_size(self) -> int:
        return 2

    def output_size(self) -> int:
        return 1

    def sample(self, batch, seq_len, generator, *, split="train", **_):
        values = _uniform(generator, batch, seq_len)
        half = max(seq_len // 2, 1)
        first = torch.randint(0, half, (batch,), generator=generator)
        second = torch.randint(half, seq_len, (batch,), generator=generator)
        markers = torch.zeros(batch, seq_len)
        rows = torch.arange(batch)
        markers[rows, first] = 1.0
        markers[rows, second] = 1.0
        y = (values * markers).sum(dim=1, keepdim=True)
        return torch.stack([values, markers], dim=-1), y

    def chance(self, seq_len, **params):
        return Chance(loss=1 / 6, metric=1 / 6,
                      how="always predicting the mean sum of all sequences, 1.0")

    def chance_words(self, constant, metric, population):
        # the number first that the chart's chance line is drawn at (the validation set's);
        # the population's 1/6 second, as what it tends to with more sequences
        return (f"always predicting the validation set's mean sum, {float(constant[0]):.3f}, "
                f"scores {metric:.3f} here; over all sequences the mean, 1.0, scores 1/6 ≈ 0.167")


class CopyTask(Task):
    name = "copy"
    title = "Copy / delayed recall"
    description = (
        f"A stream of random symbols (one of {COPY_SYMBOLS}, one-hot coded) arrives one per step; "
        "at step t the network must name the symbol it saw `lag` steps earlier. The first `lag` "
        "steps have no target. The network has to keep the last `lag` symbols in its hidden "
        "state, so turning `lag` up is a direct test of memory span. The score is the accuracy "
        f"over the steps that have a target; guessing scores 1/{COPY_SYMBOLS}.")
    many_to_one = False
    classification = True
    metric_name = "accuracy"

    def input_size(self) -> int:
        return COPY_SYMBOLS

    def output_size(self) -> int:
        return COPY_SYMBOLS

    def sample(self, batch, seq_len, generator, *, split="train", lag=5, **_):
        symbols = torch.randint(0, COPY_SYMBOLS, (batch, seq_len), generator=generator)
        x = F.one_hot(symbols, COPY_SYMBOLS).float()
        y = torch.full((batch, seq_len), -1.0)
        y[:, lag:] = symbols[:, : seq_len - lag].float()
        return x, y

    def chance(self, seq_len, **params):
        return Chance(loss=math.log(COPY_SYMBOLS), metric=1 / COPY_SYMBOLS,
                      how=f"guessing one of {COPY_SYMBOLS} symbols")

    def chance_words(self, constant, metric, population):
        return (f"a fixed guess from the validation set's symbol frequencies, always symbol "
                f"{int(constant)}, right {metric:.1%} of the time; over all streams "
                f"1/{COPY_SYMBOLS} = {1 / COPY_SYMBOLS:.1%}")


class ParityTask(Task):
    name = "parity"
    title = "Parity of marked bits"
    description = (
        "Each step carries a random bit and a marker. A few steps are marked; after the last "
        "step the network must say whether an odd number of the marked bits are 1 (with two "
        "marked bits this is XOR): a many-to-one classification. Parity cannot be solved by "
        "adding evidence up — every marked bit flips the answer — so the network must hold an "
        "exact running state. Guessing scores 50%.")
    many_to_one = True
    classification = True
    metric_name = "accuracy"

    def input_size(self) -> int:
        return 2

    def output_size(self) -> int:
        return 2

    def sample(self, batch, seq_len, generator, *, split="train", marked_bits=2, **_):
        bits = torch.randint(0, 2, (batch, seq_len), generator=generator).float()
        count = min(int(marked_bits), seq_len)
        order = torch.argsort(_uniform(generator, batch, seq_len), dim=1)[:, :count]
        markers = torch.zeros(batch, seq_len).scatter_(1, order, 1.0)
        y = ((bits * markers).sum(dim=1) % 2).unsqueeze(1)
        return torch.stack([bits, markers], dim=-1), y

    def chance(self, seq_len, **params):
        return Chance(loss=math.log(2), metric=0.5, how="guessing 0 or 1")

    def chance_words(self, constant, metric, population):
        return (f"a fixed guess from the validation set's answer frequencies, always "
                f"{int(constant)}, right {metric:.1%} of the time; over all sequences 50%")


@functools.lru_cache(maxsize=1)
def load_corpus() -> str:
    return (ASSETS / "corpus.txt").read_text(encoding="utf-8")


class TextTask(Task):
    name = "text"
    title = "Next-character prediction"
    description = (
        "A short text (a lighthouse keeper's notebook, shipped with the app) is cut into "
        "random windows. At each step the network sees one character (one-hot) and must "
        "predict the next: a many-to-many classification, the task of Karpathy's char-rnn. "
        "The last 15% of the text is held out for validation, so overfitting shows. The "
        "chance level is always guessing the validation text's most common character.")
    many_to_one = False
    classification = True
    metric_name = "accuracy"
    validation_share = 0.15

    @functools.cached_property
    def vocab(self) -> list[str]:
        return sorted(set(load_corpus()))

    @functools.cached_property
    def char_to_index(self) -> dict[str, int]:
        return {c: i for i, c in enumerate(self.vocab)}

    def encode(self, text: str) -> torch.Tensor:
        """Character indices ``[len(text)]``; characters outside the vocabulary are an error."""
        unknown = sorted(set(text) - set(self.char_to_index))
        if unknown:
            raise ValueError(f"characters not in the corpus alphabet: {''.join(unknown)!r}")
        return torch.tensor([self.char_to_index[c] for c in text], dtype=torch.long)

    def decode(self, indices) -> str:
        return "".join(self.vocab[int(i)] for i in indices)

    def split_text(self, split: str) -> str:
        corpus = load_corpus()
        cut = int(len(corpus) * (1 - self.validation_share))
        return corpus[:cut] if split == "train" else corpus[cut:]

    def max_seq_len(self) -> int:
        return len(self.split_text("val")) - 2

    def input_size(self) -> int:
        return len(self.vocab)

    def output_size(self) -> int:
        return len(self.vocab)

    def sample(self, batch, seq_len, generator, *, split="train", **_):
        encoded = self.encode(self.split_text(split))
        if seq_len + 1 > len(encoded):
            raise ValueError(f"seq_len: at most {len(encoded) - 1} for the text task")
        starts = torch.randint(0, len(encoded) - seq_len, (batch,), generator=generator)
        windows = torch.stack([encoded[s: s + seq_len + 1] for s in starts.tolist()])
        x = F.one_hot(windows[:, :-1], len(self.vocab)).float()
        return x, windows[:, 1:].float()

    def chance(self, seq_len, **params):
        counts = torch.bincount(self.encode(self.split_text("train")),
                                minlength=len(self.vocab)).float()
        freq = counts / counts.sum()
        entropy = float(-(freq[freq > 0] * freq[freq > 0].log()).sum())
        common = self.vocab[int(freq.argmax())]
        return Chance(loss=entropy, metric=float(freq.max()),
                      how=f"always guessing the training text's most common character {common!r}")

    def chance_words(self, constant, metric, population):
        return (f"a fixed guess from the validation text's letter frequencies, always "
                f"{self.vocab[int(constant)]!r}, right {metric:.1%} of the time; "
                f"{population.metric:.1%} on the training text")


class SentimentTask(Task):
    """Positive or negative, after the last word of a sentence of ``rnnviz.core.sentiment``'s
    grammar; ``x`` is front-padded token ids ``[B, T]``, ``y`` ``[B, 1]`` (1 positive)."""

    name, title, description = "sentiment", sentiment.TITLE, sentiment.DESCRIPTION
    many_to_one, classification, metric_name = True, True, "accuracy"
    vocab = sentiment.VOCAB
    encode, decode = staticmethod(sentiment.encode), staticmethod(sentiment.decode)

    def vocab_size(self) -> int:
        return len(self.vocab)

    def input_size(self) -> int:
        return sentiment.EMBEDDING_SIZE

    def output_size(self) -> int:
        return 2

    def sample(self, batch, seq_len, generator, *, split="train", **_):
        return sentiment.sample(batch, seq_len, generator, split=split)

    def chance(self, seq_len, **params):
        return Chance(loss=math.log(2), metric=0.5, how="guessing positive or negative")

    def chance_words(self, constant, metric, population):
        return (f"a fixed guess from the validation set's label frequencies, always "
                f"{sentiment.LABELS[int(constant)]}, right {metric:.1%} of the time; over all "
                "sentences 50%")


TASKS: dict[str, Task] = {t.name: t for t in (SineTask(), AddingTask(), CopyTask(), ParityTask(),
                                              TextTask(), SentimentTask(),
                                              *speech.make_task(Task, Chance),
                                              *seq2seq_tasks.make_tasks(Task, Chance))}


def task_params(cfg) -> dict:
    """The task-specific knobs of a RunConfig, as keyword arguments for ``Task.sample``."""
    return {"lag": cfg.lag, "noise": cfg.noise, "marked_bits": cfg.marked_bits}


def chance_for(cfg) -> Chance:
    """The chance level a run of ``cfg`` is compared with: the loss and metric of the best
    constant prediction on the config's validation set (``validation_set``), computed with the
    task's own ``loss`` and ``metric``, so a model that ignores its input scores exactly this.
    Cached per validation set (task, seq_len, seed and the task's knobs)."""
    params = tuple(sorted(task_params(cfg).items()))
    return _chance_on_validation(cfg.task, int(cfg.seq_len), int(cfg.seed), params)


@functools.lru_cache(maxsize=256)
def _chance_on_validation(task_name: str, seq_len: int, seed: int, params: tuple) -> Chance:
    task = TASKS[task_name]
    population = task.chance(seq_len, **dict(params))
    _, y = _draw_validation(task, seq_len, seed, dict(params))
    pred, constant = best_constant(task, y)
    metric = task.metric(pred, y)
    return Chance(loss=float(task.loss(pred, y)), metric=metric,
                  how=task.chance_words(constant, metric, population),
                  population_loss=population.loss, population_metric=population.metric)


def best_constant(task: Task, y: torch.Tensor) -> tuple[torch.Tensor, torch.Tensor]:
    """The prediction that ignores the input and does best on targets ``y``, shaped like the
    model's output, and the constant itself.

    Regression: the targets' mean (per output column), which minimises the MSE. Classification:
    the logits of the targets' class frequencies (steps without a target left out), which
    minimise the cross-entropy (to their entropy) and whose argmax, the most frequent class, is
    the best constant guess for accuracy; the constant returned is that class. Both are the
    optimum of ``Task.loss`` because every example of a task has the same number of targets."""
    if not task.classification:
        mean = y.double().reshape(-1, y.shape[-1]).mean(dim=0)
        return mean.to(y.dtype).expand(y.shape), mean
    target = y.reshape(-1).long()
    counts = torch.bincount(target[target >= 0], minlength=task.output_size()).double()
    freq = counts / counts.sum().clamp(min=1)
    # an absent class gets a finite, negligible logit: no target has it, and masked steps
    # (their target clamped to class 0) must not turn the loss into inf * 0
    logits = torch.where(counts > 0, freq.log(), torch.full_like(freq, -1e4)).float()
    pred = logits.expand(y.shape[0], y[0].numel(), len(freq))
    return pred, logits.argmax()


def seeded_generator(seed: int) -> torch.Generator:
    return torch.Generator().manual_seed(int(seed))


def validation_set(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed validation set of a config: same seed, same examples, on every run.

    Drawn from its own generator (seed offset by a large constant) so that it never overlaps
    with the training stream's random numbers.
    """
    return _draw_validation(TASKS[cfg.task], cfg.seq_len, cfg.seed, task_params(cfg))


def _draw_validation(task: Task, seq_len: int, seed: int,
                     params: dict) -> tuple[torch.Tensor, torch.Tensor]:
    generator = seeded_generator(seed + 1_000_003)
    return task.sample(VALIDATION_SIZE, seq_len, generator, split="val", **params)


def probe_batch(cfg) -> tuple[torch.Tensor, torch.Tensor]:
    """The fixed probe batch (the first examples of the validation set) that the pages inspect."""
    x, y = validation_set(cfg)
    return x[:PROBE_SIZE], y[:PROBE_SIZE]
