"""Figure builders: real runs in, concrete promises about the plotly/altair specs out."""

from __future__ import annotations

import ast
import functools
import json
import math
from pathlib import Path

import numpy as np
import plotly.graph_objects as go
import plotly.io as pio
import pytest
import torch

from rnnviz import TASKS, RunConfig, charts, trace, train
from rnnviz.charts import sequences
from rnnviz.core.analysis import gate_saturation, pca, recurrent_spectra
from rnnviz.core.history import History
from rnnviz.core.tasks import Chance, probe_batch
from rnnviz.core.trace import parameter_gradient_norms
from tests.apptest import decode_plotly

TINY = dict(seq_len=8, hidden_size=4, steps=5, eval_every=2, probe_every=2, lag=3)
HUGE_STEPS = 100_000


@functools.cache
def tiny(cell: str, task: str):
    """(run, x, y, trace) of a 5-step run traced on its probe batch (cached per module)."""
    cfg = RunConfig(cell=cell, task=task, **TINY)
    run = train(cfg)
    x, y = probe_batch(cfg)
    return run, x, y, trace(run.model, x, y)


@functools.lru_cache(maxsize=1)
def huge_history() -> History:
    """A 100,000-step history with validation, probes and clipped steps."""
    rng = np.random.default_rng(0)
    history = History(steps=HUGE_STEPS, eval_every=100, seq_len=20)
    loss = 2 * np.exp(-np.arange(HUGE_STEPS) / 30_000) + 0.1 * rng.random(HUGE_STEPS)
    grad = rng.lognormal(0.0, 1.0, HUGE_STEPS)
    for step in range(1, HUGE_STEPS + 1):
        history.record_step(loss[step - 1], loss[step - 1], grad[step - 1],
                            grad[step - 1] > 5.0)
        if step % 100 == 0:
            history.record_validation(step, loss[step - 1], loss[step - 1])
        if step % 100 == 0 or step == 1:
            history.record_probe(step, np.exp(-np.arange(20)[::-1] / (2 + step / 10_000)))
    return history


decoded = decode_plotly


def layout(fig: go.Figure) -> dict:
    return decoded(fig.to_dict()["layout"])


def traces(fig: go.Figure) -> list[dict]:
    return decoded(fig.to_dict()["data"])


def by_name(fig: go.Figure, prefix: str) -> dict:
    matches = [t for t in traces(fig) if str(t.get("name", "")).startswith(prefix)]
    assert len(matches) == 1, [t.get("name") for t in traces(fig)]
    return matches[0]


def annotation_texts(fig: go.Figure) -> list[str]:
    return [a.get("text", "") for a in layout(fig).get("annotations", [])]


def colorscale(name: str) -> list:
    """A named plotly colour scale as the figure dict spells it out."""
    return [list(stop) for stop in go.Heatmap(colorscale=name).colorscale]


# ---------------------------------------------------------------- downsample


@pytest.mark.parametrize("n, cap", [(0, 10), (1, 10), (10, 10), (11, 10), (100_000, 2000),
                                    (12_345, 400), (5, 1), (3, 2)])
def test_downsample_is_evenly_spaced_capped_and_keeps_the_last(n, cap):
    index = charts.downsample(n, cap)
    assert len(index) == min(n, cap)
    if n:
        assert index[0] == (0 if cap > 1 or n == 1 else n - 1)
        assert index[-1] == n - 1
        assert np.all(np.diff(index) > 0)
        gaps = np.diff(index)
        if len(gaps):
            assert gaps.max() - gaps.min() <= 1  # evenly spaced up to rounding
    if n <= cap:
        np.testing.assert_array_equal(index, np.arange(n))


# ---------------------------------------------------------------- training curves


@pytest.mark.parametrize("chart", ["heatmap", "saturation"])
def test_a_copied_figure_changes_like_a_fresh_one_and_leaves_the_kept_one_alone(chart):
    """``copy_figure`` skips validating what was validated when the figure was built: changed
    the way a page changes a kept figure (the step in its title, a lesson's mark, projector
    sizes), the copy is the figure built afresh and changed alike, and the kept one is as it
    was built."""
    _, _, _, tr = tiny("lstm", "adding")

    def build() -> go.Figure:
        if chart == "heatmap":
            return charts.gate_heatmap(tr.gates[0]["f"][0], "f", "lstm")
        return charts.saturation_scatter({name: gate_saturation(values)
                                          for name, values in tr.gates[0].items()})

    def change(fig: go.Figure) -> go.Figure:
        charts.set_title(fig, f"{fig.layout.title.text}<br><sup>step 2</sup>")
        fig.add_shape(type="rect", xref="x", x0=0.5, x1=1.5, yref="y domain", y0=0, y1=1,
                      line=dict(color="red", width=2, dash="dot"))
        fig.add_annotation(xref="x", x=0.5, yref="y domain", y=0.01, text="<b>t = 0</b>",
                           showarrow=False, font=dict(size=13, color="red"))
        fig.update_xaxes(tickfont_size=20, title_font_size=22)
        for owner in charts.colorbar_owners(fig):
            owner.colorbar = {**owner.colorbar.to_plotly_json(), "tickfont": {"size": 20}}
        return fig

    kept = build()
    as_built = json.loads(pio.to_json(kept))
    copied = change(charts.copy_figure(kept))
    assert json.loads(pio.to_json(copied)) == json.loads(pio.to_json(change(build())))
    assert json.loads(pio.to_json(kept)) == as_built


def test_loss_curves_of_a_real_run():
    run, *_ = tiny("lstm", "adding")
    history, chance = run.history, run.chance
    fig = charts.loss_curves(history, chance, "MSE", higher_is_better=False)
    lay = layout(fig)
    assert lay["template"] == decoded(pio.templates["plotly_white"].to_plotly_json())
    assert lay["xaxis"]["title"]["text"] == "training step"
    # a regression task's metric is its loss: one panel, not the same curve twice
    assert "xaxis2" not in lay and "yaxis2" not in lay
    assert lay["yaxis"]["title"]["text"] == "loss (MSE)"
    np.testing.assert_allclose(history.metric, history.loss, rtol=1e-6)  # why one panel
    assert lay["yaxis"]["type"] == "log"  # every loss is positive
    assert lay["showlegend"] is True
    train_loss = traces(fig)[0]
    np.testing.assert_array_equal(train_loss["x"], history.step)
    np.testing.assert_allclose(train_loss["y"], history.loss, rtol=1e-6)
    validation = traces(fig)[1]
    assert validation["mode"] == "lines+markers"
    np.testing.assert_array_equal(validation["x"], history.val_step)
    chance_lines = [t for t in traces(fig) if t["legendgroup"] == "chance"]
    assert [t["y"][0] for t in chance_lines] == [chance.loss]
    assert all(t["line"]["dash"] == "dash" for t in chance_lines)
    assert any(text.startswith("chance") for text in annotation_texts(fig))
    # on a log axis an annotation's y is the log10 of the value
    chance_note = next(a for a in lay["annotations"] if a["text"].startswith("chance"))
    assert chance_note["y"] == pytest.approx(math.log10(chance.loss))


def test_loss_curves_for_accuracy_use_a_linear_zero_to_one_axis():
    run, *_ = tiny("gru", "parity")
    fig = charts.loss_curves(run.history, run.chance, "accuracy", higher_is_better=True)
    lay = layout(fig)
    assert lay["yaxis2"].get("type") != "log"
    assert lay["yaxis2"]["range"] == [-0.02, 1.02]
    assert lay["yaxis2"]["title"]["text"] == "accuracy"
    assert "higher is better" in lay["title"]["text"]


def test_loss_curves_with_an_empty_history_say_so():
    fig = charts.loss_curves(History(steps=10, eval_every=2, seq_len=8),
                             Chance(loss=0.5, metric=0.5, how="guessing"), "accuracy", True)
    assert annotation_texts(fig).count("no steps yet") == 2
    assert layout(fig)["yaxis"].get("type") != "log"
    fig.to_json()  # serialisable
    mse = charts.loss_curves(History(steps=10, eval_every=2, seq_len=8),
                             Chance(loss=0.5, metric=0.5, how="mean"), "MSE", False)
    assert annotation_texts(mse).count("no steps yet") == 1


def test_loss_curves_with_nan_values_keep_them_as_gaps():
    history = History(steps=6, eval_every=2, seq_len=4)
    for loss in (1.0, float("nan"), 0.5, float("inf"), 0.25):
        history.record_step(loss, loss, 1.0, False)
    history.record_validation(2, float("nan"), float("nan"))
    fig = charts.loss_curves(history, Chance(0.7, 0.7, "mean"), "MSE", False)
    y = np.asarray(traces(fig)[0]["y"], dtype=float)
    assert np.isnan(y[1]) and np.isnan(y[3]) and y[4] == 0.25
    assert layout(fig)["yaxis"]["type"] == "log"
    sent = np.asarray(decoded(json.loads(fig.to_json())["data"][0]["y"]), dtype=float)
    np.testing.assert_array_equal(np.isnan(sent), [False, True, False, True, False])


def test_huge_history_is_downsampled_everywhere():
    history = huge_history()
    chance = Chance(0.17, 0.17, "mean")
    for fig in (charts.loss_curves(history, chance, "MSE", False),
                charts.grad_norm_over_training(history, clip=5.0),
                charts.compare_loss_chart({"lstm": history, "gru": history}, chance)):
        for t in traces(fig):
            assert len(t["x"]) <= charts.MAX_LINE_POINTS
        lines = [t for t in traces(fig) if len(t["x"]) > 2]
        assert max(t["x"][-1] for t in lines) == HUGE_STEPS  # true step numbers, last kept
    heat = traces(charts.probe_heatmap(history.probe_step, history.probe_grad))[0]
    z = np.asarray(heat["z"])
    assert z.shape[0] <= charts.MAX_HEATMAP_ROWS and z.shape[1] <= charts.MAX_HEATMAP_COLUMNS
    assert set(np.asarray(heat["y"])) <= set(history.probe_step)


def test_grad_norm_over_training_marks_clipped_steps_and_the_threshold():
    history = huge_history()
    fig = charts.grad_norm_over_training(history, clip=5.0)
    assert layout(fig)["yaxis"]["type"] == "log"
    clipped = by_name(fig, "clipped")
    assert f"{int(history.clipped.sum())} of {HUGE_STEPS}" in clipped["name"]
    assert clipped["marker"]["color"] == charts.CLIPPED_COLOR
    # the clipped markers are a stride of the clipped steps, spread over the whole run
    clipped_steps = set(history.step[history.clipped])
    assert set(np.asarray(clipped["x"])) <= clipped_steps
    assert np.asarray(clipped["x"]).max() > 0.9 * HUGE_STEPS
    assert np.asarray(clipped["x"]).min() < 0.1 * HUGE_STEPS
    threshold = by_name(fig, "clipping threshold")
    assert threshold["y"] == [5.0, 5.0] and threshold["line"]["dash"] == "dash"
    assert layout(fig)["showlegend"] is True

    run, *_ = tiny("rnn", "adding")
    unclipped = charts.grad_norm_over_training(run.history, clip=None)
    assert not [t for t in traces(unclipped) if "threshold" in t["name"]]
    np.testing.assert_allclose(traces(unclipped)[0]["y"], run.history.grad_norm, rtol=1e-6)
    empty = charts.grad_norm_over_training(History(3, 1, 4), clip=1.0)
    assert "no steps yet" in annotation_texts(empty)


def test_compare_loss_chart_colours_lines_by_cell():
    histories = {cell: tiny(cell, "copy")[0].history for cell in ("rnn", "lstm", "gru")}
    fig = charts.compare_loss_chart(histories, tiny("rnn", "copy")[0].chance)
    for cell, history in histories.items():
        line = by_name(fig, cell)
        assert line["line"]["color"] == charts.CELL_COLORS[cell]
        np.testing.assert_allclose(line["y"], history.loss, rtol=1e-6)
    assert layout(fig)["yaxis"]["type"] == "log"


# ---------------------------------------------------------------- one example


def _panel(task: str, cell: str = "lstm", example: int = 0):
    run, x, y, tr = tiny(cell, task)
    x0, y0, p0 = x[example].numpy(), y[example].numpy(), tr.prediction[example]
    return charts.sequence_panel(TASKS[task], x0, y0, p0), x0, y0, p0


@pytest.mark.parametrize("task", ["sine", "adding", "copy", "parity", "text"])
def test_sequence_panel_shares_the_time_axis(task):
    fig, x, *_ = _panel(task)
    lay = layout(fig)
    assert charts.TIME_AXIS in lay["xaxis"]["title"]["text"]
    assert lay["yaxis"]["title"]["text"]
    assert lay["title"]["text"] and lay["showlegend"] is True
    xs = np.concatenate([np.asarray(t["x"], dtype=float) for t in traces(fig)])
    assert xs.min() == 0 and xs.max() == len(x) - 1
    fig.to_json()


def test_sequence_panel_sine_draws_input_target_and_prediction():
    fig, x, y, p = _panel("sine")
    np.testing.assert_allclose(by_name(fig, "input")["y"], x[:, 0])
    np.testing.assert_allclose(by_name(fig, "target")["y"], y[:, 0])
    np.testing.assert_allclose(by_name(fig, "prediction")["y"], p[:, 0], rtol=1e-6)


def test_sequence_panel_adding_highlights_markers_and_reads_out_at_the_end():
    fig, x, y, p = _panel("adding")
    marked = by_name(fig, "marked value")
    assert marked["type"] == "bar"
    marked_y = np.asarray(marked["y"], dtype=float)
    np.testing.assert_array_equal(~np.isnan(marked_y), x[:, 1] > 0.5)
    target, prediction = by_name(fig, "target sum"), by_name(fig, "prediction")
    assert target["x"] == prediction["x"] == [len(x) - 1]
    assert target["y"][0] == pytest.approx(y[0]) and prediction["y"][0] == pytest.approx(p[0])


def test_sequence_panel_copy_shows_symbols_and_correctness():
    fig, x, y, p = _panel("copy")
    np.testing.assert_array_equal(by_name(fig, "input symbol")["y"], x.argmax(-1))
    target = by_name(fig, "target")
    np.testing.assert_array_equal(target["x"], np.flatnonzero(y >= 0))
    predicted = p.argmax(-1)
    shown = {}
    for t in traces(fig):
        if t["name"].startswith("prediction"):
            for step, symbol in zip(t["x"], t["y"]):
                shown[int(step)] = (int(symbol), t["name"])
    assert sorted(shown) == list(range(len(x)))
    for step, (symbol, name) in shown.items():
        assert symbol == predicted[step]
        if y[step] < 0:
            assert "no target" in name
        else:
            assert ("correct" in name) == (predicted[step] == y[step])
    assert layout(fig)["yaxis"]["title"]["text"] == "symbol"
    assert "lag 3" in layout(fig)["title"]["text"]


def test_sequence_panel_parity_shows_the_probability_of_one():
    fig, x, y, p = _panel("parity", cell="gru")
    probability = torch.softmax(torch.tensor(p), dim=-1)[1].item()
    prediction = by_name(fig, "predicted P(parity = 1)")
    assert prediction["y"][0] == pytest.approx(probability)
    assert by_name(fig, "target parity")["y"][0] == int(y[0])
    np.testing.assert_array_equal(by_name(fig, "marked bit")["x"], np.flatnonzero(x[:, 1]))


def test_sequence_panel_text_shows_characters():
    fig, x, y, p = _panel("text", cell="gru")
    vocab = [sequences._display_char(c) for c in TASKS["text"].vocab]
    assert by_name(fig, "input")["text"] == [vocab[i] for i in x.argmax(-1)]
    assert by_name(fig, "target")["text"] == [vocab[int(i)] for i in y]
    predicted = {}
    for t in traces(fig):
        if t["name"].startswith("prediction"):
            assert t["mode"] == "text"
            predicted.update(zip(t["x"], t["text"]))
    assert [predicted[k] for k in range(len(x))] == [vocab[i] for i in p.argmax(-1)]


def test_sequence_panel_long_text_opens_on_a_readable_window():
    task = TASKS["text"]
    x, y = task.sample(1, 400, torch.Generator().manual_seed(0))
    logits = np.random.default_rng(0).normal(size=(400, task.output_size()))
    fig = charts.sequence_panel(task, x[0].numpy(), y[0].numpy(), logits)
    lay = layout(fig)
    assert lay["xaxis"]["range"] == [-0.5, charts.TIME_WINDOW - 0.5]
    assert lay["dragmode"] == "pan"
    assert "of 400" in lay["xaxis"]["title"]["text"].replace("<br>", " ")  # it may wrap


# ---------------------------------------------------------------- hidden states


def test_state_heatmap_is_units_by_time_on_the_diverging_scale():
    *_, tr = tiny("lstm", "copy")
    states = tr.hidden[0][0]  # [T, H]
    fig = charts.state_heatmap(states, "hidden state")
    heat = traces(fig)[0]
    assert heat["type"] == "heatmap"
    np.testing.assert_allclose(heat["z"], states.T, rtol=1e-6)
    assert (heat["zmin"], heat["zmax"], heat["zmid"]) == (-1, 1, 0)
    assert heat["colorscale"] == colorscale(charts.DIVERGING)
    assert heat["colorbar"]["title"]["text"] == "h_t"
    assert heat["x"][0] == 0
    lay = layout(fig)
    assert lay["xaxis"]["title"]["text"] == charts.TIME_AXIS
    assert lay["yaxis"]["title"]["text"] == charts.UNIT_AXIS


def test_state_heatmap_auto_range_is_symmetric_and_big_states_are_strided():
    states = np.linspace(-3, 2, 1000 * 300).reshape(1000, 300)
    heat = traces(charts.state_heatmap(states, "c_t", zrange=None, colorbar_title="c_t"))[0]
    z = np.asarray(heat["z"])
    assert z.shape == (charts.MAX_HEATMAP_ROWS, charts.MAX_HEATMAP_COLUMNS)
    assert heat["x"][-1] == 999 and heat["y"][-1] == 299
    assert heat["zmin"] == -heat["zmax"] and heat["zmax"] == pytest.approx(np.abs(z).max())
    assert heat["zmid"] == 0


def test_unit_lines_draw_the_selected_units():
    *_, tr = tiny("gru", "sine")
    states = tr.hidden[0][0]
    fig = charts.unit_lines(states, [0, 2, 99], "units")
    assert [t["name"] for t in traces(fig)] == ["unit 0", "unit 2"]  # 99 does not exist
    np.testing.assert_allclose(by_name(fig, "unit 2")["y"], states[:, 2], rtol=1e-6)
    assert layout(fig)["xaxis"]["title"]["text"] == charts.TIME_AXIS
    assert "no units selected" in annotation_texts(charts.unit_lines(states, [], "none"))


def test_hidden_brush_chart_is_overview_plus_detail():
    *_, tr = tiny("lstm", "sine")
    states = tr.hidden[0][0]
    spec = charts.hidden_brush_chart(states, [1, 3]).to_dict()
    top, bottom = spec["vconcat"]
    (brush_param,) = spec["params"]
    assert brush_param["select"] == {"type": "interval", "encodings": ["x"]}
    assert brush_param["views"] == [top["name"]]  # the brush lives on the overview
    brush = brush_param["name"]
    assert bottom["encoding"]["x"]["scale"]["domain"] == {"param": brush}
    assert top["encoding"]["x"]["title"] == bottom["encoding"]["x"]["title"] == charts.TIME_AXIS
    detail = spec["datasets"][bottom["data"]["name"]]
    assert len(detail) == len(states) * 2
    assert {row["unit"] for row in detail} == {"unit 1", "unit 3"}
    overview = spec["datasets"][top["data"]["name"]]
    np.testing.assert_allclose([row["mean_abs_h"] for row in overview],
                               np.abs(states).mean(axis=1), rtol=1e-6)
    many = charts.hidden_brush_chart(np.zeros((500, 64)), list(range(64))).to_dict()
    rows = max(len(v) for v in many["datasets"].values())
    assert rows <= charts.MAX_HEATMAP_COLUMNS * charts.MAX_BRUSH_UNITS


@pytest.mark.parametrize("dims", [2, 3])
def test_pca_trajectory_colours_by_time_and_marks_start_and_end(dims):
    *_, tr = tiny("lstm", "sine")
    result = pca(tr.hidden[0], components=3)
    fig = charts.pca_trajectory(result.projected[0], result.explained, dims=dims)
    path = traces(fig)[0]
    assert path["type"] == ("scatter" if dims == 2 else "scatter3d")
    np.testing.assert_array_equal(path["marker"]["color"], np.arange(TINY["seq_len"]))
    assert path["marker"]["colorbar"]["title"]["text"] == charts.TIME_AXIS
    start, end = by_name(fig, "start"), by_name(fig, "end")
    assert start["x"][0] == pytest.approx(result.projected[0, 0, 0])
    assert end["x"][0] == pytest.approx(result.projected[0, -1, 0])
    lay = layout(fig)
    axis = lay["xaxis"] if dims == 2 else lay["scene"]["xaxis"]
    assert axis["title"]["text"] == f"PC1 ({100 * result.explained[0]:.1f}% var)"


# ---------------------------------------------------------------- gates


def test_gate_heatmap_ranges_sigmoid_and_tanh_gates():
    *_, tr = tiny("lstm", "copy")
    forget = charts.gate_heatmap(tr.gates[0]["f"][0], "f", "lstm")
    heat = traces(forget)[0]
    assert (heat["zmin"], heat["zmax"], heat["zmid"]) == (0.0, 1.0, 0.5)
    assert "0.5" in heat["colorbar"]["title"]["text"]
    assert heat["colorscale"] == colorscale(charts.DIVERGING)
    assert "f — forget gate" in layout(forget)["title"]["text"]
    np.testing.assert_allclose(heat["z"], tr.gates[0]["f"][0].T, rtol=1e-6)
    candidate = traces(charts.gate_heatmap(tr.gates[0]["g"][0], "g", "lstm"))[0]
    assert (candidate["zmin"], candidate["zmax"], candidate["zmid"]) == (-1.0, 1.0, 0.0)
    *_, gru = tiny("gru", "copy")
    update = charts.gate_heatmap(gru.gates[0]["z"][0], "z", "gru")
    assert "z — update gate" in layout(update)["title"]["text"]
    assert traces(update)[0]["zmid"] == 0.5
    new_state = traces(charts.gate_heatmap(gru.gates[0]["n"][0], "n", "gru"))[0]
    assert (new_state["zmin"], new_state["zmax"], new_state["zmid"]) == (-1.0, 1.0, 0.0)


def test_gate_means_draw_one_mean_line_per_gate_with_bands():
    *_, tr = tiny("gru", "adding")
    gates = {name: values[0] for name, values in tr.gates[0].items()}
    fig = charts.gate_means(gates, "gru")
    means = [t for t in traces(fig) if t.get("showlegend") is not False]
    assert [t["name"] for t in means] == ["r — reset gate", "z — update gate",
                                          "n — candidate (new state)"]
    np.testing.assert_allclose(means[1]["y"], gates["z"].mean(axis=1), rtol=1e-6)
    bands = [t for t in traces(fig) if t.get("fill") == "tonexty"]
    assert len(bands) == 3
    np.testing.assert_allclose(bands[0]["y"], np.percentile(gates["r"], 10, axis=1),
                               rtol=1e-6)
    assert layout(fig)["xaxis"]["title"]["text"] == charts.TIME_AXIS
    no_band = charts.gate_means(gates, "gru", band=False)
    assert len(traces(no_band)) == 3
    assert "has no gates" in annotation_texts(charts.gate_means({}, "rnn"))[0]


def test_saturation_scatter_counts_every_unit_of_every_sigmoid_gate_once():
    *_, tr = tiny("lstm", "parity")
    saturation = {name: gate_saturation(values) for name, values in tr.gates[0].items()}
    fig = charts.saturation_scatter(saturation)
    names = [t["name"] for t in traces(fig)]
    assert not any(name.startswith("g ") for name in names)  # tanh candidate skipped
    left, right = saturation["f"]
    forget = by_name(fig, "f — forget gate")
    counted = {}
    for x, y, (count, units) in zip(forget["x"], forget["y"], forget["customdata"]):
        units = [int(u) for u in str(units).split(",")]
        assert count == len(units)
        for unit in units:  # each unit sits in the marker of its bin
            counted[unit] = counted.get(unit, 0) + 1
            assert abs(left[unit] - x) <= 0.05 + 1e-9 and abs(right[unit] - y) <= 0.05 + 1e-9
    assert counted == {unit: 1 for unit in range(TINY["hidden_size"])}
    assert "unit" in forget["hovertemplate"] or "unit" in forget["hovertext"][0]
    diagonals = [t for t in traces(fig) if t["name"].startswith("x + y = 1")]
    assert len(diagonals) == 3 and all(d["x"] == [0, 1] and d["y"] == [1, 0] for d in diagonals)
    lay = layout(fig)
    assert lay["xaxis"]["range"] == [-0.12, 1.12] and lay["yaxis"]["range"] == [-0.12, 1.12]


# ---------------------------------------------------------------- gradients


def test_gradient_profile_reference_line_is_rho_to_the_distance():
    grad = np.array([0.2, 0.3, 0.25, 0.4, 0.5, 0.6])
    rho = 0.93
    fig = charts.gradient_profile(grad, rho)
    assert layout(fig)["yaxis"]["type"] == "log"
    assert layout(fig)["xaxis"]["title"]["text"] == charts.TIME_AXIS
    reference = by_name(fig, "c·ρ^(T−1−t)")
    t = np.arange(len(grad))
    np.testing.assert_allclose(reference["y"], grad[-1] * rho ** (len(grad) - 1 - t))
    assert "0.93" in reference["name"] and reference["line"]["dash"] == "dash"
    assert len(traces(charts.gradient_profile(grad, None))) == 1
    assert len(traces(charts.gradient_profile(grad, 0.0))) == 1


def test_gradient_profile_floors_zeros_and_keeps_nan_as_gaps():
    grad = np.array([0.0, 1e-3, np.nan, 1e-2, 0.1])
    measured = traces(charts.gradient_profile(grad, 0.5))[0]
    y = np.asarray(measured["y"], dtype=float)
    assert y[0] == 1e-3 and np.isnan(y[2])  # floored to the smallest positive value
    assert measured["hovertext"][0].startswith("0 (drawn at")
    # a far-away reference would squash the measured curve: points beyond 100x are dropped
    steep = by_name(charts.gradient_profile(np.full(50, 1.0), 0.5), "c·ρ")
    kept = np.asarray(steep["y"], dtype=float)
    assert np.isnan(kept[0]) and kept[-1] == 1.0
    assert np.nanmin(kept) >= 1.0 / 100


def test_gradient_profile_of_a_real_trace():
    run, *_, tr = tiny("rnn", "adding")
    profile = tr.grad_h[0].mean(axis=0)
    radius = recurrent_spectra(run.model)[0].spectral_radius
    fig = charts.gradient_profile(profile, radius)
    np.testing.assert_allclose(traces(fig)[0]["y"], profile, rtol=1e-6)
    reference = np.asarray(traces(fig)[1]["y"], dtype=float)
    expected = profile[-1] * radius ** (len(profile) - 1 - np.arange(len(profile)))
    shown = ~np.isnan(reference)
    np.testing.assert_allclose(reference[shown], expected[shown], rtol=1e-6)


def test_gradient_profile_bound_and_rate_start_at_the_last_step_of_the_bounded_profile():
    total = np.array([3.0, 2.5, 2.0, 1.5, 1.0])  # a many-to-many total: grows backwards
    alone = np.array([0.1, 0.2, 0.4, 0.7, 1.0])  # the last step's loss alone
    sigma, rho = 1.5, 0.8
    fig = charts.gradient_profile(total, rho, sigma_max=sigma, last_loss=alone,
                                  activation="relu")
    distance = len(total) - 1 - np.arange(len(total))
    np.testing.assert_allclose(by_name(fig, "last step's loss alone")["y"], alone)
    bound = by_name(fig, "upper bound")
    np.testing.assert_allclose(bound["y"], alone[-1] * sigma ** distance)
    assert np.all(np.asarray(bound["y"]) >= alone)  # what it bounds, it bounds
    assert bound["line"]["dash"] == "dot" and "1.50" in bound["name"]
    assert "relu" in bound["hovertemplate"]
    rate = by_name(fig, "c·ρ^(T−1−t)")
    np.testing.assert_allclose(rate["y"], alone[-1] * rho ** distance)
    name = rate["name"].replace("<br>", " ")  # a long legend entry wraps
    assert "not a bound" in name and "linear RNN" in name
    # a last step with no gradient: nothing for a line to start from
    assert len(traces(charts.gradient_profile(np.array([1.0, 0.0]), 0.9, sigma_max=1.2))) == 1


def test_compare_gradient_chart_one_log_line_per_cell():
    profiles = {cell: tiny(cell, "adding")[3].grad_h[0].mean(0) for cell in ("rnn", "lstm")}
    fig = charts.compare_gradient_chart(profiles)
    assert layout(fig)["yaxis"]["type"] == "log"
    assert [t["name"] for t in traces(fig)] == ["rnn", "lstm"]
    assert by_name(fig, "lstm")["line"]["color"] == charts.CELL_COLORS["lstm"]


def test_probe_heatmap_is_log10_of_the_probe_gradients():
    run, *_ = tiny("lstm", "adding")
    history = run.history
    fig = charts.probe_heatmap(history.probe_step, history.probe_grad)
    heat = traces(fig)[0]
    grad = history.probe_grad.astype(float)
    floored = np.where(grad > 0, grad, grad[grad > 0].min())
    np.testing.assert_allclose(heat["z"], np.log10(floored), rtol=1e-6)
    np.testing.assert_array_equal(heat["y"], history.probe_step)
    assert heat["colorscale"] == colorscale(charts.SEQUENTIAL)
    assert heat["colorbar"]["title"]["text"] == "‖∂L/∂h_t‖<br>(log scale)"
    decades = heat["colorbar"]["tickvals"]  # whole decades, labelled as powers of ten
    assert decades == list(range(heat["zmin"], heat["zmax"] + 1)) and len(decades) >= 2
    assert heat["colorbar"]["ticktext"][decades.index(-1)] == "10<sup>−1</sup>" \
        if -1 in decades else True
    lay = layout(fig)
    assert lay["xaxis"]["title"]["text"] == charts.TIME_AXIS
    assert lay["yaxis"]["title"]["text"] == "training step"
    assert lay["yaxis"]["autorange"] == "reversed"  # step 0, the initialization, on top
    zeros = traces(charts.probe_heatmap(np.array([0, 10]),
                                        np.array([[0.0, 1e-4], [1e-2, 1.0]])))[0]
    np.testing.assert_allclose(zeros["z"], [[-4, -4], [-2, 0]])
    empty = charts.probe_heatmap(np.zeros(0, dtype=int), np.zeros((0, 8)))
    assert "no snapshots yet" in annotation_texts(empty)


def test_parameter_grad_bars_keep_the_given_order_on_a_log_axis():
    run, x, y, _ = tiny("lstm", "adding")
    norms = parameter_gradient_norms(run.model, x, y)
    norms["unused"] = 0.0
    fig = charts.parameter_grad_bars(norms)
    bars = traces(fig)[0]
    assert bars["orientation"] == "h" and list(bars["y"]) == list(norms)
    assert layout(fig)["xaxis"]["type"] == "log"
    assert bars["x"][-1] == min(v for v in norms.values() if v > 0)  # zero floored
    assert bars["customdata"][-1] == "0"


def test_saliency_chart_draws_input_gradients():
    *_, tr = tiny("gru", "copy")
    fig = charts.saliency_chart(tr.grad_x[0])
    bars = traces(fig)[0]
    np.testing.assert_allclose(bars["y"], tr.grad_x[0], rtol=1e-6)
    assert layout(fig)["xaxis"]["title"]["text"] == charts.TIME_AXIS
    assert layout(charts.saliency_chart(tr.grad_x[0], log_y=True))["yaxis"]["type"] == "log"


# ---------------------------------------------------------------- weights and diagram


def test_singular_value_chart_lists_every_block():
    run, *_ = tiny("lstm", "sine")
    spectra = recurrent_spectra(run.model)
    fig = charts.singular_value_chart(spectra)
    blocks = [t for t in traces(fig) if t["name"].startswith("layer")]
    assert [t["name"].split(" (")[0] for t in blocks] == [f"layer 0 · {g}" for g in "ifgo"]
    np.testing.assert_allclose(blocks[1]["y"], spectra[1].singular_values)
    assert by_name(fig, "σ = 1")["y"] == [1.0, 1.0]
    top = max(s.spectral_radius for s in spectra)
    assert f"ρ = {top:.2f}" in layout(fig)["title"]["text"]
    rnn_fig = charts.singular_value_chart(recurrent_spectra(tiny("rnn", "sine")[0].model))
    assert traces(rnn_fig)[0]["name"].startswith("layer 0 (ρ")


@pytest.mark.parametrize("cell", ["rnn", "lstm", "gru"])
def test_unrolled_diagram_draws_the_chain(cell):
    fig = charts.unrolled_diagram(steps=4, cell=cell)
    texts = annotation_texts(fig)
    for t in range(4):
        assert any(text.startswith(f"h<sub>{t}</sub>") for text in texts)
        assert f"x<sub>{t}</sub>" in texts and f"ŷ<sub>{t}</sub>" in texts
    assert texts.count("W<sub>hh</sub>") == 4  # the self-loop and 3 links of the chain
    assert "=" in texts
    lay = layout(fig)
    assert lay["xaxis"]["visible"] is False and lay["yaxis"]["visible"] is False
    assert lay["yaxis"]["scaleanchor"] == "x"
    assert len([s for s in lay["shapes"] if s["type"] == "rect"]) == 3 * 5
    big = annotation_texts(charts.unrolled_diagram(steps=50))
    assert any(text.startswith("h<sub>7</sub>") for text in big)  # clamped to 8 steps
    assert not any(text.startswith("h<sub>8</sub>") for text in big)


# ---------------------------------------------------------------- the shared look


def _all_figures() -> list[go.Figure]:
    run, x, y, tr = tiny("lstm", "copy")
    states = tr.hidden[0][0]
    result = pca(tr.hidden[0])
    gates = {name: values[0] for name, values in tr.gates[0].items()}
    return [
        charts.loss_curves(run.history, run.chance, "accuracy", True),
        charts.grad_norm_over_training(run.history, 1.0),
        charts.compare_loss_chart({"lstm": run.history}, run.chance),
        charts.sequence_panel(run.task, x[0].numpy(), y[0].numpy(), tr.prediction[0]),
        charts.state_heatmap(states, "h"),
        charts.unit_lines(states, [0, 1], "units"),
        charts.pca_trajectory(result.projected[0], result.explained),
        charts.gate_heatmap(gates["o"], "o", "lstm"),
        charts.gate_means(gates, "lstm"),
        charts.saturation_scatter({n: gate_saturation(v) for n, v in tr.gates[0].items()}),
        charts.gradient_profile(tr.grad_h[0].mean(0), 0.9),
        charts.compare_gradient_chart({"lstm": tr.grad_h[0].mean(0)}),
        charts.probe_heatmap(run.history.probe_step, run.history.probe_grad),
        charts.parameter_grad_bars(parameter_gradient_norms(run.model, x, y)),
        charts.saliency_chart(tr.grad_x[0]),
        charts.singular_value_chart(recurrent_spectra(run.model)),
        charts.unrolled_diagram(),
    ]


def test_every_figure_shares_the_house_style():
    white = decoded(pio.templates["plotly_white"].to_plotly_json())
    for fig in _all_figures():
        lay = layout(fig)
        assert lay["template"] == white
        assert lay["title"]["text"]
        assert 250 <= lay["height"] <= 700
        assert lay["margin"]["l"] >= 10 and lay["margin"]["t"] >= 50
        legend_entries = [t for t in traces(fig) if t.get("showlegend") is not False]
        assert lay["showlegend"] == (len(legend_entries) > 1), lay["title"]["text"]
        for key, axis in lay.items():
            if key.startswith(("xaxis", "yaxis")) and axis.get("visible", True):
                assert axis["title"]["text"], (lay["title"]["text"], key)
        for t in traces(fig):
            assert t.get("hovertemplate") or t.get("hoverinfo") == "skip", t.get("name")
        for t in traces(fig):
            if t["type"] == "heatmap":
                assert t["colorbar"]["title"]["text"]
        fig.to_json()


def test_charts_never_import_streamlit():
    imported = set()
    for path in Path(charts.__file__).parent.glob("*.py"):  # every module of the package
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                imported |= {alias.name.split(".")[0] for alias in node.names}
            elif isinstance(node, ast.ImportFrom) and node.module:
                imported.add(node.module.split(".")[0])
    assert "streamlit" not in imported
    assert {"plotly", "altair", "numpy"} <= imported


def test_live_loss_figure_is_a_light_dict_with_the_history():
    from rnnviz import RunConfig, train
    from rnnviz.charts import LIVE_POINTS, live_loss_figure
    run = train(RunConfig(seq_len=6, hidden_size=4, steps=900, eval_every=100, probe_every=300))
    figure = live_loss_figure(run.history, run.chance, "MSE")
    training, validation, chance = figure["data"]
    assert len(training["x"]) <= LIVE_POINTS and training["x"][-1] == 900
    assert training["y"][-1] == pytest.approx(float(run.history.loss[-1]))
    assert validation["x"] == list(range(100, 901, 100))
    assert chance["y"] == [run.chance.loss, run.chance.loss]
    assert figure["layout"]["yaxis"]["type"] == "log"
    assert go.Figure(figure).to_plotly_json()["data"]  # plotly accepts it as a figure


def test_the_over_training_heatmap_never_labels_a_step_that_was_not_probed():
    """Issue 20: its step axis read "training step -20" (plotly's ticks ran half a row past
    step 0) and its colour bar labelled every decade from 10 down to 1e-21, overlapping."""
    steps = np.arange(0, 441, 40)
    profile = np.logspace(-22, 1, 30)  # 23 decades from the first time step to the last
    grads = np.tile(profile, (len(steps), 1))
    fig = charts.probe_heatmap(steps, grads)
    yaxis = fig.layout.yaxis
    assert yaxis.tickmode == "array" and len(yaxis.tickvals) <= 6
    assert set(yaxis.tickvals) <= set(steps.tolist()) and min(yaxis.tickvals) == 0
    assert yaxis.tickvals[-1] == steps[-1]
    colorbar = fig.data[0].colorbar
    assert 2 <= len(colorbar.tickvals) <= 6
    assert colorbar.tickvals[-1] == 1 and colorbar.tickvals[0] >= -22  # the decades it spans


@pytest.mark.parametrize("task", ["adding", "sine"])
def test_the_chance_number_on_the_chart_is_the_captions(task):
    """The chart's "chance 0.150" beside a caption's "1/6 ≈ 0.167" read as two chance levels:
    the caption (``Chance.how``) now leads with the validation set's number, printed as the
    chart prints it."""
    run, *_ = tiny("lstm", task)
    fig = charts.loss_curves(run.history, run.chance, "MSE", higher_is_better=False)
    label = next(text for text in annotation_texts(fig) if text.startswith("chance "))
    number = label.removeprefix("chance ")
    assert float(number) == pytest.approx(run.chance.metric, abs=5e-4)
    assert f"scores {number} here" in run.chance.how
