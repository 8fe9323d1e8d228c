import numpy as np
import pytest
import torch

from rnnviz import RunConfig, build_model
from rnnviz.core.analysis import gate_saturation, log_slope, pca, recurrent_spectra
from rnnviz.core.models import recurrent_blocks, spectral_radius


def test_pca_recovers_a_planar_trajectory():
    t = np.linspace(0, 2 * np.pi, 200, endpoint=False)
    basis = np.linalg.qr(np.random.default_rng(0).normal(size=(10, 2)))[0]  # 2 orthonormal axes
    states = np.stack([3 * np.cos(t), np.sin(t)], axis=1) @ basis.T + 5.0
    result = pca(states, components=3)
    assert result.projected.shape == (200, 3)
    assert result.explained[:2].sum() == pytest.approx(1.0)
    assert result.explained[0] == pytest.approx(9 / 10, abs=0.01)  # variance 4.5 vs 0.5
    assert np.abs(result.projected[:, 2]).max() < 1e-9
    assert np.abs(result.projected[:, 0]).max() == pytest.approx(3, rel=1e-3)


def test_pca_pads_when_fewer_units_than_components():
    result = pca(np.random.default_rng(1).normal(size=(4, 7, 2)), components=3)
    assert result.projected.shape == (4, 7, 3) and result.explained[2] == 0


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
@pytest.mark.parametrize("init", ["default", "orthogonal", "identity"])
def test_recurrent_scale_sets_spectral_radius_of_every_block(cell, init):
    cfg = RunConfig(cell=cell, init=init, recurrent_scale=0.7, num_layers=2, hidden_size=12)
    model = build_model(cfg)
    spectra = recurrent_spectra(model)
    assert len(spectra) == 2 * max(1, {"rnn": 0, "lstm": 4, "gru": 3}[cell])
    for s in spectra:
        assert s.spectral_radius == pytest.approx(0.7, rel=1e-5)
        assert np.all(np.diff(s.singular_values) <= 1e-12)


def test_init_schemes():
    identity = build_model(RunConfig(cell="rnn", nonlinearity="relu", init="identity"))
    torch.testing.assert_close(identity.rnn.weight_hh_l0, torch.eye(32))
    assert float(identity.rnn.bias_hh_l0.detach().abs().sum()) == 0
    ortho = build_model(RunConfig(cell="gru", init="orthogonal", hidden_size=8))
    for block in recurrent_blocks(ortho, 0):
        torch.testing.assert_close(block @ block.T, torch.eye(8), atol=1e-5, rtol=0)
    lstm = build_model(RunConfig(cell="lstm", forget_bias=2.0, hidden_size=5))
    total = lstm.rnn.bias_ih_l0 + lstm.rnn.bias_hh_l0
    torch.testing.assert_close(total[5:10], torch.full((5,), 2.0))
    assert spectral_radius(torch.diag(torch.tensor([0.5, -2.0]))) == pytest.approx(2.0)


def test_gate_saturation_counts_shares_per_unit():
    gate = np.array([[[0.05, 0.5], [0.95, 0.95], [0.05, 0.99], [0.5, 0.02]]])  # [1, 4, 2]
    left, right = gate_saturation(gate)
    np.testing.assert_allclose(left, [0.5, 0.25])
    np.testing.assert_allclose(right, [0.25, 0.5])


def test_log_slope():
    assert log_slope(0.5 ** np.arange(10)) == pytest.approx(np.log(0.5))
    assert np.isnan(log_slope(np.zeros(5)))
