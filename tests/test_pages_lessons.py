"""The Lessons, Forecasting and Text pages and classroom mode, through Streamlit's AppTest."""

import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.app import state
from rnnviz.core.config import RunConfig
from rnnviz.core.train import train
from rnnviz.studies.generate import generate_text
from rnnviz.studies.lessons import CLIPPED, EXPLODING, LESSONS, SINE
from tests.apptest import decode_plotly, open_app
from tests.conftest import ROOT

_app = open_app
CLASSROOM_MARK = "[data-testid=\"stMetricValue\"]"  # a rule of the classroom CSS


def _title(at: AppTest) -> str:
    return at.title[0].value if len(at.title) else ""


def _texts(at: AppTest) -> str:
    return "\n".join(m.value for m in at.markdown)


def _figures(at: AppTest) -> list[dict]:
    return [json.loads(chart.proto.spec) for chart in at.get("plotly_chart")]


def _array(value) -> np.ndarray:
    """A plotly JSON array: a list, or plotly's typed-array encoding {dtype, bdata, shape}."""
    array = decode_plotly(value)
    return array if isinstance(array, np.ndarray) else np.asarray(array, dtype=np.float64)


def _wait_until(at: AppTest, done, timeout: float = 90) -> None:
    deadline = time.time() + timeout
    while not done(at):
        assert not at.exception, at.exception
        assert time.time() < deadline, "timed out"
        time.sleep(0.3)
        at.run()


def test_lessons_page_offers_every_lesson_one_click_away():
    at = _app()
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    keys = {b.key for b in at.button}
    assert {f"start_{key}" for key in LESSONS} <= keys
    for lesson in LESSONS.values():
        assert lesson.title in _texts(at)


def test_one_click_trains_opens_the_page_and_switches_runs():
    at = _app()
    at.switch_page("pages/lessons.py").run()
    at.button(key="start_exploding").click().run()
    _wait_until(at, lambda a: _title(a) != "Lessons")  # trains both runs, then switch_page
    assert _title(at) == "Playground"
    texts = _texts(at)
    assert "Lesson 3 · Exploding gradients and clipping" in texts
    assert "**Ask the class:**" in texts and "**Look at:**" in texts
    assert any("The run exploded" in e.value for e in at.error)  # the app explains it
    assert at.session_state["run"].config == EXPLODING
    # the lesson's configuration is in the Playground's widgets
    for name in ("optimizer", "lr", "recurrent_scale", "clip", "task"):
        assert at.session_state[name] == getattr(EXPLODING, name)
    assert state.registry().cache.get(CLIPPED.key) is not None  # the other run trained too

    # AppTest reruns the page it was last sent to: go to the lesson's page as the browser did
    at.switch_page("pages/playground.py").run()
    switch = next(s for s in at.get("segmented_control") if s.key == "lesson_run")
    switch.set_value("clipping at 1").run()
    assert not at.exception
    assert at.session_state["run"].config == CLIPPED
    assert at.session_state["clip"] == 1.0
    assert not any("The run exploded" in e.value for e in at.error)

    # the notes show what the runs measured, with charts
    at.query_params["lesson"] = "exploding"
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    texts = _texts(at)
    assert "blew up after" in texts and "trains to a validation MSE" in texts
    titles = [f["layout"]["title"]["text"] for f in _figures(at)]
    assert "Training loss with and without clipping" in titles
    # the claim held: no "did not show the lesson's claim" warning (the link popover may warn
    # that a localhost link opens for nobody else)
    assert not [w for w in at.warning if "lesson's claim" in w.value]
    assert any("/lessons?lesson=exploding" in c.value for c in at.code)


def test_a_lesson_opens_when_the_cache_has_already_evicted_its_runs():
    """A busy server's cache may drop a lesson's run before the page looks for it: the page
    opens with the run its own job trained, and does not wait for ever."""
    cache = state.registry().cache
    keep = cache.max_entries
    cache.max_entries = 0  # every run put is evicted at once
    try:
        at = _app()
        at.switch_page("pages/lessons.py").run()
        at.button(key="start_vanishing").click().run()
        _wait_until(at, lambda a: _title(a) != "Lessons", timeout=180)
        assert _title(at) == "Gradients through time"
        assert cache.get(LESSONS["vanishing"].runs[1][1].key) is None  # it really was evicted
        assert "Lesson 2 · Vanishing gradients" in _texts(at)
    finally:
        cache.max_entries = keep


def test_a_pretrained_lesson_opens_at_once():
    run = train(SINE)
    state.registry().cache.put(run)  # what the pre-training CLI leaves on a server
    at = _app({"lesson": "recurrence"})
    at.switch_page("pages/lessons.py").run()
    assert "opens at once" in "\n".join(c.value for c in at.caption)
    at.button(key="start_detail_recurrence").click().run()
    assert _title(at) == "Hidden states"  # no training, no waiting
    assert at.session_state["run"] is run
    assert "Lesson 1 · What recurrence buys" in _texts(at)


def test_classroom_mode_hides_the_form_and_enlarges():
    at = _app({"classroom": "1"})
    at.switch_page("pages/playground.py").run()
    assert not at.exception
    assert not any(b.label == "Train" for b in at.button)
    assert not at.get("selectbox")  # no configuration widgets
    assert any(CLASSROOM_MARK in m.value for m in at.markdown)
    toggle = next(t for t in at.toggle if t.key == "classroom_toggle")
    assert toggle.value is True
    toggle.set_value(False).run()
    assert any(b.label == "Train" for b in at.button)
    assert not any(CLASSROOM_MARK in m.value for m in at.markdown)


def test_student_link_is_the_configuration_outside_a_lesson():
    at = _app({"cell": "gru", "seq_len": "30"})
    at.switch_page("pages/gradients.py").run()
    links = [c.value for c in at.code]
    assert any("/gradients?" in link and "cell=gru" in link and "seq_len=30" in link
               for link in links)


def test_forecast_page_trains_its_model_and_forecasts(monkeypatch):
    # the page offers rnnviz.studies.lessons.FORECASTER; a smaller one keeps this test quick
    tiny = RunConfig(task="sine", cell="lstm", seq_len=20, hidden_size=8, steps=40,
                     eval_every=20, probe_every=20, device="cpu")
    monkeypatch.setattr("rnnviz.studies.lessons.FORECASTER", tiny)
    at = _app()
    at.switch_page("pages/forecast.py").run()
    assert not at.exception
    assert any("needs a model trained on the **Sine-wave forecasting**" in i.value
               for i in at.info)
    at.button(key="train_preset_sine").click().run()
    _wait_until(at, lambda a: len(a.get("plotly_chart")) > 0)
    assert not at.exception
    figure = _figures(at)[0]
    names = [trace.get("name") for trace in figure["data"]]
    assert "forecast on its own predictions" in names and "truth (clean wave)" in names
    assert any(m.label == "Drifts out of the band after" for m in at.metric)
    assert at.session_state["run"].config == tiny


@pytest.fixture(scope="module")
def text_run():
    cfg = RunConfig(task="text", cell="lstm", seq_len=16, hidden_size=10, steps=30,
                    eval_every=10, probe_every=10, device="cpu")
    return train(cfg)


def test_text_page_generates_deterministically_and_colours_by_the_unit(text_run):
    at = AppTest.from_file(str(ROOT / "app.py"), default_timeout=90)
    at.session_state["run"] = text_run
    at.run()
    at.switch_page("pages/text.py").run()
    assert not at.exception
    next(n for n in at.number_input if n.key == "text_unit").set_value(3).run()
    next(n for n in at.number_input if n.key == "text_seed").set_value(7).run()
    grid = next(f for f in _figures(at) if f["layout"]["title"]["text"].startswith("Prompt"))
    expected = generate_text(text_run.model, "Monday. ", 240, 0.7, 7)
    cells = _array(grid["data"][0]["z"]).ravel()
    cells = cells[np.isfinite(cells)]  # the last row is padded with blanks
    np.testing.assert_allclose(cells, expected.hidden[:, 3], atol=1e-6)
    assert any(expected.generated.split("\n")[0] in m.value for m in at.markdown)
    # the finder ranks units and its button recolours the text by the best one
    ranking = next(f for f in _figures(at) if f["layout"]["title"]["text"].startswith("Units"))
    best = int(ranking["data"][0]["y"][0].split()[1])
    at.button(key="finder_use").click().run()
    assert at.session_state["text_unit"] == best
    # a prompt the model cannot read is explained, not a traceback
    next(t for t in at.text_input if t.key == "text_prompt").set_value("☃").run()
    assert not at.exception
    assert any("can't read this prompt" in w.value for w in at.warning)


def test_lessons_are_listed_in_teaching_order_whatever_the_width():
    """The list is built row by row: on a phone, where columns stack, the cards read 1..8 (two
    columns of four stacked into 1, 3, 5, 7, 2, 4, 6, 8). AppTest walks the page in the order a
    phone stacks it."""
    import re
    at = _app()
    at.switch_page("pages/lessons.py").run()
    assert not at.exception
    numbers = [int(m.group(1)) for m in (re.match(r"\*\*(\d+) · ", md.value)
                                         for md in at.markdown) if m]
    assert numbers == [lesson.number for lesson in LESSONS.values()] == \
        list(range(1, len(LESSONS) + 1))


def test_the_lesson_and_application_pages_promise_no_duration():
    """No fixed words like "a few seconds" (the text model's "about 10 seconds" took 54 s)."""
    import re
    promise = re.compile(r"\b(a few seconds|seconds\)|about \d+ seconds|\(seconds)", re.I)
    for page in ("pages/lessons.py", "pages/text.py", "pages/sentiment.py"):
        source = (ROOT / page).read_text()
        assert not promise.search(source), (page, promise.search(source).group(0))
    at = _app()
    at.switch_page("pages/lessons.py").run()
    texts = _texts(at) + " ".join(c.value for c in at.caption)
    assert not promise.search(texts)
