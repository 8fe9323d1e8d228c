r"""Instrumented replay: everything that happens inside the recurrent module, step by step.

The fused ``torch.nn.RNN/LSTM/GRU`` kernels return only the top layer's outputs and the final
state. ``trace`` re-runs the recurrence one time step at a time *with the module's own weights*
and PyTorch's equations, so every intermediate value is a real tensor of the real model:

Vanilla RNN::

    h_t = tanh(W_ih x_t + b_ih + W_hh h_{t-1} + b_hh)          (or relu)

LSTM (gate blocks of W_ih / W_hh in the order i, f, g, o)::

    i_t = sigmoid(W_ii x_t + b_ii + W_hi h_{t-1} + b_hi)
    f_t = sigmoid(W_if x_t + b_if + W_hf h_{t-1} + b_hf)
    g_t = tanh(W_ig x_t + b_ig + W_hg h_{t-1} + b_hg)
    o_t = sigmoid(W_io x_t + b_io + W_ho h_{t-1} + b_ho)
    c_t = f_t * c_{t-1} + i_t * g_t
    h_t = o_t * tanh(c_t)

GRU (blocks r, z, n; the reset gate multiplies ``W_hn h + b_hn``, as torch does)::

    r_t = sigmoid(W_ir x_t + b_ir + W_hr h_{t-1} + b_hr)
    z_t = sigmoid(W_iz x_t + b_iz + W_hz h_{t-1} + b_hz)
    n_t = tanh(W_in x_t + b_in + r_t * (W_hn h_{t-1} + b_hn))
    h_t = (1 - z_t) * n_t + z_t * h_{t-1}

A task with a vocabulary (sentiment) feeds token ids ``[batch, time]``: the replay first looks
them up in the model's own embedding (``model.embed``) and runs the cell on those word vectors
``x_t = E[token_t]``, exactly as the fused module's forward does, so ``x_t`` in the equations
above is the embedded word and ``grad_x`` is taken with respect to it.

Given targets ``y`` it also back-propagates the task loss through the replayed graph, so
``grad_h[l][b, t] = ||dL_b / dh_t||`` is the *total* BPTT gradient reaching step t of layer l
(through the readout, the layer above and every later step), where ``L_b`` is example b's own
training loss. Summing the per-example losses before the backward pass keeps each example's
gradient its own: examples never interact in the forward pass.
"""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np
import torch
from torch.func import jacrev, vmap

from rnnviz.core.models import GATE_NAMES, RecurrentModel
from rnnviz.core.tasks import TASKS

# Upper bound on floats held at once when computing step Jacobians (rows * state * state).
_JACOBIAN_CHUNK_FLOATS = 4_000_000


@dataclass
class Trace:
    """Internals of a model on one batch. Lists are indexed by layer; arrays are numpy.

    hidden[l]         [batch, time, hidden]   h_t
    cell[l]           [batch, time, hidden]   c_t (LSTM only; an empty list otherwise)
    gates[l][name]    [batch, time, hidden]   LSTM i f g o / GRU r z n (empty dicts for RNN)
    prediction        [batch, time, out] or [batch, out]
    grad_h[l]         [batch, time]           ||dL_b/dh_t|| (needs y)
    grad_x            [batch, time]           ||dL_b/dx_t||, input saliency (needs y); for
                                              token ids, x_t is the embedded word vector
    jacobian_norm[l]  [batch, time]           spectral norm of the step Jacobian
    loss              [batch]                 each example's training loss (needs y)
    """

    cell_type: str
    hidden: list[np.ndarray]
    cell: list[np.ndarray]
    gates: list[dict[str, np.ndarray]]
    prediction: np.ndarray
    jacobian_norm: list[np.ndarray] = field(default_factory=list)
    grad_h: list[np.ndarray] = field(default_factory=list)
    grad_x: np.ndarray | None = None
    loss: np.ndarray | None = None

    @property
    def num_layers(self) -> int:
        return len(self.hidden)


def _layer_weights(model: RecurrentModel, layer: int):
    rnn = model.rnn
    return (getattr(rnn, f"weight_ih_l{layer}"), getattr(rnn, f"weight_hh_l{layer}"),
            getattr(rnn, f"bias_ih_l{layer}"), getattr(rnn, f"bias_hh_l{layer}"))


def _cell_step(cell: str, nonlinearity: str, input_part: torch.Tensor, h: torch.Tensor,
               c: torch.Tensor | None, w_hh: torch.Tensor, b_hh: torch.Tensor):
    """One step of PyTorch's equations. ``input_part = W_ih x_t + b_ih`` (precomputed).

    Returns ``(h_t, c_t, gates)``; ``c_t`` is None except for the LSTM.
    """
    recurrent_part = h @ w_hh.T + b_hh
    if cell == "rnn":
        pre = input_part + recurrent_part
        return (torch.tanh(pre) if nonlinearity == "tanh" else torch.relu(pre)), None, {}
    if cell == "lstm":
        i, f, g, o = (input_part + recurrent_part).chunk(4, dim=-1)
        i, f, g, o = torch.sigmoid(i), torch.sigmoid(f), torch.tanh(g), torch.sigmoid(o)
        c_new = f * c + i * g
        return o * torch.tanh(c_new), c_new, {"i": i, "f": f, "g": g, "o": o}
    in_r, in_z, in_n = input_part.chunk(3, dim=-1)
    rec_r, rec_z, rec_n = recurrent_part.chunk(3, dim=-1)
    r = torch.sigmoid(in_r + rec_r)
    z = torch.sigmoid(in_z + rec_z)
    n = torch.tanh(in_n + r * rec_n)
    return (1 - z) * n + z * h, None, {"r": r, "z": z, "n": n}


@dataclass
class Replay:
    """Torch tensors of a replayed forward pass (with autograd graph when gradients are on).

    ``hidden[l][t]`` is h_t of layer l, ``[batch, hidden]``; ``cell`` likewise for the LSTM;
    ``gates[l][name][t]``; ``inputs[l]`` is the input sequence of layer l ``[batch, time, in]``
    (for layer 0 of an embedding model, the word vectors, not the token ids).
    """

    hidden: list[list[torch.Tensor]]
    cell: list[list[torch.Tensor]]
    gates: list[dict[str, list[torch.Tensor]]]
    inputs: list[torch.Tensor]
    prediction: torch.Tensor


def replay(model: RecurrentModel, x: torch.Tensor, keep_grad: bool = False) -> Replay:
    """Run the model step by step with its own weights (inter-layer dropout off, as in eval).

    ``x`` is ``[batch, time, input_size]``, or token ids ``[batch, time]`` for an embedding
    model (embedded here with ``model.embed``). ``keep_grad`` calls ``retain_grad`` on every
    h_t so a backward pass fills ``h_t.grad``.
    """
    return replay_vectors(model, model.embed(x), keep_grad)


def replay_vectors(model: RecurrentModel, x: torch.Tensor, keep_grad: bool = False) -> Replay:
    """``replay`` from the first layer's input vectors ``[batch, time, input_size]`` (already
    embedded), so a caller can hold them as a leaf and take gradients with respect to them."""
    cell, hidden_size = model.cell, model.rnn.hidden_size
    batch, steps = x.shape[0], x.shape[1]
    layer_input = x
    all_h, all_c, all_gates, inputs = [], [], [], []
    for layer in range(model.rnn.num_layers):
        w_ih, w_hh, b_ih, b_hh = _layer_weights(model, layer)
        input_parts = layer_input @ w_ih.T + b_ih  # [batch, time, gates * hidden]
        h = x.new_zeros(batch, hidden_size)
        c = x.new_zeros(batch, hidden_size) if cell == "lstm" else None
        hs, cs = [], []
        gates = {name: [] for name in GATE_NAMES[cell]}
        for t in range(steps):
            h, c, step_gates = _cell_step(cell, model.nonlinearity, input_parts[:, t], h, c,
                                          w_hh, b_hh)
            if keep_grad:
                h.retain_grad()
            hs.append(h)
            if c is not None:
                cs.append(c)
            for name, value in step_gates.items():
                gates[name].append(value)
        inputs.append(layer_input)
        all_h.append(hs)
        all_c.append(cs)
        all_gates.append(gates)
        layer_input = torch.stack(hs, dim=1)
    return Replay(all_h, all_c, all_gates, inputs, model.readout(layer_input))


def _to_numpy(steps: list[torch.Tensor]) -> np.ndarray:
    return torch.stack(steps, dim=1).detach().cpu().numpy()


def step_jacobian_norms(model: RecurrentModel, rep: Replay, layer: int) -> np.ndarray:
    """Spectral norm of the step Jacobian of layer ``layer``, ``[batch, time]``.

    For the vanilla RNN and the GRU the state is h and the Jacobian is dh_t/dh_{t-1}
    ``[hidden, hidden]``. For the LSTM the state that carries memory is the pair (h, c), so the
    Jacobian is d(h_t, c_t)/d(h_{t-1}, c_{t-1}) ``[2 hidden, 2 hidden]``. Computed by autograd
    (``torch.func.jacrev``) through the same step function as the replay, at the replayed states.
    """
    cell, hidden_size = model.cell, model.rnn.hidden_size
    w_ih, w_hh, b_ih, b_hh = _layer_weights(model, layer)
    with torch.no_grad():
        input_parts = rep.inputs[layer] @ w_ih.T + b_ih
        hs = torch.stack(rep.hidden[layer], dim=1)
        batch, steps = hs.shape[:2]
        prev_h = torch.cat([hs.new_zeros(batch, 1, hidden_size), hs[:, :-1]], dim=1)
        if cell == "lstm":
            cs = torch.stack(rep.cell[layer], dim=1)
            prev_c = torch.cat([cs.new_zeros(batch, 1, hidden_size), cs[:, :-1]], dim=1)
            prev_state = torch.cat([prev_h, prev_c], dim=-1)
        else:
            prev_state = prev_h
    w_hh, b_hh = w_hh.detach(), b_hh.detach()

    def step(state: torch.Tensor, input_part: torch.Tensor) -> torch.Tensor:
        h, c = (state[:hidden_size], state[hidden_size:]) if cell == "lstm" else (state, None)
        h_new, c_new, _ = _cell_step(cell, model.nonlinearity, input_part, h, c, w_hh, b_hh)
        return torch.cat([h_new, c_new]) if cell == "lstm" else h_new

    state_size = prev_state.shape[-1]
    flat_state = prev_state.reshape(-1, state_size).detach()
    flat_input = input_parts.reshape(batch * steps, -1).detach()
    chunk = max(1, _JACOBIAN_CHUNK_FLOATS // (state_size * state_size))
    jac_fn = vmap(jacrev(step))
    norms = []
    for start in range(0, flat_state.shape[0], chunk):
        jac = jac_fn(flat_state[start: start + chunk], flat_input[start: start + chunk])
        norms.append(torch.linalg.matrix_norm(jac, ord=2))
    return torch.cat(norms).reshape(batch, steps).cpu().numpy()


def trace_of_replay(cell: str, rep: Replay) -> Trace:
    """The states, gates and prediction of a replay as numpy arrays (no gradients yet)."""
    return Trace(
        cell_type=cell,
        hidden=[_to_numpy(hs) for hs in rep.hidden],
        cell=[_to_numpy(cs) for cs in rep.cell if cs],
        gates=[{name: _to_numpy(v) for name, v in g.items()} for g in rep.gates],
        prediction=rep.prediction.detach().cpu().numpy(),
    )


def trace(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor | None = None,
          jacobians: bool = True) -> Trace:
    """Record the internals of ``model`` on the batch ``x`` (and gradients when ``y`` is given).

    Args:
        model: a model from ``build_model`` (any device; it is put in eval mode for the replay
            and its previous mode is restored).
        x: ``[batch, time, input_size]``, or token ids ``[batch, time]`` for an embedding
            model (the sentiment task).
        y: the task's targets for ``x``; when given, ``grad_h``, ``grad_x`` and ``loss`` are
            filled (``grad_x`` with respect to the embedded word vectors for token ids: an id
            has no gradient).
        jacobians: compute ``jacobian_norm`` (the costliest part for big hidden sizes).
    """
    device = next(model.parameters()).device
    x = x.to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad() if y is not None else torch.no_grad():
            # the cell's input as a leaf: x itself, or the word vectors of token ids
            x_leaf = model.embed(x).detach().clone().requires_grad_(y is not None)
            rep = replay_vectors(model, x_leaf, keep_grad=y is not None)
            result = trace_of_replay(model.cell, rep)
            if y is not None:
                per_example = TASKS[model.task].loss_per_example(rep.prediction, y.to(device))
                per_example.sum().backward()
                result.loss = per_example.detach().cpu().numpy()
                result.grad_h = [
                    torch.stack([_grad_norm(h) for h in hs], dim=1).cpu().numpy()
                    for hs in rep.hidden]
                result.grad_x = _norm64(x_leaf.grad).cpu().numpy()
        if jacobians:
            result.jacobian_norm = [step_jacobian_norms(model, rep, layer)
                                    for layer in range(model.rnn.num_layers)]
    finally:
        model.train(was_training)
        model.zero_grad(set_to_none=True)
    return result


def _grad_norm(h: torch.Tensor) -> torch.Tensor:
    if h.grad is None:  # a step the loss does not depend on at all
        return h.new_zeros(h.shape[0], dtype=torch.float64)
    return _norm64(h.grad)


def _norm64(grad: torch.Tensor) -> torch.Tensor:
    """||grad|| over the last axis, in float64. In float32 the squares of components below
    about 1e-19 underflow to 0, so a gradient of 1e-26 that float32 holds had the norm 0: an
    LSTM's first step at T = 400 read "0×" the last step's gradient (issue 19)."""
    return grad.double().norm(dim=-1)


def gradient_profile(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """Mean over the batch of ||dL_b/dh_t|| for the top layer, ``[time]``: one probe snapshot.

    The cheap path used during training: no Jacobians, no numpy copies of the internals.
    """
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            rep = replay(model, x)
            loss = TASKS[model.task].loss_per_example(rep.prediction, y).sum()
            hs = rep.hidden[-1]
            grads = torch.autograd.grad(loss, hs, allow_unused=True)
        return torch.stack([_norm64(g) if g is not None else
                            h.new_zeros(h.shape[0], dtype=torch.float64)
                            for g, h in zip(grads, hs)], dim=1).mean(dim=0).cpu().numpy()
    finally:
        model.train(was_training)


def last_loss_gradient_profile(model: RecurrentModel, x: torch.Tensor, y: torch.Tensor,
                               layer: int = -1) -> np.ndarray:
    r"""||dl_{b,T-1}/dh_t|| of layer ``layer``: the gradient of the *last step's loss alone*,
    ``[batch, time]`` (``x [batch, time, in]``, ``y`` the task's targets for it).

    A many-to-many task's loss is a sum of per-step terms, ``L_b = sum_k l_{b,k}``, where
    ``l_{b,k}`` depends on the prediction at step k only (its share of the MSE, or of the
    cross-entropy averaged over the steps with a target). ``trace``'s ``grad_h`` is the total::

        dL_b/dh_t = sum_{k >= t} dl_{b,k}/dh_k  prod_{j=t+1}^{k} dh_j/dh_{j-1}

    and this keeps the single chain k = T-1::

        dl_{b,T-1}/dh_t = dl_{b,T-1}/dh_{T-1}  prod_{j=t+1}^{T-1} dh_j/dh_{j-1}   (top layer)

    which is the product a bound on the step Jacobian ||dh_j/dh_{j-1}|| applies to. On a
    many-to-one task ``L_b`` is ``l_{b,T-1}`` and this equals ``trace(...).grad_h[layer]``.

    Computed with autograd on the replay: dL/dy_hat, zeroed at every step but the last (the terms
    are separable, so what is left is dl_{T-1}/dy_hat_{T-1}), is back-propagated from the
    prediction into every h_t of the layer.
    """
    device = next(model.parameters()).device
    x, y = x.to(device), y.to(device)
    was_training = model.training
    model.eval()
    try:
        with torch.enable_grad():
            rep = replay(model, x.detach())
            prediction = rep.prediction
            loss = TASKS[model.task].loss_per_example(prediction, y).sum()
            (d_prediction,) = torch.autograd.grad(loss, prediction, retain_graph=True)
            if not model.many_to_one:  # [batch, time, out]: keep the last step's term only
                last_only = torch.zeros_like(d_prediction)
                last_only[:, -1] = d_prediction[:, -1]
                d_prediction = last_only
            hs = rep.hidden[layer]
            grads = torch.autograd.grad(prediction, hs, grad_outputs=d_prediction,
                                        allow_unused=True)
        return torch.stack([_norm64(g) if g is not None else
                            h.new_zeros(h.shape[0], dtype=torch.float64)
                            for g, h in zip(grads, hs)], dim=1).cpu().numpy()
    finally:
        model.train(was_training)


def parameter_gradient_norms(model: RecurrentModel, x: torch.Tensor,
                             y: torch.Tensor) -> dict[str, float]:
    """||dL/dW|| for every named parameter on one batch (L the mean training loss), in
    ``named_parameters`` order. The model's own ``.grad`` fields are left untouched."""
    was_training = model.training
    model.eval()
    try:
        device = next(model.parameters()).device
        names, params = zip(*model.named_parameters())
        with torch.enable_grad():
            loss = TASKS[model.task].loss(model(x.to(device)), y.to(device))
            grads = torch.autograd.grad(loss, params, allow_unused=True)
        return {name: float(g.norm()) if g is not None else 0.0 for name, g in zip(names, grads)}
    finally:
        model.train(was_training)
