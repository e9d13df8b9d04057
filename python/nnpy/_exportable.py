"""What the exporters (ONNX, C, FANN) take, reduced to one description: the network, the affine
transform of the raw inputs before it, and what its outputs mean.

Accepted, in every exporter:

    nnpy.Network                     no input transform; outputs as net.predict
    fitted NNClassifier/NNRegressor  no input transform; a classifier's probabilities and
                                     labels, a regressor's values
    nnpy Model (nnpy.load)           (x - mean) / scale first; classes, or a regression's
                                     out * target_scale + target_mean. A Model that one-hot
                                     encodes text columns or fills missing values (its
                                     `columns`) only where the exporter asks for them
                                     (to_onnx writes the encoding; C and FANN files take
                                     numbers, and refuse it)
    fitted sklearn Pipeline          its scalers' transforms in order, then the final step
                                     (a fitted NNClassifier/NNRegressor, or a Model)

The scalers a Pipeline may hold are the affine ones, each kept as the operations its
`transform` performs, in its order, so an exporter can repeat them exactly:

    StandardScaler   x - mean_ (with_mean), then / scale_ (with_std)
    RobustScaler     x - center_ (with_centering), then / scale_ (with_scaling)
    MinMaxScaler     x * scale_, then + min_  (clip=False only: clipping is not affine)
    MaxAbsScaler     x / scale_

"passthrough" steps are skipped and nested Pipelines flattened; any other step is a
TypeError naming it. An exporter that cannot hold operations (FANN) folds them into the first
layer with `Exportable.affine()`: x -> x * multiplier + offset.
"""
from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Literal, Optional

import numpy as np

if TYPE_CHECKING:
    from .network import Network

__all__ = ["Exportable", "exportable", "ACCEPTED"]

# An elementwise operation on the inputs, with the vector it takes (one value per feature)
Operation = Literal["sub", "div", "mul", "add"]

ACCEPTED = ("an nnpy.Network or a fitted nnpy NNClassifier/NNRegressor (alone, or after "
            "affine scalers in a fitted scikit-learn Pipeline: StandardScaler, MinMaxScaler, "
            "MaxAbsScaler, RobustScaler), or an nnpy Model (nnpy.load)")

_SCALERS = ("StandardScaler", "MinMaxScaler", "MaxAbsScaler", "RobustScaler")


@dataclass(frozen=True)
class Column:
    """One raw input column of a Model that encodes its columns: `categories` for a text
    column (one-hot encoded, one network input per category, in order), None for a numeric
    one; `fill` the value that replaces a missing one (a number, or one of the categories),
    or None (the model refuses missing values)."""

    name: str
    categories: Optional[tuple[str, ...]]
    fill: Optional[float | str]


@dataclass(frozen=True)
class Exportable:
    """One exportable model.

    network       the nnpy.Network that computes the outputs
    scaling       ((operation, vector, what), ...): applied to the raw inputs in order, each
                  elementwise (x - v, x / v, x * v, x + v); `what` says where it comes from,
                  e.g. "StandardScaler 'standardscaler': mean_"
    task          "network" (outputs as net.predict), "classify" or "regress"
    classes       a classifier's labels, in the order of its probabilities
    out_activation  a classifier's: "softmax" (a column per class), "logistic" (one unit p for
                  two classes, or one per label for multi-label)
    n_outputs     the network's outputs
    target_scaling  a regression's (target_mean, target_scale): value = out * scale + mean,
                  or None (the network's outputs are the values)
    source        the accepted object's kind, for names and messages
    columns       a Model's raw columns, in the order of its feature_names, when it one-hot
                  encodes text columns or fills missing values (their encoding comes before
                  `scaling`; the network's inputs are the columns' encodings in this order);
                  None when the inputs are the network's, one number each
    """

    network: Network
    scaling: tuple[tuple[Operation, np.ndarray, str], ...]
    task: Literal["network", "classify", "regress"]
    classes: Optional[np.ndarray]
    out_activation: Optional[str]
    n_outputs: int
    target_scaling: Optional[tuple[float, float]]
    source: str
    columns: Optional[tuple[Column, ...]] = None

    @property
    def multilabel(self) -> bool:
        return self.task == "classify" and self.out_activation == "logistic" and \
            self.n_outputs > 1

    def affine(self) -> tuple[np.ndarray, np.ndarray]:
        """(multiplier, offset), float64: the scaling as x * multiplier + offset. Equal to the
        operations in real arithmetic; its rounding differs from theirs."""
        n = self.network.sizes[0]
        multiplier, offset = np.ones(n), np.zeros(n)
        for operation, vector, _ in self.scaling:
            if operation == "sub":
                offset = offset - vector
            elif operation == "add":
                offset = offset + vector
            elif operation == "mul":
                multiplier, offset = multiplier * vector, offset * vector
            else:
                multiplier, offset = multiplier / vector, offset / vector
        return multiplier, offset


def exportable(model: object, exporter: str, encodes: bool = False) -> Exportable:
    """`model` as an Exportable; TypeError naming what it is when it is none of ACCEPTED (a
    Pipeline step that is no affine scaler named), NotFittedError for an unfitted
    estimator. encodes: whether the exporter writes a Model's column encoding (one-hot text
    columns, missing-value fills: Exportable.columns); if not, such a Model is a ValueError
    saying why (CANNOT_ENCODE) and what to do instead."""
    from .network import Network
    from .modelfile import Model
    if isinstance(model, Network):
        return Exportable(model, (), "network", None, None, model.sizes[-1], None, "Network")
    if isinstance(model, Model):
        return _of_model(model, exporter, encodes)
    if _is_pipeline(model):
        return _of_pipeline(model, exporter)
    estimator = _estimator(model)
    if estimator is not None:
        return estimator
    raise TypeError(f"{exporter} needs {ACCEPTED}; got {type(model).__name__}")


# Why each exporter that cannot write a Model's column encoding refuses it
CANNOT_ENCODE = {
    "to_c": "a C header takes the network's inputs as numbers",
    "to_fann": "a FANN file has no preprocessing, only the network",
}


def _of_model(model: Any, exporter: str, encodes: bool,
              in_pipeline: bool = False) -> Exportable:  # an nnpy Model
    columns: Optional[tuple[Column, ...]] = None
    if model.categories or model.fill:
        # A file that cannot encode takes one number per network input: refuse rather than
        # write a file that expects encoded inputs where the model takes raw columns.
        encoded = [f"one-hot text columns {list(model.categories)}"] if model.categories \
            else []
        encoded += [f"missing-value fills for {list(model.fill)}"] if model.fill else []
        if in_pipeline:
            raise ValueError(f"{exporter}: the Pipeline's model has {' and '.join(encoded)}, "
                             f"which take raw columns by name; the Pipeline's scalers would "
                             f"come before that encoding: export the model alone")
        if not encodes:
            instead = "" if exporter == "to_onnx" else \
                "export it with to_onnx (which writes the encoding into the graph), or "
            raise ValueError(f"{exporter}: this model has {' and '.join(encoded)}; "
                             f"{CANNOT_ENCODE.get(exporter, 'this format cannot hold them')}: "
                             f"{instead}encode and standardise the inputs yourself "
                             f"(model.standardize) and export model.network")
        columns = tuple(Column(name, model.categories.get(name), model.fill.get(name))
                        for name in model.feature_names)
    scaling: tuple[tuple[Operation, np.ndarray, str], ...] = (
        ("sub", np.asarray(model.mean, np.float64), "Model: mean"),
        ("div", np.asarray(model.scale, np.float64), "Model: scale"))
    net = model.network
    if model.task == "classify":
        return Exportable(net, scaling, "classify", np.asarray(model.classes),
                          "softmax" if net.output == "softmax" else "logistic",
                          net.sizes[-1], None, "Model", columns)
    return Exportable(net, scaling, "regress", None, None, net.sizes[-1],
                      (float(model.target_mean), float(model.target_scale)), "Model", columns)


def _estimator(model: object) -> Optional[Exportable]:
    """A fitted nnpy estimator's Exportable, or None if `model` is not an nnpy estimator."""
    if not (hasattr(model, "fit") and hasattr(model, "get_params")):
        return None
    from .estimators import NNClassifier, NNRegressor
    if not isinstance(model, (NNClassifier, NNRegressor)):
        return None
    from sklearn.utils.validation import check_is_fitted
    check_is_fitted(model)
    net = model.network_
    if isinstance(model, NNClassifier):
        return Exportable(net, (), "classify", np.asarray(model.classes_),
                          model.out_activation_, int(model.n_outputs_), None, "NNClassifier")
    return Exportable(net, (), "regress", None, None, int(model.n_outputs_), None,
                      "NNRegressor")


def _is_pipeline(model: object) -> bool:
    if type(model).__name__ != "Pipeline" or not hasattr(model, "steps"):
        return False
    from sklearn.pipeline import Pipeline
    return isinstance(model, Pipeline)


def _steps(pipeline: Any) -> list[tuple[str, Any]]:
    """The pipeline's (name, step) pairs, nested pipelines flattened, passthrough dropped."""
    out: list[tuple[str, Any]] = []
    for name, step in pipeline.steps:
        if step is None or (isinstance(step, str) and step == "passthrough"):
            continue
        if _is_pipeline(step):
            out += [(f"{name}__{inner}", s) for inner, s in _steps(step)]
        else:
            out.append((name, step))
    return out


def _of_pipeline(pipeline: Any, exporter: str) -> Exportable:
    steps = _steps(pipeline)
    if not steps:
        raise TypeError(f"{exporter}: the Pipeline has no steps to export")
    *scalers, (last_name, last) = steps
    from .modelfile import Model
    final = _of_model(last, exporter, False, in_pipeline=True) if isinstance(last, Model) \
        else _estimator(last)
    if final is None:
        raise TypeError(f"{exporter}: the Pipeline's last step {last_name!r} is a "
                        f"{type(last).__name__}; it must be a fitted nnpy NNClassifier or "
                        f"NNRegressor")
    for name, step in scalers:   # every step's kind first: a refusal names the first misfit
        _check_scaler(name, step, exporter)
    scaling: list[tuple[Operation, np.ndarray, str]] = []
    n_in = final.network.sizes[0]
    for name, step in scalers:
        scaling += _scaler_operations(name, step, exporter, n_in)
    return Exportable(final.network, tuple(scaling) + final.scaling, final.task, final.classes,
                      final.out_activation, final.n_outputs, final.target_scaling,
                      f"Pipeline of {final.source}")


def _check_scaler(name: str, step: Any, exporter: str) -> str:
    """The kind of the scaler `step`; TypeError naming the step if it is no affine scaler."""
    from sklearn import preprocessing
    kind = type(step).__name__
    if kind not in _SCALERS or not isinstance(step, getattr(preprocessing, kind)):
        raise TypeError(f"{exporter}: the Pipeline's step {name!r} is a {kind}, which nnpy "
                        f"cannot export; the steps before the estimator must be affine "
                        f"scalers: {', '.join(_SCALERS)}")
    if kind == "MinMaxScaler" and step.clip:
        raise TypeError(f"{exporter}: the Pipeline's step {name!r} is a MinMaxScaler with "
                        f"clip=True, which is not affine; nnpy exports it with clip=False")
    return kind


def _scaler_operations(name: str, step: Any, exporter: str,
                       n_in: int) -> list[tuple[Operation, np.ndarray, str]]:
    """The operations of the fitted scaler `step`, in the order its transform applies them."""
    kind = _check_scaler(name, step, exporter)
    from sklearn.utils.validation import check_is_fitted
    check_is_fitted(step)
    label = f"{kind} {name!r}"
    operations: list[tuple[Operation, Any, str]] = []
    if kind == "StandardScaler":
        if step.with_mean:
            operations.append(("sub", step.mean_, f"{label}: mean_"))
        if step.with_std:
            operations.append(("div", step.scale_, f"{label}: scale_"))
    elif kind == "RobustScaler":
        if step.with_centering:
            operations.append(("sub", step.center_, f"{label}: center_"))
        if step.with_scaling:
            operations.append(("div", step.scale_, f"{label}: scale_"))
    elif kind == "MinMaxScaler":
        operations += [("mul", step.scale_, f"{label}: scale_"),
                       ("add", step.min_, f"{label}: min_")]
    else:
        operations.append(("div", step.scale_, f"{label}: scale_"))
    out: list[tuple[Operation, np.ndarray, str]] = []
    for operation, vector, what in operations:
        vector = np.asarray(vector, np.float64)
        if vector.shape != (n_in,):
            raise ValueError(f"{exporter}: {what} has shape {vector.shape}; the network takes "
                             f"{n_in} inputs")
        if not np.isfinite(vector).all():
            raise ValueError(f"{exporter}: {what} holds NaN or infinity")
        out.append((operation, vector, what))
    return out
