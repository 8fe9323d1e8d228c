"""The Forecasting page's numbers, each recomputed here from the forecast's own arrays.

Audit item 1: how long a forecast "stays inside the band" is the number of forecast steps before
the first one with |forecast − truth| > tolerance (the horizon when it never leaves), so no
statistic may exceed the horizon. Audit item 9: the "It stays where it was" baseline repeats the
last *observed* (noisy) prompt value, the last thing the model read, not the clean truth there.
"""

import json
import re

import numpy as np
import pytest
import torch
from streamlit.testing.v1 import AppTest

from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.studies.generate import Forecast, sine_wave
from tests.apptest import plain
from tests.conftest import ROOT

PAGE = (ROOT / "pages" / "forecast.py").read_text()
WAVES = int(re.search(r"^WAVES_FOR_STATISTICS = ([\d_]+)", PAGE, re.M).group(1))
FIRST_WAVE = int(re.search(r"^FIRST_WAVE = ([\d_]+)", PAGE, re.M).group(1))
PROMPT, HORIZON, TOLERANCE = 50, 10, 0.25


def _inside(forecast: np.ndarray, truth_ahead: np.ndarray, tolerance: float) -> int:
    """Independent count: the index of the first |forecast − truth| > tolerance, else all."""
    outside = np.flatnonzero(np.abs(np.asarray(forecast) - np.asarray(truth_ahead)) > tolerance)
    return int(outside[0]) if outside.size else len(forecast)


def _made_up(forecast, tolerance=0.1, observed=(0.0, 0.0, 0.3), truth=None) -> Forecast:
    forecast = np.asarray(forecast, dtype=np.float64)
    observed = np.asarray(observed, dtype=np.float64)
    truth = np.zeros(len(observed) + len(forecast)) if truth is None else np.asarray(truth)
    return Forecast(observed=observed, truth=truth, one_step=np.zeros(len(observed)),
                    forecast=forecast, fed_back=forecast.copy(), tolerance=tolerance)


# ---------------------------------------------------------------- the pure functions


def test_steps_inside_band_counts_the_steps_before_the_first_outside():
    from rnnviz.studies.generate import steps_inside_band

    leaves_at_4 = _made_up([0.01, -0.05, 0.09, 0.2, 0.0, 0.5])
    assert leaves_at_4.drift_step == 4  # 1-based: the 4th forecast value is the first outside
    assert steps_inside_band(leaves_at_4) == 3 == _inside(leaves_at_4.forecast, 0.0, 0.1)
    never = _made_up(np.full(6, 0.05))
    assert never.drift_step is None
    assert steps_inside_band(never) == 6 == never.horizon  # all of them, not horizon + 1
    at_once = _made_up([0.5, 0.0, 0.0])
    assert steps_inside_band(at_once) == 0


def test_band_summary_never_claims_more_than_the_horizon():
    from rnnviz.studies.generate import band_summary

    horizon = 10
    waves = [_made_up(np.full(horizon, 0.05)) for _ in range(5)]  # none ever leaves
    summary = band_summary(waves)
    assert summary.horizon == horizon and summary.waves == 5
    assert summary.median == summary.shortest == summary.longest == horizon
    assert summary.never_leave == 5
    sentence = summary.describe()
    assert "all 10 steps" in sentence
    assert max(int(n) for n in re.findall(r"\d+", sentence.replace("0.1", ""))) <= horizon

    leaving = [np.r_[np.zeros(k), 1.0, np.zeros(horizon - k - 1)] for k in (0, 3, 4, 7)]
    mixed = [_made_up(f) for f in leaving] + [_made_up(np.zeros(horizon))]
    expected = [_inside(w.forecast, 0.0, 0.1) for w in mixed]
    assert expected == [0, 3, 4, 7, 10]
    summary = band_summary(mixed)
    assert (summary.median, summary.shortest, summary.longest, summary.never_leave) == (
        float(np.median(expected)), 0, 10, 1)
    sentence = summary.describe()
    assert "median of **4 steps**" in sentence and "shortest 0" in sentence
    assert "1 of the 5 never" in sentence


def test_persistence_repeats_the_last_observed_value():
    from rnnviz.studies.generate import persistence_error

    # the model read 0.3 last (noise on a clean 0.0); repeating it misses the clean future
    truth = np.array([0.0, 0.0, 0.0, 1.0, 2.0, 2.0])
    fc = _made_up([0.0, 0.0, 0.0], observed=(0.0, 0.1, 0.3), truth=truth)
    expected = np.sqrt(np.mean((truth[3:] - fc.observed[-1]) ** 2))
    assert persistence_error(fc) == pytest.approx(expected)
    assert persistence_error(fc) != pytest.approx(np.sqrt(np.mean((truth[3:] - truth[2]) ** 2)))


# ---------------------------------------------------------------- the rendered page


@pytest.fixture(scope="module")
def forecaster():
    """The same tiny forecaster as test_pages_lessons (its waves mix early exits, never-leavers
    and first-step misses, so every case of the sentence is exercised)."""
    tiny = RunConfig(task="sine", cell="lstm", seq_len=20, hidden_size=8, steps=40,
                     eval_every=20, probe_every=20, device="cpu")
    return train(tiny)


@pytest.fixture(scope="module")
def page(forecaster) -> AppTest:
    """The Forecasting page with the forecaster as the session's run, at prompt 50, horizon 10,
    tolerance 0.25."""
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["run"] = forecaster
    at.run()
    at.switch_page("pages/forecast.py").run()
    assert not at.exception
    sliders = {s.key: s for s in at.slider}
    sliders["forecast_prompt"].set_value(PROMPT).run()
    sliders = {s.key: s for s in at.slider}
    sliders["forecast_horizon"].set_value(HORIZON).run()
    sliders = {s.key: s for s in at.slider}
    sliders["forecast_tolerance"].set_value(TOLERANCE).run()
    assert not at.exception
    return at


def _model_forecast(model, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """(clean, noisy, closed-loop forecast) of one wave, rolled out here with the raw model."""
    clean, noisy = sine_wave(seed, PROMPT + HORIZON, 0.05)
    model.eval()
    with torch.no_grad():
        out, state = model.rnn(torch.as_tensor(noisy[:PROMPT], dtype=torch.float32).view(1, -1, 1))
        value = model.head(out)[0, -1:, 0]
        values = []
        for _ in range(HORIZON):
            values.append(float(value))
            out, state = model.rnn(value.view(1, 1, 1), state)
            value = model.head(out)[0, :, 0]
    return clean, noisy, np.asarray(values)


def test_forecast_page_statistics_count_steps_inside_the_band(forecaster, page):
    assert forecaster.config.noise == 0.05
    at = page
    inside = []
    for index in range(WAVES):
        clean, _, ahead = _model_forecast(forecaster.model, FIRST_WAVE + index)
        inside.append(_inside(ahead, clean[PROMPT:], TOLERANCE))
    assert 0 < sum(k == HORIZON for k in inside) < WAVES  # both cases occur among these waves
    sentence = next(m.value for m in at.markdown if f"Over **{WAVES} fresh waves**" in m.value)
    median = float(re.search(r"median of \*\*([\d.]+) steps?\*\*", sentence).group(1))
    assert median <= HORIZON, sentence
    assert median == float(np.median(inside)), sentence
    assert int(re.search(r"shortest (\d+)", sentence).group(1)) == min(inside), sentence
    assert int(re.search(r"longest (?:all )?(\d+)", sentence).group(1)) == max(inside), sentence
    never = sum(k == HORIZON for k in inside)
    assert re.search(rf"\b{never} of the {WAVES} never leave", sentence), sentence
    assert max(float(n) for n in re.findall(r"\*\*([\d.]+) steps?\*\*", sentence)) <= HORIZON


def test_forecast_page_metric_and_chart_count_steps_inside_the_band(forecaster, page):
    at = page
    inside = {}
    for index in range(WAVES):
        clean, _, ahead = _model_forecast(forecaster.model, FIRST_WAVE + index)
        inside[index] = _inside(ahead, clean[PROMPT:], TOLERANCE)
    leaves = next(i for i, k in inside.items() if 0 < k < HORIZON)
    stays = next(i for i, k in inside.items() if k == HORIZON)
    for wave in (leaves, stays):
        next(n for n in at.number_input if n.key == "forecast_wave").set_value(wave).run()
        assert not at.exception
        shown = inside[wave]
        metric = next(m for m in at.metric if m.label == "Drifts out of the band after")
        spec = json.loads(at.get("plotly_chart")[0].proto.spec)
        title = plain(spec["layout"]["title"]["text"])
        names = [t.get("name") or "" for t in spec["data"]]
        if shown < HORIZON:
            # one count everywhere: the metric, the title and the cross's legend entry say the
            # steps inside (the legend said "19 steps ahead" beside the metric's "18 steps")
            words = f"{shown} step" + ("" if shown == 1 else "s")
            assert metric.value == words
            assert f"for {words}, then drifts out" in title, title
            assert f"drifts out of the band after {words}" in names, names
            numbers = {int(n) for text in (title, metric.help, *names)
                       for n in re.findall(r"\b(\d+) steps?\b", text)}
            assert shown + 1 == HORIZON or shown + 1 not in numbers, (title, metric.help, names)
        else:
            assert metric.value == f"never in {HORIZON} steps"
            assert f"for all {HORIZON} steps" in title, title


def test_forecast_page_baseline_repeats_the_last_noisy_value_read(forecaster, page):
    at = page
    wave = next(n for n in at.number_input if n.key == "forecast_wave").value
    clean, noisy, _ = _model_forecast(forecaster.model, FIRST_WAVE + wave)
    lazy = float(np.sqrt(np.mean((clean[PROMPT:] - noisy[PROMPT - 1]) ** 2)))
    baseline = next(m for m in at.metric if "stays where it was" in m.label)
    assert baseline.value == f"{lazy:.3f}"
    assert "last observed (noisy) prompt value" in baseline.help
