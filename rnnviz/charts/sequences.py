"""One example on one time axis: input, target and prediction, drawn the way each task reads."""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    INPUT_COLOR,
    INPUT_FAINT_COLOR,
    MARKED_COLOR,
    NO_TARGET_COLOR,
    PREDICTION_COLOR,
    RIGHT_COLOR,
    TARGET_COLOR,
    UNIT_COLORS,
    WRONG_COLOR,
)
from rnnviz.charts.speech import digits_panel
from rnnviz.charts.style import (
    TIME_AXIS,
    TIME_WINDOW,
    _base_layout,
    _finite,
    _integer_ticks,
    _softmax,
    _time_window,
)
from rnnviz.core import sentiment
from rnnviz.core.csvdata import CsvTask
from rnnviz.core.inspect import OWN_TASK

PANEL_TEXT_PX = 500  # the plot width of a full-width panel at 1400 px, sidebar open


def _display_char(char: str) -> str:
    return {" ": "␣", "\n": "↵", "\t": "⇥"}.get(char, char)


def _class_rows(t: np.ndarray, target: np.ndarray, predicted: np.ndarray,
                confidence: np.ndarray, y_position, labels) -> list[go.Scatter]:
    """Predicted classes split into correct / wrong / no-target traces (legend + colour),
    drawn at ``y_position`` (a number or an array like ``predicted``)."""
    y_position = np.broadcast_to(np.asarray(y_position), predicted.shape)
    groups = (("prediction ✓ correct", (target >= 0) & (predicted == target), RIGHT_COLOR),
              ("prediction ✗ wrong", (target >= 0) & (predicted != target), WRONG_COLOR),
              ("prediction (no target)", target < 0, NO_TARGET_COLOR))
    traces = []
    for name, mask, color in groups:
        if not mask.any():
            continue
        text = [labels[int(p)] for p in predicted[mask]]
        traces.append(go.Scatter(
            x=t[mask], y=y_position[mask], name=name, customdata=confidence[mask],
            hovertext=text, text=text, textfont=dict(color=color, size=14),
            marker=dict(color=color, symbol="x", size=9), mode="markers",
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>predicted %{{hovertext}} "
                          f"(p = %{{customdata:.2f}})<extra>{name}</extra>"))
    return traces


def _sine_panel(task, x, y, prediction, t):
    target, predicted = y.reshape(len(t), -1)[:, 0], prediction.reshape(len(t), -1)[:, 0]
    series = (("input x_t (noisy wave)", x[:, 0], INPUT_COLOR, "dot"),
              ("target: next clean value", target, TARGET_COLOR, "solid"),
              ("prediction ŷ_t", predicted, PREDICTION_COLOR, "dash"))
    traces = [go.Scatter(x=t, y=values, name=name, mode="lines",
                         line=dict(color=color, dash=dash, width=2),
                         hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name} %{{y:.3f}}<extra></extra>")
              for name, values, color, dash in series]
    mse = float(np.nanmean((predicted - target) ** 2))
    return traces, f"Sine forecast: one example (MSE {mse:.3g})", "value", {}


def _adding_panel(task, x, y, prediction, t):
    values, marked = x[:, 0], x[:, 1] > 0.5
    target, predicted = float(y.reshape(-1)[0]), float(prediction.reshape(-1)[0])
    last = len(t) - 1
    traces = [
        go.Bar(x=t, y=np.where(marked, np.nan, values), name="value",
               marker_color=INPUT_FAINT_COLOR,
               hovertemplate=f"{TIME_AXIS} = %{{x}}<br>value %{{y:.3f}}<extra></extra>"),
        go.Bar(x=t, y=np.where(marked, values, np.nan), name="marked value (to add)",
               marker_color=MARKED_COLOR,
               hovertemplate=f"{TIME_AXIS} = %{{x}}<br>marked value %{{y:.3f}}<extra></extra>"),
    ]
    for name, value, color, size, side in (("target sum", target, TARGET_COLOR, 34, "left"),
                                           ("prediction ŷ", predicted, PREDICTION_COLOR, 22,
                                            "right")):
        traces.append(go.Scatter(
            x=[last], y=[value], name=f"{name} = {value:.3f}", mode="markers+text",
            text=[f"{value:.2f}"], textposition=f"middle {side}", cliponaxis=False,
            textfont=dict(color=color),
            marker=dict(symbol="line-ew-open", size=size, color=color,
                        line=dict(width=4, color=color)),
            hovertemplate=f"{name} %{{y:.3f}} (read at the last step)<extra></extra>"))
    title = (f"Adding problem: sum of the marked values {target:.3f}, "
             f"predicted {predicted:.3f}")
    return traces, title, "value", dict(barmode="overlay", bargap=0.15)


def _copy_panel(task, x, y, prediction, t):
    symbols = x.argmax(axis=-1)
    target = np.asarray(y, dtype=np.float64).reshape(-1).round().astype(np.int64)
    probabilities = _softmax(prediction.reshape(len(t), -1))
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities[np.arange(len(t)), predicted]
    lag = int(np.argmax(target >= 0)) if (target >= 0).any() else len(t)
    has = target >= 0
    labels = [str(k) for k in range(probabilities.shape[-1])]
    traces = [
        go.Scatter(x=t, y=symbols, name="input symbol", mode="markers",
                   marker=dict(color=INPUT_COLOR, size=7),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>input symbol %{{y}}<extra></extra>"),
        go.Scatter(x=t[has], y=target[has], name=f"target: input at t − {lag}",
                   mode="markers",
                   marker=dict(symbol="square-open", size=14, color=TARGET_COLOR,
                               line=dict(width=2, color=TARGET_COLOR)),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>target symbol %{{y}}"
                                 "<extra></extra>"),
        *_class_rows(t, target, predicted, confidence, predicted, labels),
    ]
    accuracy = float((predicted[has] == target[has]).mean()) if has.any() else float("nan")
    title = f"Copy task (lag {lag}): {accuracy:.0%} of the {int(has.sum())} targets recalled"
    layout = dict(yaxis=dict(tickmode="linear", dtick=1,
                             range=[-0.6, probabilities.shape[-1] - 0.4]))
    return traces, title, "symbol", layout


def _parity_panel(task, x, y, prediction, t):
    bits, marked = x[:, 0], x[:, 1] > 0.5
    target = int(round(float(y.reshape(-1)[0])))
    p_one = float(_softmax(prediction.reshape(-1))[1])
    last = len(t) - 1
    traces = [
        go.Scatter(x=t[~marked], y=bits[~marked], name="bit (not marked)", mode="markers",
                   marker=dict(color=INPUT_FAINT_COLOR, size=7),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>bit %{{y:.0f}}<extra></extra>"),
        go.Scatter(x=t[marked], y=bits[marked], name="marked bit", mode="markers",
                   marker=dict(color=MARKED_COLOR, size=13, symbol="diamond"),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}<br>marked bit %{{y:.0f}}"
                                 "<extra></extra>"),
        go.Scatter(x=[last], y=[target], name=f"target parity = {target}", mode="markers",
                   marker=dict(symbol="square-open", size=22, color=TARGET_COLOR,
                               line=dict(width=3, color=TARGET_COLOR)), cliponaxis=False,
                   hovertemplate="target parity %{y}<extra></extra>"),
        go.Scatter(x=[last], y=[p_one], name=f"predicted P(parity = 1) = {p_one:.2f}",
                   mode="markers+text", text=[f"P(1) = {p_one:.2f}"],
                   textposition="middle left", cliponaxis=False,
                   textfont=dict(color=PREDICTION_COLOR),
                   marker=dict(symbol="x", size=12, color=PREDICTION_COLOR),
                   hovertemplate="predicted P(parity = 1) %{y:.3f}<extra></extra>"),
    ]
    title = (f"Parity of {int(marked.sum())} marked bits = {target}; "
             f"predicted P(1) = {p_one:.2f}")
    layout = dict(yaxis=dict(range=[-0.2, 1.2], tickvals=[0, 0.5, 1]))
    return traces, title, "bit · P(parity = 1)", layout


def _character_size(visible: int) -> int:
    """Font size at which ``visible`` monospace characters (0.6 em wide) fill a plot about
    PANEL_TEXT_PX wide without touching, between 9 and 14 px."""
    return int(np.clip(PANEL_TEXT_PX / max(visible, 1) / 0.6, 9, 14))


def _text_panel(task, x, y, prediction, t):
    vocab = [_display_char(c) for c in task.vocab]
    inputs = x.argmax(axis=-1)
    target = np.asarray(y, dtype=np.float64).reshape(-1).round().astype(np.int64)
    probabilities = _softmax(prediction.reshape(len(t), -1))
    predicted = probabilities.argmax(axis=-1)
    confidence = probabilities[np.arange(len(t)), predicted]
    rows = {"input": 2, "target": 1, "prediction": 0}
    size = _character_size(min(len(t), TIME_WINDOW))
    traces = []
    for name, row, indices, color in (
            ("input x_t", rows["input"], inputs, INPUT_COLOR),
            ("target (next character)", rows["target"], target, TARGET_COLOR)):
        text = [vocab[i] if i >= 0 else "" for i in indices]
        traces.append(go.Scatter(
            x=t, y=np.full(len(t), row), mode="text", text=text, name=name,
            textfont=dict(color=color, size=size, family="monospace"), hovertext=text,
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name}: %{{hovertext}}<extra></extra>"))
    for trace in _class_rows(t, target, predicted, confidence, rows["prediction"], vocab):
        trace.update(mode="text", textfont_family="monospace", textfont_size=size)
        traces.append(trace)
    has = target >= 0
    accuracy = float((predicted[has] == target[has]).mean()) if has.any() else float("nan")
    title = f"Next character: {accuracy:.0%} of {int(has.sum())} predictions correct"
    layout = dict(yaxis=dict(tickvals=list(rows.values()), ticktext=list(rows),
                             range=[-0.6, 2.6], fixedrange=True))
    return traces, title, "character", layout


def _csv_panel(task: CsvTask, x, y, prediction, t):
    """Sequence panel for a CSV task (the signature of ``rnnviz.charts``' panels): target and
    prediction of up to four columns, in the file's units."""
    import plotly.graph_objects as go


    columns = task.dataset.columns
    shown = min(len(columns), 4)
    target = task.to_units(np.asarray(y).reshape(len(t), -1))
    predicted = task.to_units(np.asarray(prediction).reshape(len(t), -1))
    traces = []
    for j in range(shown):
        color = UNIT_COLORS[j % len(UNIT_COLORS)]
        for label, values, dash in (("next value", target[:, j], "solid"),
                                    ("prediction", predicted[:, j], "dash")):
            traces.append(go.Scatter(
                x=t, y=values, name=f"{columns[j]}: {label}", mode="lines",
                line=dict(color=color, dash=dash, width=2),
                hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{columns[j]} {label} "
                              "%{y:.4g}<extra></extra>"))
    mse = float(np.nanmean((np.asarray(prediction) - np.asarray(y)) ** 2))
    more = f", first {shown} of {len(columns)} columns" if shown < len(columns) else ""
    return traces, f"Forecast of one window (MSE {mse:.3g} in z units{more})", "value", {}


def _sentiment_panel(task, x: np.ndarray, y: np.ndarray, prediction: np.ndarray,
                    t: np.ndarray):
    """The Hidden states page's panel for one sentence (``charts.sequence_panel``'s contract:
    ``x [T, 1]`` token ids as floats, ``y [1]`` the label, ``prediction [2]`` logits): the
    words along the time axis (the front padding left blank), and at the last step the label
    and the model's P(positive)."""
    ids = np.asarray(x, dtype=np.float64).reshape(len(t), -1)[:, 0].round().astype(np.int64)
    words = np.array([task.vocab[i] for i in ids])
    real = ids != sentiment.PAD_ID
    label = int(round(float(np.asarray(y).reshape(-1)[0])))
    logits = np.asarray(prediction, dtype=np.float64).reshape(-1)
    p = float(np.exp(logits[1] - np.logaddexp(logits[0], logits[1])))
    last = len(t) - 1
    traces = [
        go.Scatter(x=t[real], y=np.full(int(real.sum()), 0.5), mode="text", text=words[real],
                   name="words read (front padding blank)", textfont=dict(size=13),
                   hovertemplate=f"{TIME_AXIS} = %{{x}}: %{{text}}<extra></extra>"),
        go.Scatter(x=[last], y=[label], mode="markers", name=f"label: {sentiment.LABELS[label]}",
                   marker=dict(symbol="square-open", size=22, color=TARGET_COLOR,
                               line=dict(width=3, color=TARGET_COLOR)),
                   hovertemplate=f"label {label} ({sentiment.LABELS[label]})<extra></extra>"),
        go.Scatter(x=[last], y=[p], mode="markers", name=f"prediction: P(positive) = {p:.2f}",
                   marker=dict(symbol="x", size=12,
                               color=RIGHT_COLOR if (p >= 0.5) == bool(label) else WRONG_COLOR),
                   hovertemplate="P(positive) %{y:.3f} (read at the last step)<extra></extra>"),
    ]
    sentence = " ".join(words[real])
    shown = sentence if len(sentence) <= 60 else sentence[:57] + "…"
    title = f"Sentiment: “{shown}” ({sentiment.LABELS[label]}), P(positive) = {p:.2f}"
    # the whole time axis, padding included, so the panel lines up with the heatmaps below it
    return traces, title, "P(positive) / label", dict(yaxis=dict(range=[-0.15, 1.15]),
                                                      xaxis=dict(range=[-0.5, last + 0.5]))


OWN_MAX_FEATURES = 4  # more lines than this on one axis no longer read


def _own_model_panel(task, x: np.ndarray, y: np.ndarray, prediction: np.ndarray, t: np.ndarray):
    """Panel parts (traces, title, y title, layout) for one example of a model from outside.

    ``x [T, C]``; with the next-input loss ``y`` and ``prediction`` are ``[T, C]`` (the next
    input and the readout's forecast of it), with the last-state loss ``y [H]`` is zero and
    ``prediction [H]`` is the last hidden state, whose mean square is the loss.
    """
    features = x.shape[1]
    shown = min(features, OWN_MAX_FEATURES)
    forecasting = prediction.ndim == 2 and prediction.shape == x.shape
    traces = []
    for k in range(shown):
        color = UNIT_COLORS[k % len(UNIT_COLORS)]
        name = f"x_t[{k}]" if features > 1 else "x_t"
        series = [(f"input {name}", x[:, k], "dot" if forecasting else "solid")]
        if forecasting:
            series += [(f"target: next input {name.replace('_t', '_(t+1)')}", y[:, k], "solid"),
                       (f"readout ŷ_t[{k}]" if features > 1 else "readout ŷ_t",
                        prediction[:, k], "dash")]
        for label, values, dash in series:
            traces.append(go.Scatter(
                x=t, y=values, name=label, mode="lines", line=dict(color=color, dash=dash, width=2),
                hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{label} %{{y:.4g}}<extra></extra>"))
    more = f" (first {shown} of {features} features)" if shown < features else ""
    if forecasting:
        mse = float(np.nanmean((prediction - y) ** 2))
        title = f"Your model's readout against the next input: MSE {mse:.3g}{more}"
    else:
        loss = float(np.nanmean(np.asarray(prediction, dtype=np.float64) ** 2))
        title = (f"The input{more}; the loss reads only the last hidden state: "
                 f"(1/H)‖h_T−1‖² = {loss:.3g}")
    return traces, title, "value", {}


_SEQUENCE_PANELS = {"sine": _sine_panel, "adding": _adding_panel, "copy": _copy_panel,
                    "parity": _parity_panel, "text": _text_panel, "sentiment": _sentiment_panel,
                    "digits": digits_panel, "digits_speaker": digits_panel,
                    OWN_TASK: _own_model_panel}


def sequence_panel(task, x: np.ndarray, y: np.ndarray, prediction: np.ndarray) -> go.Figure:
    """Input, target and prediction of ONE example on one time axis.

    ``task`` is an ``rnnviz.core.tasks.Task``; ``x`` ``[T, input]``; ``y`` and ``prediction`` as the
    task gives them for one example: sine ``[T, 1]`` / ``[T, 1]``; adding ``[1]`` / ``[1]``
    (read at the last step); copy ``[T]`` class index, -1 = no target / logits ``[T, C]``;
    parity ``[1]`` / logits ``[2]`` (shown as P(parity = 1) at the last step); text ``[T]`` /
    logits ``[T, vocab]`` (characters as text, predictions green when right, red when wrong);
    digits ``[1]`` digit said / logits ``[10]`` (the frames as a heatmap, ``charts.speech``).
    Copy and text sequences longer than a screen open on their first steps; dragging pans.
    """
    x = _finite(x)
    if x.ndim == 1:
        x = x[:, None]
    t = np.arange(x.shape[0])
    y, prediction = np.asarray(y), _finite(prediction)
    if task.name in _SEQUENCE_PANELS:
        traces, title, y_title, layout = _SEQUENCE_PANELS[task.name](task, x, y, prediction, t)
    elif isinstance(task, CsvTask):  # a task made at run time from an uploaded series
        traces, title, y_title, layout = _csv_panel(task, x, y, prediction, t)
    else:
        raise ValueError(f"no sequence panel for task {task.name!r}")
    fig = go.Figure(traces)
    _base_layout(fig, title, x_title=TIME_AXIS, y_title=y_title, height=360, **layout)
    _integer_ticks(fig, len(t))
    _time_window(fig, len(t))  # the same range as the heatmaps drawn under it
    return fig


