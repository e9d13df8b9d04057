"""A network's initial weights and biases: one drawing function per init name (the table
`INITIALIZERS`), used by Network (and so by every member of a NetworkStack). nnpy.reference
keeps its own plain formula of the same draws; a test holds the two to the same arrays.

    "uniform01"      the post's: weights and biases uniform in [0, 1)
    "normal"         Nielsen's network.py: standard normal
    "scaled_normal"  Nielsen's network2: weights N(0, 1/sqrt(n_in)), biases N(0, 1)
    "xavier"         Glorot uniform as scikit-learn's MLP: weights and biases uniform in
                     +-sqrt(2/(n_in+n_out)) for sigmoid hidden layers, +-sqrt(6/(n_in+n_out))
                     for the others (every layer by the hidden activation)
    "he"             He et al.: weights N(0, 2/n_in), biases 0; for ReLU
"""
from __future__ import annotations

from typing import Callable, Dict, List, Sequence, Tuple

import numpy as np
import numpy.typing as npt

__all__ = ["INITIALIZERS", "draw"]

Layer = Tuple[np.ndarray, np.ndarray]   # (weights (n_out, n_in), biases (n_out,)) in float64
Drawing = Callable[[np.random.Generator, int, int, str], Layer]  # (rng, n_in, n_out, activation)


def _uniform01(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> Layer:
    return rng.random((n_out, n_in)), rng.random(n_out)


def _normal(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> Layer:
    return rng.standard_normal((n_out, n_in)), rng.standard_normal(n_out)


def _scaled_normal(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> Layer:
    return rng.standard_normal((n_out, n_in)) / np.sqrt(n_in), rng.standard_normal(n_out)


def _xavier(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> Layer:
    # scikit-learn's factor: 2 for a logistic network, 6 otherwise
    bound = np.sqrt((2.0 if activation == "sigmoid" else 6.0) / (n_in + n_out))
    return rng.uniform(-bound, bound, (n_out, n_in)), rng.uniform(-bound, bound, n_out)


def _he(rng: np.random.Generator, n_in: int, n_out: int, activation: str) -> Layer:
    return rng.standard_normal((n_out, n_in)) * np.sqrt(2.0 / n_in), np.zeros(n_out)


# init name -> how one layer is drawn (in float64, weights before biases)
INITIALIZERS: Dict[str, Drawing] = {
    "xavier": _xavier, "he": _he, "uniform01": _uniform01, "normal": _normal,
    "scaled_normal": _scaled_normal,
}


def draw(sizes: Sequence[int], init: str, rng: np.random.Generator, dtype: npt.DTypeLike,
         activation: str) -> Tuple[List[np.ndarray], List[np.ndarray]]:
    """([W_0, W_1, ...], [b_0, b_1, ...]) for layer widths `sizes`, drawn layer after layer
    from `rng` as `init` says (a checked name), in dtype."""
    layer = INITIALIZERS[init]
    weights, biases = [], []
    for n_in, n_out in zip(sizes[:-1], sizes[1:]):
        w, b = layer(rng, int(n_in), int(n_out), activation)
        weights.append(w.astype(dtype))
        biases.append(b.astype(dtype))
    return weights, biases
