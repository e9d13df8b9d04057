"""FANN's floating-point network files (FANN_FLO_2.1), as libfann 2.2 writes and reads them.

`to_fann(net, path)` writes what libfann's `fann_save` writes for the same network (built with
`fann_create_standard`, the activation functions and steepnesses set with
`fann_set_activation_function_hidden/_output` and `fann_set_activation_steepness_hidden/_output`,
and the weights set): the same text, byte for byte. `from_fann(path)` reads such a file (from
`fann_save`, any of FANN's bindings, or `to_fann`) into a Network. Both are re-exported by
nnpy.io.

The file is text: a version line, `key=value` lines (the network's shape, and training settings
that do not change what the network computes: to_fann writes FANN's defaults, from_fann checks
they are there and ignores them), then every neuron as `(num_inputs, activation_function,
activation_steepness)` and every connection as `(connected_to_neuron, weight)`. Each layer ends
with a bias neuron (always 1; the output layer's is unused); a neuron's connections run from
each neuron of the layer before, in order, its bias last. FANN computes a neuron as
f(steepness * sum), so nnpy's activations map to:

    sigmoid   FANN_SIGMOID (3) at steepness 0.5             1/(1 + exp(-2 * 0.5 * sum))
    tanh      FANN_SIGMOID_SYMMETRIC (5) at steepness 1.0   2/(1 + exp(-2 * sum)) - 1
    identity  FANN_LINEAR (0) at steepness 1.0              sum

Everything else is refused with a ValueError saying what: from nnpy, ReLU hidden layers (FANN
2.2's only ReLU-like functions, FANN_LINEAR_PIECE*, are clipped at 1) and softmax outputs; from
FANN, shortcut or sparse connections, any other activation function or steepness, layers whose
neurons differ in activation, hidden layers that differ from each other, a tanh output layer,
and files carrying input/output scaling parameters. Note that FANN's `fann_run` clips
steepness * sum to +-150 / steepness, so a linear neuron's value in FANN never leaves
[-150, 150] (nnpy's identity units are not clipped); sigmoid and tanh are unaffected.

Reading checks every number against its use, as libfann reads it (counts, sizes, indices and
activation codes are C unsigned ints, written as plain digits; steepnesses and weights finite
reals, a weight also within the range of the Network's dtype): anything else is a ValueError
naming the file, the line and the field. It also refuses what libfann would run otherwise than
the file reads: an input neuron with connections (fann_run skips them), a bias neuron with
connections (fann_run would compute it instead of feeding 1 on), a neuron with a number of
inputs other than the layer before's size, and connections that do not run from each neuron of
the layer before in order (a fully connected fann_run ignores their numbers).

Weights are written as FANN writes them (`%.20e`), which holds every float64 exactly; reading
never evaluates anything from the file.
"""
from __future__ import annotations

import math
import os
import re
from typing import IO, TYPE_CHECKING, Any, Iterable, Union, cast

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from .network import Network, Output

PathOrFile = Union[str, "os.PathLike[str]", IO[Any]]

__all__ = ["to_fann", "from_fann", "FANN_VERSION"]

FANN_VERSION = "FANN_FLO_2.1"

# FANN's activation function codes (enum fann_activationfunc_enum in fann_data.h), for messages
_FANN_ACTIVATIONS = ("FANN_LINEAR", "FANN_THRESHOLD", "FANN_THRESHOLD_SYMMETRIC", "FANN_SIGMOID",
                     "FANN_SIGMOID_STEPWISE", "FANN_SIGMOID_SYMMETRIC",
                     "FANN_SIGMOID_SYMMETRIC_STEPWISE", "FANN_GAUSSIAN",
                     "FANN_GAUSSIAN_SYMMETRIC", "FANN_GAUSSIAN_STEPWISE", "FANN_ELLIOT",
                     "FANN_ELLIOT_SYMMETRIC", "FANN_LINEAR_PIECE", "FANN_LINEAR_PIECE_SYMMETRIC",
                     "FANN_SIN_SYMMETRIC", "FANN_COS_SYMMETRIC", "FANN_SIN", "FANN_COS")

# nnpy activation -> (FANN activation function, steepness) computing the same function
_TO_FANN = {"sigmoid": (3, 0.5), "tanh": (5, 1.0), "identity": (0, 1.0)}
_FROM_FANN = {code: name for name, code in _TO_FANN.items()}
_OUTPUTS_FROM_FANN = ("sigmoid", "identity")   # nnpy's output layers FANN can hold

# The lines fann_save writes between `num_layers` and `layer_sizes` for a network made by
# fann_create_standard (libfann 2.2's defaults), in its order and formatting; connection_rate
# and network_type are the two that describe the network (fully connected, layered).
_SETTINGS = (
    ("learning_rate", "0.700000"),
    ("connection_rate", "1.000000"),
    ("network_type", "0"),
    ("learning_momentum", "0.000000"),
    ("training_algorithm", "2"),
    ("train_error_function", "1"),
    ("train_stop_function", "0"),
    ("cascade_output_change_fraction", "0.010000"),
    ("quickprop_decay", "-0.000100"),
    ("quickprop_mu", "1.750000"),
    ("rprop_increase_factor", "1.200000"),
    ("rprop_decrease_factor", "0.500000"),
    ("rprop_delta_min", "0.000000"),
    ("rprop_delta_max", "50.000000"),
    ("rprop_delta_zero", "0.100000"),
    ("cascade_output_stagnation_epochs", "12"),
    ("cascade_candidate_change_fraction", "0.010000"),
    ("cascade_candidate_stagnation_epochs", "12"),
    ("cascade_max_out_epochs", "150"),
    ("cascade_min_out_epochs", "50"),
    ("cascade_max_cand_epochs", "150"),
    ("cascade_min_cand_epochs", "50"),
    ("cascade_num_candidate_groups", "2"),
    ("bit_fail_limit", "3.49999999999999977796e-01"),
    ("cascade_candidate_limit", "1.00000000000000000000e+03"),
    ("cascade_weight_multiplier", "4.00000000000000022204e-01"),
    ("cascade_activation_functions_count", "10"),
    ("cascade_activation_functions", "3 5 7 8 10 11 14 15 16 17 "),
    ("cascade_activation_steepnesses_count", "4"),
    ("cascade_activation_steepnesses", "2.50000000000000000000e-01 5.00000000000000000000e-01 "
                                       "7.50000000000000000000e-01 1.00000000000000000000e+00 "),
)
_NEURONS_KEY = "neurons (num_inputs, activation_function, activation_steepness)"
_CONNECTIONS_KEY = "connections (connected_to_neuron, weight)"
_SCALE_KEYS = tuple(f"scale_{what}_{where}" for where in ("in", "out")
                    for what in ("mean", "deviation", "new_min", "factor"))


def _e20(value: float) -> str:
    """A number as FANN writes it (C's "%.20e"; both are correctly rounded, so identical)."""
    return "%.20e" % value


# ---------------------------------------------------------------------------------------------
# writing
# ---------------------------------------------------------------------------------------------

def to_fann(net: Network, path: PathOrFile) -> None:
    """Writes a network in FANN's FANN_FLO_2.1 format, as libfann 2.2's fann_save writes it.

    `fann_create_from_file` reads it back and `fann_run` computes `net.predict` (see the module
    docstring for the activation mapping).

    Parameters
    ----------
    net : nnpy.Network
        The network.
    path : str, os.PathLike or text file
        Where to write it.

    Raises
    ------
    ValueError
        For what FANN cannot represent: a ReLU hidden layer, a softmax output.
    """
    from .network import Network
    if not isinstance(net, Network):
        raise TypeError(f"to_fann needs an nnpy.Network, got {type(net).__name__}")
    sizes = net.sizes
    hidden = net.activation
    if net.n_layers > 1 and hidden not in _TO_FANN:
        raise ValueError(f"FANN cannot represent {hidden!r} hidden layers (FANN 2.2 has no "
                         f"unbounded ReLU: FANN_LINEAR_PIECE is clipped at 1); it holds "
                         f"{', '.join(map(repr, _TO_FANN))}")
    if net.output not in _OUTPUTS_FROM_FANN:
        raise ValueError(f"FANN cannot represent a {net.output!r} output layer (FANN has no "
                         f"softmax); it holds {' and '.join(map(repr, _OUTPUTS_FROM_FANN))} "
                         f"outputs")
    lines = [FANN_VERSION, f"num_layers={len(sizes)}"]
    lines += [f"{key}={value}" for key, value in _SETTINGS]
    lines.append("layer_sizes=" + "".join(f"{n + 1} " for n in sizes))
    lines.append("scale_included=0")

    # Neurons: the input layer's (and its bias) have no inputs and no activation; fann_set_
    # activation_*_hidden/_output set every neuron of a layer, its bias neuron included.
    neurons = ["(0, 0, %s) " % _e20(0.0)] * (sizes[0] + 1)
    for l in range(net.n_layers):
        function, steepness = _TO_FANN[net.output if l == net.n_layers - 1 else hidden]
        neurons += ["(%d, %d, %s) " % (sizes[l] + 1, function, _e20(steepness))] * sizes[l + 1]
        neurons.append("(0, %d, %s) " % (function, _e20(steepness)))
    lines.append(f"{_NEURONS_KEY}=" + "".join(neurons))

    # Connections, neuron after neuron: from each neuron of the layer before (numbered across
    # the whole network, bias neurons included), the bias last.
    connections = []
    first = 0   # number of the first neuron of the layer before
    for w, b in zip(net.weights, net.biases):
        n_out, n_in = w.shape
        sources = range(first, first + n_in + 1)
        rows = np.concatenate([np.asarray(w, np.float64), np.asarray(b, np.float64)[:, None]],
                              axis=1)
        for row in rows:
            connections += ["(%d, %s) " % (s, _e20(v)) for s, v in zip(sources, row.tolist())]
        first += n_in + 1
    lines.append(f"{_CONNECTIONS_KEY}=" + "".join(connections))
    text = "\n".join(lines) + "\n"
    if hasattr(path, "write"):
        path.write(text)
        return
    with open(os.fspath(path), "w", encoding="ascii", newline="\n") as f:
        f.write(text)


# ---------------------------------------------------------------------------------------------
# reading
# ---------------------------------------------------------------------------------------------

# FANN reads its counts, indices and codes as C unsigned ints (fscanf "%u") and its reals with
# strtod's syntax; nnpy reads the same fields, refusing what libfann would misread: a number
# beyond an unsigned int (wrapped by fscanf), a sign, a fraction, or a digit separator.
_UINT_MAX = 2 ** 32 - 1
_UINT = re.compile(r"\d+")
_REAL = re.compile(r"[+-]?(?:(?:\d+\.?\d*|\.\d+)(?:[eE][+-]?\d+)?|inf(?:inity)?|nan)",
                   re.IGNORECASE)
_ENTRY = re.compile(r"\(([^()]*)\)\s*")
# The settings fann_save writes as unsigned ints (the others are reals), and the two lists
_UINT_SETTINGS = frozenset((
    "network_type", "training_algorithm", "train_error_function", "train_stop_function",
    "cascade_output_stagnation_epochs", "cascade_candidate_stagnation_epochs",
    "cascade_max_out_epochs", "cascade_min_out_epochs", "cascade_max_cand_epochs",
    "cascade_min_cand_epochs", "cascade_num_candidate_groups",
    "cascade_activation_functions_count", "cascade_activation_steepnesses_count"))
_LISTS = {"cascade_activation_functions": "cascade_activation_functions_count",
          "cascade_activation_steepnesses": "cascade_activation_steepnesses_count"}
_NEURON_FIELDS = ("num_inputs", "activation_function", "activation_steepness")
_CONNECTION_FIELDS = ("connected_to_neuron", "weight")


class _Field:
    """One `key=value` line: the value's text, where it is, and its checked numbers."""

    def __init__(self, name: str, line: int, key: str, value: str):
        self.name, self.line, self.key, self.value = name, line, key, value

    def error(self, what: str) -> ValueError:
        return ValueError(f"{self.name}, line {self.line}: {what}")

    def uint(self, text: str | None = None, field: str | None = None) -> int:
        """The value (or `text`, a part of it: `field`) as FANN's unsigned int."""
        text = self.value if text is None else text.strip()
        field = self.key if field is None else field
        if not _UINT.fullmatch(text):
            raise self.error(f"{field} must be a whole number >= 0, got {_short(text)}")
        value = int(text)
        if value > _UINT_MAX:
            raise self.error(f"{field} is {_short(text)}, beyond FANN's range (an unsigned "
                             f"int: at most {_UINT_MAX})")
        return value

    def real(self, text: str | None = None, field: str | None = None,
             finite: bool = True) -> float:
        """The value (or `text`, a part of it: `field`) as a real number, finite if asked."""
        text = self.value if text is None else text.strip()
        field = self.key if field is None else field
        if not _REAL.fullmatch(text):
            raise self.error(f"{field} is a malformed number: {_short(text)}")
        value = float(text)
        if finite and not math.isfinite(value):
            raise self.error(f"{field} is {_short(text)}: it must be finite (NaN or "
                             f"infinity, or a number beyond float64's range)")
        return value

    def entries(self, count: int, fields: tuple[str, ...], what: str) -> list[list[str]]:
        """The value's `count` parenthesised entries, each split into `fields`."""
        items: list[list[str]] = []
        text, position = self.value, 0
        while position < len(text) and len(items) < count:
            match = _ENTRY.match(text, position)
            parts = match.group(1).split(",") if match else []
            if len(parts) != len(fields):
                raise self.error(f"{what} {len(items)} is malformed at character {position}: "
                                 f"{text[position:position + 40]!r} (expected "
                                 f"({', '.join(fields)}))")
            items.append(parts)
            position = cast("re.Match[str]", match).end()
        if len(items) != count or text[position:].strip():
            raise self.error(f"the layer sizes need {count} {what}s; the file holds "
                             f"{len(items) if len(items) < count else 'more'}")
        return items


def _short(text: str) -> str:
    return repr(text) if len(text) <= 30 else f"{text[:12]!r}...{text[-6:]!r} ({len(text)} " \
                                              f"characters)"


def from_fann(path: PathOrFile, *, dtype: DTypeLike = np.float64,
              seed: int | np.random.Generator | None = None) -> Network:
    """A Network from a FANN_FLO_2.1 file (libfann 2.2's fann_save, or to_fann).

    The same layer sizes, activations and weights, so that `predict` gives what `fann_run`
    gives.

    Parameters
    ----------
    path : str, os.PathLike or text file
        The file.
    dtype : np.float64 or np.float32
        The Network's (float32 rounds the weights; a weight beyond float32's range is
        refused).
    seed : int, numpy.random.Generator or None
        Seeds the Network's generator.

    Returns
    -------
    nnpy.Network

    Raises
    ------
    ValueError
        For a file that is not an intact FANN_FLO_2.1 network, naming the file, the line and
        the field (a number out of range for its use: an index, count, size or activation
        code that is not an unsigned int FANN reads, a steepness or weight that is not
        finite), and for networks nnpy cannot represent or that libfann would run otherwise
        than the file reads (see the module docstring), saying what.
    """
    from ._validation import as_dtype
    from .io import _read_text
    target = as_dtype(dtype)
    name, data = _read_text(path, "ascii", "a FANN network file")
    lines = data.splitlines()
    if not lines or lines[0].strip() != FANN_VERSION:
        raise ValueError(f"{name}, line 1: {_version_problem(lines[0] if lines else '')}; "
                         f"nnpy reads {FANN_VERSION}")
    fields = _fields(lines[1:], name)
    sizes = _shape(fields, name)
    neurons = fields[_NEURONS_KEY]
    kinds = _neurons(sizes, neurons)
    connections = fields[_CONNECTIONS_KEY]
    weights, biases = _connections(sizes, connections, target)
    activations = []
    for l, kind in enumerate(kinds, start=1):
        if kind not in _FROM_FANN:
            raise neurons.error(f"layer {l} uses {_describe(kind)}; nnpy reads "
                                f"{_describe_all(_FROM_FANN)}")
        activations.append(_FROM_FANN[kind])

    hidden = set(activations[:-1])
    if len(hidden) > 1:
        raise ValueError(f"{name}: the hidden layers have different activations "
                         f"({', '.join(activations[:-1])}); an nnpy network has one hidden "
                         f"activation")
    if activations[-1] not in _OUTPUTS_FROM_FANN:
        raise ValueError(f"{name}: the output layer is {activations[-1]}; nnpy's outputs from "
                         f"FANN are {' and '.join(_OUTPUTS_FROM_FANN)}")
    from .network import Network
    output = cast("Output", activations[-1])  # the cast: one of _OUTPUTS_FROM_FANN, as checked
    options: dict[str, Any] = {"activation": hidden.pop()} if hidden else {}  # none: no hidden
    net = Network([s - 1 for s in sizes], output=output, dtype=target, seed=seed, **options)
    net.weights = weights
    net.biases = biases
    return net


def _version_problem(first_line: str) -> str:
    """What the first line of a file that is not FANN_FLO_2.1 is."""
    found = first_line.strip()[:40]
    match = re.fullmatch(r"FANN_(FLO|FIX)_(\d+)\.(\d+)", found)
    if match is None:
        return f"not a FANN network file (first line {found!r})"
    if match.group(1) == "FIX":
        return f"{found}, a fixed-point FANN file (fann_save_to_fixed); save it with fann_save"
    version = (int(match.group(2)), int(match.group(3)))
    if version > (2, 1):
        return f"{found}, a FANN format newer than this nnpy knows (its newest is {FANN_VERSION})"
    return f"{found}, an older FANN format; load and fann_save it with libfann 2.2"


def _fields(lines: list[str], name: str) -> dict[str, _Field]:
    """The `key=value` lines, checked against the keys fann_save writes, in its order, and
    the settings' numbers against the types libfann reads them as."""
    expected = ["num_layers"] + [key for key, _ in _SETTINGS] + ["layer_sizes", "scale_included"]
    fields: dict[str, _Field] = {}
    position = 0
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{name}, line {number}: expected key=value, got {line[:60]!r}")
        key = key.lstrip()   # fscanf matches the key and "=" literally, after any whitespace
        if key in fields:
            raise ValueError(f"{name}, line {number}: {key} appears twice")
        fields[key] = _Field(name, number, key, value.strip())
    order = [k for k in fields]
    missing = [k for k in expected + [_NEURONS_KEY, _CONNECTIONS_KEY] if k not in fields]
    if missing:
        raise ValueError(f"{name}: not a complete FANN network file: no {', '.join(missing)}")
    scale = fields["scale_included"]
    if scale.value not in ("0", "1"):
        raise scale.error(f"scale_included must be 0 or 1, got {_short(scale.value)}")
    if scale.value == "1":
        raise scale.error("the network carries input/output scaling parameters "
                          "(fann_set_scaling_params), which an nnpy Network has no place for; "
                          "clear them in FANN (fann_clear_scaling_params) and save again")
    expected += [_NEURONS_KEY, _CONNECTIONS_KEY]
    unknown = [k for k in order if k not in expected]
    if unknown:
        raise fields[unknown[0]].error(f"unknown fields {', '.join(unknown)}")
    for key in order:   # fann_create_from_file reads them in this order and no other
        if expected[position] != key:
            raise fields[key].error(f"{key} is out of place (FANN expects {expected[position]} "
                                    f"there)")
        position += 1
    # The training settings do not change what the network computes, but libfann refuses a
    # file whose settings it cannot read: so does nnpy.
    for key, _ in _SETTINGS:
        field = fields[key]
        if key in _LISTS:
            count = fields[_LISTS[key]].uint()
            items = field.value.split()
            if len(items) != count:
                raise field.error(f"{key} lists {len(items)} values; "
                                  f"{_LISTS[key]}={count}")
            for i, item in enumerate(items):
                if key == "cascade_activation_functions":
                    field.uint(item, f"{key}[{i}]")
                else:
                    field.real(item, f"{key}[{i}]", finite=False)
        elif key in _UINT_SETTINGS:
            field.uint()
        else:
            field.real(finite=False)
    return fields


def _shape(fields: dict[str, _Field], name: str) -> list[int]:
    """The layer sizes (each with its bias neuron) of a layered, fully connected network."""
    num_layers = fields["num_layers"].uint()
    layer_sizes = fields["layer_sizes"]
    sizes = [layer_sizes.uint(text, f"layer_sizes[{i}]")
             for i, text in enumerate(layer_sizes.value.split())]
    network_type = fields["network_type"]
    if network_type.uint() == 1:
        raise network_type.error("a FANN network with shortcut connections (network_type=1); "
                                 "nnpy networks connect each layer to the next only")
    if network_type.uint() != 0:
        raise network_type.error(f"unknown network_type {network_type.value} (FANN's are 0, "
                                 f"layered, and 1, shortcut)")
    connection_rate = fields["connection_rate"]
    if connection_rate.real() < 1:
        raise connection_rate.error(f"a sparsely connected FANN network (connection_rate="
                                    f"{connection_rate.value}); nnpy networks are fully "
                                    f"connected")
    if num_layers < 2 or len(sizes) != num_layers:
        raise layer_sizes.error(f"num_layers={num_layers} but layer_sizes lists {len(sizes)} "
                                f"layers; a network needs at least 2")
    if min(sizes) < 2:
        raise layer_sizes.error(f"layer_sizes {layer_sizes.value}: each layer needs a neuron "
                                f"and its bias neuron (at least 2)")
    return sizes


def _neurons(sizes: list[int], neurons: _Field) -> list[tuple[int, float]]:
    """Checks every neuron against the layered, fully connected network of `sizes` as
    fann_run computes it; returns the (activation function, steepness) of each layer after
    the input."""
    entries = neurons.entries(sum(sizes), _NEURON_FIELDS, "neuron")
    kinds: list[tuple[int, float]] = []
    index = 0
    for l, size in enumerate(sizes):
        layer: set[tuple[int, float]] = set()
        for j in range(size):
            where = f"neuron {index} (layer {l}, " + \
                ("its bias neuron)" if j == size - 1 else f"neuron {j})")
            parts = entries[index]
            n_inputs = neurons.uint(parts[0], f"{where}: num_inputs")
            function = neurons.uint(parts[1], f"{where}: activation_function")
            steepness = neurons.real(parts[2], f"{where}: activation_steepness")
            if l == 0 and n_inputs:
                # fann_run sets the input neurons to the inputs and never reads their
                # connections: a file that gives them some is not a network nnpy can mirror
                raise neurons.error(f"{where} has {n_inputs} inputs; input neurons have "
                                    f"none (libfann would skip their connections)")
            if l > 0 and j == size - 1 and n_inputs:
                raise neurons.error(f"{where} has {n_inputs} inputs; a bias neuron has none "
                                    f"(libfann would compute it, and not feed 1 on)")
            if l > 0 and j < size - 1:
                if n_inputs != sizes[l - 1]:
                    raise neurons.error(f"{where} has {n_inputs} inputs: layer {l} is not "
                                        f"fully connected to layer {l - 1} (each of its "
                                        f"neurons needs {sizes[l - 1]}: the "
                                        f"{sizes[l - 1] - 1} neurons of layer {l - 1} and its "
                                        f"bias)")
                layer.add((function, steepness))
            index += 1
        if l > 0:
            if len(layer) > 1:
                raise neurons.error(f"the neurons of layer {l} differ in activation "
                                    f"({_describe_all(layer)}); nnpy has one activation per "
                                    f"layer")
            kinds.append(layer.pop())
    return kinds


def _connections(sizes: list[int], connections: _Field,
                 dtype: np.dtype[Any]) -> tuple[list[np.ndarray], list[np.ndarray]]:
    """Weights (n_out, n_in) and biases of each layer after the input, every connection
    checked to run from the neuron a layered, fully connected network has there and its
    weight to be finite in `dtype`."""
    count = sum((sizes[l] - 1) * sizes[l - 1] for l in range(1, len(sizes)))
    entries = connections.entries(count, _CONNECTION_FIELDS, "connection")
    limit = float(np.finfo(dtype).max)
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    index = 0
    first_source = 0   # number of the first neuron of the layer before
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l] - 1     # n_in counts the bias
        values = np.empty((n_out, n_in), np.float64)
        for j in range(n_out):
            for i in range(n_in):
                where = f"connection {index} (into layer {l}, neuron {j})"
                source_text, weight_text = entries[index]
                source = connections.uint(source_text, f"{where}: connected_to_neuron")
                if source != first_source + i:
                    # fann_run of a fully connected network ignores these numbers and takes
                    # the layer before in order: a file that says otherwise is refused
                    raise connections.error(
                        f"{where}: connected_to_neuron is {source}; a layered, fully "
                        f"connected network runs it from neuron {first_source + i} (the "
                        f"connections into layer {l} run from each neuron of layer {l - 1} in "
                        f"order, its bias last)")
                weight = connections.real(weight_text, f"{where}: weight")
                if abs(weight) > limit and not np.isfinite(_rounded(weight, dtype)):
                    raise connections.error(f"{where}: weight {weight!r} is beyond the range "
                                            f"of {dtype.name} (largest {limit:.6g})")
                values[j, i] = weight
                index += 1
        weights.append(values[:, :-1])
        biases.append(values[:, -1])
        first_source += n_in
    return weights, biases


def _rounded(value: float, dtype: np.dtype[Any]) -> Any:
    """value rounded to dtype (infinity past its largest number, without a warning)."""
    with np.errstate(over="ignore"):
        return np.asarray(value).astype(dtype)


def _describe(kind: tuple[int, float]) -> str:
    function, steepness = kind
    label = _FANN_ACTIVATIONS[function] if function < len(_FANN_ACTIVATIONS) else \
        f"activation function {function}"
    return f"{label} at steepness {steepness:g}"


def _describe_all(kinds: Iterable[tuple[int, float]]) -> str:
    return ", ".join(_describe(k) for k in sorted(kinds))
