"""The `nnpy` command (also `python -m nnpy`).

    nnpy                 same as `nnpy xor`
    nnpy xor             the blog post's 2-2-1 network learns XOR; truth table, times against
                         the post's numpy loop, the error-per-epoch plot xor-loss.png and the
                         output over the input plane xor-surface.png
    nnpy digits          scikit-learn's 8x8 digits with a 64-32-10 network: held-out accuracy,
                         confusion matrix, and the loss/accuracy curves digits-curves.png
    nnpy bench [--quick] the benchmark suite (nnpy.benchmarks)
    nnpy train DATA.csv --target COLUMN --save MODEL
                         trains an NNClassifier / NNRegressor on a CSV file's columns and saves
                         the model (nnpy.modelfile) in one file
    nnpy predict MODEL DATA.csv [--out FILE] [--proba]
                         the model's predictions for a CSV file's rows, as CSV
    nnpy score MODEL DATA.csv
                         accuracy and confusion matrix, or R^2, MAE and RMSE, on a labelled file

Demo options (xor, digits): --seed, --epochs, --lr, --hidden, --no-progress, --out DIR,
--no-plot. Every run is deterministic for a given seed (apart from the times it prints).

nnpy train reads a CSV file with a header (comma-separated, UTF-8; see nnpy._csvtable for
what a number is and what a missing value; "-" reads standard input). The --target column is
predicted from every other column (less those named by --ignore): numbers, or text columns
(and those named by --categorical), one-hot encoded with the file's categories; missing cells
are an error, or dropped or filled with the training rows' mean or median (--missing), the
fill stored in the model. Every problem of the file is said at once (the first 20). A target of integers or text is a classification,
one of other numbers a regression, unless --task says otherwise. The rows are split into a
training and a held-out part (--test-size, stratified by class for a classification, drawn
with --seed); the features are standardised with the training part's mean and standard
deviation (and a regression's target too); an NNClassifier / NNRegressor with scikit-learn's
MLP parameters (--hidden 64,32 is hidden_layer_sizes=(64, 32); --activation, --solver, --lr
is learning_rate_init, --alpha, --batch-size, --epochs is max_iter, --early-stopping with
--validation-fraction and --patience (n_iter_no_change), on by default when the validation
part has 20 rows or more, --seed is random_state) is trained on the training part; the held-out
accuracy or R^2 and the training time are printed, and the model is saved to --save.

nnpy predict reads the model and a CSV file holding the model's feature columns (matched by
name, in any order) and writes CSV to stdout (or --out -) or to --out FILE (written
atomically): a header, then one line per input row with all its columns as they were read
(ids included), then the prediction in a column named after the target, or predicted_TARGET
when the file has the target column (class labels as in the training file); --proba adds one
column per class, P(label), its probability. A category the model did not see is an error
naming it, or with --unknown ignore encoded as none of the known ones. Numbers are written
with all the digits needed to read them back exactly. nnpy score reads the same and the
target column, and prints the accuracy with a confusion matrix, or R^2, MAE and RMSE.

Class labels come back exactly as the training file spells them ("01", "+3", "setosa"): a
target column of integers written plainly ("7", "-3") holds int64 classes, any other
spelling keeps its text.

Bad arguments and bad input (a missing file, a column that is not there or not numeric, an
empty cell, an --out that cannot be written, an output file that is one of the command's
input files, a network too large for the memory available, a file that is not a model) give
a message and exit status 2, checked before training; a training run that diverges exits
with status 1, as does one whose standard output cannot be written (a full disk); the
progress bar is drawn only on a terminal. A closed pipe (`nnpy train ... | head -n 3`) ends
the printing, never the work: the model is still saved and the plots written, quietly, and
the status is then 141, as for a program a closed pipe ends (SIGPIPE).
"""
from __future__ import annotations

# main is the command; the other names nnpy.cli had without an underscore stay importable
from ._args import DIGITS_DEFAULTS, XOR_DEFAULTS
from ._checks import UsageError
from ._demos import XOR_X, XOR_Y, run_digits, run_xor
from ._main import main
from ._predict import run_predict, run_score
from ._train import run_train

__all__ = ["main"]
