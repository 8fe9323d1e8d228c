"""Figure builders for the Step-through page, in the visual language of ``rnnviz.charts`` (one
diverging scale centred on zero, sigmoid gates on [0, 1] with white at 0.5, "time step t" on x
from 0, titles, legends, log axes for gradient magnitudes). Pure functions: the study's
``StepTerms`` / ``BackwardTerms`` (every step's numbers, computed once) in, plotly figures out.

``forward_animation`` and ``backward_animation`` put every time step in one figure as plotly
frames, with a play/pause button and a slider: the browser walks through the steps at
``FRAME_MS`` per step and the server computes nothing per frame. Everything that names a step
is in the frame of that step: the title, the pictures, the equations with their numbers and
the breakdown of a pre-activation. One control (the figure's player) moves them all, so they
can never show different steps (the equations used to be Streamlit markdown for a step picked
elsewhere, and said t = 0 while the picture played t = 41).

The panels are stacked in one column, placed by pixels from the top (the height is fixed, so
a pixel is a known fraction of the plot), and nothing is placed beside anything else: at a
phone's 390 px and a desk's 1400 px alike no title, button, slider or equation covers another.
Equations are broken between their parts ("= ...") at ``EQUATION_UNITS`` characters, which fit
a phone's width.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    FADE,
    HIGHLIGHT,
    MEASURED_COLOR,
    NEGATIVE_SOFT,
    POSITIVE_SOFT,
    REFERENCE_COLOR,
    TRANSPARENT,
)
from rnnviz.charts.stepthrough_frames import (  # noqa: F401 (FRAME_MS: the pages read it)
    _AXIS_PX,
    _EQ_LINE_PX,
    _TITLE_PX,
    FRAME_MS,
    MAX_STRIP_TEXT,
    _animate,
    _bars,
    _color_axes,
    _equations,
    _layout,
    _panel,
    _strip_update,
    _strips,
    _strips_px,
    _title,
    _top_px,
    equation_lines,
)
from rnnviz.charts.style import (
    DIVERGING,
    LOG_AXIS,
    TIME_AXIS,
    _finite,
    _integer_ticks,
    _log_safe,
    _reference_line,
)

STEP_GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate",
                   "r": "reset gate", "z": "update gate", "n": "candidate"}
# ---------------------------------------------------------------- step through: strips


def _power_of_ten(values) -> int:
    """The power of ten of the largest |value| (0 for values between 1 and 100, or none)."""
    values = np.abs(_finite(values))
    peak = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    exponent = math.floor(math.log10(peak)) if peak > 0 else 0
    return 0 if exponent in (0, 1) else exponent


# ---------------------------------------------------------------- step through: animation


_GROW, _SHRINK = POSITIVE_SOFT, NEGATIVE_SOFT  # a step Jacobian norm above 1 / below 1


def forward_strip_rows(terms, t: int, input_name: str = "x<sub>t</sub>"
                       ) -> list[tuple[str, np.ndarray, str]]:
    """The vectors of forward step ``t`` as strips ``(label, values, kind)``: the input, the
    state coming in, each gate, the RNN's pre-activation, the LSTM's cells, the new state
    (``terms``: a ``rnnviz.studies.stepthrough.StepTerms``). The labels name no step: an
    animation shows them at every step."""
    rows = [(f"{input_name}: the input", terms.x[t], "input"),
            ("h<sub>t−1</sub>: the state coming in", terms.h_prev[t], "state")]
    for name, values in terms.gates.items():
        rows.append((f"{name}<sub>t</sub>: {STEP_GATE_WORDS[name]}", values[t],
                     "state" if name in ("g", "n") else "gate"))
    if terms.cell == "rnn":
        rows.append(("the pre-activation (inside the tanh or relu)", terms.pre["h"][t],
                     "state"))
    if terms.c is not None:
        rows.append(("c<sub>t−1</sub>: the memory cell coming in", terms.c_prev[t], "cell"))
        rows.append(("c<sub>t</sub>: the memory cell going out", terms.c[t], "cell"))
    rows.append(("h<sub>t</sub>: the new hidden state", terms.h[t], "state"))
    return rows


def backward_strip_rows(terms, t: int) -> list[tuple[str, np.ndarray, str]]:
    """The gradient vectors of backward step ``t`` as strips: dL/dh_t and its two parts (they
    add up), and dL/dc_t for the LSTM (``terms``: a ``BackwardTerms``)."""
    rows = [("∂L/∂h<sub>t</sub>: the gradient reaching h<sub>t</sub>", terms.grad_h[t],
             "gradient"),
            ("its part arriving directly", terms.direct[t], "gradient"),
            ("its part carried back from t + 1", terms.carried[t], "gradient")]
    if terms.grad_c is not None:
        rows.append(("∂L/∂c<sub>t</sub>: the gradient at the memory cell",
                     terms.grad_c[t], "gradient"))
    return rows


def _contribution_rows(contributions: list[dict], input_name: str, top: int
                       ) -> tuple[list[str], np.ndarray]:
    """Every step's terms of one pre-activation (``contributions[k]`` as
    ``StepTerms.contributions`` gives it) as names and a ``[T, terms]`` array: the ``top``
    largest over the walk, the others summed into one column."""
    names = ([f"W·{input_name}[{k}]" for k in range(np.size(contributions[0]["input"]))]
             + [f"W·h(t−1)[{k}]" for k in range(np.size(contributions[0]["recurrent"]))]
             + ["bias (input)", "bias (recurrent)"])
    values = np.array([np.concatenate([np.ravel(c["input"]), np.ravel(c["recurrent"]),
                                       [float(c["bias_input"]), float(c["bias_recurrent"])]])
                       for c in contributions])
    order = np.argsort(-np.nanmax(np.abs(values), axis=0), kind="stable")
    keep, rest = sorted(order[:top].tolist()), order[top:]
    shown = values[:, keep]
    names = [names[i] for i in keep]
    if rest.size:
        shown = np.column_stack([shown, values[:, rest].sum(axis=1)])
        names.append(f"{rest.size} smaller terms")
    return names, shown


def forward_animation(terms, unit: int, t: int = 0, bounded: bool = True,
                      input_name: str = "x<sub>t</sub>", *, contributions=None,
                      block: str | None = None, subtitle: str = "") -> go.Figure:
    """The forward walk as one animated figure, a frame per time step, in one column: the
    unrolled network (h_t of every unit over time, step t outlined, the steps to come veiled),
    the cell's equations at t with ``unit``'s numbers, every vector of the step
    (``forward_strip_rows``), and, given ``contributions`` (``StepTerms.contributions`` of
    ``block`` at every step), the terms that add up to that block's pre-activation at t. The
    title says t. The figure shows step ``t``; one colour scale for all steps. ``terms``: a
    ``rnnviz.studies.stepthrough.StepTerms`` (every step computed once)."""
    from rnnviz.studies.stepthrough import forward_equations
    steps, units = terms.steps, terms.hidden_size
    rows = forward_strip_rows(terms, 0, input_name)
    walk_px = min(max(12 * units, 140), 260)
    eq_lines = 2 + (1 if terms.layer else 0) + max(  # the most lines any step's numbers take
        sum(len(equation_lines(p)) for p in forward_equations(terms, k, unit))
        for k in range(steps))
    eq_top = _TITLE_PX + walk_px + _AXIS_PX
    strips_top = eq_top + eq_lines * _EQ_LINE_PX + 24
    kinds = {"state"} | {kind for _, _, kind in rows}
    bars_top = strips_top + _strips_px(rows, _bars(kinds))
    names, bar_values = ([], None) if contributions is None else _contribution_rows(
        contributions, "x" if input_name.startswith("x") else "h below", 20)
    plot_px = bars_top + (_TITLE_PX + 16 * len(names) + _AXIS_PX if names else 0) - _AXIS_PX
    top_px = _top_px(_title("Walking forward through time", 0, subtitle))
    fig = go.Figure()
    walk_title = _panel(fig, 1, _TITLE_PX, walk_px, plot_px, "")
    hidden = _finite(terms.h)
    fig.add_trace(go.Heatmap(
        z=hidden.T, x=np.arange(steps), y=np.arange(units), coloraxis="coloraxis",
        showlegend=False,
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>unit %{{y}}<br>h_t = %{{z:.3f}}<extra></extra>"))
    fig.add_shape(type="rect", x0=-0.5, x1=steps - 0.5, y0=unit - 0.5, y1=unit + 0.5,
                  line=dict(color=HIGHLIGHT, width=1, dash="dot"))
    fig.update_layout(xaxis=dict(title_text=TIME_AXIS), yaxis=dict(title_text="unit"))
    strips, strip_titles = _strips(fig, rows, 2, strips_top, plot_px, unit)
    traced = list(strips)
    if names:
        number = 2 + len(rows)
        bar_title = _panel(fig, number, bars_top + _TITLE_PX, 16 * len(names), plot_px, "")
        peak = float(np.nanmax(np.abs(bar_values))) or 1.0
        traced.append(len(fig.data))
        fig.add_trace(go.Bar(
            x=bar_values[0], y=names, orientation="h", name="term", xaxis=f"x{number}",
            yaxis=f"y{number}", showlegend=False,
            marker=dict(color=bar_values[0], colorscale=DIVERGING, cmin=-peak, cmax=peak,
                        cmid=0),
            hovertemplate="%{y}<br>= %{x:.4f}<extra></extra>"))
        fig.update_layout({f"xaxis{number}": dict(range=[-1.05 * peak, 1.05 * peak],
                                                  title_text="weight × input"),
                           f"yaxis{number}": dict(autorange="reversed", fixedrange=True,
                                                  tickfont=dict(size=10))})
    static_shapes = [s.to_plotly_json() for s in fig.layout.shapes]

    def peak_of(kinds: set[str], *more) -> float:
        values = [np.abs(_finite(v)).ravel() for k in range(steps)
                  for _, v, kind in forward_strip_rows(terms, k, input_name) if kind in kinds]
        values = np.concatenate(values + [np.abs(_finite(m)).ravel() for m in more]
                                + [np.zeros(0)])
        return float(np.nanmax(values)) if np.isfinite(values).any() else 0.0

    bound = max(peak_of({"state", "input"}, hidden), 1.0)
    bound = 1.0 if bounded and bound <= 1 else bound
    below = "<br>here x<sub>t</sub> is h<sub>t</sub> of the layer below" if terms.layer else ""

    def at_step(k: int):
        head = dict(walk_title, text=f"<b>t = {k}</b>: h<sub>t</sub> of every unit, step {k} "
                                     f"outlined, unit {unit} dotted")
        equations, _ = _equations(
            f"<b>The equations at t = {k}, unit {unit}</b><br>(PyTorch's; bold: the model's "
            f"own value{below})", forward_equations(terms, k, unit), eq_top, plot_px)
        shapes = [dict(type="rect", xref="x", yref="y", x0=k - 0.5, x1=k + 0.5, y0=-0.5,
                       y1=units - 0.5, line=dict(color=HIGHLIGHT, width=3))]
        if k < steps - 1:
            shapes.append(dict(type="rect", xref="x", yref="y", x0=k + 0.5, x1=steps - 0.5,
                               y0=-0.5, y1=units - 0.5, fillcolor=FADE, line=dict(width=0)))
        traces = [_strip_update(v) for _, v, _ in forward_strip_rows(terms, k, input_name)]
        notes = [head, equations] + strip_titles
        if names:
            traces.append(dict(type="bar", x=bar_values[k], marker=dict(color=bar_values[k])))
            notes.append(dict(bar_title, text=f"What adds up to {block}<sub>t</sub>'s "
                                              f"pre-activation at t = {k}: "
                                              f"{bar_values[k].sum():.3f}"))
        return traces, traced, dict(shapes=static_shapes + shapes, annotations=notes,
                                    title=dict(text=_title("Walking forward through time", k,
                                                           subtitle)))

    fig.update_layout(**_color_axes(bound, kinds, strips_top + _strips_px(rows), plot_px,
                                    max(peak_of({"cell"}), 1e-12)))
    _animate(fig, steps, t, at_step, False, top_px, plot_px)
    _integer_ticks(fig, steps)
    fig = _layout(fig, _title("Walking forward through time", t, subtitle), plot_px, top_px)
    fig.update_layout(title_text=_title("Walking forward through time", t, subtitle))
    return fig


def backward_animation(terms, t: int | None = None, *, subtitle: str = "") -> go.Figure:
    """The backward walk as one animated figure, a frame per step, played from the last step
    (where the loss is) back to the first, in one column: ‖dL/dh_t‖ on a log axis (the steps
    walked so far solid; the parts arriving directly and carried back from t + 1 dotted and
    dashed), the step Jacobian norms (the factor that carries the gradient from t + 1 back to
    t outlined), the step back at t as equations with the measured norms, and the gradient
    vectors of step t (``backward_strip_rows``) on the step's own colour scale and power of
    ten. The title says t. ``terms``: a ``rnnviz.studies.stepthrough.BackwardTerms``; the
    figure shows step ``t`` (default: the last)."""
    from rnnviz.studies.stepthrough import backward_equations
    steps = terms.steps
    t = steps - 1 if t is None else t
    x = np.arange(steps)
    rows = backward_strip_rows(terms, 0)
    norm_px, jac_px = 190, 110
    jac_top = _TITLE_PX + norm_px + 16 + _TITLE_PX
    eq_top = jac_top + jac_px + _AXIS_PX
    eq_lines = max(1 + sum(len(equation_lines(p)) for p in backward_equations(terms, k))
                   for k in range(steps))
    strips_top = eq_top + eq_lines * _EQ_LINE_PX + 24
    plot_px = strips_top + _strips_px(rows, 1)
    top_px = _top_px(_title("Walking back through time", 0, subtitle))
    fig = go.Figure()
    norm_title = _panel(fig, 1, _TITLE_PX, norm_px, plot_px, "")
    jac_title = _panel(fig, 2, jac_top, jac_px, plot_px,
                       "the step Jacobian norm ‖J<sub>t</sub>‖")
    norm = terms.grad_norm
    drawn, floored, floor = _log_safe(norm)
    fig.add_trace(go.Scatter(
        x=x, y=drawn, mode="lines+markers", name="‖∂L/∂h_t‖, every step", opacity=0.25,
        line=dict(color=MEASURED_COLOR, width=3), marker=dict(size=6), customdata=norm,
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖∂L/∂h_t‖ = %{{customdata:.3g}}<extra></extra>"))
    source = "the readout at t" if terms.top_layer else "the layer above at t"
    for values, name, dash in ((np.linalg.norm(terms.direct, axis=-1),
                                f"arriving directly from {source}", "dot"),
                               (np.linalg.norm(terms.carried, axis=-1),
                                "carried back from step t+1", "dash")):
        fig.add_trace(go.Scatter(
            x=x, y=np.where(values > 0, values, np.nan), mode="lines", name=name,
            line=dict(color=REFERENCE_COLOR, dash=dash, width=1.5),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{name}: %{{y:.3g}}<extra></extra>"))
    walked = len(fig.data)
    fig.add_trace(go.Scatter(x=x, y=drawn, mode="lines", name="‖∂L/∂h_t‖, walked so far",
                             line=dict(color=MEASURED_COLOR, width=3), hoverinfo="skip"))
    fig.add_trace(go.Scatter(
        x=[0], y=[drawn[0]], mode="markers", name="now: step t", hoverinfo="skip",
        marker=dict(size=16, color=TRANSPARENT, line=dict(color=HIGHLIGHT, width=3))))
    jac = _finite(terms.jacobian_norm)
    bars = len(fig.data)
    fig.add_trace(go.Bar(
        x=x, y=jac, name="step Jacobian norm ‖J_t‖ (red > 1 can grow, blue < 1 shrinks)",
        marker=dict(color=[_GROW if v > 1 else _SHRINK for v in np.nan_to_num(jac)],
                    line=dict(color=HIGHLIGHT, width=0)), xaxis="x2", yaxis="y2",
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖J_t‖ = ‖∂s_t/∂s_(t−1)‖ = %{{y:.3f}}"
                      "<extra></extra>"))
    fig.add_trace(_reference_line(-0.5, steps - 0.5, 1.0, "‖J‖ = 1",
                                  "‖J‖ = 1: neither grows nor shrinks", xaxis="x2",
                                  yaxis="y2"))
    strips, strip_titles = _strips(fig, rows, 3, strips_top, plot_px, None)
    fig.update_layout(
        xaxis=dict(matches="x2", showticklabels=False),
        yaxis=dict(**LOG_AXIS, title_text="‖∂L/∂h_t‖"),
        xaxis2=dict(title_text=TIME_AXIS), yaxis2=dict(title_text="‖J_t‖", rangemode="tozero"))
    extra = []
    if floored.any():
        extra.append(dict(norm_title, text=f"{int(floored.sum())} zero gradients drawn at "
                                           f"{floor:.2g}", x=1, xanchor="right"))

    def at_step(k: int):
        vectors = [v for _, v, _ in backward_strip_rows(terms, k)]
        exponents = [_power_of_ten(v) for v in vectors]
        peak = max((float(np.nanmax(np.abs(_finite(v)))) for v in vectors
                    if np.isfinite(v).any()), default=0.0)
        head = dict(norm_title, text=f"<b>t = {k}</b>: ‖∂L/∂h<sub>t</sub>‖ = {norm[k]:.3g}")
        equations, _ = _equations(f"<b>The step back to t = {k}</b> (measured norms)",
                                  backward_equations(terms, k), eq_top, plot_px)
        named = [dict(title, text=label + (f" (values × 10<sup>{e}</sup>)" if e else ""))
                 for title, (label, _, _), e in zip(strip_titles, rows, exponents)]
        traces = [dict(type="scatter", x=x[k:], y=drawn[k:]),
                  dict(type="scatter", x=[k], y=[drawn[k]]),
                  dict(type="bar", marker=dict(line=dict(width=[3 if j == k + 1 else 0
                                                      for j in range(steps)])))]
        traces += [_strip_update(v, e) for v, e in zip(vectors, exponents)]
        return traces, [walked, walked + 1, bars] + strips, dict(
            annotations=[head, jac_title, equations] + extra + named,
            coloraxis3=dict(cmin=-(peak or 1.0), cmax=peak or 1.0),
            title=dict(text=_title("Walking back through time", k, subtitle)))

    fig.update_layout(**_color_axes(1.0, {"gradient"}, strips_top + _strips_px(rows),
                                    plot_px))
    _animate(fig, steps, t, at_step, True, top_px, plot_px)
    _integer_ticks(fig, steps)
    fig = _layout(fig, _title("Walking back through time", t, subtitle), plot_px, top_px)
    fig.update_layout(title_text=_title("Walking back through time", t, subtitle))
    return fig
