"""Classroom mode's figures and what a lesson marks on its chart (AppTest)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import torch

from rnnviz.app import state
from rnnviz.app.classroom import FIGURE_FONT_PX, TICK_FONT_PX
from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.studies.lessons import LESSONS
from tests.apptest import open_app

TINY_GRU = RunConfig(cell="gru", seq_len=8, hidden_size=6, steps=30, eval_every=10,
                     probe_every=10, device="cpu")


def _figures(at) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _open_with_run(query: dict, page: str):
    run = train(TINY_GRU)
    state.registry().cache.put(run)
    at = open_app({**query, **{k: str(v) for k, v in TINY_GRU.to_dict().items()
                               if v is not None}})
    at.session_state["run"] = run
    at.switch_page(page).run()
    assert not at.exception
    return at


def test_classroom_figures_carry_projector_sized_legends_and_ticks():
    at = _open_with_run({"classroom": "1"}, "pages/gates.py")
    figures = _figures(at)
    assert figures
    for figure in figures:
        layout = figure["layout"]
        assert layout["legend"]["font"]["size"] == FIGURE_FONT_PX
        assert layout["xaxis"]["tickfont"]["size"] == TICK_FONT_PX
        assert layout["yaxis"]["tickfont"]["size"] == TICK_FONT_PX


def test_figures_at_the_desk_keep_plotlys_sizes():
    at = _open_with_run({}, "pages/gates.py")
    for figure in _figures(at):
        assert "font" not in figure["layout"].get("legend", {})


def test_lesson_4_marks_the_measured_carrying_unit_on_the_forget_gate():
    lesson = LESSONS["lstm"]
    at = open_app()
    at.switch_page("pages/lessons.py").run()
    at.button(key="start_lstm").click().run()
    deadline = time.time() + 240
    while not (len(at.title) and at.title[0].value == "Gates"):
        assert not at.exception and time.time() < deadline, "lesson 4 did not open"
        time.sleep(0.3)
        at.run()
    at.switch_page("pages/gates.py").run()  # AppTest reruns the page it was last sent to
    assert not at.exception
    runs = {label: state.registry().lookup(cfg) for label, cfg in lesson.runs}
    carrier = int(lesson.outcome(runs).numbers["carrier"])  # what the lesson measured
    figures = _figures(at)
    forget = next(f for f in figures if "forget gate" in f["layout"]["title"]["text"])
    shapes = forget["layout"]["shapes"]
    assert len(shapes) == 1 and shapes[0]["y0"] < carrier < shapes[0]["y1"]
    assert shapes[0]["y1"] - shapes[0]["y0"] < 2  # that row, not its neighbours' too
    texts = [a["text"] for a in forget["layout"]["annotations"]]
    assert any(f"unit {carrier} carries the first number" in t for t in texts)
    others = [a.get("text", "") for f in figures if f is not forget
              for a in f["layout"].get("annotations", [])]
    assert not any("carries the first number" in t for t in others)  # only the chart it names

    # the same run outside the lesson: nothing marked
    at.session_state["lesson_active"] = None
    at.run()
    forget = next(f for f in _figures(at) if "forget gate" in f["layout"]["title"]["text"])
    assert not forget["layout"].get("shapes")


def test_lesson_6_marks_the_first_snapshot_row_and_only_that_row():
    from rnnviz import charts
    from rnnviz.app import lesson_marks
    run = train(TINY_GRU)
    marks = lesson_marks.lesson_marks(LESSONS["init"], {}, run)
    assert [m.chart for m in marks] == ["probe"]  # the heatmap "over training" it names
    figure = charts.probe_heatmap(run.history.probe_step, run.history.probe_grad)
    lesson_marks.draw(figure, marks)
    shape = figure.layout.shapes[-1]
    first, second = run.history.probe_step[:2]
    assert shape.y0 < first < shape.y1 < second  # step 0's row, not the next snapshot's
    assert "training step 0" in figure.layout.annotations[-1].text


def test_classroom_enlarges_the_altair_chart_too():
    at = _open_with_run({"classroom": "1"}, "pages/hidden_states.py")
    specs = [json.loads(chart.proto.spec) for chart in at.get("vega_lite_chart")]
    assert specs, "the brushed unit lines are drawn"
    config = specs[0]["config"]
    assert config["axis"]["labelFontSize"] == TICK_FONT_PX
    assert config["legend"]["labelFontSize"] == TICK_FONT_PX


# ---------------------------------------------------------------- issue 20, item 6


def _colour_bars(figure: dict) -> list[dict]:
    """The colour bars a figure draws: a heatmap's unless hidden, a marker's when shown."""
    bars = [t.get("colorbar", {}) for t in figure["data"]
            if t.get("type") == "heatmap" and t.get("showscale") is not False]
    bars += [t["marker"].get("colorbar", {}) for t in figure["data"]
             if (t.get("marker") or {}).get("showscale")]
    return bars


def test_classroom_colour_bars_read_like_the_axes():
    """A colour bar's ticks and title at the axes' projector sizes (they were plotly's 12 px
    beside 16 px axes); at a desk they keep plotly's."""
    at = _open_with_run({"classroom": "1"}, "pages/gates.py")
    bars = [bar for figure in _figures(at) for bar in _colour_bars(figure)]
    assert bars, "the gate heatmaps draw colour bars"
    for bar in bars:
        assert bar["tickfont"]["size"] == TICK_FONT_PX
        if bar.get("title", {}).get("text"):
            assert bar["title"]["font"]["size"] == FIGURE_FONT_PX
    at = _open_with_run({}, "pages/gates.py")
    for figure in _figures(at):
        for bar in _colour_bars(figure):
            assert "size" not in bar.get("tickfont", {})


def test_classroom_sizes_a_plain_figure_dicts_colour_bars_on_a_copy():
    from rnnviz.app import projector
    heat = {"type": "heatmap", "z": [[0, 1]], "colorbar": {"title": {"text": "h_t"}}}
    given = {"data": [heat], "layout": {"title": {"text": "t"}}}
    sized = projector.sized(given)
    assert sized["data"][0]["colorbar"]["tickfont"]["size"] == TICK_FONT_PX
    assert sized["data"][0]["colorbar"]["title"]["font"]["size"] == FIGURE_FONT_PX
    assert "tickfont" not in heat["colorbar"]  # the cached figure itself is untouched


def _steps_named(text: str) -> list[int]:
    return [int(t) for t in re.findall(r"t = (\d+)", text)]


def test_lesson_1_marks_the_steps_its_question_names_on_the_sequence_chart():
    from rnnviz import charts
    from rnnviz.app import lesson_marks
    from rnnviz.studies.lessons import SINE
    lesson = LESSONS["recurrence"]
    named = sorted(set(_steps_named(lesson.question)))
    assert named == [0, 2]  # the oracle: what the question asks the class about
    run = train(SINE.replace(steps=20, eval_every=10, probe_every=10))
    marks = lesson_marks.lesson_marks(lesson, {}, run)
    assert {m.chart for m in marks} == {lesson_marks.REFERRED_CHART["recurrence"]}
    task, x, y = run.task, *run.task.sample(1, SINE.seq_len, torch.Generator().manual_seed(0))
    figure = charts.sequence_panel(task, x[0].numpy(), y[0].numpy(), y[0].numpy())
    lesson_marks.draw(figure, marks)
    columns = [(s.x0, s.x1) for s in figure.layout.shapes if s.xref == "x"]
    assert len(columns) == len(named)
    for step, (x0, x1) in zip(named, sorted(columns)):
        assert x0 < step < x1 and x1 - x0 <= 1  # that step's column alone
    labels = " ".join(a.text for a in figure.layout.annotations)
    assert sorted(set(_steps_named(labels))) == named


def test_lesson_2_marks_where_the_first_marked_number_can_be():
    """The band is where the adding task put the first marker, over many sampled sequences,
    at both of the lesson's lengths; its label says the steps its question says."""
    from rnnviz import charts
    from rnnviz.app import lesson_marks
    lesson = LESSONS["vanishing"]
    for _, cfg in lesson.runs:
        run = train(cfg.replace(steps=5, eval_every=5, probe_every=5))
        x, _ = run.task.sample(4096, cfg.seq_len, torch.Generator().manual_seed(1))
        first = x[:, :, 1].argmax(dim=1)  # the first step whose marker is 1
        [band] = lesson_marks.lesson_marks(lesson, {}, run)
        assert band.chart == lesson_marks.REFERRED_CHART["vanishing"] and band.axis == "x"
        figure = charts.gradient_profile(np.ones(cfg.seq_len), None)
        lesson_marks.draw(figure, [band])
        shape = figure.layout.shapes[-1]
        assert shape.x0 == int(first.min()) - 0.5 and shape.x1 == int(first.max()) + 0.5
        assert f"steps {int(first.min())}–{int(first.max())}" in figure.layout.annotations[-1].text
        if cfg.seq_len == 50:
            assert f"steps {int(first.min())}–{int(first.max())}" in lesson.question
