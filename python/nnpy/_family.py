"""The activations in one table: a row per activation carries everything each part of nnpy
needs of it, and every part reads it (as scikit-learn's ACTIVATIONS/DERIVATIVES dicts serve its
MLP). Pure Python and numpy, no compiled code: nnpy.reference builds its formulas from it.

    name        what users pass (Network(activation=...), the files, the CLI)
    formula     f(z) in words, for the docs and --help
    function    f(z) in numpy, elementwise (softmax: over the rows): nnpy.reference's
    derivative  f'(z) in numpy, from z (None for softmax, whose deltas the losses give)
    derivative_of_a  f'(z) as the core computes it from a = f(z), in numpy; None where the core
                takes it from z (the list in activation_kinds.tp says which: "a" or "z")
    init        the default initialisation of a network with these hidden layers
    onnx        the ONNX emitter: (graph, z) -> the name of f(z), built from operators that
                onnxruntime computes in float64 as well as float32 (see nnpy.export)
    c           f(z) as a C expression of `z` for nnpy.export.to_c ({fn}: "f" in float code, ""
                in double; {name}: the header's prefix); c_helper: a function it calls
    fann        (FANN activation code, steepness, factor) for nnpy.fann, or None: FANN has no
                such function (to_fann refuses it)
    sklearn     scikit-learn's name for it, or None (to_sklearn refuses it)
    torch       the torch.nn module computing it with its defaults (the tests' comparison)
    long_double whether its numpy formulas compute in long double (the accuracy tests' exact
                values; numpy has no erf)
    hidden, output  where a network may use it

The compiled core computes the same functions in C: the activation codes and the switches on
them are generated from the list in src/nncore/activation_kinds.tp, the scalar functions are in
src/nncore/nn_math.h. A new activation: its C function and derivative in nn_math.h, its line in
activation_kinds.tp, and its row here; Network, the files, the estimators, the exports, the CLI
and the tests' parametrisations read the table.
"""
from __future__ import annotations

import functools
import math
from dataclasses import dataclass
from typing import Any, Callable, Optional

import numpy as np

__all__ = ["Activation", "ACTIVATIONS", "HIDDEN", "OUTPUTS", "SKLEARN_NAMES", "ESTIMATOR_NAMES"]

Array = np.ndarray


@dataclass(frozen=True)
class Activation:
    """One activation: what the reference, the core's Python side and the exports need."""
    name: str
    formula: str
    function: Callable[[Array], Array]
    derivative: Optional[Callable[[Array], Array]]
    derivative_of_a: Optional[Callable[[Array], Array]]
    init: str
    onnx: Callable[[Any, str], str]
    c: str
    fann: Optional[tuple[int, float, float]]
    sklearn: Optional[str]
    torch: Optional[str] = None
    long_double: bool = True
    hidden: bool = True
    output: bool = False
    c_helper: Optional[str] = None


def _sigmoid(z: Array) -> Array:
    # exp(-log(1 + exp(-z))) in float64: logaddexp never overflows, the exp's argument is <= 0
    return np.exp(-np.logaddexp(0.0, -np.asarray(z, np.float64))).astype(z.dtype)


def _tanh_derivative(z: Array) -> Array:
    t = np.tanh(z)
    return (1 - t) * (1 + t)


def _softmax(z: Array) -> Array:
    e = np.exp(z - z.max(axis=1, keepdims=True))
    return e / e.sum(axis=1, keepdims=True)


def _onnx_elu(g: Any, z: str) -> str:
    # max(z, 0) + expm1(min(z, 0)), expm1(m) as tanh(m/2) * (exp(m) + 1): exact in real
    # arithmetic and without exp(m) - 1's cancellation near 0 (ONNX has no Expm1, onnxruntime no
    # double Elu)
    m = g.op("Min", z, g.const(0.0))
    expm1 = g.op("Mul", g.op("Tanh", g.op("Mul", m, g.const(0.5))),
                 g.op("Add", g.op("Exp", m), g.const(1.0)))
    return g.op("Add", g.op("Max", z, g.const(0.0)), expm1)


def _onnx_softplus(g: Any, z: str) -> str:
    # max(z, 0) + log1p(e), e = exp(-|z|), log1p(e) as log(u) * e / (u - 1) with u = 1 + e
    # (exact to a few ulp, where log(u) alone loses e's digits; e itself where u rounds to 1):
    # onnxruntime has no double Softplus
    e = g.op("Exp", g.op("Neg", g.op("Abs", z)))
    u = g.op("Add", e, g.const(1.0))
    log1p = g.op("Div", g.op("Mul", g.op("Log", u), e), g.op("Sub", u, g.const(1.0)))
    log1p = g.op("Where", g.op("Equal", u, g.const(1.0)), e, log1p)
    return g.op("Add", g.op("Max", z, g.const(0.0)), log1p)

_ERFC = np.frompyfunc(math.erfc, 1, 1)


def _normal_cdf(z: Array) -> Array:
    # Phi(z) = erfc(-z/sqrt(2))/2 by Python's math.erfc (float64: numpy has no erf)
    return np.asarray(0.5 * _ERFC(-np.asarray(z, np.float64) / math.sqrt(2))).astype(
        np.result_type(z.dtype, np.float32) if z.dtype != np.longdouble else np.float64)


_ERFC_REACH = 26.0   # erfc(26) = 5.7e-296: beyond, GELU's left tail is below 1e-293


@functools.lru_cache(maxsize=None)
def _erfc_series() -> tuple[float, tuple[float, ...]]:
    """t0 and the Chebyshev coefficients, over t in [t0, 1], of g(t) = log(erfc(x)/t) + x^2
    with t = 2/(2 + x), x in [0, _ERFC_REACH] (Numerical Recipes' form of erfc: erfc(x) =
    t exp(-x^2 + g(t)), g smooth), interpolated at Chebyshev points from math.erfc."""
    t0 = 2 / (2 + _ERFC_REACH)
    series = np.polynomial.Chebyshev.interpolate(
        lambda t: np.array([math.log(math.erfc(x) / s) + x * x
                            for s, x in zip(t, 2 / t - 2)]), 30, domain=[t0, 1])
    return t0, tuple(series.coef.tolist())


def _onnx_gelu(g: Any, z: str) -> str:
    # z * Phi(z) from erfc(|z|/sqrt(2)) (x clamped to [0, 26]) = t exp(-x^2 + g(t)), g by
    # Clenshaw's recurrence over its Chebyshev series (_erfc_series): onnxruntime has no
    # double Erf. Phi(z) = E/2 for z < 0, 1 - E/2 otherwise.
    t0, coef = _erfc_series()
    x = g.op("Min", g.op("Mul", g.op("Abs", z), g.const(1 / math.sqrt(2))),
             g.const(_ERFC_REACH))
    t = g.op("Div", g.const(2.0), g.op("Add", x, g.const(2.0)))
    y = g.op("Mul", g.op("Sub", t, g.const((t0 + 1) / 2)), g.const(2 / (1 - t0)))
    y2 = g.op("Mul", y, g.const(2.0))
    b1, b2 = g.const(coef[-1]), g.const(0.0)
    for c in reversed(coef[1:-1]):
        b1, b2 = g.op("Add", g.op("Sub", g.op("Mul", y2, b1), b2), g.const(c)), b1
    series = g.op("Add", g.op("Sub", g.op("Mul", y, b1), b2), g.const(coef[0]))
    erfc = g.op("Mul", t, g.op("Exp", g.op("Sub", series, g.op("Mul", x, x))))
    half = g.op("Mul", erfc, g.const(0.5))
    cdf = g.op("Where", g.op("Less", z, g.const(0.0)), half, g.op("Sub", g.const(1.0), half))
    return g.op("Mul", z, cdf)

_SIGMOID_C = """/* 1/(1+exp(-z)), evaluating exp of a non-positive number only (no overflow) */
static inline {T} {name}_sigmoid({T} z)
{{
    {T} e;
    if (z >= 0) {{
        e = exp{fn}(-z);
        return 1 / (1 + e);
    }}
    e = exp{fn}(z);
    return e / (1 + e);
}}
"""

ACTIVATIONS: dict[str, Activation] = {row.name: row for row in [
    Activation(
        "sigmoid", "1/(1+exp(-z))", _sigmoid, lambda z: _sigmoid(z) * _sigmoid(-z),
        lambda a: a * (1 - a), "xavier", onnx=lambda g, z: g.op("Sigmoid", z),
        c="{name}_sigmoid(z)", c_helper=_SIGMOID_C, fann=(3, 0.5, 2.0), sklearn="logistic",
        torch="Sigmoid", output=True),
    Activation(
        "tanh", "tanh(z)", np.tanh, _tanh_derivative, lambda a: (1 - a) * (1 + a), "xavier",
        onnx=lambda g, z: g.op("Tanh", z), c="tanh{fn}(z)", fann=(5, 1.0, 1.0),
        sklearn="tanh", torch="Tanh"),
    Activation(
        "relu", "max(z, 0)", lambda z: np.maximum(z, 0), lambda z: (z > 0).astype(z.dtype),
        lambda a: (a > 0).astype(a.dtype), "he", onnx=lambda g, z: g.op("Relu", z),
        c="(z > 0 ? z : 0)", fann=None, sklearn="relu", torch="ReLU"),
    Activation(
        "identity", "z", lambda z: z, np.ones_like, np.ones_like, "xavier",
        onnx=lambda g, z: z, c="z", fann=(0, 1.0, 1.0), sklearn="identity",
        torch="Identity", output=True),
    Activation(
        "softmax", "exp(z_k)/sum_j exp(z_j) over a row", _softmax, None, None, "xavier",
        onnx=lambda g, z: g.op("Softmax", z, axis=1), c="z", fann=None, sklearn="softmax",
        hidden=False, output=True),
    Activation(
        "leaky_relu", "z for z > 0, else 0.01*z", lambda z: np.where(z > 0, z, 0.01 * z),
        lambda z: np.where(z > 0, 1, 0.01).astype(z.dtype),
        lambda a: np.where(a > 0, 1, 0.01).astype(a.dtype), "he",
        onnx=lambda g, z: g.op("Max", z, g.op("Mul", z, g.const(0.01))),
        c="(z > 0 ? z : 0.01{fn} * z)", fann=None, sklearn=None, torch="LeakyReLU"),
    Activation(
        "elu", "z for z > 0, else exp(z) - 1", lambda z: np.where(z > 0, z, np.expm1(
            np.minimum(z, 0))), lambda z: np.where(z > 0, 1, np.exp(np.minimum(z, 0))),
        lambda a: np.where(a > 0, 1, a + 1), "he", onnx=_onnx_elu,
        c="(z > 0 ? z : expm1{fn}(z))", fann=None, sklearn=None, torch="ELU"),
    Activation(
        "softplus", "log(1 + exp(z))", lambda z: np.maximum(z, 0) + np.log1p(np.exp(-np.abs(z))),
        lambda z: np.exp(-np.logaddexp(0, -z)), lambda a: -np.expm1(-a), "he",
        onnx=_onnx_softplus, c="(fmax{fn}(z, 0) + log1p{fn}(exp{fn}(-fabs{fn}(z))))", fann=None,
        sklearn=None, torch="Softplus"),
    Activation(
        "silu", "z * sigmoid(z)", lambda z: z * np.exp(-np.logaddexp(0, -z)),
        lambda z: np.exp(-np.logaddexp(0, -z)) * (1 + z * np.exp(-np.logaddexp(0, z))), None,
        "he", onnx=lambda g, z: g.op("Mul", z, g.op("Sigmoid", z)),
        c="(z < -80 ? z * exp{fn}(0.5{fn} * z) * exp{fn}(0.5{fn} * z) : z / (1 + exp{fn}(-z)))",
        fann=None, sklearn=None, torch="SiLU"),
    Activation(
        "gelu", "z * Phi(z), Phi the standard normal distribution function (exact, with erf)",
        lambda z: z * _normal_cdf(z), lambda z: _normal_cdf(z) + z * np.exp(-0.5 * z * z) / (
            math.sqrt(2 * math.pi)), None, "he", onnx=_onnx_gelu,
        c="(0.5 * z * erfc(-z * 0.70710678118654752))", fann=None, sklearn=None,
        torch="GELU", long_double=False),
    Activation(
        "exp", "exp(z), the mean of a count (the poisson loss's log link)", np.exp, np.exp,
        lambda a: a, "xavier", onnx=lambda g, z: g.op("Exp", z), c="exp{fn}(z)", fann=None,
        sklearn=None, hidden=False, output=True),
]}

HIDDEN: tuple[str, ...] = tuple(name for name, row in ACTIVATIONS.items() if row.hidden)
OUTPUTS: tuple[str, ...] = tuple(name for name, row in ACTIVATIONS.items() if row.output)
# scikit-learn's MLP's names of the hidden activations it has
SKLEARN_NAMES: frozenset[str] = frozenset(
    row.sklearn for row in ACTIVATIONS.values() if row.hidden and row.sklearn is not None)

# the estimators' (and the CLI's) names of the hidden activations -> nnpy's: scikit-learn's
# name where it has the activation, else nnpy's
ESTIMATOR_NAMES: dict[str, str] = {
    ACTIVATIONS[name].sklearn or name: name for name in HIDDEN}
