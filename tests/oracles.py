"""Independent oracles for the claim tests: the quantities the pages state, recomputed here
from PyTorch's fused modules and plain autograd, not through rnnviz's trace."""

from __future__ import annotations

import numpy as np
import torch


def _gate_by_hand(module, x: torch.Tensor, block: int) -> np.ndarray:
    """σ(W_i· x_t + b_i· + W_h· h_{t−1} + b_h·) for gate block ``block`` of a one-layer fused
    LSTM or GRU, with h from the module itself, ``[B, T, H]``."""
    hidden = module.hidden_size
    with torch.no_grad():
        h, _ = module(x)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        rows = slice(block * hidden, (block + 1) * hidden)
        pre = (x @ module.weight_ih_l0[rows].T + module.bias_ih_l0[rows]
               + h_prev @ module.weight_hh_l0[rows].T + module.bias_hh_l0[rows])
    return torch.sigmoid(pre).numpy()


def forget_gates_by_hand(model, x: torch.Tensor) -> np.ndarray:
    """The LSTM's f_t (PyTorch's gate order in weight_ih_l0 is i, f, g, o)."""
    return _gate_by_hand(model.rnn, x, 1)


def gru_gates_by_hand(gru: torch.nn.GRU, x: torch.Tensor) -> np.ndarray:
    """The GRU's z_t (gate order r, z, n)."""
    return _gate_by_hand(gru, x, 1)


def rnn_profile_by_hand(model, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """‖∂L/∂h_t‖ averaged over the batch for a one-layer RNN on the adding task, from an
    unrolled loop written here (h_t = φ(W_ih x_t + b_ih + W_hh h_{t−1} + b_hh), φ the module's
    tanh or relu), with the task's MSE on the readout of the last step."""
    rnn = model.rnn
    phi = torch.relu if rnn.nonlinearity == "relu" else torch.tanh
    h = torch.zeros(x.shape[0], rnn.hidden_size, dtype=x.dtype)
    states = []
    for t in range(x.shape[1]):
        h = phi(x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0
                + h @ rnn.weight_hh_l0.T + rnn.bias_hh_l0)
        h.retain_grad()
        states.append(h)
    loss = ((model.head(h) - y) ** 2).mean()
    loss.backward()
    return np.stack([s.grad.norm(dim=1).numpy() for s in states], axis=1).mean(axis=0)
