"""Real-looking CSV exports (tests/fixtures/csv, written by make_fixtures.py) open as time series,
with one note per choice the reader made. Every expected value is computed here with plain
Python from the fixture's own lines (csv, datetime, float), not with the reader's pandas."""

from __future__ import annotations

import csv
import datetime as dt
import importlib.util
import json
import time

import numpy as np
import pytest
from streamlit.testing.v1 import AppTest

import rnnviz
from rnnviz.core import csvdata
from rnnviz.core.config import RunConfig
from rnnviz.core.tasks import validation_set
from tests.apptest import open_app
from tests.conftest import ROOT

FIXTURES = ROOT / "tests" / "fixtures" / "csv"


def _maker():
    spec = importlib.util.spec_from_file_location("make_fixtures", FIXTURES / "make_fixtures.py")
    module = importlib.util.module_from_spec(spec)
    spec.loader.exec_module(module)
    return module


def read(file_name: str, **choices) -> csvdata.Dataset:
    return rnnviz.read_series((FIXTURES / file_name).read_bytes(), file_name, **choices)


def plain_rows(file_name: str, sep: str = ",", encoding: str = "utf-8") -> list[list[str]]:
    """The file's lines split into fields by the standard library, the header first."""
    data = (FIXTURES / file_name).read_bytes()
    if data.startswith(b"\xef\xbb\xbf"):
        data = data[3:]
    return list(csv.reader(data.decode(encoding).splitlines(), delimiter=sep))


def stamps(dates) -> np.ndarray:
    return np.array([np.datetime64(d, "ns") for d in dates])


def test_fixtures_are_what_the_script_writes():
    maker = _maker()
    for file_name in maker.FIXTURES:
        assert (FIXTURES / file_name).read_bytes() == maker.fixture_bytes(file_name), \
            f"{file_name} is not what make_fixtures.py writes"


def test_long_format_takes_the_first_series_and_sorts_it():
    rows = plain_rows("stocks_long.csv")[1:]
    first = rows[0][0]  # the first symbol the file names
    dataset = read("stocks_long.csv")
    assert dataset.notes == (
        "Read 780 rows with ',' separators.",
        "Used 'date' as the time column (dates such as '2023-04-21').",
        f"The file holds 3 series in long format (column 'symbol'); using '{first}'.",
        "Sorted the rows by 'date': they were not in time order.")
    assert (dataset.series_column, dataset.series) == ("symbol", first)
    assert set(dataset.series_options) == {"AAPL", "MSFT", "XOM"}
    for symbol in dataset.series_options:
        mine = sorted((dt.date.fromisoformat(d), float(p)) for s, d, p in rows if s == symbol)
        picked = dataset if symbol == first else read("stocks_long.csv", series=symbol)
        assert picked.columns == ("price",) and picked.series == symbol
        assert picked.values[:, 0].tolist() == [p for _, p in mine]
        np.testing.assert_array_equal(picked.time, stamps(d for d, _ in mine))


def test_a_wide_file_takes_the_first_eight_columns_or_the_picked_ones():
    header, *rows = plain_rows("labour_wide.csv")
    assert len(header) == 24  # Month and 23 series
    dataset = read("labour_wide.csv")
    assert dataset.notes == (
        "Read 240 rows with ',' separators.",
        "Used 'Month' as the time column (dates such as '2000-01').",
        "Took the first 8 of 23 numeric columns (at most 8 train together).")
    assert dataset.columns == tuple(header[1:9]) and dataset.column_options == tuple(header[1:])
    np.testing.assert_array_equal(dataset.values,
                                  [[float(cell) for cell in row[1:9]] for row in rows])
    np.testing.assert_array_equal(dataset.time, stamps(f"{row[0]}-01" for row in rows))
    picks = ["Retail trade", "Information", "Trade, transportation, and utilities"]
    picked = read("labour_wide.csv", columns=picks)
    order = [j for j, name in enumerate(header) if name in picks]  # the file's order
    assert picked.columns == tuple(header[j] for j in order)
    assert picked.values.tolist() == [[float(row[j]) for j in order] for row in rows]
    assert "Using 3 of the 23 numeric columns, as picked." in picked.notes
    assert picked.name != dataset.name


def test_gaps_are_filled_linearly_in_time():
    rows = plain_rows("river_gaps.csv")[1:]
    days = [dt.date.fromisoformat(d).toordinal() for d, _ in rows]
    known = [(day, float(v)) for day, (_, v) in zip(days, rows) if v not in ("", "NA")]
    expected = []
    for day, (_, cell) in zip(days, rows):
        if cell not in ("", "NA"):
            expected.append(float(cell))
            continue
        before = [k for k in known if k[0] < day]
        after = [k for k in known if k[0] > day]
        if not before or not after:  # an end: the nearest value
            expected.append((after or before)[0 if after else -1][1])
            continue
        (d0, v0), (d1, v1) = before[-1], after[0]
        expected.append(v0 + (v1 - v0) * (day - d0) / (d1 - d0))
    dataset = read("river_gaps.csv")
    assert dataset.notes == (
        "Read 200 rows with ',' separators.",
        "Used 'date' as the time column (dates such as '2022-03-01').",
        "Filled 6 missing cells by linear interpolation in time.")
    np.testing.assert_allclose(dataset.values[:, 0], expected, rtol=1e-12)
    assert np.isfinite(dataset.values).all()


def test_rows_out_of_order_are_sorted():
    rows = plain_rows("sales_unsorted.csv")[1:]
    mine = sorted((dt.date.fromisoformat(d), float(v)) for d, v in rows)
    dataset = read("sales_unsorted.csv")
    assert dataset.notes == (
        "Read 120 rows with ',' separators.",
        "Used 'week' as the time column (dates such as '2021-01-04').",
        "Sorted the rows by 'week': they were not in time order.")
    assert dataset.values[:, 0].tolist() == [v for _, v in mine]
    np.testing.assert_array_equal(dataset.time, stamps(d for d, _ in mine))


@pytest.mark.parametrize("file_name,fmt,note", [
    ("dates_words.csv", "%b %d %Y", "Used 'Date' as the time column (dates such as 'Jan 1 2000')."),
    ("dates_slashes.csv", "%Y/%m/%d",
     "Used 'date' as the time column (dates such as '2012/01/01')."),
    ("dates_dayfirst.csv", "%d.%m.%Y", "Used 'Datum' as the time column (dates read day first: "
                                       "'01.01.2012' is 1 January 2012)."),
])
def test_dates_in_three_formats(file_name, fmt, note):
    rows = plain_rows(file_name)[1:]
    dataset = read(file_name)
    assert dataset.notes == ("Read 60 rows with ',' separators.", note)
    days = [dt.datetime.strptime(d, fmt) for d, _ in rows]
    np.testing.assert_array_equal(dataset.time, stamps(days))
    assert dataset.values[:, 0].tolist() == [float(v) for _, v in rows]
    assert (np.diff(dataset.time) == np.timedelta64(1, "D")).all()  # 13.01 is not month 13


@pytest.mark.parametrize("file_name,encoding,first_note,columns", [
    ("weather_euro_bom.csv", "utf-8", "Skipped the byte-order mark at the start of the file.",
     ("Température (°C)", "Luftfeuchtigkeit (%)")),
    ("weather_euro_latin1.csv", "latin-1",
     "The file is not UTF-8; it was read as Latin-1 (Windows-1252) text.",
     ("Température", "Humidité")),
])
def test_european_exports(file_name, encoding, first_note, columns):
    header, *rows = plain_rows(file_name, sep=";", encoding=encoding)
    dataset = read(file_name)
    assert dataset.notes == (
        first_note,
        f"Read {len(rows)} rows with ';' separators and decimal commas.",
        f"Used {header[0]!r} as the time column (dates read day first: '01.01.2020' is "
        "1 January 2020).")
    assert dataset.columns == columns == tuple(header[1:])
    assert dataset.values.tolist() == [[float(c.replace(",", ".")) for c in row[1:]]
                                       for row in rows]
    np.testing.assert_array_equal(
        dataset.time, stamps(dt.datetime.strptime(row[0], "%d.%m.%Y") for row in rows))


def test_a_bom_before_latin1_text_and_choices_that_do_not_fit():
    hybrid = b"\xef\xbb\xbf" + (FIXTURES / "weather_euro_latin1.csv").read_bytes()
    dataset = rnnviz.read_series(hybrid, "hybrid.csv")
    assert dataset.columns == ("Température", "Humidité") and dataset.notes[:2] == (
        "Skipped the byte-order mark at the start of the file.",
        "The file is not UTF-8; it was read as Latin-1 (Windows-1252) text.")
    for file_name, choices, words in [
        ("stocks_long.csv", {"series": "IBM"}, "no series 'IBM'"),
        ("river_gaps.csv", {"series": "IBM"}, "holds one series"),
        ("labour_wide.csv", {"columns": ["Mining"]}, "No numeric column 'Mining'"),
        ("labour_wide.csv", {"columns": [f"{n}" for n in plain_rows("labour_wide.csv")[0][1:10]]},
         "Pick 1 to 8 columns"),
        ("labour_wide.csv", {"columns": []}, "Pick 1 to 8 columns"),
    ]:
        with pytest.raises(csvdata.CsvError, match=words):
            read(file_name, **choices)
    short = b"k,t,x\n" + b"".join(f"{k},{t},{t % 3}\n".encode() for k in "ab" for t in range(20))
    with pytest.raises(csvdata.CsvError, match="none has 30 rows"):
        rnnviz.read_series(short)


def test_a_long_format_data_set_round_trips_through_a_run_file():
    dataset = read("stocks_long.csv", series="XOM")
    again = csvdata.dataset_from_meta(json.loads(json.dumps(dataset.to_meta())), dataset.name)
    np.testing.assert_array_equal(again.values, dataset.values)
    doctored = dataset.to_meta()
    doctored["values"][0][5] += 0.01
    with pytest.raises(csvdata.CsvError, match="does not match its name"):
        csvdata.dataset_from_meta(doctored, dataset.name)


def test_a_forecast_on_a_european_export_beats_chance_and_persistence():
    dataset = read("weather_euro_bom.csv")
    cfg = RunConfig(task=rnnviz.register_series(dataset), cell="gru", seq_len=30, hidden_size=32,
                    batch_size=32, steps=300, eval_every=50, probe_every=100, seed=0,
                    device="cpu")
    started = time.perf_counter()
    run = rnnviz.train(cfg)
    seconds = time.perf_counter() - started
    x, y = validation_set(cfg)
    persistence = float(((y - x) ** 2).mean())  # repeat the last value read
    val = run.summary()["val_metric"]
    print(f"val MSE {val:.3f}, chance {run.chance.metric:.3f}, persistence {persistence:.3f}, "
          f"{seconds:.1f} s")
    assert val < 0.6 * run.chance.metric and val < persistence


# ---------------------------------------------------------------- the pickers, in the app


def _upload(file_name: str) -> AppTest:
    at = open_app(timeout=60)
    at.switch_page("pages/playground.py").run()
    uploader = next(u for u in at.get("file_uploader") if u.label.startswith("CSV file"))
    uploader.set_value((file_name, (FIXTURES / file_name).read_bytes(), "text/csv")).run()
    assert not at.exception and not [e.value for e in at.error]
    return at


def _split_figure(at: AppTest) -> dict:
    return json.loads(next(c for c in at.get("plotly_chart") if c.key == "own_data_split")
                      .proto.spec)


def _split_names(at: AppTest) -> list[str]:
    return [trace["name"] for trace in _split_figure(at)["data"]]


def test_the_series_picker_switches_series():
    at = _upload("stocks_long.csv")
    first = at.session_state["own_dataset"]
    picker = at.selectbox(key="own_data_series")
    assert picker.value == first.series and set(picker.options) == {"AAPL", "MSFT", "XOM"}
    assert any("long format (column 'symbol')" in c.value for c in at.caption)
    other = next(s for s in ("AAPL", "MSFT", "XOM") if s != first.series)
    picker.set_value(other).run()
    assert not at.exception and not [e.value for e in at.error]
    switched = at.session_state["own_dataset"]
    assert switched.series == other and switched.name != first.name
    np.testing.assert_array_equal(switched.values, read("stocks_long.csv", series=other).values)
    assert any(f"of series **{other}**" in m.value for m in at.markdown)
    assert any(f"using '{other}'" in c.value for c in at.caption)
    # the validation part starts at a date plotly.js can read (not an integer of nanoseconds)
    edge = str(np.datetime_as_string(switched.time[switched.split], unit="s"))
    assert [shape["x0"] for shape in _split_figure(at)["layout"]["shapes"]] == [edge, edge]


def test_the_column_picker_picks_columns():
    at = _upload("labour_wide.csv")
    header = plain_rows("labour_wide.csv")[0]
    picker = at.multiselect(key="own_data_columns")
    assert picker.value == header[1:9] and len(picker.options) == 23
    assert any("Took the first 8 of 23 numeric columns" in c.value for c in at.caption)
    picker.set_value(["Government", "Construction"]).run()  # clicked in this order
    assert not at.exception and not [e.value for e in at.error]
    dataset = at.session_state["own_dataset"]
    assert dataset.columns == ("Construction", "Government")  # the file's order
    assert at.multiselect(key="own_data_columns").value == ["Construction", "Government"]
    assert _split_names(at) == ["Construction", "Government"]
    assert any("2 numeric column(s) (Construction, Government)" in m.value for m in at.markdown)
    at.multiselect(key="own_data_columns").set_value([]).run()  # nothing left: refused, kept
    assert not at.exception
    assert any("Keep at least one column" in e.value for e in at.error)
    assert at.session_state["own_dataset"].columns == ("Construction", "Government")
