"""A user's time series once it is read: ``Dataset``, the limits every door shares, and the form
a run file stores it in.

``rnnviz.core.csvread`` makes a Dataset from a CSV file; ``make_dataset`` is the one place that
checks the table itself (shape, sizes, finite numbers, columns that change), whichever door the
data came through: an upload, the command line, or a run file (``dataset_from_meta``).
"""

from __future__ import annotations

import hashlib
import json
import math
from dataclasses import dataclass, field

import numpy as np

MAX_CSV_BYTES = 2 * 1024 * 1024
MAX_ROWS = 20_000
MIN_ROWS = 30
MAX_COLUMNS = 8
MAX_FIELDS = 64  # columns of any kind: bounds the work a hostile file can ask for
VALIDATION_SHARE = 0.2


class CsvError(ValueError):
    """A CSV that cannot be used; the message says what is wrong and how to fix it."""


@dataclass(frozen=True, eq=False)
class Dataset:
    """A checked time series.

    ``values`` ``[rows, columns]`` float64 in the file's units, finite, in time order. ``time``
    ``[rows]`` the time column (datetime64 or float64) when the file had one, for charts only.
    ``notes``: one plain sentence per choice the reader made (separator, time column, sorting,
    filled gaps, ...). The choices the learner can change: ``series_options`` (the series of a
    long-format file, by the value of ``series_column``; ``series`` is the one used) and
    ``column_options`` (every numeric column of that series; ``columns`` are the ones used).
    Only ``columns`` and ``values`` make the data set's identity (``name``).
    """

    columns: tuple[str, ...]
    values: np.ndarray
    time: np.ndarray | None = None
    time_name: str | None = None
    source: str = ""
    notes: tuple[str, ...] = ()
    series_column: str | None = None
    series: str | None = None
    series_options: tuple[str, ...] = ()
    column_options: tuple[str, ...] = ()
    name: str = field(init=False)

    def __post_init__(self):
        object.__setattr__(self, "name", "csv:" + data_hash(self.columns, self.values)[:12])

    @property
    def rows(self) -> int:
        return self.values.shape[0]

    @property
    def split(self) -> int:
        """Index of the first validation row: the last ``VALIDATION_SHARE`` of time validates."""
        return training_rows(self.rows)

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
        """x values for charts ``[rows]``: the time column, else the row number."""
        return self.time if self.time is not None else np.arange(self.rows)

    def to_meta(self) -> dict:
        """JSON-able form stored inside run files (floats round-trip exactly through JSON)."""
        return {"columns": list(self.columns), "values": self.values.T.tolist(),
                "source": self.source}


def data_hash(columns, values: np.ndarray) -> str:
    """sha1 of the column names and the float64 values: the identity of a data set."""
    digest = hashlib.sha1(json.dumps(list(columns)).encode("utf-8"))
    digest.update(np.ascontiguousarray(values, dtype="<f8").tobytes())
    return digest.hexdigest()


def training_rows(rows: int) -> int:
    """How many of ``rows`` rows train: all but the last ``VALIDATION_SHARE`` (at least one)."""
    return rows - max(1, round(rows * VALIDATION_SHARE))


def constant_columns(values: np.ndarray) -> np.ndarray:
    """``[columns]`` bool: the column of ``values`` ``[rows, columns]`` does not change in the
    training part (a column too large to compute with is not constant: it is refused as such)."""
    with np.errstate(over="ignore", invalid="ignore"):
        std = values[: training_rows(len(values))].std(axis=0)
        return std <= 1e-12 * max(1.0, float(np.abs(values).max()))


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
    for name, s, constant in zip(dataset.columns, std, constant_columns(values)):
        if not math.isfinite(s):
            raise CsvError(f"Column {name!r} holds numbers too large to compute with; rescale it "
                           "(e.g. to thousands or millions).")
        if constant:
            raise CsvError(f"Column {name!r} does not change in the training part (the first "
                           "80% of rows): a constant carries nothing to learn. Remove the column.")
    return dataset


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
