"""The trace is checked against oracles that share no code with it: PyTorch's fused modules and
independent autograd computations."""

import numpy as np
import pytest
import torch

from rnnviz import TASKS, RunConfig, build_model, trace
from rnnviz.core.analysis import log_slope
from rnnviz.core.tasks import seeded_generator

CELLS = ["rnn", "lstm", "gru"]


def _model_and_batch(cell, layers=1, task="sine", seq_len=12, hidden=6, batch=5, **extra):
    cfg = RunConfig(cell=cell, task=task, seq_len=seq_len, hidden_size=hidden,
                    num_layers=layers, seed=3, lag=3, **extra)
    model = build_model(cfg)
    x, y = TASKS[task].sample(batch, seq_len, seeded_generator(7), lag=3)
    return model, x, y


def _single_layer_copy(model, layer):
    """A fresh 1-layer fused module holding layer ``layer``'s weights."""
    rnn = model.rnn
    kwargs = dict(input_size=getattr(rnn, f"weight_ih_l{layer}").shape[1],
                  hidden_size=rnn.hidden_size, batch_first=True)
    if model.cell == "rnn":
        kwargs["nonlinearity"] = model.nonlinearity
    single = type(rnn)(**kwargs)
    with torch.no_grad():
        for name in ("weight_ih", "weight_hh", "bias_ih", "bias_hh"):
            getattr(single, f"{name}_l0").copy_(getattr(rnn, f"{name}_l{layer}"))
    return single


@pytest.mark.parametrize("layers", [1, 2, 3])
@pytest.mark.parametrize("cell", CELLS)
def test_hidden_and_cell_states_equal_fused_module(cell, layers):
    model, x, y = _model_and_batch(cell, layers, task="copy", hidden=7)
    tr = trace(model, x, y, jacobians=False)
    with torch.no_grad():
        out, state = model.rnn(x)
    h_n = state[0] if cell == "lstm" else state
    assert np.abs(tr.hidden[-1] - out.numpy()).max() < 1e-5
    for layer in range(layers):
        assert np.abs(tr.hidden[layer][:, -1] - h_n[layer].numpy()).max() < 1e-5
        # every step of every layer: a 1-layer fused copy run on the layer's traced input
        layer_input = x if layer == 0 else torch.from_numpy(tr.hidden[layer - 1])
        with torch.no_grad():
            single_out, single_state = _single_layer_copy(model, layer)(layer_input)
        assert np.abs(tr.hidden[layer] - single_out.numpy()).max() < 1e-5
        if cell == "lstm":
            assert np.abs(tr.cell[layer][:, -1] - single_state[1][0].numpy()).max() < 1e-5
    assert np.abs(tr.prediction - model(x).detach().numpy()).max() < 1e-5


@pytest.mark.parametrize("cell", ["lstm", "gru"])
def test_gates_obey_pytorch_equations(cell):
    model, x, y = _model_and_batch(cell, task="adding")
    tr = trace(model, x, y, jacobians=False)
    h = tr.hidden[0]
    h_prev = np.concatenate([np.zeros_like(h[:, :1]), h[:, :-1]], axis=1)
    g = tr.gates[0]
    if cell == "lstm":
        assert set(g) == {"i", "f", "g", "o"}
        c = tr.cell[0]
        c_prev = np.concatenate([np.zeros_like(c[:, :1]), c[:, :-1]], axis=1)
        np.testing.assert_allclose(c, g["f"] * c_prev + g["i"] * g["g"], atol=1e-6)
        np.testing.assert_allclose(h, g["o"] * np.tanh(c), atol=1e-6)
    else:
        assert set(g) == {"r", "z", "n"}
        np.testing.assert_allclose(h, (1 - g["z"]) * g["n"] + g["z"] * h_prev, atol=1e-6)
    for name, value in g.items():
        low = -1 if name in ("g", "n") else 0
        assert value.min() >= low and value.max() <= 1


def _chunked_oracle(model, x, y, t):
    """||dL_b/dh_t|| from the fused module alone: run it up to t, make h_t a leaf, run the rest
    of the sequence from that leaf and back-propagate the same per-example loss."""
    task = TASKS[model.task]
    with torch.no_grad():
        out_a, state_a = model.rnn(x[:, : t + 1])
    if model.cell == "lstm":
        h_leaf = state_a[0].clone().requires_grad_(True)
        init = (h_leaf, state_a[1])
    else:
        h_leaf = state_a.clone().requires_grad_(True)
        init = h_leaf
    pieces = [out_a[:, :t], h_leaf[0].unsqueeze(1)]
    if t + 1 < x.shape[1]:
        out_b, _ = model.rnn(x[:, t + 1:], init)
        pieces.append(out_b)
    prediction = model.readout(torch.cat(pieces, dim=1))
    task.loss_per_example(prediction, y).sum().backward()
    return h_leaf.grad[0].norm(dim=-1).numpy()


@pytest.mark.parametrize("task", ["sine", "adding", "copy"])
@pytest.mark.parametrize("cell", CELLS)
def test_gradient_profile_equals_independent_autograd(cell, task):
    model, x, y = _model_and_batch(cell, task=task, seq_len=9)
    tr = trace(model, x, y, jacobians=False)
    for t in range(x.shape[1]):
        expected = _chunked_oracle(model, x, y, t)
        np.testing.assert_allclose(tr.grad_h[0][:, t], expected, rtol=1e-4, atol=1e-7)
    # many-to-one: the last step gets only the readout gradient, earlier ones only recurrence
    assert (tr.grad_h[0] > 0).all()


@pytest.mark.parametrize("cell", CELLS)
def test_input_saliency_equals_autograd_through_fused_model(cell):
    model, x, y = _model_and_batch(cell, layers=2, task="adding")
    tr = trace(model, x, y, jacobians=False)
    x_leaf = x.clone().requires_grad_(True)
    TASKS["adding"].loss_per_example(model(x_leaf), y).sum().backward()
    np.testing.assert_allclose(tr.grad_x, x_leaf.grad.norm(dim=-1).numpy(), rtol=1e-4,
                               atol=1e-8)
    np.testing.assert_allclose(tr.loss, TASKS["adding"].loss_per_example(model(x), y)
                               .detach().numpy(), rtol=1e-5)


@pytest.mark.parametrize("cell", CELLS)
def test_jacobian_norm_equals_fused_one_step_jacobian(cell):
    model, x, y = _model_and_batch(cell, layers=2, hidden=5, seq_len=6, batch=2)
    tr = trace(model, x, y)
    rnn = _single_layer_copy(model, 1)
    layer_input = torch.from_numpy(tr.hidden[0])
    hidden = model.rnn.hidden_size
    for b in range(2):
        for t in range(6):
            x_t = layer_input[b: b + 1, t: t + 1]
            h_prev = (torch.from_numpy(tr.hidden[1][b, t - 1]) if t else torch.zeros(hidden))
            if cell == "lstm":
                c_prev = torch.from_numpy(tr.cell[1][b, t - 1]) if t else torch.zeros(hidden)

                def step(state, x_t=x_t):
                    _, (h, c) = rnn(x_t, (state[:hidden].view(1, 1, -1),
                                          state[hidden:].view(1, 1, -1)))
                    return torch.cat([h.flatten(), c.flatten()])
                jac = torch.autograd.functional.jacobian(step, torch.cat([h_prev, c_prev]))
            else:
                jac = torch.autograd.functional.jacobian(
                    lambda h, x_t=x_t: rnn(x_t, h.view(1, 1, -1))[1].flatten(), h_prev)
            expected = torch.linalg.matrix_norm(jac, ord=2)
            assert abs(tr.jacobian_norm[1][b, t] - float(expected)) < 1e-4 * (1 + float(expected))


@pytest.mark.parametrize("rho", [0.8, 1.15])
def test_linear_regime_gradient_follows_spectral_radius(rho):
    """With orthogonal W_hh scaled to spectral radius rho, zero biases and tiny inputs the tanh
    RNN is linear, so dL/dh_t = (W_hh^T)^(T-1-t) dL/dh_{T-1}: its norm shrinks or grows by
    exactly rho per step back (orthogonal * rho is normal)."""
    cfg = RunConfig(cell="rnn", task="adding", seq_len=30, hidden_size=16, init="orthogonal",
                    recurrent_scale=rho, seed=1)
    model = build_model(cfg)
    with torch.no_grad():
        model.rnn.bias_ih_l0.zero_()
        model.rnn.bias_hh_l0.zero_()
    x, y = TASKS["adding"].sample(4, 30, seeded_generator(0))
    tr = trace(model, x * 1e-4, y, jacobians=False)
    profile = tr.grad_h[0].mean(axis=0)
    assert abs(np.exp(log_slope(profile)) - 1 / rho) < 2e-3
    assert profile[0] / profile[-1] == pytest.approx(rho ** 29, rel=2e-3)


def test_trace_without_targets_has_no_gradients_and_restores_mode():
    model, x, _ = _model_and_batch("lstm", layers=2, dropout=0.3)
    model.train()
    tr = trace(model, x)
    assert model.training
    assert tr.grad_h == [] and tr.grad_x is None and tr.loss is None
    assert len(tr.hidden) == 2 and tr.hidden[0].shape == (5, 12, 6)
    assert tr.jacobian_norm[0].shape == (5, 12)
    assert all(p.grad is None for p in model.parameters())


def test_vanilla_jacobian_of_linear_rnn_is_recurrent_norm():
    cfg = RunConfig(cell="rnn", task="sine", seq_len=5, hidden_size=8, init="orthogonal",
                    recurrent_scale=0.7)
    model = build_model(cfg)
    with torch.no_grad():
        model.rnn.bias_ih_l0.zero_()
        model.rnn.bias_hh_l0.zero_()
    x = torch.zeros(1, 5, 1)
    tr = trace(model, x)
    expected = float(torch.linalg.matrix_norm(model.rnn.weight_hh_l0.detach(), ord=2))
    np.testing.assert_allclose(tr.jacobian_norm[0], expected, rtol=1e-5)
