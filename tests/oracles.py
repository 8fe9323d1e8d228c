"""Independent oracles for the claim tests: the quantities the pages state, recomputed here
from PyTorch's fused modules and plain autograd, not through rnnviz's trace."""

from __future__ import annotations

import numpy as np
import torch


def forget_gates_by_hand(model, x: torch.Tensor) -> np.ndarray:
    """f_t = σ(W_if x_t + b_if + W_hf h_{t−1} + b_hf) with h from PyTorch's fused LSTM (one
    layer), ``[B, T, H]``: PyTorch's gate order in weight_ih_l0 is i, f, g, o."""
    lstm = model.rnn
    hidden = lstm.hidden_size
    with torch.no_grad():
        h, _ = lstm(x)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        rows = slice(hidden, 2 * hidden)
        pre = (x @ lstm.weight_ih_l0[rows].T + lstm.bias_ih_l0[rows]
               + h_prev @ lstm.weight_hh_l0[rows].T + lstm.bias_hh_l0[rows])
    return torch.sigmoid(pre).numpy()


def gru_gates_by_hand(gru: torch.nn.GRU, x: torch.Tensor) -> np.ndarray:
    """z_t = σ(W_iz x_t + b_iz + W_hz h_{t−1} + b_hz), h from the fused GRU; gate order r, z, n."""
    hidden = gru.hidden_size
    with torch.no_grad():
        h, _ = gru(x)
        h_prev = torch.cat([torch.zeros_like(h[:, :1]), h[:, :-1]], dim=1)
        rows = slice(hidden, 2 * hidden)
        pre = (x @ gru.weight_ih_l0[rows].T + gru.bias_ih_l0[rows]
               + h_prev @ gru.weight_hh_l0[rows].T + gru.bias_hh_l0[rows])
    return torch.sigmoid(pre).numpy()


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
