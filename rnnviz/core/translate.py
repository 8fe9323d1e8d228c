"""``rnnviz.translate(run, source, beam=1)``: a translation run applied to a typed source.

Every refusal is a ValueError whose message says what to change (an empty source, one longer
than the run reads, tokens the task never shows, a beam width below 1), so the page prints it
and the command line exits with it, never a traceback.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.config import FIELDS
from rnnviz.core.determinism import single_thread
from rnnviz.core.seq2seq import beam_search
from rnnviz.core.tasks import TASKS

BLEU_TOKENIZE = "none"  # en_fr is already split into words: sacrebleu must not split again


@dataclass
class Translation:
    """The output ``text`` and its ``tokens`` (without ``<eos>``), the source tokens read, the
    total log-probability, and ``attention`` ``[output steps, input steps]`` (the output's
    ``<eos>`` row included, the source's padding left out), None without attention."""

    text: str
    tokens: list[str]
    source_tokens: list[str]
    log_prob: float
    attention: np.ndarray | None
    tree: list


def source_ids(task, source: str, seq_len: int) -> tuple[torch.Tensor, list[str]]:
    """The front-padded ids ``[1, seq_len]`` of a typed source, and its tokens."""
    if not isinstance(source, str) or not source.strip():
        raise ValueError("the source is empty: type " + _what(task))
    tokens = task.tokenize(source.strip())
    unknown = sorted({t for t in tokens if t not in task.source_index or t == "<pad>"})
    if unknown:
        shown = ", ".join(repr(t) for t in unknown[:8])
        raise ValueError(f"the {task.title} model does not know {shown}; it reads "
                         + _alphabet(task))
    if len(tokens) > seq_len:
        unit = "words" if task.joiner else "characters"
        raise ValueError(f"the source has {len(tokens)} {unit}; this run reads at most "
                         f"{seq_len}")
    x = torch.zeros(1, seq_len, dtype=torch.long)
    x[0, seq_len - len(tokens):] = torch.tensor([task.source_index[t] for t in tokens])
    return x, tokens


def _what(task) -> str:
    return {"reverse": "letters a-h", "dates": "a date such as 7 March 2021",
            "en_fr": "an English sentence such as 'the red car sleeps'"}.get(task.name, "text")


def _alphabet(task) -> str:
    known = task.source_vocab[1:]
    if task.joiner:
        return "these words: " + ", ".join(known)
    return "these characters: " + "".join(known)


def translate(run, source: str, beam: int = 1) -> Translation:
    """Translate ``source`` with a seq2seq run's model (``run.model``): beam search of width
    ``beam`` (1 is greedy decoding), at most the task's target length."""
    task = TASKS[run.config.task]
    if not getattr(task, "seq2seq", False):
        raise ValueError(f"the {task.title} run does not translate; train reverse, dates or "
                         "en_fr")
    high = int(FIELDS["beam"].high)
    if isinstance(beam, bool) or not isinstance(beam, int) or not 1 <= beam <= high:
        raise ValueError(f"beam: the width must be a whole number from 1 to {high}; got "
                         f"{beam!r}")
    seq_len = run.config.seq_len
    x, tokens = source_ids(task, source, seq_len)
    with single_thread():
        ids, log_prob, attention, tree = beam_search(run.model.eval(), x, task.target_len(seq_len),
                                                     beam)
    words = [task.target_vocab[i] for i in ids]
    matrix = None
    if attention is not None:
        matrix = attention.numpy()[:, seq_len - len(tokens):]
    return Translation(text=task.joiner.join(words), tokens=words, source_tokens=tokens,
                       log_prob=log_prob, attention=matrix,
                       tree=[[([task.target_vocab[i] for i in h], s) for h, s in step]
                             for step in tree])


def bleu(hypotheses: list[str], references: list[str]) -> float:
    """Corpus BLEU (0-100) of French outputs against references, by sacrebleu with its
    defaults but no tokenisation (the words are the grammar's)."""
    import sacrebleu  # only BLEU needs it
    return float(sacrebleu.corpus_bleu(hypotheses, [references], tokenize=BLEU_TOKENIZE).score)
