r"""The sentiment task's grammar and lexicon: short review sentences, generated from a seed.

Every sentence follows one small grammar (nothing is downloaded)::

    sentence := clause [ "but" clause ] tail
    clause   := subject verb [negator] [intensifier] adjective
    tail     := neutral phrases ("at the cinema", "last night", ...), possibly none

    "the plot was not very good but the music was great at home last night"    -> positive

and its label is the sentiment of the **last** clause: the adjective's polarity, flipped when a
negator ("not", "never", "hardly") stands before it. The clause before "but" and every
intensifier are distractors; the tail carries no sentiment, and it puts the deciding words
(the negator and the adjective) several words before the end, where the readout is.

The draws are balanced so that word counts say little. Half of all sentences are positive
(exactly, for an even batch). The deciding clause is negated with probability 1/3 (negated
sentences are common, but a minority, as in real reviews), independently of the label, so
every negator, intensifier and "but" is as common in positive as in negative sentences, and an
adjective agrees with the label only 2/3 of the time in a single clause. The clause before
"but" has its own random polarity and negation, so its words are noise to a model that cannot
tell which clause came last. A bag of words (which words occur, not in what order) learns the
adjectives' polarities and nothing else, about 60% right (``rnnviz.studies.sentiment.
bag_of_words``); the label is an XOR of "negated?" and "which adjective?", read in the right
clause, which a network that reads the words in order can learn.

Token ids: ``<pad>`` is 0 and ``<unk>`` (a word the lexicon lacks) is 1, then the lexicon's
words in alphabetical order. A sentence shorter than ``seq_len`` is padded at the **front**,
so its last word is the last step and the many-to-one readout reads the state just after it
(Keras' ``pad_sequences`` pads at the front for the same reason); the model's embedding keeps
``<pad>`` at the zero vector. The tail's length is drawn uniformly from what ``seq_len`` leaves
after the clauses, so a longer ``seq_len`` pushes the decision further from the end.

Train and validation are disjoint by construction: a sentence's *body* (everything but the
tail) belongs to the validation split when its CRC-32 is divisible by ``VALIDATION_EVERY``;
the ``"train"`` stream never produces such a body and the ``"val"`` stream produces only them,
so every validation sentence says something the model never read in training.
"""

from __future__ import annotations

import math
import zlib
from collections.abc import Sequence

import torch

SUBJECTS = ("the movie", "the film", "the plot", "the acting", "the music", "the story",
            "the ending", "the cast", "it")
VERBS = ("was", "is", "seemed", "felt")
NEGATORS = ("not", "never", "hardly")
INTENSIFIERS = ("very", "really", "so", "quite", "truly", "extremely")
POSITIVE = ("good", "great", "fun", "wonderful", "brilliant", "funny", "lovely", "clever")
NEGATIVE = ("bad", "boring", "awful", "dull", "terrible", "silly", "weak", "slow")
CONTRAST = "but"
TAILS = ("at the cinema", "last night", "with my friends", "on sunday", "after a long day",
         "in the end", "to be honest", "for me", "this time", "at home", "on the big screen",
         "with my sister", "in the evening", "after dinner", "if you ask me", "on the train")

PAD, UNK = "<pad>", "<unk>"
PAD_ID, UNK_ID = 0, 1
LABELS = ("negative", "positive")  # class 0, class 1
# The width of a word vector (nn.Embedding's output, the cell's input). The lexicon is 72
# words with five roles (positive, negative, negator, intensifier, neutral); 16 dimensions hold
# those with room to spare, and a fixed size keeps the cell's input the same for every hidden
# size, so comparing cells compares cells (and the step-through shows 16 input terms).
EMBEDDING_SIZE = 16
NEGATED_SHARE = 1 / 3  # of clauses with a negator
VALIDATION_EVERY = 5  # one body in five (by its CRC-32) is validation-only

_TAIL_WORDS = [phrase.split() for phrase in TAILS]
_LEXICON = sorted({word for group in (SUBJECTS, VERBS, NEGATORS, INTENSIFIERS, POSITIVE,
                                      NEGATIVE, (CONTRAST,), TAILS)
                   for phrase in group for word in phrase.split()})
VOCAB: tuple[str, ...] = (PAD, UNK, *_LEXICON)
WORD_TO_ID = {word: index for index, word in enumerate(VOCAB)}
POLARITY = {**{word: 1.0 for word in POSITIVE}, **{word: -1.0 for word in NEGATIVE}}
# the longest clause, and the longest body: two clauses joined by "but"
_LONGEST_CLAUSE = max(len(s.split()) for s in SUBJECTS) + 4
MIN_SEQ_LEN = 2 * _LONGEST_CLAUSE + 1
# uniform draws one sentence uses before its tail: contrast?, then per clause subject, verb,
# negated?, negator, intensified?, intensifier, adjective and (first clause) its polarity
_BODY_DRAWS = 16
_STRIP = ",.;:!?\"'()"


def words_of(text: str) -> list[str]:
    """Lower-cased words of ``text``, punctuation around them dropped ("Good," -> "good")."""
    words = (word.strip(_STRIP) for word in text.lower().split())
    return [word for word in words if word]


def encode(text: str) -> torch.Tensor:
    """Token ids ``[words]`` (int64) of a sentence, unpadded; a word outside the lexicon is
    ``UNK_ID`` (``unknown_words`` names them)."""
    return torch.tensor([WORD_TO_ID.get(word, UNK_ID) for word in words_of(text)],
                        dtype=torch.long)


def decode(ids: Sequence[int] | torch.Tensor) -> str:
    """The words of token ids, padding left out: ``decode(encode(s)) == s`` for a sentence of
    the grammar; an unknown word reads ``<unk>``."""
    return " ".join(VOCAB[int(i)] for i in ids if int(i) != PAD_ID)


def unknown_words(text: str) -> list[str]:
    """The words of ``text`` the lexicon lacks, in order of appearance, each once."""
    seen: dict[str, None] = {}
    for word in words_of(text):
        if word not in WORD_TO_ID:
            seen.setdefault(word)
    return list(seen)


def pad(ids: torch.Tensor, seq_len: int) -> torch.Tensor:
    """``ids [words]`` padded at the front to ``[seq_len]`` (the words end at the last step)."""
    if len(ids) > seq_len:
        raise ValueError(f"{len(ids)} words do not fit in {seq_len} steps")
    return torch.cat([torch.full((seq_len - len(ids),), PAD_ID, dtype=torch.long), ids])


def check_seq_len(seq_len: int) -> None:
    if seq_len < MIN_SEQ_LEN:
        raise ValueError(f"seq_len: {seq_len} is too short for the sentiment task, whose "
                         f"sentences have up to {MIN_SEQ_LEN} words before their tail; choose "
                         f"at least {MIN_SEQ_LEN}")


def _pick(options: Sequence, u: float):
    return options[min(int(u * len(options)), len(options) - 1)]


def _clause(u: list[float], polarity: float) -> tuple[list[str], bool]:
    """One clause from 7 uniform draws, with the given *meaning* (+1 / -1): the adjective's
    polarity is flipped when the clause is negated. Returns its words and whether it was."""
    negated = u[2] < NEGATED_SHARE
    words = _pick(SUBJECTS, u[0]).split() + [_pick(VERBS, u[1])]
    if negated:
        words.append(_pick(NEGATORS, u[3]))
    if u[4] < 0.5:
        words.append(_pick(INTENSIFIERS, u[5]))
    adjective_polarity = -polarity if negated else polarity
    words.append(_pick(POSITIVE if adjective_polarity > 0 else NEGATIVE, u[6]))
    return words, negated


def _body(u: list[float], label: int) -> list[str]:
    """The clauses of one sentence whose meaning is ``label`` (1 positive, 0 negative)."""
    last, _ = _clause(u[9:16], 1.0 if label else -1.0)
    if u[0] >= 0.5:
        return last
    first, _ = _clause(u[1:8], 1.0 if u[8] < 0.5 else -1.0)
    return first + [CONTRAST] + last


def _tail(u: list[float], room: int) -> list[str]:
    """Neutral phrases filling a length drawn uniformly from 0..``room`` words (as close as
    whole phrases allow, never more)."""
    target = min(int(u[0] * (room + 1)), room)
    words: list[str] = []
    used: set[int] = set()
    for draw in u[1:]:
        if len(used) == len(_TAIL_WORDS):
            used.clear()  # a very long tail: phrases may come round again
        index = _pick(range(len(_TAIL_WORDS)), draw)
        while index in used:  # the next phrase not used yet: no "at home at home"
            index = (index + 1) % len(_TAIL_WORDS)
        phrase = _TAIL_WORDS[index]
        if len(words) + len(phrase) > target:
            break
        words += phrase
        used.add(index)
    return words


def in_validation(body: Sequence[str]) -> bool:
    """Whether a sentence body belongs to the validation split (see the module docstring)."""
    return zlib.crc32(" ".join(body).encode()) % VALIDATION_EVERY == 0


def sentences(n: int, seq_len: int, generator: torch.Generator,
              split: str = "train") -> tuple[list[list[str]], list[int]]:
    """``n`` sentences (word lists of at most ``seq_len`` words) and their labels, balanced:
    a random permutation of ``n // 2`` negatives and ``n - n // 2`` positives."""
    check_seq_len(seq_len)
    labels = (torch.randperm(n, generator=generator) % 2).tolist()
    tail_draws = seq_len // 2 + 2  # the shortest phrase has 2 words
    width = _BODY_DRAWS + tail_draws
    want_validation = split == "val"
    pool: list[list[float]] = []
    drawn: list[list[str]] = []
    for label in labels:
        while True:
            if not pool:  # draws in blocks: one torch call per block, not per word
                pool = torch.rand(max(n, 16), width, generator=generator).tolist()[::-1]
            u = pool.pop()
            body = _body(u[:_BODY_DRAWS], label)
            if in_validation(body) == want_validation:
                break
        drawn.append(body + _tail(u[_BODY_DRAWS:], seq_len - len(body)))
    return drawn, labels


def sample(n: int, seq_len: int, generator: torch.Generator,
           split: str = "train") -> tuple[torch.Tensor, torch.Tensor]:
    """Token ids ``[n, seq_len]`` (int64, front-padded) and labels ``[n, 1]`` (float class
    indices: 1 positive, 0 negative), like the parity task's."""
    words, labels = sentences(n, seq_len, generator, split)
    ids = torch.stack([pad(torch.tensor([WORD_TO_ID[w] for w in s], dtype=torch.long), seq_len)
                       for s in words])
    return ids, torch.tensor(labels, dtype=torch.float32).unsqueeze(1)


def sentiment_so_far(words: Sequence[str]) -> list[float]:
    """What the sentence means after each word, by the grammar's rule: +1 or -1 once a clause
    has its adjective (flipped by a negator earlier in the clause), NaN before that and between
    "but" and the next adjective (undecided). At the last word of a sentence of the grammar it
    is the label (as ±1). Unknown and neutral words leave it as it was."""
    meaning, negated, values = math.nan, False, []
    for word in words:
        if word == CONTRAST:
            meaning, negated = math.nan, False
        elif word in NEGATORS:
            negated = True
        elif word in POLARITY:
            meaning = -POLARITY[word] if negated else POLARITY[word]
        values.append(meaning)
    return values


def deciding_position(words: Sequence[str]) -> int:
    """Index of the word that decides the sentence: the negator of the last clause when it has
    one, else its adjective (-1 when there is no adjective)."""
    start = max((i + 1 for i, w in enumerate(words) if w == CONTRAST), default=0)
    clause = list(words[start:])
    for i, word in enumerate(clause):
        if word in NEGATORS or word in POLARITY:
            return start + i
    return -1


TITLE = "Sentiment of a sentence"
DESCRIPTION = (
    "Short review sentences from a small grammar shipped with the app (\"the plot was not very "
    "good but the music was great at home\"). The network reads one word per step (a token id "
    "turned into a learned word vector by an embedding) and, after the last word, says "
    "positive or negative: a many-to-one classification. Negators (not, never, hardly) flip "
    "the adjective after them, intensifiers change nothing, and after \"but\" only the second "
    "clause counts; a neutral tail (\"at the cinema last night\") follows, so the deciding "
    "words can sit several steps before the end. Word order matters: a bag of words, which "
    "knows which words occur but not in what order, gets about 60% right. Sentences are "
    "padded at the front to the sequence length (a longer one leaves room for longer tails); "
    "validation sentences never occur in training. Guessing scores 50%.")
