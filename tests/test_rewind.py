"""Watching the network learn: the Playground's live inside view while a run trains, and the
"Training step" slider of every inside page (AppTest, with real training)."""

from __future__ import annotations

import json
import re
import time

import numpy as np
import pytest
import torch

from rnnviz import trace
from rnnviz.app import classroom, rewind
from rnnviz.core.tasks import probe_batch, validation_set
from tests.apptest import TINY, decode_plotly, open_app, press, set_widgets, wait_for_run

INSIDE = ["pages/hidden_states.py", "pages/gates.py", "pages/gradients.py",
          "pages/step_through.py"]


def _figures(at) -> dict[str, dict]:
    return {chart.proto.id.split("-", 2)[-1]: decode_plotly(json.loads(chart.proto.spec))
            for chart in at.get("plotly_chart")}


def _trained(cell="lstm", **config):
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "cell": cell, "steps": 60, "probe_every": 20, **config})
    press(at, "Train")
    return at, wait_for_run(at)


def _values(figures: dict) -> list[np.ndarray]:
    """Every trace's drawn numbers (a heatmap's z, a line's or bar's y), figure by figure."""
    out = []
    for key in sorted(figures):
        for t in figures[key]["data"]:
            values = t.get("z", t.get("y"))
            if values is not None and not isinstance(values, str):
                try:
                    out.append(np.asarray(values, dtype=float))
                except (TypeError, ValueError):  # text traces
                    continue
    return out


@pytest.mark.parametrize("page", INSIDE)
def test_every_inside_page_rewinds_to_the_first_snapshot(page):
    at, run = _trained()
    assert run.snapshot_steps == [0, 20, 40, 60]
    at.switch_page(page).run()
    assert not at.exception
    slider = next(s for s in at.get("select_slider") if s.key == rewind.STEP)
    assert slider.value == 60  # opens on the weights the run ended with
    last = _figures(at)
    slider.set_value(0).run()
    assert not at.exception
    first = _figures(at)
    assert first and set(first) == set(last)
    titles = [f["layout"].get("title", {}).get("text", "") for f in first.values()]
    assert any("step 0, before training" in title for title in titles)
    # the charts of the model changed: some drawn numbers differ between step 0 and 60
    assert any(a.shape != b.shape or not np.allclose(a, b, equal_nan=True)
               for a, b in zip(_values(first), _values(last), strict=False))


def test_the_rewound_hidden_states_are_the_snapshots_own():
    at, run = _trained(cell="gru")
    at.switch_page("pages/hidden_states.py").run()
    next(s for s in at.get("select_slider") if s.key == rewind.STEP).set_value(20).run()
    x, y = probe_batch(run.config)
    expected = trace(run.model_at(20), x, y).hidden[0][0]  # example 0, [T, H]
    heatmap = next(t for f in _figures(at).values() for t in f["data"]
                   if t.get("type") == "heatmap" and "h_t" in str(f["layout"]["title"]))
    np.testing.assert_allclose(np.asarray(heatmap["z"], dtype=float), expected.T, atol=1e-6)


def test_a_gates_notch_finds_its_charts_built_ahead_and_they_are_that_steps_own():
    """The Gates page builds the charts of the snapshots next to the one shown ahead, in the
    background (issue 20: a notch waited for six plotly figures to be built); a notch then
    draws those, and they are the model's at that step: the forget gate heatmap is the gate
    of ``run.model_at(step)`` traced by the engine."""
    at, run = _trained()
    at.switch_page("pages/gates.py").run()
    assert not at.exception
    before = rewind.run_at(run, 40)  # the snapshot left of the run's end (60)
    pending = [value for key, value in before.cache.items() if key[0] == rewind.PENDING]
    assert pending, sorted(map(str, before.cache))
    for future in pending:
        future.result(timeout=60)
    assert any(str(key).startswith("gates-figures-") for key in before.cache), \
        sorted(map(str, before.cache))
    next(s for s in at.get("select_slider") if s.key == rewind.STEP).set_value(40).run()
    assert not at.exception
    figures = _figures(at)
    x, y = probe_batch(run.config)
    forget = trace(run.model_at(40), x, y).gates[0]["f"][0]  # example 0, [T, H]
    heatmap = figures["gate_f"]
    assert "step 40" in heatmap["layout"]["title"]["text"]
    np.testing.assert_allclose(np.asarray(heatmap["data"][0]["z"], dtype=float), forget.T,
                               atol=1e-6)


def test_the_slider_labels_say_the_step_and_the_loss_there():
    """The loss of the weights shown: ``model_at(40)`` on the validation set, by hand (the
    training loss recorded at step 40 was computed before its update; tests/test_rewind_label.py
    has the rest)."""
    at, run = _trained()
    at.switch_page("pages/gates.py").run()
    slider = next(s for s in at.get("select_slider") if s.key == rewind.STEP)
    slider.set_value(40).run()
    x, y = validation_set(run.config)
    with torch.no_grad():
        loss = float(((run.model_at(40)(x) - y) ** 2).mean())
    titles = [f["layout"]["title"]["text"] for f in _figures(at).values()]
    stated = [re.search(r"step 40, validation loss ([-+.e\d]+)", title) for title in titles]
    assert titles and all(stated)
    assert all(float(found[1]) == pytest.approx(loss, rel=5e-3) for found in stated)


def test_play_starts_from_the_first_snapshot_and_pause_stops():
    at, run = _trained()
    at.switch_page("pages/gradients.py").run()
    next(b for b in at.button if b.key == "train_step_play").click().run()
    assert not at.exception
    assert at.session_state[rewind.PLAYING] and at.session_state[rewind.STEP] == 0
    titles = [f["layout"]["title"]["text"] for f in _figures(at).values()]
    assert any("step 0, before training" in title for title in titles)
    pause = next(b for b in at.button if b.key == "train_step_play")
    assert pause.label == "Pause"
    pause.click().run()
    assert not at.session_state[rewind.PLAYING]


def test_the_playground_shows_the_inside_live_while_it_trains():
    at = open_app()
    at.switch_page("pages/playground.py").run()
    set_widgets(at, **{**TINY, "steps": 100_000, "probe_every": 50, "seed": 4242})
    press(at, "Train")
    seen: list[dict] = []
    deadline = time.time() + 90
    while time.time() < deadline and len(seen) < 2:
        time.sleep(0.6)
        at.run()
        assert not at.exception
        job = at.session_state["job"] if "job" in at.session_state else None
        if job is None:
            run = at.session_state["run"] if "run" in at.session_state else None
            notices = [e.value for kind in ("error", "info", "warning") for e in at.get(kind)]
            raise AssertionError(
                "the job ended before the live view showed two snapshots: run "
                f"{run.history.stop_reason if run else None!r}, page says {notices}")
        figures = _figures(at)
        boards = [f for key, f in figures.items() if "live_board" in key]
        if boards:  # one figure: the loss and every inside panel of one snapshot
            board = boards[0]
            title = board["layout"]["title"]["text"]
            if "at step" in title and (not seen or title != seen[-1]["layout"]["title"]["text"]):
                seen.append(board)
            panels = " ".join(a["text"] for a in board["layout"]["annotations"])
            assert "Hidden states" in panels and "‖∂L/∂h_t‖" in panels
            assert "Gradient over training" in panels
            assert "f gate" in panels  # an LSTM: its forget gate
    press(at, "Stop")
    assert len(seen) == 2, "the live view showed two different snapshots"
    first, second = (np.asarray(next(t for t in s["data"] if t["type"] == "heatmap")["z"],
                                 dtype=float) for s in seen)
    assert not np.allclose(first, second)  # the network changed while it trained


def test_the_live_view_is_at_projector_size_in_classroom_mode_and_only_there():
    """Two sessions watch one job: the teacher's, switched to classroom mode while it trains,
    and a student's at a desk. The live figures are built once for both (cached per snapshot),
    so the projector's sizes must go on a copy."""
    config = {**TINY, "steps": 100_000, "probe_every": 20, "seed": 4243}
    teacher, student = open_app(), open_app()
    for at in (teacher, student):
        at.switch_page("pages/playground.py").run()
        set_widgets(at, **config)
        press(at, "Train")
    next(t for t in teacher.toggle if t.key == "classroom_toggle").set_value(True).run()

    def live(at):
        at.run()
        assert not at.exception
        figures = _figures(at)
        return figures if any("live_board" in key for key in figures) else None

    try:
        for at, font, tick in ((teacher, classroom.FIGURE_FONT_PX, classroom.TICK_FONT_PX),
                               (student, None, None)):
            deadline = time.time() + 90
            while (figures := live(at)) is None:
                assert time.time() < deadline, "no live view"
                time.sleep(0.5)
            for key, figure in figures.items():
                if "live_board" not in key:
                    continue
                layout = figure["layout"]
                assert layout.get("legend", {}).get("font", {}).get("size") == font, key
                assert layout["xaxis"].get("tickfont", {}).get("size") == tick, key
    finally:
        press(student, "Stop")
        if any(b.label == "Stop" and not b.disabled for b in teacher.button):
            press(teacher, "Stop")
