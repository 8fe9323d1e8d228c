"""The app's doors for files, through AppTest: a CSV series (good, bad, example), training on it,
opening saved runs (good and bad), downloads, chart PNG buttons, and a link naming uploaded data."""

import json

import pytest
from streamlit.testing.v1 import AppTest

from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import TASKS
from rnnviz.core.train import train
from rnnviz.serve import store, uploads
from tests.apptest import TINY, open_app, set_widgets, wait_for_run
from tests.conftest import ROOT


def _playground(query: dict | None = None) -> AppTest:
    at = open_app(query, timeout=60)
    at.switch_page("pages/playground.py").run()
    return at


def _uploader(at: AppTest, label: str):
    return next(u for u in at.get("file_uploader") if u.label.startswith(label))


def _errors(at: AppTest) -> list[str]:
    return [e.value for e in at.error]


_set, _wait_for_run = set_widgets, wait_for_run


def test_csv_upload_preview_train_and_inspect():
    at = _playground()
    data = (ROOT / "assets" / "predator_prey.csv").read_bytes()
    _uploader(at, "CSV file").set_value(("lynx.csv", data, "text/csv")).run()
    assert not at.exception and not _errors(at)
    assert any("520 rows × 2 numeric column(s) (hares, lynx)" in m.value for m in at.markdown)
    split = json.loads(next(c for c in at.get("plotly_chart") if c.key == "own_data_split")
                       .proto.spec)
    assert "last 104 rows" in split["layout"]["title"]["text"]
    assert any(shape["type"] == "rect" for shape in split["layout"]["shapes"])
    # a window longer than the validation part allows is refused before training
    _set(at, **{**TINY, "seq_len": 150, "seed": 99})
    next(b for b in at.button if b.label == "Train").click().run()
    assert any("too long for your data" in e for e in _errors(at)) and "job" not in at.session_state
    _set(at, seq_len=8)
    next(b for b in at.button if b.label == "Train").click().run()
    run = _wait_for_run(at)
    assert run.config.task == csvdata.parse_csv(data).name
    # the link for students cannot carry the upload: it leaves the task out and says so
    links = [c.value for c in at.code if "seq_len=8" in c.value]
    assert links and all("task=" not in link for link in links)
    assert any("a link cannot carry" in c.value for c in at.caption)
    assert {d.label for d in at.get("download_button")} >= {"Download this run", "Trace as CSV"}
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception
    titles = [json.loads(c.proto.spec)["layout"].get("title", {}).get("text", "")
              for c in at.get("plotly_chart")]
    assert any(t.startswith("Forecast of one window") for t in titles)
    for page in ("pages/gates.py", "pages/gradients.py"):
        at.switch_page(page).run()
        assert not at.exception, page


@pytest.mark.parametrize("name,data,words", [
    ("empty.csv", b"", "file is empty"),
    ("excel.xlsx", b"PK\x03\x04" + bytes(100), "Excel workbook"),
    ("utf16.csv", "t,x\n1,2\n".encode("utf-16"), "UTF-16"),
    ("words.csv", b"t,x\n" + b"".join(f"{i},{i % 3}\n".encode() for i in range(40)) + b"40,abc\n",
     "'abc' is not a number"),
])
def test_bad_csv_uploads_get_a_plain_error(name, data, words):
    at = _playground()
    _uploader(at, "CSV file").set_value((name, data, "text/csv")).run()
    assert not at.exception
    assert any(name in e and words in e for e in _errors(at))


def test_example_button_loads_a_series():
    at = _playground()
    next(b for b in at.button if b.label.startswith("Daily temperature")).click().run()
    assert not at.exception
    assert any("daily_temperature.csv" in m.value and "1,095 rows" in m.value for m in at.markdown)


@pytest.fixture(scope="module")
def run_file() -> bytes:
    return store.run_file_bytes(train(RunConfig(cell="gru", task="parity", **TINY, device="cpu")))


def test_opening_a_saved_run(run_file):
    at = _playground()
    _uploader(at, "Open a saved run").set_value(("gru-parity-T8.rnnviz", run_file,
                                                  "application/octet-stream")).run()
    assert not at.exception and not _errors(at)
    run = at.session_state["run"]
    assert (run.config.cell, run.config.task, run.history.steps_done) == ("gru", "parity", 30)
    assert any("Opened **gru-parity-T8.rnnviz**" in s.value for s in at.success)
    assert any("Current run" in m.value for m in at.sidebar.markdown)
    at.switch_page("pages/gradients.py").run()
    assert not at.exception


@pytest.mark.parametrize("make,words", [
    (lambda good: b"", "too short"),
    (lambda good: b"date,x\n1,2\n", "not a safetensors run file"),
    (lambda good: good[: len(good) // 2], "damaged or truncated"),
    (lambda good: good[:8] + b"[" + good[9:], "unreadable header"),
])
def test_bad_run_files_get_a_plain_error(run_file, make, words):
    at = _playground()
    _uploader(at, "Open a saved run").set_value(("x.rnnviz", make(run_file),
                                                  "application/octet-stream")).run()
    assert not at.exception
    assert any("can't be opened as a run" in e and words in e for e in _errors(at))
    assert "run" not in at.session_state


def test_a_csv_run_file_opens_where_the_data_was_never_uploaded():
    dataset = csvdata.load_csv_file(ROOT / "assets" / "daily_temperature.csv")
    token = uploads.pin(dataset)
    data = store.run_file_bytes(train(RunConfig(task=dataset.name, **TINY, device="cpu")))
    del token
    uploads._recent.pop(dataset.name, None)  # as on another server
    TASKS.pop(dataset.name, None)
    at = _playground()
    _uploader(at, "Open a saved run").set_value(
        ("t.rnnviz", data, "application/octet-stream")).run()
    assert not at.exception and not _errors(at)
    at.switch_page("pages/hidden_states.py").run()
    assert not at.exception


def test_charts_keep_the_png_download_and_the_device_is_stated(run_file):
    at = _playground()
    assert any("Device:" in c.value for c in at.caption)
    _uploader(at, "Open a saved run").set_value(("r.rnnviz", run_file, "x")).run()
    charts = at.get("plotly_chart")
    assert charts
    for chart in charts:
        config = json.loads(chart.proto.config or "{}")
        layout = json.loads(chart.proto.spec)["layout"]
        assert config.get("displayModeBar", True) is not False
        assert "toImage" not in config.get("modeBarButtonsToRemove", [])
        assert "toImage" not in layout.get("modebar", {}).get("remove", [])


def test_a_link_cannot_name_uploaded_data():
    at = _playground({"task": "csv:0123456789ab"})
    assert not at.exception
    assert any("cannot carry it" in w.value for w in at.warning)
