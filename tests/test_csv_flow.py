"""Your own CSV in the Playground as one flow (issue 20, item 8), through AppTest: an upload
(or an example) becomes the form's Task, shown by its name, with settings suited to forecasting
in place of whatever the form held (the overfitting lesson's 16 examples scored worse than
chance), and the form's one Train trains it, better than chance."""

import math

from rnnviz.core import csvdata
from rnnviz.core.tasks import chance_for
from tests.apptest import open_app, set_widgets, wait_for_run
from tests.conftest import ROOT


def _playground():
    at = open_app()
    at.switch_page("pages/playground.py").run()
    return at


def _select(at, key):
    return next(w for w in at.selectbox if w.key == key)


def _value(at, key):
    return next(w for kind in ("slider", "number_input", "selectbox") for w in at.get(kind)
                if w.key == key).value


def test_an_upload_becomes_the_forms_task_with_forecasting_settings_and_trains():
    at = _playground()
    # the form holds the overfitting lesson's text settings, as it did in the issue
    set_widgets(at, task="text", hidden_size=64, train_size=16, steps=300, lr=0.01)
    at.run()
    data = (ROOT / "assets" / "predator_prey.csv").read_bytes()
    dataset = csvdata.parse_csv(data)
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("CSV file"))
    uploader.set_value(("predator_prey.csv", data, "text/csv")).run()
    assert not at.exception and not at.error
    task = _select(at, "task")
    assert task.value == dataset.name  # the Task box no longer says "text"
    assert "Your data: hares, lynx" in task.options
    preset = csvdata.forecast_settings(dataset)
    for name in ("seq_len", "hidden_size", "train_size", "steps", "lr"):
        assert _value(at, name) == preset[name], name
    # one Train: no second switch at the bottom; the section says where its Train is
    assert not [t for t in at.toggle if t.label == "Train on this data"]
    assert any("is the **Task** of the form at the top" in i.value for i in at.info)
    assert "task" not in at.query_params  # a link cannot carry the series
    next(b for b in at.button if b.label == "Train").click().run()
    run = wait_for_run(at, timeout=120)
    assert run.config.task == dataset.name
    assert (run.config.train_size, run.config.hidden_size) == (None, preset["hidden_size"])
    value, chance = run.history.val_metric[-1], chance_for(run.config).metric
    assert math.isfinite(value) and value < 0.5 * chance, (value, chance)


def test_an_example_is_the_task_and_another_task_gives_it_back():
    at = _playground()
    next(b for b in at.button if b.label.startswith("Daily temperature")).click().run()
    assert not at.exception
    dataset = at.session_state["own_dataset"]
    assert _select(at, "task").value == dataset.name
    set_widgets(at, task="sine")
    assert not at.exception
    assert _select(at, "task").value == "sine"
    assert any(b.label == "Make this series the task" for b in at.button)
    next(b for b in at.button if b.label == "Make this series the task").click().run()
    assert _select(at, "task").value == dataset.name


def test_a_bad_file_names_the_row_and_keeps_the_task():
    at = _playground()
    rows = ["date;temp"] + [f"2020-01-{i % 28 + 1:02d};{i % 7},5" for i in range(60)]
    rows[10] += ";9"
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("CSV file"))
    uploader.set_value(("semi.csv", "\n".join(rows).encode(), "text/csv")).run()
    assert not at.exception
    assert any("Line 11 has 3 fields but the header line has 2" in e.value for e in at.error)
    assert _select(at, "task").value == "adding"
