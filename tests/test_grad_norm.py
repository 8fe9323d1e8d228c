"""The gradient norm training records and clips with is taken in float64 where float32's
overflows (and is torch's float32 norm, bit for bit, where that is finite), and an exploded
run's stop reason and story name what was no longer finite: the loss, a gradient entry, or a
norm past float32's range. The oracles: gradients set by hand, their norm as an exact float64 sum
of squares (``math.fsum``), and the stop reasons ``rnnviz.core.train`` writes."""

from __future__ import annotations

import math

import numpy as np
import pytest
import torch

from rnnviz.core.config import RunConfig
from rnnviz.core.models import build_model
from rnnviz.core.train import gradient_overflow, total_grad_norm, train
from rnnviz.studies import run_notes

SMALL = RunConfig(seq_len=8, hidden_size=8, steps=10, device="cpu")
FLOAT32_MAX = float(np.finfo(np.float32).max)


def with_gradients(scale: float, seed: int = 0) -> torch.nn.Module:
    """A small model whose every gradient entry is set by hand: N(0, 1) times ``scale``."""
    model = build_model(SMALL)
    generator = torch.Generator().manual_seed(seed)
    for p in model.parameters():
        p.grad = (torch.randn(p.shape, generator=generator, dtype=torch.float64) * scale).float()
    return model


def exact_norm(model: torch.nn.Module) -> float:
    return math.sqrt(math.fsum(float(x) ** 2 for p in model.parameters()
                               for x in p.grad.double().flatten()))


@pytest.mark.parametrize("scale", [1e-3, 1.0, 1e3, 1e15])
def test_where_float32_holds_the_norm_it_is_torchs_bit_for_bit(scale):
    """Runs that never overflowed record and clip with the norm they always did: torch's
    ``get_total_norm``, which with ``clip_grads_with_norm_`` is ``clip_grad_norm_``."""
    model = with_gradients(scale)
    params = list(model.parameters())
    norm = total_grad_norm(params)
    assert torch.equal(norm, torch.nn.utils.get_total_norm([p.grad for p in params]))
    assert float(norm) == pytest.approx(exact_norm(model), rel=1e-6)


@pytest.mark.parametrize("scale", [1e18, 1e19, 1e25, 1e36])
def test_where_float32s_squares_overflow_the_norm_is_the_float64_norm(scale):
    """There torch's float32 ``get_total_norm`` reads inf though every entry is a finite
    float32 and the norm is finite too."""
    model = with_gradients(scale)
    params = list(model.parameters())
    assert all(torch.isfinite(p.grad).all() for p in params)
    assert math.isinf(float(torch.nn.utils.get_total_norm([p.grad for p in params])))
    norm = total_grad_norm(params)
    assert norm.dtype == torch.float64
    assert float(norm) == pytest.approx(exact_norm(model), rel=1e-12)


@pytest.mark.parametrize("scale", [1e18, 1e25, 1e36])
def test_clipping_past_float32s_norm_scales_the_gradient_to_the_threshold(scale):
    """What training does with ``clip``: torch's ``clip_grads_with_norm_`` given that norm.
    torch's own ``clip_grad_norm_`` divides by an inf norm there and zeroes the gradient; with
    the float64 norm the clipped gradient has norm ``clip`` and the gradient's direction."""
    model, torchs = with_gradients(scale), with_gradients(scale)
    params = list(model.parameters())
    before = [p.grad.clone() for p in params]
    norm = total_grad_norm(params)
    torch.nn.utils.clip_grads_with_norm_(params, 0.5, norm)
    assert exact_norm(model) == pytest.approx(0.5, rel=1e-5)
    ratio = float(norm) / 0.5
    for p, g in zip(params, before):
        torch.testing.assert_close(p.grad.double() * ratio, g.double(), rtol=1e-5, atol=0)
    torch.nn.utils.clip_grad_norm_(torchs.parameters(), 0.5)
    assert all(float(p.grad.abs().max()) == 0 for p in torchs.parameters())


@pytest.mark.parametrize("bad", [math.inf, -math.inf, math.nan])
def test_a_non_finite_gradient_entry_is_named_in_the_stop_reason(bad):
    model = with_gradients(1.0)
    param = dict(model.named_parameters())["rnn.weight_hh_l0"]
    param.grad[3, 2] = bad
    norm = float(total_grad_norm(list(model.parameters())))
    assert not math.isfinite(norm)
    word = "nan" if math.isnan(bad) else "inf"
    assert gradient_overflow(model, 7, 1.5e30, norm) == (
        f"a gradient entry became {word} at step 7 (in rnn.weight_hh_l0; the training loss "
        "was 1.5e+30)")


def test_a_norm_past_float32_with_finite_entries_is_named_as_the_norm():
    model = with_gradients(1e38)  # entries up to ~3e38, still float32; the norm is not
    norm = float(total_grad_norm(list(model.parameters())))
    assert all(torch.isfinite(p.grad).all() for p in model.parameters())
    assert FLOAT32_MAX < norm < math.inf
    reason = gradient_overflow(model, 12, 2.0e36, norm)
    assert reason.startswith(f"the gradient norm became {norm:.3g} at step 12, past float32's "
                             "largest number")
    assert "the training loss, 2e+36, were finite" in reason


@pytest.fixture(scope="module")
def exploded_history():
    from rnnviz.studies.recipes import EXPLODE
    return train(EXPLODE).history


@pytest.mark.parametrize("first", [
    "a gradient entry became inf at step {step} (in rnn.weight_ih_l0; the training loss was "
    "4.36e+36)",
    "the gradient norm became 5.2e+39 at step {step}, past float32's largest number 3.4e+38 "
    "(its entries and the training loss, 4.4e+36, were finite)",
    "the gradient norm became inf at step {step}"])  # as a float32 norm wrote it, in old files
def test_the_story_names_the_quantity_the_stop_reason_names(exploded_history, first):
    """The same climb, stopped by each kind of overflow: the story's last clause says which,
    with the stop reason's numbers, and never that the loss was not finite."""
    history = exploded_history
    step = history.steps_done + 1
    kept = history.stop_reason.split(": the run exploded")[1]
    history.stop_reason = first.format(step=step) + ": the run exploded" + kept
    story = run_notes.explosion_story(history)
    assert "no longer a finite number" not in story
    assert f"and at step {step} the loss was still finite" in story
    if first.startswith("a gradient entry"):
        assert run_notes.explosion(history).overflowed == "gradient entry"
        assert "(4.36e+36) but an entry of its gradient, in `rnn.weight_ih_l0`, was inf" in story
    else:
        assert run_notes.explosion(history).overflowed == "gradient norm"
        value = first.split("became ")[1].split(" ")[0]
        assert f"the gradient norm ({value}) was past the largest float32 number" in story
