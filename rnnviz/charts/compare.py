"""Figure builders for the Compare and Step-through pages, in the visual language of
``rnnviz.charts`` (one diverging scale centred on zero, sigmoid gates on [0, 1] with white at
0.5, "time step t" on x from 0, titles, legends, log axes for gradient magnitudes, cell colours
``CELL_COLORS``). Pure functions: numpy and engine objects in, plotly figures out.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go
from plotly.subplots import make_subplots

from rnnviz.charts.inside import state_heatmap
from rnnviz.charts.palette import (
    CELL_COLORS,
    FADE,
    HIGHLIGHT,
    MEASURED_COLOR,
    REFERENCE_COLOR,
    TRAIN_COLOR,
)
from rnnviz.charts.style import (
    DIVERGING,
    LOG_AXIS,
    TIME_AXIS,
    UNIT_AXIS,
    _base_layout,
    _finite,
    _integer_ticks,
    _log_axis,
    _log_axis_ok,
    _log_safe,
    _message,
    _reference_line,
)

MAX_STRIP_TEXT = 12  # strips with at most this many cells print their values (half a page)
STEP_GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate",
              "r": "reset gate", "z": "update gate", "n": "candidate"}


def cell_label(cell: str) -> str:
    return {"rnn": "Vanilla RNN", "lstm": "LSTM", "gru": "GRU"}.get(cell, cell)


# ---------------------------------------------------------------- compare


def final_metric_chart(values: dict[str, float], chance: float, chance_how: str,
                       metric_name: str, higher_is_better: bool) -> go.Figure:
    """One bar per cell (``{"rnn": 0.93, ...}``) in the cell's colour: its final validation
    metric, with the chance level as a dashed line. Accuracy on a linear 0-100% axis; an
    error (MSE) on a log axis, where 0.0003 and 0.15 both show (zeros drawn at the floor)."""
    cells = list(values)
    numbers = [float(values[c]) if values[c] is not None else float("nan") for c in cells]
    fmt = (lambda v: f"{v:.1%}") if metric_name == "accuracy" else (lambda v: f"{v:.4g}")
    log_y = metric_name != "accuracy" and _log_axis_ok(numbers, [chance])
    drawn = _log_safe(numbers)[0] if log_y else _finite(numbers)
    fig = go.Figure(go.Bar(
        x=[cell_label(c) for c in cells], y=drawn, cliponaxis=False,
        marker_color=[CELL_COLORS.get(c, MEASURED_COLOR) for c in cells],
        text=[fmt(v) if math.isfinite(v) else "–" for v in numbers], textposition="outside",
        name=f"validation {metric_name}", showlegend=False,  # each bar is named below it
        hovertemplate=f"%{{x}}<br>validation {metric_name} %{{text}}<extra></extra>"))
    fig.add_trace(go.Scatter(
        x=[cell_label(c) for c in cells], y=[chance] * len(cells), mode="lines",
        name=f"chance {fmt(chance)}", line=dict(color=REFERENCE_COLOR, dash="dash", width=2),
        hovertemplate=f"chance {metric_name} {fmt(chance)}: {chance_how}<extra></extra>"))
    top = max([v for v in numbers if math.isfinite(v)] + [chance])
    better = "higher" if higher_is_better else "lower"
    if metric_name == "accuracy":
        fig.update_yaxes(range=[0, 1.12], tickformat=".0%")
    elif log_y:
        _log_axis(fig, drawn, [chance])
    else:
        fig.update_yaxes(range=[0, top * 1.25 or 1])
    scale = " · log scale" if log_y else ""
    return _base_layout(fig, f"Final validation {metric_name}<br><sup>{better} is better · "
                             f"dashed: chance{scale}</sup>",
                        x_title="cell", y_title=f"validation {metric_name}", height=360)


def sweep_chart(result) -> go.Figure:
    """Final validation metric against sequence length (or copy lag), one line per cell, with
    the chance level: where each cell stops learning. ``result`` is a
    ``rnnviz.studies.compare.SweepResult``; a NaN (no validation) is a gap."""
    fig = go.Figure()
    lengths = list(result.lengths)
    fmt = ".1%" if result.metric_name == "accuracy" else ".4g"
    for cell in result.cells:
        reasons = [r if r != "finished" else "trained to the end"
                   for r in result.stop_reasons.get(cell, [""] * len(lengths))]
        fig.add_trace(go.Scatter(
            x=lengths, y=_finite(result.metric[cell]), mode="lines+markers",
            name=cell_label(cell), line=dict(color=CELL_COLORS.get(cell, MEASURED_COLOR), width=3),
            marker=dict(size=9), customdata=reasons,
            hovertemplate=f"{result.param_label} = %{{x}}<br>validation {result.metric_name} "
                          f"%{{y:{fmt}}}<br>%{{customdata}}<extra>{cell_label(cell)}</extra>"))
    fig.add_trace(go.Scatter(
        x=lengths, y=result.chance, mode="lines", name="chance level",
        line=dict(color=REFERENCE_COLOR, dash="dash", width=2),
        hovertemplate=f"chance {result.metric_name} %{{y:{fmt}}}<extra></extra>"))
    if result.metric_name == "accuracy":
        fig.update_yaxes(range=[-0.02, 1.05], tickformat=".0%")
    elif _log_axis_ok(*result.metric.values(), result.chance):
        _log_axis(fig, *result.metric.values(), result.chance)
    fig.update_xaxes(tickvals=lengths)
    if len(lengths) > 2 and lengths[-1] / max(lengths[0], 1) >= 8:
        # doubling lengths read evenly spaced, each labelled with its own length (a log axis
        # would label powers of ten, none of which was tried)
        fig.update_xaxes(type="category", categoryorder="array", categoryarray=lengths)
    better = "higher" if result.higher_is_better else "lower"
    return _base_layout(
        fig, f"Where does each cell break?<br><sup>final validation {result.metric_name} "
             f"against {result.param_label} · {better} is better</sup>",
        x_title=result.param_label, y_title=f"validation {result.metric_name}", height=420)


def hidden_column_heatmap(hidden: np.ndarray, cell: str, bounded: bool) -> go.Figure:
    """One cell's hidden states ``[T, H]`` for the Compare page's columns (narrow: the
    colorbar title is short)."""
    fig = state_heatmap(hidden, f"{cell_label(cell)}: h_t", (-1, 1) if bounded else None)
    fig.update_layout(height=min(fig.layout.height or 360, 380),
                      margin=dict(l=50, r=10, t=max(50, fig.layout.margin.t or 0), b=50))
    return fig


# ---------------------------------------------------------------- step through: overview


def step_overview(hidden: np.ndarray, t: int, backward: bool, bounded: bool = True,
                  title: str = "") -> go.Figure:
    """The unrolled network as the hidden-state heatmap ``[T, H]`` (units x time), the column
    of step ``t`` outlined and the steps not reached yet veiled: after t going forward, before
    t going backward (the walk starts at the last step, where the loss is)."""
    steps = hidden.shape[0]
    title = title or ("Walking back from the loss: the unrolled network, step t outlined"
                      if backward else "The unrolled network: hidden state h_t, step t outlined")
    fig = state_heatmap(hidden, title, (-1, 1) if bounded else None)
    units = hidden.shape[1]
    y0, y1 = -0.5, units - 0.5
    if backward and t > 0:
        fig.add_shape(type="rect", x0=-0.5, x1=t - 0.5, y0=y0, y1=y1, fillcolor=FADE,
                      line=dict(width=0), layer="above")
    if not backward and t < steps - 1:
        fig.add_shape(type="rect", x0=t + 0.5, x1=steps - 0.5, y0=y0, y1=y1, fillcolor=FADE,
                      line=dict(width=0), layer="above")
    fig.add_shape(type="rect", x0=t - 0.5, x1=t + 0.5, y0=y0, y1=y1,
                  line=dict(color=HIGHLIGHT, width=3), layer="above")
    fig.add_annotation(x=t, y=1.0, yref="paper", yanchor="bottom", showarrow=False,
                       text=f"<b>t = {t}</b>", font=dict(size=13, color=HIGHLIGHT))
    fig.update_layout(height=max(260, min(fig.layout.height or 300, 420)))
    return fig


# ---------------------------------------------------------------- step through: strips

# colour axis of each kind of strip: signed states (tanh range), sigmoid gates, gradients
_STRIP_AXES = {"input": "coloraxis", "state": "coloraxis", "gate": "coloraxis2",
               "gradient": "coloraxis3"}


def _power_of_ten(values) -> int:
    """The power of ten of the largest |value| (0 for values between 1 and 100, or none)."""
    values = np.abs(_finite(values))
    peak = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    exponent = math.floor(math.log10(peak)) if peak > 0 else 0
    return 0 if exponent in (0, 1) else exponent


def step_strips(rows: list[tuple[str, np.ndarray, str]], unit: int | None = None,
                title: str = "") -> go.Figure:
    """Small one-row heatmaps, one per quantity at one step: ``rows`` = ``[(label, values,
    kind), ...]`` with kind ``"state"`` (signed per hidden unit: h, c, candidates; one scale
    centred on 0, at least ±1), ``"input"`` (the layer's input x_t, same scale), ``"gate"``
    (sigmoid: 0…1, white at 0.5) or ``"gradient"`` (signed per unit, one symmetric scale
    fitted to the rows). Cells print their value when a strip has at most ``MAX_STRIP_TEXT``
    of them; ``unit`` is outlined on every strip except the input."""
    n = len(rows)
    bounds = {}
    for kind in ("state", "gradient"):
        values = [np.abs(_finite(v)) for _, v, k in rows
                  if k == kind or (kind == "state" and k == "input")]
        peak = max((float(np.nanmax(v)) for v in values if v.size and np.isfinite(v).any()),
                   default=0.0)
        bounds[kind] = max(peak, 1.0) if kind == "state" else (peak if peak > 0 else 1.0)
    # gradients are small: each strip prints its values in units of its own power of ten,
    # named in its title (the colours share one scale)
    exponents = [_power_of_ten(v) if k == "gradient" else 0 for _, v, k in rows]
    titles = [label + (f" (values × 10<sup>{e}</sup>)" if e else "")
              for (label, _, _), e in zip(rows, exponents)]
    fig = make_subplots(rows=max(n, 1), cols=1, vertical_spacing=0.55 / max(n, 1) if n > 1
                        else 0.0, subplot_titles=titles)
    for index, ((label, values, kind), exponent) in enumerate(zip(rows, exponents), start=1):
        values = _finite(values).reshape(-1)
        text = values.size <= MAX_STRIP_TEXT
        shown = values / 10.0 ** exponent
        fig.add_trace(go.Heatmap(
            z=values[None, :], x=np.arange(values.size), y=[""], coloraxis=_STRIP_AXES[kind],
            text=np.vectorize(lambda v: f"{v:.2f}" if math.isfinite(v) else "–")(shown)[None]
            if text else None, texttemplate="%{text}" if text else None,
            textfont=dict(size=11), xgap=2,
            hovertemplate=f"{label}<br>index %{{x}}<br>value %{{z:.4g}}<extra></extra>"),
            row=index, col=1)
        if unit is not None and kind != "input" and 0 <= unit < values.size:
            fig.add_shape(type="rect", x0=unit - 0.5, x1=unit + 0.5, y0=-0.5, y1=0.5,
                          line=dict(color=HIGHLIGHT, width=3), row=index, col=1)
        # numbers under the last strip only (and under a short input): they would crowd
        # the next strip's title
        ticks = index == n or (kind == "input" and values.size <= 16)
        fig.update_xaxes(showticklabels=ticks, dtick=1 if values.size <= 16 else 5,
                         row=index, col=1)
        fig.update_yaxes(showticklabels=False, fixedrange=True, row=index, col=1)
    kinds = {"state" if k == "input" else k for _, _, k in rows}
    both = {"state", "gate"} <= kinds  # two colorbars share the height
    bar = dict(thickness=12, len=0.45 if both else 0.95, x=1.01, xanchor="left")
    fig.update_layout(
        coloraxis=dict(colorscale=DIVERGING, cmin=-bounds["state"], cmax=bounds["state"],
                       cmid=0, showscale="state" in kinds,
                       colorbar=dict(title=dict(text="value<br>white = 0", side="top"),
                                     y=1.0, yanchor="top", **bar)),
        coloraxis2=dict(colorscale=DIVERGING, cmin=0, cmax=1, cmid=0.5,
                        showscale="gate" in kinds,
                        colorbar=dict(title=dict(text="gate<br>white = 0.5", side="top"),
                                      y=0.0 if "state" in kinds else 1.0,
                                      yanchor="bottom" if "state" in kinds else "top", **bar)),
        coloraxis3=dict(colorscale=DIVERGING, cmin=-bounds["gradient"],
                        cmax=bounds["gradient"], cmid=0, showscale="gradient" in kinds,
                        colorbar=dict(title=dict(text="∂L/∂h<br>white = 0", side="top"),
                                      y=1.0, yanchor="top", **bar)))
    if not rows:
        _message(fig, "nothing to show")
    # subplot titles are annotations: left-align them over their strips
    for annotation in fig.layout.annotations:
        annotation.update(x=0, xanchor="left", font=dict(size=13))
    fig.update_xaxes(title_text=None)
    if rows:
        axis_title = "index" if rows[-1][2] == "input" else UNIT_AXIS
        fig.update_xaxes(title_text=axis_title, row=n, col=1)
    return _base_layout(fig, title, height=90 + 78 * max(n, 1),
                        margin=dict(l=30, r=110, t=70, b=50))


def contributions_chart(contributions: dict[str, np.ndarray], block: str, unit: int, t: int,
                        input_name: str = "x_t", top: int = 20) -> go.Figure:
    """Where one pre-activation comes from: a bar per term ``W[j, k] · v[k]`` (each input
    component, each previous hidden unit) and the two biases, red positive, blue negative. The
    ``top`` largest by size are shown, the other non-zero terms summed into one bar; exact
    zeros (an input that is 0, the initial state) are counted in the title."""
    names, values = [], []
    for k, v in enumerate(np.ravel(contributions["input"])):
        names.append(f"W·{input_name}[{k}]")
        values.append(float(v))
    for k, v in enumerate(np.ravel(contributions["recurrent"])):
        names.append(f"W·h_(t−1)[{k}]")
        values.append(float(v))
    names += [f"bias b_i{block}", f"bias b_h{block}"]
    values += [float(contributions["bias_input"]), float(contributions["bias_recurrent"])]
    values = np.asarray(values)
    nonzero = np.flatnonzero(values != 0)
    order = nonzero[np.argsort(-np.abs(values[nonzero]), kind="stable")]
    keep, rest = sorted(order[:top].tolist()), order[top:]
    shown_names = [names[i] for i in keep]
    shown = [float(values[i]) for i in keep]
    if rest.size:
        shown_names.append(f"{rest.size} smaller terms")
        shown.append(float(values[rest].sum()))
    peak = max((abs(v) for v in shown), default=1.0) or 1.0
    fig = go.Figure(go.Bar(
        x=shown, y=shown_names, orientation="h",
        marker=dict(color=shown, colorscale=DIVERGING, cmin=-peak, cmax=peak, cmid=0),
        hovertemplate="%{y}<br>= %{x:.4f}<extra></extra>", name="term"))
    zeros = len(values) - nonzero.size
    if not shown:
        _message(fig, "every term is 0")
    fig.update_yaxes(autorange="reversed")
    note = (f" · {zeros} term{'s are' if zeros > 1 else ' is'} 0 (not shown)"
            if zeros else "")
    return _base_layout(
        fig, f"What adds up to {block}_t's pre-activation, unit {unit}, t = {t}"
             f"<br><sup>sum {values.sum():.3f}{note}</sup>",
        x_title="weight × input (contribution to the sum)",
        height=max(280, 110 + 22 * len(shown)))


# ---------------------------------------------------------------- step through: backward


def backward_chart(terms, t: int) -> go.Figure:
    """The walk back from the loss. Top: ||dL/dh_t|| per step on a log axis (the steps already
    walked, t and later, solid; the rest faint), with the part that arrives directly at each
    step and the part carried back from the next step. Bottom: the spectral norm of each
    step's Jacobian ||∂s_t/∂s_(t−1)|| (the factor carrying the gradient from t back to t−1),
    the one being applied now outlined, and the line at 1 between shrinking and growing.
    ``terms`` is a ``rnnviz.studies.stepthrough.BackwardTerms``."""
    steps = terms.steps
    x = np.arange(steps)
    fig = make_subplots(rows=2, cols=1, shared_xaxes=True, vertical_spacing=0.12,
                        row_heights=[0.62, 0.38])
    walked = x >= t
    norm = terms.grad_norm
    drawn, floored, floor = _log_safe(norm)
    for mask, name, opacity, show in ((walked, "‖∂L/∂h_t‖, walked", 1.0, True),
                                      (~walked, "‖∂L/∂h_t‖, not reached yet", 0.25, True)):
        if not mask.any():
            continue
        fig.add_trace(go.Scatter(
            x=x[mask], y=drawn[mask], mode="lines+markers", name=name, opacity=opacity,
            line=dict(color=TRAIN_COLOR, width=3), marker=dict(size=7),
            customdata=norm[mask], showlegend=show,
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖∂L/∂h_t‖ = %{{customdata:.3g}}"
                          "<extra></extra>"), row=1, col=1)
    direct = np.linalg.norm(terms.direct, axis=-1)
    carried = np.linalg.norm(terms.carried, axis=-1)
    source = "the readout at t" if terms.top_layer else "the layer above at t"
    for values, name, dash in ((direct, f"arriving directly from {source}", "dot"),
                               (carried, "carried back from step t+1", "dash")):
        values = np.where(values > 0, values, np.nan)  # zero parts: a gap on a log axis
        fig.add_trace(go.Scatter(
            x=x, y=values, mode="lines", name=name, line=dict(color="#777777", dash=dash,
                                                                width=1.5),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name}: %{{y:.3g}}<extra></extra>"),
            row=1, col=1)
    fig.add_trace(go.Scatter(
        x=[t], y=[drawn[t]], mode="markers", name=f"now: t = {t}",
        marker=dict(size=16, color="rgba(0,0,0,0)", line=dict(color=HIGHLIGHT, width=3)),
        hovertemplate=f"t = {t}<br>‖∂L/∂h_t‖ = {norm[t]:.3g}<extra></extra>"), row=1, col=1)
    jac = _finite(terms.jacobian_norm)
    colors = ["#D6604D" if v > 1 else "#4393C3" for v in np.nan_to_num(jac)]
    outline = [3 if k == t + 1 else 0 for k in range(steps)]
    fig.add_trace(go.Bar(
        x=x, y=jac, name="step Jacobian norm ‖J_t‖ (red > 1 can grow, blue < 1 shrinks)",
        marker=dict(color=colors, line=dict(color=HIGHLIGHT, width=outline)),
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖J_t‖ = ‖∂s_t/∂s_(t−1)‖ = %{{y:.3f}}"
                      "<extra></extra>"), row=2, col=1)
    fig.add_trace(_reference_line(-0.5, steps - 0.5, 1.0, "‖J‖ = 1",
                                  "‖J‖ = 1: neither grows nor shrinks"), row=2, col=1)
    fig.update_yaxes(**LOG_AXIS, title_text="‖∂L/∂h_t‖ (log)", row=1, col=1)
    fig.update_yaxes(title_text="‖J_t‖", rangemode="tozero", row=2, col=1)
    fig.update_xaxes(title_text=TIME_AXIS, row=2, col=1)
    _integer_ticks(fig, steps)
    if floored.any():
        fig.add_annotation(text=f"{int(floored.sum())} zero gradients drawn at {floor:.2g}",
                           xref="paper", yref="paper", x=1, y=1, xanchor="right",
                           showarrow=False, font=dict(size=11))
    return _base_layout(fig, "Walking back through time: the gradient and the Jacobian that "
                             "multiplies it at each step", height=560)
