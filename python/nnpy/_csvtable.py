"""CSV tables for `nnpy train` and `nnpy predict`: a header line, then one row per sample.

Read with the standard library's csv module (comma-separated, double quotes, UTF-8 with or
without a byte-order mark; spaces after a comma are skipped, so `1, "a,b"` is two cells;
blank lines are skipped); the name "-" reads standard input. Column names and cells are
stripped of surrounding spaces. Numbers are parsed strictly: decimal notation with an
optional sign, fraction and exponent ("3", "-0.5", ".5", "1e-3"). A cell "", "NaN", "NA",
"N/A", "null" or "None" (any case) is a missing value, in every column. What is wrong with a
file is gathered in a Problems list, so that one message names every bad cell (the first
Problems.LIMIT of them, with file, line and column), and is raised as one TableError.
"""
from __future__ import annotations

import csv
import io
import os
import re
import sys
from typing import IO, Optional, Sequence

import numpy as np

from ._safefile import PathLike, open_regular

__all__ = ["TableError", "Table", "Problems", "read_table", "is_missing", "STDIN"]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MISSING = {"", "nan", "na", "n/a", "null", "none"}  # read as a missing value (lower case)
_INT64 = np.iinfo(np.int64)
STDIN = "-"  # the file name that reads standard input
STDIN_NAME = "<stdin>"


def is_missing(cell: str) -> bool:
    """Whether a cell (stripped) is a missing value."""
    return cell.lower() in _MISSING


class TableError(ValueError):
    """Something wrong with a CSV table, said for the person who wrote it (the command line
    prints it and exits with status 2)."""


class Problems:
    """What is wrong with a file, gathered to be said at once: raise_if_any raises one
    TableError naming the first LIMIT problems (file, line, column), then how many more, then
    the hints that apply."""

    LIMIT = 20

    def __init__(self, name: str) -> None:
        self.name = name
        self.items: list[tuple[int, int, str]] = []  # (line or 0 for the whole file, order, text)
        self.hints: list[str] = []

    def __len__(self) -> int:
        return len(self.items)

    def add(self, line: Optional[int], text: str, hint: str = "") -> None:
        self.items.append((line or 0, len(self.items), text))
        if hint and hint not in self.hints:
            self.hints.append(hint)

    def message(self) -> str:
        items = sorted(self.items)

        def where(line: int) -> str:
            return f"{self.name}, line {line}" if line else self.name

        if len(items) == 1:
            line, _, text = items[0]
            return f"{where(line)}: {text}" + "".join(f"; {hint}" for hint in self.hints)
        shown = [f"  {where(line)}: {text}" for line, _, text in items[:self.LIMIT]]
        if len(items) > self.LIMIT:
            shown.append(f"  ... and {len(items) - self.LIMIT} more")
        return "\n".join([f"{self.name}: {len(items)} problems:", *shown, *self.hints])

    def raise_if_any(self) -> None:
        if self.items:
            raise TableError(self.message())


class Table:
    """A CSV file's header and cells (strings), and the line of the file each row came from."""

    def __init__(self, name: str, columns: list[str], rows: list[list[str]], lines: list[int]):
        self.name = name          # the file's name, for messages
        self.columns = columns    # the header's column names
        self.rows = rows          # the data rows, each a list of cells
        self.lines = lines        # lines[i]: the file's line number of rows[i]

    def __len__(self) -> int:
        return len(self.rows)

    def index(self, column: str) -> int:
        """The position of `column`; TableError if the header lacks it or has it twice."""
        places = [i for i, name in enumerate(self.columns) if name == column]
        if not places:
            raise TableError(f"{self.name} has no column {column!r}; its columns are "
                             f"{_listing(self.columns)}")
        if len(places) > 1:
            raise TableError(f"{self.name} has two columns named {column!r} (columns "
                             f"{places[0] + 1} and {places[1] + 1})")
        return places[0]

    def cells(self, column: str) -> list[str]:
        """The cells of `column`, one per row."""
        i = self.index(column)
        return [row[i] for row in self.rows]

    def subset(self, keep: Sequence[int] | np.ndarray) -> "Table":
        """The table of the rows `keep` (indices), their lines kept."""
        return Table(self.name, self.columns, [self.rows[i] for i in keep],
                     [self.lines[i] for i in keep])

    def is_text(self, column: str) -> bool:
        """Whether the column holds text: it has cells that are not missing, and none of them
        is a number."""
        present = [c for c in self.cells(column) if not is_missing(c)]
        return bool(present) and not any(_NUMBER.fullmatch(c) for c in present)

    def scan_numbers(self, column: str, problems: Problems, why: str = "") -> np.ndarray:
        """The column as float64, NaN where a cell is missing; a cell that is not a number
        (or is beyond float64) is added to `problems` (`why`: the hint that goes with it) and
        read as NaN too."""
        cells = self.cells(column)
        try:
            values = np.array(cells, dtype=np.float64)  # fast; accepts more than we do
            if all(map(_NUMBER.fullmatch, cells)) and np.isfinite(values).all():
                return values
        except ValueError:
            pass
        values = np.full(len(cells), np.nan)
        for i, (line, cell) in enumerate(zip(self.lines, cells)):
            if is_missing(cell):
                continue
            if not _NUMBER.fullmatch(cell):
                problems.add(line, f"column {column!r} holds {_short(cell)}, which is not a "
                             f"number", why)
            elif not np.isfinite(float(cell)):
                problems.add(line, f"column {column!r} holds {_short(cell)}, beyond the range "
                             f"of float64")
            else:
                values[i] = float(cell)
        return values

    def missing_rows(self, column: str) -> np.ndarray:
        """A bool mask: which rows have a missing value in `column`."""
        return np.array([is_missing(c) for c in self.cells(column)], dtype=bool)

    def report_missing(self, column: str, problems: Problems, what: str = "",
                       hint: str = "") -> None:
        """Adds each missing cell of `column` to `problems`."""
        for line, cell in zip(self.lines, self.cells(column)):
            if is_missing(cell):
                problems.add(line, f"column {column!r}{what} has {_missing(cell)}", hint)

    def numbers(self, columns: Sequence[str], why: str = "") -> np.ndarray:
        """The columns as a float64 array (n_rows, len(columns)), parsed strictly; TableError
        naming every missing or bad cell (`why` ends the message about one that is not a
        number)."""
        problems = Problems(self.name)
        out = np.empty((len(self.rows), len(columns)), dtype=np.float64)
        for j, column in enumerate(columns):
            out[:, j] = self.scan_numbers(column, problems, why)
            self.report_missing(column, problems, hint="every cell must hold a number")
        problems.raise_if_any()
        return out

    def target(self, column: str, task: str | None,
               problems: Optional[Problems] = None) -> tuple[np.ndarray, str, str]:
        """The target column as (values, task, label_type). task None: integers and strings
        are classes, other numbers a regression. Classes are int64 when every cell is an
        integer written as Python and JSON write it back ("7", "-3"), else the cells' text
        (label_type "int" or "str"): a label comes back as it was written, so "01", "+3" or
        "-0" keep their spelling, as text (and "1" and "01" are two classes). A regression's
        values are float64 (label_type "float"). A missing or bad cell is added to
        `problems` (then the values are not to be used), or raised as a TableError."""
        own = problems is None
        found = Problems(self.name) if problems is None else problems
        before = len(found)
        cells = self.cells(column)
        present = [c for c in cells if not is_missing(c)]
        numeric = all(_NUMBER.fullmatch(c) for c in present)
        integral = numeric and all(_INTEGER.fullmatch(c) for c in present)
        if task is None:
            task = "classify" if integral or not numeric else "regress"
        if task == "regress":
            values = self.scan_numbers(column, found, "a regression's target must be numeric")
            self.report_missing(column, found, " (the target)", "every row needs a target value")
        else:
            values = np.empty(0)
            if numeric:  # numbers with gaps: the gaps are missing
                self.report_missing(column, found, " (the target)", "every row needs a label")
            else:  # text labels may be "NA"; never empty
                for line, cell in zip(self.lines, cells):
                    if cell == "" or cell.lower() == "nan":
                        found.add(line, f"column {column!r} (the target) has "
                                  f"{_missing(cell)}", "every row needs a label")
        if own:
            found.raise_if_any()
        if task == "regress" or len(found) > before:
            return values, task, "float"
        if integral:
            ints = [int(c) for c in cells]
            if all(_INT64.min <= v <= _INT64.max and str(v) == c for v, c in zip(ints, cells)):
                return np.array(ints, dtype=np.int64), task, "int"
        return np.array(cells, dtype=str), task, "str"


def read_table(path: PathLike) -> Table:
    """The CSV file at `path` ("-": standard input) as a Table. TableError for a missing or
    unreadable file, one that is not CSV text, rows whose length differs from the header's,
    or no data rows."""
    name = _display(path)
    if name == STDIN:
        name = STDIN_NAME
        stdin = getattr(sys.stdin, "buffer", None)
        if stdin is None:
            raise TableError("standard input is closed; give DATA.csv as a file name")
        try:  # read whole: standard input stays open, and a pipe cannot be read twice
            f: IO[bytes] = io.BytesIO(stdin.read())
        except OSError as err:
            raise TableError(f"standard input cannot be read: {err.strerror or err}") from None
    else:
        try:
            f, _ = open_regular(path, "CSV file")
        except FileNotFoundError:
            raise TableError(f"{name}: no such file") from None
        except OSError as err:
            raise TableError(f"{name} cannot be read: {err.strerror or err}") from None
        except ValueError as err:  # a directory, a FIFO, ...
            raise TableError(str(err)) from None
    text = io.TextIOWrapper(f, encoding="utf-8-sig", newline="")
    reader = csv.reader(text, skipinitialspace=True, strict=True)
    columns: list[str] = []
    rows, lines = [], []
    try:
        with text:
            for row in reader:
                if not row:  # a blank line
                    continue
                cells = [cell.strip() for cell in row]
                if not columns:
                    columns = cells
                    continue
                if len(cells) != len(columns):
                    raise TableError(f"{name}, line {reader.line_num}: {len(cells)} "
                                     f"field{'s' * (len(cells) != 1)}, but the header has "
                                     f"{len(columns)}")
                rows.append(cells)
                lines.append(reader.line_num)
    except UnicodeDecodeError:
        raise TableError(f"{name} is not a CSV file (not UTF-8 text)") from None
    except csv.Error as err:
        raise TableError(f"{name}, line {reader.line_num}: not valid CSV: {err}") from None
    except OSError as err:
        raise TableError(f"{name} cannot be read: {err.strerror or err}") from None
    if not columns:
        raise TableError(f"{name} is empty; a CSV file with a header line is expected")
    if len(columns) == 1 and any(sep in columns[0] for sep in ";\t|"):
        raise TableError(f"{name}: the header {_short(columns[0])} is one column; nnpy reads "
                         f"comma-separated files")
    if not rows:
        raise TableError(f"{name} has a header but no data rows")
    return Table(name, columns, rows, lines)


def _display(path: PathLike) -> str:
    return os.fsdecode(os.fspath(path))


def _missing(cell: str) -> str:
    return "an empty cell" if cell == "" else f"a missing value ({cell!r})"


def _short(text: str) -> str:
    return repr(text) if len(text) <= 40 else repr(text[:30] + "...")


def _listing(names: Sequence[str], limit: int = 12) -> str:
    shown = ", ".join(map(repr, names[:limit]))
    return shown + (f", ... ({len(names)} in all)" if len(names) > limit else "")
