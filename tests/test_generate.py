"""Text generation and closed-loop forecasting, checked against trace and torch."""

import numpy as np
import pytest
import torch
import torch.nn.functional as F

from rnnviz.core.config import RunConfig
from rnnviz.core.models import build_model
from rnnviz.core.tasks import TASKS
from rnnviz.core.trace import trace
from rnnviz.core.train import train
from rnnviz.studies.generate import (
    Forecast,
    forecast,
    forecast_example,
    generate_text,
    persistence_error,
    read_text,
    sine_wave,
)


@pytest.fixture(scope="module")
def text_model():
    """A small LSTM that has seen a little of the notebook (so its outputs are not uniform)."""
    cfg = RunConfig(task="text", cell="lstm", seq_len=16, hidden_size=12, steps=40,
                    eval_every=20, probe_every=20, device="cpu", lr=0.02)
    return train(cfg).model


@pytest.fixture(scope="module")
def sine_model():
    cfg = RunConfig(task="sine", cell="gru", seq_len=20, hidden_size=8, steps=40,
                    eval_every=20, probe_every=20, device="cpu")
    return train(cfg).model


def _one_hot(text: str) -> torch.Tensor:
    task = TASKS["text"]
    return F.one_hot(task.encode(text), len(task.vocab)).float().unsqueeze(0)


def test_generation_is_deterministic_for_a_fixed_seed(text_model):
    first = generate_text(text_model, "The lamp", 80, temperature=1.0, seed=3)
    again = generate_text(text_model, "The lamp", 80, temperature=1.0, seed=3)
    other = generate_text(text_model, "The lamp", 80, temperature=1.0, seed=4)
    assert first.text == again.text and np.array_equal(first.hidden, again.hidden)
    assert first.text != other.text
    assert first.text.startswith("The lamp") and len(first.generated) == 80
    assert first.prompt_length == len("The lamp")


def test_generation_colouring_equals_the_traced_unit(text_model):
    """The activation that colours character t is the traced h_t (and c_t) of the same text."""
    gen = generate_text(text_model, "Wind west, ", 60, temperature=0.8, seed=1)
    tr = trace(text_model, _one_hot(gen.text), jacobians=False)
    assert gen.hidden.shape == (len(gen.text), 12)
    np.testing.assert_allclose(gen.hidden, tr.hidden[-1][0], atol=1e-5)
    np.testing.assert_allclose(gen.cell, tr.cell[-1][0], rtol=1e-5, atol=1e-5)
    probs = torch.softmax(torch.from_numpy(tr.prediction[0]), dim=-1).numpy()
    np.testing.assert_allclose(gen.next_probs, probs, atol=1e-5)


def test_zero_temperature_takes_the_most_likely_character(text_model):
    gen = generate_text(text_model, "I wrote", 30, temperature=0.0, seed=0)
    vocab = TASKS["text"].vocab
    for position in range(gen.prompt_length - 1, len(gen.text) - 1):
        assert gen.text[position + 1] == vocab[int(gen.next_probs[position].argmax())]
    assert gen.top_candidates(5, k=3)[0][1] == pytest.approx(gen.next_probs[5].max())


def test_prompt_outside_the_alphabet_is_a_plain_error(text_model):
    with pytest.raises(ValueError, match="not in the corpus alphabet"):
        generate_text(text_model, "naïve ☃", 10)
    with pytest.raises(ValueError, match="at least one character"):
        generate_text(text_model, "", 10)


@pytest.mark.parametrize("cell", ["rnn", "gru", "lstm"])
def test_read_text_equals_trace(cell):
    cfg = RunConfig(task="text", cell=cell, hidden_size=7, num_layers=2, device="cpu")
    model = build_model(cfg)
    text = 'Fog. "Boat seen," I wrote.\n'
    reading = read_text(model, text)
    tr = trace(model, _one_hot(text), jacobians=False)
    np.testing.assert_allclose(reading.hidden, tr.hidden[-1][0], atol=1e-5)
    if cell == "lstm":
        np.testing.assert_allclose(reading.cell, tr.cell[-1][0], rtol=1e-5, atol=1e-5)
    else:
        assert reading.cell is None


def test_forecast_feeds_back_only_its_own_predictions(sine_model):
    clean, noisy = sine_wave(seed=5, length=70, noise=0.05)
    result = forecast(sine_model, noisy[:30], clean, horizon=40)
    # the truth after the prompt is never read: a different future gives the same forecast
    other_future = clean.copy()
    other_future[30:] = 123.0
    again = forecast(sine_model, noisy[:30], other_future, horizon=40)
    np.testing.assert_array_equal(result.forecast, again.forecast)
    np.testing.assert_array_equal(result.fed_back, result.forecast)
    # teacher-forcing the model on prompt + its own forecast reproduces the forecast exactly
    inputs = np.concatenate([noisy[:30], result.forecast[:-1]]).astype(np.float32)
    with torch.no_grad():
        replayed = sine_model(torch.from_numpy(inputs).view(1, -1, 1))[0, :, 0].double().numpy()
    np.testing.assert_allclose(result.forecast, replayed[29:], atol=1e-5)
    np.testing.assert_allclose(result.one_step, replayed[:30], atol=1e-5)


def test_drift_step_is_the_first_step_outside_the_band():
    truth = np.zeros(8)
    fc = Forecast(observed=np.zeros(3), truth=truth, one_step=np.zeros(3),
                  forecast=np.array([0.01, -0.05, 0.2, 0.0, 0.5]),
                  fed_back=np.zeros(5), tolerance=0.1)
    assert fc.drift_step == 3 and fc.horizon == 5 and fc.prompt_length == 3
    inside = Forecast(np.zeros(3), truth, np.zeros(3), np.full(5, 0.05), np.zeros(5), 0.1)
    assert inside.drift_step is None


def test_forecast_example_and_yardstick(sine_model):
    fc = forecast_example(sine_model, seed=2, prompt_length=20, horizon=15)
    assert fc.truth.shape == (35,) and fc.forecast.shape == (15,)
    assert np.isfinite(fc.forecast).all()
    # the yardstick repeats the last value the model read (noisy 1.5), not the clean truth 1.0
    truth = np.array([0.0, 1.0, 2.0, 2.0, 4.0])
    lazy = Forecast(np.array([0.1, 1.5]), truth, np.zeros(2), np.zeros(3), np.zeros(3), 0.1)
    assert persistence_error(lazy) == pytest.approx(np.sqrt((0.25 + 0.25 + 6.25) / 3))
    assert persistence_error(fc) == pytest.approx(
        np.sqrt(np.mean((fc.truth[20:] - fc.observed[-1]) ** 2)))


def test_forecast_refuses_a_model_of_another_task(text_model):
    with pytest.raises(ValueError, match="sine"):
        forecast(text_model, np.zeros(3), np.zeros(5), 2)
