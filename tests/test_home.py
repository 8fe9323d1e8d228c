"""Home opens on something working: a run trained on this server with its charts, and "things
to try" that are one click each (AppTest)."""

from __future__ import annotations

import json

import numpy as np

from rnnviz.app import state
from rnnviz.studies.recipes import EXPLODE, HOME_RUN, THINGS_TO_TRY
from tests.apptest import decode_plotly, open_app, wait_until


def _figures(at) -> dict[str, dict]:
    figures = {}
    for chart in at.get("plotly_chart"):
        spec = json.loads(chart.proto.spec)
        figures[spec["layout"]["title"]["text"]] = spec
    return figures


def test_home_shows_the_charts_of_a_real_run_trained_on_this_server():
    at = open_app()
    assert not at.exception
    wait_until(at, lambda a: any(t.startswith("Hidden state h_t of example 0")
                                 for t in _figures(a)), 120, "the Home run never appeared")
    assert not at.exception
    run = state.registry().lookup(HOME_RUN)
    assert run is not None and run.history.steps_done == HOME_RUN.steps  # a real, cached run
    figures = _figures(at)
    hidden = next(f for t, f in figures.items() if t.startswith("Hidden state h_t"))
    z = np.asarray(decode_plotly(hidden["data"][0]["z"]), dtype=np.float64)
    expected = state.run_trace(run, batch_id=0)[0].hidden[-1][0].T  # units x time
    np.testing.assert_allclose(z, expected, atol=1e-6)
    loss = next(f for t, f in figures.items() if t.startswith("Loss"))
    assert loss["data"], "the loss chart draws the run's history"
    texts = " ".join(m.value for m in at.markdown) + " ".join(s.value for s in at.success)
    assert "learned" in texts  # the verdict of that run
    assert "run" not in at.session_state or at.session_state["run"] is None  # Home took nothing


def test_every_thing_to_try_is_a_button():
    at = open_app()
    keys = {b.key for b in at.button}
    assert {f"try_{thing.key}" for thing in THINGS_TO_TRY} <= keys


def test_a_thing_to_try_sets_its_config_and_opens_its_page():
    at = open_app()
    at.button(key="try_explode").click().run()
    assert not at.exception
    assert at.title[0].value == "Playground"
    assert at.session_state["config"] == EXPLODE
    for name in ("cell", "recurrent_scale", "optimizer", "lr", "clip"):
        assert at.session_state[name] == getattr(EXPLODE, name), name
    wait_until(at, lambda a: a.session_state["run"] is not None
               if "run" in a.session_state else False, 120, "the run did not train")
    assert at.session_state["run"].config == EXPLODE
    assert any("The run exploded" in e.value for e in at.error)  # the effect, on that page


def test_look_inside_makes_the_home_run_current_and_opens_hidden_states():
    at = open_app()
    wait_until(at, lambda a: any(b.key == "home_inside" for b in a.button), 120)
    at.button(key="home_inside").click().run()
    assert not at.exception
    assert at.title[0].value == "Hidden states"
    assert at.session_state["run"] is state.registry().lookup(HOME_RUN)
