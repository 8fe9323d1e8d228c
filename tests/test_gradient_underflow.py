"""The Gradients page's share of the last step's gradient that reaches the first step, where
float32 cannot hold it (issue 19: an LSTM at T = 400 read "the first step receives 0×", while
the true share, in float64, is about 1e-26).

The truth is computed here by an LSTM and a vanilla RNN unrolled by hand in float64 from the
model's own weights (no rnnviz trace), against the page's caption (AppTest)."""

from __future__ import annotations

import copy
import functools
import re

import numpy as np
import torch

from rnnviz import RunConfig, train
from rnnviz.core.tasks import probe_batch
from tests.apptest import open_app
from tests.oracles import rnn_profile_by_hand

SMALLEST_FLOAT32 = float(np.finfo(np.float32).smallest_subnormal)  # about 1.4e-45
LONG_LSTM = RunConfig(seq_len=400, steps=20, eval_every=10, probe_every=10, device="cpu")
# a vanilla RNN whose W_hh shrinks every step back: after 200 steps the gradient is far below
# anything float32 holds, while float64 still does
SHRINKING_RNN = RunConfig(cell="rnn", seq_len=200, recurrent_scale=0.3, steps=20, eval_every=10,
                          probe_every=10, device="cpu")


def lstm_profile_by_hand(model, x: torch.Tensor, y: torch.Tensor) -> np.ndarray:
    """||dL/dh_t|| averaged over the batch for a one-layer LSTM on a many-to-one task, from a
    loop written here in float64 (gates i, f, g, o in PyTorch's order), with the task's MSE on
    the readout of the last step summed over the examples."""
    model = copy.deepcopy(model).double()
    rnn, x, y = model.rnn, x.double(), y.double()
    h = torch.zeros(x.shape[0], rnn.hidden_size, dtype=torch.float64)
    c = torch.zeros_like(h)
    states = []
    for t in range(x.shape[1]):
        pre = (x[:, t] @ rnn.weight_ih_l0.T + rnn.bias_ih_l0 + h @ rnn.weight_hh_l0.T
               + rnn.bias_hh_l0)
        i, f, g, o = pre.chunk(4, dim=1)
        c = torch.sigmoid(f) * c + torch.sigmoid(i) * torch.tanh(g)
        h = torch.sigmoid(o) * torch.tanh(c)
        h.retain_grad()
        states.append(h)
    ((model.head(h) - y) ** 2).mean(dim=1).sum().backward()
    return np.stack([s.grad.norm(dim=1).numpy() for s in states], axis=1).mean(axis=0)


@functools.cache
def _caption(cfg: RunConfig) -> tuple[str, object]:
    run = train(cfg)
    at = open_app(timeout=180)
    at.session_state["run"] = run
    at.switch_page("pages/gradients.py").run()
    assert not at.exception
    found = [c.value for c in at.caption if "the gradient of the last" in c.value]
    assert len(found) == 1
    return found[0], run


def test_a_tiny_share_that_float32_holds_is_stated_not_rounded_to_zero():
    caption, run = _caption(LONG_LSTM)
    x, y = probe_batch(run.config)  # the page opens on the probe batch
    profile = lstm_profile_by_hand(run.model, x, y)
    truth = profile[0] / profile[-1]
    assert 0 < truth < 1e-12  # independently: tiny, and not zero
    assert "**0×**" not in caption
    stated = float(re.search(r"The first step receives \*\*([-+.e\d]+)×\*\*", caption)[1])
    assert stated == float(f"{truth:.2g}") or abs(stated / truth - 1) < 0.05


def test_a_share_below_float32_is_said_to_be_below_float32_not_zero():
    caption, run = _caption(SHRINKING_RNN)
    x, y = probe_batch(run.config)
    model64 = copy.deepcopy(run.model).double()
    profile = rnn_profile_by_hand(model64, x.double(), y.double())
    # independently: the first step's gradient is not 0, and below float32's smallest number
    assert 0 < profile[0] < SMALLEST_FLOAT32
    assert "**0×**" not in caption
    assert ("The first step receives **a share too small for float32** of the gradient of the "
            "last") in caption
    assert "not a true 0" in caption
