"""The Compare and Step-through pages through Streamlit's AppTest, on tiny runs: what they show
is the engine's numbers (runs, trace, per-step gradients and Jacobian norms)."""

import json

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import probe_batch
from rnnviz.core.trace import trace
from rnnviz.core.train import train
from rnnviz.studies.stepthrough import html_number
from tests.apptest import TINY, decode_plotly, open_app, plain, press, wait_for_run
from tests.conftest import ROOT

_app, _press, _decode = open_app, press, decode_plotly


def _figure(at: AppTest, title_start: str) -> dict:
    for chart in at.get("plotly_chart"):
        spec = _decode(json.loads(chart.proto.spec))
        if plain(spec["layout"].get("title", {}).get("text", "")).startswith(title_start):
            return spec
    raise AssertionError(f"no chart titled {title_start!r}")


def _train_in_playground(at: AppTest, cell: str):
    at.switch_page("pages/playground.py").run()
    next(w for w in at.selectbox if w.key == "cell").set_value(cell)
    _press(at, "Train")
    return wait_for_run(at)


def test_both_pages_open_before_anything_is_trained():
    at = _app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert not at.get("plotly_chart")  # nothing to draw yet, and an invitation instead
    assert any("Train the set" in i.value for i in at.info)
    at.switch_page("pages/step_through.py").run()
    assert not at.exception
    assert any("train a model first" in i.value for i in at.info)


def test_compare_trains_the_set_together_and_shows_the_runs():
    at = _app(TINY)
    lstm = _train_in_playground(at, "lstm")  # the Playground's run: the set must reuse it
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    assert any("Train the set" in i.value for i in at.info)
    _press(at, "Train the set")
    assert not at.exception
    result = at.session_state["compare_result"]
    runs = result["runs"]
    assert [r.config.cell for r in runs] == ["rnn", "lstm", "gru"]
    # not retrained (other tests in this process may have left more runs in the server cache)
    assert runs[1] is lstm and "lstm" in result["reused"]
    for run in runs:
        assert (run.config.seq_len, run.config.hidden_size, run.config.steps) == (8, 6, 30)
        assert run.history.steps_done == 30
        assert run.config.replace(cell="lstm") == lstm.config  # same task, seed and budget
    # loss curves: one line per cell plus chance, each the run's own training loss
    loss = _figure(at, "Training loss by cell")
    lines = {t["name"]: t for t in loss["data"]}
    for run, name in zip(runs, ["Vanilla RNN", "LSTM", "GRU"]):
        np.testing.assert_allclose(lines[name]["y"], run.history.loss, rtol=1e-6)
    assert "chance level" in lines
    # final metric against chance
    final = _figure(at, "Final validation MSE")
    bars = next(t for t in final["data"] if t["type"] == "bar")
    np.testing.assert_allclose(bars["y"], [r.history.val_metric[-1] for r in runs], rtol=1e-6)
    chance = next(t for t in final["data"] if t["type"] == "scatter")
    assert chance["y"][0] == pytest.approx(runs[0].chance.metric)
    # gradient profiles: the trace's ||dL/dh_t|| on the probe batch, averaged, drawn relative
    # to its last step (the hover keeps the absolute values)
    gradients = _figure(at, "Gradient reaching each time step")
    profile = {t["name"]: t for t in gradients["data"]}
    x, y = probe_batch(runs[2].config)
    expected = trace(runs[2].model, x, y, jacobians=False).grad_h[-1].mean(axis=0)
    np.testing.assert_allclose(profile["GRU"]["y"], expected / expected[-1], rtol=1e-5)
    np.testing.assert_allclose(profile["GRU"]["customdata"], expected, rtol=1e-5)
    heatmaps = [c for c in at.get("plotly_chart") if "cmp_hidden" in (c.proto.id or "")]
    assert len(heatmaps) == 3
    assert any("LSTM" in c.value.partition("reused")[2] for c in at.caption)


def test_compare_bad_input_warns_instead_of_failing():
    at = _app(TINY)
    at.switch_page("pages/compare.py").run()
    at.multiselect(key="cmp_cells").set_value([])
    _press(at, "Train the set")
    assert not at.exception
    assert any("at least one cell" in w.value for w in at.warning)
    at.text_input(key="sweep_lengths").set_value("5, ten")
    _press(at, "Run the sweep")
    assert not at.exception
    assert any("“ten” is not a number" in w.value for w in at.warning)
    # copy task, lag sweep with a lag that does not fit in the sequence
    at.selectbox(key="cmp_task").set_value("copy").run()  # the copy lag shows for copy only
    at.number_input(key="cmp_lag").set_value(2)
    _press(at, "Train the set")  # applies the shared settings (and warns: no cells)
    at.radio(key="sweep_param").set_value("lag")
    at.text_input(key="sweep_lengths").set_value("3, 8")
    _press(at, "Run the sweep")
    assert not at.exception
    assert any("raise the sequence length" in w.value for w in at.warning)


def test_compare_sweep_on_a_tiny_grid():
    at = _app(TINY)
    at.switch_page("pages/compare.py").run()
    at.text_input(key="sweep_lengths").set_value("6, 4")
    at.number_input(key="sweep_steps").set_value(20)
    at.multiselect(key="sweep_cells").set_value(["rnn", "gru"])
    _press(at, "Run the sweep")
    assert not at.exception
    sweep = at.session_state["compare_sweep"]
    assert sweep.lengths == [4, 6] and sweep.cells == ["rnn", "gru"]
    chart = _figure(at, "Where does each cell break?")
    lines = {t["name"]: t for t in chart["data"]}
    assert list(lines["GRU"]["x"]) == [4, 6]
    np.testing.assert_allclose(lines["GRU"]["y"], sweep.metric["gru"], rtol=1e-6)
    lone = train(sweep.configs["gru"][0])  # the point at length 4 is that config's run
    assert sweep.metric["gru"][0] == pytest.approx(float(lone.history.val_metric[-1]))
    table = at.dataframe[0].value
    assert list(table.index) == [4, 6]


@pytest.fixture(scope="module")
def gru_run():
    cfg = RunConfig(cell="gru", **{**TINY, "steps": 20}, device="cpu")
    run = train(cfg)
    x, y = probe_batch(cfg)
    return run, trace(run.model, x, y)


def _step_page(run) -> AppTest:
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["run"] = run
    at.run()
    return at.switch_page("pages/step_through.py").run()


def _animated(at: AppTest, title_start: str) -> dict:
    spec = _figure(at, title_start)
    assert spec.get("frames"), "the step-through figure is not animated"
    return spec


def _strips(item: dict) -> list[np.ndarray]:
    """The strip heatmaps' values of a figure or a frame, in order (the overview excluded)."""
    values = [np.asarray(t["z"], dtype=np.float64) for t in item["data"]
              if t.get("type") == "heatmap"]
    return [z.reshape(-1) for z in values if z.ndim == 2 and z.shape[0] == 1]


def test_step_through_forward_numbers_are_the_trace_at_that_step(gru_run):
    """One time control: the page has no step picker of its own and prints no equations
    outside the animated figure; each frame carries its step's title, equations and strips,
    all the trace's numbers at that step."""
    run, tr = gru_run
    at = _step_page(run)
    assert not at.exception
    at.selectbox(key="st_unit").set_value(2).run()
    assert not at.exception
    assert not [s for s in at.slider if s.key == "st_t"] and not at.latex
    example, t, unit = 0, 3, 2
    table = at.dataframe[0].value  # the unit's numbers at every step
    row = table[table["step t"] == t].iloc[0]
    assert row["h"] == pytest.approx(float(tr.hidden[0][example, t, unit]), abs=1e-6)
    assert row["h_prev"] == pytest.approx(float(tr.hidden[0][example, t - 1, unit]),
                                          abs=1e-6)
    for gate in "rzn":
        assert row[gate] == pytest.approx(float(tr.gates[0][gate][example, t, unit]),
                                          abs=1e-6)
    # the animated picture: a frame per step with the trace's vectors and equations
    walk = _animated(at, "Walking forward through time")
    steps = run.config.seq_len
    assert [frame["name"] for frame in walk["frames"]] == [str(k) for k in range(steps)]
    for k, frame in enumerate(walk["frames"]):
        h_prev, r, z, n, h = _strips(frame)[1:6]
        np.testing.assert_allclose(h, tr.hidden[0][example, k], rtol=1e-6)
        np.testing.assert_allclose(h_prev, tr.hidden[0][example, k - 1] if k else 0,
                                   rtol=1e-6)
        for name, gate in zip("rzn", (r, z, n)):
            np.testing.assert_allclose(gate, tr.gates[0][name][example, k], rtol=1e-6)
        assert plain(frame["layout"]["title"]["text"]).startswith(
            f"Walking forward through time, t = {k}")
        equations = plain(frame["layout"]["annotations"][1]["text"])
        assert equations.startswith(f"The equations at t = {k}, unit {unit}")
        value = float(tr.hidden[0][example, k, unit])
        assert equations.endswith(plain(html_number(value if abs(value) >= 5e-4 else 0.0)))
    assert walk["layout"]["sliders"][0]["active"] == 0


def test_step_through_plays_in_the_browser_without_reruns(gru_run):
    """Play is the figure's own (plotly frames at most 200 ms apart, played by the browser):
    the page has no Play button of its own, and its script sets no timer and asks for no rerun
    (the old player reran the page every 0.9 s)."""
    import ast
    run, _ = gru_run
    at = _step_page(run)
    assert not at.exception
    assert not [b for b in at.button if b.key == "st_play" or b.label in ("Play", "Pause")]
    walk = _animated(at, "Walking forward through time")
    play, pause = walk["layout"]["updatemenus"][0]["buttons"]
    assert "Play" in play["label"] and play["method"] == "animate"
    assert play["args"][1]["frame"]["duration"] <= 200
    assert len(walk["frames"]) == run.config.seq_len
    tree = ast.parse((ROOT / "pages" / "step_through.py").read_text(encoding="utf-8"))
    calls = [node for node in ast.walk(tree) if isinstance(node, ast.Call)]
    names = {getattr(node.func, "attr", getattr(node.func, "id", "")) for node in calls}
    assert not names & {"rerun", "sleep", "fragment", "autorefresh"}
    assert not [k for node in calls for k in node.keywords if k.arg == "run_every"]


def test_step_through_backward_numbers_are_the_trace_gradients(gru_run):
    run, tr = gru_run
    at = _step_page(run)
    at.segmented_control(key="st_mode").set_value("Backward").run()
    assert not at.exception
    assert not at.latex and not [b for b in at.button if b.key in ("st_prev", "st_next")]
    steps = run.config.seq_len
    table = at.dataframe[0].value
    example = 0
    np.testing.assert_allclose(table["‖∂L/∂h_t‖"], tr.grad_h[0][example], rtol=1e-6)
    np.testing.assert_allclose(table["‖J_t‖ (t → t−1)"], tr.jacobian_norm[0][example],
                               rtol=1e-6)
    walk = _animated(at, "Walking back through time")
    assert walk["layout"]["sliders"][0]["active"] == steps - 1  # the walk starts at the loss
    now = next(d for d in walk["data"] if d.get("name", "").startswith("now"))
    assert list(now["x"]) == [steps - 1]
    play = walk["layout"]["updatemenus"][0]["buttons"][0]
    assert play["args"][1]["direction"] == "reverse"  # Play walks from the loss backward
    for k, frame in enumerate(walk["frames"]):
        gradient = _strips(frame)[0]
        np.testing.assert_allclose(np.linalg.norm(gradient), tr.grad_h[0][example, k],
                                   rtol=1e-5)
        equations = plain(frame["layout"]["annotations"][2]["text"])
        assert equations.startswith(f"The step back to t = {k}")
        def g(value):
            return plain(html_number(float(value), signed=False, significant=True))
        assert f"= {g(tr.grad_h[0][example, k])}" in equations
        if k + 1 < steps:  # the factor that carries the gradient from k + 1 back to k
            assert g(tr.jacobian_norm[0][example, k + 1]) in equations
