"""Classroom mode's figures and what a lesson marks on its chart (AppTest)."""

from __future__ import annotations

import json
import time

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
