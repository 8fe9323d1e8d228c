r"""Reading a sentence with a sentiment model: the decision forming word by word, the unit that
tracks sentiment, accuracy against the distance of the deciding word, and the bag of words.

The model answers once, after the last word: ``softmax(W_hy h_T + b_y)``. The same readout
applied to every earlier state is what it *would* answer if the sentence stopped there::

    P_t(positive) = softmax(W_hy h_t + b_y)[1]            h_t: the top layer after word t

``read_sentence`` computes it from ``trace``'s hidden states and the model's own ``head``, so
the last value is the model's prediction. ``sentiment_units`` ranks the hidden units by their
correlation with the grammar's "sentiment so far" over the validation sentences (the Text
page's unit finder, ``rnnviz.studies.features.rank_units``). ``distance_accuracy`` scores a
model on sentences by how many words follow the word that decides them; ``bag_of_words`` fits
logistic regression on word counts of the sentences a run trained on: a model that knows which
words occur but not in what order.
"""

from __future__ import annotations

import copy
import math
from dataclasses import dataclass

import numpy as np
import torch
import torch.nn.functional as F

from rnnviz.core import sentiment
from rnnviz.core.models import RecurrentModel
from rnnviz.core.tasks import seeded_generator, validation_set
from rnnviz.core.trace import trace
from rnnviz.core.train import BatchStream, Run
from rnnviz.studies.features import UnitScore, rank_units

FEATURE_LABEL = "sentiment so far"
# examples for the page: plain, negated, intensified, contrast both ways, and a negation
# followed by a long neutral tail (far from the end, where a vanilla RNN forgets it)
EXAMPLES = (
    "the film was good",
    "the film was not good",
    "the acting was never very boring",
    "the plot was good but the ending was boring",
    "the music was hardly great but it was really fun",
    "the story was not good at the cinema last night with my friends after dinner",
)
DISTANCE_SENTENCES = 4096  # validation-stream sentences scored by distance (lesson 8)
DISTANCE_SEED_OFFSET = 3_000_017  # their stream: the validation split, its own seed
DISTANCE_BIN = 3  # words per bin of the distance axis


@dataclass
class SentenceReading:
    """A model reading one sentence (numpy arrays, one row per word; padding left out).

    words       the words as typed (lower-cased, punctuation dropped)
    known       whether each word is in the lexicon (an unknown one is read as ``<unk>``)
    p_positive  ``[words]`` the readout applied to h_t after each word
    hidden      ``[words, hidden]`` top-layer h_t;  ``cell`` likewise c_t (LSTM, else None)
    meaning     ``[words]`` the grammar's sentiment so far (+1 / -1, NaN while undecided)
    prediction  P(positive) of the model's own forward pass on the padded sentence
    """

    words: list[str]
    known: list[bool]
    p_positive: np.ndarray
    hidden: np.ndarray
    cell: np.ndarray | None
    meaning: np.ndarray
    prediction: float

    @property
    def unknown(self) -> list[str]:
        return list(dict.fromkeys(w for w, k in zip(self.words, self.known) if not k))


def p_positive(model: RecurrentModel, top_hidden: np.ndarray) -> np.ndarray:
    """``softmax(head(h_t))[..., 1]`` for top-layer states ``[..., hidden]``."""
    device = next(model.parameters()).device
    with torch.no_grad():
        logits = model.head(torch.as_tensor(top_hidden, dtype=torch.float32, device=device))
        return F.softmax(logits, dim=-1)[..., 1].cpu().numpy()


def read_sentence(model: RecurrentModel, text: str, max_words: int) -> SentenceReading:
    """The model reading ``text`` padded in front to ``max_words`` steps (the run's
    ``seq_len``, as in training). ValueError, in words, for an empty or too long sentence."""
    words = sentiment.words_of(text)
    if not words:
        raise ValueError("type a sentence: there are no words to read")
    if len(words) > max_words:
        raise ValueError(f"the sentence has {len(words)} words; this model reads at most "
                         f"{max_words} (its sequence length)")
    ids = sentiment.pad(sentiment.encode(text), max_words).unsqueeze(0)
    tr = trace(model, ids, jacobians=False)
    hidden = tr.hidden[-1][0, -len(words):]
    cell = tr.cell[-1][0, -len(words):] if tr.cell else None
    device = next(model.parameters()).device
    with torch.no_grad():
        final = float(F.softmax(model(ids.to(device)), dim=-1)[0, 1])
    return SentenceReading(words=words, known=[w in sentiment.WORD_TO_ID for w in words],
                           p_positive=p_positive(model, hidden), hidden=hidden, cell=cell,
                           meaning=np.asarray(sentiment.sentiment_so_far(words)),
                           prediction=final)


def without_unknown(model: RecurrentModel, reading: SentenceReading,
                    max_words: int) -> float | None:
    """P(positive) of the same sentence with its unknown words left out (None when no word is
    known). An unknown word is not skipped: ``<unk>`` is a zero word vector, but the step still
    runs, so the biases and the recurrent weights move the state as on any step, and the answer
    differs from the one without the word."""
    known = [word for word, is_known in zip(reading.words, reading.known) if is_known]
    if not known:
        return None
    return read_sentence(model, " ".join(known), max_words).prediction


@dataclass
class SentimentUnits:
    """The unit finder on the validation sentences: ``scores`` by |r| (strongest first) between
    each unit's h_t and the sentiment so far, over the ``positions`` word positions where it is
    defined."""

    scores: list[UnitScore]
    positions: int

    @property
    def best(self) -> UnitScore:
        return self.scores[0]


def sentiment_units(run: Run) -> SentimentUnits:
    """Rank the top layer's units by their correlation with the grammar's sentiment so far,
    after every word of the run's validation sentences (padding left out)."""
    x, _ = validation_set(run.config)
    hidden = trace(run.model, x, jacobians=False).hidden[-1]  # [batch, time, hidden]
    states, meaning = [], []
    for row, ids in enumerate(x.tolist()):
        words = sentiment.decode(ids).split()
        states.append(hidden[row, len(ids) - len(words):])
        meaning += sentiment.sentiment_so_far(words)
    meaning_array = np.asarray(meaning)
    scores = rank_units(np.concatenate(states), meaning_array)
    return SentimentUnits(scores, int(np.isfinite(meaning_array).sum()))


@torch.no_grad()
def distance_accuracy(run: Run, count: int = DISTANCE_SENTENCES) -> dict[str, np.ndarray]:
    """``count`` fresh validation-split sentences: for each, ``distance`` (words after the
    deciding word: the last clause's negator, or its adjective), ``negated`` (whether that word
    is a negator) and ``correct`` (the model's answer after the last word)."""
    cfg = run.config
    generator = seeded_generator(cfg.seed + DISTANCE_SEED_OFFSET)
    words, labels = sentiment.sentences(count, cfg.seq_len, generator, split="val")
    ids = torch.stack([sentiment.pad(sentiment.encode(" ".join(s)), cfg.seq_len)
                       for s in words])
    model = run.model
    device = next(model.parameters()).device
    was_training = model.training
    model.eval()
    answer = model(ids.to(device)).argmax(dim=-1).cpu().numpy()
    model.train(was_training)
    decides = [sentiment.deciding_position(s) for s in words]
    return {"distance": np.array([len(s) - 1 - d for s, d in zip(words, decides)]),
            "negated": np.array([s[d] in sentiment.NEGATORS for s, d in zip(words, decides)]),
            "correct": answer == np.asarray(labels)}


def accuracy_where(scored: dict[str, np.ndarray], mask: np.ndarray) -> tuple[float, int]:
    """(accuracy, count) of the sentences selected by ``mask`` (NaN when there are none)."""
    count = int(mask.sum())
    return (float(scored["correct"][mask].mean()) if count else math.nan), count


def accuracy_by_distance(scored: dict[str, np.ndarray], negated_only: bool = True,
                         width: int = DISTANCE_BIN) -> dict[str, np.ndarray]:
    """Accuracy per bin of ``width`` distances: ``start`` (first distance of each bin),
    ``accuracy`` and ``count``; only bins with sentences."""
    keep = scored["negated"] if negated_only else np.ones_like(scored["negated"])
    starts, accuracy, counts = [], [], []
    top = int(scored["distance"].max()) if len(scored["distance"]) else -1
    for start in range(0, top + 1, width):
        in_bin = keep & (scored["distance"] >= start) & (scored["distance"] < start + width)
        value, count = accuracy_where(scored, in_bin)
        if count:
            starts.append(start)
            accuracy.append(value)
            counts.append(count)
    return {"start": np.array(starts), "accuracy": np.array(accuracy),
            "count": np.array(counts)}


@dataclass
class BagOfWords:
    """Logistic regression on word counts, ``P(positive) = sigmoid(w · counts + b)``, fitted
    (L-BFGS, at most 200 iterations) on the sentences a run trained on; its accuracy on them
    and on the run's validation set, and the weight of every word."""

    train_accuracy: float
    val_accuracy: float
    weights: dict[str, float]
    sentences: int


def word_counts(ids: torch.Tensor) -> torch.Tensor:
    """``[n, vocab]`` how often each word occurs in each row of token ids (padding not
    counted): the order of the words is thrown away."""
    counts = torch.zeros(ids.shape[0], len(sentiment.VOCAB))
    counts.scatter_add_(1, ids, torch.ones(ids.shape))
    counts[:, sentiment.PAD_ID] = 0
    return counts


def bag_of_words(cfg) -> BagOfWords:
    """Fit the bag of words on the training sentences of ``cfg``: the batches its training
    stream draws, every step (or its fixed training set), exactly as ``train`` would."""
    stream = BatchStream(cfg, torch.device("cpu"))
    if stream.fixed is not None:
        x, y = stream.fixed
    else:
        batches = [stream.next() for _ in range(cfg.steps)]
        x, y = torch.cat([b[0] for b in batches]), torch.cat([b[1] for b in batches])
    counts, target = word_counts(x), y[:, 0]
    weight = torch.zeros(counts.shape[1], requires_grad=True)
    bias = torch.zeros(1, requires_grad=True)
    optimizer = torch.optim.LBFGS([weight, bias], max_iter=200, line_search_fn="strong_wolfe")

    def closure() -> torch.Tensor:
        optimizer.zero_grad()
        loss = F.binary_cross_entropy_with_logits(counts @ weight + bias, target)
        loss.backward()
        return loss

    optimizer.step(closure)
    val_x, val_y = validation_set(cfg)

    def accuracy(ids: torch.Tensor, labels: torch.Tensor) -> float:
        with torch.no_grad():
            guess = (word_counts(ids) @ weight + bias > 0).float()
        return float((guess == labels[:, 0]).float().mean())

    words = {w: float(v) for w, v in zip(sentiment.VOCAB, weight.detach())
             if w not in (sentiment.PAD, sentiment.UNK)}
    return BagOfWords(accuracy(x, y), accuracy(val_x, val_y), words, len(x))


def signal_at_decision(run: Run) -> np.ndarray:
    """For each validation sentence, ``||dL/dh_d|| / ||dL/dh_{T-1}||`` (top layer): how much of
    the learning signal at the last step reaches the deciding word d (``trace``'s ``grad_h``).

    Computed in float64: walking back dozens of tanh steps, a vanilla RNN's share can fall
    below 1e-38, and float32 products along the chain underflow to 0 before the share is
    taken, although the share itself (say 3e-35) is a number float32 could hold."""
    x, y = validation_set(run.config)
    model = copy.deepcopy(run.model).double()
    grad = trace(model, x, y.double() if y.is_floating_point() else y,
                 jacobians=False).grad_h[-1]  # [batch, time]
    ratios = []
    for row, ids in enumerate(x.tolist()):
        words = sentiment.decode(ids).split()
        step = len(ids) - len(words) + sentiment.deciding_position(words)
        last = grad[row, -1]
        ratios.append(grad[row, step] / last if last > 0 else math.nan)
    return np.asarray(ratios)
