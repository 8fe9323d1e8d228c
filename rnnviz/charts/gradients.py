"""Gradients through time: the per-step profile against theory, the profile over training,
per-parameter norms, input saliency, and the singular values of W_hh."""

from __future__ import annotations

import math

import numpy as np
import plotly.graph_objects as go

from rnnviz.charts.palette import (
    GATE_COLORS,
    LAST_LOSS_COLOR,
    MEASURED_COLOR,
    REFERENCE_COLOR,
    SERIES_COLORS,
    series_color,
)
from rnnviz.charts.style import (
    HEIGHT,
    MAX_HEATMAP_COLUMNS,
    MAX_HEATMAP_ROWS,
    SEQUENTIAL,
    STEP_AXIS,
    TIME_AXIS,
    _base_layout,
    _finite,
    _heatmap,
    _integer_ticks,
    _log_axis,
    _log_safe,
    _message,
    _reference_line,
    downsample,
)
from rnnviz.studies.gradient_notes import ACTIVATION_SLOPE, power_line


def _positive_line(x: np.ndarray, values, name: str, color: str, value_name: str,
                   dash: str = "solid", **kwargs) -> go.Scatter:
    """A line on a log axis: zeros drawn at the floor with a hover that says so."""
    drawn, floored, floor = _log_safe(values)
    notes = [f"0 (drawn at {floor:.2g}: a log axis cannot show 0)" if zero else f"{v:.3g}"
             for v, zero in zip(_finite(values), floored)]
    return go.Scatter(x=x, y=drawn, name=name, hovertext=notes,
                      line=dict(color=color, width=2, dash=dash),
                      hovertemplate=f"{TIME_AXIS} = %{{x}}<br>{value_name} = %{{hovertext}}"
                                    f"<extra>{name}</extra>", **kwargs)


def gradient_profile(grad_h: np.ndarray, spectral_radius: float | None = None,
                     title: str = "Gradient reaching each time step: ‖∂L/∂h_t‖", *,
                     sigma_max: float | None = None, last_loss: np.ndarray | None = None,
                     activation: str = "tanh") -> go.Figure:
    r"""||dL/dh_t|| against t on a log axis (``grad_h [T]``, e.g. ``trace.grad_h[-1].mean(0)``),
    with what the theory of the vanilla RNN says about it.

    ``last_loss [T]``: the profile of the last step's loss alone, ||dl_{T-1}/dh_t|| (batch
    mean of ``rnnviz.core.trace.last_loss_gradient_profile``), drawn on many-to-many tasks,
    where ``grad_h`` sums one chain per later loss and no single power bounds it. The theory
    lines start at ``c``, the last step's value of the profile they speak about (``last_loss``
    when given, else ``grad_h``; for the top layer both are ||dL/dh_{T-1}||):

    * ``sigma_max`` (||W_hh||_2): the upper bound ``c (s sigma_max)^(T-1-t)`` with ``s`` the
      largest slope of ``activation`` (1 for tanh and relu), dotted;
    * ``spectral_radius`` rho: ``c rho^(T-1-t)``, dashed, the asymptotic rate of a *linear*
      RNN, labelled as not a bound (rho <= sigma_max, and real profiles cross it).

    Theory points far outside the measured curves' range (beyond 100x) are left out so they
    don't squash them. Zeros are drawn at the smallest positive value (marked in the hover);
    NaN are gaps.
    """
    grad_h = _finite(grad_h).reshape(-1)
    steps = len(grad_h)
    t = np.arange(steps)
    fig = go.Figure(_positive_line(t, grad_h, "measured ‖∂L/∂h_t‖", MEASURED_COLOR,
                                   "‖∂L/∂h_t‖", mode="lines+markers", marker=dict(size=4)))
    bounded = grad_h
    if last_loss is not None:
        bounded = _finite(last_loss).reshape(-1)
        fig.add_trace(_positive_line(t, bounded, "last step's loss alone ‖∂L_{T−1}/∂h_t‖",
                                     LAST_LOSS_COLOR, "‖∂L_{T−1}/∂h_t‖", dash="dashdot",
                                     mode="lines"))
    measured = np.concatenate([grad_h, bounded])
    positive = measured[measured > 0]
    of = "the last step's loss" if last_loss is not None else "the gradient"

    def in_view(line: np.ndarray) -> np.ndarray:
        low, high = positive.min() / 100, positive.max() * 100
        return np.where((line >= low) & (line <= high), line, np.nan)

    if positive.size and sigma_max is not None and math.isfinite(sigma_max) and sigma_max > 0:
        factor = ACTIVATION_SLOPE[activation] * sigma_max
        bound = power_line(bounded, factor)
        if np.isfinite(bound[-1:]).all():
            fig.add_trace(go.Scatter(
                x=t, y=in_view(bound), mode="lines",
                name=f"upper bound c·σ_max^(T−1−t), σ_max = ‖W_hh‖₂ = {sigma_max:.2f}",
                line=dict(color=REFERENCE_COLOR, dash="dot", width=2),
                hovertemplate=f"{TIME_AXIS} = %{{x}}<br>c·σ_max^(T−1−t) = %{{y:.3g}}"
                              f"<extra>upper bound on {of}: each step back multiplies it by "
                              f"at most σ_max · max {activation}′ = {factor:.3g}</extra>"))
    if positive.size and spectral_radius is not None and math.isfinite(spectral_radius) and \
            spectral_radius > 0:
        rate = power_line(bounded, spectral_radius)
        if np.isfinite(rate[-1:]).all():
            fig.add_trace(go.Scatter(
                x=t, y=in_view(rate), mode="lines",
                name=f"c·ρ^(T−1−t): asymptotic rate of a linear RNN, not a bound "
                     f"(ρ = {spectral_radius:.2f})",
                line=dict(color=REFERENCE_COLOR, dash="dash", width=1.5),
                hovertemplate=f"{TIME_AXIS} = %{{x}}<br>c·ρ^(T−1−t) = %{{y:.3g}}<extra>the rate "
                              f"a linear RNN's gradient settles into, ρ = {spectral_radius:.3g} "
                              "per step; not a bound</extra>"))
    if not steps:
        _message(fig, "no gradient recorded")
    _integer_ticks(fig, steps)
    _log_axis(fig, *(trace.y for trace in fig.data))
    return _base_layout(fig, title, x_title=TIME_AXIS, y_title="‖∂L/∂h_t‖ (log scale)",
                        height=HEIGHT + 20 * max(len(fig.data) - 1, 0))


def _relative_to_last(profile: np.ndarray) -> tuple[np.ndarray, int | None]:
    """``profile`` divided by its value at the last step (the last step with a positive
    value, when the last is 0 or missing), and that step; ``None`` when no step has one."""
    positive = np.flatnonzero(np.isfinite(profile) & (profile > 0))
    if not positive.size:
        return np.full_like(profile, np.nan), None
    anchor = int(positive[-1])
    return profile / profile[anchor], anchor


def compare_gradient_chart(profiles: dict[str, np.ndarray]) -> go.Figure:
    """||dL/dh_t|| against t for several runs, one line per label (a cell's label gets its
    colour), each divided by its own value at the last step, on a log axis: every line ends at
    1, so what differs is the slope, how fast the gradient fades (or grows) on its way back,
    not the level, which depends on the loss's size. The hover gives the absolute value too."""
    data = []
    for index, (label, profile) in enumerate(profiles.items()):
        profile = _finite(profile).reshape(-1)
        relative, anchor = _relative_to_last(profile)
        drawn, floored, floor = _log_safe(relative)
        hover = [f"{r:.3g} × its value at t = {anchor} (‖∂L/∂h_t‖ = {v:.3g})" if not zero
                 else f"0 (drawn at {floor:.2g}: a log axis cannot show 0)"
                 for r, v, zero in zip(relative, profile, floored)]
        data.append(go.Scatter(
            x=np.arange(len(profile)), y=drawn, mode="lines", name=label, hovertext=hover,
            customdata=profile, line=dict(color=series_color(label, index), width=2),
            hovertemplate=f"{TIME_AXIS} = %{{x}}<br>%{{hovertext}}<extra>{label}</extra>"))
    fig = go.Figure(data)
    if not profiles:
        _message(fig, "no runs to compare")
    _integer_ticks(fig, max((len(np.ravel(p)) for p in profiles.values()), default=0))
    _log_axis(fig, *(trace.y for trace in data), [1.0])
    return _base_layout(fig, "Gradient reaching each time step, relative to the last step",
                        x_title=TIME_AXIS,
                        y_title="‖∂L/∂h_t‖ ÷ ‖∂L/∂h_T−1‖ (log scale)")


def _power_label(k: int) -> str:
    """10^k as plotly's "power" exponent format writes it on the log axes."""
    return {0: "1", 1: "10"}.get(k, f"10<sup>{k}</sup>".replace("-", "−"))


def probe_heatmap(probe_step: np.ndarray, probe_grad: np.ndarray) -> go.Figure:
    """How the gradient reaching each time step changed during training: x = time step t,
    y = training step of the probe snapshot (true step numbers), colour = log10 ||dL/dh_t||
    on the sequential scale (a magnitude, not a signed value). ``probe_step [S]``,
    ``probe_grad [S, T]`` (``history.probe_step`` / ``history.probe_grad``); zeros are floored
    to the smallest positive value. The y axis runs downwards, so the first row, drawn at the
    top, is the first snapshot (step 0, the initial weights) and the rows read like a table."""
    probe_step = np.asarray(probe_step).reshape(-1)
    probe_grad = _finite(probe_grad)
    fig = go.Figure()
    if probe_step.size == 0 or probe_grad.size == 0:
        _message(fig, "no snapshots yet")
    else:
        rows = downsample(probe_grad.shape[0], MAX_HEATMAP_ROWS)
        t = downsample(probe_grad.shape[1], MAX_HEATMAP_COLUMNS)
        values = probe_grad[np.ix_(rows, t)]
        drawn, _, _ = _log_safe(values)
        z = np.log10(drawn)
        finite = z[np.isfinite(z)]
        # whole decades, labelled as the log axes are (10⁻³ … 1), not as bare exponents
        zmin, zmax = ((math.floor(finite.min()), math.ceil(finite.max())) if finite.size
                      else (0, 1))
        zmax = max(zmax, zmin + 1)
        # at most MAX_COLOR_LABELS decade labels: a run whose gradient spans 20 decades got a
        # label at every one, and they overlapped (issue 20)
        every = max(1, math.ceil((zmax - zmin) / (MAX_COLOR_LABELS - 1)))
        decades = list(range(zmax, zmin - 1, -every))[::-1]
        heat = _heatmap(
            z, t, probe_step[rows], colorscale=SEQUENTIAL, zmin=zmin, zmax=zmax, zmid=None,
            colorbar_title="‖∂L/∂h_t‖<br>(log scale)", customdata=values,
            hovertemplate=f"training step %{{y}}<br>{TIME_AXIS} = %{{x}}<br>‖∂L/∂h_t‖ = "
                          "%{customdata:.3g} (log10 %{z:.2f})")
        heat.colorbar.update(tickvals=decades, ticktext=[_power_label(k) for k in decades])
        fig.add_trace(heat)
        _integer_ticks(fig, len(t))
        # the texts say "the top row is the gradient at initialization": keep step 0 on top.
        # Ticks only at steps that were probed: the rows are cells centred on their step, so
        # plotly's own ticks ran half a row past step 0 and read "training step -20" (issue 20)
        drawn_steps = probe_step[rows]
        ticks = drawn_steps[downsample(len(drawn_steps), MAX_STEP_TICKS)]
        fig.update_yaxes(autorange="reversed", tickmode="array", tickvals=ticks.tolist(),
                         ticktext=[f"{int(step):,}" for step in ticks])
    return _base_layout(fig, "Gradient reaching each time step, over training",
                        x_title=TIME_AXIS, y_title=STEP_AXIS, height=420)


MAX_COLOR_LABELS = 6  # decade labels on a colour bar
MAX_STEP_TICKS = 6  # training-step ticks on the "over training" heatmap


def parameter_grad_bars(norms: dict[str, float]) -> go.Figure:
    """One horizontal bar per parameter (``{"rnn.weight_hh_l0": 0.12, ...}``), ||dL/dW`` on a
    log x axis, top to bottom in the given order; zero norms are drawn at the floor."""
    names = list(norms)
    values = _finite([norms[n] for n in names])
    drawn, floored, floor = _log_safe(values)
    labels = [f"{v:.3g}" if not z else "0" for v, z in zip(values, floored)]
    fig = go.Figure(go.Bar(
        x=drawn, y=names, orientation="h", marker_color=MEASURED_COLOR, text=labels,
        textposition="outside", cliponaxis=False, customdata=labels, name="‖∂L/∂W‖",
        hovertemplate="%{y}<br>‖∂L/∂W‖ = %{customdata}<extra></extra>"))
    if not names:
        _message(fig, "no parameters")
    _log_axis(fig, drawn, axis="x")
    fig.update_yaxes(autorange="reversed", type="category")
    return _base_layout(fig, "Gradient norm of each parameter tensor",
                        x_title="‖∂L/∂W‖ (log scale)", y_title="parameter",
                        height=int(np.clip(110 + 28 * len(names), 260, 700)))


def saliency_chart(grad_x: np.ndarray, log_y: bool = False) -> go.Figure:
    """Input saliency ||dL/dx_t|| per time step (``grad_x [T]``, e.g.
    ``trace.grad_x[b]``): which inputs the loss is sensitive to. Bars; log y optional."""
    grad_x = _finite(grad_x).reshape(-1)
    drawn = _log_safe(grad_x)[0] if log_y else grad_x
    fig = go.Figure(go.Bar(
        x=np.arange(len(grad_x)), y=drawn, marker_color=MEASURED_COLOR, customdata=grad_x,
        name="‖∂L/∂x_t‖",
        hovertemplate=f"{TIME_AXIS} = %{{x}}<br>‖∂L/∂x_t‖ = %{{customdata:.3g}}"
                      "<extra></extra>"))
    if log_y:
        _log_axis(fig, drawn)
    if not len(grad_x):
        _message(fig, "no gradient recorded")
    _integer_ticks(fig, len(grad_x))
    return _base_layout(fig, "Input saliency: ‖∂L/∂x_t‖ at each time step",
                        x_title=TIME_AXIS,
                        y_title="‖∂L/∂x_t‖" + (" (log scale)" if log_y else ""), height=320)


# ---------------------------------------------------------------- weights


def singular_value_chart(spectra: list) -> go.Figure:
    """Singular values of each square block of W_hh (``rnnviz.core.analysis.recurrent_spectra``),
    largest first, one line per block ("layer 0 · f"), with a reference line at 1: a block
    maps its k-th singular direction to one sigma_k times as long. For the vanilla RNN that
    is the state's own step (sigma_max bounds the step Jacobian diag(phi') W_hh); a gated
    cell's blocks feed gate pre-activations, not the state."""
    data = []
    longest = 1
    for index, spectrum in enumerate(spectra):
        values = _finite(spectrum.singular_values).reshape(-1)
        longest = max(longest, len(values))
        label = f"layer {spectrum.layer}" + (f" · {spectrum.gate}" if spectrum.gate else "")
        color = GATE_COLORS.get(spectrum.gate, SERIES_COLORS[index % len(SERIES_COLORS)])
        data.append(go.Scatter(
            x=np.arange(1, len(values) + 1), y=values, mode="lines+markers",
            name=f"{label} (ρ = {spectrum.spectral_radius:.2f})",
            line=dict(color=color, width=2, dash=("solid", "dash", "dot")[spectrum.layer % 3]),
            marker=dict(size=5),
            hovertemplate=f"σ_%{{x}} = %{{y:.3f}}<extra>{label}, spectral radius "
                          f"{spectrum.spectral_radius:.3f}</extra>"))
    data.append(_reference_line(1, longest, 1.0, "σ = 1",
                                  "σ = 1: the block keeps that direction's length"))
    fig = go.Figure(data)
    _integer_ticks(fig, longest, start=1)
    if spectra:
        top = max(spectra, key=lambda s: s.spectral_radius)
        where = f"layer {top.layer}" + (f" · {top.gate}" if top.gate else "")
        title = (f"Singular values of W_hh (largest spectral radius ρ = "
                 f"{top.spectral_radius:.2f}, {where})")
    else:
        title = "Singular values of W_hh"
        _message(fig, "no recurrent weights")
    return _base_layout(fig, title, x_title="index k (largest first)",
                        y_title="singular value σ_k", height=400,
                        legend="below" if len(spectra) <= 4 else "right")


