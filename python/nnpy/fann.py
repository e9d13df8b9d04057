"""FANN's floating-point network files (FANN_FLO_2.1), as libfann 2.2 writes and reads them.

`to_fann(model, path)` writes what libfann's `fann_save` writes for the same network (built with
`fann_create_standard`, the activation functions and steepnesses set with
`fann_set_activation_function_hidden/_output` and `fann_set_activation_steepness_hidden/_output`,
and the weights set): the same text, byte for byte. It takes what nnpy.export's exporters take
(a Network, a fitted NNClassifier / NNRegressor, an nnpy Model, a scaler + estimator
Pipeline). FANN has no scaling layer, so a Model's standardisation and a Pipeline's scalers are
folded into the first layer: W (x * m + c) + b is written as (W * m) x + (W c + b), exact in
real arithmetic but rounded differently from scaling first (the tests bound the difference);
a regression Model's target scaling is folded into the last layer likewise. `from_fann(path)`
reads such a file (from `fann_save`, any of FANN's bindings, or `to_fann`). Both are
re-exported by nnpy.io.

The file is text: a version line, `key=value` lines (the network's shape, and training settings
that do not change what the network computes: to_fann writes FANN's defaults, from_fann checks
they are there and ignores them), then every neuron as `(num_inputs, activation_function,
activation_steepness)` and every connection as `(connected_to_neuron, weight)`. Each layer ends
with a bias neuron (always 1; the output layer's is unused); a neuron's connections run from
each neuron of the layer before, in order, its bias last. FANN computes a neuron as
f(steepness * sum), clipping steepness * sum to +-150 / steepness first (fann_run). Writing,
nnpy's activations map to:

    sigmoid   FANN_SIGMOID (3) at steepness 0.5             1/(1 + exp(-2 * 0.5 * sum))
    tanh      FANN_SIGMOID_SYMMETRIC (5) at steepness 1.0   2/(1 + exp(-2 * sum)) - 1
    identity  FANN_LINEAR (0) at steepness 2**-k            2**-k * sum, the weights times 2**k
              (exact): k = 0 (FANN's default) unless the layer's values can pass the clip at
              150 * 2**k, where they are bounded (after sigmoid or tanh layers; a regression
              Model's output: target_mean +- 150 target_scale otherwise)

and ReLU hidden layers (FANN 2.2's only ReLU-like functions, FANN_LINEAR_PIECE*, are clipped
at 1) and softmax outputs (a classifier of three or more classes) are refused with a
ValueError saying what. A binary classifier's file computes p of its second class, a
multi-label one's each label's p.

Reading, every FANN 2.2 activation function is computed as fann_run computes it, with its
steepness, per neuron: LINEAR, THRESHOLD, THRESHOLD_SYMMETRIC, SIGMOID, SIGMOID_STEPWISE
(fann_create_standard's default), SIGMOID_SYMMETRIC, SIGMOID_SYMMETRIC_STEPWISE, GAUSSIAN,
GAUSSIAN_SYMMETRIC, GAUSSIAN_STEPWISE (0 in fann_run), ELLIOT, ELLIOT_SYMMETRIC, LINEAR_PIECE,
LINEAR_PIECE_SYMMETRIC, SIN_SYMMETRIC, COS_SYMMETRIC, SIN, COS. from_fann gives

- an nnpy Network, which trains, when every layer maps onto nnpy's activations with its
  steepness s folded into the weights: FANN_SIGMOID (sigmoid, weights times 2s) and
  FANN_SIGMOID_SYMMETRIC (tanh, times s) at 0 < s <= 7.5, where the clip cannot move their
  values, FANN_LINEAR (identity, times s) at 0 < s <= 1; one activation for all hidden layers,
  a sigmoid or linear output. fann_run clips a linear neuron at +-150/s (at least +-150) and
  the Network does not: they differ only beyond that.
- a FannNetwork otherwise (any other function or steepness, layers whose neurons differ,
  hidden layers that differ, a symmetric output): prediction only, a numpy forward pass in
  fann_run's order of summation, equal to libdoublefann's fann_run to 1e-12 in the tests.

Refused: shortcut or sparse connections, and files carrying input/output scaling parameters.

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
from typing import IO, TYPE_CHECKING, Any, Union, cast

import numpy as np
from numpy.typing import DTypeLike

if TYPE_CHECKING:
    from .network import Network, Output

PathOrFile = Union[str, "os.PathLike[str]", IO[Any]]

__all__ = ["to_fann", "from_fann", "FannNetwork", "FANN_VERSION"]

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

def to_fann(model: Any, path: PathOrFile) -> None:
    """Writes `model` (an nnpy.Network, a fitted NNClassifier / NNRegressor, an nnpy Model, or
    a fitted scikit-learn Pipeline of affine scalers and such an estimator) to `path` (a path
    or a writable text file object) in FANN's FANN_FLO_2.1 format, as libfann 2.2's fann_save
    writes it; `fann_create_from_file` reads it back and `fann_run` computes, from raw inputs,
    the network's outputs: a Network's `predict`, a regressor's or a regression Model's
    prediction, a binary classifier's probability of its second class (a multi-label one's,
    of each label). FANN has no scaling layer, so a Model's standardisation and a Pipeline's
    scalers are folded into the first layer's weights and biases (exact in real arithmetic;
    the rounding differs from scaling first), and a regression Model's target scaling into
    the last layer's. See the module docstring for the activation mapping. Raises ValueError
    for what FANN cannot represent: a ReLU hidden layer, a softmax output (a classifier of
    three or more classes)."""
    from ._exportable import exportable
    spec = exportable(model, "to_fann")
    net = spec.network
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
    layers = _fann_layers(spec)
    lines = [FANN_VERSION, f"num_layers={len(sizes)}"]
    lines += [f"{key}={value}" for key, value in _SETTINGS]
    lines.append("layer_sizes=" + "".join(f"{n + 1} " for n in sizes))
    lines.append("scale_included=0")

    # Neurons: the input layer's (and its bias) have no inputs and no activation; fann_set_
    # activation_*_hidden/_output set every neuron of a layer, its bias neuron included.
    neurons = ["(0, 0, %s) " % _e20(0.0)] * (sizes[0] + 1)
    for l, (_, _, function, steepness) in enumerate(layers):
        neurons += ["(%d, %d, %s) " % (sizes[l] + 1, function, _e20(steepness))] * sizes[l + 1]
        neurons.append("(0, %d, %s) " % (function, _e20(steepness)))
    lines.append(f"{_NEURONS_KEY}=" + "".join(neurons))

    # Connections, neuron after neuron: from each neuron of the layer before (numbered across
    # the whole network, bias neurons included), the bias last.
    connections = []
    first = 0   # number of the first neuron of the layer before
    for w, b, _, _ in layers:
        n_out, n_in = w.shape
        sources = range(first, first + n_in + 1)
        rows = np.concatenate([w, b[:, None]], axis=1)
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


# fann_run clips steepness * sum to +-_FANN_CLIP / steepness
_FANN_CLIP = 150.0


def _fann_layers(spec: Any) -> list[tuple[np.ndarray, np.ndarray, int, float]]:
    """(weights, biases, FANN activation function, steepness) of each layer of the
    Exportable `spec`, float64: the input scaling folded into the first layer, a regression's
    target scaling into the last, and each linear layer's steepness a power of two 2**-k
    (weights times 2**k, exact) small enough that fann_run's clip of steepness * sum to
    +-150 / steepness cannot reach the values the layer can take, where they are bounded."""
    net = spec.network
    weights = [np.array(w, np.float64) for w in net.weights]
    biases = [np.array(b, np.float64) for b in net.biases]
    if spec.scaling:   # W (x * m + c) + b = (W * m) x + (W c + b)
        multiplier, offset = spec.affine()
        biases[0] = biases[0] + weights[0] @ offset
        weights[0] = weights[0] * multiplier
    if spec.target_scaling is not None:   # (W h + b) * scale + mean
        mean, scale = spec.target_scaling
        weights[-1] = weights[-1] * scale
        biases[-1] = biases[-1] * scale + mean
    activations = [net.activation] * (net.n_layers - 1) + [net.output]
    layers = []
    bound: float | None = None   # of the layer's inputs' magnitudes; None: unbounded (inputs)
    for l, (w, b, activation) in enumerate(zip(weights, biases, activations)):
        function, steepness = _TO_FANN[activation]
        if activation == "identity":
            if bound is not None:   # with a margin for the rounding of the sums
                reach = float(np.max(np.abs(w).sum(axis=1) * bound + np.abs(b))) * (1 + 1e-9)
            else:   # unbounded: fann_run's clip where it falls for the network alone (+-150)
                reach = _FANN_CLIP
                if l == net.n_layers - 1 and spec.target_scaling is not None:
                    mean, scale = spec.target_scaling   # +-150 in standardised units
                    reach = _FANN_CLIP * abs(scale) + abs(mean)
            k = 0
            while reach > _FANN_CLIP * 2.0 ** k and k < 1100:
                k += 1
            steepness = 2.0 ** -k
            w, b = w * 2.0 ** k, b * 2.0 ** k
            bound = reach if bound is not None else None
        else:
            bound = 1.0   # sigmoid and tanh values
        if not (np.isfinite(w).all() and np.isfinite(b).all()):
            raise ValueError("folding the scaling into the weights makes a weight beyond "
                             "float64's range")
        layers.append((w, b, function, steepness))
    return layers


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
              seed: int | np.random.Generator | None = None) -> Network | FannNetwork:
    """The network in a FANN_FLO_2.1 file (libfann 2.2's fann_save, or to_fann), computing
    what `fann_run` computes:

    - an nnpy Network (it predicts and trains in nnpy's core) when every layer maps onto
      nnpy's activations, its steepness folded into the weights: FANN_SIGMOID at steepness s
      is sigmoid of 2*s*sum, FANN_SIGMOID_SYMMETRIC tanh of s*sum (0 < s <= 7.5, so that
      fann_run's clip of s*sum to +-150/s cannot move their value), FANN_LINEAR s*sum
      (0 < s <= 1; fann_run clips its values beyond +-150/s, the Network does not); the
      hidden layers all one activation, the output sigmoid or linear;
    - else a FannNetwork (prediction only, in float64): every FANN 2.2 activation function at
      any steepness, per neuron (see the module docstring).

    `dtype` is a Network's (float32 rounds the weights; a weight beyond float32's range is
    refused; a FannNetwork computes in float64 only, and float32 is refused for one); `seed`
    seeds a Network's generator. Raises ValueError for a file that is not an intact
    FANN_FLO_2.1 network, naming the file, the line and the field (a number out of range for
    its use: an index, count, size or activation code that is not an unsigned int FANN reads,
    a steepness or weight that is not finite), and for networks that libfann would run
    otherwise than the file reads or nnpy cannot compute (shortcut or sparse connections,
    scaling parameters; see the module docstring), saying what."""
    from ._validation import as_dtype
    from ._safefile import read_text
    target = as_dtype(dtype)
    name, data = read_text(path, "ascii", "a FANN network file")
    lines = data.splitlines()
    if not lines or lines[0].strip() != FANN_VERSION:
        raise ValueError(f"{name}, line 1: {_version_problem(lines[0] if lines else '')}; "
                         f"nnpy reads {FANN_VERSION}")
    fields = _fields(lines[1:], name)
    sizes = _shape(fields, name)
    neurons = _neurons(sizes, fields[_NEURONS_KEY])
    weights, biases = _connections(sizes, fields[_CONNECTIONS_KEY], target)
    activations, why = _nnpy_activations(neurons)
    if activations is None:
        if target != np.float64:
            raise ValueError(f"{name}: {why}, so it is read as a FannNetwork, which computes "
                             f"in float64 only; read it with dtype=np.float64")
        return FannNetwork(weights, biases, [f for f, _ in neurons], [s for _, s in neurons])
    from .network import Network
    output = cast("Output", activations[-1])  # the cast: one of _OUTPUTS_FROM_FANN, as checked
    options: dict[str, Any] = {"activation": activations[0]} if len(activations) > 1 else {}
    net = Network([s - 1 for s in sizes], output=output, dtype=target, seed=seed, **options)
    # FANN's f(steepness * sum) as nnpy's activation of (factor * W) x + factor * b
    factors = [_FOLD[int(functions[0])][1] * steepnesses for functions, steepnesses in neurons]
    net.weights = [w * f[:, None] for w, f in zip(weights, factors)]
    net.biases = [b * f for b, f in zip(biases, factors)]
    return net


# FANN activation functions that nnpy's core computes: code -> (nnpy activation, the factor of
# the steepness that multiplies the weights)
_FOLD = {3: ("sigmoid", 2.0), 5: ("tanh", 1.0), 0: ("identity", 1.0)}
# fann_run clips steepness * sum to +-150 / steepness; up to this steepness that changes a
# sigmoid's value by at most exp(-300 / 7.5) = 4e-18, below float64's resolution near 0 and 1
_FOLDABLE_STEEPNESS = 7.5


def _nnpy_activations(neurons: list[tuple[np.ndarray, np.ndarray]]
                      ) -> tuple[list[str] | None, str]:
    """nnpy's activation of each layer, or None and why the network is not an nnpy Network."""
    names = []
    for l, (functions, steepnesses) in enumerate(neurons, start=1):
        codes = sorted(set(functions.tolist()))
        if len(codes) > 1:
            return None, (f"the neurons of layer {l} differ in activation "
                          f"({', '.join(_FANN_ACTIVATIONS[c] for c in codes)})")
        code = codes[0]
        if code not in _FOLD:
            return None, f"layer {l} uses {_FANN_ACTIVATIONS[code]}"
        if not (steepnesses > 0).all():
            return None, f"layer {l} has a steepness <= 0"
        limit = 1.0 if code == 0 else _FOLDABLE_STEEPNESS
        if not (steepnesses <= limit).all():
            return None, (f"layer {l}'s steepness {steepnesses.max():g} is above {limit:g} "
                          f"(fann_run's clip changes its values)")
        names.append(_FOLD[code][0])
    if len(set(names[:-1])) > 1:
        return None, (f"the hidden layers have different activations "
                      f"({', '.join(names[:-1])}); an nnpy Network has one")
    if names[-1] not in _OUTPUTS_FROM_FANN:
        return None, f"the output layer is {names[-1]}, not an nnpy output"
    return names, ""


class FannNetwork:
    """A FANN network as fann_run computes it, for prediction (nnpy.fann.from_fann makes one
    of a file whose activations nnpy's core does not have). The forward pass is numpy, in
    fann_run's order of summation (so the sums are bit-equal to libdoublefann's) and with its
    clip of steepness * sum to +-150 / steepness: predict equals fann_run to rounding of the
    library functions (exp, sin, cos), 1e-12 in the tests. It does not train.

    weights[l] (n_out, n_in), biases[l] (n_out,)        each layer's connections, float64
    functions[l] (n_out,), steepnesses[l] (n_out,)     each neuron's FANN activation
    sizes, n_layers                                    as a Network's
    """

    def __init__(self, weights: list[np.ndarray], biases: list[np.ndarray],
                 functions: list[np.ndarray], steepnesses: list[np.ndarray]):
        self.weights = [np.array(w, np.float64) for w in weights]
        self.biases = [np.array(b, np.float64) for b in biases]
        self.functions = [np.array(f, np.intp) for f in functions]
        self.steepnesses = [np.array(s, np.float64) for s in steepnesses]
        for arrays in (self.weights, self.biases, self.functions, self.steepnesses):
            for a in arrays:
                a.flags.writeable = False
        self.sizes = tuple([self.weights[0].shape[1]] + [w.shape[0] for w in self.weights])
        self.n_layers = len(self.weights)
        self.dtype = np.dtype(np.float64)

    def predict(self, X: Any) -> np.ndarray:
        """fann_run's outputs (n_samples, n_outputs), float64, for X (n_samples, n_inputs);
        for one sample X (n_inputs,), its outputs (n_outputs,)."""
        from ._validation import as_matrix
        values, single = as_matrix(X, "X", np.float64, n_cols=self.sizes[0], allow_1d=True)
        for w, b, functions, steepnesses in zip(self.weights, self.biases, self.functions,
                                                self.steepnesses):
            values = _fann_layer(values, w, b, functions, steepnesses)
        return values[0] if single else values

    def __repr__(self) -> str:
        layers = ["+".join(sorted({_FANN_ACTIVATIONS[c] for c in f.tolist()}))
                  for f in self.functions]
        return f"FannNetwork(sizes={list(self.sizes)}, activations={layers})"


def _fann_layer(values: np.ndarray, w: np.ndarray, b: np.ndarray, functions: np.ndarray,
                steepnesses: np.ndarray) -> np.ndarray:
    """One layer of fann_run: the sums in its order, steepness, clip, activation."""
    n, n_in = values.shape
    weights = np.concatenate([w, b[:, None]], axis=1)      # the bias connection last
    inputs = np.concatenate([values, np.ones((n, 1))], axis=1)
    count = n_in + 1
    total = np.zeros((n, w.shape[0]))
    # fann_run's unrolled loop: the count % 4 first connections from the last of them down,
    # then groups of four, each group summed left to right before it is added
    first = count & 3
    for i in range(first - 1, -1, -1):
        total += inputs[:, i, None] * weights[:, i]
    for i in range(first, count, 4):
        group = inputs[:, i, None] * weights[:, i] + inputs[:, i + 1, None] * weights[:, i + 1]
        group = group + inputs[:, i + 2, None] * weights[:, i + 2]
        group = group + inputs[:, i + 3, None] * weights[:, i + 3]
        total += group
    with np.errstate(divide="ignore", over="ignore", invalid="ignore"):
        total = steepnesses * total
        limit = 150.0 / steepnesses
        total = np.where(total > limit, limit, np.where(total < -limit, -limit, total))
        out = np.empty_like(total)
        for code in np.unique(functions).tolist():
            columns = functions == code
            out[:, columns] = _FANN_FUNCTIONS[code](total[:, columns])
    return out


def _stepwise(v: tuple[float, ...], r: tuple[float, ...], low: float,
              high: float) -> Any:
    """FANN's fann_stepwise: linear pieces between the points (v[i], r[i]), low below v[0],
    high from v[5] on (and for NaN), each piece as fann_linear_func computes it."""
    def piece(i: int, x: np.ndarray) -> np.ndarray:
        return ((r[i + 1] - r[i]) * (x - v[i])) / (v[i + 1] - v[i]) + r[i]

    def function(x: np.ndarray) -> np.ndarray:
        return np.select([x < v[0], x < v[1], x < v[2], x < v[3], x < v[4], x < v[5]],
                         [np.full_like(x, low)] + [piece(i, x) for i in range(5)], high)
    return function


# FANN 2.2's activation functions of the (clipped) steepness * sum, as fann_activation.h's
# fann_activation_switch computes them in double, by code
_FANN_FUNCTIONS = {
    0: lambda x: x,                                                      # LINEAR
    1: lambda x: np.where(x < 0, 0.0, 1.0),                              # THRESHOLD
    2: lambda x: np.where(x < 0, -1.0, 1.0),                             # THRESHOLD_SYMMETRIC
    3: lambda x: 1.0 / (1.0 + np.exp(-2.0 * x)),                         # SIGMOID
    4: _stepwise((-2.64665246009826660156e+00, -1.47221946716308593750e+00,  # SIGMOID_STEPWISE
                  -5.49306154251098632812e-01, 5.49306154251098632812e-01,
                  1.47221934795379638672e+00, 2.64665293693542480469e+00),
                 (4.99999988824129104614e-03, 5.00000007450580596924e-02,
                  2.50000000000000000000e-01, 7.50000000000000000000e-01,
                  9.49999988079071044922e-01, 9.95000004768371582031e-01), 0.0, 1.0),
    5: lambda x: 2.0 / (1.0 + np.exp(-2.0 * x)) - 1.0,                   # SIGMOID_SYMMETRIC
    6: _stepwise((-2.64665293693542480469e+00, -1.47221934795379638672e+00,
                  -5.49306154251098632812e-01, 5.49306154251098632812e-01,
                  1.47221934795379638672e+00, 2.64665293693542480469e+00),
                 (-9.90000009536743164062e-01, -8.99999976158142089844e-01,
                  -5.00000000000000000000e-01, 5.00000000000000000000e-01,
                  8.99999976158142089844e-01, 9.90000009536743164062e-01), -1.0, 1.0),
    7: lambda x: np.exp(-x * x),                                         # GAUSSIAN
    8: lambda x: np.exp(-x * x) * 2.0 - 1.0,                             # GAUSSIAN_SYMMETRIC
    9: lambda x: np.zeros_like(x),                                       # GAUSSIAN_STEPWISE
    10: lambda x: (x / 2.0) / (1.0 + np.abs(x)) + 0.5,                   # ELLIOT
    11: lambda x: x / (1.0 + np.abs(x)),                                 # ELLIOT_SYMMETRIC
    12: lambda x: np.where(x < 0, 0.0, np.where(x > 1, 1.0, x)),         # LINEAR_PIECE
    13: lambda x: np.where(x < -1, -1.0, np.where(x > 1, 1.0, x)),       # ..._SYMMETRIC
    14: np.sin,                                                          # SIN_SYMMETRIC
    15: np.cos,                                                          # COS_SYMMETRIC
    16: lambda x: np.sin(x) / 2.0 + 0.5,                                 # SIN
    17: lambda x: np.cos(x) / 2.0 + 0.5,                                 # COS
}


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


def _neurons(sizes: list[int], neurons: _Field) -> list[tuple[np.ndarray, np.ndarray]]:
    """Checks every neuron against the layered, fully connected network of `sizes` as
    fann_run computes it; returns, for each layer after the input, the activation function
    codes and steepnesses of its neurons (bias neurons left out: fann_run sets them to 1)."""
    entries = neurons.entries(sum(sizes), _NEURON_FIELDS, "neuron")
    layers: list[tuple[np.ndarray, np.ndarray]] = []
    index = 0
    for l, size in enumerate(sizes):
        functions: list[int] = []
        steepnesses: list[float] = []
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
                if function >= len(_FANN_ACTIVATIONS):
                    # fann_run's switch has no case for it and leaves the neuron's value as it
                    # was: no function of the inputs
                    raise neurons.error(f"{where}: activation_function {function} is none of "
                                        f"FANN's (0 to {len(_FANN_ACTIVATIONS) - 1})")
                functions.append(function)
                steepnesses.append(steepness)
            index += 1
        if l > 0:
            layers.append((np.array(functions, np.intp), np.array(steepnesses, np.float64)))
    return layers


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
