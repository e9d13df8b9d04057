"""Trained networks for other runtimes: ONNX graphs and self-contained C99 headers.

`to_onnx(model, path)` writes an ONNX model of an nnpy.Network or of a fitted NNClassifier /
NNRegressor; `to_c(net, path, name)` writes one C99 header that computes `net.predict` for one
sample. (FANN's files are in nnpy.io: `to_fann`, `from_fann`.)

ONNX design. One Gemm (Y = X W^T + b, W as nnpy stores it, `transB=1`) per layer, then
Sigmoid / Tanh / Relu / nothing for identity, and Softmax (axis 1) for a softmax output. Opset 13
(ONNX 1.8) and IR version 7: nothing newer is needed, so any onnxruntime from 1.6 on loads the
file. The graph computes in the network's precision: a float32 network takes and gives
tensor(float), a float64 network tensor(double) (onnxruntime's CPU kernels of every operator
used here exist for double); `dtype=np.float32` exports a float64 network as float (weights
rounded), for runtimes without double kernels. Inputs and outputs:

    Network       X [N, n_in] -> output [N, n_out]                (net.predict)
    NNRegressor   X [N, n_in] -> variable [N, n_outputs]          (predict, 2-D)
    NNClassifier  X [N, n_in] -> label [N], probabilities [N, n_classes]
                  (skl2onnx's MLPClassifier outputs with zipmap=False: label is int64 for
                  integer classes_, string for string classes_, double for float classes_,
                  bool for bool classes_; a binary classifier's one logistic output p gives
                  probabilities [1 - p, p]; multi-label: label is the int64 0/1 indicator
                  [N, n_labels] of p > 0.5, probabilities the sigmoid outputs.)

C design. `NAME_predict(const T *x, T *y)` with T = float (float32 network, expf/tanhf) or
double; weights as `static const` arrays, the functions `static inline` (a header included by
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

if TYPE_CHECKING:
    from types import ModuleType

    import onnx

    from .estimators import NNClassifier, NNRegressor
    from .network import Network

PathOrFile = Union[str, "os.PathLike[str]", IO[Any]]

__all__ = ["to_onnx", "to_c", "ONNX_OPSET", "ONNX_IR_VERSION"]

ONNX_OPSET = 13        # default ONNX domain opset of the exported graphs
ONNX_IR_VERSION = 7    # the IR version that goes with opset 13 (ONNX 1.8)

# nnpy activation -> ONNX operator (identity: no node)
_ONNX_OPS = {"sigmoid": "Sigmoid", "tanh": "Tanh", "relu": "Relu", "softmax": "Softmax",
             "identity": None}


def _network_of(model: object) -> tuple[Network, NNClassifier | NNRegressor | None]:
    """(network, estimator or None): the Network itself, or a fitted estimator's network_."""
    from .network import Network
    if isinstance(model, Network):
        return model, None
    if hasattr(model, "fit") and hasattr(model, "get_params"):   # a scikit-learn estimator
        from sklearn.utils.validation import check_is_fitted
        check_is_fitted(model)
        network = getattr(model, "network_", None)
        if isinstance(network, Network):  # the cast: an estimator with a network_ is nnpy's
            return network, cast("NNClassifier | NNRegressor", model)
    raise TypeError(f"expected an nnpy.Network or a fitted nnpy NNClassifier/NNRegressor, got "
                    f"{type(model).__name__}")


def _layer_activations(net: Network) -> list[str]:
    """The activation of each weight layer, the output's last."""
    return [net.activation] * (net.n_layers - 1) + [net.output]


# ---------------------------------------------------------------------------------------------
# ONNX
# ---------------------------------------------------------------------------------------------

def to_onnx(model: Network | NNClassifier | NNRegressor, path: PathOrFile, *,
            dtype: DTypeLike | None = None) -> onnx.ModelProto:
    """Writes `model` (an nnpy.Network, or a fitted NNClassifier / NNRegressor) to `path` (a
    path or a writable binary file) as an ONNX model, and returns the onnx.ModelProto.

    dtype  None: the network's own precision (float for float32, double for float64);
           np.float32 or np.float64 to choose (float32 rounds a float64 network's weights;
           a weight or bias beyond float32's range is a ValueError naming it, as it would
           become inf and the graph's outputs NaN).

    The module docstring lists the graph's inputs and outputs. Needs the `onnx` package
    (pip install "nnpy-net[onnx]"); onnxruntime runs the file."""
    try:
        import onnx
        from onnx import TensorProto, helper, numpy_helper
    except ImportError:
        raise ImportError('nnpy.export.to_onnx needs onnx: pip install "nnpy-net[onnx]"') \
            from None
    net, estimator = _network_of(model)
    from ._validation import as_dtype
    dtype = net.dtype if dtype is None else as_dtype(dtype)
    elem = TensorProto.DOUBLE if dtype == np.float64 else TensorProto.FLOAT
    with np.errstate(over="ignore"):  # a value beyond float32: refused below, by name
        parameters = [(w.astype(dtype), b.astype(dtype))
                      for w, b in zip(net.weights, net.biases)]
    for l, (w, b) in enumerate(parameters):
        _check_representable(w, net.weights[l], l, "weights", dtype)
        _check_representable(b, net.biases[l], l, "biases", dtype)
    nodes, initializers = [], []

    def constant(name: str, value: npt.ArrayLike) -> str:
        initializers.append(numpy_helper.from_array(np.asarray(value), name))
        return name

    # the network: Gemm + activation per layer
    current = "X"
    activations = _layer_activations(net)
    for l, (w, b) in enumerate(parameters):
        z = f"z{l}"
        nodes.append(helper.make_node(
            "Gemm", [current, constant(f"W{l}", w), constant(f"b{l}", b)],
            [z], name=f"layer{l}", transB=1))
        op = _ONNX_OPS[activations[l]]
        if op is None:
            current = z
            continue
        current = f"a{l}"
        extra: dict[str, Any] = {"axis": 1} if op == "Softmax" else {}
        nodes.append(helper.make_node(op, [z], [current], name=f"{op.lower()}{l}", **extra))

    n_in = net.sizes[0]
    inputs = [helper.make_tensor_value_info("X", elem, ["N", n_in])]
    if estimator is None:
        outputs = [_rename(helper, nodes, current, "output", elem, ["N", net.sizes[-1]])]
    elif hasattr(estimator, "classes_"):
        outputs = _classifier_outputs(helper, TensorProto, nodes, constant, current, elem,
                                      estimator, dtype)
    else:
        outputs = [_rename(helper, nodes, current, "variable", elem, ["N", net.sizes[-1]])]

    graph = helper.make_graph(nodes, f"nnpy_{type(model).__name__}", inputs, outputs,
                              initializer=initializers)
    from . import __version__
    onnx_model = helper.make_model(graph, producer_name="nnpy", producer_version=__version__,
                                   opset_imports=[helper.make_opsetid("", ONNX_OPSET)])
    onnx_model.ir_version = ONNX_IR_VERSION
    onnx_model.doc_string = f"{model!r} exported by nnpy.export.to_onnx"
    onnx.checker.check_model(onnx_model)
    if hasattr(path, "write"):
        path.write(onnx_model.SerializeToString())
    else:
        onnx.save_model(onnx_model, os.fspath(path))
    return onnx_model


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
                        scores: str, elem: int, clf: NNClassifier,
                        dtype: np.dtype[Any]) -> list[onnx.ValueInfoProto]:
    """label and probabilities nodes after the network's outputs `scores`, as skl2onnx's."""
    classes = np.asarray(clf.classes_)
    out_activation = clf.out_activation_
    n_outputs = int(clf.n_outputs_)
    multilabel = out_activation == "logistic" and n_outputs > 1
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
_C_KEYWORDS = frozenset(
    "auto break case char const continue default do double else enum extern float for goto if "
    "inline int long register restrict return short signed sizeof static struct switch typedef "
    "union unsigned void volatile while _Bool _Complex _Imaginary".split())


# nnpy activation -> C expression of the weighted sum z (softmax: applied after the layer)
_C_ACTIVATIONS = {"sigmoid": "{name}_sigmoid(z)", "tanh": "tanh{fn}(z)", "relu": "(z > 0 ? z : 0)",
                  "identity": "z", "softmax": "z"}


def _check_c_name(name: object) -> str:
    if not isinstance(name, str):
        raise TypeError(f"name must be a string (a C identifier), got {type(name).__name__}")
    if not _C_IDENTIFIER.match(name) or not name.isascii():
        raise ValueError(f"name must be a C identifier (letters, digits, underscores, not "
                         f"starting with a digit), got {name!r}")
    if name in _C_KEYWORDS:
        raise ValueError(f"name {name!r} is a C keyword")
    if name.startswith("__") or (name.startswith("_") and name[1:2].isupper()):
        raise ValueError(f"name {name!r} is reserved to the C implementation (leading __ or _ "
                         f"and a capital)")
    return name


def to_c(net: Network, path: PathOrFile, name: str = "nnpy_net") -> None:
    """Writes `net` (an nnpy.Network) to `path` (a path or a writable text file) as one C99
    header defining

        NAME_N_INPUTS, NAME_N_OUTPUTS                (macros, NAME upper-cased)
        void NAME_predict(const T *x, T *y)          (static inline; x: N_INPUTS, y: N_OUTPUTS)

    that computes `net.predict(x)` for one sample, T being float for a float32 network and
    double for float64; x and y must not overlap. `name` must be a C identifier; it prefixes
    every symbol."""
    from .network import Network
    if not isinstance(net, Network):
        raise TypeError(f"to_c needs an nnpy.Network, got {type(net).__name__}")
    name = _check_c_name(name)
    text = _c_header(net, name)
    if hasattr(path, "write"):
        path.write(text)
        return
    with open(os.fspath(path), "w", encoding="ascii", newline="\n") as f:
        f.write(text)


def _c_header(net: Network, name: str) -> str:
    single = net.dtype == np.float32
    T, fn = ("float", "f") if single else ("double", "")   # type, suffix of <math.h> functions

    def number(value: float) -> str:
        """A C literal that reads back as exactly `value` in T."""
        if single:
            return np.format_float_scientific(np.float32(value), unique=True, trim="-") + "f"
        return repr(float(value))

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
           f"#define {upper}_N_OUTPUTS {sizes[-1]}",
           f""]
    for l, (w, b) in enumerate(zip(net.weights, net.biases)):
        n_out, n_in = w.shape
        out.append(f"/* layer {l}: {n_out} units x {n_in} inputs, then {activations[l]} */")
        out.append(f"static const {T} {name}_w{l}[{n_out}][{n_in}] = {{")
        out += ["    {" + ", ".join(number(v) for v in row) + "}," for row in w.tolist()]
        out.append("};")
        out.append(f"static const {T} {name}_b{l}[{n_out}] = {{"
                   + ", ".join(number(v) for v in b.tolist()) + "};")
        out.append("")
    if "sigmoid" in activations:
        out += [f"/* 1/(1+exp(-z)), evaluating exp of a non-positive number only (no overflow) */",
                f"static inline {T} {name}_sigmoid({T} z)",
                f"{{",
                f"    {T} e;",
                f"    if (z >= 0) {{",
                f"        e = exp{fn}(-z);",
                f"        return 1 / (1 + e);",
                f"    }}",
                f"    e = exp{fn}(z);",
                f"    return e / (1 + e);",
                f"}}",
                f""]
    apply = {act: code.format(name=name, fn=fn) for act, code in _C_ACTIVATIONS.items()}

    hidden = sizes[1:-1]
    out += [f"/* y[0..{sizes[-1] - 1}] = the network's outputs for the inputs x[0..{sizes[0] - 1}] */",
            f"static inline void {name}_predict(const {T} *x, {T} *y)",
            "{"]
    if hidden:
        width = max(hidden)
        buffers = "h0" if len(hidden) == 1 else "h0, h1"
        out.append(f"    {T} {', '.join(f'h{k}[{width}]' for k in range(min(2, len(hidden))))};"
                   f"   /* hidden layers' outputs, alternating in {buffers} */")
    out += ["    int i, j;", f"    {T} z;"]
    if net.output == "softmax":
        out.append(f"    {T} top, total;")
    source = "x"
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
    out += ["}", "", f"#endif /* {upper}_H_INCLUDED */", ""]
    return "\n".join(out)
