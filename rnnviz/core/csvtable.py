"""Untrusted CSV bytes to a table of typed columns: the checks that bound the work (size, rows,
fields, binary files) before pandas parses anything, then ``pandas.read_csv`` with the separator
and decimal mark the file uses, and each column classified as numbers, text or empty.

``read_table(data)`` returns a ``Table``; ``rnnviz.core.csvread`` makes a time series of it.
Anything unusable raises ``CsvError`` with a message that says what to fix.
"""

from __future__ import annotations

import csv
import io
import re
import warnings
from collections import Counter
from dataclasses import dataclass, field

import numpy as np
import pandas as pd

from rnnviz.core.dataset import (
    MAX_COLUMNS,
    MAX_CSV_BYTES,
    MAX_FIELDS,
    MAX_ROWS,
    MIN_ROWS,
    CsvError,
)

MISSING = {"", "na", "n/a", "nan", "null", "none", "-", "?", "#n/a"}
# pandas matches NA words exactly: the spellings spreadsheets write
_NA_TOKENS = sorted({spelling for word in MISSING
                     for spelling in (word, word.upper(), word.title())} | {"NaN", "<NA>"})
SEPARATORS = {",": "','", ";": "';'", "\t": "tab", "|": "'|'"}
_CONTROL = re.compile(r"[\x00-\x08\x0b\x0c\x0e-\x1f\x7f]")
_DECIMAL_COMMA = re.compile(r"[-+]?\d*,\d+(?:[eE][-+]?\d+)?")
_THOUSANDS = re.compile(r"-?[\d.]+,\d+")
_BOM = b"\xef\xbb\xbf"


@dataclass
class Table:
    """A CSV file read: its columns in file order (``order``), split by kind. ``numeric``:
    float64 Series with NaN where a cell is missing; ``text``: stripped strings, NaN where
    missing; ``empty``: columns without a value. The index is the row of the file's table
    (``where(row)`` names it for messages). ``blank``: the columns whose header was blank (an
    exported index, often). ``notes``: what reading chose (encoding, separator, header)."""

    order: list[str]
    numeric: dict[str, pd.Series]
    text: dict[str, pd.Series]
    empty: list[str]
    blank: set[str]
    where: Where
    notes: list[str] = field(default_factory=list)


def read_table(data: bytes) -> Table:
    """Read and classify an untrusted CSV file; ``CsvError`` says what to fix."""
    text, notes = decode(data)
    lines = [(number, line) for number, line in enumerate(text.splitlines(), 1) if line.strip()]
    if not lines:
        raise CsvError("The file has no lines with content.")
    if len(lines) > MAX_ROWS + 1:
        raise CsvError(f"The file has {len(lines) - 1:,} rows; at most {MAX_ROWS:,}. Shorten "
                       "the series or resample it (e.g. weekly instead of daily values).")
    try:  # the first lines only: bounded work whatever the file holds
        sep = _separator([line for _, line in lines[:20]])
        first = next(csv.reader([lines[0][1]], delimiter=sep))
    except csv.Error as err:  # e.g. a field over csv's 128 kB limit
        raise CsvError(f"The first lines are not well-formed CSV ({err}).") from None
    if len(first) > MAX_FIELDS:
        raise CsvError(f"The first line has {len(first):,} fields; at most {MAX_FIELDS} columns "
                       f"(of which at most {MAX_COLUMNS} numeric). Keep only the series to "
                       "forecast.")
    decimal_comma = _uses_decimal_commas(text, sep)
    has_header = any(_number(cell, decimal_comma) is None for cell in first)
    names, blank = _column_names(first if has_header else [""] * len(first), has_header)
    frame = _read_frame(lines, sep, decimal_comma, names, has_header)
    if len(frame) < MIN_ROWS:
        raise CsvError(f"The series has {len(frame)} rows; at least {MIN_ROWS} are needed, so "
                       "that both the training part (first 80%) and the validation part (last "
                       "20%) hold whole windows.")
    body_lines = [number for number, _ in lines[1 if has_header else 0:]]
    # a quoted field that spans lines breaks the row -> line count: messages then say "row"
    where = Where(body_lines if len(frame) == len(body_lines) else None)
    separated = f"with {SEPARATORS[sep]} separators" if len(names) > 1 else "of one column"
    notes.append(f"Read {len(frame):,} rows {separated}"
                 f"{' and decimal commas' if decimal_comma else ''}.")
    if not has_header:
        notes.append(f"The first line holds numbers, so the file has no header; the columns are "
                     f"named {names[0]!r} to {names[-1]!r}." if len(names) > 1 else
                     f"The first line holds a number, so the file has no header; the column is "
                     f"named {names[0]!r}.")
    numeric, text_columns, empty = _classify(frame, decimal_comma, where)
    return Table(list(frame.columns), numeric, text_columns, empty, blank, where, notes)


def decode(data: bytes) -> tuple[str, list[str]]:
    """The file as text, after the checks that need no parsing (size, binary formats)."""
    if not data:
        raise CsvError("The file is empty. Upload a CSV with a header line and one row per time "
                       "step, e.g.  date,temperature")
    if len(data) > MAX_CSV_BYTES:
        raise CsvError(f"The file is {len(data) / 1e6:.1f} MB; at most "
                       f"{MAX_CSV_BYTES / 1e6:.0f} MB. Keep fewer rows or columns (at most "
                       f"{MAX_ROWS:,} rows).")
    if data.startswith((b"\xff\xfe", b"\xfe\xff")):
        raise CsvError("The file is UTF-16 text. Save it as \"CSV UTF-8\" (in Excel: Save As, "
                       "CSV UTF-8) and upload it again.")
    if data.startswith(b"PK\x03\x04"):
        raise CsvError("This is a ZIP archive or an Excel workbook (.xlsx), not a CSV. In Excel "
                       "use Save As, CSV UTF-8.")
    if b"\x00" in data[:65536]:
        raise CsvError("The file contains NUL bytes: it is a binary file (an image, a "
                       "spreadsheet, a program) or UTF-16 text, not a CSV. Save it as CSV UTF-8.")
    notes = []
    if data.startswith(_BOM):  # Excel's "CSV UTF-8" starts with one; pandas would keep it
        data = data[len(_BOM):]
        notes.append("Skipped the byte-order mark at the start of the file.")
    try:
        text = data.decode("utf-8")
    except UnicodeDecodeError:
        # numbers are ASCII in every 8-bit encoding; only words (headers, names) differ
        try:
            text = data.decode("cp1252")
        except UnicodeDecodeError:
            text = data.decode("latin-1")
        notes.append("The file is not UTF-8; it was read as Latin-1 (Windows-1252) text.")
    if len(_CONTROL.findall(text[:65536])) > 10:
        raise CsvError("The file contains control characters: it is a binary file, not a CSV "
                       "text file. Save it as CSV UTF-8.")
    return text, notes


def _separator(lines: list[str]) -> str:
    """The separator that splits most of the first lines, the first line among them, into the
    same number (more than one) of fields; a comma when none does (a single-column file).

    Most, not all: a row with one stray separator must not lose the file its separator (a
    ';' file with one extra field in one row was read as one column of text separated by
    commas, and its diagnosis, "add the missing names to the header line", was wrong). A
    separator that splits the first line differently from the rest loses to one that agrees
    with it (a ';' file with decimal commas splits into two fields at the commas of its data
    lines, but its header has none). The rows that disagree are named by ``_read_frame``."""
    best, best_key = ",", None
    for candidate in SEPARATORS:
        counts = [len(row) for row in csv.reader(lines, delimiter=candidate)]
        fields = Counter(counts).most_common(1)[0][0]
        agreeing = counts.count(fields)
        if fields < 2 or agreeing * 2 <= len(counts):
            continue
        key = (counts[0] == fields, agreeing, fields)
        if best_key is None or key > best_key:
            best, best_key = candidate, key
    return best


def _uses_decimal_commas(text: str, sep: str) -> bool:
    """Whether a file not separated by commas writes its numbers with decimal commas (3,5): more
    fields look like 3,5 than like 3.5."""
    if sep == ",":
        return False
    s = re.escape(sep)
    field = r"(?:^|{s})[ \t]*\"?[-+]?\d+{d}\d+(?:[eE][-+]?\d+)?\"?[ \t]*(?={s}|$)"
    commas = len(re.findall(field.format(s=s, d=","), text, flags=re.M))
    return commas > 0 and commas >= len(re.findall(field.format(s=s, d=r"\."), text, flags=re.M))


def _number(cell: str, decimal_comma: bool = False) -> float | None:
    """The cell as a float, or None when it is not written as a number."""
    cell = cell.strip()
    if decimal_comma and _DECIMAL_COMMA.fullmatch(cell):
        cell = cell.replace(",", ".")
    try:
        return float(cell.replace("_", "x"))  # Python accepts 1_000; a CSV should not
    except ValueError:
        return None


def _column_names(header: list[str], has_header: bool) -> tuple[list[str], set[str]]:
    """Unique names for the columns (blank ones become "column 3") and the set of those that
    were blank in the file (a blank-headed first column is often an exported index)."""
    names, blank = [], set()
    for j, cell in enumerate(header):
        name = cell.strip() or f"column {j + 1}"
        if cell.strip() == "" and has_header:
            blank.add(name)
        while name in names:
            name += "'"
        names.append(name)
    return names, blank


def _read_frame(lines, sep: str, decimal_comma: bool, names: list[str],
                has_header: bool) -> pd.DataFrame:
    """pandas reads the table (numbers, quotes, missing words); its errors become CsvErrors."""
    body = "\n".join(line for _, line in lines)
    with warnings.catch_warnings():
        warnings.simplefilter("error", pd.errors.ParserWarning)
        try:
            return pd.read_csv(io.StringIO(body), sep=sep, decimal="," if decimal_comma else ".",
                               header=0 if has_header else None, names=names, index_col=False,
                               na_values=_NA_TOKENS, keep_default_na=False,
                               skipinitialspace=True, low_memory=False, engine="c")
        except pd.errors.ParserWarning:  # every data line is longer than the header
            longer = _first_line_with_other_count(lines[1:], sep, len(names))
            first = "header line" if has_header else "first line"
            raise CsvError(f"The {first} has {len(names)} field(s) (separator "
                           f"{SEPARATORS[sep]}) but the data lines have more"
                           + (f", from line {longer[0]} on ({longer[1]} fields)" if longer
                              else "") + ". Every line needs the same number of fields: add the "
                           f"missing names to the {first}.") from None
        except (pd.errors.ParserError, pd.errors.EmptyDataError, ValueError,
                OverflowError) as err:
            wide = re.search(r"Expected (\d+) fields in line (\d+), saw (\d+)", str(err))
            if wide:
                expected, line, saw = (int(n) for n in wide.groups())
                line = lines[line - 1][0] if line <= len(lines) else line
                first = "header line" if has_header else "first line"
                extra = ("the extra field" if saw - expected == 1
                         else f"the {saw - expected} extra fields")
                raise CsvError(
                    f"Line {line} has {saw} fields but the {first} has {expected} (separator "
                    f"{SEPARATORS[sep]}). Every line needs the same number of fields: remove "
                    f"{extra} (a stray {SEPARATORS[sep]}?) from line {line}, or, if the column "
                    f"is real, name it in the {first} and give it a value on every line."
                ) from None
            reason = str(err).replace("Error tokenizing data. C error: ", "").strip()
            raise CsvError(f"The file is not well-formed CSV ({reason}). Check the quotes: "
                           "every opening \" needs a closing one.") from None


def _first_line_with_other_count(lines, sep: str, count: int) -> tuple[int, int] | None:
    """(file line number, fields) of the first of ``lines`` that does not have ``count``
    fields; None when all have."""
    for (number, _), row in zip(lines, csv.reader((line for _, line in lines), delimiter=sep)):
        if len(row) != count:
            return number, len(row)
    return None


class Where:
    """Where a row of the table is in the file, for messages: "line 42" (or "row 41")."""

    def __init__(self, body_lines: list[int] | None):
        self.body_lines = body_lines

    def __call__(self, row: int) -> str:
        return (f"line {self.body_lines[row]}" if self.body_lines is not None
                else f"row {row + 1}")


def _to_numbers(cells: pd.Series, decimal_comma: bool) -> pd.Series:
    """Text cells as numbers (NaN where a cell is not one)."""
    if decimal_comma:
        cells = cells.where(~cells.str.fullmatch(_DECIMAL_COMMA.pattern, na=False),
                            cells.str.replace(",", ".", regex=False))
    cells = cells.where(~cells.str.contains("_", regex=False, na=False))  # 1_000 is not a number
    return pd.to_numeric(cells, errors="coerce").astype(np.float64)


def _classify(frame: pd.DataFrame, decimal_comma: bool, where: Where):
    """Split the columns into numeric ones (float64 Series, NaN where missing), text ones
    (stripped strings, NaN where missing) and empty ones. A column with numbers and words
    mixed is a mistake in the file and is refused, naming the first word."""
    numeric: dict[str, pd.Series] = {}
    text: dict[str, pd.Series] = {}
    empty: list[str] = []
    for name in frame.columns:
        column = frame[name]
        if pd.api.types.is_numeric_dtype(column) and not pd.api.types.is_bool_dtype(column):
            numeric[name] = column.astype(np.float64)
            continue
        cells = column.astype("str").astype(object).str.strip()  # bool columns too
        missing = cells.isna() | cells.str.lower().isin(MISSING)
        cells = cells.mask(missing)
        numbers = _to_numbers(cells, decimal_comma)
        words = (~missing & numbers.isna()).to_numpy()
        if numbers.notna().any() and words.any():
            row = int(np.flatnonzero(words)[0])
            cell = cells.iloc[row]
            hint = (" Write numbers without thousands separators (1000.5, or 1000,5 in a file "
                    "separated by ';')." if _THOUSANDS.fullmatch(cell) else "")
            raise CsvError(f"Column {name!r}, {where(row)}: {cell!r} is not a number. Every "
                           f"cell of a numeric column must be a number (or empty).{hint}")
        if numbers.notna().any():
            numeric[name] = numbers
        elif (~missing).any():
            text[name] = cells
        else:
            empty.append(name)
    return numeric, text, empty


def check_finite(table: pd.DataFrame, where: Where) -> None:
    """Refuse infinities (1e999 overflows to one), naming the first; its label in ``table``'s
    index is its row in the file's table."""
    values = table.to_numpy(dtype=np.float64)
    infinite = np.argwhere(np.isinf(values))
    if len(infinite):
        row, j = infinite[0]
        raise CsvError(f"Column {table.columns[j]!r}, {where(int(table.index[row]))}: "
                       f"{values[row, j]} is not a finite number. Replace it with a real "
                       "measurement (or leave the cell empty).")
