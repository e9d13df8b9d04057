"""CSV tables for `nnpy train` and `nnpy predict`: a header line, then one row per sample.

Read with the standard library's csv module (comma-separated, double quotes, UTF-8 with or
without a byte-order mark; spaces after a comma are skipped, so `1, "a,b"` is two cells;
blank lines are skipped). Column names and cells are stripped of
surrounding spaces. Numbers are parsed strictly: decimal notation with an optional sign,
fraction and exponent ("3", "-0.5", ".5", "1e-3"); anything else in a numeric column, a
missing value ("", "NaN", "NA", "null", ...) or a number beyond float64 is a TableError that
names the column and the line.
"""
from __future__ import annotations

import csv
import io
import os
import re
from typing import Sequence

import numpy as np

from .io import PathLike, open_regular

__all__ = ["TableError", "Table", "read_table"]

_NUMBER = re.compile(r"[+-]?(?:[0-9]+\.?[0-9]*|\.[0-9]+)(?:[eE][+-]?[0-9]+)?")
_INTEGER = re.compile(r"[+-]?[0-9]+")
_MISSING = {"", "nan", "na", "n/a", "null", "none"}  # read as a missing value (lower case)
_INT64 = np.iinfo(np.int64)


class TableError(ValueError):
    """Something wrong with a CSV table, said for the person who wrote it (the command line
    prints it and exits with status 2)."""


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

    def numbers(self, columns: Sequence[str], why: str = "") -> np.ndarray:
        """The columns as a float64 array (n_rows, len(columns)), parsed strictly; `why`
        ends the message about a cell that is not a number."""
        out = np.empty((len(self.rows), len(columns)), dtype=np.float64)
        for j, column in enumerate(columns):
            out[:, j] = self._numeric(column, self.cells(column), why)
        return out

    def target(self, column: str, task: str | None) -> tuple[np.ndarray, str, str]:
        """The target column as (values, task, label_type). task None: integers and strings
        are classes, other numbers a regression. Classes are int64 when every cell is an
        integer written as Python and JSON write it back ("7", "-3"), else the cells' text
        (label_type "int" or "str"): a label comes back as it was written, so "01", "+3" or
        "-0" keep their spelling, as text (and "1" and "01" are two classes). A regression's
        values are float64 (label_type "float")."""
        cells = self.cells(column)
        present = [c for c in cells if c.lower() not in _MISSING]
        numeric = all(_NUMBER.fullmatch(c) for c in present)
        integral = numeric and all(_INTEGER.fullmatch(c) for c in present)
        if task is None:
            task = "classify" if integral or not numeric else "regress"
        if task == "regress":
            return self._numeric(column, cells, "a regression's target must be numeric"), \
                task, "float"
        if numeric and len(present) < len(cells):  # numbers with gaps: the gaps are missing
            self._numeric(column, cells)
        for line, cell in zip(self.lines, cells):  # text labels may be "NA"; never empty
            if cell == "" or cell.lower() == "nan":
                raise TableError(f"{self.name}, line {line}: column {column!r} (the target) "
                                 f"has {_missing(cell)}; every row needs a label")
        if integral:
            values = [int(c) for c in cells]
            if all(_INT64.min <= v <= _INT64.max and str(v) == c
                   for v, c in zip(values, cells)):
                return np.array(values, dtype=np.int64), task, "int"
        return np.array(cells, dtype=str), task, "str"

    def _numeric(self, column: str, cells: Sequence[str], why: str = "") -> np.ndarray:
        """The cells as float64, or a TableError naming the column and the first bad line."""
        try:
            values = np.array(cells, dtype=np.float64)  # fast; accepts more than we do
            strict = all(map(_NUMBER.fullmatch, cells))
        except ValueError:
            strict = False
        if strict and np.isfinite(values).all():
            return values
        for line, cell in zip(self.lines, cells):
            if cell.lower() in _MISSING:
                raise TableError(f"{self.name}, line {line}: column {column!r} has "
                                 f"{_missing(cell)}; every cell must hold a number")
            if not _NUMBER.fullmatch(cell):
                raise TableError(f"{self.name}, line {line}: column {column!r} holds "
                                 f"{_short(cell)}, which is not a number"
                                 + (f"; {why}" if why else ""))
            if not np.isfinite(float(cell)):
                raise TableError(f"{self.name}, line {line}: column {column!r} holds "
                                 f"{_short(cell)}, beyond the range of float64")
        raise AssertionError("unreachable: some cell failed the checks")  # pragma: no cover


def read_table(path: PathLike) -> Table:
    """The CSV file at `path` as a Table. TableError for a missing or unreadable file, one that
    is not CSV text, rows whose length differs from the header's, or no data rows."""
    name = _display(path)
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
