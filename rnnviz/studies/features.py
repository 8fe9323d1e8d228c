"""Simple features of a text, and a finder for the hidden units that track them.

Karpathy, Johnson & Fei-Fei (2015) found single LSTM cells that switch on inside quotes or count
the position in a line. The finder here asks the same question of any model: for every unit, the
Pearson correlation between its activation after reading character t and a feature of the text
at t, ranked by strength. A feature is a number per character (NaN where it is not defined: the
vowel/consonant feature says nothing about spaces).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

VOWELS = frozenset("aeiouAEIOU")


def inside_quotes(text: str) -> np.ndarray:
    """1 after an opening ``"`` up to (not including) the closing one's position: the value at t
    describes the state after reading character t, so the opening quote is already inside and
    the closing quote is outside again."""
    quotes = np.cumsum([c == '"' for c in text])
    return (quotes % 2).astype(np.float64)


def position_in_line(text: str) -> np.ndarray:
    """Characters since the last newline (0 for the newline itself)."""
    column, values = 0, []
    for char in text:
        column = 0 if char == "\n" else column + 1
        values.append(column)
    return np.asarray(values, dtype=np.float64)


def position_in_word(text: str) -> np.ndarray:
    """Letters read so far in the current word (0 on anything that is not a letter)."""
    count, values = 0, []
    for char in text:
        count = count + 1 if char.isalpha() else 0
        values.append(count)
    return np.asarray(values, dtype=np.float64)


def vowel_or_consonant(text: str) -> np.ndarray:
    """1 for a vowel, 0 for a consonant, NaN for anything that is not a letter."""
    return np.asarray([np.nan if not c.isalpha() else float(c in VOWELS) for c in text])


def after_space(text: str) -> np.ndarray:
    """1 on a space or newline (a word has just ended), 0 elsewhere."""
    return np.asarray([float(c in " \n") for c in text])


@dataclass(frozen=True)
class Feature:
    key: str
    label: str
    describe: str
    compute: Callable[[str], np.ndarray]


FEATURES: dict[str, Feature] = {f.key: f for f in (
    Feature("space", "word boundary", "1 on a space or line break, 0 elsewhere", after_space),
    Feature("vowel", "vowel vs consonant", "1 on a vowel, 0 on a consonant (other characters "
            "left out)", vowel_or_consonant),
    Feature("word_position", "position in word", "letters read so far in the current word",
            position_in_word),
    Feature("line_position", "position in line", "characters since the last line break",
            position_in_line),
    Feature("quotes", "inside quotes", "1 between an opening and a closing \" mark, 0 outside",
            inside_quotes),
)}


@dataclass(frozen=True)
class UnitScore:
    unit: int
    correlation: float  # Pearson r between the unit's activation and the feature


def unit_correlations(states: np.ndarray, feature: np.ndarray) -> np.ndarray:
    """Pearson r of every unit of ``states [T, H]`` with ``feature [T]`` over the positions where
    the feature is defined; 0 for a unit (or a feature) that never changes there."""
    states = np.asarray(states, dtype=np.float64)
    feature = np.asarray(feature, dtype=np.float64)
    if states.ndim != 2 or states.shape[0] != feature.shape[0]:
        raise ValueError(f"states {states.shape} and feature {feature.shape} must share the "
                         "time axis")
    keep = np.isfinite(feature) & np.isfinite(states).all(axis=1)
    x, f = states[keep], feature[keep]
    if x.shape[0] < 2:
        return np.zeros(states.shape[1])
    x = x - x.mean(axis=0)
    f = f - f.mean()
    denominator = np.sqrt((x ** 2).sum(axis=0) * (f ** 2).sum())
    with np.errstate(invalid="ignore", divide="ignore"):
        r = (x * f[:, None]).sum(axis=0) / denominator
    return np.where(denominator > 1e-12, r, 0.0)


def rank_units(states: np.ndarray, feature: np.ndarray, top: int | None = None) -> list[UnitScore]:
    """Units ordered by |r| with the feature, strongest first (ties by unit number)."""
    r = unit_correlations(states, feature)
    order = sorted(range(len(r)), key=lambda u: (-abs(r[u]), u))
    scores = [UnitScore(u, float(r[u])) for u in order]
    return scores if top is None else scores[:top]
