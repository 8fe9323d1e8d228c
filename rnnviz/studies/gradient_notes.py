r"""The sentences under the Gradients page's charts, computed from the run's own arrays.

What the theory says, for the vanilla RNN ``h_t = phi(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)``:
one step back multiplies the gradient by the step Jacobian ``dh_t/dh_{t-1} = diag(phi'(a_t))
W_hh``, so for the gradient of one loss, carried back k steps,

    ||dl/dh_{t-k}|| <= (max|phi'| * sigma_max)^k ||dl/dh_t||,    sigma_max = ||W_hh||_2

(``max|phi'|`` is 1 for tanh and for relu). The spectral radius rho <= sigma_max is not a bound:
it is the rate ``||W^k||^(1/k) -> rho`` that a *linear* RNN's gradient settles into over many
steps. On a many-to-many task dL/dh_t sums one such chain per loss at and after t, so only the
profile of the last step's loss alone (``rnnviz.core.trace.last_loss_gradient_profile``) is
bounded by the single power. Pure numpy in, markdown strings out; the page draws them.
"""

from __future__ import annotations

import math

import numpy as np

# sup |phi'(a)| of each vanilla-RNN activation: tanh' = 1 - tanh^2 <= 1, relu' is 0 or 1
ACTIVATION_SLOPE = {"tanh": 1.0, "relu": 1.0}
SLOPE_WORDS = {"tanh": "the slope of tanh, 1 − h², is at most 1",
               "relu": "the slope of relu is 0 or 1"}
# the sentences are markdown: mathematics inside $...$ (Streamlit renders it with KaTeX)
STATE_WORDS = {"lstm": r"$\partial(h_t, c_t)/\partial(h_{t-1}, c_{t-1})$",
               "gru": r"$\partial h_t/\partial h_{t-1}$"}
ACTIVATION_TEX = {"tanh": r"\tanh", "relu": r"\operatorname{relu}"}
GRADIENT_NORM = r"$\|\partial L/\partial h_t\|$"
GATE_BLOCKS = {"lstm": "ifgo", "gru": "rzn"}


def _underflows(part: float, whole: float) -> bool:
    """A share that reads 0 although the last step has a gradient: float32's rounding, not a
    share. The gradient is carried back in float32, which holds nothing below about 1e-45 (the
    norms are taken in float64, so a gradient that float32 held is measured)."""
    return part == 0 and whole > 0


def _times(part: float, whole: float) -> str:
    """``part / whole`` as the captions print a share, "**0.0012×**", or, where float32 rounded
    it to 0, "**a share too small for float32**"."""
    if _underflows(part, whole):
        return "**a share too small for float32**"
    return f"**{part / whole if whole > 0 else math.nan:.2g}×**"


def _underflow_words(cell: str, nonlinearity: str) -> str:
    """Why a share read 0. Mathematically none is 0 for tanh or a gated cell (every slope of
    tanh and the sigmoid is positive); a relu unit at 0 can cut a path for real."""
    cut = (", or a relu unit at 0 cut every path" if cell == "rnn" and nonlinearity == "relu"
           else ": it is not a true 0")
    return ("on the way back the gradient fell below float32's smallest number, about 1e-45, "
            f"and rounded to 0{cut}")


def _ratio(profile: np.ndarray) -> float:
    """profile[0] / profile[-1] (first step against the last), NaN when the last is 0."""
    return float(profile[0] / profile[-1]) if len(profile) and profile[-1] > 0 else math.nan


def _per_step(ratio: float, steps: int) -> float:
    """The average factor per step back: ratio ** (1 / (T - 1))."""
    return ratio ** (1 / (steps - 1)) if steps > 1 and ratio > 0 else math.nan


def power_line(bounded: np.ndarray, factor: float) -> np.ndarray:
    """``c factor^(T-1-t)`` for t = 0..T-1, ``[T]``, anchored at ``c = bounded[T-1]``, the last
    step's value of the profile the line speaks about (``[T]``); all NaN when that value is
    not positive (a line from an earlier step would claim something else). Computed in log
    space: 3 ** 400 overflows."""
    bounded = np.asarray(bounded, dtype=np.float64).reshape(-1)
    if not len(bounded) or not bounded[-1] > 0 or not factor > 0 or not math.isfinite(factor):
        return np.full(len(bounded), np.nan)
    distance = len(bounded) - 1 - np.arange(len(bounded))
    with np.errstate(over="ignore"):
        return np.exp(math.log(bounded[-1]) + distance * math.log(factor))


def profile_caption(grad_h: np.ndarray, *, cell: str, many_to_one: bool,
                    nonlinearity: str = "tanh", last_loss: np.ndarray | None = None,
                    spectral_radius: float | None = None, sigma_max: float | None = None,
                    jacobian_norm: np.ndarray | None = None, layer: int = 0,
                    num_layers: int = 1) -> str:
    """The reading guide of the gradient profile.

    Args:
        grad_h: ``[batch, time]`` ||dL_b/dh_t|| of the layer (``trace.grad_h[layer]``).
        cell, nonlinearity, many_to_one, layer, num_layers: the run's model.
        last_loss: ``[batch, time]`` ||dl_{b,T-1}/dh_t|| (many-to-many tasks only).
        spectral_radius, sigma_max: rho and ||.||_2 of the layer's W_hh (vanilla RNN).
        jacobian_norm: ``[batch, time]`` spectral norm of the step Jacobian (gated cells).
    """
    grad_h = np.asarray(grad_h, dtype=np.float64)
    batch, steps = grad_h.shape
    profile = grad_h.mean(axis=0)
    accumulates = not many_to_one and last_loss is not None
    bounded = np.asarray(last_loss, dtype=np.float64).mean(axis=0) if accumulates else profile
    first = (f"{_times(profile[0], profile[-1])} of the gradient of the last ("
             f"{_underflow_words(cell, nonlinearity)})" if _underflows(profile[0], profile[-1])
             else f"{_times(profile[0], profile[-1])} the gradient of the last")
    parts = [f"{GRADIENT_NORM} averaged over a batch of {batch} examples (log scale). The first "
             f"step receives {first}"]
    if accumulates:
        ratio = _ratio(profile)
        sums = (r"$\partial L/\partial h_t$ sums the gradients of all the losses at and after "
                "$t$: the first step "
                "collects every one of them, the last step only its own")
        alone_text = ("the last step's loss alone delivers "
                      f"{_times(bounded[0], bounded[-1])} to the first step "
                      "(the line \"last step's loss alone\")")
        if _underflows(bounded[0], bounded[-1]):
            alone_text += f": {_underflow_words(cell, nonlinearity)}"
        parts.append(f", because on this many-to-many task {sums}. That growth is "
                     f"accumulation, not explosion: {alone_text}." if ratio > 1 else
                     f". On this many-to-many task {sums}; {alone_text}.")
    else:
        parts.append(".")
    top = layer == num_layers - 1
    if cell == "rnn":
        if not top:
            parts.append(f" No theory lines for layer {layer}: its gradient also arrives "
                         "through the layer above at every step, so no power of its own $W_{hh}$ "
                         "bounds it. Pick the top layer to see them.")
        elif sigma_max is not None and spectral_radius is not None:
            parts.append(_rnn_theory(profile, bounded, accumulates, nonlinearity, sigma_max,
                                     spectral_radius))
    elif jacobian_norm is not None:
        parts.append(_gated_theory(cell, bounded, accumulates, jacobian_norm, top, layer))
    return "".join(parts)


def _rnn_theory(profile: np.ndarray, bounded: np.ndarray, accumulates: bool,
                nonlinearity: str, sigma_max: float, spectral_radius: float) -> str:
    steps = len(profile)
    if not bounded[-1] > 0:
        return " No gradient reaches the last step, so the theory lines have nothing to start from."
    bound = power_line(bounded, ACTIVATION_SLOPE[nonlinearity] * sigma_max)
    rate = power_line(bounded, spectral_radius)
    what = "the last step's loss alone" if accumulates else "the measured gradient"
    step = rf"$\operatorname{{diag}}({ACTIVATION_TEX[nonlinearity]}')\, W_{{hh}}$"
    text = (r" Two lines from $W_{hh}$ start at the last step's gradient. Dotted: the **upper "
            r"bound** $c \cdot \sigma_{\max}^{T-1-t}$, with "
            rf"$\sigma_{{\max}} = \|W_{{hh}}\|_2 = {sigma_max:.2f}$ its largest "
            f"singular value: a step back multiplies the gradient by {step} "
            f"and {SLOPE_WORDS[nonlinearity]}, so no step can stretch it by more than "
            rf"$\sigma_{{\max}}$ and {what} stays below this line at every step")
    if bounded[0] > 0 and math.isfinite(bound[0]):
        text += f" (at the first step the bound is {bound[0] / bounded[0]:.2g}× above it)"
    text += (r". Dashed: $c \cdot \rho^{T-1-t}$, with the spectral radius "
             f"ρ = {spectral_radius:.2f}, only "
             "the **asymptotic rate** of a *linear* RNN, whose gradient changes by about ρ per "
             "step over many steps. It is not a bound, and a measured curve may cross it: ")
    above = int(np.sum(profile > rate * (1 + 1e-6)))
    text += f"the measured {GRADIENT_NORM} lies above it at {above} of {steps} steps."
    if accumulates:
        text += (f" The total {GRADIENT_NORM} is bounded by neither line: it adds one chain per "
                 "later loss.")
    return text


def _gated_theory(cell: str, bounded: np.ndarray, accumulates: bool, jacobian_norm,
                  top: bool, layer: int) -> str:
    ratio = _ratio(bounded)
    per_step = _per_step(ratio, len(bounded))
    what = "the last step's loss alone" if accumulates else "the gradient"
    verb = "grows" if ratio > 1 else "shrinks"
    jacobian = STATE_WORDS.get(cell, STATE_WORDS["gru"])
    text = (f" Gated cells have no single factor per step: the step Jacobian "
            f"{jacobian} has mean spectral norm "
            f"**{float(np.mean(jacobian_norm)):.2f}** here. Each step's norm bounds how much "
            "that step back can stretch the gradient of the state, and does not predict it")
    if math.isfinite(per_step):
        text += (f": measured, {what} {verb} to **{ratio:.2g}×** from the last step to the "
                 f"first (×{per_step:.2f} per step on average), set by the gates at each step.")
    elif ratio == 0:
        text += (f": measured, {what} shrinks below what float32 can hold before it reaches "
                 "the first step, set by the gates at each step.")
    else:
        text += "."
    if not top:
        text += (f" For layer {layer} the Jacobian bounds only what its own recurrence "
                 "carries back: its gradient also arrives through the layer above.")
    return text


def singular_values_caption(cell: str, spectra: list, gates: dict[str, np.ndarray] | None = None,
                            nonlinearity: str = "tanh", layer: int = 0) -> str:
    """The reading guide of the singular values of W_hh: what they bound for this cell.

    ``spectra``: ``rnnviz.core.analysis.recurrent_spectra`` (every layer; ``layer``'s blocks
    are named); ``gates``: the trace's gates of that layer (``{name: [batch, time, hidden]}``),
    for the largest forget (LSTM) or update (GRU) gate.
    """
    blocks = {s.gate: float(np.max(s.singular_values)) for s in spectra if s.layer == layer}
    where = f" in layer {layer}" if any(s.layer != layer for s in spectra) else ""
    if cell == "rnn":
        sigma = blocks.get("", math.nan)
        step = rf"$\operatorname{{diag}}({ACTIVATION_TEX[nonlinearity]}')\, W_{{hh}}$"
        return (r"Singular values of $W_{hh}$: it stretches a vector along its $k$-th singular "
                r"direction by $\sigma_k$. But a step back multiplies the gradient by "
                f"{step} and {SLOPE_WORDS[nonlinearity]}, so the largest, "
                rf"$\sigma_{{\max}} = \|W_{{hh}}\|_2 = {sigma:.2f}$"
                f"{where}, only **bounds** the factor of each step: all values below 1 and the "
                "gradient must vanish; above 1 it can grow, where the units are not saturated "
                "and the gradient lines up with a stretched direction.")
    names = GATE_BLOCKS[cell]
    listed = ", ".join(f"{gate} {blocks[gate]:.2f}" for gate in names if gate in blocks)
    if cell == "lstm":
        gate, path = "f", (r"the cell path $c_t = f_t \odot c_{t-1} + i_t \odot g_t$, whose "
                           r"direct Jacobian $\partial c_t/\partial c_{t-1}$ is "
                           r"$\operatorname{diag}(f_t)$")
        word = "forget gate f"
    else:
        gate, path = "z", (r"the update path $h_t = (1 - z_t) \odot n_t + z_t \odot h_{t-1}$, "
                           r"whose direct Jacobian through $z_t \odot h_{t-1}$ is "
                           r"$\operatorname{diag}(z_t)$")
        word = "update gate z"
    text = (f"Singular values of each recurrent block "
            f"{', '.join(f'$W_{{h{name}}}$' for name in names)}. None of them carries the state "
            "from step to step: each feeds the pre-activation of a gate (or of the candidate), "
            "which passes through a sigmoid (slope at most ¼) or tanh (slope at most 1) and is "
            "multiplied by other gates before it touches the state, so a σ above 1 here does "
            f"not by itself stretch the gradient. What carries memory is {path}, never above "
            f"1. Largest σ per block{where}: {listed}")
    if gates and gate in gates:
        text += f"; the {word} never exceeds {float(np.max(gates[gate])):.4f} on this batch"
    return text + "."
