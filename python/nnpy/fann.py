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

_NEURON = re.compile(r"\(\s*(\d+)\s*,\s*(\d+)\s*,\s*([^()\s,]+)\s*\)\s*")
_CONNECTION = re.compile(r"\(\s*(\d+)\s*,\s*([^()\s,]+)\s*\)\s*")


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
        The Network's (float32 rounds the weights).
    seed : int, numpy.random.Generator or None
        Seeds the Network's generator.

    Returns
    -------
    nnpy.Network

    Raises
    ------
    ValueError
        For a file that is not an intact FANN_FLO_2.1 network, and for networks nnpy cannot
        represent (see the module docstring), saying what.
    """
    from .io import _read_text
    name, data = _read_text(path, "ascii", "a FANN network file")
    lines = data.splitlines()
    if not lines or lines[0].strip() != FANN_VERSION:
        found = lines[0].strip()[:40] if lines else ""
        if found.startswith("FANN_FIX"):
            why = "a fixed-point FANN file (fann_save_to_fixed); save it with fann_save"
        elif found.startswith("FANN_FLO"):
            why = f"{found}, an older FANN format; load and fann_save it with libfann 2.2"
        else:
            why = f"not a FANN network file (first line {found!r})"
        raise ValueError(f"{name}: {why}; nnpy reads {FANN_VERSION}")
    fields = _fields(lines[1:], name)
    sizes, network_type, connection_rate = _shape(fields, name)
    if network_type != 0:
        raise ValueError(f"{name}: a FANN network with shortcut connections (network_type="
                         f"{network_type}); nnpy networks connect each layer to the next only")
    if connection_rate < 1:
        raise ValueError(f"{name}: a sparsely connected FANN network (connection_rate="
                         f"{connection_rate}); nnpy networks are fully connected")
    neurons = _parse_list(fields[_NEURONS_KEY], _NEURON, sum(sizes), "neurons", name)
    n_connections = sum(int(n) for n, _, _ in neurons)
    connections = _parse_list(fields[_CONNECTIONS_KEY], _CONNECTION, n_connections,
                              "connections", name)
    weights, biases, activations = _layers(sizes, neurons, connections, name)

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
    net = Network([s - 1 for s in sizes], output=output, dtype=dtype, seed=seed, **options)
    net.weights = weights
    net.biases = biases
    return net


def _fields(lines: list[str], name: str) -> dict[str, str]:
    """{key: value} of the `key=value` lines, checked against the keys fann_save writes, in its
    order."""
    expected = ["num_layers"] + [key for key, _ in _SETTINGS] + ["layer_sizes", "scale_included"]
    fields: dict[str, str] = {}
    position = 0
    for number, line in enumerate(lines, start=2):
        if not line.strip():
            continue
        key, sep, value = line.partition("=")
        if not sep:
            raise ValueError(f"{name}, line {number}: expected key=value, got {line[:60]!r}")
        key = key.strip()
        if key in fields:
            raise ValueError(f"{name}, line {number}: {key} appears twice")
        fields[key] = value.strip()
    order = [k for k in fields]
    missing = [k for k in expected + [_NEURONS_KEY, _CONNECTIONS_KEY] if k not in fields]
    if missing:
        raise ValueError(f"{name}: not a complete FANN network file: no {', '.join(missing)}")
    if fields["scale_included"] not in ("0", "1"):
        raise ValueError(f"{name}: scale_included must be 0 or 1, got "
                         f"{fields['scale_included']!r}")
    if fields["scale_included"] == "1":
        raise ValueError(f"{name}: the network carries input/output scaling parameters "
                         f"(fann_set_scaling_params), which an nnpy Network has no place for; "
                         f"clear them in FANN (fann_clear_scaling_params) and save again")
    expected += [_NEURONS_KEY, _CONNECTIONS_KEY]
    unknown = [k for k in order if k not in expected]
    if unknown:
        raise ValueError(f"{name}: unknown fields {', '.join(unknown)}")
    for key in order:   # fann_create_from_file reads them in this order and no other
        if expected[position] != key:
            raise ValueError(f"{name}: {key} is out of place (FANN expects {expected[position]} "
                             f"there)")
        position += 1
    return fields


def _shape(fields: dict[str, str], name: str) -> tuple[list[int], int, float]:
    """Layer sizes (each with its bias neuron), network_type and connection_rate."""
    try:
        num_layers = int(fields["num_layers"])
        sizes = [int(s) for s in fields["layer_sizes"].split()]
        network_type = int(fields["network_type"])
        connection_rate = float(fields["connection_rate"])
    except ValueError as err:
        raise ValueError(f"{name}: a malformed number: {err}") from None
    if num_layers < 2 or len(sizes) != num_layers:
        raise ValueError(f"{name}: num_layers={num_layers} but layer_sizes lists {len(sizes)} "
                         f"layers; a network needs at least 2")
    if network_type == 0 and min(sizes) < 2:
        raise ValueError(f"{name}: layer_sizes {sizes}: each layer needs a neuron and its bias")
    if not math.isfinite(connection_rate):
        raise ValueError(f"{name}: connection_rate must be finite, got {connection_rate}")
    return sizes, network_type, connection_rate


# A parsed entry: integers, then a float: a neuron (inputs, activation function, steepness), a
# connection (source, weight). Typed loosely: the tuples' lengths differ by list.
_Entry = tuple[Any, ...]


def _parse_list(text: str, pattern: re.Pattern[str], count: int, what: str,
                name: str) -> list[_Entry]:
    """The `count` tuples of `text`, each matched by `pattern`; the numbers are checked."""
    items: list[tuple[str, ...]] = []
    position = 0
    while position < len(text) and len(items) < count:
        match = pattern.match(text, position)
        if match is None:
            raise ValueError(f"{name}: malformed {what} entry at character {position}: "
                             f"{text[position:position + 40]!r}")
        items.append(match.groups())
        position = match.end()
    if len(items) != count or text[position:].strip():
        raise ValueError(f"{name}: the layer sizes need {count} {what}; the file holds "
                         f"{len(items) if len(items) < count else 'more'}")
    try:
        parsed = [tuple(int(v) for v in item[:-1]) + (float(item[-1]),) for item in items]
    except ValueError as err:
        raise ValueError(f"{name}: a malformed number among the {what}: {err}") from None
    if not all(math.isfinite(item[-1]) for item in parsed):
        raise ValueError(f"{name}: the {what} hold NaN or infinity")
    return parsed


def _layers(sizes: list[int], neurons: list[_Entry], connections: list[_Entry],
            name: str) -> tuple[list[np.ndarray], list[np.ndarray], list[str]]:
    """Weights (n_out, n_in), biases and the activation name of each layer after the input,
    checked to be a fully connected layered network nnpy can represent."""
    weights: list[np.ndarray] = []
    biases: list[np.ndarray] = []
    activations: list[str] = []
    first_neuron = sizes[0]          # index of the layer's first neuron (in `neurons`)
    first_source = 0                 # index of the layer before's first neuron
    con = 0                          # index of the next connection
    for l in range(1, len(sizes)):
        n_in, n_out = sizes[l - 1], sizes[l] - 1     # n_in counts the bias
        layer = neurons[first_neuron:first_neuron + n_out]
        bias = neurons[first_neuron + n_out]
        if any(n != n_in for n, _, _ in layer) or bias[0] != 0:
            raise ValueError(f"{name}: layer {l} is not fully connected to layer {l - 1} "
                             f"(each neuron needs {n_in} inputs, its bias neuron none)")
        kinds = {(f, s) for _, f, s in layer}
        if len(kinds) > 1:
            raise ValueError(f"{name}: the neurons of layer {l} differ in activation "
                             f"({_describe_all(kinds)}); nnpy has one activation per layer")
        kind = kinds.pop()
        if kind not in _FROM_FANN:
            raise ValueError(f"{name}: layer {l} uses {_describe(kind)}; nnpy reads "
                             f"{_describe_all(_FROM_FANN)}")
        activations.append(_FROM_FANN[kind])
        block = connections[con:con + n_out * n_in]
        sources = np.array([s for s, _ in block], dtype=np.int64).reshape(n_out, n_in)
        if not (sources == np.arange(first_source, first_source + n_in)).all():
            raise ValueError(f"{name}: the connections into layer {l} do not run from each "
                             f"neuron of layer {l - 1} in order (a sparse or reordered network)")
        values = np.array([v for _, v in block], dtype=np.float64).reshape(n_out, n_in)
        weights.append(values[:, :-1])
        biases.append(values[:, -1])
        con += n_out * n_in
        first_source = first_neuron
        first_neuron += n_out + 1
    return weights, biases, activations


def _describe(kind: tuple[int, float]) -> str:
    function, steepness = kind
    label = _FANN_ACTIVATIONS[function] if function < len(_FANN_ACTIVATIONS) else \
        f"activation function {function}"
    return f"{label} at steepness {steepness:g}"


def _describe_all(kinds: Iterable[tuple[int, float]]) -> str:
    return ", ".join(_describe(k) for k in sorted(kinds))
