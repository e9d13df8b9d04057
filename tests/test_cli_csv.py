"""`nnpy train`, `predict` and `score` on real CSV files written here: quoted fields, missing
values, text features, id columns, integer regression targets, standard input; the tuning
options reaching the estimator; every problem of a file said at once."""
import csv
import io
import json
import math
import subprocess
import sys
import zipfile

import numpy as np
import pytest

pytest.importorskip("sklearn")

from sklearn.metrics import r2_score  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

import nnpy  # noqa: E402
from nnpy.cli import main  # noqa: E402


def run(capsys, *argv):
    status = main([str(a) for a in argv])
    out, err = capsys.readouterr()
    return status, out, err


def nnpy_cli(*argv, stdin=None):
    """The command line in a child process, as a user runs it."""
    return subprocess.run([sys.executable, "-m", "nnpy", *map(str, argv)], input=stdin,
                          capture_output=True, text=True, timeout=300)


def write_csv(path, header, rows):
    with open(path, "w", newline="") as f:
        writer = csv.writer(f)
        writer.writerow(header)
        writer.writerows(rows)
    return path


def read_csv(text):
    rows = list(csv.reader(io.StringIO(text)))
    return rows[0], rows[1:]


def assert_usage_error(status, err, *words):
    assert status == 2
    assert "Traceback" not in err
    for word in words:
        assert word in err, (word, err)


COLOURS = ['red, dark', 'say "blue"', "green"]  # a comma and quotes inside quoted fields


@pytest.fixture
def shop_csv(tmp_path):
    """An id, a text feature whose values hold commas and quotes, two numeric features with
    missing cells, and a class that depends on the text feature and a number."""
    rng = np.random.default_rng(0)
    rows = []
    for i in range(120):
        colour = COLOURS[i % 3]
        size = rng.normal(10, 3)
        weight = rng.normal(50, 10)
        label = "big" if size + 4 * (colour == "green") > 11 else "small"
        rows.append([f"id-{i:03d}", colour, repr(size), repr(weight), label])
    rows[5][2] = ""
    rows[17][3] = "NA"
    rows[40][2] = "nan"
    return write_csv(tmp_path / "shop.csv", ["id", "colour", "size", "weight", "label"], rows)


def test_text_feature_missing_values_and_ids(capsys, tmp_path, shop_csv):
    model_path = tmp_path / "shop.model"
    status, out, err = run(capsys, "train", shop_csv, "--target", "label", "--ignore", "id",
                           "--missing", "median", "--hidden", "8", "--epochs", "400",
                           "--save", model_path)
    assert status == 0, err
    assert "one-hot encoded: 'colour' (3 categories)" in out
    assert "filled 3 missing cells with the training rows' median" in out
    model = nnpy.load(model_path)
    assert model.feature_names == ("colour", "size", "weight")
    assert model.categories == {"colour": tuple(sorted(COLOURS))}
    assert model.input_names == tuple(f"colour={c}" for c in sorted(COLOURS)) + ("size",
                                                                                "weight")
    # the fills are the training rows' medians (the split is the documented one)
    header, rows = read_csv(shop_csv.read_text())
    labels = [r[4] for r in rows]
    train, _ = train_test_split(np.arange(120), test_size=24, train_size=96, random_state=0,
                                stratify=labels)
    for j, name in ((2, "size"), (3, "weight")):
        values = np.array([float(rows[i][j]) for i in train
                           if rows[i][j] not in ("", "NA", "nan")])
        assert model.fill[name] == np.median(values)
    assert model.fill["colour"] in COLOURS
    # one-hot inputs are 0 and 1 (not standardised); numeric ones standardised
    assert model.mean[:3].tolist() == [0, 0, 0] and model.scale[:3].tolist() == [1, 1, 1]
    with zipfile.ZipFile(model_path) as zf:
        stored = json.loads(str(np.load(zf.open("header.npy"))[()]))
    assert stored["version"] == 2 and stored["categories"]["colour"] == sorted(COLOURS)

    status, out, err = run(capsys, "predict", model_path, shop_csv)
    assert status == 0, err
    got_header, got = read_csv(out)
    assert got_header == header + ["predicted_label"]
    assert [r[:5] for r in got] == rows  # the id and the true label kept as read
    accuracy = np.mean([r[5] == r[4] for r in got])
    assert accuracy > 0.9
    # the command's predictions are the model's, with the text column by name
    columns = {"colour": [r[1] for r in rows],
               "size": [float(r[2]) if r[2] not in ("", "nan") else None for r in rows],
               "weight": [float(r[3]) if r[3] != "NA" else None for r in rows]}
    assert model.predict(columns).tolist() == [r[5] for r in got]
    # one row's inputs, by hand: the colour's indicator, then the filled numbers
    inputs = model.encode({"colour": ["green"], "size": [None], "weight": [3.0]})
    assert inputs.tolist() == [[1.0, 0.0, 0.0, model.fill["size"], 3.0]]

    status, out, err = run(capsys, "score", model_path, shop_csv)
    assert status == 0, err
    right = sum(r[5] == r[4] for r in got)
    assert f"Accuracy: {100 * right / 120:.1f}% ({right} of 120 rows)" in out
    truth, predicted = np.array([r[4] for r in got]), np.array([r[5] for r in got])
    matrix_lines = out.split("columns: predicted label):\n")[1].splitlines()
    assert matrix_lines[0].split() == ["big", "small"]
    for line, true in zip(matrix_lines[1:], ["big", "small"]):
        counts = [int(v) if v != "." else 0 for v in line.split()[1:]]
        assert counts == [int(np.sum((truth == true) & (predicted == p)))
                          for p in ["big", "small"]]


def test_unseen_category_is_named_or_ignored(capsys, tmp_path, shop_csv):
    model_path = tmp_path / "shop.model"
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--ignore", "id",
                         "--missing", "mean", "--epochs", "50", "--save", model_path)
    assert status == 0, err
    new = write_csv(tmp_path / "new.csv", ["id", "size", "colour", "weight"],
                    [["a", "9.5", "green", "40"], ["b", "12", "purple, light", "55"],
                     ["c", "", "red, dark", "50"]])
    status, out, err = run(capsys, "predict", model_path, new)
    assert_usage_error(status, err, "new.csv, line 3", "'colour'", "'purple, light'",
                       "did not see", "--unknown ignore")
    assert out == ""
    status, out, err = run(capsys, "predict", model_path, new, "--unknown", "ignore")
    assert status == 0, err
    header, got = read_csv(out)
    assert header == ["id", "size", "colour", "weight", "label"]
    model = nnpy.load(model_path)
    by_name = {"colour": ["green", "purple, light", "red, dark"], "size": [9.5, 12, None],
               "weight": [40.0, 55.0, 50.0]}
    assert [r[4] for r in got] == model.predict(by_name, unknown="ignore").tolist()
    assert model.encode(by_name, unknown="ignore")[1, :3].tolist() == [0, 0, 0]
    with pytest.raises(ValueError, match="'purple, light'.*row 1"):
        model.predict(by_name)


def test_every_problem_at_once(capsys, tmp_path):
    rows = [[str(i), str(i % 5), "xy"[i % 2]] for i in range(40)]
    for i in range(0, 25):
        rows[i][1] = "" if i % 2 else "oops"
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "d.csv: 25 problems:", "... and 5 more")
    lines = [line for line in err.splitlines() if "d.csv, line " in line]
    assert len(lines) == 20
    assert lines[0] == f"  {data}, line 2: column 'b' holds 'oops', which is not a number"
    assert lines[1] == f"  {data}, line 3: column 'b' has an empty cell"
    assert "--missing drop" in err and "--ignore" in err
    # one problem: one line, as before
    rows = [[str(i), str(i % 5), "xy"[i % 2]] for i in range(40)]
    rows[3][1] = "NA"
    data = write_csv(tmp_path / "d.csv", ["a", "b", "y"], rows)
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "d.csv, line 5: column 'b' has a missing value ('NA')",
                       "--missing")


def test_missing_drop(capsys, tmp_path, shop_csv):
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", shop_csv, "--target", "label", "--ignore", "id",
                           "--missing", "drop", "--epochs", "30", "--save", model_path)
    assert status == 0, err
    assert "left out 3 rows with a missing cell" in out
    assert "nnpy train: " in out and "120 rows" in out
    assert "93 rows to train, 24 held out" in out
    model = nnpy.load(model_path)
    assert model.fill == {}
    status, _, err = run(capsys, "predict", model_path, shop_csv)
    assert_usage_error(status, err, "3 problems", "line 7: column 'size' has an empty cell",
                       "line 19: column 'weight' has a missing value ('NA')",
                       "without --missing")


def test_text_column_rules(capsys, tmp_path):
    rows = [[f"row{i}", str(i % 4), "xy"[i % 2]] for i in range(120)]
    data = write_csv(tmp_path / "d.csv", ["name", "code", "y"], rows)
    # a text column of distinct values looks like an id: refused, with both ways out
    status, _, err = run(capsys, "train", data, "--target", "y", "--save", tmp_path / "m")
    assert_usage_error(status, err, "'name'", "120 distinct values", "--ignore name",
                       "--categorical name")
    # --categorical forces numbers to be categories
    status, out, err = run(capsys, "train", data, "--target", "y", "--ignore", "name",
                           "--categorical", "code", "--epochs", "5", "--save", tmp_path / "m")
    assert status == 0, err
    assert nnpy.load(tmp_path / "m").categories == {"code": ("0", "1", "2", "3")}
    status, _, err = run(capsys, "train", data, "--target", "y", "--categorical", "y",
                         "--save", tmp_path / "m")
    assert_usage_error(status, err, "--categorical 'y'", "not a feature column")
    status, _, err = run(capsys, "train", data, "--target", "y", "--categorical", "nope",
                         "--save", tmp_path / "m")
    assert_usage_error(status, err, "no column 'nope'")


def test_integer_regression_target_is_pointed_to_task_regress(capsys, tmp_path):
    from sklearn.datasets import load_diabetes
    d = load_diabetes(scaled=False)
    data = write_csv(tmp_path / "diabetes.csv", [f"x{j}" for j in range(10)] + ["progression"],
                     [[*map(repr, row), str(int(t))] for row, t in zip(d.data.tolist(),
                                                                         d.target.tolist())])
    status, _, err = run(capsys, "train", data, "--target", "progression", "--save",
                         tmp_path / "m")
    assert_usage_error(status, err, "has a single row", "--task regress is probably meant")
    status, out, err = run(capsys, "train", data, "--target", "progression", "--task",
                           "regress", "--save", tmp_path / "m")
    assert status == 0, err


def test_diabetes_defaults_do_not_overfit(capsys, tmp_path):
    """The defaults on scikit-learn's diabetes data: early stopping (on by default for 353
    training rows) keeps the held-out R^2 where scikit-learn's MLPRegressor with early stopping
    has it, instead of the 0.22 (200 epochs) and -0.05 (1000 epochs) of training to the end."""
    from sklearn.datasets import load_diabetes
    from sklearn.neural_network import MLPRegressor
    d = load_diabetes(scaled=False)
    names = [f"x{j}" for j in range(10)]
    data = write_csv(tmp_path / "diabetes.csv", names + ["target"],
                     [[*map(repr, row), repr(t)] for row, t in zip(d.data.tolist(),
                                                                     d.target.tolist())])
    status, out, err = run(capsys, "train", data, "--target", "target", "--save",
                           tmp_path / "m")
    assert status == 0, err
    assert "early stopping on 36 of the training rows (patience 10)" in out
    r2 = float(out.split("Held-out R^2: ")[1].split()[0])
    train, test = train_test_split(np.arange(442), test_size=89, train_size=353,
                                   random_state=0)
    X, y = d.data, d.target
    mean, std = X[train].mean(axis=0), X[train].std(axis=0)
    y_mean, y_std = y[train].mean(), y[train].std()
    sk = MLPRegressor(early_stopping=True, max_iter=1000, random_state=0)
    sk.fit((X[train] - mean) / std, (y[train] - y_mean) / y_std)
    want = r2_score(y[test], sk.predict((X[test] - mean) / std) * y_std + y_mean)
    assert r2 == pytest.approx(want, abs=0.02)
    assert r2 > 0.25
    status, out, err = run(capsys, "train", data, "--target", "target", "--no-early-stopping",
                           "--save", tmp_path / "m")
    assert "early stopping" not in out and "at most 200 epochs" in out


def test_tuning_options_reach_the_estimator(capsys, tmp_path, shop_csv):
    model_path = tmp_path / "m"
    status, out, err = run(capsys, "train", shop_csv, "--target", "label", "--ignore", "id",
                           "--missing", "mean", "--lr", "0.01", "--alpha", "0.5",
                           "--batch-size", "16", "--early-stopping", "--validation-fraction",
                           "0.25", "--patience", "3", "--solver", "sgd", "--activation",
                           "tanh", "--epochs", "300", "--seed", "4", "--save", model_path)
    assert status == 0, err
    params = nnpy.load(model_path).estimator_params
    assert params["learning_rate_init"] == 0.01 and params["alpha"] == 0.5
    assert params["batch_size"] == 16 and params["early_stopping"] is True
    assert params["validation_fraction"] == 0.25 and params["n_iter_no_change"] == 3
    assert params["solver"] == "sgd" and params["activation"] == "tanh"
    assert params["max_iter"] == 300 and params["random_state"] == 4
    assert "early stopping on 24 of the training rows (patience 3)" in out


@pytest.mark.parametrize("option, value, words", [
    ("--lr", "0", ["--lr", "> 0"]),
    ("--alpha", "-1", ["--alpha", ">= 0"]),
    ("--batch-size", "0", ["--batch-size", "at least 1"]),
    ("--validation-fraction", "1", ["--validation-fraction", "between 0 and 1"]),
    ("--patience", "x", ["--patience", "whole number"]),
    ("--missing", "zero", ["--missing", "invalid choice"]),
    ("--dropout", "1", ["--dropout", "below 1"]),
    ("--loss", "poisson", ["--loss", "invalid choice"]),
])
def test_bad_tuning_options(capsys, tmp_path, shop_csv, option, value, words):
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--save",
                         tmp_path / "m", option, value)
    assert_usage_error(status, err, *words)


def test_loss_and_dropout_reach_the_estimator(capsys, tmp_path):
    rng = np.random.default_rng(5)
    X = rng.normal(0, 1, (120, 2))
    y = 2 * X[:, 0] - X[:, 1] + rng.standard_t(2, 120)   # heavy tails: what huber is for
    data = write_csv(tmp_path / "r.csv", ["a", "b", "y"],
                     [[repr(p), repr(q), repr(t)] for (p, q), t in zip(X.tolist(), y.tolist())])
    for loss in ("huber", "absolute_error"):
        model_path = tmp_path / loss
        status, out, err = run(capsys, "train", data, "--target", "y", "--loss", loss,
                               "--dropout", "0.1", "--epochs", "40", "--save", model_path)
        assert status == 0, err
        assert f"alpha 0.0001, loss {loss}, dropout 0.1, at most 40 epochs" in out
        model = nnpy.load(model_path)
        assert model.estimator_params["loss"] == loss
        assert model.estimator_params["dropout"] == 0.1
        assert model.network.loss_name == loss
        status, out, err = run(capsys, "score", model_path, data)
        assert status == 0 and "R^2: " in out, err


def test_loss_is_a_regressions_and_dropout_a_stochastic_solvers(capsys, tmp_path, shop_csv):
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--ignore", "id",
                         "--missing", "mean", "--loss", "huber", "--save", tmp_path / "m")
    assert_usage_error(status, err, "--loss", "classes", "--task regress")
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--task", "classify",
                         "--loss", "huber", "--save", tmp_path / "m")
    assert_usage_error(status, err, "--loss", "log-loss")
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--solver", "lbfgs",
                         "--dropout", "0.2", "--save", tmp_path / "m")
    assert_usage_error(status, err, "--dropout", "adam or sgd")


def test_early_stopping_needs_epochs(capsys, tmp_path, shop_csv):
    status, _, err = run(capsys, "train", shop_csv, "--target", "label", "--solver", "lbfgs",
                         "--early-stopping", "--save", tmp_path / "m")
    assert_usage_error(status, err, "--early-stopping", "adam or sgd")


def test_standard_input_and_output(tmp_path, shop_csv):
    text = shop_csv.read_text()
    model_path = tmp_path / "m"
    done = nnpy_cli("train", "-", "--target", "label", "--ignore", "id", "--missing", "mean",
                    "--epochs", "60", "--save", model_path, stdin=text)
    assert done.returncode == 0, done.stderr
    assert done.stdout.startswith("nnpy train: <stdin>, 120 rows")
    from_file = tmp_path / "m2"
    assert main(["train", str(shop_csv), "--target", "label", "--ignore", "id", "--missing",
                 "mean", "--epochs", "60", "--save", str(from_file)]) == 0
    assert np.array_equal(nnpy.load(model_path).network.get_flat_params(),
                          nnpy.load(from_file).network.get_flat_params())
    done = nnpy_cli("predict", model_path, "-", "--out", "-", "--proba", stdin=text)
    assert done.returncode == 0, done.stderr
    piped = nnpy_cli("predict", model_path, shop_csv, "--proba")
    assert done.stdout == piped.stdout and done.stdout.startswith(
        "id,colour,size,weight,label,predicted_label,P(big),P(small)\n")
    done = nnpy_cli("score", model_path, "-", stdin=text)
    assert done.returncode == 0 and "Accuracy: " in done.stdout
    bad = text.replace("id-007", "id-007,extra", 1)
    done = nnpy_cli("predict", model_path, "-", stdin=bad)
    assert done.returncode == 2 and "<stdin>, line 9" in done.stderr
    assert "Traceback" not in done.stderr


def test_score_a_regression(capsys, tmp_path):
    rng = np.random.default_rng(3)
    X = rng.normal(0, 1, (100, 2))
    y = 3 * X[:, 0] - X[:, 1] + rng.normal(0, 0.1, 100)
    data = write_csv(tmp_path / "r.csv", ["a", "b", "y"],
                     [[repr(p), repr(q), repr(t)] for (p, q), t in zip(X.tolist(), y.tolist())])
    model_path = tmp_path / "m"
    assert run(capsys, "train", data, "--target", "y", "--epochs", "300", "--save",
               model_path)[0] == 0
    status, out, err = run(capsys, "score", model_path, data)
    assert status == 0, err
    predicted = nnpy.load(model_path).predict(X)
    assert f"R^2: {r2_score(y, predicted):.4f}" in out
    assert f"MAE: {np.mean(np.abs(predicted - y)):.6g}" in out
    assert f"RMSE: {math.sqrt(np.mean((predicted - y) ** 2)):.6g}" in out
    # a file without the target, or with a bad target cell
    no_target = write_csv(tmp_path / "nt.csv", ["a", "b"], [["1", "2"]])
    status, _, err = run(capsys, "score", model_path, no_target)
    assert_usage_error(status, err, "no column 'y'", "nnpy predict")
    bad = write_csv(tmp_path / "bad.csv", ["a", "b", "y"],
                    [["1", "2", "x"], ["1", "", "3"], ["1", "2", ""]])
    status, _, err = run(capsys, "score", model_path, bad)
    assert_usage_error(status, err, "3 problems", "line 2: column 'y' holds 'x'",
                       "line 3: column 'b' has an empty cell",
                       "line 4: column 'y' (the target) has an empty cell")


def test_plain_model_files_stay_version_1(capsys, tmp_path, shop_csv):
    """A model without text columns or fills is written as version 1 (older nnpy reads it)."""
    data = write_csv(tmp_path / "n.csv", ["a", "y"], [[str(i), "xy"[i % 2]] for i in range(30)])
    assert run(capsys, "train", data, "--target", "y", "--epochs", "5", "--save",
               tmp_path / "m")[0] == 0
    with zipfile.ZipFile(tmp_path / "m") as zf:
        stored = json.loads(str(np.load(zf.open("header.npy"))[()]))
    assert stored["version"] == 1 and "categories" not in stored and "fill" not in stored
