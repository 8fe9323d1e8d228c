"""A user's CSV file as the time series the app trains on: sensible defaults instead of
refusals, each stated in a note.

``read_series(data, name)`` returns a ``Dataset`` whose ``notes`` hold one plain sentence per
choice made. Reading the bytes (encoding, separator, decimal commas, header, the limits) is
``rnnviz.core.csvtable``'s; the choices are made here:

    time column  the first column of dates (one format with a year; day first when the file
                 writes "13.01.2012"), or of numbers under a time-like name ("year", "t") that
                 do not repeat (within each series, in long format)
    long format  a text column naming several series (symbol,date,price): the first series
                 with at least ``MIN_ROWS`` rows, or ``series=``
    rows         rows without a time dropped, rows sharing a time averaged, sorted by time
    gaps         missing cells filled by linear interpolation in time (the nearest value
                 before a column's first and after its last number)
    columns      the numeric columns that change in the training part: the first
                 ``MAX_COLUMNS``, or ``columns=``

Refused, with a ``CsvError`` saying what to fix: what cannot be a time series (no numeric
column, under ``MIN_ROWS`` rows, a word in a numeric column, infinities) and what is over the
limits (bytes, rows, fields), checked before pandas parses anything.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from pathlib import Path

import numpy as np
import pandas as pd
from pandas.tseries.api import guess_datetime_format

from rnnviz.core.csvtable import check_finite, read_table
from rnnviz.core.dataset import (
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MIN_ROWS,
    CsvError,
    Dataset,
    constant_columns,
    make_dataset,
)

TIME_NAMES = {"time", "date", "datetime", "timestamp", "t", "year", "month", "week", "day",
              "step", "index", "period", "hour", "minute"}
_DOTTED_DATE = re.compile(r"\d{1,2}\.\d{1,2}\.\d{2,4}\b")


def read_series(data: bytes, name: str = "", *, series: str | None = None,
                columns: Sequence[str] | None = None) -> Dataset:
    """The time series in a CSV file's bytes (untrusted), as the Dataset the app trains on.

    ``name``: the file's name, kept as ``Dataset.source``. ``series`` picks a series of a
    long-format file (a value of ``Dataset.series_column``, one of ``series_options``);
    ``columns`` the numeric columns to use (1 to ``MAX_COLUMNS`` of ``column_options``); by
    default the first of each. Raises ``CsvError`` (a ``ValueError``) saying what to fix.
    """
    if isinstance(columns, str):
        columns = [columns]
    table = read_table(data)
    notes, numeric, text = table.notes, table.numeric, table.text
    time_name, time, how = _time_column(table.order, numeric, text, table.blank)
    if time_name is not None:
        notes.append(f"Used {time_name!r} as the time column{how}.")
        numeric.pop(time_name, None)
        text.pop(time_name, None)
    if not numeric:
        raise CsvError("No numeric column found. The file needs at least one column of numbers "
                       "(one value per row, e.g.  date,temperature  then  2024-01-01,3.5)."
                       + (f" Columns read as text: {', '.join(text)}." if text else ""))
    frame = pd.DataFrame(numeric)
    key = _series_key(time, text)
    chosen, series_options = None, ()
    if key is not None:
        chosen, series_options, note = _pick_series(key, text[key], series)
        notes.append(note)
        rows = text.pop(key) == chosen
        frame, time = frame[rows], None if time is None else time[rows]
    elif series is not None:
        raise CsvError(f"The file holds one series; there is no series {series!r} to pick.")
    if text:
        notes.append(f"Ignored text column(s): {', '.join(text)}.")
    if table.empty:
        notes.append(f"Ignored empty column(s): {', '.join(table.empty)}.")
    if time is not None and (no_time := int(time.isna().sum())):
        notes.append(f"Dropped {_count(no_time, 'row')} without a {time_name!r}.")
        frame, time = frame[time.notna()], time[time.notna()]
    check_finite(frame, table.where)

    repeats = 0 if time is None else int(time.duplicated().sum())
    if repeats:
        notes.append(f"Averaged rows that share a time: {_count(repeats, 'row')} repeated an "
                     f"earlier {time_name!r}.")
        frame = frame.groupby(time.to_numpy(), sort=False).mean()
        time = pd.Series(frame.index, index=frame.index)
    if time is not None and not time.is_monotonic_increasing:
        notes.append(f"Sorted the rows by {time_name!r}: they were not in time order.")
        order = np.argsort(time.to_numpy(), kind="stable")
        frame, time = frame.iloc[order], time.iloc[order]
    if len(frame) < MIN_ROWS:
        raise CsvError(f"The series has {_count(len(frame), 'row')} once read"
                       f"{' (rows that share a time averaged)' if repeats else ''}; at least "
                       f"{MIN_ROWS} are needed. " + ("Pick a longer series." if key else
                                                     "Add rows."))

    no_numbers = [c for c in frame.columns if frame[c].isna().all()]
    if no_numbers:
        notes.append(f"Left out column(s) with no numbers for this series: "
                     f"{', '.join(no_numbers)}.")
        frame = frame.drop(columns=no_numbers)
    if not len(frame.columns):
        raise CsvError(f"The series {chosen!r} has no numbers in any column; pick another.")
    missing = frame.isna()
    if missing.to_numpy().any():
        frame = _interpolate(frame, time)
    flat = [c for c, constant in zip(frame.columns, constant_columns(frame.to_numpy()))
            if constant]
    if flat and len(flat) < len(frame.columns):  # all flat: make_dataset says why none can do
        if columns is not None and (asked := [c for c in flat if c in columns]):
            raise CsvError(f"Column {asked[0]!r} does not change in the training part (the first "
                           "80% of rows): a constant carries nothing to learn. Pick another.")
        notes.append("Left out column(s) that do not change in the training part (the first 80% "
                     f"of rows): {', '.join(flat)}.")
        frame = frame.drop(columns=flat)
    column_options = tuple(frame.columns)
    picked, note = _pick_columns(column_options, columns)
    if note:
        notes.append(note)
    if (gaps := int(missing[list(picked)].to_numpy().sum())):
        notes.append(f"Filled {_count(gaps, 'missing cell')} by linear interpolation in time.")
    time_values = None if time is None else (
        time.to_numpy(dtype="datetime64[ns]") if pd.api.types.is_datetime64_any_dtype(time)
        else time.to_numpy(dtype=np.float64))
    return make_dataset(picked, frame[list(picked)].to_numpy(dtype=np.float64),
                        time=time_values, time_name=time_name, source=name, notes=tuple(notes),
                        series_column=key, series=chosen, series_options=series_options,
                        column_options=column_options)


def parse_csv(data: bytes, source: str = "upload.csv", **choices) -> Dataset:
    """``read_series`` under its older name (``source``: the file's name)."""
    return read_series(data, source, **choices)


def load_csv_file(path: str | Path, **choices) -> Dataset:
    """``read_series`` on a file (the command line's door); a missing file is a CsvError."""
    path = Path(path)
    if not path.is_file():
        raise CsvError(f"{path}: no such file")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise CsvError(f"{path}: larger than {MAX_CSV_BYTES / 1e6:.0f} MB")
    try:
        return read_series(path.read_bytes(), path.name, **choices)
    except CsvError as err:
        raise CsvError(f"{path}: {err}") from None


# ---------------------------------------------------------------- the choices


def _time_column(order, numeric: dict, text: dict, blank: set[str]):
    """(name, values, how) of the time column, or (None, None, ""): the first column, left to
    right, that holds dates, or numbers under a time-like name that do not repeat (within each
    series, in a long-format file)."""
    for name in order:
        if name in text:
            found = _dates(text[name])
            if found is not None:
                return name, *found
        elif name in numeric and (name.lower() in TIME_NAMES or name in blank):
            values = numeric[name]
            if values.dropna().is_unique or _series_key(values, text) is not None:
                return name, values, ""
    return None, None, ""


def _dates(cells: pd.Series):
    """(datetime64 Series, how) when every present cell is a date in one format that names a
    year (pandas guesses it from the first cell, month first unless the day comes first as in
    "13.01.2012" or a later cell needs it); None otherwise."""
    present = cells.dropna()
    if present.empty:
        return None
    first = str(present.iloc[0])
    orders = (True, False) if _DOTTED_DATE.match(first) else (False, True)
    for dayfirst in orders:
        try:
            fmt = guess_datetime_format(first, dayfirst=dayfirst)
        except (ValueError, TypeError, OverflowError):
            fmt = None
        if not fmt or not {"%Y", "%y"} & set(re.findall(r"%\w", fmt)):
            continue
        parsed = pd.to_datetime(present, format=fmt, errors="coerce")
        if parsed.notna().all():
            if parsed.dt.tz is not None:
                parsed = parsed.dt.tz_convert(None)
            return parsed.reindex(cells.index), _date_words(fmt, first, parsed.iloc[0])
    return None


def _date_words(fmt: str, first: str, stamp: pd.Timestamp) -> str:
    day, month, year = fmt.find("%d"), fmt.find("%m"), max(fmt.find("%Y"), fmt.find("%y"))
    if 0 <= day < year and 0 <= month < year:  # 01.02.2012: the order decides the date
        order = "day" if day < month else "month"
        return f" (dates read {order} first: {first!r} is {stamp.day} {stamp:%B %Y})"
    return f" (dates such as {first!r})"


def _series_key(time: pd.Series | None, text: dict) -> str | None:
    """The text column that names the series of a long-format file, or None. With a time
    column: one whose values make the repeated times unique (symbol,date,price). Without one:
    one whose values come in blocks (every row of a series together)."""
    if time is not None:
        if not time.dropna().duplicated().any():
            return None
        for name, labels in text.items():
            pairs = pd.DataFrame({"key": labels, "time": time}).dropna()
            if labels.nunique() > 1 and not pairs.duplicated().any():  # unnamed rows: no series
                return name
        return None
    for name, labels in text.items():
        distinct = labels.nunique()
        blocks = int((labels != labels.shift()).sum())
        if labels.notna().all() and 1 < distinct == blocks and distinct * 2 <= len(labels):
            return name
    return None


def _pick_series(key: str, labels: pd.Series, series: str | None):
    """(chosen series, the series long enough to train on, the note)."""
    sizes = labels.value_counts(sort=False)  # in order of first appearance
    options = tuple(str(label) for label, n in sizes.items() if n >= MIN_ROWS)
    if not options:
        longest = sizes.idxmax()
        raise CsvError(f"The file holds {len(sizes)} series in long format (column {key!r}), "
                       f"but none has {MIN_ROWS} rows; the longest, {longest!r}, has "
                       f"{sizes.max()}. Each series needs at least {MIN_ROWS} rows.")
    if series is None:
        chosen = options[0]
    elif series in options:
        chosen = series
    else:
        shown = ", ".join(repr(o) for o in options[:10]) + (", ..." if len(options) > 10 else "")
        raise CsvError(f"There is no series {series!r} with at least {MIN_ROWS} rows in column "
                       f"{key!r}; pick one of {shown}.")
    short = len(sizes) - len(options)
    left_out = (f" ({short} with under {MIN_ROWS} rows left out)" if short else "")
    return chosen, options, (f"The file holds {len(sizes)} series in long format (column "
                             f"{key!r}){left_out}; using {chosen!r}.")


def _pick_columns(options: tuple[str, ...], columns: Sequence[str] | None):
    """(columns to use, the note or None): ``columns`` when given (in the file's order, so
    that one pick is one data set), else the first ``MAX_COLUMNS``."""
    if columns is None:
        if len(options) <= MAX_COLUMNS:
            return options, None
        return options[:MAX_COLUMNS], (f"Took the first {MAX_COLUMNS} of {len(options)} numeric "
                                       f"columns (at most {MAX_COLUMNS} train together).")
    asked = {str(c) for c in columns}
    picked = tuple(c for c in options if c in asked)
    unknown = sorted(asked - set(options))
    if unknown:
        raise CsvError(f"No numeric column {unknown[0]!r}; the columns are "
                       f"{', '.join(options)}.")
    if not 1 <= len(picked) <= MAX_COLUMNS:
        raise CsvError(f"Pick 1 to {MAX_COLUMNS} columns (you picked {len(picked)}).")
    if picked == options:
        return picked, None
    return picked, f"Using {len(picked)} of the {len(options)} numeric columns, as picked."


def _interpolate(table: pd.DataFrame, time: pd.Series | None) -> pd.DataFrame:
    """Missing cells filled on a line between their neighbours in time (by the time column's
    values, so an uneven spacing counts), the nearest value before the first or after the last
    number of a column."""
    if time is None:
        position = np.arange(len(table), dtype=np.float64)
    elif pd.api.types.is_datetime64_any_dtype(time):
        position = time.to_numpy().astype("datetime64[ns]").astype(np.int64).astype(np.float64)
    else:
        position = time.to_numpy(dtype=np.float64)
    filled = table.set_axis(position).interpolate(method="index", limit_direction="both")
    return filled.set_axis(table.index)


def _count(n: int, word: str) -> str:
    return f"{n:,} {word}{'' if n == 1 else 's'}"
