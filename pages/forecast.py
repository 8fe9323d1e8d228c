"""Forecasting: a sine model rolled forward on its own predictions, against the truth."""

from rnnviz.app.entry import via_app

via_app()


import numpy as np
import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, state, views
from rnnviz.studies.generate import forecast_example, persistence_error
from rnnviz.studies.lessons import FORECASTER

WAVES_FOR_STATISTICS = 20
FIRST_WAVE = 20_000  # seeds of the forecast waves (the training data uses other streams)

st.title("Forecasting on its own predictions")
st.markdown(
    "A model trained on the sine task predicts the next value of a wave from the true values "
    "so far. Here it reads a **prompt** of real (noisy) values and then keeps going on its "
    "own: from the end of the prompt, its input at each step is **its own previous "
    "prediction**. How far ahead does it stay right?")
classroom.explanations(["forecasting"])

run = classroom.require_task_run("sine", FORECASTER, "a forecaster (an LSTM, a few seconds)")
if run is not None:
    cfg = run.config
    with st.container(key="forecast_controls"):
        columns = st.columns([1, 1, 1, 1], vertical_alignment="bottom")
        prompt = columns[0].slider("Prompt length", 2, 200, min(cfg.seq_len, 200),
                                   key="forecast_prompt",
                                   help="How many real values the model reads before it is on "
                                        "its own.")
        horizon = columns[1].slider("Steps ahead", 5, 300, 100, key="forecast_horizon",
                                    help="How long it forecasts on its own predictions.")
        tolerance = columns[2].slider("Tolerance band", 0.02, 0.5, 0.25, step=0.01,
                                      key="forecast_tolerance",
                                      help="The forecast 'drifts' at the first step where "
                                           "|forecast − truth| exceeds this.")

    def drift_statistics() -> list[int]:
        steps = []
        for index in range(WAVES_FOR_STATISTICS):
            fc = forecast_example(run.model, FIRST_WAVE + index, prompt, horizon,
                                  noise=cfg.noise, tolerance=tolerance)
            steps.append(fc.drift_step or horizon + 1)
        return steps

    steps = state.cached(run, f"forecast-stats-{prompt}-{horizon}-{tolerance}",
                         drift_statistics)
    # open on a typical wave (drift closest to the median), not a lucky or an unlucky one
    typical = int(np.argmin(np.abs(np.asarray(steps) - np.median(steps))))
    wave = columns[3].number_input("Wave", 0, 10_000, typical, key="forecast_wave",
                                   help="Which fresh wave to forecast (a seed: the same number "
                                        "gives the same wave). Waves 0–"
                                        f"{WAVES_FOR_STATISTICS - 1} are the ones counted "
                                        f"below; it opens on wave {typical}, a typical one.")
    result = state.cached(run, f"forecast-{wave}-{prompt}-{horizon}-{tolerance}",
                          lambda: forecast_example(run.model, FIRST_WAVE + wave, prompt,
                                                   horizon, noise=cfg.noise,
                                                   tolerance=tolerance))
    rms = float(np.sqrt(np.mean(result.error ** 2)))
    lazy = persistence_error(result.truth, prompt)
    drift = result.drift_step
    metrics = st.columns(3)
    metrics[0].metric("Drifts out of the band after",
                      (f"{drift} step" + ("s" if drift > 1 else "")) if drift else
                      f"> {horizon} steps", help=f"First step ahead with |error| > {tolerance:g}.")
    metrics[1].metric("RMS error over the horizon", f"{rms:.3f}")
    metrics[2].metric("“It stays where it was”", f"{lazy:.3f}",
                      delta=f"{rms - lazy:+.3f} model vs this", delta_color="inverse",
                      help="RMS error of the laziest forecast, repeating the last prompt value: "
                           "a forecast worth having beats it.")
    views.chart(charts.forecast_chart(result),
                "Blue: the clean wave. Grey dots: the noisy values the model read. Dotted: its "
                "one-step predictions while it could see the truth. Vermillion: the forecast on "
                "its own predictions, with the band it should stay in and the error below.",
                key="forecast_chart")

    inside = sum(s > horizon for s in steps)
    st.markdown(
        f"Over **{WAVES_FOR_STATISTICS} fresh waves**, the forecast of this "
        f"{views.CELL_NAMES[cfg.cell]} stays inside ±{tolerance:g} for a median of "
        f"**{int(np.median(steps))} steps** (shortest {min(steps)}, longest "
        f"{'all ' + str(horizon) if max(steps) > horizon else max(steps)})"
        + (f"; {inside} never leave the band." if inside else ".")
        + " One-step predictions were what it was trained for; every step beyond feeds its own "
          "error back in.")
    st.caption("Try: a longer prompt (more evidence about the wave before it is on its own); "
               "an LSTM or GRU against a vanilla RNN; the Playground's sine noise.")
