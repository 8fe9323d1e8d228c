"""A toy English -> French grammar and lexicon, shipped here (nothing is downloaded).

Why a grammar and not a corpus: a generated pair knows its true word alignment, which no corpus
of real sentences gives for free, and it can hold exactly the phenomena a learner should see an
attention matrix handle:

- adjective-noun reordering: "the red car" -> "la voiture rouge" (the alignment crosses);
- gender and number agreement: the article and the adjective follow the noun ("la voiture
  blanche", "les chiens noirs"), the verb follows the subject ("voit" / "voient");
- split negation: "does not see" -> "ne voit pas" ("ne" aligned to "does", "pas" to "not");
- sentences of a chosen length: clauses joined by "and" ("et") up to ``max_words`` words.

Every French word comes from exactly one English word, so the true alignment is one source
position per target word, and the two sentences have the same length. Nouns were chosen to take
"le"/"la" without elision and verbs to take "ne" without it ("n'aime" would fuse two words).
"""

from __future__ import annotations

import torch

# English noun -> (French singular, gender); every plural adds -s in both languages
NOUNS = {
    "cat": ("chat", "m"), "dog": ("chien", "m"), "book": ("livre", "m"), "boy": ("garçon", "m"),
    "garden": ("jardin", "m"), "car": ("voiture", "f"), "house": ("maison", "f"),
    "apple": ("pomme", "f"), "girl": ("fille", "f"), "flower": ("fleur", "f"),
    "door": ("porte", "f"), "table": ("table", "f"),
}
# English adjective -> French (masculine, feminine); plural adds -s; all follow the noun in French
ADJECTIVES = {
    "red": ("rouge", "rouge"), "black": ("noir", "noire"), "green": ("vert", "verte"),
    "white": ("blanc", "blanche"), "blue": ("bleu", "bleue"), "round": ("rond", "ronde"),
}
# English verb (third person singular, plural) -> French (singular, plural)
TRANSITIVE = {
    ("sees", "see"): ("voit", "voient"), ("eats", "eat"): ("mange", "mangent"),
    ("takes", "take"): ("prend", "prennent"), ("finds", "find"): ("trouve", "trouvent"),
}
INTRANSITIVE = {("sleeps", "sleep"): ("dort", "dorment"), ("falls", "fall"): ("tombe", "tombent")}
ARTICLES = {("the", "m", False): "le", ("the", "f", False): "la", ("the", "m", True): "les",
            ("the", "f", True): "les", ("a", "m", False): "un", ("a", "f", False): "une"}
MIN_WORDS = 3  # "the cat sleeps"
MAX_WORDS = 40

# one pair of aligned pieces: English words, French words, and for each French word the index
# of its English word within the piece
Piece = tuple[list[str], list[str], list[int]]


def _pick(generator: torch.Generator, options):
    options = list(options)
    return options[int(torch.randint(len(options), (1,), generator=generator))]


def _coin(generator: torch.Generator, p: float) -> bool:
    return bool(torch.rand((), generator=generator) < p)


def noun_phrase(generator: torch.Generator, room: int) -> tuple[Piece, bool]:
    """"the/a [adjective] noun" and whether it is plural. ``room`` >= 3 allows the adjective."""
    noun = _pick(generator, NOUNS)
    fr_noun, gender = NOUNS[noun]
    plural = _coin(generator, 0.35)
    article = "the" if plural or _coin(generator, 0.6) else "a"
    en, fr = [article], [ARTICLES[(article, gender, plural)]]
    align = [0]
    adjective = _pick(generator, ADJECTIVES) if room >= 3 and _coin(generator, 0.5) else None
    en_noun = noun + ("s" if plural else "")
    if adjective is not None:
        fr_adj = ADJECTIVES[adjective][gender == "f"] + ("s" if plural else "")
        en += [adjective, en_noun]
        fr += [fr_noun + ("s" if plural else ""), fr_adj]
        align += [2, 1]  # the crossing: noun first in French
    else:
        en.append(en_noun)
        fr.append(fr_noun + ("s" if plural else ""))
        align.append(1)
    return (en, fr, align), plural


def clause(generator: torch.Generator, room: int) -> Piece:
    """One clause of at most ``room`` (>= 3) words: subject, verb (maybe negated), maybe an
    object."""
    (en, fr, align), plural = noun_phrase(generator, room - 1)
    left = room - len(en)
    negate = left >= 3 and _coin(generator, 0.3)
    verb_words = 3 if negate else 1
    transitive = left - verb_words >= 2 and _coin(generator, 0.7)
    verbs = TRANSITIVE if transitive else INTRANSITIVE
    (sing, plur) = _pick(generator, verbs)
    fr_verb = verbs[(sing, plur)][plural]
    base = len(en)
    if negate:
        en += ["do" if plural else "does", "not", plur]
        fr += ["ne", fr_verb, "pas"]
        align += [base, base + 2, base + 1]
    else:
        en.append(plur if plural else sing)
        fr.append(fr_verb)
        align.append(base)
    if transitive:
        (oen, ofr, oalign), _ = noun_phrase(generator, room - len(en))
        base = len(en)
        en += oen
        fr += ofr
        align += [base + a for a in oalign]
    return en, fr, align


def sentence(generator: torch.Generator, max_words: int) -> Piece:
    """English words, French words and each French word's English position: clauses joined by
    "and" while another clause fits in ``max_words`` (and a coin says go on), so lengths spread
    from 3 to ``max_words``."""
    if not MIN_WORDS <= max_words <= MAX_WORDS:
        raise ValueError(f"seq_len: the en_fr task's sentences have {MIN_WORDS} to {MAX_WORDS} "
                         f"words; got {max_words}")
    target = int(torch.randint(MIN_WORDS, max_words + 1, (1,), generator=generator))
    en, fr, align = clause(generator, min(target, 9))
    while target - len(en) >= 1 + MIN_WORDS:
        base = len(en) + 1
        cen, cfr, calign = clause(generator, min(target - base, 9))
        en += ["and", *cen]
        fr += ["et", *cfr]
        align += [base - 1, *[base + a for a in calign]]
    return en, fr, align


def _vocabularies() -> tuple[list[str], list[str]]:
    en, fr = {"the", "a", "does", "do", "not", "and"}, {"ne", "pas", "et"}
    fr.update(ARTICLES.values())
    for noun, (fr_noun, _) in NOUNS.items():
        en.update((noun, noun + "s"))
        fr.update((fr_noun, fr_noun + "s"))
    for adjective, forms in ADJECTIVES.items():
        en.add(adjective)
        fr.update(forms)
        fr.update(form + "s" for form in forms)
    for verbs in (TRANSITIVE, INTRANSITIVE):
        for english, french in verbs.items():
            en.update(english)
            fr.update(french)
    return sorted(en), sorted(fr)


EN_WORDS, FR_WORDS = _vocabularies()


_FR_NOUN = {**{n: (fr, g, False) for n, (fr, g) in NOUNS.items()},
            **{n + "s": (fr + "s", g, True) for n, (fr, g) in NOUNS.items()}}
# any English form of a verb -> its French (singular, plural): the subject picks the number
_FR_VERB = {en: french for verbs in (TRANSITIVE, INTRANSITIVE)
            for pair, french in verbs.items() for en in pair}
_EN_VERB = {en: pair for verbs in (TRANSITIVE, INTRANSITIVE) for pair in verbs for en in pair}


def reference(words: list[str]) -> tuple[list[str], list[int]]:
    """The grammar's French for an English sentence it can produce, and each French word's
    English position: a second, rule-by-rule reading of the grammar (``sentence`` writes both
    languages at once), which tests compare with hand-written translations and with
    ``sentence``. Raises ValueError naming the first word that does not fit."""
    fr: list[str] = []
    align: list[int] = []
    i = 0

    def expect(ok: bool) -> None:
        if not ok:
            where = words[i] if i < len(words) else "the end"
            raise ValueError(f"the grammar cannot read the sentence at {where!r}")

    def noun_phrase() -> bool:
        nonlocal i
        expect(i < len(words) and words[i] in ("the", "a"))
        article, adjective = i, None
        i += 1
        if i < len(words) and words[i] in ADJECTIVES:
            adjective, i = i, i + 1
        expect(i < len(words) and words[i] in _FR_NOUN)
        noun, gender, plural = _FR_NOUN[words[i]]
        expect(words[article] == "the" or not plural)
        fr.extend([ARTICLES[(words[article], gender, plural)], noun])
        align.extend([article, i])
        if adjective is not None:
            fr.append(ADJECTIVES[words[adjective]][gender == "f"] + ("s" if plural else ""))
            align.append(adjective)
        i += 1
        return plural

    while True:
        plural = noun_phrase()
        expect(i < len(words))
        if words[i] in ("does", "do"):
            expect(i + 2 < len(words) and words[i + 1] == "not"
                   and _EN_VERB.get(words[i + 2], ("",))[-1] == words[i + 2])
            expect(words[i] == ("do" if plural else "does"))
            fr.extend(["ne", _FR_VERB[words[i + 2]][plural], "pas"])
            align.extend([i, i + 2, i + 1])
            verb, i = words[i + 2], i + 3
        else:
            expect(_EN_VERB.get(words[i], ("", ""))[plural] == words[i])  # agreement
            fr.append(_FR_VERB[words[i]][plural])
            align.append(i)
            verb, i = words[i], i + 1
        if any(verb in pair for pair in TRANSITIVE) and i < len(words) and words[i] != "and":
            noun_phrase()
        if i == len(words):
            return fr, align
        expect(words[i] == "and")
        fr.append("et")
        align.append(i)
        i += 1
