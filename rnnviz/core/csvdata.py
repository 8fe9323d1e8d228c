"""Your own data: a CSV time series becomes a forecasting task.

``parse_csv(bytes)`` reads and checks an untrusted file and returns a ``Dataset``; anything it
cannot use raises ``CsvError`` (a ``ValueError``) whose message says what to fix. ``CsvTask``
makes a dataset a task named ``"csv:" + 12 hex digits of a hash of the data`` (see
``rnnviz.core.config.DATA_TASK``); the server's registry (``rnnviz.serve.uploads``) adds it to
``TASKS``, so every other part of the engine (training, traces, run files) handles it like a
built-in task.

The task (many-to-many regression, like the sine task)::

    series   z [rows, C]    every numeric column, z-scored with the mean and standard deviation
                            of the training part only (the model must not peek at the future)
    split    the first 80% of the rows train, the last 20% validate (``VALIDATION_SHARE``)
    windows  seq_len + 1 consecutive rows drawn inside one part
    x        [batch, seq_len, C]   rows t .. t+T-1
    y        [batch, seq_len, C]   rows t+1 .. t+T: the next value of every column
    metric   MSE in z units; chance is the best constant on the run's validation windows
             (their mean; ``rnnviz.core.tasks.chance_for``)
"""

from __future__ import annotations

import csv
import hashlib
import json
import math
import re
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np
import torch

from rnnviz.core.tasks import Chance, Task

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
MIN_ROWS = 30
MAX_COLUMNS = 8
MAX_FIELDS = 64  # columns of any kind: bounds the work a hostile file can ask for
VALIDATION_SHARE = 0.2
MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"}
INFINITE = {"inf", "+inf", "-inf", "infinity", "+infinity", "-infinity"}
TIME_NAMES = {"time", "date", "datetime", "timestamp", "t", "year", "month", "week", "day",
              "step", "index", "period", "hour", "minute"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")


class CsvError(ValueError):
    """A CSV that cannot be used; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A checked time series. ``values`` ``[rows, columns]`` float64 in the file's units; ``time``
    the time column's labels (strings) when the file had one, for charts only."""

    columns: tuple[str, ...]
    values: np.ndarray
    time: tuple[str, ...] | None = None
    time_name: str | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    name: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "name", "csv:" + data_hash(self.columns, self.values)[:12])

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    @property
    def split(self) -> int:
        """Index of the first validation row: the last ``VALIDATION_SHARE`` of time validates."""
        return self.rows - max(1, round(self.rows * VALIDATION_SHARE))

    @property
    def max_seq_len(self) -> int:
        """Longest window that fits into both parts (a window needs seq_len + 1 rows)."""
        return min(self.split, self.rows - self.split) - 1

    @property
    def mean(self) -> np.ndarray:
        return self.values[: self.split].mean(axis=0)

    @property
    def std(self) -> np.ndarray:
        return self.values[: self.split].std(axis=0)

    def time_axis(self) -> np.ndarray:
        """x values for charts: the time column as numbers or datetimes, else the row number."""
        if self.time is not None:
            numbers = [_number(label) for label in self.time]
            if all(n is not None for n in numbers):
                return np.asarray(numbers)
            stamps = _dates(list(self.time))
            if stamps is not None:
                return stamps.to_numpy()
        return np.arange(self.rows)

    def to_meta(self) -> dict:
        """JSON-able form stored inside run files (floats round-trip exactly through JSON)."""
        return {"columns": list(self.columns), "values": self.values.T.tolist(),
                "source": self.source}


def data_hash(columns, values: np.ndarray) -> str:
    """sha1 of the column names and the float64 values: the identity of a data set."""
    digest = hashlib.sha1(json.dumps(list(columns)).encode("utf-8"))
    digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()


# ---------------------------------------------------------------- reading a CSV


def _decode(data: bytes) -> tuple[str, list[str]]:
    notes = []
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError("The file is UTF-16 text. Save it as \"CSV UTF-8\" (in Excel: Save As, "
                       "CSV UTF-8) and upload it again.")
    if data.startswith(b"PK\x03\x04"):
        raise CsvError("This is a ZIP archive or an Excel workbook (.xlsx), not a CSV. In Excel "
                       "use Save As, CSV UTF-8.")
    if b"\x00" in data[:65536]:
        raise CsvError("The file contains NUL bytes: it is a binary file (an image, a "
                       "spreadsheet, a program) or UTF-16 text, not a CSV. Save it as CSV UTF-8.")
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError:
        # numbers are ASCII in every 8-bit encoding; only header words differ
        text = data.decode("cp1252", errors="replace")
        notes.append("The file is not UTF-8; it was read as Windows-1252 text.")
    if len(_CONTROL.findall(text[:65536])) > 10:
        raise CsvError("The file contains control characters: it is a binary file, not a CSV "
                       "text file. Save it as CSV UTF-8.")
    return text, notes


def _delimiter(lines: list[str]) -> str:
    """The delimiter (comma, semicolon or tab) that splits the first lines into the same number
    (more than one) of fields; a comma when none does (a single-column file)."""
    best, best_fields = ",", 1
    for candidate in (",", ";", "\t"):
        counts = {len(row) for row in csv.reader(lines[:20], delimiter=candidate)}
        if len(counts) == 1 and (fields := counts.pop()) > best_fields:
            best, best_fields = candidate, fields
    return best


_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")


def _number(cell: str, decimal_comma: bool = False) -> float | None:
    """The cell as a float, or None when it is not written as a number. With ``decimal_comma``
    (semicolon-separated files, as European spreadsheets write them) "3,5" reads as 3.5."""
    if decimal_comma and _DECIMAL_COMMA.fullmatch(cell):
        cell = cell.replace(",", ".")
    try:
        return float(cell.replace("_", "x"))  # Python accepts 1_000; a CSV should not
    except ValueError:
        return None


def _dates(cells: list[str]):
    """The cells as timestamps (one format, inferred from the first), or None when any cell is
    not a date."""
    import warnings

    import pandas as pd
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "could not infer format" for words that are not dates
        try:
            parsed = pd.to_datetime(pd.Series(cells), errors="coerce")
        except (ValueError, TypeError, OverflowError):
            return None
    return parsed if bool(parsed.notna().all()) else None


def parse_csv(data: bytes, source: str = "upload.csv") -> Dataset:
    """Read a CSV time series from untrusted bytes; raise ``CsvError`` saying what to fix."""
    if not data:
        raise CsvError("The file is empty. Upload a CSV with a header line and one row per time "
                       "step, e.g.  date,temperature")
    if len(data) > MAX_CSV_BYTES:
        raise CsvError(f"The file is {len(data) / 1e6:.1f} MB; at most "
                       f"{MAX_CSV_BYTES / 1e6:.0f} MB. Keep fewer rows or columns (at most "
                       f"{MAX_ROWS:,} rows).")
    text, notes = _decode(data)
    numbered = [(n + 1, line) for n, line in enumerate(text.splitlines()) if line.strip()]
    if not numbered:
        raise CsvError("The file has no lines with content.")
    if len(numbered) > MAX_ROWS + 1:
        raise CsvError(f"The file has {len(numbered) - 1:,} rows; at most {MAX_ROWS:,}. Shorten "
                       "the series or resample it (e.g. weekly instead of daily values).")
    line_numbers, lines = zip(*numbered)
    delimiter = _delimiter(list(lines))
    table = []
    for number, line in numbered:
        try:
            (row,) = csv.reader([line], delimiter=delimiter, strict=True)
        except (csv.Error, ValueError) as err:
            raise CsvError(f"Line {number} is not well-formed CSV ({err}).") from None
        table.append([cell.strip() for cell in row])
    width = len(table[0])
    if width > MAX_FIELDS:
        raise CsvError(f"The first line has {width:,} fields; at most {MAX_FIELDS} columns (of "
                       f"which at most {MAX_COLUMNS} numeric). Keep only the series to forecast.")
    for number, row in zip(line_numbers, table):
        if len(row) != width:
            raise CsvError(f"Line {number} has {len(row)} field(s) but the first line has "
                           f"{width} (separator {delimiter!r}). Every line needs the same "
                           "number of fields.")
    decimal_comma = delimiter == ";"
    has_header = any(_number(cell, decimal_comma) is None for cell in table[0])
    header = table[0] if has_header else [f"column {j + 1}" for j in range(width)]
    header = [name or f"column {j + 1}" for j, name in enumerate(header)]
    body = table[1:] if has_header else table
    body_lines = line_numbers[1:] if has_header else line_numbers
    if len(body) < MIN_ROWS:
        raise CsvError(f"The series has {len(body)} rows; at least {MIN_ROWS} are needed, so "
                       "that both the training part (first 80%) and the validation part (last "
                       "20%) hold whole windows.")

    numeric: list[tuple[str, list[float]]] = []  # (name, values) of the columns to forecast
    time_index, ignored = None, []
    for j, name in enumerate(header):
        cells = [row[j] for row in body]
        numbers = [_number(c, decimal_comma) for c in cells]
        text_rows = [i for i, (c, v) in enumerate(zip(cells, numbers))
                     if v is None and c.lower() not in MISSING]
        if all(v is None for v in numbers):  # a column of words: time labels, or not for us
            if time_index is None and (stamps := _dates(cells)) is not None:
                time_index = j
                backwards = np.flatnonzero(np.diff(stamps.values) <= np.timedelta64(0))
                if len(backwards):
                    i = int(backwards[0]) + 1
                    raise CsvError(f"The rows are not in time order: line {body_lines[i]}"
                                   f" ({cells[i]}) does not come after the line before it. Sort "
                                   f"the file by {name!r}.")
            else:
                ignored.append(name)
            continue
        if text_rows:
            i = text_rows[0]
            hint = (" Write numbers with a dot as the decimal separator and without thousands "
                    "separators." if re.fullmatch(r"-?[\d.]+,\d+", cells[i]) else "")
            raise CsvError(f"Column {name!r}, line {body_lines[i]}: {cells[i]!r} is not "
                           f"a number. Every cell of a numeric column must be a number.{hint}")
        for i, (cell, value) in enumerate(zip(cells, numbers)):
            if value is None or math.isnan(value):
                raise CsvError(f"Column {name!r}, line {body_lines[i]}: the value is "
                               f"missing ({cell!r}). Fill the gap (e.g. with the previous value) "
                               "or delete the row.")
            if not math.isfinite(value):
                raise CsvError(f"Column {name!r}, line {body_lines[i]}: {cell!r} is not "
                               "a finite number. Replace it with a real measurement.")
        is_time = (time_index is None and name.strip().lower() in TIME_NAMES
                   and all(b > a for a, b in zip(numbers, numbers[1:])))
        if is_time:
            time_index = j
        else:
            numeric.append((name, numbers))
    if not numeric:
        raise CsvError("No numeric column found. The file needs at least one column of numbers "
                       "(one value per row, e.g.  date,temperature  then  2024-01-01,3.5)."
                       + (f" Columns read as text: {', '.join(ignored)}." if ignored else ""))
    if len(numeric) > MAX_COLUMNS:
        raise CsvError(f"The file has {len(numeric)} numeric columns; at most {MAX_COLUMNS}. "
                       "Keep only the series you want to forecast.")
    time = None if time_index is None else tuple(row[time_index] for row in body)
    if ignored:
        notes.append(f"Ignored text column(s): {', '.join(ignored)}.")
    if decimal_comma:
        notes.append("Semicolon-separated: decimal commas (3,5) were read as decimal points.")
    values = np.array([numbers for _, numbers in numeric], dtype=np.float64).T
    return make_dataset(tuple(name for name, _ in numeric), values, time=time,
                        time_name=None if time_index is None else header[time_index],
                        source=source, notes=tuple(notes))


def make_dataset(columns, values: np.ndarray, **kwargs) -> Dataset:
    """A Dataset after the checks that every door shares (upload, run file, command line)."""
    values = np.asarray(values, dtype=np.float64)
    if values.ndim != 2 or values.shape[1] != len(columns) or not 1 <= len(columns) <= MAX_COLUMNS:
        raise CsvError(f"The data must be a table of 1 to {MAX_COLUMNS} numeric columns.")
    if not MIN_ROWS <= values.shape[0] <= MAX_ROWS:
        raise CsvError(f"The series has {values.shape[0]} rows; it needs {MIN_ROWS} to "
                       f"{MAX_ROWS:,}.")
    if not np.isfinite(values).all():
        raise CsvError("The data contains values that are not finite numbers (NaN or inf).")
    dataset = Dataset(tuple(str(c) for c in columns), values, **kwargs)
    with np.errstate(over="ignore", invalid="ignore"):
        std = dataset.std
    for name, s in zip(dataset.columns, std):
        if not math.isfinite(s):
            raise CsvError(f"Column {name!r} holds numbers too large to compute with; rescale it "
                           "(e.g. to thousands or millions).")
        if s <= 1e-12 * max(1.0, float(np.abs(dataset.values).max())):
            raise CsvError(f"Column {name!r} does not change in the training part (the first "
                           "80% of rows): a constant carries nothing to learn. Remove the column.")
    return dataset


def load_csv_file(path: str | Path) -> Dataset:
    """``parse_csv`` on a file (the command line's door); a missing file is a CsvError."""
    path = Path(path)
    if not path.is_file():
        raise CsvError(f"{path}: no such file")
    if path.stat().st_size > MAX_CSV_BYTES:
        raise CsvError(f"{path}: larger than {MAX_CSV_BYTES / 1e6:.0f} MB")
    try:
        return parse_csv(path.read_bytes(), source=path.name)
    except CsvError as err:
        raise CsvError(f"{path}: {err}") from None


def dataset_from_meta(meta, expected_name: str) -> Dataset:
    """Rebuild a data set stored in a run file, checking everything: shapes, numbers, sizes, and
    that its hash gives ``expected_name`` (a file cannot pass off other data under a name)."""
    try:
        columns = [str(c) for c in meta["columns"]]
        values = np.array(meta["values"], dtype=np.float64).T
        source = str(meta.get("source", ""))[:200]
    except (KeyError, TypeError, ValueError) as err:
        raise CsvError(f"the stored data set is malformed ({err})") from None
    dataset = make_dataset(columns, values, source=source)
    if dataset.name != expected_name:
        raise CsvError(f"the stored data set does not match its name {expected_name} (the "
                       "file was altered)")
    return dataset


# ---------------------------------------------------------------- the task


class CsvTask(Task):
    """Forecast the next row of a user's series at every step (see the module docstring)."""

    many_to_one = False
    classification = False
    metric_name = "MSE"

    def __init__(self, dataset: Dataset):
        self.dataset = dataset
        self.name = dataset.name
        self.title = f"Your data: {', '.join(dataset.columns)}"
        self.mean, self.std = dataset.mean, dataset.std
        z = (dataset.values - self.mean) / self.std
        self.series = torch.tensor(z, dtype=torch.float32)
        split = dataset.split
        val = z[split:]
        self.chance_mse = float((val[1:] ** 2).mean())
        self.persistence_mse = float(((val[1:] - val[:-1]) ** 2).mean())
        self.description = (
            f"Your series ({dataset.rows:,} rows, columns {', '.join(dataset.columns)}"
            f"{', from ' + dataset.source if dataset.source else ''}). At every time step the "
            "network sees the current value of every column and must predict the next one: a "
            "many-to-many regression, like the sine task. Each column is z-scored with the mean "
            "and standard deviation of the training part; the first "
            f"{1 - VALIDATION_SHARE:.0%} of the rows ({split:,}) train, the last "
            f"{VALIDATION_SHARE:.0%} ({dataset.rows - split:,}) validate, so the score measures "
            "forecasting the future, not remembering the past. Chance is the best constant "
            "forecast on the validation windows (their mean); the training mean, 0 after "
            f"z-scoring, scores MSE {self.chance_mse:.3f} over the validation part. Simply "
            "repeating the last value "
            "scores "
            f"{self.persistence_mse:.3f}, a bar a useful model should also clear.")

    def input_size(self) -> int:
        return len(self.dataset.columns)

    def output_size(self) -> int:
        return len(self.dataset.columns)

    def part(self, split: str) -> torch.Tensor:
        cut = self.dataset.split
        return self.series[:cut] if split == "train" else self.series[cut:]

    def sample(self, batch, seq_len, generator, *, split="train", **_):
        part = self.part(split)
        if seq_len > self.dataset.max_seq_len:
            raise ValueError(f"seq_len: at most {self.dataset.max_seq_len} for this data "
                             f"({self.dataset.rows} rows, of which the last "
                             f"{self.dataset.rows - self.dataset.split} validate)")
        starts = torch.randint(0, len(part) - seq_len, (batch,), generator=generator)
        windows = part[starts[:, None] + torch.arange(seq_len + 1)]
        return windows[:, :-1].clone(), windows[:, 1:].clone()

    def chance(self, seq_len, **params):
        """Over the whole validation part, always predicting the training mean (0 after
        z-scoring); ``chance_for`` gives the best constant on a run's validation set, the
        validation windows' own mean, which is what a run is compared with."""
        return Chance(loss=self.chance_mse, metric=self.chance_mse,
                      how=f"the training mean, 0 after z-scoring, scores {self.chance_mse:.3f} "
                          "over the whole validation part")

    def to_units(self, values: np.ndarray) -> np.ndarray:
        """z-scored ``[..., C]`` back to the file's units."""
        return np.asarray(values) * self.std + self.mean
