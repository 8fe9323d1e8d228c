"""The Compare page (issue 20, items 3 and 9), through AppTest: the copy lag is offered only
for the copy task, the tasks and cells read as names, no fixed duration is promised, and each
cell's loss curve is drawn while the set trains, from the runs' own histories."""

import json

import numpy as np

from tests.apptest import decode_plotly, open_app, plain


def _compare():
    at = open_app()
    at.switch_page("pages/compare.py").run()
    assert not at.exception
    return at


def _keys(at) -> set[str]:
    return {w.key for w in at.number_input}


def test_the_copy_lag_is_offered_only_for_the_copy_task():
    at = _compare()
    task = next(w for w in at.selectbox if w.key == "cmp_task")
    assert "Adding problem" in task.options and "adding" not in task.options
    assert task.value == "adding"
    assert "cmp_lag" not in _keys(at) and "cmp_seq_len" in _keys(at)
    task.set_value("copy").run()
    assert not at.exception
    assert "cmp_lag" in _keys(at)
    next(w for w in at.selectbox if w.key == "cmp_task").set_value("parity").run()
    assert "cmp_lag" not in _keys(at)


def test_no_fixed_duration_is_promised_and_the_curves_are_drawn_while_training():
    at = _compare()
    words = " ".join(e.value for e in (*at.info, *at.markdown, *at.caption))
    assert "a few seconds" not in words and "seconds" not in words
    for key, value in (("cmp_seq_len", 20), ("cmp_hidden", 8), ("cmp_steps", 1500),
                       ("cmp_seed", 7)):
        next(w for w in at.number_input if w.key == key).set_value(value)
    next(w for w in at.multiselect if w.key == "cmp_cells").set_value(["rnn", "gru"])
    next(b for b in at.button if b.label == "Train the set").click()
    at.run(timeout=300)
    assert not at.exception
    result = at.session_state["compare_result"]
    runs = result["runs"]
    assert [r.config.steps for r in runs] == [1500, 1500]
    # drawn while training: at least one drawing with a cell part-way through its steps
    live = result["live_steps"]
    assert live and any(0 < steps < 1500 for drawing in live for steps in drawing.values()), \
        live
    # and the final chart is the runs' own losses
    chart = next(decode_plotly(json.loads(c.proto.spec)) for c in at.get("plotly_chart")
                 if plain(decode_plotly(json.loads(c.proto.spec))["layout"]["title"]["text"])
                 .startswith("Training loss by cell"))
    lines = {t["name"]: t for t in chart["data"]}
    np.testing.assert_allclose(lines["GRU"]["y"], runs[1].history.loss, rtol=1e-6)
