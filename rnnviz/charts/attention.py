"""The Translation page's figures (issue 21): the attention matrix with the true alignment, the
bottleneck (exact match against source length), and the gradient that reaches each encoder step.

Tokens sit on numeric axes labelled with the tokens: a date repeats characters ("2021"), and a
categorical axis would merge the repeats into one column.
"""

from __future__ import annotations

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    INK,
    OTHER_COLOR,
    PAPER,
    PREDICTION_COLOR,
    REFERENCE_COLOR,
    SERIES_COLORS,
)
from rnnviz.charts.style import (
    DIVERGING,
    SEQUENTIAL,
    _base_layout,
    _heatmap,
    _log_axis,
    _message,
)

SOURCE_AXIS = "source token (input step)"
OUTPUT_AXIS = "output token (decoder step)"


def _show(token: str) -> str:
    return "␣" if token == " " else token


def attention_matrix(source: list[str], output: list[str], weights: np.ndarray | None,
                     step: int, positions: list[int] | None = None,
                     share: float | None = None, title: str | None = None) -> go.Figure:
    """Heatmap of ``weights`` ``[output steps, source tokens]`` (rows: the true target and
    ``<eos>``), the true alignment as open squares, the share of aligned tokens whose strongest
    attention is the true position in the title."""
    fig = go.Figure()
    rows = [*output, "<eos>"]
    title = title or f"Attention at training step {step}"
    if share is not None:
        title += f"<br><sup>strongest weight on the true source: {share:.0%}</sup>"
    if weights is None:
        _message(fig, "no attention: the decoder sees only the encoder's last state")
        return _base_layout(fig, title, x_title=SOURCE_AXIS, y_title=OUTPUT_AXIS)
    n_out, n_in = weights.shape
    custom = np.array([[f"{_show(rows[k])} <- {_show(source[j])}" for j in range(n_in)]
                       for k in range(n_out)])
    fig.add_trace(_heatmap(weights, np.arange(n_in), np.arange(n_out), colorscale=SEQUENTIAL,
                           zmin=0.0, zmax=1.0, zmid=None, colorbar_title="weight",
                           hovertemplate="%{customdata}: %{z:.2f}", customdata=custom))
    fig.data[0].name = "attention weight"
    if positions is not None:
        pairs = [(p, k) for k, p in enumerate(positions[:n_out]) if p >= 0]
        fig.add_trace(go.Scatter(
            x=[p for p, _ in pairs], y=[k for _, k in pairs], mode="markers",
            name="true alignment",
            marker=dict(symbol="square-open", size=14, color=INK, line=dict(width=2)),
            hovertemplate="true source of %{y}: %{x}<extra></extra>"))
    _base_layout(fig, title, x_title=SOURCE_AXIS, y_title=OUTPUT_AXIS,
                 height=max(300, 90 + 26 * n_out))
    fig.update_xaxes(tickmode="array", tickvals=list(range(n_in)),
                     ticktext=[_show(t) for t in source])
    fig.update_yaxes(tickmode="array", tickvals=list(range(n_out)),
                     ticktext=[_show(t) for t in rows[:n_out]], autorange="reversed")
    return fig


def bottleneck_chart(table: list[dict]) -> go.Figure:
    """Exact match against source length, one line per attention setting."""
    fig = go.Figure()
    kinds = sorted({row["attention"] for row in table}, key=lambda a: a != "none")
    for color, kind in zip(SERIES_COLORS, kinds):
        rows = sorted((r for r in table if r["attention"] == kind), key=lambda r: r["length"])
        fig.add_trace(go.Scatter(
            x=[r["length"] for r in rows], y=[r["exact match"] for r in rows],
            mode="lines+markers", name="no attention" if kind == "none" else f"{kind} attention",
            line=dict(color=color, width=2.5),
            hovertemplate="length %{x}: %{y:.0%} exact<extra></extra>"))
    _base_layout(fig, "The bottleneck: exact match against source length",
                 x_title="source length (tokens)", y_title="exact match (validation)")
    fig.update_yaxes(range=[0, 1.02], tickformat=".0%")
    return fig


def encoder_gradient_chart(profiles: dict[str, np.ndarray], step: int) -> go.Figure:
    """||dL/dh_t^enc|| over encoder steps, one line per run, on the one log axis."""
    fig = go.Figure()
    for color, (name, values) in zip(SERIES_COLORS, profiles.items()):
        values = np.asarray(values, dtype=float)
        fig.add_trace(go.Scatter(
            x=np.arange(len(values)), y=values, mode="lines+markers", name=name,
            line=dict(color=color, width=2.5),
            hovertemplate="encoder step %{x}: %{y:.3g}<extra></extra>"))
    _base_layout(fig, f"Gradient reaching each encoder step (training step {step})",
                 x_title="encoder step t (source token)", y_title="‖∂L/∂h_t^enc‖")
    _log_axis(fig, *[np.asarray(v, dtype=float) for v in profiles.values()])
    return fig


def states_chart(states, step: int) -> go.Figure:
    """Encoder states over source tokens and decoder states over output tokens, units down,
    one signed scale; the encoder's last column, the context vector, outlined."""
    from plotly.subplots import make_subplots

    fig = make_subplots(rows=1, cols=2, shared_yaxes=True, horizontal_spacing=0.04,
                        subplot_titles=("encoder h_t", "decoder s_t"))
    scale = float(max(np.abs(states.encoder).max(), np.abs(states.decoder).max(), 1e-9))
    for col, (tokens, values, who) in enumerate(
            ((states.source, states.encoder, "encoder"), (states.target, states.decoder,
                                                          "decoder")), start=1):
        trace = _heatmap(values.T, np.arange(len(tokens)), np.arange(values.shape[1]),
                         colorscale=DIVERGING, zmin=-scale, zmax=scale, zmid=0.0,
                         colorbar_title="h", hovertemplate=f"{who} step %{{x}}, unit %{{y}}: "
                         "%{z:.2f}")
        trace.name = f"{who} states"
        trace.showscale = col == 2
        fig.add_trace(trace, row=1, col=col)
        fig.update_xaxes(tickmode="array", tickvals=list(range(len(tokens))),
                         ticktext=[_show(t) for t in tokens], row=1, col=col)
    last = len(states.source) - 1
    fig.add_shape(type="rect", x0=last - 0.5, x1=last + 0.5, y0=-0.5,
                  y1=states.encoder.shape[1] - 0.5, line=dict(color=INK, width=2),
                  row=1, col=1)
    _base_layout(fig, f"Encoder and decoder states<br><sup>training step {step}</sup>",
                 y_title="hidden unit", height=420)
    fig.update_xaxes(title_text="source token", row=1, col=1)
    fig.update_xaxes(title_text="output token", row=1, col=2)
    return fig


def beam_tree(tree: list, answer: list[str], answer_score: float, greedy: list[str],
              greedy_score: float, joiner: str = "") -> go.Figure:
    """Beam search's hypotheses as a tree: decoder step across, rank in the beam down, one node
    per hypothesis kept at that step (its last token written on it, the whole hypothesis and
    its log-probability in the hover), an edge from each to the hypothesis it extends. The
    beam's answer and greedy decoding's are drawn as paths through the nodes they pass;
    greedy's path stops where the beam dropped its prefix. ``tree`` is ``translate``'s: per
    step, the (tokens, log-probability) kept, best first; finished hypotheses (ended with
    ``<eos>``) leave the beam, so the answer's last node is the step before its ``<eos>``."""
    position = {(): (0, 0)}  # a prefix -> its node; the root is the empty output
    xs, ys, text, hover, scores = [0], [1], ["<bos>"], ["the start: nothing written yet"], [0.0]
    edge_x: list = []
    edge_y: list = []
    for k, hypotheses in enumerate(tree, start=1):
        for rank, (tokens, score) in enumerate(hypotheses, start=1):
            position[tuple(tokens)] = (k, rank)
            parent = position.get(tuple(tokens[:-1]))
            if parent is not None:
                edge_x += [parent[0], k, None]
                edge_y += [max(parent[1], 1), rank, None]
            xs.append(k)
            ys.append(rank)
            text.append(_show(tokens[-1]))
            hover.append(f"{joiner.join(tokens)}<br>log-probability {score:.3f}")
            scores.append(float(score))
    fig = go.Figure()
    fig.add_trace(go.Scatter(x=edge_x, y=edge_y, mode="lines", name="extends",
                             line=dict(color=OTHER_COLOR, width=1.5), hoverinfo="skip",
                             hovertemplate="extends the hypothesis to its left<extra></extra>",
                             showlegend=False))

    def path(tokens: list[str]) -> tuple[list[int], list[int]]:
        px, py = [0], [1]
        for j in range(1, len(tokens) + 1):
            node = position.get(tuple(tokens[:j]))
            if node is None:
                break
            px.append(node[0])
            py.append(node[1])
        return px, py

    for tokens, score, name, color, dash in (
            (greedy, greedy_score, "greedy", REFERENCE_COLOR, "dash"),
            (answer, answer_score, "beam's answer", PREDICTION_COLOR, "solid")):
        px, py = path(tokens)
        fig.add_trace(go.Scatter(
            x=px, y=py, mode="lines", name=f"{name} ({score:.2f})",
            line=dict(color=color, width=3, dash=dash),
            hovertemplate=f"{name}: {joiner.join(tokens)}<br>log-probability {score:.3f}"
                          "<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=xs, y=ys, mode="markers+text", name="hypotheses kept", text=text,
        textposition="middle center", customdata=scores, hovertext=hover,
        hovertemplate="%{hovertext}<extra></extra>",
        marker=dict(size=22, color=PAPER, line=dict(color=INK, width=1.5))))
    width = max((len(h) for h in tree), default=1)
    _base_layout(fig, f"The beam at every step<br><sup>log-probability: beam "
                      f"{answer_score:.2f}, greedy {greedy_score:.2f}</sup>",
                 x_title="decoder step", y_title="rank in the beam",
                 height=max(300, 120 + 40 * width))
    fig.update_yaxes(autorange="reversed", tickmode="array",
                     tickvals=list(range(1, width + 1)))
    fig.update_xaxes(tickmode="array", tickvals=list(range(len(tree) + 1)))
    return fig
