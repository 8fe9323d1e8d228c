"""Figure builders for the Step-through page, in the visual language of ``rnnviz.charts`` (one
diverging scale centred on zero, sigmoid gates on [0, 1] with white at 0.5, "time step t" on x
from 0, titles, legends, log axes for gradient magnitudes). Pure functions: the study's
``StepTerms`` / ``BackwardTerms`` (every step's numbers, computed once) in, plotly figures out.

``forward_animation`` and ``backward_animation`` put every time step in one figure as plotly
frames, with a play/pause button and a slider: the browser walks through the steps at
``FRAME_MS`` per step and the server computes nothing per frame.
"""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    ARROW_COLOR,
    FADE,
    HIGHLIGHT,
    MEASURED_COLOR,
    NEGATIVE_SOFT,
    POSITIVE_SOFT,
    REFERENCE_COLOR,
    TRANSPARENT,
)
from rnnviz.charts.style import (
    DIVERGING,
    LEGEND_BELOW,
    LOG_AXIS,
    TIME_AXIS,
    UNIT_AXIS,
    _base_layout,
    _finite,
    _integer_ticks,
    _legend_rows,
    _log_safe,
    _message,
    _reference_line,
)

MAX_STRIP_TEXT = 12  # strips with at most this many cells print their values (half a page)
STEP_GATE_WORDS = {"i": "input gate", "f": "forget gate", "g": "candidate", "o": "output gate",
                   "r": "reset gate", "z": "update gate", "n": "candidate"}
FRAME_MS = 120  # one time step per 0.12 s when playing: about 8 steps a second
# ---------------------------------------------------------------- step through: strips

# colour axis of each kind of strip: signed states (tanh range), sigmoid gates, gradients
_STRIP_AXES = {"input": "coloraxis", "state": "coloraxis", "gate": "coloraxis2",
               "gradient": "coloraxis3", "cell": "coloraxis4"}


def _power_of_ten(values) -> int:
    """The power of ten of the largest |value| (0 for values between 1 and 100, or none)."""
    values = np.abs(_finite(values))
    peak = float(np.nanmax(values)) if values.size and np.isfinite(values).any() else 0.0
    exponent = math.floor(math.log10(peak)) if peak > 0 else 0
    return 0 if exponent in (0, 1) else exponent


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


# ---------------------------------------------------------------- step through: animation


_GROW, _SHRINK = POSITIVE_SOFT, NEGATIVE_SOFT  # a step Jacobian norm above 1 / below 1
_STRIP_PX, _TITLE_PX = 30, 26  # a strip, the room for a panel title
_HEAD_PX, _PLAYER_PX = 42, 64  # the two-line titles of the top panels, and the player above
_LEFT, _RIGHT = (0.0, 0.42), (0.52, 1.0)  # x domains: the walk over time | the step's vectors


def forward_strip_rows(terms, t: int, input_name: str = "x<sub>t</sub>"
                       ) -> list[tuple[str, np.ndarray, str]]:
    """The vectors of forward step ``t`` as strips ``(label, values, kind)``: the input, the
    state coming in, each gate, the RNN's pre-activation, the LSTM's cells, the new state
    (``terms``: a ``rnnviz.studies.stepthrough.StepTerms``). The labels name no step: an
    animation shows them at every step."""
    rows = [(f"{input_name}: the input", terms.x[t], "input"),
            ("h<sub>t−1</sub>: the state coming in (zeros at t = 0)", terms.h_prev[t], "state")]
    for name, values in terms.gates.items():
        rows.append((f"{name}<sub>t</sub>: {STEP_GATE_WORDS[name]}", values[t],
                     "state" if name in ("g", "n") else "gate"))
    if terms.cell == "rnn":
        rows.append(("W<sub>ih</sub>x<sub>t</sub> + b<sub>ih</sub> + W<sub>hh</sub>h<sub>t−1"
                     "</sub> + b<sub>hh</sub>: the pre-activation", terms.pre["h"][t], "state"))
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
            ("its part carried back from step t + 1", terms.carried[t], "gradient")]
    if terms.grad_c is not None:
        rows.append(("∂L/∂c<sub>t</sub>: the gradient reaching the memory cell",
                     terms.grad_c[t], "gradient"))
    return rows


def _stack(fig: go.Figure, heights: list[float], x_domain, first: int, plot_px: float,
           titles: list[str]) -> tuple[list[str], list[dict]]:
    """Panels stacked from the top in one column, ``heights`` px each with a title above; the
    axis numbers (``"2"`` for xaxis2/yaxis2, ``""`` for the first) and the title annotations."""
    top, ids, annotations, axes = plot_px, [], [], {}
    for number, (height, title) in enumerate(zip(heights, titles), start=first):
        suffix = "" if number == 1 else str(number)
        axes[f"xaxis{suffix}"] = dict(domain=list(x_domain), anchor=f"y{suffix}")
        axes[f"yaxis{suffix}"] = dict(domain=[max(top - height, 0) / plot_px, top / plot_px],
                                      anchor=f"x{suffix}")
        annotations.append(dict(text=title, xref="paper", yref="paper", x=x_domain[0],
                                y=top / plot_px, xanchor="left", yanchor="bottom",
                                showarrow=False, font=dict(size=13)))
        ids.append(suffix)
        top -= height + _TITLE_PX
    fig.update_layout(axes)
    return ids, annotations


def _strip_traces(fig: go.Figure, rows, axes: list[str], unit: int | None) -> list[int]:
    """One heatmap per strip on its axes (values come with each step); their trace indices."""
    indices, layout, shapes = [], {}, []
    for position, ((label, values, kind), suffix) in enumerate(zip(rows, axes)):
        size = np.size(values)
        indices.append(len(fig.data))
        fig.add_trace(go.Heatmap(
            z=np.zeros((1, size)), x=np.arange(size), y=[""], coloraxis=_STRIP_AXES[kind],
            xgap=2, showlegend=False, textfont=dict(size=11), xaxis=f"x{suffix}",
            yaxis=f"y{suffix}", texttemplate="%{text}" if size <= MAX_STRIP_TEXT else None,
            hovertemplate=f"{label}<br>index %{{x}}<br>value %{{z:.4g}}<extra></extra>"))
        if unit is not None and kind != "input" and 0 <= unit < size:
            shapes.append(dict(type="rect", x0=unit - 0.5, x1=unit + 0.5, y0=-0.5, y1=0.5,
                               xref=f"x{suffix}", yref=f"y{suffix}",
                               line=dict(color=HIGHLIGHT, width=2)))
        last = position == len(rows) - 1
        layout[f"xaxis{suffix}"] = dict(showticklabels=last, dtick=1 if size <= 16 else 5,
                                        title_text=UNIT_AXIS if last else None)
        layout[f"yaxis{suffix}"] = dict(showticklabels=False, fixedrange=True)
    fig.update_layout(layout, shapes=list(fig.layout.shapes) + shapes)
    return indices


def _strip_update(values: np.ndarray, exponent: int = 0) -> dict:
    values = _finite(values).reshape(-1)
    text = None
    if values.size <= MAX_STRIP_TEXT:
        text = [[f"{v / 10.0 ** exponent:.2f}" if math.isfinite(v) else "–" for v in values]]
    return dict(type="heatmap", z=values[None, :], text=text)


def _color_axes(state_bound: float, kinds: set[str], cell_bound: float = 1.0) -> dict:
    """The strips' colour scales, fixed for every step: signed states (and inputs), the
    LSTM's memory cell (not squashed: its own range), sigmoid gates (white at 0.5), gradients;
    the colorbars of those shown share the height."""
    scales = {"state": ("coloraxis", -state_bound, state_bound, "value<br>white = 0"),
              "cell": ("coloraxis4", -cell_bound, cell_bound, "c<sub>t</sub><br>white = 0"),
              "gate": ("coloraxis2", 0.0, 1.0, "gate<br>white = 0.5"),
              "gradient": ("coloraxis3", -1.0, 1.0, "∂L/∂h<br>white = 0")}
    shown = [kind for kind in scales if kind in kinds]
    axes = {}
    for kind, (axis, low, high, title) in scales.items():
        place = shown.index(kind) if kind in shown else 0
        axes[axis] = dict(
            colorscale=DIVERGING, cmin=low, cmax=high, cmid=(low + high) / 2,
            showscale=kind in shown, colorbar=dict(
                title=dict(text=title, side="top"), thickness=12, x=1.01, xanchor="left",
                len=0.9 / max(len(shown), 1) - 0.04, y=1 - place / max(len(shown), 1),
                yanchor="top", exponentformat="power"))
    return axes


def _animate(fig: go.Figure, steps: int, t: int, at_step, backward: bool) -> None:
    """Frames ``"0"`` … ``"T-1"`` from ``at_step(k) -> (traces, indices, layout)``, the figure
    itself showing step ``t``, and the player under it: Play walks forward (backward: from the
    last step to the first) at FRAME_MS per step from where it stands; the slider jumps."""
    traces, indices, layout = at_step(t)  # validated here, as the figure's own step t
    for index, trace in zip(indices, traces):
        fig.data[index].update({k: v for k, v in trace.items() if k != "type"})
    fig.update_layout(**layout)
    fig.frames = [dict(name=str(k), data=data, traces=indices, layout=layout)  # made once
                  for k in range(steps) for data, _, layout in [at_step(k)]]
    still = dict(frame=dict(duration=0, redraw=True), transition=dict(duration=0),
                 mode="immediate")
    play = dict(still, frame=dict(duration=FRAME_MS, redraw=True), fromcurrent=True,
                direction="reverse" if backward else "forward")
    labels = steps <= 20  # more step labels than that overlap; the current value says t
    fig.update_layout(
        updatemenus=[dict(
            type="buttons", direction="left", showactive=False, x=0, xanchor="left", y=1,
            yanchor="bottom", pad=dict(b=_HEAD_PX + 8, r=8), font=dict(size=13),
            buttons=[dict(label="▶ Play", method="animate", args=[None, play]),
                     dict(label="❚❚ Pause", method="animate", args=[[None], still])])],
        sliders=[dict(
            active=t, x=0.2, len=0.8, xanchor="left", y=1, yanchor="bottom",
            pad=dict(b=_HEAD_PX, t=0), ticklen=4,
            font=dict(size=11, color=ARROW_COLOR if labels else TRANSPARENT),
            currentvalue=dict(prefix="t = ", visible=True, xanchor="left",
                              font=dict(size=14, color=HIGHLIGHT)),
            steps=[dict(label=str(k), method="animate", args=[[str(k)], still])
                   for k in range(steps)])])


def _layout(fig: go.Figure, title: str, plot_px: float) -> go.Figure:
    """The house look, with room above for the player (in view where the figure starts) and
    the panel titles, and below for the axes and the legend (above the plot it would cover the
    panel titles)."""
    fig.update_xaxes(automargin=False)
    fig = _base_layout(fig, title)
    legend_px = 22 * _legend_rows(fig) + 10 if fig.layout.showlegend else 0
    above, below = 60 + _PLAYER_PX + _HEAD_PX, 60
    return fig.update_layout(
        height=int(plot_px) + above + below + legend_px,
        margin=dict(l=60, r=110, t=above, b=below + legend_px),
        legend=LEGEND_BELOW)


def forward_animation(terms, unit: int, t: int = 0, bounded: bool = True,
                      input_name: str = "x<sub>t</sub>") -> go.Figure:
    """The forward walk as one animated figure, a frame per time step. Left: the unrolled
    network (h_t of every unit over time), step t outlined, the steps to come veiled, and the
    numbers of ``unit`` at t in the title. Right: every vector of the step
    (``forward_strip_rows``). The figure shows step ``t``; one colour scale for all steps.
    ``terms``: a ``rnnviz.studies.stepthrough.StepTerms`` (every step computed once)."""
    steps, units = terms.steps, terms.hidden_size
    rows = forward_strip_rows(terms, 0, input_name)
    plot_px = max(len(rows) * (_STRIP_PX + _TITLE_PX) - _TITLE_PX, 260)
    fig = go.Figure()
    _, titles = _stack(fig, [plot_px], _LEFT, 1, plot_px, ["t"])
    strip_axes, strip_titles = _stack(fig, [_STRIP_PX] * len(rows), _RIGHT, 2, plot_px,
                                      [label for label, _, _ in rows])
    hidden = _finite(terms.h)
    fig.add_trace(go.Heatmap(
        z=hidden.T, x=np.arange(steps), y=np.arange(units), coloraxis="coloraxis",
        showlegend=False,
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>unit %{{y}}<br>h_t = %{{z:.3f}}<extra></extra>"))
    fig.add_shape(type="rect", x0=-0.5, x1=steps - 0.5, y0=unit - 0.5, y1=unit + 0.5,
                  line=dict(color=HIGHLIGHT, width=1, dash="dot"))
    fig.update_layout(xaxis=dict(title_text=TIME_AXIS), yaxis=dict(title_text=UNIT_AXIS))
    strips = _strip_traces(fig, rows, strip_axes, unit)
    static_shapes = [s.to_plotly_json() for s in fig.layout.shapes]

    def peak(kinds: set[str], *more) -> float:
        values = [np.abs(_finite(v)).ravel() for k in range(steps)
                  for _, v, kind in forward_strip_rows(terms, k, input_name) if kind in kinds]
        values = np.concatenate(values + [np.abs(_finite(m)).ravel() for m in more]
                                + [np.zeros(0)])
        return float(np.nanmax(values)) if np.isfinite(values).any() else 0.0

    bound = max(peak({"state", "input"}, hidden), 1.0)
    bound = 1.0 if bounded and bound <= 1 else bound
    shown = [n for n in ("i", "f", "g", "o", "r", "z", "n") if n in terms.gates]
    shown += ["c"] if terms.c is not None else []

    def at_step(k: int):
        values = terms.unit_values(k, unit)
        numbers = " · ".join(f"{name} {values[name]:.3f}" for name in shown + ["h"])
        head = dict(titles[0], align="left",
                    text=f"<b>t = {k}</b>: h<sub>t</sub> of every unit; unit {unit} (dotted "
                         f"row) at t:<br>{numbers}")
        shapes = [dict(type="rect", xref="x", yref="y", x0=k - 0.5, x1=k + 0.5, y0=-0.5,
                       y1=units - 0.5, line=dict(color=HIGHLIGHT, width=3))]
        if k < steps - 1:
            shapes.append(dict(type="rect", xref="x", yref="y", x0=k + 0.5, x1=steps - 0.5,
                               y0=-0.5, y1=units - 0.5, fillcolor=FADE, line=dict(width=0)))
        traces = [_strip_update(v) for _, v, _ in forward_strip_rows(terms, k, input_name)]
        return traces, strips, dict(shapes=static_shapes + shapes,
                                    annotations=[head] + strip_titles)

    fig.update_layout(**_color_axes(bound, {"state"} | {kind for _, _, kind in rows},
                                    max(peak({"cell"}), 1e-12)))
    _animate(fig, steps, t, at_step, backward=False)
    _integer_ticks(fig, steps)
    return _layout(fig, "Walking forward through time: the unrolled network, and every vector "
                        "of step t", plot_px)


def backward_animation(terms, t: int | None = None) -> go.Figure:
    """The backward walk as one animated figure, a frame per step, played from the last step
    (where the loss is) back to the first. Left: ‖dL/dh_t‖ on a log axis (the steps walked so
    far solid; the parts arriving directly and carried back from t + 1 dotted and dashed),
    and the step Jacobian norms, the factor that carries the gradient from t + 1 back to t
    outlined. Right: the gradient vectors of step t (``backward_strip_rows``), on the step's
    own colour scale and power of ten (the norms compare the steps). ``terms``: a
    ``rnnviz.studies.stepthrough.BackwardTerms``; the figure shows step ``t`` (default: the
    last)."""
    steps = terms.steps
    t = steps - 1 if t is None else t
    x = np.arange(steps)
    rows = backward_strip_rows(terms, 0)
    plot_px = max(len(rows) * (_STRIP_PX + _TITLE_PX) - _TITLE_PX, 340)
    fig = go.Figure()
    norm_px = (plot_px - _TITLE_PX) * 0.62
    _, titles = _stack(fig, [norm_px, plot_px - _TITLE_PX - norm_px], _LEFT, 1, plot_px,
                       ["t", "the step Jacobian norm ‖J<sub>t</sub>‖"])
    strip_axes, strip_titles = _stack(fig, [_STRIP_PX] * len(rows), _RIGHT, 3, plot_px,
                                      [label for label, _, _ in rows])
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
    fig.update_layout(
        xaxis=dict(matches="x2", showticklabels=False),
        yaxis=dict(**LOG_AXIS, title_text="‖∂L/∂h_t‖"),
        xaxis2=dict(title_text=TIME_AXIS), yaxis2=dict(title_text="‖J_t‖", rangemode="tozero"))
    strips = _strip_traces(fig, rows, strip_axes, None)
    if floored.any():
        titles.append(dict(titles[1], text=f"{int(floored.sum())} zero gradients drawn at "
                                           f"{floor:.2g}", x=_LEFT[1], xanchor="right"))

    def at_step(k: int):
        vectors = [v for _, v, _ in backward_strip_rows(terms, k)]
        exponents = [_power_of_ten(v) for v in vectors]
        peak = max((float(np.nanmax(np.abs(_finite(v)))) for v in vectors
                    if np.isfinite(v).any()), default=0.0)
        factor = (f" · carried back from t + 1 by ‖J<sub>{k + 1}</sub>‖ = "
                  f"{terms.jacobian_norm[k + 1]:.3g}" if k + 1 < steps else
                  " · the last step: nothing comes back from later")
        head = dict(titles[0], text=f"<b>t = {k}</b>: ‖∂L/∂h<sub>t</sub>‖ = {norm[k]:.3g}"
                                    f"{factor}")
        named = [dict(title, text=label + (f" (values × 10<sup>{e}</sup>)" if e else ""))
                 for title, (label, _, _), e in zip(strip_titles, rows, exponents)]
        traces = [dict(type="scatter", x=x[k:], y=drawn[k:]),
                  dict(type="scatter", x=[k], y=[drawn[k]]),
                  dict(type="bar", marker=dict(line=dict(width=[3 if j == k + 1 else 0
                                                      for j in range(steps)])))]
        traces += [_strip_update(v, e) for v, e in zip(vectors, exponents)]
        return traces, [walked, walked + 1, bars] + strips, dict(
            annotations=[head] + titles[1:] + named,
            coloraxis3=dict(cmin=-(peak or 1.0), cmax=peak or 1.0))

    fig.update_layout(**_color_axes(1.0, {"gradient"}))
    _animate(fig, steps, t, at_step, backward=True)
    _integer_ticks(fig, steps)
    return _layout(fig, "Walking back through time: the gradient, the Jacobian that multiplies "
                        "it at each step, and its vector at step t", plot_px)
