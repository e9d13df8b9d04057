"""`nnpy train` and `nnpy predict` on a user's CSV files, and the model file behind them
(nnpy.modelfile, nnpy.load): round trips for string labels, integer labels and regression,
predictions equal to the estimators' (recomputed here from the CSV), every user error an exit
status 2 with a message that names the thing, and the model file's checks."""
import csv
import functools
import io
import json
import math
import os
import pathlib
import re
import shutil
import subprocess
import sys
import warnings
import zipfile

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.exceptions import ConvergenceWarning  # noqa: E402

import nnpy  # noqa: E402
from nnpy.cli import main  # noqa: E402

FEATURES = ["x1", "x 2", "x3"]  # a space in a name: names are matched exactly


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def blobs(labels, n_per_class=30, seed=0):
    """Rows of three features around one centre per label (separable), shuffled."""
    rng = np.random.default_rng(seed)
    X, y = [], []
    for k, label in enumerate(labels):
        centre = 4.0 * k * np.array([1, -1, 1])
        X.append(centre + rng.normal(0, 1, (n_per_class, len(FEATURES))))
        y += [label] * n_per_class
    X = np.vstack(X) * [1, 100, 0.01]  # scales far apart: standardising matters
    order = rng.permutation(len(y))
    return X[order], [y[i] for i in order]


@pytest.fixture
def species_csv(tmp_path):
    X, y = blobs(["setosa", "versicolor", "virginica"])
    return write_csv(tmp_path / "species.csv", FEATURES + ["species"],
                     [[*map(repr, row), label] for row, label in zip(X.tolist(), y)])


@pytest.fixture
def int_csv(tmp_path):
    X, y = blobs([7, -3], n_per_class=25, seed=1)
    return write_csv(tmp_path / "ints.csv", ["kind"] + FEATURES,  # the target first
                     [[label, *map(repr, row)] for row, label in zip(X.tolist(), y)])


@pytest.fixture
def price_csv(tmp_path):
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1, (80, 3)) * [1, 50, 0.1]
    price = 1000 + 300 * X[:, 0] - 4 * X[:, 1] + 2000 * X[:, 2] + rng.normal(0, 5, 80)
    return write_csv(tmp_path / "prices.csv", FEATURES + ["price"],
                     [[*map(repr, row), repr(p)] for row, p in zip(X.tolist(), price.tolist())])


def read_data(path, target, task):
    """The CSV read independently of nnpy: (X, y) with y as the labels or values."""
    header, rows = read_csv(open(path).read())
    X = np.array([[float(r[header.index(c)]) for c in FEATURES] for r in rows])
    cells = [r[header.index(target)] for r in rows]
    if task == "regress":
        return X, np.array([float(c) for c in cells])
    try:
        return X, np.array([int(c) for c in cells])
    except ValueError:
        return X, np.array(cells)


def expected_predictions(path, target, task, *, hidden, epochs, seed, test_size=0.2,
                         activation="relu", solver="adam"):
    """What nnpy train's documentation says it does, done here with the estimators: split
    (stratified for classes), standardise on the training rows (and a regression's target),
    fit, and predict every row of the file."""
    from sklearn.model_selection import train_test_split

    from nnpy.estimators import NNClassifier, NNRegressor
    X, y = read_data(path, target, task)
    n_test = math.ceil(test_size * len(y))
    train, _ = train_test_split(np.arange(len(y)), test_size=n_test,
                                train_size=len(y) - n_test, random_state=seed,
                                stratify=y if task == "classify" else None)
    mean = X[train].mean(axis=0)
    std = X[train].std(axis=0)
    Z = (X - mean) / std
    kind = NNClassifier if task == "classify" else NNRegressor
    est = kind(hidden_layer_sizes=hidden, activation=activation, solver=solver,
               max_iter=epochs, random_state=seed)
    with warnings.catch_warnings():  # the same fit as the command's, converged or not
        warnings.simplefilter("ignore", ConvergenceWarning)
        if task == "classify":
            est.fit(Z[train], y[train])
            return est.predict(Z), est.predict_proba(Z)
        y_mean, y_std = y[train].mean(), y[train].std()
        est.fit(Z[train], (y[train] - y_mean) / y_std)
        return est.predict(Z) * y_std + y_mean, None


# ---- round trips ---------------------------------------------------------------------------

def test_string_labels_round_trip(capsys, tmp_path, species_csv):
    model_path = tmp_path / "species.model"
    status, out, err = run(capsys, "train", species_csv, "--target", "species", "--hidden",
                           "8,4", "--epochs", "300", "--seed", "3", "--save", model_path)
    assert status == 0, err
    assert "3 classes: 'setosa', 'versicolor', 'virginica'" in out
    assert "72 rows to train, 18 held out (stratified, seed 3)" in out
    accuracy = float(out.split("Held-out accuracy: ")[1].split("%")[0])
    assert accuracy >= 90, out
    assert "Training: " in out and "Saved the model to" in out

    status, out, err = run(capsys, "predict", model_path, species_csv, "--proba")
    assert status == 0, err
    header, rows = read_csv(out)
    # the file's columns as read (the true species among them), then the prediction
    assert header == FEATURES + ["species", "predicted_species", "P(setosa)",
                                 "P(versicolor)", "P(virginica)"]
    _, source = read_csv(open(species_csv).read())
    assert [r[:4] for r in rows] == source
    labels = [r[4] for r in rows]
    proba = np.array([[float(p) for p in r[5:]] for r in rows])

    want, want_proba = expected_predictions(species_csv, "species", "classify", hidden=(8, 4),
                                            epochs=300, seed=3)
    assert labels == want.tolist()
    np.testing.assert_array_equal(proba, want_proba)  # all digits written
    truth = [r[3] for r in source]
    assert np.mean(np.array(labels) == np.array(truth)) >= 0.9

    model = nnpy.load(model_path)
    assert model.task == "classify" and model.target == "species"
    assert model.feature_names == tuple(FEATURES)
    assert model.classes.tolist() == ["setosa", "versicolor", "virginica"]
    assert model.label_type == "str"
    X, _ = read_data(species_csv, "species", "classify")
    assert model.predict(X).tolist() == labels
    by_name = {name: X[:, j] for j, name in enumerate(FEATURES)}
    assert model.predict(by_name).tolist() == labels
    np.testing.assert_array_equal(model.predict_proba(X), want_proba)
    est = model.estimator
    assert type(est).__name__ == "NNClassifier"
    assert est.get_params()["hidden_layer_sizes"] == (8, 4) and est.activation == "relu"
    assert est.predict(model.standardize(X)).tolist() == labels
    np.testing.assert_array_equal(est.predict_proba(model.standardize(X)), want_proba)


def test_integer_labels_round_trip_and_columns_by_name(capsys, tmp_path, int_csv):
    model_path = tmp_path / "ints.model"
    status, out, err = run(capsys, "train", int_csv, "--target", "kind", "--hidden", "6",
                           "--epochs", "150", "--seed", "0", "--activation", "tanh",
                           "--save", model_path)
    assert status == 0, err
    assert "2 classes: -3, 7" in out
    model = nnpy.load(model_path)
    assert model.classes.dtype == np.int64 and model.classes.tolist() == [-3, 7]
    assert model.network.sizes[-1] == 1 and model.network.output == "sigmoid"  # binary

    # the columns in another order, an extra one: matched by name
    header, rows = read_csv(open(int_csv).read())
    order = ["note", "x3", "kind", "x1", "x 2"]
    shuffled = write_csv(tmp_path / "shuffled.csv", order,
                         [["n%d" % i] + [r[header.index(c)] for c in order[1:]]
                          for i, r in enumerate(rows)])
    out_file = tmp_path / "out.csv"
    status, out, err = run(capsys, "predict", model_path, shuffled, "--out", out_file,
                           "--proba")
    assert status == 0, err
    assert out == "" and "wrote 50 rows" in err
    got_header, got = read_csv(out_file.read_text())
    # every input column kept as read (the extra one too), the true kind beside the prediction
    assert got_header == order + ["predicted_kind", "P(-3)", "P(7)"]
    want, want_proba = expected_predictions(int_csv, "kind", "classify", hidden=(6,),
                                            epochs=150, seed=0, activation="tanh")
    assert [r[5] for r in got] == [str(v) for v in want]
    assert [r[0] for r in got] == ["n%d" % i for i in range(len(rows))]
    np.testing.assert_array_equal([[float(p) for p in r[6:]] for r in got], want_proba)
    assert np.mean([r[5] == r[2] for r in got]) >= 0.9


def test_regression_round_trip(capsys, tmp_path, price_csv):
    model_path = tmp_path / "price.model"
    status, out, err = run(capsys, "train", price_csv, "--target", "price", "--hidden", "16",
                           "--epochs", "400", "--seed", "5", "--save", model_path)
    assert status == 0, err
    assert "(regress)" in out and "64 rows to train, 16 held out (seed 5)" in out
    r2 = float(out.split("Held-out R^2: ")[1].split()[0])
    assert r2 > 0.9, out
    status, out, err = run(capsys, "predict", model_path, price_csv)
    assert status == 0, err
    header, rows = read_csv(out)
    assert header == FEATURES + ["price", "predicted_price"]
    values = np.array([float(r[4]) for r in rows])
    want, _ = expected_predictions(price_csv, "price", "regress", hidden=(16,), epochs=400,
                                   seed=5)
    np.testing.assert_array_equal(values, want)
    model = nnpy.load(model_path)
    assert model.task == "regress" and model.classes is None
    assert not hasattr(model, "predict_proba")
    X, y = read_data(price_csv, "price", "regress")
    np.testing.assert_array_equal(model.predict(X), want)
    assert model.training["metric"] == "r2" and model.training["score"] == pytest.approx(r2,
                                                                                         abs=1e-4)
    est = model.estimator
    np.testing.assert_array_equal(
        est.predict(model.standardize(X)) * model.target_scale + model.target_mean, want)


@pytest.mark.parametrize("solver", ["sgd", "lbfgs"])
def test_other_solvers(capsys, tmp_path, price_csv, solver):
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", price_csv, "--target", "price", "--solver", solver,
                           "--hidden", "8", "--epochs", "50", "--save", model_path)
    assert status == 0, err
    unit = "iterations" if solver == "lbfgs" else "epochs"
    assert f"at most 50 {unit}" in out
    assert f"50 {unit} (stopped at --epochs 50 before converging: more --epochs may help)" in out
    want, _ = expected_predictions(price_csv, "price", "regress", hidden=(8,), epochs=50,
                                   seed=0, solver=solver)
    X, _ = read_data(price_csv, "price", "regress")
    np.testing.assert_array_equal(nnpy.load(model_path).predict(X), want)


def test_convergence_is_reported(capsys, tmp_path, int_csv):
    status, out, err = run(capsys, "train", int_csv, "--target", "kind", "--hidden", "4",
                           "--epochs", "3000", "--save", tmp_path / "m")
    assert status == 0, err
    epochs = int(out.split("Training: ")[1].split(", ")[1].split()[0])
    assert 0 < epochs < 3000 and "before converging" not in out
    assert nnpy.load(tmp_path / "m").training["epochs"] == epochs


def test_task_overrides_the_target_type(capsys, tmp_path, int_csv, price_csv):
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", int_csv, "--target", "kind", "--task", "regress",
                           "--epochs", "5", "--save", model_path)
    assert status == 0, err and "(regress)" in out
    assert nnpy.load(model_path).task == "regress"
    # a float target as classes: the labels are the cells' text
    header, rows = read_csv(open(price_csv).read())
    binned = write_csv(tmp_path / "binned.csv", header,
                       [r[:3] + ["1.50" if float(r[3]) > 1000 else "0.5"] for r in rows])
    status, out, err = run(capsys, "train", binned, "--target", "price", "--task", "classify",
                           "--epochs", "5", "--save", model_path)
    assert status == 0, err
    assert nnpy.load(model_path).classes.tolist() == ["0.5", "1.50"]
    status, out, err = run(capsys, "predict", model_path, binned)
    assert {r[3] for r in read_csv(out)[1]} <= {"0.5", "1.50"}


def test_ignore_and_constant_columns(capsys, tmp_path, species_csv):
    header, rows = read_csv(open(species_csv).read())
    data = write_csv(tmp_path / "with-id.csv", ["id"] + header + ["same"],
                     [["row%d" % i] + r + ["4.5"] for i, r in enumerate(rows)])
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", data, "--target", "species", "--ignore", "id",
                           "--epochs", "20", "--save", model_path)
    assert status == 0, err
    model = nnpy.load(model_path)
    assert model.feature_names == (*FEATURES, "same")
    assert model.scale[-1] == 1.0 and model.mean[-1] == 4.5  # constant: scale 1
    status, out, err = run(capsys, "predict", model_path, data)
    assert status == 0, err
    header, got = read_csv(out)  # the ignored id is kept, to join the predictions back
    assert header == ["id", *FEATURES, "species", "same", "predicted_species"]
    assert [r[0] for r in got] == ["row%d" % i for i in range(len(rows))]


def test_messy_but_valid_csv(capsys, tmp_path):
    """A byte-order mark, spaces around cells, quoted cells, CRLF line ends, blank lines."""
    X, y = blobs(["a b", "c,d"], n_per_class=10, seed=4)
    lines = ['x1 , "x 2",x3,label']
    lines += [f' {r[0]!r}, "{r[1]!r}",{r[2]!r} , "{label}"' for r, label in zip(X.tolist(), y)]
    path = tmp_path / "messy.csv"
    path.write_bytes(b"\xef\xbb\xbf" + ("\r\n".join(lines[:5]) + "\r\n\r\n"
                                       + "\r\n".join(lines[5:]) + "\r\n").encode())
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", path, "--target", "label", "--epochs", "5",
                           "--save", model_path)
    assert status == 0, err
    assert nnpy.load(model_path).classes.tolist() == ["a b", "c,d"]
    status, out, err = run(capsys, "predict", model_path, path)
    assert status == 0, err
    assert {r[3] for r in read_csv(out)[1]} <= {"a b", "c,d"}
    assert len(read_csv(out)[1]) == 20


# ---- user errors: exit 2 and a message naming the thing --------------------------------------

def assert_usage_error(status, err, *words):
    assert status == 2
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


def test_training_input_errors(capsys, tmp_path, species_csv):
    model = tmp_path / "m"

    def train(data, *more):
        return run(capsys, "train", data, "--target", "y", "--save", model, *more)

    status, _, err = train(tmp_path / "missing.csv")
    assert_usage_error(status, err, "missing.csv", "no such file")
    (tmp_path / "binary.csv").write_bytes(b"PK\x03\x04\x00\xff\xfe\x00")
    status, _, err = train(tmp_path / "binary.csv")
    assert_usage_error(status, err, "binary.csv", "not a CSV")
    status, _, err = train(tmp_path)
    assert_usage_error(status, err, "directory")
    (tmp_path / "empty.csv").write_text("")
    status, _, err = train(tmp_path / "empty.csv")
    assert_usage_error(status, err, "empty.csv", "empty")
    (tmp_path / "header.csv").write_text("a,y\n")
    status, _, err = train(tmp_path / "header.csv")
    assert_usage_error(status, err, "no data rows")
    (tmp_path / "semicolons.csv").write_text("a;b;y\n1;2;3\n")
    status, _, err = train(tmp_path / "semicolons.csv")
    assert_usage_error(status, err, "comma-separated")
    (tmp_path / "ragged.csv").write_text("a,b,y\n1,2,x\n1,2\n1,2,x\n")
    status, _, err = train(tmp_path / "ragged.csv")
    assert_usage_error(status, err, "line 3", "2 fields", "header has 3")
    (tmp_path / "quotes.csv").write_text('a,y\n1,"x"y\n')
    status, _, err = train(tmp_path / "quotes.csv")
    assert_usage_error(status, err, "line 2", "not valid CSV")

    status, _, err = run(capsys, "train", species_csv, "--target", "kind", "--save", model)
    assert_usage_error(status, err, "no column 'kind'", "'species'")
    status, _, err = run(capsys, "train", species_csv, "--target", "species", "--ignore",
                         "nope", "--save", model)
    assert_usage_error(status, err, "no column 'nope'")
    assert not model.exists()


@pytest.mark.parametrize("cell, words", [
    ("", ["line 4", "'b'", "empty cell"]),
    ("NaN", ["line 4", "'b'", "missing value ('NaN')"]),
    ("nan", ["line 4", "'b'", "missing"]),
    ("NA", ["line 4", "'b'", "missing"]),
    ("red", ["line 4", "'b'", "'red'", "not a number", "--ignore"]),
    ("1,5", ["line 4", "'b'", "'1,5'", "not a number"]),
    ("inf", ["line 4", "'b'", "'inf'", "not a number"]),
    ("0x10", ["line 4", "'b'", "not a number"]),
    ("1e999", ["line 4", "'b'", "beyond the range of float64"]),
])
def test_bad_feature_cells(capsys, tmp_path, cell, words):
    rows = [[i, i % 3, "xy"[i % 2]] for i in range(10)]
    rows[2][1] = cell
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "d.csv", *words)


@pytest.mark.parametrize("cells, task, words", [
    (["x", "y", "", "x", "y", "x"], None, ["line 4", "'t'", "empty cell", "label"]),
    (["1.5", "2.5", "NA", "3", "1", "2"], None, ["line 4", "'t'", "missing value ('NA')"]),
    (["x", "y", "x", "y", "x", "y"], "regress", ["'t'", "'x'", "regression"]),
    (["x", "x", "x", "x", "x", "x"], None, ["'t'", "one class", "'x'"]),
    (["a", "b", "a", "b", "c", "a"], None, ["line 6", "class 'c'", "single row", "stratified"]),
])
def test_bad_targets(capsys, tmp_path, cells, task, words):
    data = write_csv(tmp_path / "d.csv", ["a", "t"], [[i, c] for i, c in enumerate(cells)])
    argv = ["train", data, "--target", "t", "--save", tmp_path / "m", "--test-size", "0.5"]
    status, _, err = run(capsys, *argv, *(["--task", task] if task else []))
    assert_usage_error(status, err, *words)


def test_too_few_rows_for_the_split(capsys, tmp_path, species_csv):
    rows = [[i, 2.0 * i] for i in range(4)]
    data = write_csv(tmp_path / "four.csv", ["a", "t"], rows)
    status, _, err = run(capsys, "train", data, "--target", "t", "--save", tmp_path / "m")
    assert_usage_error(status, err, "too few rows", "4 rows", "--test-size 0.2",
                       "1 held out")
    status, _, err = run(capsys, "train", species_csv, "--target", "species", "--test-size",
                         "0.02", "--save", tmp_path / "m")
    assert_usage_error(status, err, "too few rows", "2 held out", "3 classes")


def test_header_problems(capsys, tmp_path):
    rows = [[i, i, "xy"[i % 2]] for i in range(10)]
    data = write_csv(tmp_path / "d.csv", ["", "a", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "column 1 has no name", "index=False")
    data = write_csv(tmp_path / "d.csv", ["a", "a", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "two columns named 'a'")
    data = write_csv(tmp_path / "d.csv", ["id", "a", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--ignore", "id", "--ignore",
                         "a", "--save", tmp_path / "m")
    assert_usage_error(status, err, "no feature columns")
    status, _, err = run(capsys, "train", data, "--target", "y", "--ignore", "y",
                         "--save", tmp_path / "m")
    assert_usage_error(status, err, "--ignore 'y'", "--target")


@pytest.mark.parametrize("option, value, words", [
    ("--hidden", "64,,32", ["--hidden", "empty"]),
    ("--hidden", "0", ["--hidden", "at least 1"]),
    ("--hidden", "64,-1", ["--hidden", "at least 1"]),
    ("--hidden", "wide", ["--hidden", "whole number"]),
    ("--hidden", "", ["--hidden", "empty"]),
    ("--hidden", "1000000000000", ["--hidden", "GiB", "memory"]),
    ("--test-size", "0", ["--test-size", "between 0 and 1"]),
    ("--test-size", "1", ["--test-size", "between 0 and 1"]),
    ("--test-size", "1.5", ["--test-size", "between 0 and 1"]),
    ("--test-size", "nan", ["--test-size", "between 0 and 1"]),
    ("--epochs", "0", ["--epochs", "at least 1"]),
    ("--seed", "-1", ["--seed", "0 or more"]),
    ("--activation", "swish", ["--activation", "invalid choice"]),
    ("--solver", "rmsprop", ["--solver", "invalid choice"]),
    ("--task", "cluster", ["--task", "invalid choice"]),
])
def test_bad_options(capsys, tmp_path, species_csv, option, value, words):
    status, _, err = run(capsys, "train", species_csv, "--target", "species",
                         "--save", tmp_path / "m", option, value)
    assert_usage_error(status, err, *words)
    assert not (tmp_path / "m").exists()


def test_missing_required_options(capsys, tmp_path, species_csv):
    status, _, err = run(capsys, "train", species_csv, "--save", tmp_path / "m")
    assert_usage_error(status, err, "--target")
    status, _, err = run(capsys, "train", species_csv, "--target", "species")
    assert_usage_error(status, err, "--save")


def test_save_that_cannot_be_written_is_refused_before_training(capsys, tmp_path,
                                                                species_csv, monkeypatch):
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --save")

    monkeypatch.setattr("nnpy.estimators.NNClassifier.fit", no_training)
    (tmp_path / "file").write_text("")
    for target, words in [(tmp_path / "nodir" / "m", ["--save", "does not exist"]),
                          (tmp_path / "file" / "m", ["--save", "does not exist"]),
                          (tmp_path, ["--save", "is a directory"])]:
        status, _, err = run(capsys, "train", species_csv, "--target", "species", "--save",
                             target)
        assert_usage_error(status, err, str(target), *words)
    if os.geteuid() != 0:
        locked = tmp_path / "locked"
        locked.mkdir()
        locked.chmod(0o500)
        try:
            status, _, err = run(capsys, "train", species_csv, "--target", "species",
                                 "--save", locked / "m")
            assert_usage_error(status, err, "--save", "cannot be written")
        finally:
            locked.chmod(0o700)


def spellings(path, tmp_path):
    """Other names of the file `path`: another spelling of its path, a symbolic link to it,
    a hard link to it."""
    (tmp_path / "sub").mkdir(exist_ok=True)
    link = tmp_path / ("link-" + path.name)
    link.symlink_to(path)
    hard = tmp_path / ("hard-" + path.name)
    os.link(path, hard)
    return [path, tmp_path / "sub" / ".." / path.name, link, hard]


def test_train_refuses_to_save_over_its_data(capsys, tmp_path, species_csv, monkeypatch):
    """`nnpy train data.csv --save data.csv` wrote the model over the data: refused, by any
    name of the data file, before anything is read or trained, the data untouched."""
    def no_training(*args, **kwargs):
        raise AssertionError("trained before checking --save")

    monkeypatch.setattr("nnpy.estimators.NNClassifier.fit", no_training)
    data = species_csv.read_bytes()
    for name in spellings(species_csv, tmp_path):
        status, out, err = run(capsys, "train", species_csv, "--target", "species", "--save",
                               name)
        assert_usage_error(status, err, f"--save {str(name)!r}", f"DATA.csv {str(species_csv)!r}")
        assert out == ""
        assert species_csv.read_bytes() == data
    # and the other way round: the data named through the link, saved to the file itself
    status, _, err = run(capsys, "train", tmp_path / "link-species.csv", "--target", "species",
                         "--save", species_csv)
    assert_usage_error(status, err, "--save", "link-species.csv")
    assert species_csv.read_bytes() == data


def test_predict_refuses_to_write_over_its_inputs(capsys, tmp_path, species_csv,
                                                  species_model):
    """`nnpy predict m.model data.csv --out data.csv` replaced the data, `--out m.model` the
    model: refused, by any name of either file, before anything is written."""
    capsys.readouterr()
    before = {path: path.read_bytes() for path in (species_csv, species_model)}
    for what, path in (("DATA.csv", species_csv), ("MODEL", species_model)):
        for name in spellings(path, tmp_path):
            status, out, err = run(capsys, "predict", species_model, species_csv, "--out", name)
            assert_usage_error(status, err, f"--out {str(name)!r}", f"{what} {str(path)!r}")
            assert out == ""
            assert {p: p.read_bytes() for p in before} == before
    status, out, err = run(capsys, "predict", species_model, species_csv, "--out",
                           tmp_path / "new.csv")
    assert status == 0, err


def test_labels_come_back_as_written(capsys, tmp_path):
    """Integer-looking labels spelled otherwise than plainly ("01", "+3", "-0") are text: the
    summary, the model's classes, predict's column and --proba's names keep them as written
    (they came back as 1, 2, 3 and 0)."""
    X, y = blobs(["01", "02", "+3", "-0"], n_per_class=20, seed=4)
    data = write_csv(tmp_path / "padded.csv", FEATURES + ["code"],
                     [[*map(repr, row), label] for row, label in zip(X.tolist(), y)])
    model_path = tmp_path / "padded.model"
    status, out, err = run(capsys, "train", data, "--target", "code", "--hidden", "16",
                           "--epochs", "300", "--save", model_path)
    assert status == 0, err
    assert "4 classes: '+3', '-0', '01', '02'" in out
    model = nnpy.load(model_path)
    assert model.classes.tolist() == ["+3", "-0", "01", "02"] and model.label_type == "str"
    status, out, err = run(capsys, "predict", model_path, data, "--proba")
    assert status == 0, err
    header, rows = read_csv(out)
    assert header[-5:] == ["predicted_code", "P(+3)", "P(-0)", "P(01)", "P(02)"]
    predicted = [r[4] for r in rows]
    assert set(predicted) <= {"01", "02", "+3", "-0"}
    assert np.mean([p == t for p, t in zip(predicted, y)]) > 0.9
    # "1" and "01" are two spellings, so two labels
    X, y = blobs(["1", "01"], n_per_class=20, seed=5)
    both = write_csv(tmp_path / "both.csv", FEATURES + ["code"],
                     [[*map(repr, row), label] for row, label in zip(X.tolist(), y)])
    status, out, err = run(capsys, "train", both, "--target", "code", "--epochs", "50",
                           "--save", tmp_path / "both.model")
    assert status == 0, err
    assert nnpy.load(tmp_path / "both.model").classes.tolist() == ["01", "1"]


def test_plainly_written_integer_labels_stay_integers(capsys, tmp_path, int_csv):
    from nnpy._csvtable import read_table
    table = read_table(int_csv)
    values, task, kind = table.target("kind", None)
    assert task == "classify" and kind == "int" and values.dtype == np.int64
    assert sorted(set(values.tolist())) == [-3, 7]
    for cells, expected in [(["1", "2", "30"], "int"), (["01", "2"], "str"),
                            (["+1", "2"], "str"), (["-0", "1"], "str"), (["0", "-1"], "int"),
                            (["1", "1.0"], "str")]:
        (tmp_path / "t.csv").write_text("a,y\n" + "".join(f"1,{c}\n" for c in cells))
        values, _, kind = read_table(tmp_path / "t.csv").target("y", "classify")
        assert kind == expected, cells
        assert [str(v) for v in values.tolist()] == cells


def test_a_model_file_with_integer_classes_still_loads(tmp_path, int_csv):
    """Files written before labels kept their spelling hold JSON integers: still read, as
    int64 classes."""
    model_path = trained(int_csv, "kind", 5)
    rewrite(model_path, with_header(classes=[-3, 7]))
    model = nnpy.load(model_path)
    assert model.classes.dtype == np.int64 and model.classes.tolist() == [-3, 7]


def run_with_memory_limit(argv, check=True, limit=2 * 2 ** 30):
    """`nnpy argv` in a process whose address space is limited (RLIMIT_AS), as a container
    or `ulimit -v` limits it; check=False switches the memory check off."""
    resource = pytest.importorskip("resource")
    code = ("import sys, nnpy.cli as cli, nnpy.cli._train as train; "
            + ("" if check else "train._memory_problem = lambda *args: None; ")
            + "sys.exit(cli.main(sys.argv[1:]))")
    return subprocess.run([sys.executable, "-c", code, *map(str, argv)], capture_output=True,
                          text=True, timeout=300,
                          preexec_fn=lambda: resource.setrlimit(resource.RLIMIT_AS,
                                                                (limit, limit)))


@pytest.mark.parametrize("check", [True, False])
@pytest.mark.parametrize("solver", ["adam", "lbfgs"])
def test_a_network_beyond_the_memory_limit_exits_2(tmp_path, species_csv, solver, check):
    """`--hidden 50000000` passed the check (its weights fit this machine's memory) and ended
    in a MemoryError traceback under a memory limit: refused with a message, and a
    MemoryError the check did not foresee is a message too."""
    model_path = tmp_path / "m.model"
    done = run_with_memory_limit(["train", species_csv, "--target", "species", "--hidden",
                                  "50000000", "--solver", solver, "--save", model_path],
                                 check=check)
    assert done.returncode == 2, done.stderr
    assert done.stderr.startswith("nnpy train: error: ")
    assert "Traceback" not in done.stderr and "MemoryError" not in done.stderr
    assert ("--hidden 50000000 is too large" if check else "out of memory") in done.stderr
    assert not model_path.exists()
    # a network that fits trains under the same limit
    done = run_with_memory_limit(["train", species_csv, "--target", "species", "--hidden",
                                  "64", "--solver", solver, "--epochs", "20", "--save",
                                  model_path])
    assert done.returncode == 0, done.stderr
    assert model_path.exists()


def test_out_of_memory_while_predicting_is_a_message(capsys, monkeypatch, species_csv,
                                                     species_model):
    capsys.readouterr()

    def no_memory(self, X):
        raise MemoryError()

    monkeypatch.setattr("nnpy.modelfile.Model._outputs", no_memory)
    status, out, err = run(capsys, "predict", species_model, species_csv)
    assert_usage_error(status, err, "nnpy predict: error: out of memory")
    assert out == ""


def test_files_that_are_not_files(capsys, tmp_path, species_csv, species_model):
    """A directory, an empty file or a missing directory where a file goes: exit 2 with a
    message naming it, for every file argument of train and predict."""
    capsys.readouterr()
    (tmp_path / "empty").write_text("")
    (tmp_path / "dir").mkdir()
    for argv, words in [
            (["predict", tmp_path / "dir", species_csv], ["dir", "directory"]),
            (["predict", tmp_path / "empty", species_csv], ["empty", "not an nnpy model"]),
            (["predict", species_model, tmp_path / "dir"], ["dir", "directory"]),
            (["predict", species_model, tmp_path / "empty"], ["empty", "is empty"]),
            (["predict", species_model, species_csv, "--out", tmp_path / "no" / "o.csv"],
             ["--out", "does not exist"]),
            (["predict", species_model, species_csv, "--out", tmp_path / "dir"],
             ["--out", "is a directory"]),
            (["train", tmp_path / "dir", "--target", "species", "--save", tmp_path / "m"],
             ["dir", "directory"]),
            (["train", tmp_path / "empty", "--target", "species", "--save", tmp_path / "m"],
             ["empty", "is empty"]),
            (["train", species_csv, "--target", "species", "--save", tmp_path / "no" / "m"],
             ["--save", "does not exist"])]:
        status, out, err = run(capsys, *argv)
        assert_usage_error(status, err, *words)
        assert out == ""


def trained(data, target, epochs):
    """The model `nnpy train` saves beside `data`."""
    path = data.with_suffix(".model")
    assert main(["train", str(data), "--target", target, "--epochs", str(epochs),
                 "--save", str(path)]) == 0
    return path


@pytest.fixture
def species_model(species_csv):
    return trained(species_csv, "species", 30)


@pytest.fixture
def price_model(price_csv):
    return trained(price_csv, "price", 5)


def test_prediction_errors(capsys, tmp_path, species_csv, species_model, price_model,
                           price_csv):
    capsys.readouterr()
    status, _, err = run(capsys, "predict", tmp_path / "none.model", species_csv)
    assert_usage_error(status, err, "none.model", "no such file")
    status, _, err = run(capsys, "predict", species_csv, species_csv)
    assert_usage_error(status, err, "species.csv", "not an nnpy model file")
    net_file = tmp_path / "net.npz"
    nnpy.Network([3, 2]).save(net_file)
    status, _, err = run(capsys, "predict", net_file, species_csv)
    assert_usage_error(status, err, "net.npz", "network file, not a model")
    status, _, err = run(capsys, "predict", species_model, tmp_path / "none.csv")
    assert_usage_error(status, err, "none.csv", "no such file")

    header, rows = read_csv(open(species_csv).read())
    partial = write_csv(tmp_path / "partial.csv", ["x1", "x3"], [[r[0], r[2]] for r in rows])
    status, _, err = run(capsys, "predict", species_model, partial)
    assert_usage_error(status, err, "partial.csv", "'x 2'", "lacks")
    assert "'x1'" not in err.split("lacks")[1].split("(")[0]
    bad = [r[:] for r in rows]
    bad[4][1] = "?"
    status, _, err = run(capsys, "predict", species_model,
                         write_csv(tmp_path / "bad.csv", header, bad))
    assert_usage_error(status, err, "bad.csv", "line 6", "'x 2'", "'?'")

    status, _, err = run(capsys, "predict", price_model, price_csv, "--proba")
    assert_usage_error(status, err, "--proba", "regression")
    (tmp_path / "file").write_text("")
    status, out, err = run(capsys, "predict", species_model, species_csv, "--out",
                           tmp_path / "file" / "out.csv")
    assert_usage_error(status, err, "--out", "does not exist")
    assert out == ""


def test_values_too_large_for_the_model_are_named(capsys, tmp_path, species_csv,
                                                  species_model):
    """A finite cell that the model's standardisation, (x - mean) / scale, takes beyond
    float64 is named with its column and row, in Python (ValueError) and by `nnpy predict`
    (a usage error naming the data file), not blamed on an 'infinite' input it never had."""
    capsys.readouterr()  # what training the fixture's model printed
    model = nnpy.load(species_model)
    model.scale = np.full_like(model.scale, 0.5)
    header, rows = read_csv(open(species_csv).read())
    rows[2][1] = "1.7e308"
    data = write_csv(tmp_path / "huge.csv", header, rows)
    with pytest.raises(ValueError, match=r"1\.7e\+308 in column 'x 2' \(row 2\): too large"):
        model.predict({name: [float(r[header.index(name)]) for r in rows]
                       for name in model.feature_names})
    model.save(tmp_path / "half.model")
    status, out, err = run(capsys, "predict", tmp_path / "half.model", data)
    assert_usage_error(status, err, "huge.csv", "1.7e+308", "'x 2'", "row 2", "too large")
    assert out == ""
    rows[2][1] = "1.0"  # the same model and file with a plain value: predicted
    status, out, _ = run(capsys, "predict", tmp_path / "half.model",
                         write_csv(tmp_path / "fine.csv", header, rows))
    assert status == 0 and len(out.splitlines()) == len(rows) + 1


def test_out_replaces_a_file_atomically_and_keeps_its_mode(capsys, tmp_path, species_csv,
                                                           species_model):
    out_file = tmp_path / "out.csv"
    out_file.write_text("old")
    out_file.chmod(0o640)
    status, _, err = run(capsys, "predict", species_model, species_csv, "--out", out_file)
    assert status == 0, err
    assert out_file.read_text().startswith("x1,x 2,x3,species,predicted_species\n")
    assert out_file.stat().st_mode & 0o777 == 0o640
    assert sorted(os.listdir(tmp_path)) == sorted(["out.csv", "species.csv", "species.model"])


# ---- the model file ------------------------------------------------------------------------

def rewrite(path, change):
    """The model file with change(members) applied to its {name: array} members."""
    with np.load(path, allow_pickle=False) as archive:
        members = {key: archive[key] for key in archive.files}
    change(members)
    with open(path, "wb") as f:
        np.savez(f, **members)


def with_header(**fields):
    def change(members):
        header = json.loads(str(members["header"][()]))
        for key, value in fields.items():
            if value is KeyError:
                del header[key]
            else:
                header[key] = value
        members["header"] = np.array(json.dumps(header))
    return change


@pytest.mark.parametrize("change, words", [
    (with_header(version=3), ["newer nnpy", "version 3", "upgrade"]),
    (with_header(categories={"x1": ["a"]}), ["unknown fields 'categories'"]),  # version 1
    (with_header(fill={"x1": 0.0}), ["unknown fields 'fill'"]),
    (with_header(version="1"), ["version must be an integer"]),
    (with_header(format="other"), ["not an nnpy model file"]),
    (with_header(extra=1), ["unknown fields 'extra'"]),
    (with_header(target=KeyError), ["lacks target"]),
    (with_header(task="cluster"), ["task"]),
    (with_header(task="regress"), ["regress model needs classes null"]),
    (lambda m: (with_header(features=["x1", "x 2"])(m),
                m.update(mean=np.zeros(2), scale=np.ones(2))), ["3 inputs for 2 feature_names"]),
    (with_header(features=["x1", "x 2"]), ["mean must be float64 of shape (2,)"]),
    (with_header(features=["x1", "x1", "x3"]), ["'x1' twice"]),
    (with_header(features="x1"), ["features must be a list"]),
    (with_header(classes=["versicolor", "setosa", "virginica"]), ["sorted"]),
    (with_header(classes=["a", 1, "b"]), ["all integers or all strings"]),
    (with_header(classes=["a", "b"]), ["2 classes need", "3 softmax"]),
    (with_header(target_scaling=[0, 1]), ["target_scaling is for a regression"]),
    (with_header(target="x1"), ["also one of the feature_names"]),
    (with_header(estimator_params={"alpha": {"x": 1}}), ["estimator_params['alpha']"]),
    (with_header(training={"score": "high"}), ["training['score']"]),
    (with_header(training={"speed": 1}), ["unknown fields 'speed'"]),
    (lambda m: m.update(mean=np.zeros(2)), ["mean must be float64 of shape (3,)"]),
    (lambda m: m.update(scale=np.zeros(3)), ["scale must be > 0"]),
    (lambda m: m.update(scale=np.array([1.0, np.nan, 1.0])), ["NaN"]),
    (lambda m: m.update(mean=np.zeros(3, np.float32)), ["mean must be float64"]),
    (lambda m: m.update(extra=np.zeros(1)), ["unexpected extra"]),
    (lambda m: m.pop("scale"), ["missing scale"]),
    (lambda m: m.update(network=m["network"].astype(np.int16)), ["1-D uint8"]),
    (lambda m: m.update(network=m["network"][:-40]), ["its network"]),
    (lambda m: m.update(network=np.frombuffer(b"not a network", np.uint8)),
     ["its network", "not an .npz"]),
    (lambda m: m.update(header=np.array(["{}", "{}"])), ["single string"]),
    (lambda m: m.update(header=np.array("{not json")), ["not valid JSON"]),
])
def test_damaged_or_foreign_model_files_are_refused(tmp_path, species_model, capsys, change,
                                                    words):
    rewrite(species_model, change)
    with pytest.raises(ValueError) as caught:
        nnpy.load(species_model)
    message = str(caught.value)
    assert message.startswith(str(species_model)), message
    for word in words:
        assert word in message, (word, message)
    capsys.readouterr()
    status, _, err = run(capsys, "predict", species_model, tmp_path / "species.csv")
    assert_usage_error(status, err, str(species_model), words[0])


def test_model_file_holds_no_pickle_and_loads_from_a_file_object(species_model):
    with zipfile.ZipFile(species_model) as zf:
        assert sorted(zf.namelist()) == ["header.npy", "mean.npy", "network.npy", "scale.npy"]
    with np.load(species_model, allow_pickle=False) as archive:  # plain arrays only
        header = json.loads(str(archive["header"][()]))
        inner = nnpy.Network.load(io.BytesIO(archive["network"].tobytes()))
    assert header["format"] == "nnpy.Model" and header["version"] == 1
    assert header["classes"] == ["setosa", "versicolor", "virginica"]
    assert inner.optimizer_state is None  # no optimiser state in a model file
    with open(species_model, "rb") as f:
        model = nnpy.load(f)
    assert model.classes.tolist() == header["classes"]
    buffer = io.BytesIO()
    model.save(buffer)
    buffer.seek(0)
    again = nnpy.load(buffer)
    np.testing.assert_array_equal(again.network.get_flat_params(),
                                  model.network.get_flat_params())


def test_an_object_array_member_is_refused(tmp_path, species_model):
    members = dict(np.load(species_model))
    members["mean"] = np.array([1, "x", None], dtype=object)
    with open(species_model, "wb") as f:
        np.savez(f, **members)  # pickles the object array
    with pytest.raises(ValueError, match="Python objects"):
        nnpy.load(species_model)


def test_a_poisson_regressor_saves_as_a_model(tmp_path):
    """An exp output (loss="poisson") is a regression a model file holds: predictions, the
    estimator and its loss survive save and load."""
    from nnpy.estimators import NNRegressor
    rng = np.random.default_rng(2)
    X = rng.normal(0, 1, (150, 2))
    counts = rng.poisson(np.exp(0.5 * X[:, 0] - 0.3 * X[:, 1]))
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        est = NNRegressor(loss="poisson", hidden_layer_sizes=(4,), max_iter=30,
                          random_state=0).fit(X, counts)
    model = nnpy.Model.from_estimator(est, ["a", "b"], "count")
    path = tmp_path / "p.model"
    model.save(path)
    loaded = nnpy.load(path)
    np.testing.assert_array_equal(loaded.predict(X), est.predict(X))
    assert np.all(loaded.predict(X) > 0)
    assert loaded.estimator.loss == "poisson" and loaded.network.output == "exp"


def test_model_in_python(tmp_path, species_csv):
    """Model.from_estimator, save and load without the command line; predict's input forms."""
    from nnpy.estimators import NNClassifier
    X, y = read_data(species_csv, "species", "classify")
    mean, scale = X.mean(axis=0), X.std(axis=0)
    with pytest.warns(ConvergenceWarning):
        est = NNClassifier(hidden_layer_sizes=(5,), max_iter=20, random_state=0).fit(
            (X - mean) / scale, y)
    model = nnpy.Model.from_estimator(est, FEATURES, "species", mean=mean, scale=scale)
    assert model.estimator is est
    path = tmp_path / "m.model"
    model.save(path)
    loaded = nnpy.load(path)
    want = est.predict((X - mean) / scale)
    assert loaded.predict(X).tolist() == want.tolist()
    row = {name: float(X[0, j]) for j, name in enumerate(FEATURES)}
    assert loaded.predict(row).tolist() == want[:1].tolist()
    structured = np.zeros(len(X), dtype=[("extra", "U3")] + [(n, "f8") for n in FEATURES])
    for j, name in enumerate(FEATURES):
        structured[name] = X[:, j]
    assert loaded.predict(structured).tolist() == want.tolist()
    pandas = pytest.importorskip("pandas")
    frame = pandas.DataFrame({name: X[:, j] for j, name in reversed(list(enumerate(FEATURES)))})
    frame["other"] = "text"
    assert loaded.predict(frame).tolist() == want.tolist()
    with pytest.raises(ValueError, match="lacks the feature column 'x3'"):
        loaded.predict({"x1": [1.0], "x 2": [2.0]})
    with pytest.raises(ValueError, match="3 columns"):
        loaded.predict(X[:, :2])
    with pytest.raises(ValueError, match="'x 2'.*finite|finite.*'x 2'"):
        loaded.predict(np.where(np.arange(3) == 1, np.nan, X))
    with pytest.raises(TypeError, match="column 'x1' must hold numbers"):
        loaded.predict({"x1": ["a"], "x 2": [1.0], "x3": [1.0]})
    with pytest.raises(ValueError, match="different lengths"):
        loaded.predict({"x1": [1.0, 2.0], "x 2": [1.0], "x3": [1.0]})
    with pytest.raises(TypeError, match="network must be an nnpy.Network"):
        nnpy.Model("net", FEATURES, "species")
    with pytest.raises(ValueError, match="target 'x1' is also one of the feature_names"):
        nnpy.Model(loaded.network, FEATURES, "x1", classes=loaded.classes)
    assert "species" in repr(loaded)


def test_loading_and_predicting_import_no_scikit_learn(tmp_path, species_model):
    script = (f"import sys, nnpy\n"
              f"m = nnpy.load({str(species_model)!r})\n"
              f"print(m.predict([[1.0, 2.0, 3.0]])[0], 'sklearn' in sys.modules)\n")
    done = subprocess.run([sys.executable, "-c", script], capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0, done.stderr
    label, imported = done.stdout.split()
    assert label in ("setosa", "versicolor", "virginica") and imported == "False"


# ---- the console script, pipes, the progress bar ---------------------------------------------

def console_script():
    script = shutil.which("nnpy", path=os.path.dirname(sys.executable))
    if script is None:
        pytest.skip("the nnpy console script is not beside this python")
    return script


def test_console_script_round_trip_and_usage_error(tmp_path, int_csv):
    script = console_script()
    model_path = tmp_path / "m"
    done = subprocess.run([script, "train", str(int_csv), "--target", "kind", "--epochs", "40",
                           "--save", str(model_path)], capture_output=True, text=True,
                          timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stderr == ""  # stderr is a pipe: no progress bar
    assert "Held-out accuracy" in done.stdout
    done = subprocess.run([script, "predict", str(model_path), str(int_csv)],
                          capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    header, rows = read_csv(done.stdout)
    assert header == ["kind"] + FEATURES + ["predicted_kind"] and len(rows) == 50
    assert {r[4] for r in rows} <= {"7", "-3"}
    done = subprocess.run([script, "train", str(int_csv), "--target", "nope", "--save",
                           str(model_path)], capture_output=True, text=True, timeout=300)
    assert done.returncode == 2
    assert done.stderr.startswith("nnpy train: error: ") and "'nope'" in done.stderr
    assert "Traceback" not in done.stderr


CLOSED_PIPE = 141  # 128 + SIGPIPE: the status of a program a closed pipe ends


def quiet(err):
    """No traceback and no "Exception ignored ... BrokenPipeError" from the interpreter."""
    return b"Traceback" not in err and b"BrokenPipe" not in err and b"Exception" not in err


@pytest.mark.parametrize("unbuffered", [False, True])
def test_a_closed_pipe_ends_quietly(tmp_path, int_csv, unbuffered):
    """`nnpy train ... | head -n 1` (the reader gone before the first line) and `nnpy predict
    ... | head -n 2` on a file larger than a pipe holds (gone after two lines): quiet, the
    status of a closed pipe, and the model saved all the same."""
    header, rows = read_csv(int_csv.read_text())
    big = write_csv(tmp_path / "big.csv", header, rows * 200)  # 10000 rows, > 64 KiB out
    model_path = trained(big, "kind", 5)
    env = dict(os.environ, PYTHONUNBUFFERED="1" if unbuffered else "")
    for argv, lines in ((["train", big, "--target", "kind", "--epochs", "5", "--save",
                          tmp_path / "m"], 0),
                        (["predict", model_path, big], 2)):
        child = subprocess.Popen([sys.executable, "-m", "nnpy", *map(str, argv)],
                                 stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
        read = [child.stdout.readline() for _ in range(lines)]
        child.stdout.close()
        _, err = child.communicate(timeout=300)
        assert quiet(err), err.decode()
        assert child.returncode == CLOSED_PIPE
        if argv[0] == "predict":
            assert read[0] == b"kind,x1,x 2,x3,predicted_kind\n"
    # the model the closed pipe's run saved is the one a run with a reader saves
    status = main(["train", str(big), "--target", "kind", "--epochs", "5", "--save",
                   str(tmp_path / "m2")])
    assert status == 0
    saved, again = nnpy.load(tmp_path / "m"), nnpy.load(tmp_path / "m2")
    assert np.array_equal(saved.network.get_flat_params(), again.network.get_flat_params())


@pytest.mark.parametrize("lines", [1, 3])
@pytest.mark.parametrize("unbuffered", ["", "1"])
def test_train_into_head_saves_the_model(tmp_path, int_csv, lines, unbuffered):
    """`nnpy train ... | head -n 3` in bash saved the model and then complained ("Exception
    ignored ... BrokenPipeError", status 120); with PYTHONUNBUFFERED=1, `| head -n 1` lost
    the model (status 1). Whenever head goes away, the model is saved, nothing is said, and
    the status is success or a closed pipe's."""
    bash = shutil.which("bash")
    if bash is None:
        pytest.skip("no bash")
    model_path = tmp_path / "m.model"
    script = (f'PYTHONUNBUFFERED={unbuffered} "{sys.executable}" -m nnpy train "{int_csv}" '
              f'--target kind --epochs 20 --save "{model_path}" 2>"{tmp_path}/err" '
              f'| head -n {lines}; echo "${{PIPESTATUS[0]}}"')
    done = subprocess.run([bash, "-c", script], capture_output=True, timeout=300)
    *shown, status = done.stdout.decode().splitlines()
    assert len(shown) == lines and shown[0].startswith("nnpy train:")
    assert int(status) in (0, CLOSED_PIPE)
    assert quiet((tmp_path / "err").read_bytes()), (tmp_path / "err").read_text()
    assert nnpy.load(model_path).classes.tolist() == [-3, 7]


def test_stdout_that_cannot_be_written(tmp_path, int_csv):
    """A full disk (/dev/full) or a closed stdout: a message and status 1 (the model still
    saved); an encoding that lacks a label: predict refuses (exit 2) rather than change it,
    train's summary escapes it."""
    model_path = tmp_path / "m.model"
    if os.path.exists("/dev/full"):
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "nnpy", "train", str(int_csv),
                                   "--target", "kind", "--epochs", "5", "--save",
                                   str(model_path)], stdout=full, stderr=subprocess.PIPE,
                                  timeout=300)
        assert done.returncode == 1
        assert b"cannot write to standard output: No space left on device" in done.stderr
        assert b"Traceback" not in done.stderr
        assert model_path.exists()
        with open("/dev/full", "w") as full:
            done = subprocess.run([sys.executable, "-m", "nnpy", "predict", str(model_path),
                                   str(int_csv)], stdout=full, stderr=subprocess.PIPE,
                                  timeout=300)
        assert done.returncode == 1 and b"No space left" in done.stderr
        assert b"Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "nnpy", "predict", str(model_path),
                           str(int_csv)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                          timeout=300, preexec_fn=lambda: os.close(1))
    assert done.returncode == 1 and b"standard output" in done.stderr
    header, rows = read_csv(int_csv.read_text())
    accents = write_csv(tmp_path / "accents.csv", header,
                        [["caf\u00e9" if r[0] == "7" else "th\u00e9", *r[1:]] for r in rows])
    env = dict(os.environ, PYTHONIOENCODING="ascii")
    done = subprocess.run([sys.executable, "-m", "nnpy", "train", str(accents), "--target",
                           "kind", "--epochs", "5", "--save", str(tmp_path / "a.model")],
                          capture_output=True, env=env, timeout=300)
    assert done.returncode == 0, done.stderr.decode()
    assert b"'caf\\xe9'" in done.stdout and b"Traceback" not in done.stderr
    done = subprocess.run([sys.executable, "-m", "nnpy", "predict", str(tmp_path / "a.model"),
                           str(accents)], capture_output=True, env=env, timeout=300)
    assert done.returncode == 2 and done.stdout == b""
    assert b"encoding (ascii)" in done.stderr and b"--out" in done.stderr
    done = subprocess.run([sys.executable, "-m", "nnpy", "predict", str(tmp_path / "a.model"),
                           str(accents), "--out", str(tmp_path / "a.csv")],
                          capture_output=True, env=env, timeout=300)
    assert done.returncode == 0
    assert {r[-1] for r in read_csv((tmp_path / "a.csv").read_text("utf-8"))[1]} <= \
        {"caf\u00e9", "th\u00e9"}


def test_progress_bar_on_a_terminal_only(capsys, tmp_path, species_csv, monkeypatch):
    pytest.importorskip("tqdm")
    argv = ["train", species_csv, "--target", "species", "--epochs", "7", "--save",
            tmp_path / "m"]
    status, out, err = run(capsys, *argv)
    assert status == 0 and err == ""  # not a terminal: no bar
    monkeypatch.setattr("nnpy.cli._train._on_terminal", lambda: True)
    import tqdm.auto
    monkeypatch.setattr(tqdm.auto, "tqdm", functools.partial(tqdm.auto.tqdm, mininterval=0))
    status, out, err = run(capsys, *argv)
    assert status == 0
    assert "7/7" in err and "epoch" in err and "loss=" in err  # the bar moved with the epochs
    assert "Iteration" not in out + err  # the verbose lines it reads are not shown
    assert nnpy.load(tmp_path / "m").estimator_params["verbose"] is False
    status, out, err = run(capsys, *argv, "--no-progress")
    assert status == 0 and err == ""


def test_help_describes_the_data_commands(capsys):
    status, out, _ = run(capsys, "--help")
    assert status == 0 and "train" in out and "predict" in out
    status, out, _ = run(capsys, "train", "--help")
    assert status == 0
    for option in ("--target", "--task", "--hidden", "--activation", "--solver", "--epochs",
                   "--test-size", "--seed", "--save", "--ignore"):
        assert option in out
    status, out, _ = run(capsys, "predict", "--help")
    assert status == 0 and "--proba" in out and "--out" in out


# ---- the documentation's CSV session --------------------------------------------------------

CLI_PAGE = pathlib.Path(__file__).resolve().parent.parent / "docs" / "guide" / "cli.md"
_NUMBER = re.compile(r"-?\d+(?:\.\d+)?(?:e[-+]?\d+)?")


def test_docs_csv_session_prints_what_it_says(tmp_path):
    """The command-line page's ```bash CSV session, run as written; each command's output is
    the "# " lines under it (numbers to 1e-6: the last digits depend on the CPU level's
    rounding; the training time and epoch count are not compared)."""
    pytest.importorskip("pandas")  # load_iris(as_frame=True)
    script = console_script()
    (block,) = [b for b in re.findall(r"```bash\n(.*?)```", CLI_PAGE.read_text(), flags=re.S)
                if "nnpy train iris.csv" in b]
    commands = "\n".join(line for line in block.splitlines() if not line.startswith("# "))
    expected = [line[2:] for line in block.splitlines() if line.startswith("# ")]
    env = dict(os.environ, PATH=os.path.dirname(script) + os.pathsep + os.environ["PATH"])
    done = subprocess.run(["bash", "-e", "-c", commands], cwd=tmp_path, env=env,
                          capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr
    got = done.stdout.splitlines()
    assert len(got) == len(expected), done.stdout
    for want, line in zip(expected, got):
        if want.startswith("Training: "):
            assert re.fullmatch(r"Training: [0-9.]+ (ms|s), \d+ epochs", line), line
            continue
        assert _NUMBER.sub("#", line) == _NUMBER.sub("#", want)
        for a, b in zip(_NUMBER.findall(line), _NUMBER.findall(want)):
            assert float(a) == pytest.approx(float(b), rel=1e-6, abs=1e-9), (line, want)
    assert (tmp_path / "predictions.csv").read_text().count("\n") == 151
