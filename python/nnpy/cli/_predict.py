"""nnpy predict and nnpy score: a saved model on a CSV file's rows."""
from __future__ import annotations

import argparse
import csv
import io
import sys
from typing import IO, TYPE_CHECKING, Any, Sequence, TextIO

import numpy as np

from ._checks import UsageError, _check_encodable, _check_not_an_input, _check_writable
from ._train import _r2

if TYPE_CHECKING:
    from .._csvtable import Table


def _load_model(path: str) -> Any:
    from ..modelfile import load
    try:
        return load(path)
    except FileNotFoundError:
        raise UsageError(f"{path}: no such file") from None
    except OSError as err:
        raise UsageError(f"{path} cannot be read: {err.strerror or err}") from None
    except ValueError as err:
        raise UsageError(str(err)) from None


def _model_inputs(model: Any, table: Table, unknown: str, problems: Any) -> np.ndarray:
    """The model's network inputs (before standardisation) for a table's rows; what cannot be
    read or encoded goes to `problems` (a _csvtable.Problems) with its line."""
    from .._csvtable import TableError, is_missing
    features = list(model.feature_names)
    missing = [name for name in features if name not in table.columns]
    if missing:
        raise TableError(f"{table.name} lacks the model's feature column"
                         f"{'s' * (len(missing) > 1)} {', '.join(map(repr, missing))}"
                         + (f" (the model takes {', '.join(map(repr, features))})"
                            if len(missing) < len(features) else ""))
    columns: dict[str, Any] = {}
    for name in features:
        table.index(name)  # a column named twice
        if name in model.categories:
            columns[name] = [None if is_missing(c) else c for c in table.cells(name)]
        else:
            columns[name] = table.scan_numbers(
                name, problems, "the model's feature column is numeric")
    inputs, found = model.encode_columns(columns, unknown)
    for row, name, kind, text in found:
        line = table.lines[row]
        if kind == "missing" and not is_missing(table.cells(name)[row]):
            continue  # a cell that is not a number: said by scan_numbers
        if kind == "missing":
            problems.add(line, f"column {name!r} has {_empty(table.cells(name)[row])}",
                         "the model fills no missing value (it was trained without --missing "
                         "mean or median): fill the cells or leave the rows out")
        elif kind == "unknown":
            problems.add(line, text, "--unknown ignore encodes a category the model did not "
                         "see as none of those it knows")
        elif kind != "infinite":  # already said: a cell beyond float64 is not a number here
            problems.add(line, text)
    return inputs


def _empty(cell: str) -> str:
    return "an empty cell" if cell == "" else f"a missing value ({cell!r})"


def _outputs(model: Any, inputs: np.ndarray, data: str) -> np.ndarray:
    """The model's network outputs; a value too large for its scaling is a UsageError."""
    try:
        return model._outputs(inputs)
    except ValueError as err:
        raise UsageError(f"{data}: {err}") from None


def _prediction_column(model: Any, columns: Sequence[str]) -> str:
    """The name of the prediction's column: the target's, or predicted_TARGET when the file
    has the target column (then kept as it is, beside the prediction)."""
    name = model.target
    if name in columns:
        name = f"predicted_{model.target}"
        while name in columns:
            name = "_" + name
    return name


def run_predict(args: argparse.Namespace) -> int:
    from .._csvtable import Problems, TableError, read_table
    out_path = None if args.out in (None, "-") else args.out
    if out_path is not None:
        _check_not_an_input("--out", out_path, [("MODEL", args.model)]
                            + ([("DATA.csv", args.data)] if args.data != "-" else []))
        problem = _check_writable(out_path, "--out")
        if problem:
            raise UsageError(problem)
    model = _load_model(args.model)
    if args.proba and model.task != "classify":
        raise UsageError(f"--proba: {args.model} is a regression model (target "
                         f"{model.target!r}); only a classifier has class probabilities")
    try:
        table = read_table(args.data)
        problems = Problems(table.name)
        inputs = _model_inputs(model, table, args.unknown, problems)
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    header = list(table.columns) + [_prediction_column(model, table.columns)]
    outputs = _outputs(model, inputs, table.name)
    labels = model._decode(outputs)
    if args.proba:
        probabilities = model._probabilities(outputs)
        header += [f"P({label})" for label in model.classes.tolist()]

    def write(out: TextIO) -> None:
        writer = csv.writer(out, lineterminator="\n")
        writer.writerow(header)
        for i, row in enumerate(table.rows):
            line = list(row)
            line.append(_cell(labels[i]))
            if args.proba:
                line.extend(repr(float(p)) for p in probabilities[i])
            writer.writerow(line)

    if out_path is None:
        _check_encodable(header + [_cell(label) for label in np.unique(labels)]
                         + [cell for row in table.rows for cell in row])
        write(sys.stdout)
        sys.stdout.flush()
        return 0

    def write_file(f: IO[bytes]) -> None:
        text = io.TextIOWrapper(f, encoding="utf-8", newline="")
        write(text)
        text.flush()
        text.detach()  # write_atomically closes f

    from ..io import write_atomically
    try:
        write_atomically(out_path, write_file)
    except OSError as err:
        raise UsageError(f"--out {out_path!r} cannot be written: {err.strerror or err}") \
            from None
    print(f"nnpy predict: wrote {len(table)} rows to {out_path}", file=sys.stderr)
    return 0


def run_score(args: argparse.Namespace) -> int:
    from .._csvtable import Problems, TableError, is_missing, read_table
    model = _load_model(args.model)
    try:
        table = read_table(args.data)
        if model.target not in table.columns:
            raise TableError(f"{table.name} has no column {model.target!r}, the model's target: "
                             f"scoring needs the true values (nnpy predict gives predictions "
                             f"alone)")
        table.index(model.target)
        problems = Problems(table.name)
        inputs = _model_inputs(model, table, args.unknown, problems)
        truth_cells = table.cells(model.target)
        if model.task == "regress":
            truth = table.scan_numbers(model.target, problems, "a regression's target is "
                                       "numeric")
            table.report_missing(model.target, problems, " (the target)",
                                 "every row scored needs its true value")
        else:
            for line, cell in zip(table.lines, truth_cells):
                if cell == "" or cell.lower() == "nan":
                    problems.add(line, f"column {model.target!r} (the target) has "
                                 f"{_empty(cell)}", "every row scored needs its true label")
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    predicted = model._decode(_outputs(model, inputs, table.name))
    n = len(table)
    print(f"nnpy score: {args.model} on {table.name}, {n} row{'s' * (n > 1)}; target "
          f"{model.target!r} ({'classify' if model.task == 'classify' else 'regress'})")
    if model.task == "regress":
        error = predicted - truth
        mae = float(np.mean(np.abs(error)))
        rmse = float(np.sqrt(np.mean(error ** 2)))
        r2 = "not defined for one row" if n < 2 else f"{_r2(truth, predicted):.4f}"
        print(f"R^2: {r2}")
        print(f"MAE: {mae:.6g}")
        print(f"RMSE: {rmse:.6g}")
        return 0
    predicted_text = [_cell(label) for label in predicted]
    right = sum(p == t for p, t in zip(predicted_text, truth_cells))
    print(f"Accuracy: {100 * right / n:.1f}% ({right} of {n} rows)")
    known = [_cell(label) for label in model.classes]
    unseen = sorted(set(truth_cells) - set(known))
    if unseen:
        print(f"({len(unseen)} label{'s' * (len(unseen) > 1)} of the file the model does not "
              f"know, counted as wrong: {', '.join(map(repr, unseen[:6]))}"
              f"{', ...' if len(unseen) > 6 else ''})")
    _print_confusion(truth_cells, predicted_text, known + unseen, known)
    return 0


def _print_confusion(truth: Sequence[str], predicted: Sequence[str], rows: Sequence[str],
                     columns: Sequence[str]) -> None:
    """The confusion matrix: a row per true label, a column per predicted one."""
    counts = {(t, p): 0 for t in rows for p in columns}
    for t, p in zip(truth, predicted):
        counts[t, p] += 1
    width = max(5, *(len(c) for c in columns), *(len(str(v)) for v in counts.values()))
    label_width = max(4, *(len(r) for r in rows))
    print()
    print("Confusion matrix (rows: true label, columns: predicted label):")
    print(" " * (label_width + 2) + "".join(f"{c:>{width + 1}}" for c in columns))
    for r in rows:
        print(f"  {r:<{label_width}}" + "".join(
            f"{counts[r, c] if counts[r, c] else '.':>{width + 1}}" for c in columns))


def _cell(value: Any) -> str:
    """A prediction as CSV text: labels as they were, floats with all their digits."""
    if isinstance(value, (float, np.floating)):
        return repr(float(value))
    return str(value)
