"""Sequence-to-sequence tasks: a source sequence in, a target sequence out, the true alignment
known (issue 21). Generated from a seed, offline.

========  ===========================================  ============================================
task      source -> target                             true alignment (target token -> source)
========  ===========================================  ============================================
reverse   ``seq_len`` letters a-h -> the same reversed  the anti-diagonal
dates     a date as people write it -> ``YYYY-MM-DD``   each output digit -> the source character
                                                        that spells it (a month name's first letter)
en_fr     an English sentence -> French (``en_fr``)     the grammar's word alignment
========  ===========================================  ============================================

Tensors (batch first): ``x`` ``[B, seq_len]`` source token ids, front-padded with ``<pad>`` (0)
so that the encoder's last step reads the last real token; ``y`` ``[B, target_len]`` target ids
ending with ``<eos>`` (0 in the target vocabulary), ``-1`` after it (no target: the loss and the
metric skip it, as they skip the copy task's first steps). ``sample_aligned`` also gives, for
each target step, the true source position in ``x``'s padded coordinates (-1: none, for ``-``
and ``<eos>``).

Dates: numeric formats are day first (``07/03/21`` is 7 March), two-digit years are 1950-2049
(``49`` is 2049, ``50`` is 1950), dates are drawn from 1950-01-01 to 2049-12-31. ``seq_len`` is
the longest source a run reads: a date whose drawn format is longer is drawn again, so at
``seq_len`` 20 ten of the twelve formats occur and from 33 all twelve.
"""

from __future__ import annotations

import datetime

import torch

from rnnviz.core import en_fr

EMBEDDING_SIZE = 32
PAD, EOS = "<pad>", "<eos>"
REVERSE_SYMBOLS = "abcdefgh"
MONTHS = ("January", "February", "March", "April", "May", "June", "July", "August",
          "September", "October", "November", "December")
WEEKDAYS = ("Monday", "Tuesday", "Wednesday", "Thursday", "Friday", "Saturday", "Sunday")
FIRST_DAY = datetime.date(1950, 1, 1).toordinal()
LAST_DAY = datetime.date(2049, 12, 31).toordinal()
# each format: literal text or (component, style); components y(ear), m(onth), d(ay), w(eekday)
DATE_FORMATS = (
    (("d", "num"), " ", ("m", "name"), " ", ("y", "4")),  # 7 March 2021
    (("w", "name"), ", ", ("d", "ord"), " of ", ("m", "name"), " ", ("y", "4")),
    (("y", "4"), ".", ("m", "num"), ".", ("d", "num")),  # 2021.3.7
    (("d", "num2"), "/", ("m", "num2"), "/", ("y", "2")),  # 07/03/21
    (("m", "name"), " ", ("d", "num"), ", ", ("y", "4")),  # March 7, 2021
    (("d", "num"), " ", ("m", "abbr"), " ", ("y", "4")),  # 7 Mar 2021
    (("d", "num2"), ".", ("m", "num2"), ".", ("y", "4")),  # 07.03.2021
    (("d", "num"), "/", ("m", "num"), "/", ("y", "4")),  # 7/3/2021
    (("w", "abbr"), " ", ("d", "num"), " ", ("m", "abbr"), " ", ("y", "4")),  # Sun 7 Mar 2021
    (("d", "num"), "-", ("m", "abbr"), "-", ("y", "2")),  # 7-Mar-21
    ("the ", ("d", "ord"), " of ", ("m", "name"), ", ", ("y", "4")),  # the 7th of March, 2021
    (("m", "upper"), " ", ("d", "num"), " ", ("y", "4")),  # MARCH 7 2021
)
DATES_MIN_LEN, DATES_ALL_FORMATS = 12, 33


def _ordinal(day: int) -> str:
    suffix = "th" if 11 <= day % 100 <= 13 else {1: "st", 2: "nd", 3: "rd"}.get(day % 10, "th")
    return f"{day}{suffix}"


def _render(part, date: datetime.date) -> str:
    component, style = part
    if component == "y":
        return f"{date.year:04d}" if style == "4" else f"{date.year % 100:02d}"
    if component == "w":
        name = WEEKDAYS[date.weekday()]
        return name if style == "name" else name[:3]
    value = date.month if component == "m" else date.day
    if style == "num":
        return str(value)
    if style == "num2":
        return f"{value:02d}"
    if style == "ord":
        return _ordinal(value)
    name = MONTHS[value - 1]
    return {"name": name, "abbr": name[:3], "upper": name.upper()}[style]


def date_example(date: datetime.date, fmt) -> tuple[str, str, list[int]]:
    """A date written in format ``fmt`` (one of ``DATE_FORMATS``), its ISO form and, for each ISO
    character, the position in the source of the character that spells it (-1 for ``-``)."""
    text, starts = "", {}
    for part in fmt:
        if isinstance(part, str):
            text += part
            continue
        starts[part[0]] = (len(text), part[1], _render(part, date))
        text += _render(part, date)
    align: list[int] = []
    for component, width in (("y", 4), ("m", 2), ("d", 2)):
        start, style, written = starts[component]
        digits = sum(c.isdigit() for c in written)
        for k in range(width):
            if style in ("name", "abbr", "upper"):
                align.append(start)  # the month's name: its first letter
            elif component == "y" and style == "2":
                align.append(start + max(k - 2, 0))  # the century is read from the two digits
            else:
                align.append(start + max(k - (width - digits), 0))  # "7" spells "07"
        align.append(-1)  # the "-" after it, and after the day nothing: sliced below
    return text, date.isoformat(), align[:-1]


def _dates_vocab() -> list[str]:
    chars = set("0123456789 ,./-")
    for fmt in DATE_FORMATS:
        chars.update(c for part in fmt if isinstance(part, str) for c in part)
    for name in MONTHS + WEEKDAYS:
        chars.update(name + name.upper())
    chars.update("stndrh")  # ordinals
    return sorted(chars)


def make_tasks(base, Chance):  # noqa: N803 (a class)
    """The three seq2seq tasks as subclasses of ``rnnviz.core.tasks.Task`` (passed in, since
    tasks imports this module)."""

    class Seq2SeqTask(base):
        many_to_one, classification, metric_name = False, True, "exact match"
        seq2seq = True
        joiner = ""  # how target tokens join into text: characters, or words with " "
        source_vocab: list[str]
        target_vocab: list[str]
        min_len, max_len = 2, 60

        def __init__(self):
            self.source_index = {t: i for i, t in enumerate(self.source_vocab)}
            self.target_index = {t: i for i, t in enumerate(self.target_vocab)}

        def vocab_size(self) -> int:
            return len(self.source_vocab)

        def input_size(self) -> int:
            return EMBEDDING_SIZE

        def output_size(self) -> int:
            return len(self.target_vocab)

        def target_len(self, seq_len: int) -> int:
            return seq_len + 1  # every target token from one source token, and <eos>

        def check_seq_len(self, seq_len: int) -> None:
            if not self.min_len <= seq_len <= self.max_len:
                raise ValueError(f"seq_len: the {self.name} task reads sources of "
                                 f"{self.min_len} to {self.max_len} tokens; got {seq_len}")

        def tokenize(self, text: str) -> list[str]:
            return list(text) if self.joiner == "" else text.split()

        def example(self, generator, seq_len) -> tuple[list[str], list[str], list[int]]:
            raise NotImplementedError

        def sample_aligned(self, batch, seq_len, generator):
            """``x``, ``y`` and the true source position of each target step ``[B, T]``."""
            target_len = self.target_len(seq_len)
            x = torch.zeros(batch, seq_len, dtype=torch.long)
            y = torch.full((batch, target_len), -1, dtype=torch.long)
            align = torch.full((batch, target_len), -1, dtype=torch.long)
            for b in range(batch):
                source, target, positions = self.example(generator, seq_len)
                pad = seq_len - len(source)
                x[b, pad:] = torch.tensor([self.source_index[t] for t in source])
                y[b, :len(target)] = torch.tensor([self.target_index[t] for t in target])
                y[b, len(target)] = 0  # <eos>
                align[b, :len(target)] = torch.tensor([p + pad if p >= 0 else -1
                                                       for p in positions])
            return x, y, align

        def sample(self, batch, seq_len, generator, *, split="train", **_):
            x, y, _ = self.sample_aligned(batch, seq_len, generator)
            return x, y

        def metric(self, pred, y) -> float:
            """Exact match: the share of examples whose every target step (``<eos>`` included)
            is predicted right."""
            target = y.reshape(y.shape[0], -1).long()
            right = (pred.argmax(dim=-1) == target) | (target < 0)
            return float(right.all(dim=1).float().mean())

        def chance(self, seq_len, **params):
            return Chance(loss=float(torch.log(torch.tensor(float(self.output_size())))),
                          metric=0.0, how="guessing every token")

        def chance_words(self, constant, metric, population):
            return (f"a fixed guess, always {self.target_vocab[int(constant)]!r}, gets "
                    f"{metric:.1%} of the sequences exactly right")

    class ReverseTask(Seq2SeqTask):
        name, title = "reverse", "Reverse a sequence"
        description = ("A sequence of letters a-h, written backwards: the first output is the "
                       "last input. The true alignment is the anti-diagonal, and a model without "
                       "attention must carry the whole sequence in one vector to the decoder.")
        source_vocab = [PAD, *REVERSE_SYMBOLS]
        target_vocab = [EOS, *REVERSE_SYMBOLS]

        def example(self, generator, seq_len):
            ids = torch.randint(len(REVERSE_SYMBOLS), (seq_len,), generator=generator).tolist()
            source = [REVERSE_SYMBOLS[i] for i in ids]
            return source, source[::-1], list(range(seq_len - 1, -1, -1))

    class DatesTask(Seq2SeqTask):
        name, title = "dates", "Dates to ISO"
        description = ("A date as people write it (\"7 March 2021\", \"Sunday, 7th of March "
                       "2021\", \"07/03/21\"; twelve formats) becomes YYYY-MM-DD, character by "
                       "character. Numeric dates are day first (07/03/21 is 7 March 2021) and "
                       "two-digit years are 1950 to 2049. The year comes first in the output "
                       "and last in most inputs, so the alignment is not monotonic.")
        source_vocab = [PAD, *_dates_vocab()]
        target_vocab = [EOS, *"0123456789-"]
        min_len, max_len = DATES_MIN_LEN, 60

        def target_len(self, seq_len: int) -> int:
            return 11

        def example(self, generator, seq_len):
            while True:
                span = LAST_DAY - FIRST_DAY + 1
                day = FIRST_DAY + int(torch.randint(span, (1,), generator=generator))
                fmt = DATE_FORMATS[int(torch.randint(len(DATE_FORMATS), (1,),
                                                     generator=generator))]
                text, iso, align = date_example(datetime.date.fromordinal(day), fmt)
                if len(text) <= seq_len:
                    return list(text), list(iso), align

    class EnFrTask(Seq2SeqTask):
        name, title = "en_fr", "English to French"
        description = ("Toy English sentences from a small grammar, translated word by word "
                       "into French: adjectives move behind the noun (\"the red car\" -> \"la "
                       "voiture rouge\"), articles and adjectives agree with the noun's gender "
                       "and number, verbs with the subject, and \"does not see\" becomes \"ne "
                       "voit pas\". The sequence length is the longest sentence in words.")
        joiner = " "
        source_vocab = [PAD, *en_fr.EN_WORDS]
        target_vocab = [EOS, *en_fr.FR_WORDS]
        min_len, max_len = en_fr.MIN_WORDS, en_fr.MAX_WORDS

        def example(self, generator, seq_len):
            return en_fr.sentence(generator, seq_len)

    return [ReverseTask(), DatesTask(), EnFrTask()]
