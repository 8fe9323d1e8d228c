"""The Gradients page's sentences and theory lines, checked against the run itself.

Every number the page states is recomputed here without the code that draws it: the gradients by
autograd through the model's *fused* ``nn.RNN/LSTM/GRU`` module (split at step t, with the state
h_t as a leaf, so dL/dh_t is the gradient of everything downstream of h_t), the norms of W_hh
by ``torch.linalg.matrix_norm``. The page is driven by Streamlit's AppTest with the run put in
the session, as a student would see it.
"""

from __future__ import annotations

import functools
import json
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from rnnviz import TASKS, RunConfig, trace, train
from rnnviz.core.tasks import probe_batch
from rnnviz.studies.explain import TOPICS
from rnnviz.studies.lessons import LESSONS, SINE
from tests.apptest import TINY, decode_plotly, plain
from tests.conftest import ROOT

DEFAULT_LSTM = RunConfig(device="cpu")  # the app's first experiment: LSTM, adding, T = 20


@functools.cache
def _run(cfg: RunConfig):
    return train(cfg)


@functools.cache
def _page(cfg: RunConfig):
    """(captions, figures by title) of the Gradients page showing the run of ``cfg``."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=120)
    at.session_state["run"] = _run(cfg)
    at.run()
    at.switch_page("pages/gradients.py").run()
    assert not at.exception
    figures = {}
    for chart in at.get("plotly_chart"):
        spec = decode_plotly(json.loads(chart.proto.spec))
        figures[plain(spec["layout"].get("title", {}).get("text", ""))] = spec
    return [c.value for c in at.caption], figures


def _caption(captions: list[str], start: str) -> str:
    found = [c for c in captions if start in c]
    assert len(found) == 1, captions
    return found[0]


def _figure(figures: dict, title_start: str) -> dict:
    found = [f for title, f in figures.items() if title.startswith(title_start)]
    assert len(found) == 1, list(figures)
    return found[0]


def _line(figure: dict, name_start: str) -> dict:
    found = [t for t in figure["data"] if str(t.get("name", "")).startswith(name_start)]
    assert len(found) == 1, [t.get("name") for t in figure["data"]]
    return found[0]


def _number(text: str, pattern: str) -> float:
    match = re.search(pattern, text)
    assert match, (pattern, text)
    return float(match.group(1))


# ---------------------------------------------------------------- the independent oracle


def _state_at(model, x: torch.Tensor, t: int):
    """The fused module's state after step t (``[1, B, H]``, a pair for the LSTM)."""
    with torch.no_grad():
        _, state = model.rnn(x[:, : t + 1])
    return state


def _fused_profiles(model, x: torch.Tensor, y: torch.Tensor) -> tuple[np.ndarray, np.ndarray]:
    """(||dL_b/dh_t||, ||dl_{b,T-1}/dh_t||) ``[B, T]`` of a 1-layer model on a regression task.

    For each t the fused module restarts from h_t as a leaf (c_t held fixed: it is a separate
    state), runs the rest of the sequence, and the loss of the steps at and after t (the earlier
    steps do not depend on h_t) or of the last step alone is differentiated with respect to it.
    The per-step MSE term is written out here, from the loss's definition (mean over the T
    steps and the outputs), not taken from the task's code.
    """
    assert model.rnn.num_layers == 1 and not TASKS[model.task].classification
    model.eval()
    steps = x.shape[1]
    total, last = np.zeros(x.shape[:2]), np.zeros(x.shape[:2])
    for t in range(steps):
        state = _state_at(model, x, t)
        h = (state[0] if model.cell == "lstm" else state).clone().requires_grad_(True)
        with torch.enable_grad():
            if t < steps - 1:
                rest_state = (h, state[1]) if model.cell == "lstm" else h
                rest, _ = model.rnn(x[:, t + 1:], rest_state)
                later = torch.cat([h.transpose(0, 1), rest], dim=1)  # h_t .. h_{T-1}
            else:
                later = h.transpose(0, 1)
            if model.many_to_one:
                per_example = (model.head(later[:, -1]) - y).pow(2).mean(dim=-1)
                grads = [torch.autograd.grad(per_example.sum(), h)[0]] * 2
            else:
                outputs = y.shape[-1]
                squared = (model.head(later) - y[:, t:]).pow(2).sum(dim=-1) / (steps * outputs)
                grads = [torch.autograd.grad(squared.sum(), h, retain_graph=True)[0],
                         torch.autograd.grad(squared[:, -1].sum(), h)[0]]
        total[:, t], last[:, t] = (g[0].norm(dim=-1).numpy() for g in grads)
    return total, last


def _sigma_max(model) -> float:
    return float(torch.linalg.matrix_norm(model.rnn.weight_hh_l0.detach().double(), 2))


def _spectral_radius(model) -> float:
    return float(torch.linalg.eigvals(model.rnn.weight_hh_l0.detach().double()).abs().max())


@functools.cache
def _oracle(cfg: RunConfig):
    run = _run(cfg)
    x, y = probe_batch(cfg)
    total, last = _fused_profiles(run.model, x, y)
    return total.mean(axis=0), last.mean(axis=0)


# ---------------------------------------------------------------- 5: the theory lines


def test_the_engine_gives_the_last_step_loss_profile():
    from rnnviz.core.trace import last_loss_gradient_profile  # new in this change

    for cfg in (SINE, DEFAULT_LSTM):
        run = _run(cfg)
        x, y = probe_batch(cfg)
        total, last = _fused_profiles(run.model, x, y)
        engine = last_loss_gradient_profile(run.model, x, y, 0)
        assert engine.shape == last.shape
        # both are float32 walks back through up to 50 steps; the gradient at a distant step
        # is a sum of products that cancel, so its rounding error is relative to the largest
        # term that flowed through it, not to its own (small) size: another CPU's kernels
        # differed by 0.5% at 2.7e-6. Relative 1e-3 where values are large, and an absolute
        # floor of 1e-5 of the profile's largest value where they are small.
        np.testing.assert_allclose(engine, last, rtol=1e-3, atol=1e-5 * float(last.max()))
        if cfg.task == "adding":  # many-to-one: the last step's loss is the whole loss
            np.testing.assert_allclose(engine, trace(run.model, x, y).grad_h[0], rtol=1e-5)
    # many-to-many: the total is a sum over later losses and reaches further back
    total, last = _oracle(SINE)
    assert total[0] / total[-1] > 10 * last[0] / last[-1]


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_the_bound_line_is_above_the_profile_it_bounds(nonlinearity):
    cfg = SINE.replace(nonlinearity=nonlinearity)
    model = _run(cfg).model
    _, last = _oracle(cfg)
    sigma, rho = _sigma_max(model), _spectral_radius(model)
    distance = len(last) - 1 - np.arange(len(last))
    bound = last[-1] * sigma ** distance  # tanh' and relu' are at most 1
    # the claim itself, on the run's own weights and data
    assert np.all(bound >= last * (1 - 1e-5)), np.flatnonzero(bound < last)
    # ... and what the page draws is that bound over that profile
    _, figures = _page(cfg)
    figure = _figure(figures, "Gradient reaching each time step: ")
    np.testing.assert_allclose(_line(figure, "measured")["y"], _oracle(cfg)[0], rtol=1e-4)
    np.testing.assert_allclose(_line(figure, "last step's loss alone")["y"], last, rtol=1e-4)
    drawn = np.asarray(_line(figure, "upper bound")["y"], dtype=float)
    shown = ~np.isnan(drawn)
    assert shown[-1] and shown.sum() >= 2
    np.testing.assert_allclose(drawn[shown], bound[shown], rtol=1e-4)
    assert f"{sigma:.2f}" in _line(figure, "upper bound")["name"]
    rate = _line(figure, "c·ρ^(T−1−t)")
    name = plain(rate["name"])
    assert "asymptotic" in name and "linear RNN" in name
    assert "not a bound" in name and f"{rho:.2f}" in name
    assert rate["line"]["dash"] == "dash"


@pytest.mark.parametrize("nonlinearity", ["tanh", "relu"])
def test_the_profile_caption_names_the_activation_and_which_line_bounds(nonlinearity):
    cfg = SINE.replace(nonlinearity=nonlinearity)
    model = _run(cfg).model
    captions, _ = _page(cfg)
    caption = _caption(captions, "the gradient of the last")
    other = {"tanh": "relu", "relu": "tanh"}[nonlinearity]
    assert nonlinearity in caption and other not in caption
    assert rf"$\sigma_{{\max}} = \|W_{{hh}}\|_2 = {_sigma_max(model):.2f}$" in caption
    assert f"ρ = {_spectral_radius(model):.2f}" in caption
    assert "upper bound" in caption and "asymptotic rate" in caption and "linear" in caption
    assert "only shrinks" not in caption
    # the numbers it gives for both lines, recomputed from the fused module and the weights
    total, last = _oracle(cfg)
    distance = len(last) - 1 - np.arange(len(last))
    margin = _number(caption, r"at the first step the bound is ([-+.e\d]+)× above it")
    assert margin == pytest.approx(last[-1] * _sigma_max(model) ** distance[0] / last[0],
                                   rel=0.05)
    rate = last[-1] * _spectral_radius(model) ** distance
    above = int(_number(caption, r"lies above it at (\d+) of"))
    assert above == int(np.sum(total > rate * (1 + 1e-6)))
    assert f"of {len(total)} steps" in caption


def test_a_lower_layer_gets_no_theory_lines():
    from rnnviz.studies.gradient_notes import profile_caption

    grad = np.full((4, 6), 0.5)
    caption = profile_caption(grad, cell="rnn", many_to_one=True, spectral_radius=0.9,
                              sigma_max=1.2, layer=0, num_layers=2)
    assert "No theory lines for layer 0" in caption and "upper bound" not in caption


def test_the_vanishing_explanation_bounds_with_sigma_max_not_rho():
    text = " ".join(block for _, block in TOPICS["vanishing"].blocks)
    assert "only shrink" not in text
    assert r"\sigma_{\max}" in text and "asymptotic" in text
    lesson = LESSONS["vanishing"].look_at
    assert "upper bound" in lesson and r"\sigma_{\max}" in lesson


# ---------------------------------------------------------------- 8: singular values


def test_the_singular_value_caption_fits_each_cell():
    gru = RunConfig(cell="gru", **TINY, device="cpu")
    captions = {cfg.cell: _caption(_page(cfg)[0], "Singular values of")
                for cfg in (SINE, DEFAULT_LSTM, gru)}
    assert "at every step" not in " ".join(captions.values())
    assert r"\sigma_{\max}" in captions["rnn"] and "bound" in captions["rnn"]
    assert "tanh" in captions["rnn"]
    for cell in ("lstm", "gru"):
        assert "gate" in captions[cell] and "pre-activation" in captions[cell]
    assert r"\operatorname{diag}(f_t)" in captions["lstm"]
    assert r"\operatorname{diag}(z_t)" in captions["gru"]


def test_gated_blocks_stretch_while_the_cell_path_does_not():
    run = _run(DEFAULT_LSTM)
    x, y = probe_batch(DEFAULT_LSTM)
    blocks = run.model.rnn.weight_hh_l0.detach().double().chunk(4, dim=0)
    sigma = {gate: float(torch.linalg.matrix_norm(block, 2)) for gate, block in zip("ifgo", blocks)}
    forget = float(trace(run.model, x, y).gates[0]["f"].max())
    assert max(sigma.values()) > 1 and forget <= 1  # the fact the caption states
    caption = _caption(_page(DEFAULT_LSTM)[0], "Singular values of")
    for gate, value in sigma.items():
        assert f"{gate} {value:.2f}" in caption
    assert f"{forget:.4f}" in caption


# ---------------------------------------------------------------- 10: the heatmap's first row


def test_the_top_row_of_the_over_training_heatmap_is_step_zero():
    captions, figures = _page(SINE)
    figure = _figure(figures, "Gradient reaching each time step, over training")
    heat = figure["data"][0]
    assert figure["layout"]["yaxis"]["autorange"] == "reversed"  # the y axis runs downwards
    steps = np.asarray(heat["y"])
    assert steps[0] == 0 and np.all(np.diff(steps) > 0)  # so the first row is drawn on top
    assert "top" in _caption(captions, "Each row is a snapshot")
    for text in (" ".join(b for _, b in TOPICS["initialization"].blocks),
                 LESSONS["init"].look_at):
        assert "first row" not in text and "top row" in text


# ---------------------------------------------------------------- 11 and 12: the ratios


def test_a_many_to_many_ratio_is_explained_as_accumulation():
    total, last = _oracle(SINE)
    caption = _caption(_page(SINE)[0], "the gradient of the last")
    assert "sums" in caption and "losses at and after" in caption
    shown = _number(caption, r"receives \*\*([-+.e\d]+)×\*\*")
    alone = _number(caption, r"last step's loss alone delivers \*\*([-+.e\d]+)×\*\*")
    assert shown == pytest.approx(total[0] / total[-1], rel=0.05)
    assert alone == pytest.approx(last[0] / last[-1], rel=0.05)
    assert shown > 1 > alone  # the growth is accumulation, not explosion


def test_the_gated_jacobian_norm_is_called_a_bound_next_to_the_measured_shrink():
    run = _run(DEFAULT_LSTM)
    x, y = probe_batch(DEFAULT_LSTM)
    tr = trace(run.model, x, y)
    total, last = _oracle(DEFAULT_LSTM)
    np.testing.assert_allclose(total, last, rtol=1e-6)  # many-to-one: one loss
    ratio = total[0] / total[-1]
    caption = _caption(_page(DEFAULT_LSTM)[0], "the gradient of the last")
    assert "sums" not in caption  # one loss, nothing accumulates
    assert "bounds" in caption and "does not predict" in caption
    jacobian = _number(caption, r"step Jacobian[^*]*\*\*([-+.e\d]+)\*\*")
    assert jacobian == pytest.approx(float(tr.jacobian_norm[0].mean()), abs=0.006)
    measured = _number(caption, r"(?:shrinks|grows) to \*\*([-+.e\d]+)×\*\*")
    assert measured == pytest.approx(ratio, rel=0.05)
    per_step = _number(caption, r"×([-+.e\d]+) per step")
    assert per_step == pytest.approx(ratio ** (1 / (len(total) - 1)), abs=0.006)
    assert per_step < jacobian
