"""nnpy train: a network trained on a CSV file's columns (the rows split, the features
standardised, text one-hot encoded, missing cells dropped or filled) and saved."""
from __future__ import annotations

import argparse
import contextlib
import math
import sys
import time
import warnings
from typing import TYPE_CHECKING, Any, Iterator, Optional, Sequence

import numpy as np

from ._args import _seed32
from ._checks import UsageError, _check_not_an_input, _check_writable, _memory_problem
from ._output import _format_time, _have_tqdm, _on_terminal

if TYPE_CHECKING:
    from .._csvtable import Table
    from ..estimators import NNClassifier, NNRegressor

_NOT_NUMERIC_HINT = ("feature columns must be numeric (leave a column out with --ignore "
                     "COLUMN, or one-hot encode it with --categorical COLUMN)")


_MISSING_HINT = ("--missing drop leaves out the rows with a missing cell; --missing mean or "
                 "median fills them")
_MAX_AUTO_CATEGORIES = 50  # a text column with more distinct values is likely an id or free text
_EARLY_STOPPING_ROWS = 20  # the fewest validation rows early stopping is on for by default


class _TrainingData:
    """nnpy train's CSV file, read and checked: the table (rows with missing cells left out
    under --missing drop), the feature columns, the text ones among them with their cells
    (None where missing) and the numeric ones as float64 (NaN where missing), the target."""

    def __init__(self, table: Table, features: list[str], columns: dict[str, Any],
                 categorical: list[str], y: np.ndarray, task: str, label_type: str,
                 dropped: int, n_missing: int) -> None:
        self.table, self.features, self.columns = table, features, columns
        self.categorical, self.y, self.task, self.label_type = categorical, y, task, label_type
        self.dropped = dropped      # rows left out for missing cells (--missing drop)
        self.n_missing = n_missing  # missing feature cells to fill (--missing mean, median)


def run_train(args: argparse.Namespace) -> int:
    try:
        from ..estimators import NNClassifier, NNRegressor
    except ImportError:
        raise UsageError('training needs scikit-learn: pip install "nnpy-net[sklearn]"') from None
    from sklearn.model_selection import train_test_split

    from ..modelfile import Model, encode_columns
    if args.data != "-":
        _check_not_an_input("--save", args.save, [("DATA.csv", args.data)])
    problem = _check_writable(args.save, "--save")
    if problem:
        raise UsageError(problem)
    if args.early_stopping and args.solver == "lbfgs":
        raise UsageError("--early-stopping works with --solver adam or sgd (lbfgs has no "
                         "epochs to stop between)")
    if args.dropout and args.solver == "lbfgs":
        raise UsageError("--dropout works with --solver adam or sgd (lbfgs minimises one "
                         "fixed objective)")
    if args.loss is not None and args.task == "classify":
        raise UsageError("--loss is a regression's (--task regress): a classifier trains with "
                         "log-loss")
    data = _training_data(args)
    table, features, y, task = data.table, data.features, data.y, data.task
    if args.loss is not None and task == "classify":
        raise UsageError(f"--loss is a regression's, and {args.target!r} was read as classes: "
                         f"--task regress if it is a quantity")
    classes = np.unique(y) if task == "classify" else None
    n_test, n_train = _split_sizes(table, args, y, classes, data.label_type)
    n_out = len(classes) if classes is not None and len(classes) > 2 else 1

    # text columns: their categories are the file's (a held-out row's category is known too)
    categories = {name: sorted({c for c in data.columns[name] if c is not None})
                  for name in data.categorical}
    n_inputs = sum(len(categories.get(name, [0])) for name in features)
    batch = args.batch_size or min(n_train, 200)  # the estimators' batch_size "auto"
    problem = _memory_problem([n_inputs, *args.hidden, n_out],
                              "--hidden " + ",".join(map(str, args.hidden)), args.solver,
                              n_train, batch, args.activation)
    if problem:
        raise UsageError(problem)
    n_validation = math.ceil(args.validation_fraction * n_train)
    early = args.early_stopping if args.early_stopping is not None else \
        args.solver != "lbfgs" and n_validation >= _EARLY_STOPPING_ROWS
    epochs = args.epochs or (1000 if early else 200)

    train_rows, test_rows = train_test_split(
        np.arange(len(table)), test_size=n_test, train_size=n_train,
        random_state=_seed32(args.seed), stratify=y if task == "classify" else None)
    fill = _fills(data, categories, train_rows, args.missing)
    inputs, _ = encode_columns(features, categories, fill, data.columns)  # checked: no problems
    input_names = _input_names(features, categories)
    mean, scale = _scaling(inputs[train_rows], input_names, "feature column", table.name)
    one_hot = np.array([name in categories for name in features
                        for _ in categories.get(name, [0])])
    mean[one_hot], scale[one_hot] = 0.0, 1.0  # one-hot inputs stay 0 and 1
    target_scaling = None
    fit_y = y
    if task == "regress":
        (y_mean,), (y_scale,) = _scaling(y[train_rows, None], [args.target], "target",
                                         table.name)
        target_scaling = (y_mean, y_scale)
        fit_y = (y - y_mean) / y_scale
    kind = NNClassifier if task == "classify" else NNRegressor
    loss: dict[str, Any] = {} if task == "classify" else {"loss": args.loss or "squared_error"}
    estimator = kind(hidden_layer_sizes=args.hidden, activation=args.activation,
                     solver=args.solver, max_iter=epochs, random_state=_seed32(args.seed),
                     learning_rate_init=args.lr, alpha=args.alpha,
                     batch_size=args.batch_size or "auto", early_stopping=early,
                     validation_fraction=args.validation_fraction,
                     n_iter_no_change=args.patience, dropout=args.dropout, **loss)
    unit = "iterations" if args.solver == "lbfgs" else "epochs"

    what = ("regress" if classes is None
            else f"classify, {len(classes)} classes: {_labels_listing(classes)}")
    print(f"nnpy train: {table.name}, {len(table) + data.dropped} rows; target {args.target!r} "
          f"({what}); {len(features)} feature{'s' * (len(features) > 1)}")
    if classes is not None and data.label_type == "int" and args.task is None and \
            _looks_like_a_quantity(classes, len(y)):
        print(f"note: the target's {len(classes)} whole-number classes look like a quantity; "
              f"if it is one, --task regress is probably meant")
    if data.dropped:
        print(f"--missing drop: left out {data.dropped} row{'s' * (data.dropped > 1)} with a "
              f"missing cell")
    if data.n_missing:
        print(f"--missing {args.missing}: filled {data.n_missing} missing "
              f"cell{'s' * (data.n_missing > 1)} with the training rows' {args.missing} (the "
              f"most frequent category of a text column)")
    if categories:
        print("one-hot encoded: " + ", ".join(f"{name!r} ({len(c)} categor"
                                              f"{'ies' if len(c) > 1 else 'y'})"
                                              for name, c in categories.items()))
    print(f"{n_train} rows to train, {n_test} held out ({'stratified, ' * (task == 'classify')}"
          f"seed {args.seed}); features standardised"
          + (" and the target" if task == "regress" else ""))
    settings = "" if args.solver == "lbfgs" else \
        f" (lr {args.lr:g}, batch {args.batch_size or 'auto'})"
    extras = "".join([f", loss {args.loss}" if args.loss else "",
                      f", dropout {args.dropout:g}" if args.dropout else ""])
    print(f"{kind.__name__}: hidden layers {','.join(map(str, args.hidden))}, "
          f"{args.activation}, {args.solver}{settings}, alpha {args.alpha:g}{extras}, at most "
          f"{epochs} {unit}"
          + (f", early stopping on {n_validation} of the training rows (patience "
             f"{args.patience})" if early else ""))
    sys.stdout.flush()

    progress = not args.no_progress and _on_terminal() and _have_tqdm()
    started = time.perf_counter()
    converged = _fit(estimator, (inputs[train_rows] - mean) / scale, fit_y[train_rows], epochs,
                     progress)
    seconds = time.perf_counter() - started
    if converged is None:
        return 1

    model = Model.from_estimator(estimator, features, args.target, mean=mean, scale=scale,
                                 target_scaling=target_scaling, categories=categories,
                                 fill=fill)
    predicted = model._decode(model._outputs(inputs[test_rows]))
    if task == "classify":
        right = int(np.sum(predicted == y[test_rows]))
        metric, score = "accuracy", right / n_test
        summary = f"Held-out accuracy: {100 * score:.1f}% ({right} of {n_test} rows)"
    else:
        metric, score = "r2", _r2(y[test_rows], predicted)
        summary = f"Held-out R^2: {score:.4f} ({n_test} rows)"
    n_epochs = int(estimator.n_iter_)
    model.training = {"rows_train": n_train, "rows_test": n_test, "metric": metric,
                      "score": score, "seconds": seconds, "epochs": n_epochs}
    try:  # saved before the summary is printed: the model is what the run is for
        model.save(args.save)
    except OSError as err:
        raise UsageError(f"--save {args.save!r} cannot be written: {err.strerror or err}") \
            from None
    print(summary)
    stopped = ""
    if not converged:
        stopped = f" (stopped at --epochs {epochs} before converging: more --epochs may help)"
    elif early:
        stopped = (f" (early stopping: no better validation score for {args.patience} "
                   f"epochs; the best weights kept)")
    print(f"Training: {_format_time(seconds)}, {n_epochs} {unit}{stopped}")
    print(f"Saved the model to {args.save}; predict with: nnpy predict {args.save} DATA.csv")
    return 0


def _input_names(features: Sequence[str], categories: dict[str, list[str]]) -> list[str]:
    """The network's inputs: a numeric feature, or one "column=category" per category."""
    return [item for name in features for item in
            ([f"{name}={c}" for c in categories[name]] if name in categories else [name])]


def _r2(truth: np.ndarray, predicted: np.ndarray) -> float:
    """R^2 as scikit-learn's r2_score computes it (1 for a perfect fit of a constant)."""
    residual = float(np.sum((truth - predicted) ** 2))
    total = float(np.sum((truth - truth.mean()) ** 2))
    if total == 0:
        return 1.0 if residual == 0 else 0.0
    return 1.0 - residual / total


def _looks_like_a_quantity(classes: np.ndarray, n_rows: int) -> bool:
    """Whether integer classes look like a numeric quantity rather than a set of labels: many
    of them for the rows there are."""
    return len(classes) > 20 and len(classes) > n_rows / 10


def _fills(data: _TrainingData, categories: dict[str, list[str]], train_rows: np.ndarray,
           how: Optional[str]) -> dict[str, Any]:
    """The value that replaces a missing cell of each feature column (--missing mean or
    median): the training rows' mean or median, a text column's most frequent category
    there; {} otherwise."""
    if how not in ("mean", "median"):
        return {}
    fill: dict[str, Any] = {}
    for name in data.features:
        column = data.columns[name]
        if name in categories:
            present = [column[i] for i in train_rows if column[i] is not None]
            if not present:
                present = [c for c in column if c is not None]
            labels, counts = np.unique(present, return_counts=True)
            fill[name] = str(labels[int(np.argmax(counts))])  # the first of the most frequent
            continue
        values = column[train_rows]
        values = values[~np.isnan(values)]
        if not len(values):
            raise UsageError(f"{data.table.name}: column {name!r} has no value in the "
                             f"training rows to take the {how} of")
        fill[name] = float(np.mean(values) if how == "mean" else np.median(values))
    return fill


def _training_data(args: argparse.Namespace) -> _TrainingData:
    """nnpy train's CSV file, every cell checked: every problem is said at once."""
    from .._csvtable import Problems, TableError, read_table
    try:
        table = read_table(args.data)
        features = _feature_columns(table, args.target, args.ignore)
        for name in args.categorical:
            table.index(name)
            if name not in features:
                raise TableError(f"--categorical {name!r} is not a feature column (it is the "
                                 f"--target or --ignored)")
        categorical = [name for name in features
                       if name in args.categorical or table.is_text(name)]
        problems = Problems(table.name)
        for name in categorical:
            present = {c for c in table.cells(name) if not _is_missing_cell(c)}
            if name not in args.categorical and len(present) > _MAX_AUTO_CATEGORIES and \
                    len(present) > len(table) / 2:
                problems.add(None, f"column {name!r} holds text with {len(present)} distinct "
                             f"values in {len(table)} rows: an id or free text? leave it out "
                             f"with --ignore {name}, or one-hot encode it anyway with "
                             f"--categorical {name}")
        numeric = {name: table.scan_numbers(name, problems, _NOT_NUMERIC_HINT)
                   for name in features if name not in categorical}
        missing = np.zeros(len(table), dtype=bool)
        for name in features:
            missing |= table.missing_rows(name)
        target_missing = table.missing_rows(args.target)
        if args.missing is None:
            for name in features:
                table.report_missing(name, problems, hint=_MISSING_HINT)
        if args.missing == "drop":
            keep = np.flatnonzero(~(missing | target_missing))
            problems.raise_if_any()
            if not len(keep):
                raise TableError(f"{table.name}: every row has a missing cell; --missing drop "
                                 f"leaves none (--missing mean or median fills them)")
            dropped = len(table) - len(keep)
            table = table.subset(keep)
            numeric = {name: values[keep] for name, values in numeric.items()}
            n_missing = 0
        else:
            dropped = 0
            n_missing = int(sum(table.missing_rows(name).sum() for name in features))
        y, task, label_type = table.target(args.target, args.task, problems)
        problems.raise_if_any()
    except TableError as err:
        raise UsageError(str(err)) from None
    columns: dict[str, Any] = dict(numeric)
    for name in categorical:
        columns[name] = [None if _is_missing_cell(c) else c for c in table.cells(name)]
    return _TrainingData(table, features, columns, categorical, y, task, label_type, dropped,
                         n_missing)


def _is_missing_cell(cell: str) -> bool:
    from .._csvtable import is_missing
    return is_missing(cell)


def _fit(estimator: NNClassifier | NNRegressor, Z: np.ndarray, y: np.ndarray, epochs: int,
         progress: bool) -> Optional[bool]:
    """estimator.fit(Z, y) with its warnings caught: True if it converged, False if it ran out
    of epochs, None if it diverged (said on stderr). Ctrl-C propagates (KeyboardInterrupt)."""
    from sklearn.exceptions import ConvergenceWarning

    from ..network import TrainingDiverged
    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        try:
            with _epoch_progress(estimator, epochs, progress):
                estimator.fit(Z, y)
        except TrainingDiverged as err:  # the estimators' SolverDiverged
            print(f"nnpy train: training diverged: {err}", file=sys.stderr)
            return None
    return not any(issubclass(w.category, ConvergenceWarning) for w in caught)


def _feature_columns(table: Table, target: str, ignore: Sequence[str]) -> list[str]:
    """The feature columns of a training table: all but the target and the ignored ones,
    every column named once."""
    from .._csvtable import TableError
    for column in [target, *ignore]:
        table.index(column)  # names the column if the header lacks it
    if target in ignore:
        raise TableError(f"--ignore {target!r} names the --target column")
    for i, name in enumerate(table.columns):
        if not name:
            raise TableError(f"{table.name}: column {i + 1} has no name in the header (pandas "
                             f"writes its index so: to_csv(..., index=False) leaves it out)")
        table.index(name)  # a column named twice
    features = [c for c in table.columns if c != target and c not in ignore]
    if not features:
        raise TableError(f"{table.name}: no feature columns left besides the target "
                         f"{target!r}")
    return features


def _split_sizes(table: Table, args: argparse.Namespace, y: np.ndarray,
                 classes: Optional[np.ndarray], label_type: str) -> tuple[int, int]:
    """(n_test, n_train) as scikit-learn's train_test_split takes --test-size, after checking
    that both parts can hold what scoring and a stratified split need."""
    n = len(table)
    n_test = math.ceil(args.test_size * n)
    n_train = n - n_test
    if classes is not None:
        labels, first, counts = np.unique(y, return_index=True, return_counts=True)
        if len(labels) < 2:
            raise UsageError(f"{table.name}: the target {args.target!r} holds one class only "
                             f"({_label(labels[0])}); a classifier needs at least 2")
        lonely = np.flatnonzero(counts < 2)
        if len(lonely):
            row = first[lonely[0]]
            quantity = label_type in ("int", "str") and args.task is None and \
                all(_is_number(str(label)) for label in labels) and \
                (len(lonely) > 1 or _looks_like_a_quantity(labels, len(y)))
            raise UsageError(f"{table.name}, line {table.lines[row]}: class "
                             f"{_label(labels[lonely[0]])} of {args.target!r} has a single "
                             f"row; the split is stratified, and needs at least 2 rows of each "
                             f"class ({len(lonely)} class{'es' * (len(lonely) > 1)} with one)"
                             + (f". The target holds whole numbers, {len(labels)} distinct "
                                f"ones: if it is a quantity (a count, a price, a score), "
                                f"--task regress is probably meant" if quantity else ""))
        need, why = len(labels), f"one row of each of the {len(labels)} classes"
    else:
        need, why = 2, "2 rows (R^2 is not defined for fewer)"
    if n_test < need or n_train < need:
        raise UsageError(f"{table.name}: too few rows: {n} rows with --test-size "
                         f"{args.test_size:g} make {n_train} to train and {n_test} held out; "
                         f"each part needs at least {why}")
    return n_test, n_train


def _is_number(text: str) -> bool:
    try:
        float(text)
    except ValueError:
        return False
    return True


def _scaling(X: np.ndarray, columns: Sequence[str], what: str,
             name: str) -> tuple[np.ndarray, np.ndarray]:
    """(mean, scale) of each column of X: its mean and standard deviation, scale 1 for a
    constant column; UsageError if the values are too large to standardise."""
    with np.errstate(over="ignore", invalid="ignore"):
        mean = X.mean(axis=0)
        scale = X.std(axis=0)
        constant = (X == X[0]).all(axis=0)
        scale[constant] = 1.0
        ok = np.isfinite(mean) & np.isfinite(scale) & np.isfinite((X - mean) / scale).all(axis=0)
    if not ok.all():
        column = columns[int(np.argmin(ok))]
        raise UsageError(f"{name}: {what} {column!r} holds numbers too large to standardise "
                         f"(their mean or spread overflows float64)")
    return mean, scale


def _label(value: Any) -> str:
    return repr(value.item() if isinstance(value, np.generic) else value)


def _labels_listing(classes: np.ndarray, limit: int = 6) -> str:
    shown = ", ".join(_label(c) for c in classes[:limit])
    return shown + (", ..." if len(classes) > limit else "")


@contextlib.contextmanager
def _epoch_progress(estimator: NNClassifier | NNRegressor, epochs: int,
                    show: bool) -> Iterator[None]:
    """A progress bar over the epochs of estimator.fit (on stderr), drawn from the lines
    scikit-learn's MLP prints with verbose=True ("Iteration N, loss = L"); nothing if not
    `show`. The estimator's verbose is off again afterwards."""
    if not show:
        yield
        return
    from tqdm.auto import tqdm
    bar = tqdm(total=epochs, unit="epoch", leave=False, file=sys.stderr)
    estimator.set_params(verbose=True)
    try:
        with contextlib.redirect_stdout(_IterationLines(bar)):
            yield
    finally:
        estimator.set_params(verbose=False)
        bar.close()


class _IterationLines:
    """A stdout for estimator.fit(verbose=True): "Iteration N, loss = L" lines move the bar,
    the rest of the verbose output is dropped."""

    def __init__(self, bar: Any) -> None:  # a tqdm bar (tqdm is optional, imported lazily)
        self.bar = bar          # the tqdm bar
        self.pending = ""       # text after the last newline

    def write(self, text: str) -> int:
        self.pending += text
        *lines, self.pending = self.pending.split("\n")
        for line in lines:
            if line.startswith("Iteration "):
                head, _, loss = line.partition(", loss = ")
                try:
                    done = int(head.split()[1])
                except (IndexError, ValueError):
                    continue
                self.bar.update(max(0, min(done, self.bar.total) - self.bar.n))
                self.bar.set_postfix(loss=loss.strip(), refresh=False)
        return len(text)

    def flush(self) -> None:
        pass
