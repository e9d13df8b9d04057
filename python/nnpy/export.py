"""Trained models for other runtimes: ONNX graphs and self-contained C99 headers.

`to_onnx(model, path)` writes an ONNX model and `to_c(model, path, name)` one C99 header that
computes the model for one sample (FANN's files: nnpy.fann's `to_fann`, also in nnpy.io). All
three exporters take the same models (nnpy._exportable reads each into a network, the affine
transform of its raw inputs and the meaning of its outputs):

    nnpy.Network                          net.predict
    fitted NNClassifier / NNRegressor     predict_proba (and labels) / predict
    nnpy Model (nnpy.load, nnpy train)    the same, from raw columns: its standardisation
                                          (x - mean) / scale first, a regression's
                                          target_scale and target_mean after
    fitted scikit-learn Pipeline          its affine scalers (StandardScaler, MinMaxScaler with
                                          clip=False, MaxAbsScaler, RobustScaler), then an nnpy
                                          estimator; any other step is a TypeError naming it

so the exported file takes raw inputs, as the model's own predict does. The scaling is kept as
the operations the scaler performs, in its order (x - mean_, then / scale_; x * scale_, then
+ min_): in ONNX as Sub/Div/Mul/Add nodes before the first Gemm, in C as code before the first
layer, both in the network's precision, so a float64 export scales exactly as scikit-learn
and Model.standardize do. (FANN has no place for it: to_fann folds it into the first layer's
weights, exact in real arithmetic, rounded differently.)

ONNX design. One Gemm (Y = X W^T + b, W as nnpy stores it, `transB=1`) per layer, then
its activation as nnpy._family's table emits it (Sigmoid / Tanh / Relu / nothing for identity,
Softmax (axis 1) for a softmax output, Exp for an exp one (poisson's), a few elementwise operators where onnxruntime has no
float64 kernel of the activation's own operator). Opset 13
(ONNX 1.8) and IR version 7: nothing newer is needed, so any onnxruntime from 1.6 on loads the
file. The graph computes in the network's precision: a float32 network takes and gives
tensor(float), a float64 network tensor(double) (onnxruntime's CPU kernels of every operator
used here exist for double); `dtype=np.float32` exports a float64 network as float (weights
rounded), for runtimes without double kernels. Inputs and outputs:

    Network       X [N, n_in] -> output [N, n_out]                (net.predict)
    regressor     X [N, n_in] -> variable [N, n_outputs]          (predict, 2-D)
    classifier    X [N, n_in] -> label [N], probabilities [N, n_classes]
                  (skl2onnx's MLPClassifier outputs with zipmap=False: label is int64 for
                  integer classes_, string for string classes_, double for float classes_,
                  bool for bool classes_; a binary classifier's one logistic output p gives
                  probabilities [1 - p, p]; multi-label: label is the int64 0/1 indicator
                  [N, n_labels] of p > 0.5, probabilities the sigmoid outputs.)

(A regressor or classifier: an estimator, a Model, or a Pipeline ending in one.)

A Model that one-hot encodes text columns or fills missing values (`nnpy train` on a file with
text features, `--missing mean|median`) takes its raw columns instead of X: one input [N, 1]
per feature column, named as the column, in the order of `feature_names` (a text column
tensor(string), a numeric one the graph's float/double). A NaN in a numeric column becomes the
column's fill (Where(IsNaN(x), fill, x)), a text column is one-hot encoded by ai.onnx.ml's
OneHotEncoder over its categories in order (opset ai.onnx.ml 1 is then imported), an empty
string becoming the fill category; the encodings are concatenated in the order of the
Model's input_names, then scaled as above. As Model.predict: an unseen category (and "" in a
column without a fill) fails the run with to_onnx's default unknown="error", and is all zeros
with unknown="ignore". Unlike Model.predict, which names the column and row, the graph
cannot: onnxruntime's error names the OneHotEncoder node; with unknown="ignore" a "" without
a fill is all zeros too, where predict refuses it either way; a text value is matched exactly
(predict strips surrounding spaces and reads None and NaN as missing: give "" there); and a
missing or infinite number in a column without a fill goes through as NaN or inf, where
predict refuses it. C and FANN files take numbers only: to_c and to_fann refuse such a Model.

C design. `NAME_predict(const T *x, T *y)` with T = float (float32 network, expf/tanhf) or
double; y is a Network's or a regressor's outputs, a classifier's probabilities (a column per
class in the order of its classes, listed in a comment; [1 - p, p] for a binary one; each
label's for multi-label); weights as `static const` arrays, the functions `static inline` (a header included by
several files links), two stack buffers as wide as the widest hidden layer, no allocation, no
library but <math.h> (link with -lm where the platform needs it). The sigmoid evaluates exp of a
non-positive number only (no overflow); softmax subtracts the maximum first.
"""
from __future__ import annotations

import os
import re
from typing import IO, TYPE_CHECKING, Any, Callable, Union, cast

import numpy as np
import numpy.typing as npt
from numpy.typing import DTypeLike

from . import _family
from ._exportable import exportable

if TYPE_CHECKING:
    from types import ModuleType

    import onnx

    from ._exportable import Column, Exportable
    from .estimators import NNClassifier, NNRegressor
    from .modelfile import Model
    from .network import Network

PathOrFile = Union[str, "os.PathLike[str]", IO[Any]]
# What every exporter takes (nnpy._exportable says how each is read); the Pipeline is
# scikit-learn's, typed Any here so that nnpy imports no scikit-learn
Exportable_ = Union["Network", "NNClassifier", "NNRegressor", "Model", Any]

__all__ = ["to_onnx", "to_c", "ONNX_OPSET", "ONNX_ML_OPSET", "ONNX_IR_VERSION"]

ONNX_OPSET = 13        # default ONNX domain opset of the exported graphs
ONNX_IR_VERSION = 7    # the IR version that goes with opset 13 (ONNX 1.8)
ONNX_ML_OPSET = 1      # ai.onnx.ml opset of OneHotEncoder (a Model's text columns)

# an input scaling operation -> its ONNX operator
_ONNX_SCALING = {"sub": "Sub", "div": "Div", "mul": "Mul", "add": "Add"}



class _OnnxGraph:
    """What an activation's ONNX emitter (nnpy._family's onnx) builds with: op appends a node
    and names its output, const adds a scalar of the graph's dtype; names carry the layer."""

    def __init__(self, helper: ModuleType, nodes: list, constant: Callable[[str, Any], str],
                 dtype: Any, layer: int) -> None:
        self._helper, self._nodes, self._constant = helper, nodes, constant
        self._dtype, self._layer, self._count = dtype, layer, 0

    def op(self, op_type: str, *inputs: str, **attributes: Any) -> str:
        """A node op_type(inputs) with these attributes; returns its output's name."""
        self._count += 1
        name = f"{op_type.lower()}{self._layer}" + (f"_{self._count}" if self._count > 1 else "")
        output = f"a{self._layer}" + (f"_{self._count}" if self._count > 1 else "")
        self._nodes.append(self._helper.make_node(op_type, list(inputs), [output], name=name,
                                                  **attributes))
        return output

    def const(self, value: float) -> str:
        """A scalar constant of the graph's dtype; returns its name."""
        self._count += 1
        return self._constant(f"c{self._layer}_{self._count}", np.asarray(value, self._dtype))


def _layer_activations(net: Network) -> list[str]:
    """The activation of each weight layer, the output's last."""
    return [net.activation] * (net.n_layers - 1) + [net.output]


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------

def to_onnx(model: Exportable_, path: PathOrFile, *,
            dtype: DTypeLike | None = None, unknown: str = "error") -> onnx.ModelProto:
    """Writes `model` (an nnpy.Network, a fitted NNClassifier / NNRegressor, an nnpy Model, or
    a fitted Pipeline of affine scalers and such an estimator) to `path` (a path or a writable
    binary file) as an ONNX model, and returns the onnx.ModelProto. A Model's standardisation
    and a Pipeline's scalers are nodes before the first layer, so the graph takes raw inputs;
    a Model that one-hot encodes text columns or fills missing values takes one input per raw
    column, encoded in the graph (see the module docstring).

    dtype  None: the network's own precision (float for float32, double for float64);
           np.float32 or np.float64 to choose (float32 rounds a float64 network's weights;
           a weight or bias beyond float32's range is a ValueError naming it, as it would
           become inf and the graph's outputs NaN).
    unknown  for a Model with text columns: "error" (as Model.predict's default: a category
           the model did not see in training makes the run fail) or "ignore" (encoded as all
           zeros, as Model.predict(X, unknown="ignore")).

    The module docstring lists the graph's inputs and outputs. Needs the `onnx` package
    (pip install "nnpy-net[onnx]"); onnxruntime runs the file.

    Parameters
    ----------
    model : nnpy.Network, NNClassifier, NNRegressor, Model or Pipeline
        A network, a fitted estimator, a Model, or a Pipeline of scalers and an estimator.
    path : str, os.PathLike or binary file
        Where to write the model.
    dtype : np.float32, np.float64 or None
        None: the network's own precision (float for float32, double for float64);
        np.float32 or np.float64 to choose (float32 rounds a float64 network's weights).
    unknown : "error" or "ignore"
        What an unseen category of a Model's text column does (see above).

    Returns
    -------
    onnx.ModelProto
        The model written.

    Raises
    ------
    ImportError
        Without the onnx package, saying how to install it.
    """
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError('nnpy.export.to_onnx needs onnx: pip install "nnpy-net[onnx]"') \
            from None
    if unknown not in ("error", "ignore"):
        raise ValueError(f"unknown must be 'error' or 'ignore', got {unknown!r}")
    spec = exportable(model, "to_onnx", encodes=True)
    net = spec.network
    from ._validation import as_dtype
    dtype = net.dtype if dtype is None else as_dtype(dtype)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    with np.errstate(over="ignore"):  # a value beyond float32: refused below, by name
        parameters = [(w.astype(dtype), b.astype(dtype))
                      for w, b in zip(net.weights, net.biases)]
    for l, (w, b) in enumerate(parameters):
        _check_representable(w, net.weights[l], l, "weights", dtype)
        _check_representable(b, net.biases[l], l, "biases", dtype)
    nodes: list[onnx.NodeProto] = []
    initializers: list[onnx.TensorProto] = []

    def constant(name: str, value: npt.ArrayLike) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    n_in = net.sizes[0]
    if spec.columns is None:   # the network's inputs, as one tensor
        inputs = [helper.make_tensor_value_info("X", elem, ["N", n_in])]
        current = "X"
    else:                      # a Model's raw columns, encoded as the network's inputs
        inputs = _onnx_columns(helper, TensorProto, nodes, constant, spec.columns, elem, dtype,
                               unknown)
        current = "encoded"

    # the scaling of the raw inputs, each operation as the scaler performs it
    for k, (operation, vector, what) in enumerate(spec.scaling):
        nodes.append(helper.make_node(
            _ONNX_SCALING[operation], [current, constant(f"scaling{k}", vector.astype(dtype))],
            [f"scaled{k}"], name=f"scaling{k}", doc_string=what))
        current = f"scaled{k}"

    # the network: Gemm + activation per layer
    activations = _layer_activations(net)
    for l, (w, b) in enumerate(parameters):
        z = f"z{l}"
        nodes.append(helper.make_node(
            "Gemm", [current, constant(f"W{l}", w), constant(f"b{l}", b)],
            [z], name=f"layer{l}", transB=1))
        graph = _OnnxGraph(helper, nodes, constant, dtype, l)
        current = _family.ACTIVATIONS[activations[l]].onnx(graph, z)

    if spec.task == "network":
        outputs = [_rename(helper, nodes, current, "output", elem, ["N", net.sizes[-1]])]
    elif spec.task == "classify":
        outputs = _classifier_outputs(helper, TensorProto, nodes, constant, current, elem,
                                      spec, dtype)
    else:
        if spec.target_scaling is not None:   # a Model's regression: back to the target's units
            mean, scale = spec.target_scaling
            nodes.append(helper.make_node("Mul", [current, constant("target_scale", np.array(
                scale, dtype))], ["unscaled"], name="target_scale"))
            nodes.append(helper.make_node("Add", ["unscaled", constant("target_mean", np.array(
                mean, dtype))], ["shifted"], name="target_mean"))
            current = "shifted"
        outputs = [_rename(helper, nodes, current, "variable", elem, ["N", net.sizes[-1]])]

    if spec.columns is not None:
        _check_column_names(spec.columns, nodes, initializers, outputs)
    graph = helper.make_graph(nodes, f"nnpy_{type(model).__name__}", inputs, outputs,
                              initializer=initializers)
    from . import __version__
    opsets = [helper.make_opsetid("", ONNX_OPSET)]
    if any(node.domain == "ai.onnx.ml" for node in nodes):
        opsets.append(helper.make_opsetid("ai.onnx.ml", ONNX_ML_OPSET))
    onnx_model = helper.make_model(graph, producer_name="nnpy", producer_version=__version__,
                                   opset_imports=opsets)
    onnx_model.ir_version = ONNX_IR_VERSION
    onnx_model.doc_string = f"{model!r} exported by nnpy.export.to_onnx"
    onnx.checker.check_model(onnx_model)
    if hasattr(path, "write"):
        path.write(onnx_model.SerializeToString())
    else:
        onnx.save_model(onnx_model, os.fspath(path))
    return onnx_model


def _onnx_columns(helper: ModuleType, TensorProto: type[onnx.TensorProto],
                  nodes: list[onnx.NodeProto], constant: Callable[[str, npt.ArrayLike], str],
                  columns: tuple[Column, ...], elem: int, dtype: np.dtype[Any],
                  unknown: str) -> list[onnx.ValueInfoProto]:
    """The graph inputs of a Model's raw columns (one [N, 1] input each, named as the column),
    and the nodes encoding them into the tensor "encoded" [N, n_in], the network's inputs in
    the order of the Model's input_names (each column's encoding, in the order of
    feature_names), as Model.encode computes them:

    numeric  a float/double input; with a fill, Where(IsNaN(x), fill, x)
    text     a string input, OneHotEncoder (ai.onnx.ml) over the categories in order, zeros=0
             for unknown="error" (an unseen string fails the run) or 1 for "ignore" (all
             zeros); with a fill, "" is one more category, whose indicator a MatMul adds to
             the fill category's (exact: at most one 1 per row)
    """
    inputs, parts = [], []
    for j, column in enumerate(columns):
        name, fill = column.name, column.fill
        part = f"column{j}"
        if column.categories is None:
            inputs.append(helper.make_tensor_value_info(name, elem, ["N", 1]))
            if fill is None:
                part = name
            else:
                nodes.append(helper.make_node("IsNaN", [name], [f"{part}_missing"],
                                              name=f"{part}_missing"))
                nodes.append(helper.make_node(
                    "Where", [f"{part}_missing", constant(f"{part}_fill", np.array(
                        [[float(fill)]], dtype)), name], [part], name=f"{part}_fill",
                    doc_string=f"Model: fill[{name!r}]"))
            parts.append(part)
            continue
        inputs.append(helper.make_tensor_value_info(name, TensorProto.STRING, ["N", 1]))
        categories = list(column.categories)
        strings = categories + ([""] if fill is not None else [])   # "": a missing value
        nodes.append(helper.make_node(
            "OneHotEncoder", [name], [f"{part}_onehot"], name=f"{part}_onehot",
            domain="ai.onnx.ml", cats_strings=strings, zeros=int(unknown == "ignore"),
            doc_string=f"Model: categories[{name!r}]"))
        nodes.append(helper.make_node("Flatten", [f"{part}_onehot"], [f"{part}_flat"],
                                      name=f"{part}_flat", axis=1))   # [N, 1, k] -> [N, k]
        encoded = part if fill is None else f"{part}_indicators"
        nodes.append(helper.make_node("Cast", [f"{part}_flat"], [encoded], name=f"{part}_cast",
                                      to=elem))
        if fill is not None:
            k = len(categories)
            fold = np.vstack([np.eye(k), np.eye(k)[categories.index(str(fill))]]).astype(dtype)
            nodes.append(helper.make_node("MatMul", [encoded, constant(f"{part}_fold", fold)],
                                          [part], name=f"{part}_fill",
                                          doc_string=f"Model: fill[{name!r}]"))
        parts.append(part)
    nodes.append(helper.make_node("Concat", parts, ["encoded"], name="encoded", axis=1))
    return inputs


def _check_column_names(columns: tuple[Column, ...], nodes: list[onnx.NodeProto],
                        initializers: list[onnx.TensorProto],
                        outputs: list[onnx.ValueInfoProto]) -> None:
    """ValueError if a column's name (a graph input's) is also a tensor the graph makes."""
    made = {name for node in nodes for name in node.output}
    made |= {tensor.name for tensor in initializers} | {output.name for output in outputs}
    clash = [column.name for column in columns if column.name in made]
    if clash:
        raise ValueError(f"to_onnx: the feature column {clash[0]!r} has the name of a tensor "
                         f"the exported graph computes (its inputs are named as the columns); "
                         f"rename the column (train on the file with it renamed)")


def _check_representable(rounded: np.ndarray, original: np.ndarray, layer: int, name: str,
                         dtype: np.dtype[Any]) -> None:
    """ValueError if layer `layer`'s `name` ("weights" or "biases") rounded to the export's
    dtype became inf (beyond its range)."""
    bad = np.flatnonzero(~np.isfinite(rounded.ravel()))
    if len(bad):
        where = tuple(int(i) for i in np.unravel_index(bad[0], original.shape))
        value = float(np.asarray(original).ravel()[bad[0]])
        raise ValueError(f"layer {layer}: {name}[{layer}] holds {value:.6g} at index {where}, "
                         f"beyond {dtype.name}'s range "
                         f"(+-{float(np.finfo(dtype).max):.6g}); exported as {dtype.name} it "
                         f"would be inf and the outputs NaN. Export in the network's own "
                         f"precision (dtype=None), or scale the weights down")


# helper is the onnx.helper module, TensorProto onnx's class (onnx is imported lazily); elem is
# a TensorProto element type; shapes are lists of dimensions, "N" the batch.
def _rename(helper: ModuleType, nodes: list[onnx.NodeProto], current: str, name: str, elem: int,
            shape: list[int | str]) -> onnx.ValueInfoProto:
    """Routes tensor `current` to the graph output `name` (an Identity node)."""
    nodes.append(helper.make_node("Identity", [current], [name], name=f"{name}_out"))
    return helper.make_tensor_value_info(name, elem, shape)


def _classifier_outputs(helper: ModuleType, TensorProto: type[onnx.TensorProto],
                        nodes: list[onnx.NodeProto], constant: Callable[[str, npt.ArrayLike], str],
                        scores: str, elem: int, spec: Exportable,
                        dtype: np.dtype[Any]) -> list[onnx.ValueInfoProto]:
    """label and probabilities nodes after the network's outputs `scores`, as skl2onnx's."""
    classes = np.asarray(spec.classes)
    out_activation = spec.out_activation
    n_outputs = spec.n_outputs
    multilabel = spec.multilabel
    if multilabel:
        nodes.append(helper.make_node("Identity", [scores], ["probabilities"],
                                      name="probabilities_out"))
        threshold = constant("half", np.array(0.5, dtype))
        nodes.append(helper.make_node("Greater", [scores, threshold], ["over_half"],
                                      name="threshold"))
        nodes.append(helper.make_node("Cast", ["over_half"], ["label"], name="label_out",
                                      to=TensorProto.INT64))
        return [helper.make_tensor_value_info("label", TensorProto.INT64, ["N", n_outputs]),
                helper.make_tensor_value_info("probabilities", elem, ["N", n_outputs])]

    if out_activation == "logistic":          # binary: one output p, probabilities [1-p, p]
        if len(classes) != 2 or n_outputs != 1:
            raise ValueError(f"a logistic-output classifier with one output needs 2 classes, "
                             f"got {len(classes)}")
        one = constant("one", np.array(1.0, dtype))
        nodes.append(helper.make_node("Sub", [one, scores], ["p_negative"], name="negative"))
        nodes.append(helper.make_node("Concat", ["p_negative", scores], ["probabilities"],
                                      name="probabilities_out", axis=1))
    elif out_activation == "softmax":
        nodes.append(helper.make_node("Identity", [scores], ["probabilities"],
                                      name="probabilities_out"))
    else:
        raise ValueError(f"cannot export a classifier with out_activation_ {out_activation!r}")
    label_values, label_elem = _class_tensor(classes, TensorProto)
    nodes.append(helper.make_node("ArgMax", ["probabilities"], ["best"], name="argmax",
                                  axis=1, keepdims=0))
    nodes.append(helper.make_node("Gather", [constant("classes", label_values), "best"],
                                  ["label"], name="label_out", axis=0))
    return [helper.make_tensor_value_info("label", label_elem, ["N"]),
            helper.make_tensor_value_info("probabilities", elem, ["N", len(classes)])]


def _class_tensor(classes: np.ndarray,
                  TensorProto: type[onnx.TensorProto]) -> tuple[np.ndarray, int]:
    """classes_ as an ONNX-storable array and its element type."""
    kind = classes.dtype.kind
    if kind in "iu":
        if kind == "u" and classes.size and classes.max() > np.iinfo(np.int64).max:
            raise ValueError("class labels beyond int64 cannot be exported")
        return classes.astype(np.int64), TensorProto.INT64
    if kind == "b":
        return classes.astype(bool), TensorProto.BOOL
    if kind == "f":
        return classes.astype(np.float64), TensorProto.DOUBLE
    if kind in "USO" and all(isinstance(c, (str, bytes)) for c in classes.tolist()):
        values = [c if isinstance(c, bytes) else c.encode("utf-8") for c in classes.tolist()]
        return np.array(values, dtype=object), TensorProto.STRING
    raise TypeError(f"class labels of dtype {classes.dtype} cannot be exported; ONNX labels are "
                    f"integers, floats, booleans or strings")


# ---------------------------------------------------------------------------------------------
# C
# ---------------------------------------------------------------------------------------------

_C_IDENTIFIER = re.compile(r"[A-Za-z_][A-Za-z0-9_]*\Z")
_C_KEYWORDS = frozenset(   # C99's, and the words later standards made keywords
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary alignas alignof bool "
    "constexpr false nullptr static_assert thread_local true typeof typeof_unqual".split())
# The longest suffix to_c appends to the name (NAME_H_INCLUDED), and the significant length C99
# guarantees of an internal identifier or a macro name: longer names may be cut to the same one
_C_LONGEST_SUFFIX = len("_H_INCLUDED")
_C_SIGNIFICANT = 63


# an input scaling operation -> its C operator
_C_SCALING = {"sub": "-", "div": "/", "mul": "*", "add": "+"}



def _check_c_name(name: object) -> str:
    """`name` if every identifier to_c makes of it (name_predict, name_w0, ..., NAME_N_INPUTS,
    NAME_H_INCLUDED) is one C leaves to the program; else a ValueError naming the rule."""
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (a C identifier), got {type(name).__name__}")
    if not _C_IDENTIFIER.match(name) or not name.isascii():
        raise ValueError(f"name must be a C identifier (letters, digits, underscores, not "
                         f"starting with a digit), got {name!r}")
    if name in _C_KEYWORDS:
        raise ValueError(f"name {name!r} is a C keyword")
    if name.startswith("_"):
        raise ValueError(f"name {name!r} starts with an underscore: C reserves such identifiers "
                         f"at file scope, and those starting with _ and a capital (as the macros "
                         f"{name.upper()}_N_INPUTS, ... would) everywhere")
    if "__" in name or name.endswith("_"):
        raise ValueError(f"name {name!r} would make identifiers with a double underscore "
                         f"({name}_predict, ...), which C++ and C compilers reserve; use single "
                         f"underscores, none at the end")
    if len(name) + _C_LONGEST_SUFFIX > _C_SIGNIFICANT:
        raise ValueError(f"name {name!r} is {len(name)} characters; at most "
                         f"{_C_SIGNIFICANT - _C_LONGEST_SUFFIX} keep every identifier it makes "
                         f"within the {_C_SIGNIFICANT} characters C99 guarantees significant")
    return name


def to_c(model: Exportable_, path: PathOrFile, name: str = "nnpy_net") -> None:
    """Writes a model as one C99 header that computes its prediction for one sample.

    The header defines::

        NAME_N_INPUTS, NAME_N_OUTPUTS                (macros, NAME upper-cased)
        void NAME_predict(const T *x, T *y)          (static inline; x: N_INPUTS, y: N_OUTPUTS)

    computing, for one sample of raw inputs x: a Network's ``predict(x)``; a classifier's
    ``predict_proba(x)`` (a column per class, in the order of its classes; multi-label: each
    label's probability); a regressor's ``predict(x)``. A Model's standardisation and a
    Pipeline's scalers are code before the first layer (the same operations, in T), a Model's
    regression target scaling code after the last. T is float for a float32 network and
    double for float64; x and y must not overlap.

    Parameters
    ----------
    model : Network, NNClassifier, NNRegressor, Model or Pipeline
        An nnpy.Network, a fitted estimator, an nnpy Model (``nnpy.load``), or a fitted
        Pipeline of affine scalers and such an estimator.
    path : str, os.PathLike or text file
        Where to write the header.
    name : str
        Prefixes every symbol, so it must be a C identifier that makes none C reserves: no
        leading underscore, no double or trailing underscore, not a keyword, at most 52
        characters. The name itself is never a symbol, so names of library functions (exp,
        tanh) are fine.

    Raises
    ------
    TypeError
        If `model` is none of those (naming the Pipeline step that is not), or `name` not a
        string.
    ValueError
        If `name` breaks one of those rules (the message names the rule).
    """
    spec = exportable(model, "to_c")
    name = _check_c_name(name)
    text = _c_header(spec, name)
    if hasattr(path, "write"):
        path.write(text)
        return
    with open(os.fspath(path), "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def _c_header(spec: Exportable, name: str) -> str:
    net = spec.network
    single = net.dtype == np.float32
    T, fn = ("float", "f") if single else ("double", "")   # type, suffix of <math.h> functions

    def number(value: float) -> str:
        """A C literal that reads back as exactly `value` in T."""
        if single:
            return np.format_float_scientific(np.float32(value), unique=True, trim="-") + "f"
        return repr(float(value))

    binary = spec.task == "classify" and spec.out_activation == "logistic" and \
        spec.n_outputs == 1   # one unit p: the function gives [1 - p, p]
    n_outputs = 2 if binary else net.sizes[-1]
    upper = name.upper()
    sizes = net.sizes
    activations = _layer_activations(net)
    from . import __version__
    out = [f"/* {name}.h: an nnpy network as C99 code, generated by nnpy {__version__} "
           f"(nnpy.export.to_c).",
           f" * sizes {list(sizes)}, {activations[0] if net.n_layers > 1 else 'no'} hidden "
           f"layers, {net.output} output, {T}.",
           f" * No allocation, no dependency but <math.h>.",
           f" *",
           f" *     {T} y[{upper}_N_OUTPUTS];",
           f" *     {name}_predict(x, y);      x holds {upper}_N_INPUTS values; x and y must not overlap",
           f" */",
           f"#ifndef {upper}_H_INCLUDED",
           f"#define {upper}_H_INCLUDED",
           f"",
           f"#include <math.h>",
           f"",
           f"#define {upper}_N_INPUTS {sizes[0]}",
           f"#define {upper}_N_OUTPUTS {n_outputs}",
           f""]
    if spec.task == "classify":
        # the labels as Python writes them, in ASCII, none closing the comment
        labels = ", ".join(ascii(c) for c in np.asarray(spec.classes).tolist())
        meaning = "each label's probability" if spec.multilabel else \
            "the probability of each class, in the order of the classes"
        out.append(f"/* {spec.source}: y holds {meaning}: {labels.replace('*/', '* /')} */")
        out.append("")
    for k, (operation, vector, what) in enumerate(spec.scaling):
        out.append(f"/* scaling {k}: x {_C_SCALING[operation]} this ({what}) */")
        out.append(f"static const {T} {name}_in{k}[{len(vector)}] = {{"
                   + ", ".join(number(v) for v in vector.tolist()) + "};")
    if spec.scaling:
        out.append("")
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        n_out, n_in = w.shape
        out.append(f"/* layer {l}: {n_out} units x {n_in} inputs, then {activations[l]} */")
        out.append(f"static const {T} {name}_w{l}[{n_out}][{n_in}] = {{")
        out += ["    {" + ", ".join(number(v) for v in row) + "}," for row in w.tolist()]
        out.append("};")
        out.append(f"static const {T} {name}_b{l}[{n_out}] = {{"
                   + ", ".join(number(v) for v in b.tolist()) + "};")
        out.append("")
    # each activation's C expression of z (softmax: applied after the layer) and the helper
    # function it calls, if any (nnpy._family's c and c_helper)
    rows = [_family.ACTIVATIONS[act] for act in dict.fromkeys(activations)]
    for row in rows:
        if row.c_helper is not None:
            out += row.c_helper.format(T=T, fn=fn, name=name).split("\n")
    apply = {row.name: row.c.format(name=name, fn=fn) for row in rows}

    hidden = sizes[1:-1]
    out += [f"/* y[0..{n_outputs - 1}] = the outputs for the inputs x[0..{sizes[0] - 1}] */",
            f"static inline void {name}_predict(const {T} *x, {T} *y)",
            "{"]
    if spec.scaling:
        out.append(f"    {T} u[{sizes[0]}];   /* the scaled inputs */")
    if hidden:
        width = max(hidden)
        buffers = "h0" if len(hidden) == 1 else "h0, h1"
        out.append(f"    {T} {', '.join(f'h{k}[{width}]' for k in range(min(2, len(hidden))))};"
                   f"   /* hidden layers' outputs, alternating in {buffers} */")
    out += ["    int i, j;", f"    {T} z;"]
    if net.output == "softmax":
        out.append(f"    {T} top, total;")
    source = "x"
    if spec.scaling:
        out += [f"    /* the inputs' scaling, as the scalers compute it */",
                f"    for (j = 0; j < {sizes[0]}; ++j) {{"]
        for k, (operation, _, _) in enumerate(spec.scaling):
            operand = "x[j]" if k == 0 else "u[j]"
            out.append(f"        u[j] = {operand} {_C_SCALING[operation]} {name}_in{k}[j];")
        out.append("    }")
        source = "u"
    for l in range(net.n_layers):
        n_out, n_in = sizes[l + 1], sizes[l]
        target = "y" if l == net.n_layers - 1 else f"h{l % 2}"
        out += [f"    /* layer {l}: {activations[l]} */",
                f"    for (i = 0; i < {n_out}; ++i) {{",
                f"        z = {name}_b{l}[i];",
                f"        for (j = 0; j < {n_in}; ++j)",
                f"            z += {name}_w{l}[i][j] * {source}[j];",
                f"        {target}[i] = {apply[activations[l]]};",
                f"    }}"]
        source = target
    if net.output == "softmax":
        n = sizes[-1]
        out += [f"    /* softmax: exp(y - max y) / sum, so that no exp overflows */",
                f"    top = y[0];",
                f"    for (i = 1; i < {n}; ++i)",
                f"        if (y[i] > top)",
                f"            top = y[i];",
                f"    total = 0;",
                f"    for (i = 0; i < {n}; ++i) {{",
                f"        y[i] = exp{fn}(y[i] - top);",
                f"        total += y[i];",
                f"    }}",
                f"    for (i = 0; i < {n}; ++i)",
                f"        y[i] /= total;"]
    if binary:
        out += [f"    /* one logistic unit p: the probabilities of the two classes are 1 - p, p */",
                f"    y[1] = y[0];",
                f"    y[0] = 1 - y[1];"]
    if spec.target_scaling is not None:
        mean, scale = spec.target_scaling
        out += [f"    /* the target's units: y * target_scale + target_mean */",
                f"    for (i = 0; i < {sizes[-1]}; ++i)",
                f"        y[i] = y[i] * {number(scale)} + {number(mean)};"]
    out += ["}", "", f"#endif /* {upper}_H_INCLUDED */", ""]
    return "\n".join(out)
