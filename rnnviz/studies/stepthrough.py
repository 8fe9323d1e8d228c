r"""Step through one example: every term of the cell's equations at every time step (forward),
and the gradient walking back from the loss, step by step (backward).

Forward. ``trace`` records h_t, c_t and the gates; the equations also have terms it does not
keep: the input part ``W_i· x_t + b_i·``, the recurrent part ``W_h· h_{t-1} + b_h·`` and the
pre-activation inside each sigmoid/tanh. ``forward_terms`` computes those from the model's own
weights, at the trace's own h_{t-1} and c_{t-1}, and checks them against the trace (the
activation of each pre-activation must give the trace's gate, and one step of the replay's
``_cell_step`` from the trace's previous state must give the trace's h_t and c_t), so the
numbers a learner reads add up to the numbers the other pages show.

Backward. ``||dL/dh_t||`` and the step-Jacobian norms come from ``trace`` (``grad_h``,
``jacobian_norm``). ``backward_terms`` adds the per-unit gradient vectors dL/dh_t, from the same
replay and the same per-example loss as ``trace`` (their norms are checked against
``trace.grad_h``), and splits each into the part that arrives at step t directly (from the
readout at t, or from the layer above at t) and the part carried back from step t+1 through
the recurrence::

    dL/dh_t = direct_t + (dh_{t+1}/dh_t)^T dL/dh_{t+1}         (vanilla RNN, GRU)

so ``||carried_t|| <= ||J_{t+1}|| * ||dL/dh_{t+1}||``, with ``J_{t+1}`` the step Jacobian whose
spectral norm is ``jacobian_norm[t+1]``. For the LSTM the step maps (h, c) to (h, c) and its
Jacobian is the 2H x 2H matrix of ``trace``; the gradient also travels along c_t.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import torch

from rnnviz.core.models import GATE_NAMES, RecurrentModel
from rnnviz.core.tasks import TASKS
from rnnviz.core.trace import Trace, _cell_step, _layer_weights, replay

# sigmoid gates, the tanh candidates, and the vanilla RNN's single block "h"
BLOCKS = {"rnn": ("h",), "lstm": GATE_NAMES["lstm"], "gru": GATE_NAMES["gru"]}
TOLERANCE = 1e-4  # float32 recomputation vs the trace


class TraceMismatch(RuntimeError):
    """The recomputed terms do not add up to the trace's numbers (a bug, never user input)."""


@dataclass
class StepTerms:
    """Every term of one layer's equations for ONE example, at every step. ``[T, H]`` arrays
    unless noted; dicts are keyed by block (LSTM ``i f g o``, GRU ``r z n``, RNN ``h``).

    x                 [T, in]  the layer's input x_t (the layer below's h_t for layer > 0)
    h_prev, h         h_{t-1} (zeros at t = 0) and h_t, from the trace
    c_prev, c         c_{t-1} and c_t (LSTM; None otherwise), from the trace
    input_part        W_i· x_t + b_i·
    recurrent_part    W_h· h_{t-1} + b_h·
    pre               the argument of the block's sigmoid / tanh (GRU n: in_n + r ⊙ rec_n)
    gates             the trace's gate values (LSTM/GRU; empty for the RNN)
    """

    cell: str
    nonlinearity: str
    layer: int
    example: int
    x: np.ndarray
    h_prev: np.ndarray
    h: np.ndarray
    c_prev: np.ndarray | None
    c: np.ndarray | None
    input_part: dict[str, np.ndarray]
    recurrent_part: dict[str, np.ndarray]
    pre: dict[str, np.ndarray]
    gates: dict[str, np.ndarray]

    @property
    def steps(self) -> int:
        return self.h.shape[0]

    @property
    def hidden_size(self) -> int:
        return self.h.shape[1]

    def unit_values(self, t: int, unit: int) -> dict[str, float]:
        """Every scalar of the equations for hidden unit ``unit`` at step ``t``, by name
        (``in_i``, ``rec_i``, ``pre_i``, ``i``, ..., ``c_prev``, ``c``, ``tanh_c``,
        ``h_prev``, ``h``)."""
        values = {"h_prev": self.h_prev[t, unit], "h": self.h[t, unit]}
        for block in BLOCKS[self.cell]:
            values[f"in_{block}"] = self.input_part[block][t, unit]
            values[f"rec_{block}"] = self.recurrent_part[block][t, unit]
            values[f"pre_{block}"] = self.pre[block][t, unit]
            if block in self.gates:
                values[block] = self.gates[block][t, unit]
        if self.c is not None:
            values.update(c_prev=self.c_prev[t, unit], c=self.c[t, unit],
                          tanh_c=np.tanh(self.c[t, unit]))
        return {name: float(value) for name, value in values.items()}

    def contributions(self, t: int, unit: int, block: str,
                      model: RecurrentModel) -> dict[str, np.ndarray]:
        """Where the pre-activation of ``block`` at ``unit`` comes from: ``input`` =
        ``W_i·[j, k] x_t[k]`` per input k, ``recurrent`` = ``W_h·[j, k] h_{t-1}[k]`` per unit k,
        and the two biases; they add up to ``pre[block][t, unit]``. (GRU n: the recurrent
        terms and ``b_hn`` come already multiplied by the reset gate r_t, as in the equation.)"""
        return self.contributions_at_every_step(unit, block, model, steps=[t])[0]

    def contributions_at_every_step(self, unit: int, block: str, model: RecurrentModel,
                                    steps=None) -> list[dict[str, np.ndarray]]:
        """``contributions`` at each of ``steps`` (default: every step), the weights read once:
        the animated figure carries every step's breakdown, so that Play moves it too."""
        w_ih, w_hh, b_ih, b_hh = (p.detach().cpu().double().numpy()
                                  for p in _layer_weights(model, self.layer))
        row = BLOCKS[self.cell].index(block) * self.hidden_size + unit
        out = []
        for t in range(self.steps) if steps is None else steps:
            reset = self.gates["r"][t, unit] if block == "n" else 1.0
            out.append({"input": w_ih[row] * self.x[t],
                        "recurrent": reset * w_hh[row] * self.h_prev[t],
                        "bias_input": np.array(b_ih[row]),
                        "bias_recurrent": np.array(reset * b_hh[row])})
        return out


def _activation(cell: str, nonlinearity: str, block: str):
    if block in ("g", "n") or (block == "h" and nonlinearity == "tanh"):
        return np.tanh
    if block == "h":
        return lambda v: np.maximum(v, 0.0)
    return lambda v: 1.0 / (1.0 + np.exp(-v))


def _check(name: str, ours: np.ndarray, theirs: np.ndarray) -> None:
    if not np.allclose(ours, theirs, rtol=TOLERANCE, atol=TOLERANCE, equal_nan=True):
        worst = float(np.nanmax(np.abs(ours - theirs)))
        raise TraceMismatch(f"{name}: recomputed values differ from the trace by {worst:.3g}")


@torch.no_grad()
def forward_terms(model: RecurrentModel, x: torch.Tensor, tr: Trace, layer: int,
                  example: int) -> StepTerms:
    """The terms of every equation of layer ``layer`` for example ``example`` of the batch
    ``x`` (``[batch, time, in]``, or token ids ``[batch, time]``, whose word vectors are then
    the layer-0 input ``StepTerms.x``) that produced ``tr``; checked against ``tr``
    (TraceMismatch if they disagree)."""
    cell, hidden_size = model.cell, model.rnn.hidden_size
    w_ih, w_hh, b_ih, b_hh = (p.detach().cpu() for p in _layer_weights(model, layer))
    if layer == 0:  # what the cell reads: x itself, or the word vectors of token ids
        device = next(model.parameters()).device
        layer_input = model.embed(x[example:example + 1].to(device))[0].detach().cpu().float()
    else:
        layer_input = torch.from_numpy(tr.hidden[layer - 1][example])
    h = torch.from_numpy(tr.hidden[layer][example])
    h_prev = torch.cat([h.new_zeros(1, hidden_size), h[:-1]])
    c = c_prev = None
    if cell == "lstm":
        c = torch.from_numpy(tr.cell[layer][example])
        c_prev = torch.cat([c.new_zeros(1, hidden_size), c[:-1]])
    input_part = layer_input @ w_ih.T + b_ih
    recurrent_part = h_prev @ w_hh.T + b_hh
    blocks = BLOCKS[cell]
    inputs = dict(zip(blocks, input_part.chunk(len(blocks), dim=-1)))
    recurrents = dict(zip(blocks, recurrent_part.chunk(len(blocks), dim=-1)))
    gates = {name: values[example] for name, values in tr.gates[layer].items()}
    pre = {}
    for block in blocks:
        if block == "n":  # torch's GRU: the reset gate multiplies W_hn h + b_hn
            pre[block] = inputs[block] + torch.from_numpy(gates["r"]) * recurrents[block]
        else:
            pre[block] = inputs[block] + recurrents[block]
    # one replay step from the trace's own previous state must give the trace's next state
    h_step, c_step, _ = _cell_step(cell, model.nonlinearity, input_part, h_prev, c_prev,
                                   w_hh, b_hh)
    numpy = {name: {k: v.numpy().astype(np.float64) for k, v in d.items()}
             for name, d in (("in", inputs), ("rec", recurrents), ("pre", pre))}
    for block in blocks:
        activated = _activation(cell, model.nonlinearity, block)(numpy["pre"][block])
        _check(f"layer {layer} {block}", activated, gates[block] if block in gates else
               tr.hidden[layer][example])
    _check(f"layer {layer} h_t", h_step.numpy(), tr.hidden[layer][example])
    if cell == "lstm":
        _check(f"layer {layer} c_t", c_step.numpy(), tr.cell[layer][example])
    def as64(a):
        return None if a is None else a.numpy().astype(np.float64)

    return StepTerms(
        cell=cell, nonlinearity=model.nonlinearity, layer=layer, example=example,
        x=as64(layer_input), h_prev=as64(h_prev), h=as64(h), c_prev=as64(c_prev), c=as64(c),
        input_part=numpy["in"], recurrent_part=numpy["rec"], pre=numpy["pre"],
        gates={k: v.astype(np.float64) for k, v in gates.items()})


@dataclass
class BackwardTerms:
    """The gradient walking back through one layer for ONE example. ``[T, H]`` / ``[T]``.

    grad_h         dL/dh_t per unit (L: this example's training loss, as in ``trace``)
    grad_norm      ||dL/dh_t||                          = trace.grad_h[layer][example]
    direct         the part of dL/dh_t that arrives at step t without passing through step
                   t+1: from the readout at t (top layer) or from the layer above at t
    carried        dL/dh_t - direct: what step t+1 sends back through the recurrence
    jacobian_norm  spectral norm of the step Jacobian of step t   = trace.jacobian_norm[...]
                   (the factor that carries the gradient from step t back to step t-1)
    grad_c         dL/dc_t per unit (LSTM; None otherwise)
    loss           this example's loss
    """

    cell: str
    layer: int
    example: int
    top_layer: bool
    grad_h: np.ndarray
    grad_norm: np.ndarray
    direct: np.ndarray
    carried: np.ndarray
    jacobian_norm: np.ndarray
    grad_c: np.ndarray | None
    loss: float

    @property
    def steps(self) -> int:
        return len(self.grad_norm)

    def carry_bound(self, t: int) -> float | None:
        """``||J_{t+1}|| * ||dL/dh_{t+1}||``: the most step t+1 can send back to step t (RNN,
        GRU; None for the LSTM, whose step also carries c, and for the last step)."""
        if t + 1 >= self.steps or self.cell == "lstm":
            return None
        return float(self.jacobian_norm[t + 1] * self.grad_norm[t + 1])

    def growth_from_end(self, t: int) -> float:
        """||dL/dh_t|| / ||dL/dh_{T-1}||: how much the gradient grew (> 1) or shrank on its way
        back from the last step."""
        last = self.grad_norm[-1]
        return float(self.grad_norm[t] / last) if last > 0 else float("nan")

    def jacobian_product(self, t: int) -> float:
        """prod_{k=t+1}^{T-1} ||J_k||: the most the recurrence alone could have stretched a
        gradient from the last step back to step t."""
        return float(np.prod(self.jacobian_norm[t + 1:]))


def backward_terms(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor, tr: Trace,
                   layer: int, example: int) -> BackwardTerms:
    """Per-unit gradients of example ``example`` at layer ``layer``, from a replay of the
    batch ``x, y`` that produced ``tr`` (which must have gradients and Jacobians); their norms
    are checked against ``tr.grad_h`` (TraceMismatch if they disagree)."""
    if not tr.grad_h or not tr.jacobian_norm:
        raise ValueError("the trace has no gradients or Jacobians: trace(model, x, y) with "
                         "jacobians=True")
    device = next(model.parameters()).device
    top = layer == model.rnn.num_layers - 1
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            rep = replay(model, x.to(device), keep_grad=True)
            for c in rep.cell[layer]:
                c.retain_grad()
            above = None
            if not top:  # the next layer's input sequence is this layer's stacked h_t
                above = rep.inputs[layer + 1]
                above.retain_grad()
            task = TASKS[model.task]
            per_example = task.loss_per_example(rep.prediction, y.to(device))
            per_example.sum().backward()
            grad_h = torch.stack([_grad(h) for h in rep.hidden[layer]], dim=1)[example]
            grad_c = (torch.stack([_grad(c) for c in rep.cell[layer]], dim=1)[example]
                      if rep.cell[layer] else None)
            if top:  # the readout's own gradient, with h_t as leaves: nothing flows back
                leaves = torch.stack(rep.hidden[layer], dim=1).detach().requires_grad_(True)
                readout_loss = task.loss_per_example(model.readout(leaves), y.to(device))
                direct = torch.autograd.grad(readout_loss.sum(), leaves)[0][example]
            else:
                direct = above.grad[example] if above.grad is not None else \
                    torch.zeros_like(grad_h)
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    grad_h = grad_h.detach().cpu().double().numpy()
    direct = direct.detach().cpu().double().numpy()
    grad_norm = tr.grad_h[layer][example].astype(np.float64)
    _check(f"layer {layer} ||dL/dh_t||", np.linalg.norm(grad_h, axis=-1), grad_norm)
    return BackwardTerms(
        cell=model.cell, layer=layer, example=example, top_layer=top, grad_h=grad_h,
        grad_norm=grad_norm, direct=direct, carried=grad_h - direct,
        jacobian_norm=tr.jacobian_norm[layer][example].astype(np.float64),
        grad_c=None if grad_c is None else grad_c.detach().cpu().double().numpy(),
        loss=float(tr.loss[example]))


def _grad(tensor: torch.Tensor) -> torch.Tensor:
    if tensor.grad is None:  # a step the loss does not depend on
        return torch.zeros_like(tensor)
    return tensor.grad


# ---------------------------------------------------------------- the equations, with numbers
#
# The equations are drawn inside the animated figure, one set per frame, so that Play moves
# them with the picture: plotly text (<sub>, <b>, coloured <span>), not LaTeX, which plotly
# cannot typeset without MathJax. Each equation is a list of parts, the symbolic form first and
# then each "= ..." step, so that a narrow screen can break it between parts.

POSITIVE, NEGATIVE = "#B2182B", "#2166AC"  # the ends of the diverging scale (RdBu_r)
MINUS = "\u2212"


def html_number(value: float, signed: bool = True, digits: int = 3,
                significant: bool = False, paren: bool = False) -> str:
    """A number for plotly text: ``digits`` decimals (or significant digits) for ordinary
    sizes, a power of ten otherwise, a true minus sign; signed values red when positive, blue
    when negative (the app's diverging scale); ``paren`` wraps a negative number in
    parentheses (after a × or +)."""
    if not np.isfinite(value):
        return str(value)
    magnitude = abs(value)
    if value == 0:
        text = "0"
    elif significant and 10 ** -2 <= magnitude < 10 ** 3:
        text = f"{value:.{digits}g}"
    elif not significant and 10 ** -digits <= magnitude < 10 ** 4:
        text = f"{value:.{digits}f}"
    else:
        mantissa, exponent = f"{value:.{digits - 1}e}".split("e")
        text = f"{mantissa}×10<sup>{int(exponent)}</sup>"
    text = text.replace("-", MINUS)
    if value < 0 and paren:
        text = f"({text})"
    if signed and value != 0:
        text = f'<span style="color:{POSITIVE if value > 0 else NEGATIVE}">{text}</span>'
    return text


def _s(name: str, sub: str) -> str:
    return f"{name}<sub>{sub}</sub>"


def _gate_parts(block: str, v: dict[str, float], function: str) -> list[str]:
    n = html_number
    return [f"{_s(block, 't')} = {function}({_s('W', 'i' + block)}{_s('x', 't')} + "
            f"{_s('b', 'i' + block)} + {_s('W', 'h' + block)}{_s('h', 't−1')} + "
            f"{_s('b', 'h' + block)})",
            f"= {function}({n(v['in_' + block])} + {n(v['rec_' + block], paren=True)})",
            f"= {function}({n(v['pre_' + block])})",
            f"= <b>{n(v[block], block in ('g', 'n'))}</b>"]


def forward_equations(terms: StepTerms, t: int, unit: int) -> list[list[str]]:
    """The cell's equations (PyTorch's) at step ``t`` with the numbers of hidden unit ``unit``
    plugged in: one list of parts per equation (the symbolic form, then each "= ..." step),
    as plotly text; the last part of each is the trace's own value, in bold."""
    v = terms.unit_values(t, unit)
    n = html_number
    if terms.cell == "rnn":
        function = "tanh" if terms.nonlinearity == "tanh" else "relu"
        return [[f"{_s('h', 't')} = {function}({_s('W', 'ih')}{_s('x', 't')} + "
                 f"{_s('b', 'ih')} + {_s('W', 'hh')}{_s('h', 't−1')} + {_s('b', 'hh')})",
                 f"= {function}({n(v['in_h'])} + {n(v['rec_h'], paren=True)})",
                 f"= {function}({n(v['pre_h'])})", f"= <b>{n(v['h'])}</b>"]]
    if terms.cell == "lstm":
        lines = [_gate_parts(b, v, "σ" if b != "g" else "tanh") for b in "ifgo"]
        lines.append([f"{_s('c', 't')} = {_s('f', 't')} ⊙ {_s('c', 't−1')} + "
                      f"{_s('i', 't')} ⊙ {_s('g', 't')}",
                      f"= {n(v['f'], False)} × {n(v['c_prev'], paren=True)} + "
                      f"{n(v['i'], False)} × {n(v['g'], paren=True)}",
                      f"= <b>{n(v['c'])}</b>"])
        lines.append([f"{_s('h', 't')} = {_s('o', 't')} ⊙ tanh({_s('c', 't')})",
                      f"= {n(v['o'], False)} × tanh({n(v['c'])})",
                      f"= {n(v['o'], False)} × {n(v['tanh_c'], paren=True)}",
                      f"= <b>{n(v['h'])}</b>"])
        return lines
    lines = [_gate_parts(b, v, "σ") for b in "rz"]
    lines.append([f"{_s('n', 't')} = tanh({_s('W', 'in')}{_s('x', 't')} + {_s('b', 'in')} + "
                  f"{_s('r', 't')} ⊙ ({_s('W', 'hn')}{_s('h', 't−1')} + {_s('b', 'hn')}))",
                  f"= tanh({n(v['in_n'])} + {n(v['r'], False)} × "
                  f"{n(v['rec_n'], paren=True)})",
                  f"= tanh({n(v['pre_n'])})", f"= <b>{n(v['n'])}</b>"])
    lines.append([f"{_s('h', 't')} = (1 − {_s('z', 't')}) ⊙ {_s('n', 't')} + "
                  f"{_s('z', 't')} ⊙ {_s('h', 't−1')}",
                  f"= (1 − {n(v['z'], False)}) × {n(v['n'], paren=True)} + "
                  f"{n(v['z'], False)} × {n(v['h_prev'], paren=True)}",
                  f"= <b>{n(v['h'])}</b>"])
    return lines


def backward_equations(terms: BackwardTerms, t: int) -> list[list[str]]:
    """The step back at ``t`` with the measured norms, as lists of parts like
    ``forward_equations``: the gradient at h_t is what arrives directly plus what step t+1
    carries back; the carried part is at most the step Jacobian's norm times the gradient at
    t+1 (vanilla RNN / GRU); and the whole way back from the last step against the product of
    the Jacobian norms."""
    def g(value: float) -> str:
        return html_number(value, signed=False, significant=True)

    grad = f"‖∂L/∂{_s('h', t)}‖"
    direct = float(np.linalg.norm(terms.direct[t]))
    carried = float(np.linalg.norm(terms.carried[t]))
    source = "the readout" if terms.top_layer else "the layer above"
    lines = [[f"{grad} = ‖direct + carried‖", f"= <b>{g(terms.grad_norm[t])}</b>"],
             [f"‖direct‖ = {g(direct)}", f"(from {source} at t = {t})"],
             [f"‖carried‖ = {g(carried)}", f"(from step {t + 1} through the recurrence)"
              if t + 1 < terms.steps else "(nothing comes back after the last step)"]]
    bound = terms.carry_bound(t)
    if bound is not None:
        lines.append([f"‖carried‖ ≤ ‖{_s('J', t + 1)}‖ · ‖∂L/∂{_s('h', t + 1)}‖",
                      f"= {g(terms.jacobian_norm[t + 1])} × {g(terms.grad_norm[t + 1])}",
                      f"= {g(bound)}"])
    elif t + 1 < terms.steps:
        lines.append([f"‖{_s('J', t + 1)}‖ = ‖∂({_s('h', t + 1)}, {_s('c', t + 1)}) / "
                      f"∂({_s('h', t)}, {_s('c', t)})‖", f"= {g(terms.jacobian_norm[t + 1])}"])
    last = terms.steps - 1
    if t < last:
        lines.append([f"{grad} / ‖∂L/∂{_s('h', last)}‖", f"= {g(terms.growth_from_end(t))}"])
        lines.append([f"∏<sub>k={t + 1}…{last}</sub> ‖{_s('J', 'k')}‖",
                      f"= {g(terms.jacobian_product(t))}"])
    return lines
