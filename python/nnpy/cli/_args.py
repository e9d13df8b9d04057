"""The `nnpy` command's arguments: their types (checked as argparse parses them) and
the parsers of the commands."""
from __future__ import annotations

import argparse
from typing import Callable

import numpy as np

from .. import _family, _losses

XOR_DEFAULTS = dict(epochs=2500, lr=1.0, hidden=2)
DIGITS_DEFAULTS = dict(epochs=30, lr=3.0, hidden=32, batch_size=10)


def _int_at_least(minimum: int, wording: str) -> Callable[[str], int]:
    """An argparse type: a whole number >= minimum."""
    def parse(text: str) -> int:
        try:
            value = int(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a whole number, got {text!r}") from None
        if value < minimum:
            raise argparse.ArgumentTypeError(f"must be {wording}, got {value}")
        return value
    return parse


_positive_int = _int_at_least(1, "at least 1")
_seed = _int_at_least(0, "0 or more")


def _float_where(ok: Callable[[float], bool], wording: str) -> Callable[[str], float]:
    """An argparse type: a number for which ok(value) holds (NaN never does)."""
    def parse(text: str) -> float:
        try:
            value = float(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"expected a number, got {text!r}") from None
        if not ok(value):
            raise argparse.ArgumentTypeError(f"must be {wording}, got {text}")
        return value
    return parse


_positive_float = _float_where(lambda v: bool(np.isfinite(v)) and v > 0, "a finite number > 0")
_non_negative_float = _float_where(lambda v: bool(np.isfinite(v)) and v >= 0,
                                   "a finite number >= 0")
_dropout_rate = _float_where(lambda v: 0 <= v < 1, "at least 0 and below 1")
_fraction = _float_where(lambda v: 0 < v < 1, "between 0 and 1 (both excluded)")

# --loss: NNRegressor's losses on an identity output (poisson's exp output needs counts, not
# the standardised target train fits)
REGRESSION_LOSSES = tuple(row.sklearn for row in _losses.LOSSES.values()
                          if row.sklearn is not None and row.regressor_output == "identity")


def _widths(text: str) -> tuple[int, ...]:
    """An argparse type: comma-separated hidden layer widths, "64,32" -> (64, 32)."""
    parts = text.split(",")
    if any(not part.strip() for part in parts):
        raise argparse.ArgumentTypeError(f"expected widths separated by commas such as 64,32; "
                                         f"{text!r} has an empty one")
    return tuple(_positive_int(part.strip()) for part in parts)


def _seed32(seed: int) -> int:
    """A seed below 2**32 for what takes no larger one (np.random.seed, scikit-learn's
    random_state): the seed itself when it fits, else one derived from all of its bits."""
    if seed < 2 ** 32:
        return seed
    return int(np.random.SeedSequence(seed).generate_state(1, np.uint32)[0])


def _common_options() -> argparse.ArgumentParser:
    common = argparse.ArgumentParser(add_help=False)
    group = common.add_argument_group("common options")
    group.add_argument("--seed", type=_seed, default=0,
                       help="seed of the initial weights, shuffling and splits (default 0)")
    group.add_argument("--epochs", type=_positive_int, default=None,
                       help="training epochs (xor: %(x)d, digits: %(d)d)"
                       % {"x": XOR_DEFAULTS["epochs"], "d": DIGITS_DEFAULTS["epochs"]})
    group.add_argument("--lr", type=_positive_float, default=None,
                       help="learning rate (xor: %(x)g, digits: %(d)g)"
                       % {"x": XOR_DEFAULTS["lr"], "d": DIGITS_DEFAULTS["lr"]})
    group.add_argument("--hidden", type=_positive_int, default=None,
                       help="width of the hidden layer (xor: %(x)d, digits: %(d)d)"
                       % {"x": XOR_DEFAULTS["hidden"], "d": DIGITS_DEFAULTS["hidden"]})
    group.add_argument("--no-progress", action="store_true", help="no progress bar")
    group.add_argument("--out", metavar="DIR", default=".",
                       help="directory for the plots (default: the current directory)")
    group.add_argument("--no-plot", action="store_true", help="write no plot")
    return common


def _parser() -> argparse.ArgumentParser:
    from .. import __version__
    parser = argparse.ArgumentParser(
        prog="nnpy", description="nnpy's demos (the blog post's XOR network, handwritten "
        "digits, the benchmarks), and training and prediction on your own CSV files. `nnpy` "
        "alone runs `nnpy xor`.")
    parser.add_argument("--version", action="version", version=f"nnpy {__version__}")
    commands = parser.add_subparsers(dest="command",
                                     metavar="{xor,digits,bench,train,predict,score}")
    common = _common_options()
    commands.add_parser("xor", parents=[common], help="the post's 2-2-1 network learns XOR",
                        description="Trains the blog post's 2-2-1 sigmoid network (weights "
                        "uniform in [0, 1), one sample per step) on all four XOR samples; prints "
                        "the truth table and the times against the post's loop, and writes the "
                        "error per epoch to xor-loss.png and the output over the input plane to "
                        "xor-surface.png.")
    commands.add_parser("digits", parents=[common], help="64-32-10 network on 8x8 digits",
                        description="Trains a 64-32-10 network on scikit-learn's digits "
                        "(75% of them, stratified) and reports the accuracy on the other 25%, "
                        "a confusion matrix, and the curves in digits-curves.png. Needs "
                        "scikit-learn.")
    commands.add_parser("bench", add_help=False, help="the benchmark suite: nnpy bench "
                        "[--quick] [...] (options: nnpy bench --help)")
    _train_parser(commands)
    _predict_parser(commands)
    _score_parser(commands)
    return parser


# `commands` is what ArgumentParser.add_subparsers returns
def _train_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    train = commands.add_parser(
        "train", help="train a network on a CSV file and save the model",
        description="Trains an NNClassifier or NNRegressor (scikit-learn's MLP parameters) to "
        "predict the --target column of a CSV file (a header line, then one row per sample) "
        "from all its other columns, which must be numeric. A target of integers or text is a "
        "classification, one of other numbers a regression, unless --task says otherwise. "
        "The rows are split into training and held-out rows (stratified by class), the "
        "features standardised with the training rows' mean and standard deviation (and a "
        "regression's target too); prints the held-out accuracy or R^2 and the training "
        "time, and saves everything `nnpy predict` and nnpy.load need in the --save file. "
        "Needs scikit-learn.",
        epilog="example: nnpy train iris.csv --target species --hidden 16 --save iris.model")
    train.add_argument("data", metavar="DATA.csv", help="the training data")
    train.add_argument("--target", required=True, metavar="COLUMN",
                       help="the column to predict")
    train.add_argument("--save", required=True, metavar="MODEL",
                       help="the file to write the model to (replaced if it exists)")
    train.add_argument("--task", choices=("classify", "regress"), default=None,
                       help="classify or regress (default: classify a target of integers or "
                       "text, regress one of other numbers)")
    train.add_argument("--ignore", action="append", default=[], metavar="COLUMN",
                       help="a column that is not a feature, such as an id (repeat for several)")
    train.add_argument("--categorical", action="append", default=[], metavar="COLUMN",
                       help="one-hot encode this feature column (repeat for several); a column "
                       "whose cells are all text is encoded without it")
    train.add_argument("--missing", choices=("drop", "mean", "median"), default=None,
                       help="missing cells (empty, NA, NaN, null, None): drop their rows, or "
                       "fill them with the training rows' mean or median (a text column's "
                       "most frequent category); the fill is saved and applied by predict "
                       "(default: a missing cell is an error)")
    train.add_argument("--test-size", type=_fraction, default=0.2, metavar="FRACTION",
                       help="fraction of the rows held out to score the model (default 0.2)")
    tuning = train.add_argument_group("the network and its training (scikit-learn's MLP "
                                      "parameters)")
    tuning.add_argument("--hidden", type=_widths, default=(100,), metavar="WIDTHS",
                        help="hidden layer widths, comma-separated, e.g. 64,32 "
                        "(hidden_layer_sizes; default 100)")
    tuning.add_argument("--activation", choices=tuple(_family.ESTIMATOR_NAMES),
                        default="relu", help="hidden layers' activation (default relu)")
    tuning.add_argument("--loss", choices=REGRESSION_LOSSES, default=None,
                        help="a regression's loss (loss; default squared_error): huber is "
                        "squared within one standard deviation of the target, absolute "
                        "beyond; classifiers train with log-loss")
    tuning.add_argument("--dropout", type=_dropout_rate, default=0.0, metavar="RATE",
                        help="inverted dropout on the hidden layers while training (nnpy's "
                        "dropout; adam and sgd; default 0)")
    tuning.add_argument("--solver", choices=("adam", "sgd", "lbfgs"), default="adam",
                        help="the optimiser (default adam)")
    tuning.add_argument("--lr", type=_positive_float, default=0.001,
                        help="initial learning rate of adam and sgd (learning_rate_init; "
                        "default 0.001)")
    tuning.add_argument("--alpha", type=_non_negative_float, default=0.0001,
                        help="L2 penalty on the weights (alpha; default 0.0001)")
    tuning.add_argument("--batch-size", type=_positive_int, default=None, metavar="N",
                        help="rows per step of adam and sgd (batch_size; default: 200, or all "
                        "the training rows if fewer)")
    tuning.add_argument("--epochs", type=_positive_int, default=None,
                        help="epochs at most (lbfgs: iterations; max_iter; default 1000 with "
                        "early stopping, else 200)")
    tuning.add_argument("--early-stopping", action=argparse.BooleanOptionalAction,
                        default=None,
                        help="stop when the score on a validation part of the training rows "
                        "(--validation-fraction) has not improved for --patience epochs, and "
                        "keep the best weights (early_stopping; adam and sgd; default: on when "
                        "the validation part has 20 rows or more)")
    tuning.add_argument("--validation-fraction", type=_fraction, default=0.1,
                        metavar="FRACTION", help="the training rows early stopping scores on "
                        "(validation_fraction; default 0.1)")
    tuning.add_argument("--patience", type=_positive_int, default=10, metavar="EPOCHS",
                        help="epochs without improvement before stopping (n_iter_no_change; "
                        "default 10)")
    tuning.add_argument("--seed", type=_seed, default=0,
                        help="seed of the split, the initial weights and the shuffling "
                        "(random_state; default 0)")
    train.add_argument("--no-progress", action="store_true", help="no progress bar")


def _predict_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    predict = commands.add_parser(
        "predict", help="a saved model's predictions for a CSV file's rows",
        description="Reads a model saved by `nnpy train` and a CSV file with the model's "
        "feature columns (matched by name, in any order), and writes CSV: a header, then each "
        "input row with all its columns as read (ids included), then the prediction in a "
        "column named after the target (class labels as in the training file), or "
        "predicted_TARGET when the file has the target column itself. DATA.csv - reads "
        "standard input.",
        epilog="example: nnpy predict iris.model new-flowers.csv --proba --out predictions.csv")
    predict.add_argument("model", metavar="MODEL", help="a model file written by nnpy train")
    predict.add_argument("data", metavar="DATA.csv", help="the rows to predict (- for standard "
                         "input)")
    predict.add_argument("--out", metavar="FILE", default=None,
                         help="write the CSV to FILE (atomically) instead of standard output "
                         "(- is standard output)")
    predict.add_argument("--proba", action="store_true",
                         help="add each class's probability, in columns named P(label) "
                         "(classifiers)")
    _unknown_option(predict)


def _unknown_option(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--unknown", choices=("error", "ignore"), default="error",
                        help="a category of a text column that the model did not see in "
                        "training: an error naming it (default), or encoded as none of the "
                        "known categories (ignore)")


def _score_parser(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    score = commands.add_parser(
        "score", help="a saved model's score on a labelled CSV file",
        description="Reads a model saved by `nnpy train` and a CSV file with the model's "
        "feature columns and its target column, and prints the accuracy and a confusion "
        "matrix (a classifier) or R^2, MAE and RMSE (a regression). DATA.csv - reads "
        "standard input.",
        epilog="example: nnpy score iris.model iris-test.csv")
    score.add_argument("model", metavar="MODEL", help="a model file written by nnpy train")
    score.add_argument("data", metavar="DATA.csv", help="labelled rows (- for standard input)")
    _unknown_option(score)
