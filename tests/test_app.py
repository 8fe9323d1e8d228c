"""The app through Streamlit's AppTest: every page, training through the Train button, links."""

import functools
import json
import time

import pytest
from streamlit.testing.v1 import AppTest

from tests.apptest import TINY, open_app, press, set_widgets, wait_for_run

PAGES = ["pages/home.py", "pages/playground.py", "pages/hidden_states.py", "pages/gates.py",
         "pages/gradients.py", "pages/lessons.py", "pages/compare.py", "pages/step_through.py",
         "pages/forecast.py", "pages/text.py", "pages/sentiment.py"]
INSPECTION = ["pages/hidden_states.py", "pages/gates.py", "pages/gradients.py"]
_app = functools.partial(open_app, timeout=60)
_set, _press, _wait_for_run = set_widgets, press, wait_for_run


def _train(at: AppTest, **config) -> object:
    at.switch_page("pages/playground.py").run()
    _set(at, **{**TINY, **config})
    _press(at, "Train")
    assert not at.exception
    return _wait_for_run(at)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _titles(figures) -> list[str]:
    return [f["layout"].get("title", {}).get("text", "") for f in figures]


@pytest.mark.parametrize("page", PAGES)
def test_every_page_runs_before_training(page):
    at = _app()
    at.switch_page(page).run()
    assert not at.exception
    if page in INSPECTION:
        assert any("train a model first" in i.value for i in at.info)


def test_training_fills_session_and_pages_show_real_shapes():
    at = _app()
    run = _train(at, cell="gru", task="copy", lag=2)
    cfg = run.config
    assert (cfg.cell, cfg.task, cfg.seq_len, cfg.hidden_size) == ("gru", "copy", 8, 6)
    assert run.history.steps_done == 30
    figures = _figures(at)
    assert figures, "the Playground shows the loss curves after training"

    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    heatmaps = [t for f in _figures(at) for t in f["data"] if t["type"] == "heatmap"]
    assert heatmaps, "the hidden-state heatmap is drawn"

    at.switch_page("pages/gates.py").run()
    assert not at.exception
    gate_titles = " ".join(_titles(_figures(at)))
    for gate in ("r", "z", "n"):
        assert f"{gate} —" in gate_titles or f"{gate} -" in gate_titles

    at.switch_page("pages/gradients.py").run()
    assert not at.exception
    assert len(_figures(at)) >= 5
    assert at.session_state["run"] is run  # looking around never retrains
    # every inspection page offers the trace it draws as a CSV download
    assert [d.label for d in at.get("download_button")] == ["Trace as CSV"]


def test_a_two_layer_run_offers_a_layer_picker_that_switches_the_charts():
    at = _app()
    run = _train(at, num_layers=2, seed=4242)
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    picker = at.get("button_group")[0]
    assert picker.value == 1  # the top layer first
    top = _titles(_figures(at))
    picker.set_value(0).run()
    assert not at.exception
    bottom = _titles(_figures(at))
    assert "Hidden state h_t, layer 1" in top and "Hidden state h_t, layer 0" in bottom
    assert at.session_state["run"] is run


def test_the_device_field_says_what_this_server_has():
    import torch

    at = _app()
    at.switch_page("pages/playground.py").run()
    device = at.selectbox(key="device")
    assert device.options == ["Automatic", "CPU", "CUDA GPU"]  # the URL keeps the codes
    words = "has a CUDA GPU" if torch.cuda.is_available() else "has no CUDA GPU"
    assert words in device.help


@pytest.mark.skipif(__import__("torch").cuda.is_available(), reason="this machine has a GPU")
def test_asking_for_cuda_without_a_gpu_is_a_plain_error():
    at = _app()
    at.switch_page("pages/playground.py").run()
    _set(at, **{**TINY, "device": "cuda"})
    _press(at, "Train")
    for _ in range(100):  # the job fails at once; its notice shows on the next run
        if at.error:
            break
        time.sleep(0.05)
        at.run()
    assert not at.exception
    assert any("no CUDA GPU" in e.value and "auto or cpu" in e.value for e in at.error)


def test_vanilla_rnn_gates_page_explains_absence():
    at = _app()
    _train(at, cell="rnn")
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    assert any("has no gates" in i.value for i in at.info)


def test_query_string_configuration_is_applied():
    at = _app({"cell": "gru", "seq_len": "33", "task": "parity", "clip": "off"})
    assert not at.exception
    cfg = at.session_state["config"]
    assert (cfg.cell, cfg.seq_len, cfg.task, cfg.clip) == ("gru", 33, "parity", None)
    at.switch_page("pages/playground.py").run()
    values = {w.key: w.value for kind in ("slider", "selectbox") for w in at.get(kind)}
    assert values["cell"] == "gru" and values["seq_len"] == 33 and values["task"] == "parity"


@pytest.mark.parametrize("query,words", [
    ({"seq_len": "-3"}, "seq_len=-3"),
    ({"cell": "banana"}, "cell=banana"),
    ({"lr": "fast"}, "lr=fast"),
    ({"hidden_size": "1e9"}, "hidden_size=1e9"),
])
def test_bad_query_values_warn_instead_of_failing(query, words):
    at = _app(query)
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert any(words in w.value for w in at.warning)
    from rnnviz import RunConfig
    RunConfig(**at.session_state["config"].to_dict())  # the repaired config is valid


def test_link_values_that_do_not_fit_together_warn():
    at = _app({"task": "copy", "seq_len": "5", "lag": "9"})
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert any("does not fit together" in w.value for w in at.warning)


def test_stop_ends_training_early_and_keeps_the_model():
    at = _app()
    at.switch_page("pages/playground.py").run()
    _set(at, steps=100_000, seq_len=8, hidden_size=6)
    _press(at, "Train")
    time.sleep(1.0)
    _press(at, "Stop")
    assert not at.exception
    run = at.session_state["run"]
    assert 0 < run.history.steps_done < 100_000
    assert run.history.stop_reason.startswith("stopped by the user")


def test_exploding_run_is_explained_not_raised():
    at = _app({"clip": "off"})  # "off" in a link turns clipping off
    run = _train(at, cell="rnn", nonlinearity="relu", init="identity", recurrent_scale=1.5,
                 optimizer="sgd", lr=0.1, task="adding", seq_len=50, steps=200,
                 hidden_size=32)
    assert "exploded" in run.history.stop_reason
    at.run()
    assert not at.exception
    assert any("The run exploded" in e.value for e in at.error)
    for page in INSPECTION:
        at.switch_page(page).run()
        assert not at.exception


def test_same_config_is_reused_across_sessions():
    first = _app()
    run = _train(first, seed=123)
    second = _app()
    reused = _train(second, seed=123)
    assert reused is run
