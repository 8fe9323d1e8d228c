"""CSV series as forecasting tasks: parsing untrusted files, the split and normalization, the task's
windows, names that never collide, and the bounded registry."""

import gc
import importlib.util
import math

import numpy as np
import pytest
import torch

from rnnviz import charts
from rnnviz.charts import sequences
from rnnviz.core import csvdata
from rnnviz.core.config import DATA_TASK, RunConfig, check_field
from rnnviz.core.tasks import TASKS, probe_batch, seeded_generator
from rnnviz.core.trace import trace
from rnnviz.core.train import train
from rnnviz.serve import uploads
from tests.conftest import ROOT


def csv_bytes(lines) -> bytes:
    return ("\n".join(lines) + "\n").encode()


GOOD = [f"{i},{math.sin(i / 4):.4f},{math.cos(i / 7):.4f}" for i in range(100)]


def test_example_files_are_reproducible_and_parse():
    spec = importlib.util.spec_from_file_location("make_examples",
                                                  ROOT / "assets" / "make_example_csvs.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    names = set()
    for file_name, make in module.EXAMPLES.items():
        path = ROOT / "assets" / file_name
        assert path.read_text(encoding="utf-8") == make(), \
            f"{file_name} is not what the script writes"
        dataset = csvdata.load_csv_file(path)
        assert dataset.time_name in ("date", "week") and dataset.rows >= 500
        names.add(dataset.name)
    assert len(names) == 2


@pytest.mark.parametrize("data,words", [
    (b"", "file is empty"),
    ("date,x\n2024-01-01,1\n".encode("utf-16"), "UTF-16"),
    (b"PK\x03\x04" + bytes(200), "Excel workbook"),
    (b"\x89PNG\r\n\x1a\n\x00\x00\x00\rIHDR" + bytes(range(256)), "NUL bytes"),
    (bytes(range(1, 9)) * 20, "control characters"),
    (b"x\n" + b"1\n" * (csvdata.MAX_CSV_BYTES // 2 + 1), "at most 2 MB"),
    (csv_bytes(["x"] + ["1"] * (csvdata.MAX_ROWS + 5)), "at most 20,000"),
    (csv_bytes(["x"] + [str(i) for i in range(10)]), "at least 30"),
    (csv_bytes(["name,city"] + ["ann,paris"] * 40), "No numeric column"),
    (csv_bytes(["t,x"] + [f"{i},{i % 5}" for i in range(40)] + ["41,oops"]),
     "'x', line 42: 'oops' is not a number"),
    (csv_bytes(["a;b"] + [f"{i};{i % 5}" for i in range(40)] + ["1.000,5;2"]),
     "without thousands separators"),
    (csv_bytes(["t,x"] + [f"{i},{i % 5}" for i in range(40)] + ["41,-inf"]), "not a finite number"),
    (csv_bytes(["t,x"] + [f"{i},{i % 5}" for i in range(40)] + ["41,1e999"]),
     "not a finite number"),
    (csv_bytes(["t,x"] + [f"{i},{i % 5}" for i in range(40)] + ["41,1,2"]),
     "Line 42 has 3 fields but the header line has 2 (separator ','). Every line needs the "
     "same number of fields: remove the extra field"),
    # one stray separator in one row of a ';' file with decimal commas: the row is named, with
    # its count against the header's (it was read as one text column, comma-separated, and
    # told to "add the missing names to the header line")
    (csv_bytes(["date;temp"] + [f"2020-01-{i % 28 + 1:02d};{i % 7},5" for i in range(60)][:9]
               + ["2020-02-10;3,5;9"] + [f"2020-03-{i % 28 + 1:02d};{i % 7},5"
                                         for i in range(50)]),
     "Line 11 has 3 fields but the header line has 2 (separator ';')"),
    (csv_bytes(["date;temp;rain"] + [f"2020-01-{i % 28 + 1:02d};{i}.5;{i % 3}" for i in range(9)]
               + ["2020-02-10;3.5;9;1"] + [f"2020-03-{i % 28 + 1:02d};{i}.5;1" for i in range(50)]),
     "Line 11 has 4 fields but the header line has 3 (separator ';')"),
    (csv_bytes(["t,flat"] + [f"{i},7" for i in range(40)]), "'flat' does not change"),
    (csv_bytes(["t,x"] + [f"{i},{(i % 5) * 1e300}" for i in range(40)]), "too large"),
    (b'x\n"unclosed\n1\n', "not well-formed CSV"),
    (b'x\n"' + b"a" * 200_000 + b'"\n', "not well-formed CSV (field larger than field limit"),
    (csv_bytes(["a,b"] + [f"{i},{i % 7},{i % 3}" for i in range(40)]),
     "The header line has 2 field(s) (separator ',') but the data lines have more, from line 2 "
     "on (3 fields). Every line needs the same number of fields: add the missing names"),
    (csv_bytes([",".join(["a"] * 5000)] * 40), "5,000 fields; at most 64"),
])
def test_bad_csvs_say_what_to_fix(data, words):
    with pytest.raises(csvdata.CsvError, match=words.replace("(", r"\(").replace(")", r"\)")):
        csvdata.parse_csv(data)


def test_cases_once_refused_are_now_read_and_said():
    """Files the first reader refused (a missing value, more than 8 numeric columns, rows out of
    time order) are read with a default that a note states."""
    ramp = [f"{i},{i % 5}" for i in range(40)]
    for last in ("41,", "41,NaN"):  # a gap at the end takes the last value before it
        filled = csvdata.parse_csv(csv_bytes(["t,x"] + ramp + [last]))
        assert filled.rows == 41 and filled.values[-1, 0] == 39 % 5
        assert "Filled 1 missing cell by linear interpolation in time." in filled.notes
    wide = csvdata.parse_csv(csv_bytes([",".join(f"c{j}" for j in range(10))] +
                                       [",".join(str((i * (j + 1) + j) % 11) for j in range(10))
                                        for i in range(40)]))
    assert wide.columns == tuple(f"c{j}" for j in range(8))
    assert wide.column_options == tuple(f"c{j}" for j in range(10))
    assert "Took the first 8 of 10 numeric columns (at most 8 train together)." in wide.notes
    # a column that does not change is left out, not a reason to refuse the file
    flat = csvdata.parse_csv(csv_bytes(["t,x,flat"] + [f"{i},{i % 5},7" for i in range(40)]))
    assert flat.columns == ("x",) and "Left out column(s) that do not change in the training " \
        "part (the first 80% of rows): flat." in flat.notes
    days = [f"2024-02-{d:02d},{d % 3}" for d in range(1, 29)]
    shuffled = csvdata.parse_csv(csv_bytes(["date,x"] + days + ["2024-01-05,1", "2024-03-01,2",
                                                                "2024-03-02,2"]))
    assert shuffled.values[0, 0] == 1 and shuffled.values[1:29, 0].tolist() == [
        d % 3 for d in range(1, 29)]
    assert "Sorted the rows by 'date': they were not in time order." in shuffled.notes


def test_accepted_variants():
    tab = csvdata.parse_csv(csv_bytes(["t\tx\ty"] + [f"{i}\t{i % 5}\t{i % 3}" for i in range(40)]))
    assert tab.columns == ("x", "y") and tab.time_name == "t"
    euro = csvdata.parse_csv(csv_bytes(["day;temp"] + [f"{i};{i % 5},5" for i in range(40)]))
    assert euro.values[1, 0] == 1.5 and any("decimal commas" in n for n in euro.notes)
    headless = csvdata.parse_csv(csv_bytes([f"{i % 5},{i % 3}" for i in range(40)]))
    assert headless.columns == ("column 1", "column 2") and headless.rows == 40
    bom_crlf = csvdata.parse_csv(b"\xef\xbb\xbfx\r\n" + b"\r\n".join(str(i % 7).encode()
                                                                   for i in range(40)))
    assert bom_crlf.columns == ("x",)
    latin = csvdata.parse_csv("température\n".encode("cp1252") +
                              "\n".join(str(i % 7) for i in range(40)).encode())
    assert latin.columns == ("température",) and "Windows-1252" in latin.notes[0]
    words = csvdata.parse_csv(csv_bytes(["city,x"] + [f"paris,{i % 7}" for i in range(40)]))
    assert words.columns == ("x",) and "Ignored text column(s): city." in words.notes
    dates = csvdata.parse_csv(csv_bytes(["date,x"] + [f"2024-01-{d:02d},{d % 4}"
                                                      for d in range(1, 32)]))
    assert dates.time_name == "date" and dates.time_axis().dtype.kind == "M"
    # a numeric column named like time but not increasing is data, not the time axis
    data_year = csvdata.parse_csv(csv_bytes(["year,x"] + [f"{i % 3},{i % 7}" for i in range(40)]))
    assert data_year.columns == ("year", "x") and data_year.time_name is None


def test_name_is_the_data_hash():
    a = csvdata.parse_csv(csv_bytes(["t,x,y"] + GOOD), source="a.csv")
    same_numbers = csvdata.parse_csv(csv_bytes(["step,x,y"] + GOOD), source="b.csv")
    changed = csvdata.parse_csv(csv_bytes(["t,x,y"] + GOOD[:-1] + ["99,0.5,0.5"]))
    renamed = csvdata.parse_csv(csv_bytes(["t,x,z"] + GOOD))
    assert DATA_TASK.fullmatch(a.name)
    assert a.name == same_numbers.name  # the time column and the file name do not matter
    assert len({a.name, changed.name, renamed.name}) == 3
    base = RunConfig()
    assert base.replace(task=a.name).key != base.replace(task=changed.name).key


def test_links_and_flags_cannot_carry_a_data_task():
    with pytest.raises(ValueError, match="cannot carry it"):
        check_field("task", "csv:0123456789ab")
    assert RunConfig(task="csv:0123456789ab").task == "csv:0123456789ab"
    with pytest.raises(ValueError, match="not allowed"):
        RunConfig(task="csv:xyz")


def test_split_normalization_and_windows():
    values = np.arange(100, dtype=float)  # the value tells where a window came from
    dataset = csvdata.make_dataset(("x",), np.stack([values, values ** 0.5], axis=1)[:, :1])
    task = csvdata.CsvTask(dataset)
    assert dataset.split == 80 and dataset.max_seq_len == 19
    z = task.series.numpy()[:, 0]
    assert abs(z[:80].mean()) < 1e-6 and abs(z[:80].std() - 1) < 1e-5  # training stats only
    assert z[80:].mean() > 1.5  # the future is not re-centred
    x, y = task.sample(32, 10, seeded_generator(0), split="train")
    assert x.shape == y.shape == (32, 10, 1)
    torch.testing.assert_close(x[:, 1:], y[:, :-1])  # y is the next row
    raw_x = task.to_units(x.numpy())
    assert raw_x.max() < 80 - 0.5  # training windows stay inside the training part
    vx, vy = task.sample(32, 10, seeded_generator(1), split="val")
    assert task.to_units(vx.numpy()).min() > 80 - 0.5 and task.to_units(vy.numpy()).max() < 100
    assert task.chance(10).metric == pytest.approx(float((z[81:] ** 2).mean()), rel=1e-5)
    with pytest.raises(ValueError, match="seq_len: at most 19"):
        task.sample(4, 20, seeded_generator(0))


def test_training_and_tracing_a_csv_task():
    dataset = csvdata.load_csv_file(ROOT / "assets" / "predator_prey.csv")
    token = uploads.pin(dataset)
    cfg = RunConfig(task=dataset.name, cell="gru", seq_len=12, hidden_size=8, steps=40,
                    eval_every=20, probe_every=20, device="cpu")
    run = train(cfg)
    assert run.history.steps_done == 40 and math.isfinite(run.summary()["val_metric"])
    x, y = probe_batch(cfg)
    tr = trace(run.model, x, y)
    assert tr.hidden[0].shape == (16, 12, 8) and tr.grad_h[0].shape == (16, 12)
    figure = charts.sequence_panel(TASKS[dataset.name], x[0].numpy(), y[0].numpy(),
                                   tr.prediction[0])
    assert len(figure.data) == 4 and "Forecast" in figure.layout.title.text
    del token


def test_stored_dataset_is_checked_against_its_name():
    dataset = csvdata.parse_csv(csv_bytes(["t,x,y"] + GOOD))
    meta = dataset.to_meta()
    again = csvdata.dataset_from_meta(meta, dataset.name)
    np.testing.assert_array_equal(again.values, dataset.values)
    tampered = {**meta, "values": [[v + 1 for v in meta["values"][0]], meta["values"][1]]}
    with pytest.raises(csvdata.CsvError, match="does not match its name"):
        csvdata.dataset_from_meta(tampered, dataset.name)
    for bad in ({}, {"columns": ["x"], "values": "abc"}, {"columns": ["x"], "values": [[1, 2]]},
                {"columns": ["x"], "values": [[float("nan")] * 40]}, None):
        with pytest.raises(csvdata.CsvError):
            csvdata.dataset_from_meta(bad, dataset.name)


def test_registry_keeps_pinned_and_forgets_old_unpinned(monkeypatch):
    monkeypatch.setenv("RNNVIZ_MAX_DATASETS", "2")
    made = [csvdata.make_dataset(("x",), np.arange(40, dtype=float)[:, None] * (k + 1) + k)
            for k in range(4)]
    token = uploads.pin(made[0])
    for dataset in made[1:]:
        uploads.register(dataset)
    assert uploads.registered(made[0].name), "a pinned data set stays"
    assert not uploads.registered(made[1].name), "the oldest unpinned one goes"
    assert made[1].name not in TASKS and made[1].name not in sequences._SEQUENCE_PANELS
    assert uploads.registered(made[2].name) and uploads.registered(made[3].name)
    with pytest.raises(ValueError, match="upload the CSV file again"):
        uploads.task_for(made[1].name)
    del token
    gc.collect()
    uploads.register(made[1])
    assert not uploads.registered(made[0].name), "unpinned once the session let go"
