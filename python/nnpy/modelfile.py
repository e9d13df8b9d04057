"""Trained models on named columns, and their files: what `nnpy train` saves, `nnpy predict`
reads, and `nnpy.load(path)` returns.

A Model is a network with everything prediction on a table needs: the names of its input
columns (`feature_names`, in the network's input order) and of the column it predicts
(`target`), how text columns are one-hot encoded (`categories`) and missing values filled
(`fill`), the standardisation of the network's inputs (`mean`, `scale`: the network sees
(x - mean) / scale), the task ("classify" or "regress") and, for a classifier, the class labels
as they were in the training data (`classes`: int64 or str, in the order of the network's
outputs, sorted); for a regression, the standardisation of the target (`target_mean`,
`target_scale`: the network's output is (y - target_mean) / target_scale).

    model = nnpy.load("iris.model")
    model.predict({"sepal_length": [5.1, 6.2], "sepal_width": [3.5, 2.9], ...})  # by name
    model.predict(X)          # X: a 2-D array, columns in the order of model.feature_names
    model.predict_proba(X)    # classifiers: one column per class, in the order of classes
    model.estimator           # the fitted NNClassifier / NNRegressor, in standardised units
                              # (input, and a regression's output; needs scikit-learn)

Columns by name: any mapping of column name -> values (a dict, a pandas DataFrame, a NumPy
structured array): the feature columns are taken by name, in any order, other columns are
ignored; each value is a number or a 1-D sequence of numbers (of strings, for a text column).
Anything else is read as a 2-D array of numbers (a model with a text column takes its columns
by name only). What is not a number within float64's range (text, a huge integer), nested or
ragged values and columns of different lengths are a TypeError/ValueError naming the column
(and the row). predict returns the labels (classify) or float64 values (regress), one per row;
prediction needs numpy only.

Text columns (`categories`: {column: [category, ...]}, sorted) are one-hot encoded: the column
becomes one network input per category, named "column=category" (`input_names`), 1 for the
row's category and 0 for the others. A category the model did not see in training is a
ValueError naming the column, row and value; with unknown="ignore" it is encoded as all zeros.
Missing values (NaN or None in a numeric column; None, NaN or "" in a text column) are
replaced by `fill`'s value for the column ({column: number or category}, the training rows'
mean, median or most frequent category: `nnpy train --missing mean|median`); a model without a
fill for the column refuses them (ValueError naming the column and row).

The file is one .npz archive in nnpy's safe format (see nnpy.io: read without pickle, every
field checked, written atomically) with four members:

    header    a 0-d unicode array: a JSON object
              {"format": "nnpy.Model", "version": 1, "task": "classify" | "regress",
               "target": name, "features": [name, ...], "classes": [label, ...] | null
               (all JSON integers or all strings, sorted, no repeats),
               "target_scaling": [target_mean, target_scale] | null (regress | classify),
               "categories": {name: [category, ...]} (optional, version 2),
               "fill": {name: number | category} (optional, version 2),
               "estimator_params": {the estimator's parameters, e.g. "hidden_layer_sizes":
               [64, 32], "activation": "relu", "solver": "adam", "max_iter": 200,
               "random_state": 0}, "nnpy_version": "...",
               "training": {"rows_train": n, "rows_test": n, "metric": "accuracy" | "r2",
               "score": s, "seconds": t, "epochs": n} (optional: how it was trained)}
    network   uint8 (n_bytes,): a complete nnpy network file, as Network.save writes it
              (read back by nnpy.io with all of its checks; no optimiser state)
    mean      float64 (n_inputs,): one per network input (input_names)
    scale     float64 (n_inputs,), all > 0 (a constant column's scale is 1)

The version is 1 when the file has neither categories nor fill (as nnpy wrote before they
existed: older nnpy reads it), else 2; both are read.

Consistency is checked too: the network's inputs match the input names, its outputs the task
(classify: a softmax over the classes, or one sigmoid unit for two; regress: one identity
output, or one exp output for the poisson loss). A file from a newer nnpy (a larger version) is refused with a message saying so.
"""
from __future__ import annotations

import io
import json
import math
import numbers
import zipfile
from typing import IO, TYPE_CHECKING, Any, Callable, Mapping, Optional, Sequence, cast

import numpy as np

from . import _netfile
from ._safefile import (PathLike, is_int, members, open_regular, read_array, read_json_header,
                        read_npz, write_atomically)
from ._version import __version__
from .network import Network

if TYPE_CHECKING:
    from .estimators import NNClassifier, NNRegressor

__all__ = ["Model", "load", "encode_columns", "FORMAT", "VERSION"]

FORMAT = "nnpy.Model"
VERSION = 2  # the newest version read and written (1 when there is nothing of 2)

_REQUIRED = ("format", "version", "task", "target", "features", "classes", "target_scaling",
             "estimator_params")
_OPTIONAL = ("training", "nnpy_version", "categories", "fill")
_VERSION_2 = ("categories", "fill")
_TRAINING = {"rows_train": int, "rows_test": int, "metric": str, "score": float,
             "seconds": float, "epochs": int}
_METRICS = ("accuracy", "r2")
_TASKS = ("classify", "regress")
_INT64 = np.iinfo(np.int64)


class Model:
    """A trained network on named columns (see the module docstring). Made by `nnpy train`,
    `Model.from_estimator`, or `nnpy.load`; every argument is checked (ValueError/TypeError
    naming it)."""

    def __init__(self, network: Network, feature_names: Sequence[str], target: str, *,
                 classes: Optional[Sequence[Any]] = None, mean: Optional[Any] = None,
                 scale: Optional[Any] = None, target_scaling: Optional[Sequence[float]] = None,
                 estimator_params: Optional[Mapping] = None,
                 training: Optional[Mapping] = None,
                 categories: Optional[Mapping[str, Sequence[str]]] = None,
                 fill: Optional[Mapping[str, Any]] = None):
        if not isinstance(network, Network):
            raise TypeError(f"network must be an nnpy.Network, got {type(network).__name__}")
        self.network = network                                     # the trained network
        self.feature_names = _check_names(feature_names)           # input columns, in order
        if not isinstance(target, str):
            raise TypeError(f"target must be a string (the column's name), got {target!r}")
        if target in self.feature_names:
            raise ValueError(f"target {target!r} is also one of the feature_names")
        self.target = target                                       # the predicted column
        self.classes: Optional[np.ndarray] = (  # the labels, or None for a regression
            None if classes is None else _check_classes(classes))
        self.task = "regress" if classes is None else "classify"
        self.categories = _check_categories(categories or {}, self.feature_names)
        self.fill = _check_fill(fill or {}, self.feature_names, self.categories)
        n = len(self.input_names)
        self.mean = _check_vector(np.zeros(n) if mean is None else mean, "mean", n)
        self.scale = _check_vector(np.ones(n) if scale is None else scale, "scale", n)
        if not (self.scale > 0).all():
            raise ValueError("scale must be > 0 for every feature (1 for a constant column)")
        if target_scaling is not None and self.task == "classify":
            raise ValueError("target_scaling is for a regression; a classifier's target is "
                             "its classes")
        y_mean, y_scale = _check_vector((0.0, 1.0) if target_scaling is None
                                        else target_scaling, "target_scaling", 2)
        if not y_scale > 0:
            raise ValueError(f"target_scaling's scale must be > 0, got {y_scale}")
        self.target_mean, self.target_scale = float(y_mean), float(y_scale)  # regress only
        self.estimator_params = _check_params(estimator_params or {})  # as get_params()
        self.training = training                                   # how it was trained, or None
        self._check_network()
        self._estimator: Any = None  # the fitted estimator, made on first use

    @property
    def training(self) -> Optional[dict]:
        """How the model was trained, or None: {"rows_train", "rows_test", "metric"
        ("accuracy" or "r2"), "score" (held out), "seconds", "epochs"}, any of them."""
        return self._training

    @training.setter
    def training(self, value: Optional[Mapping]) -> None:
        self._training = _check_training(value)

    @property
    def input_names(self) -> tuple[str, ...]:
        """The network's inputs, in order: a numeric feature's name, and for a text column
        one "column=category" per category."""
        names: list[str] = []
        for name in self.feature_names:
            if name in self.categories:
                names.extend(f"{name}={c}" for c in self.categories[name])
            else:
                names.append(name)
        return tuple(names)

    @property
    def label_type(self) -> Optional[str]:
        """"int" or "str" for a classifier's labels, None for a regression."""
        if self.classes is None:
            return None
        return "int" if self.classes.dtype.kind == "i" else "str"

    def _check_network(self) -> None:
        net, n = self.network, len(self.input_names)
        if net.sizes[0] != n:
            raise ValueError(f"the network has {net.sizes[0]} inputs for {n} "
                             + ("input_names (the features, text columns one per category)"
                                if self.categories else "feature_names"))
        n_out = net.sizes[-1]
        if self.task == "regress":
            if net.output not in ("identity", "exp") or n_out != 1:
                raise ValueError(f"a regression needs one identity output (or one exp output: "
                                 f"poisson); the network has {n_out} {net.output} output(s)")
            return
        k = len(cast(np.ndarray, self.classes))  # a classifier's: not None
        if not ((net.output == "softmax" and n_out == k >= 3) or
                (net.output == "sigmoid" and net.loss_name == "cross_entropy" and n_out == 1
                 and k == 2)):
            raise ValueError(f"{k} classes need a softmax output of {k} units (or one sigmoid "
                             f"unit with cross_entropy for 2); the network has {n_out} "
                             f"{net.output} output(s) with loss {net.loss_name!r}")

    # ---- from an estimator, to an estimator ------------------------------------------------

    @classmethod
    def from_estimator(cls, estimator: Any, feature_names: Sequence[str], target: str, *,
                       mean: Optional[Any] = None, scale: Optional[Any] = None,
                       target_scaling: Optional[Sequence[float]] = None,
                       training: Optional[Mapping] = None,
                       categories: Optional[Mapping[str, Sequence[str]]] = None,
                       fill: Optional[Mapping[str, Any]] = None) -> "Model":
        """A Model of a fitted NNClassifier (single-label) or NNRegressor (one output) that was
        trained on (x - mean) / scale of the columns `feature_names` (mean 0 and scale 1 when
        not given) to predict the column `target` (a regressor: (y - target_mean) /
        target_scale for target_scaling=(target_mean, target_scale), or y itself); mean and
        scale are one per input (input_names: text columns in `categories` one-hot encoded),
        missing values filled with `fill` (see the module docstring)."""
        from .estimators import NNClassifier, NNRegressor
        if not isinstance(estimator, (NNClassifier, NNRegressor)) or \
                not hasattr(estimator, "network_"):
            raise TypeError("estimator must be a fitted nnpy NNClassifier or NNRegressor, got "
                            f"{type(estimator).__name__}")
        params = {key: value for key, value in estimator.get_params().items()
                  if _is_json_param(value)}
        dtype = estimator.get_params().get("dtype")
        if dtype is not None:  # None: the estimator follows X's dtype
            params["dtype"] = np.dtype(dtype).name
        classes = list(estimator.classes_) if isinstance(estimator, NNClassifier) else None
        if estimator.out_activation_ != "softmax" and estimator.n_outputs_ != 1:
            raise ValueError(f"a Model predicts one target column; this {type(estimator).__name__}"
                             f" has {estimator.n_outputs_} outputs (multi-label or multi-output)")
        model = cls(estimator.network_, feature_names, target, classes=classes, mean=mean,
                    scale=scale, target_scaling=target_scaling, estimator_params=params,
                    training=training, categories=categories, fill=fill)
        model._estimator = estimator
        return model

    @property
    def estimator(self) -> Any:
        """The fitted NNClassifier / NNRegressor behind the model, in standardised units: it
        takes model.standardize(X), and a regressor's predictions are (y - target_mean) /
        target_scale. Needs scikit-learn (imported here)."""
        if self._estimator is None:
            self._estimator = self._make_estimator()
        return self._estimator

    def _make_estimator(self) -> NNClassifier | NNRegressor:
        from .estimators import NNClassifier, NNRegressor
        params = dict(self.estimator_params)
        if "hidden_layer_sizes" in params:
            params["hidden_layer_sizes"] = tuple(params["hidden_layer_sizes"])
        if params.get("dtype") is not None:
            params["dtype"] = np.dtype(params["dtype"]).type
        kind = NNClassifier if self.task == "classify" else NNRegressor
        try:
            estimator = kind.from_network(self.network, self.classes, **params)
        except (TypeError, ValueError) as err:
            raise ValueError(f"estimator_params do not fit {kind.__name__} on this network: "
                             f"{err}") from None
        estimator.n_iter_ = (self.training or {}).get("epochs", 0)
        return estimator

    # ---- prediction --------------------------------------------------------------------------

    def standardize(self, X: Any, unknown: str = "error") -> np.ndarray:
        """(x - mean) / scale of X's encoded feature columns (by name or by position, see the
        module docstring): the network's input, float64 (n_rows, n_inputs)."""
        with np.errstate(over="ignore"):  # a value too large to scale: _outputs names it
            return (self.encode(X, unknown) - self.mean) / self.scale

    def predict(self, X: Any, unknown: str = "error") -> np.ndarray:
        """The predicted label (classify) or value (regress) of each row of X. unknown:
        "error" (a category not seen in training is a ValueError) or "ignore" (encoded as
        all zeros)."""
        return self._decode(self._outputs(self.encode(X, unknown)))

    def _decode(self, out: np.ndarray) -> np.ndarray:
        if self.classes is None:  # a regression
            return out[:, 0].astype(np.float64) * self.target_scale + self.target_mean
        if out.shape[1] == 1:  # one sigmoid unit for two classes: as LabelBinarizer decodes it
            return self.classes[(out[:, 0] > 0.5).astype(np.intp)]
        return self.classes[np.argmax(out, axis=1)]

    @property
    def predict_proba(self) -> Callable[..., np.ndarray]:
        """(classifiers only: a regression model has no such attribute) predict_proba(X,
        unknown="error"), the probability of each class (n_rows, n_classes), columns in the
        order of classes."""
        if self.task != "classify":
            raise AttributeError("a regression model has no predict_proba")
        return self._predict_proba

    def _predict_proba(self, X: Any, unknown: str = "error") -> np.ndarray:
        return self._probabilities(self._outputs(self.encode(X, unknown)))

    @staticmethod
    def _probabilities(out: np.ndarray) -> np.ndarray:
        if out.shape[1] == 1:
            return np.column_stack([1 - out[:, 0], out[:, 0]])
        return out

    def _outputs(self, inputs: np.ndarray) -> np.ndarray:
        """The network's outputs for encoded inputs (encode's)."""
        with np.errstate(over="ignore"):
            z = (inputs - self.mean) / self.scale
        limit = float(np.finfo(self.network.dtype).max)
        too_large = ~(np.abs(z) <= limit)
        if too_large.any():
            row, col = np.argwhere(too_large)[0]
            raise ValueError(f"X holds {inputs[row, col]} in column "
                             f"{self.input_names[col]!r} (row {row}): too large for this "
                             f"model, (x - mean) / scale = (x - {self.mean[col]:.6g}) / "
                             f"{self.scale[col]:.6g} is beyond {self.network.dtype.name}'s "
                             f"range")
        return self.network.predict(z.astype(self.network.dtype, copy=False))

    def encode(self, X: Any, unknown: str = "error") -> np.ndarray:
        """X's feature columns as the network's inputs before standardisation, float64
        (n_rows, n_inputs): text columns one-hot encoded, missing values filled (see the
        module docstring). ValueError for the first value that cannot be encoded."""
        inputs, problems = self.encode_columns(self._columns(X), unknown)
        if problems:
            row, _, _, text = problems[0]
            raise ValueError(f"{text} (row {row})")
        return inputs

    def encode_columns(self, columns: Mapping[str, Any], unknown: str = "error"
                       ) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
        """(inputs, problems) of columns already read: {feature: float64 array (NaN where
        missing) | sequence of str or None (a text column; None where missing)}. problems:
        (row, column, kind, what is wrong) of each value that cannot be encoded (its inputs
        are then 0), kind "missing" (a missing value without a fill), "infinite" or
        "unknown" (a category not seen in training, unless unknown is "ignore")."""
        return encode_columns(self.feature_names, self.categories, self.fill, columns, unknown)

    def _columns(self, X: Any) -> dict[str, Any]:
        """X's feature columns, read for encode_columns."""
        names = self.feature_names
        if _by_name(X):
            missing = [name for name in names if not _has_column(X, name)]
            if missing:
                raise ValueError(f"X lacks the feature column{'s' * (len(missing) > 1)} "
                                 f"{', '.join(map(repr, missing))} (the model takes "
                                 f"{', '.join(map(repr, names))})")
            columns: dict[str, Any] = {}
            for name in names:
                if name in self.categories:
                    columns[name] = _texts(X[name], name)
                    continue
                # None is a missing value where the model fills one, else not a number
                column = _numbers(X[name], f"column {name!r}", missing=name in self.fill)
                if column.ndim > 1:
                    raise ValueError(f"column {name!r} must be a number or a 1-D sequence of "
                                     f"numbers, got shape {column.shape}")
                columns[name] = np.atleast_1d(column)
            lengths = [len(c) for c in columns.values()]
            if len(set(lengths)) > 1:
                raise ValueError("the columns of X have different lengths: " + ", ".join(
                    f"{name!r} {n}" for name, n in zip(names, lengths)))
            return columns
        if self.categories:
            raise TypeError(f"this model one-hot encodes the text column"
                            f"{'s' * (len(self.categories) > 1)} "
                            f"{', '.join(map(repr, self.categories))}: give X's columns by name "
                            f"(a dict of column name -> values, or a pandas DataFrame)")
        matrix = _numbers(X, "X", names, missing=bool(self.fill))
        if matrix.ndim != 2 or matrix.shape[1] != len(names):
            raise ValueError(f"X must be 2-D with {len(names)} columns (in the order of "
                             f"feature_names: {', '.join(map(repr, names))}), or columns by "
                             f"name; got shape {matrix.shape}")
        return {name: matrix[:, j] for j, name in enumerate(names)}

    # ---- files -------------------------------------------------------------------------------

    def save(self, path: PathLike | IO[bytes]) -> None:
        """Writes the model to `path` (written as given; atomically: an interrupted save
        leaves the old file) or a writable binary file object. nnpy.load reads it back."""
        net = self.network.copy()
        net.reset_optimizer()  # prediction needs no optimiser state
        network_file = io.BytesIO()
        _netfile.write(net, network_file)
        header = {"format": FORMAT, "version": 2 if self.categories or self.fill else 1,
                  "task": self.task,
                  "target": self.target, "features": list(self.feature_names),
                  "classes": None if self.classes is None else self.classes.tolist(),
                  "target_scaling": None if self.task == "classify" else
                  [self.target_mean, self.target_scale],
                  "estimator_params": self.estimator_params, "nnpy_version": __version__}
        if self.training is not None:
            header["training"] = self.training
        if self.categories:
            header["categories"] = {name: list(c) for name, c in self.categories.items()}
        if self.fill:
            header["fill"] = self.fill
        arrays: dict[str, Any] = {  # Any: savez's keywords would otherwise match allow_pickle
            "header": np.array(json.dumps(header, ensure_ascii=False)),
            "network": np.frombuffer(network_file.getvalue(), dtype=np.uint8),
            "mean": self.mean, "scale": self.scale}
        if hasattr(path, "write"):
            np.savez(cast(IO[bytes], path), **arrays)
        else:
            write_atomically(path, lambda f: np.savez(f, **arrays))

    def __repr__(self) -> str:
        what = ("regression" if self.classes is None
                else f"classes={self.classes.tolist()!r}")
        return (f"Model(target={self.target!r}, features={list(self.feature_names)!r}, {what}, "
                f"network={self.network!r})")


def load(path: PathLike | IO[bytes]) -> Model:
    """The Model in the file `path` (a path or a readable binary file object), as `nnpy
    train` or Model.save wrote it. ValueError for anything that is not an intact model file
    of a version this nnpy reads (naming the file and what is wrong); FileNotFoundError if it
    does not exist. Nothing in the file is unpickled or run."""
    if hasattr(path, "read"):  # a file object (the cast: hasattr does not narrow)
        return _read(cast(IO[bytes], path), "<file object>")
    f, name = open_regular(path, "model file")
    with f:
        return _read(f, name)


def _read(f: IO[bytes], name: str) -> Model:
    try:
        size = f.seek(0, 2)
        f.seek(0)
    except OSError as err:
        raise ValueError(f"{name}: cannot read: {err}") from None
    return read_npz(f, name, "nnpy model file", lambda zf: _read_zip(zf, name, size))


def _read_zip(zf: zipfile.ZipFile, name: str, size: int) -> Model:
    archive = members(zf, name)
    header = read_json_header(zf, archive, name, "nnpy model file")
    _check_header(header, name)
    expected = {"header", "network", "mean", "scale"}
    missing, extra = sorted(expected - set(archive)), sorted(set(archive) - expected)
    if missing or extra:
        raise ValueError(f"{name}: the archive must hold header, network, mean and scale; "
                         + (f"missing {', '.join(missing)}" if missing else "")
                         + ("; " if missing and extra else "")
                         + (f"unexpected {', '.join(extra)}" if extra else ""))
    # nnpy writes the members uncompressed: none can be larger than the file itself
    raw = read_array(zf, archive["network"], name, size)
    if raw.dtype != np.uint8 or raw.ndim != 1:
        raise ValueError(f"{name}: network must be a 1-D uint8 array (a network file's bytes), "
                         f"got dtype {raw.dtype} and shape {raw.shape}")
    net = _netfile.read_from(io.BytesIO(raw.tobytes()), f"{name} (its network)", Network, None)
    n = _declared_inputs(header, int(net.sizes[0]))
    vectors = {}
    for key in ("mean", "scale"):
        array = read_array(zf, archive[key], name, 8 * n + _netfile.NPY_HEADER_ALLOWANCE)
        if array.dtype != np.float64 or array.shape != (n,):
            raise ValueError(f"{name}: {key} must be float64 of shape ({n},) for {n} inputs, "
                             f"got {array.dtype} of shape {array.shape}")
        vectors[key] = array
    try:
        return Model(net, header["features"], header["target"], classes=header["classes"],
                     mean=vectors["mean"], scale=vectors["scale"],
                     target_scaling=header["target_scaling"],
                     estimator_params=header["estimator_params"],
                     training=header.get("training"), categories=header.get("categories"),
                     fill=header.get("fill"))
    except (TypeError, ValueError) as err:
        raise ValueError(f"{name}: {err}") from None


def _declared_inputs(header: dict, otherwise: int) -> int:
    """The network inputs the header's features and categories make (`otherwise` when they
    are malformed: the Model's own checks then name what is wrong)."""
    features, categories = header["features"], header.get("categories") or {}
    if not isinstance(categories, dict) or \
            not all(isinstance(c, list) for c in categories.values()):
        return otherwise
    return sum(len(categories[f]) if isinstance(f, str) and f in categories else 1
               for f in features)


def _check_header(header: Any, name: str) -> None:  # header: parsed JSON, checked here
    if not isinstance(header, dict):
        raise ValueError(f"{name}: the header must be a JSON object, got {type(header).__name__}")
    if header.get("format") == _netfile.FORMAT:
        raise ValueError(f"{name} is an nnpy network file, not a model file: read it with "
                         f"nnpy.Network.load")
    if header.get("format") != FORMAT:
        raise ValueError(f"{name}: not an nnpy model file (format {header.get('format')!r})")
    version: Any = header.get("version")
    if not is_int(version) or version < 1:
        raise ValueError(f"{name}: the format version must be an integer >= 1, got {version!r}")
    if version > VERSION:
        raise ValueError(f"{name} was written by a newer nnpy (model format version {version}; "
                         f"nnpy {__version__} reads version {VERSION}): upgrade nnpy to read it")
    missing = [key for key in _REQUIRED if key not in header]
    if missing:
        raise ValueError(f"{name}: the header lacks {', '.join(missing)}")
    unknown = sorted(set(header) - set(_REQUIRED) - set(_OPTIONAL)
                     | (set(header) & set(_VERSION_2) if version < 2 else set()))
    if unknown:
        raise ValueError(f"{name}: the header has unknown fields {', '.join(map(repr, unknown))}")
    if header["task"] not in _TASKS:
        raise ValueError(f"{name}: task must be 'classify' or 'regress', got {header['task']!r}")
    if (header["task"] == "classify") != (header["classes"] is not None):
        raise ValueError(f"{name}: a {header['task']} model needs classes "
                         f"{'[...]' if header['task'] == 'classify' else 'null'}")
    if "nnpy_version" in header and not isinstance(header["nnpy_version"], str):
        raise ValueError(f"{name}: nnpy_version must be a string")
    if not isinstance(header["features"], list):
        raise ValueError(f"{name}: features must be a list of names")


# ---- checks ----------------------------------------------------------------------------------

def _check_names(names: object) -> tuple[str, ...]:
    if isinstance(names, str) or not isinstance(names, Sequence) and \
            not isinstance(names, np.ndarray):
        raise TypeError(f"feature_names must be a sequence of column names, got {names!r}")
    names = tuple(names)
    if not names:
        raise ValueError("feature_names must name at least one column")
    for i, name in enumerate(names):
        if not isinstance(name, str):
            raise TypeError(f"feature_names[{i}] must be a string, got {name!r}")
    if len(set(names)) != len(names):
        repeated = next(n for n in names if names.count(n) > 1)
        raise ValueError(f"feature_names holds {repeated!r} twice")
    return names


def _check_classes(classes: Sequence[Any] | np.ndarray) -> np.ndarray:
    if isinstance(classes, (str, bytes)) or not hasattr(classes, "__len__"):
        raise TypeError(f"classes must be a sequence of labels, got {classes!r}")
    labels = list(np.asarray(classes).tolist()) if isinstance(classes, np.ndarray) \
        else list(classes)
    if all(is_int(c) for c in labels):
        if not all(_INT64.min <= c <= _INT64.max for c in labels):
            raise ValueError("integer classes must fit in int64")
        array = np.array(labels, dtype=np.int64)
    elif all(isinstance(c, str) for c in labels):
        array = np.array(labels, dtype=str)
    else:
        raise TypeError("classes must be all integers or all strings, got "
                        f"{', '.join(sorted({type(c).__name__ for c in labels}))}")
    if len(array) < 2:
        raise ValueError(f"a classifier needs at least 2 classes, got {labels!r}")
    if not (array[1:] > array[:-1]).all():
        raise ValueError("classes must be sorted, without repeats (as np.unique gives them)")
    return array


def _check_vector(value: object, what: str, n: int) -> np.ndarray:
    try:
        array = np.array(value, dtype=np.float64)
    except (TypeError, ValueError) as err:
        raise TypeError(f"{what} must be {n} numbers: {err}") from None
    if array.shape != (n,):
        raise ValueError(f"{what} must have shape ({n},), one per feature; got {array.shape}")
    if not np.isfinite(array).all():
        raise ValueError(f"{what} holds NaN or infinity")
    return array


def _is_json_param(value: object) -> bool:
    if value is None or isinstance(value, (bool, str)):
        return True
    if isinstance(value, numbers.Real):
        return math.isfinite(value) if isinstance(value, float) else True
    return isinstance(value, (tuple, list)) and all(is_int(v) for v in value)


def _check_params(params: object) -> dict[str, Any]:
    if not isinstance(params, Mapping):
        raise TypeError(f"estimator_params must be a mapping, got {type(params).__name__}")
    out = {}
    for key, value in params.items():
        if not isinstance(key, str) or not _is_json_param(value):
            raise ValueError(f"estimator_params[{key!r}] must be a string, number, true/false, "
                             f"null or a list of integers, got {value!r}")
        if isinstance(value, numbers.Integral) and not isinstance(value, bool):
            value = int(value)
        elif isinstance(value, numbers.Real) and not isinstance(value, bool):
            value = float(value)
        elif isinstance(value, (tuple, list)):
            value = [int(v) for v in value]
        out[key] = value
    return out


def _check_training(training: object) -> Optional[dict[str, Any]]:
    if training is None:
        return None
    if not isinstance(training, Mapping):
        raise TypeError(f"training must be a mapping, got {type(training).__name__}")
    unknown = sorted(set(training) - set(_TRAINING))
    if unknown:
        raise ValueError(f"training has unknown fields {', '.join(map(repr, unknown))}; "
                         f"known: {', '.join(_TRAINING)}")
    out = {}
    for key, value in training.items():
        kind = _TRAINING[key]
        if kind is int:
            ok = is_int(value) and value >= 0
        elif kind is float:
            ok = isinstance(value, numbers.Real) and not isinstance(value, bool) and \
                math.isfinite(value)
        else:
            ok = isinstance(value, str) and (key != "metric" or value in _METRICS)
        if not ok:
            raise ValueError(f"training[{key!r}] is {value!r}; expected "
                             + ("one of " + ", ".join(_METRICS) if key == "metric"
                                else {int: "an integer >= 0", float: "a finite number"}[kind]))
        out[key] = kind(value)
    return out


def _by_name(X: Any) -> bool:
    """Whether X gives its columns by name: a mapping, a DataFrame, a structured array."""
    if isinstance(X, Mapping) or hasattr(X, "columns"):
        return True
    return isinstance(X, np.ndarray) and X.dtype.names is not None


def _has_column(X: Any, name: str) -> bool:
    if isinstance(X, np.ndarray):
        return name in X.dtype.names
    return name in (X.columns if hasattr(X, "columns") else X)


def _numbers(value: Any, what: str, columns: Sequence[str] = (),
             missing: bool = False) -> np.ndarray:
    """value as a float64 array, if it holds real numbers (not text, not dates, not None),
    each within float64's range; else a TypeError/ValueError naming `what` (for a 2-D array
    whose columns are `columns`, the column of the value at fault) and the row. missing: None
    is read as NaN (a missing value)."""
    def where(index: tuple[int, ...]) -> str:
        if len(index) == 2 and columns and index[1] < len(columns):
            return f"column {columns[index[1]]!r} (row {index[0]})"
        return what if not index else \
            f"{what} (row {index[0]})" if len(index) == 1 else f"{what} (index {index})"

    try:
        array = np.asarray(value)
    except ValueError as err:  # ragged nested sequences
        raise ValueError(f"{what} must be a number or a rectangular (not ragged) sequence "
                         f"of numbers: {err}") from None
    except OverflowError:  # (older numpy) a Python int beyond every numpy type: found below
        array = np.array(value, dtype=object)
    if array.dtype.kind == "O":
        with np.errstate(over="ignore", invalid="ignore"):
            out = np.empty(array.shape, dtype=np.float64)
            for index, v in np.ndenumerate(array):
                if v is None and missing:
                    out[index] = math.nan
                    continue
                if not isinstance(v, numbers.Real):
                    raise TypeError(f"{where(index)} holds {_short(v)}; it must hold numbers "
                                    f"only")
                try:
                    out[index] = float(v)
                except OverflowError:  # a huge int or Fraction
                    out[index] = math.inf
                if math.isinf(out[index]) and not (isinstance(v, float) and math.isinf(v)):
                    raise ValueError(f"{where(index)} holds {_short(v)}, beyond the range of "
                                     f"float64 (largest {float(np.finfo(np.float64).max):.4g})")
        return out
    if array.dtype.kind in "US" and array.size:   # text: the first value is at fault
        index = (0,) * array.ndim
        column = f"column {columns[0]!r}" if array.ndim == 2 and columns else what
        row = "row 0 holds " if array.ndim else ""
        raise TypeError(f"{column} must hold numbers, got dtype {array.dtype} ({row}"
                        f"{_short(array[index].item())})")
    if array.dtype.kind not in "biuf":
        raise TypeError(f"{what} must hold numbers, got dtype {array.dtype}")
    with np.errstate(over="ignore", invalid="ignore"):
        out = array.astype(np.float64)
    lost = ~np.isfinite(out) & np.isfinite(array)  # a longdouble beyond float64
    if lost.any():
        index = tuple(int(i) for i in np.argwhere(lost)[0])
        raise ValueError(f"{where(index)} holds {array[index]!s}, beyond the range of float64 "
                         f"(largest {float(np.finfo(np.float64).max):.4g})")
    return out


def encode_columns(features: Sequence[str], categories: Mapping[str, Sequence[str]],
                   fill: Mapping[str, Any], columns: Mapping[str, Any], unknown: str = "error"
                   ) -> tuple[np.ndarray, list[tuple[int, str, str, str]]]:
    """Model.encode_columns for these features, categories and fills."""
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
    n = len(next(iter(columns.values()))) if columns else 0
    width = sum(len(categories[name]) if name in categories else 1 for name in features)
    inputs = np.zeros((n, width))
    problems: list[tuple[int, str, str, str]] = []
    at = 0
    for name in features:
        values = columns[name]
        filler = fill.get(name)
        if name in categories:
            known = categories[name]
            place = {c: k for k, c in enumerate(known)}
            for row, value in enumerate(values):
                if value is None:
                    if filler is None:
                        problems.append((row, name, "missing", _no_fill(name)))
                        continue
                    value = filler
                k = place.get(value)
                if k is not None:
                    inputs[row, at + k] = 1.0
                elif unknown == "error":
                    problems.append((row, name, "unknown", f"column {name!r} holds {value!r}, "
                                     f"a category the model did not see in training (it knows "
                                     f"{_some(known)})"))
            at += len(known)
            continue
        column = np.array(values, dtype=np.float64)
        missing = np.isnan(column)
        if missing.any():
            if filler is None:
                problems.extend((int(row), name, "missing", _no_fill(name))
                                for row in np.flatnonzero(missing))
            else:
                column[missing] = filler
        for bad in np.flatnonzero(np.isinf(column)):
            problems.append((int(bad), name, "infinite", f"X holds {column[bad]} in column "
                             f"{name!r}; every value must be finite"))
        inputs[:, at] = np.where(np.isfinite(column), column, 0.0)
        at += 1
    problems.sort(key=lambda p: p[0])
    return inputs, problems


def _texts(value: Any, name: str) -> list[Optional[str]]:
    """A text column's values: strings (integers as their decimal text), None where missing
    (None, NaN, "")."""
    array = np.asarray(value, dtype=object)
    if array.ndim > 1:
        raise ValueError(f"column {name!r} must be a string or a 1-D sequence of them, got "
                         f"shape {array.shape}")
    out: list[Optional[str]] = []
    for row, v in enumerate(np.atleast_1d(array).tolist()):
        if v is None or (isinstance(v, float) and math.isnan(v)) or v == "":
            out.append(None)
        elif isinstance(v, str):
            out.append(v.strip())
        elif is_int(v):
            out.append(str(int(v)))
        else:
            raise TypeError(f"column {name!r} (row {row}) holds {_short(v)}; a text column "
                            f"holds strings (its categories)")
    return out


def _no_fill(name: str) -> str:
    return (f"column {name!r} has a missing value, and the model has none to fill it with "
            f"(trained without --missing mean or median): every value must be finite")


def _some(values: Sequence[str], limit: int = 8) -> str:
    shown = ", ".join(map(repr, values[:limit]))
    return shown + (f", ... ({len(values)} in all)" if len(values) > limit else "")


def _check_categories(categories: object, features: Sequence[str]) -> dict[str, tuple[str, ...]]:
    if not isinstance(categories, Mapping):
        raise TypeError(f"categories must be a mapping of column name -> categories, got "
                        f"{type(categories).__name__}")
    out = {}
    for name, values in categories.items():
        if name not in features:
            raise ValueError(f"categories names {name!r}, which is not one of the "
                             f"feature_names")
        if isinstance(values, (str, bytes)) or not isinstance(values, (Sequence, np.ndarray)):
            raise TypeError(f"categories[{name!r}] must be a sequence of strings")
        values = tuple(values.tolist() if isinstance(values, np.ndarray) else values)
        if not values or not all(isinstance(v, str) and v for v in values):
            raise ValueError(f"categories[{name!r}] must be non-empty strings, at least one")
        if list(values) != sorted(set(values)):
            raise ValueError(f"categories[{name!r}] must be sorted, without repeats")
        out[name] = values
    return {name: out[name] for name in features if name in out}  # in the features' order


def _check_fill(fill: object, features: Sequence[str],
                categories: Mapping[str, Sequence[str]]) -> dict[str, Any]:
    if not isinstance(fill, Mapping):
        raise TypeError(f"fill must be a mapping of column name -> value, got "
                        f"{type(fill).__name__}")
    out: dict[str, Any] = {}
    for name, value in fill.items():
        if name not in features:
            raise ValueError(f"fill names {name!r}, which is not one of the feature_names")
        if name in categories:
            if value not in categories[name]:
                raise ValueError(f"fill[{name!r}] must be one of the column's categories, got "
                                 f"{value!r}")
            out[name] = value
        elif isinstance(value, numbers.Real) and not isinstance(value, bool) and \
                math.isfinite(value):
            out[name] = float(value)
        else:
            raise ValueError(f"fill[{name!r}] must be a finite number, got {value!r}")
    return out


def _short(value: object) -> str:
    """repr(value), shortened if long (a 400-digit integer)."""
    text = repr(value)
    return text if len(text) <= 40 else f"{text[:16]}...{text[-8:]} ({len(text)} characters)"
