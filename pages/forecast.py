"""Forecasting: a sine model rolled forward on its own predictions, against the truth."""

from rnnviz.app.entry import via_app

via_app()


import numpy as np
import streamlit as st

from rnnviz import charts
from rnnviz.app import classroom, state, views
from rnnviz.studies.generate import (
    BandSummary,
    band_summary,
    forecast_example,
    persistence_error,
    steps_inside_band,
)
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

run = classroom.require_task_run("sine", FORECASTER, "a forecaster (an LSTM)")
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

    def band_statistics() -> BandSummary:
        return band_summary([forecast_example(run.model, FIRST_WAVE + index, prompt, horizon,
                                              noise=cfg.noise, tolerance=tolerance)
                             for index in range(WAVES_FOR_STATISTICS)])

    summary = state.cached(run, f"forecast-band-{prompt}-{horizon}-{tolerance}",
                           band_statistics)
    # open on a typical wave (steps inside closest to the median), not a lucky or unlucky one
    typical = int(np.argmin(np.abs(np.asarray(summary.inside) - summary.median)))
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
    lazy = persistence_error(result)
    drift, inside = result.drift_step, steps_inside_band(result)
    metrics = st.columns(3)
    metrics[0].metric("Drifts out of the band after",
                      f"never in {horizon} steps" if drift is None else
                      f"{inside} step" + ("" if inside == 1 else "s"),
                      help=(f"No step ahead has |error| > {tolerance:g}: the forecast stays "
                            f"inside the band for all {horizon} steps." if drift is None else
                            f"Steps ahead that stay within ±{tolerance:g} of the truth before "
                            "the first one outside it (the magenta cross)."))
    metrics[1].metric("RMS error over the horizon", f"{rms:.3f}")
    metrics[2].metric("“It stays where it was”", f"{lazy:.3f}",
                      delta=f"{rms - lazy:+.3f} model vs this", delta_color="inverse",
                      help="RMS error over the horizon of the laziest forecast: repeating the "
                           "last observed (noisy) prompt value, the last value the model read, "
                           "for every step ahead. A forecast worth having beats it.")
    views.chart(charts.forecast_chart(result),
                "Violet: the clean wave. Grey dots: the noisy values the model read. Dotted: its "
                "one-step predictions while it read them. Vermillion: the forecast on "
                "its own predictions, with the band it should stay in and the error below.",
                key="forecast_chart")

    st.markdown(
        f"Over **{WAVES_FOR_STATISTICS} fresh waves**, the forecast of this "
        f"{views.CELL_NAMES[cfg.cell]} {summary.describe()}."
        " One-step predictions were what it was trained for; every step beyond feeds its own "
        "error back in.")
    st.caption("Try: a longer prompt (more evidence about the wave before it is on its own); "
               "an LSTM or GRU against a vanilla RNN; the Playground's sine noise.")
