"""Sentiment figures: the decision forming word by word, one unit against the sentence's
meaning, and accuracy against the distance of the deciding word (lesson 8).

P(positive) is drawn on the house diverging scale with its white midpoint at 0.5 (undecided):
red positive, blue negative, as every signed quantity in the app.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.palette import (
    INK,
    PREDICTION_COLOR,
    REFERENCE_COLOR,
    TARGET_COLOR,
    UNIT_COLORS,
    series_color,
)
from rnnviz.charts.style import (
    DIVERGING,
    _base_layout,
    _finite,
)

WORD_AXIS = "word (time step t)"
UNKNOWN_MARK = "?"  # appended to a word the lexicon lacks (the model read <unk>)


def _word_labels(words: list[str], known: list[bool]) -> list[str]:
    return [w if k else f"{w}{UNKNOWN_MARK}" for w, k in zip(words, known)]


def sentence_decision_chart(words: list[str], p_positive: np.ndarray, known: list[bool],
                            title: str) -> go.Figure:
    """The sentence as a strip of words coloured by P(positive) after each (top), and the same
    P(positive) as a line over the words (bottom), with 0.5 (undecided) dashed. A word marked
    ``?`` is not in the lexicon."""
    p = _finite(p_positive).reshape(-1)
    labels = _word_labels(words, known)
    t = np.arange(len(p))
    hover_word = [w if k else f"{w} (not in the lexicon: read as <unk>)"
                  for w, k in zip(words, known)]
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, row_heights=[0.22, 0.78],
                        vertical_spacing=0.04)
    fig.add_trace(go.Heatmap(
        z=[p], x=t, y=["words"], text=[labels], texttemplate="%{text}",
        textfont=dict(size=13), colorscale=DIVERGING, zmin=0, zmax=1, zmid=0.5,
        customdata=[hover_word], showscale=True, xgap=2,
        colorbar=dict(title=dict(text="P(positive)", side="top"), thickness=14, len=0.9),
        hovertemplate="after “%{customdata}”<br>P(positive) = %{z:.3f}<extra></extra>"),
        row=1, col=1)
    fig.add_trace(go.Scatter(
        x=t, y=p, mode="lines+markers", name="P(positive) after the word",
        line=dict(color=PREDICTION_COLOR, width=2),
        marker=dict(size=9, color=p, colorscale=DIVERGING, cmin=0, cmax=1, cmid=0.5,
                    line=dict(color=INK, width=1)),
        customdata=hover_word,
        hovertemplate="t = %{x}: after “%{customdata}”<br>P(positive) = %{y:.3f}"
                      "<extra></extra>"), row=2, col=1)
    fig.add_trace(go.Scatter(
        x=[-0.5, max(len(p) - 0.5, 0.5)], y=[0.5, 0.5], mode="lines",
        name="undecided (0.5)", line=dict(color=REFERENCE_COLOR, dash="dash", width=1.5),
        hovertemplate="0.5: undecided<extra></extra>"), row=2, col=1)
    fig.update_yaxes(showticklabels=False, fixedrange=True, row=1, col=1)
    fig.update_yaxes(range=[-0.03, 1.03], title_text="P(positive)", row=2, col=1)
    fig.update_xaxes(tickmode="array", tickvals=list(t), ticktext=labels, tickangle=-40,
                     row=2, col=1)
    fig.update_xaxes(title_text=WORD_AXIS, row=2, col=1)
    return _base_layout(fig, title, height=460)


def unit_meaning_chart(words: list[str], activation: np.ndarray, meaning: np.ndarray,
                       known: list[bool], unit: int, correlation: float,
                       value_name: str = "h_t") -> go.Figure:
    """One unit's activation after each word (line) against the grammar's sentiment so far
    (+1 / -1 steps, a gap while undecided), on one axis from -1 to 1."""
    labels = _word_labels(words, known)
    t = np.arange(len(labels))
    fig = go.Figure()
    fig.add_trace(go.Scatter(
        x=t, y=_finite(meaning), mode="lines+markers", line_shape="hv",
        name="sentiment so far (±1)", marker=dict(size=6, symbol="square", color=TARGET_COLOR),
        line=dict(color=TARGET_COLOR, width=2, dash="dot"), customdata=labels,
        hovertemplate="after “%{customdata}”: sentiment so far %{y:+.0f}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=t, y=_finite(activation), mode="lines+markers", name=f"unit {unit} {value_name}",
        line=dict(color=UNIT_COLORS[0], width=2), customdata=labels,
        hovertemplate=f"after “%{{customdata}}”<br>unit {unit} {value_name} = %{{y:.3f}}"
                      "<extra></extra>"))
    fig.update_yaxes(range=[-1.1, 1.1], zeroline=True, zerolinecolor=REFERENCE_COLOR)
    fig.update_xaxes(tickmode="array", tickvals=list(t), ticktext=labels, tickangle=-40)
    return _base_layout(fig, f"Unit {unit}, the one that tracks sentiment best (r = "
                             f"{correlation:+.2f} on the validation sentences)",
                        x_title=WORD_AXIS, y_title=f"{value_name} / sentiment", height=380)


def distance_accuracy_chart(curves: dict[str, dict[str, np.ndarray]], width: int) -> go.Figure:
    """Accuracy on negated sentences against the number of words after the deciding negation,
    one line per model (``{label: {"start", "accuracy", "count"}}``, bins of ``width`` words),
    with chance (50%) dashed."""
    fig = go.Figure()
    last = 1
    for index, (label, curve) in enumerate(curves.items()):
        start = np.asarray(curve["start"])
        last = max(last, int(start.max()) + width - 1 if len(start) else 1)
        bins = [f"{s}–{s + width - 1}" for s in start]
        fig.add_trace(go.Scatter(
            x=start + (width - 1) / 2, y=_finite(curve["accuracy"]), mode="lines+markers",
            name=label, line=dict(color=series_color(label, index), width=2.5),
            customdata=np.stack([bins, np.asarray(curve["count"])], axis=-1),
            hovertemplate=f"{label}<br>%{{customdata[0]}} words after the negation<br>"
                          "accuracy %{y:.1%} of %{customdata[1]} sentences<extra></extra>"))
    fig.add_trace(go.Scatter(x=[0, last], y=[0.5, 0.5], mode="lines", name="chance 50%",
                             line=dict(color=REFERENCE_COLOR, dash="dash", width=1.5),
                             hovertemplate="chance 50%<extra></extra>"))
    fig.update_yaxes(range=[0, 1.05], tickformat=".0%")
    return _base_layout(fig, "Negated sentences: accuracy by how far the negation is from the "
                             "end", x_title="words between the deciding negation and the end",
                        y_title="accuracy (fresh validation sentences)")


__all__ = ["distance_accuracy_chart", "sentence_decision_chart", "unit_meaning_chart"]
