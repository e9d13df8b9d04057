"""The blog post's API, unchanged for its users, with the arithmetic in the compiled core.

    from nnpy import sigmoid, sigmoid_prime, cost, init_net, forwardPass, backPropogation

runs the post's XOR script as it is. The dicts hold ordinary float64 numpy arrays under the
post's keys (see docs/post-api.md); `backPropogation` keeps the post's order of updates, so its
numbers are the post's. nnpy.reference has the same functions in plain numpy.
"""
from __future__ import annotations

import sys
import warnings
from typing import Any, Callable, Dict, List, Sequence, Tuple, Union

import numpy as np
import numpy.typing as npt

from . import _post
from ._dispatch import core
from ._validation import as_array, as_float, as_int, check_finite

__all__ = ["sigmoid", "sigmoid_prime", "cost", "init_net", "forwardPass", "backPropogation"]

Params = Dict[str, Any]  # the post's dict: "metadata", "theta", "forwardPass", "deltas", ...
Float64 = npt.NDArray[np.float64]


def _elementwise(kernel: Callable[[Float64, Float64], None],
                 x: npt.ArrayLike) -> Union[Float64, float]:
    array = as_array(x, "x")  # +-inf are fine (0 or 1); NaN gives NaN, as numpy's formula does
    out = np.empty(array.shape)
    kernel(array.reshape(-1), out.reshape(-1))
    return out.reshape(np.shape(x))[()] if np.ndim(x) == 0 else out


def sigmoid(x: npt.ArrayLike) -> Union[Float64, float]:
    """1/(1+exp(-x)) elementwise, for a scalar or an array of any shape; no overflow warning."""
    return _elementwise(core.sigmoid_array, x)


def sigmoid_prime(x: npt.ArrayLike) -> Union[Float64, float]:
    """sigmoid(x) * (1 - sigmoid(x)) elementwise."""
    return _elementwise(core.sigmoid_prime_array, x)


def cost(y_hat: npt.ArrayLike, y: npt.ArrayLike) -> float:
    """Mean of the squared differences of y_hat and y (broadcast together), as in the post."""
    a, b = np.broadcast_arrays(as_array(y_hat, "y_hat"), as_array(y, "y"))
    if a.size == 0:
        raise ValueError("cost needs at least one value; y_hat and y are empty")
    a, b = np.ascontiguousarray(a).reshape(-1), np.ascontiguousarray(b).reshape(-1)
    return core.sum_squared_difference(a, b) / a.size


def init_net(inputSize: int, layers: int, outputSize: int,
             rng: Union[int, np.random.Generator, None] = None) -> Params:
    """A dict network as the post's: `layers` sigmoid layers, all `inputSize` wide but the last
    (`outputSize`); weights and biases uniform in [0, 1), drawn W_0, B_0, W_1, B_1, ... from
    numpy's global generator (so np.random.seed gives the post's weights), or from `rng`
    (a numpy Generator or seed) when given."""
    inputSize = as_int(inputSize, "inputSize", 1)
    layers = as_int(layers, "layers", 1)
    outputSize = as_int(outputSize, "outputSize", 1)
    draw: Callable[..., Any]  # draw(*shape): uniform [0, 1) values of that shape
    if rng is None:
        draw = np.random.rand
    else:
        generator = rng if isinstance(rng, np.random.Generator) else np.random.default_rng(rng)
        draw = lambda *shape: generator.random(shape)  # noqa: E731
    params: Params = {"metadata": {"inputSize": inputSize, "outputSize": outputSize, "n_layers": layers}}
    theta: Dict[str, Float64] = {}
    for idx in range(layers):
        n_out = outputSize if idx == layers - 1 else inputSize
        # interned keys: nnpy._post looks them up with the same (interned) objects, which a dict
        # lookup matches by identity without comparing characters
        theta[sys.intern("W_" + str(idx))] = draw(n_out, inputSize)
        theta[sys.intern("B_" + str(idx))] = np.array([draw(n_out)]).T
    params["theta"] = theta
    return params


def network_params(sizes: Sequence[int], activation: str, output: str,
                   weights: Sequence[np.ndarray], biases: Sequence[np.ndarray]) -> Params:
    """A network's layers as the post's dict (init_net's layout, in float64): Network.to_params.
    ValueError unless the post's format holds it: sigmoid layers, every hidden layer as wide as
    the input."""
    n_in = sizes[0]
    if output != "sigmoid" or activation != "sigmoid" or any(s != n_in for s in sizes[1:-1]):
        raise ValueError("the post's dict format holds sigmoid networks whose hidden layers "
                         f"are all as wide as the input ({n_in}); this one is {tuple(sizes)} "
                         f"with {activation} hidden and {output} output layers")
    theta = {}
    for l, (w, b) in enumerate(zip(weights, biases)):
        theta["W_%d" % l] = w.astype(np.float64)
        theta["B_%d" % l] = b.astype(np.float64).reshape(-1, 1)
    metadata = {"inputSize": n_in, "outputSize": sizes[-1], "n_layers": len(sizes) - 1}
    return {"metadata": metadata, "theta": theta}


def _network(params: Params,
             written: bool = False) -> Tuple[int, List[Float64], List[Float64]]:
    """(n_layers, [W_l], [B_l]) of a post-style params dict, every shape checked; `written`:
    the arrays are about to be updated in place, so they must be writeable and must not
    overlap themselves (as numpy's `-=` refuses a read-only array, before anything changes)."""
    if not isinstance(params, dict) or "metadata" not in params or "theta" not in params:
        raise TypeError("params must be the dict made by init_net (keys 'metadata' and 'theta')")
    meta, theta = params["metadata"], params["theta"]
    for name, value in (("metadata", meta), ("theta", theta)):
        if not isinstance(value, dict):
            raise TypeError(f"params[{name!r}] must be a dict (as init_net makes), got "
                            f"{type(value).__name__}")
    try:
        n_layers = as_int(meta["n_layers"], "params['metadata']['n_layers']", 1)
        n_in = as_int(meta["inputSize"], "params['metadata']['inputSize']", 1)
        n_out = as_int(meta["outputSize"], "params['metadata']['outputSize']", 1)
    except KeyError as err:
        raise ValueError(f"params['metadata'] is missing {err}") from None
    weights: List[Float64] = []
    biases: List[Float64] = []
    for l in range(n_layers):
        rows = n_out if l == n_layers - 1 else n_in
        for key, shape, store in (("W_%d" % l, (rows, n_in), weights), ("B_%d" % l, (rows, 1), biases)):
            if key not in theta:
                raise ValueError(f"params['theta'] has no {key!r}")
            value = theta[key]
            if not isinstance(value, np.ndarray) or value.dtype != np.float64:
                raise TypeError(f"params['theta'][{key!r}] must be a float64 numpy array "
                                f"(it is updated in place), got {type(value).__name__}"
                                f"{' of ' + str(value.dtype) if isinstance(value, np.ndarray) else ''}")
            if value.shape != shape:
                raise ValueError(f"params['theta'][{key!r}] has shape {value.shape}; expected {shape}")
            if written and not value.flags.writeable:
                raise ValueError(f"params['theta'][{key!r}] is read-only (a memory map opened "
                                 f"with mode 'r', or setflags(write=False)): backPropogation "
                                 f"updates it in place; pass a writeable copy (np.array(...))")
            if written and _post.overlaps_itself(value):
                raise ValueError(f"params['theta'][{key!r}] has elements that share memory (a "
                                 f"broadcast or as_strided view, strides {value.strides}): "
                                 f"backPropogation updates it in place; pass a copy "
                                 f"(np.array(...))")
            store.append(value)
    return n_layers, weights, biases


def _column(value: npt.ArrayLike, name: str, size: int) -> Float64:
    array = as_array(value, name)
    if array.size != size or (array.ndim == 2 and 1 not in array.shape) or array.ndim > 2:
        raise ValueError(f"{name} must hold {size} values (1-D or a column), got shape {array.shape}")
    check_finite(array, name)
    return array.reshape(size, 1)


def _work(m: int, n: int, k: int) -> Float64:
    return np.empty(core.matmul_work_size(m, n, k))


# forwardPass and backPropogation are compiled (nnpy._post): the post calls them once per
# sample, so the dict walking and checks around the arithmetic must be C too. They hand
# anything irregular to the Python versions below.
forwardPass = _post.forwardPass
backPropogation = _post.backPropogation


# The same two functions in Python over the core's kernels: they take whatever the compiled
# glue finds irregular, convert what can be converted and raise clear errors.

def _forward_pass(x: npt.ArrayLike, y: npt.ArrayLike, params: Params) -> Params:
    n_layers, weights, biases = _network(params)
    a = _column(x, "x", weights[0].shape[1])
    target = _column(y, "y", weights[-1].shape[0])
    done = _post.try_forward(a, target, params)  # the compiled path, now that x and y are regular
    if done is not None:
        return done
    forward = {}
    for l, (w, b) in enumerate(zip(weights, biases)):
        forward["A_prev" + str(l)] = a
        z = np.empty((w.shape[0], 1))
        a = np.empty((w.shape[0], 1))
        core.layer_forward(w, b, forward["A_prev" + str(l)], z, a, _work(w.shape[0], 1, w.shape[1]))
        forward["Z_" + str(l)] = z
        forward["A_" + str(l)] = a
    error = target.copy()
    core.axpy(-1.0, a, error)
    forward["error"] = error
    params["forwardPass"] = forward
    return params


def _overflow(key: str, lr: float, stacklevel: int = 2) -> None:
    """What numpy's `theta[key] -= lr * d_theta` does when it overflows: a RuntimeWarning (or
    nothing, or FloatingPointError, as np.seterr/np.errstate say); the update has happened."""
    mode = np.geterr()["over"]
    message = (f"overflow encountered in backPropogation: the update made "
               f"params['theta'][{key!r}] infinite (lr={lr!r} is too large)")
    if mode == "raise":
        raise FloatingPointError(message)
    if mode != "ignore":
        warnings.warn(message, RuntimeWarning, stacklevel=stacklevel)


def _update(lr: float, step: Float64, array: Float64, key: str) -> None:
    """array -= lr * step in place (the core's axpy), reporting an overflow as numpy would."""
    was_finite = np.isfinite(array).all()
    core.axpy(-lr, step, array)
    if was_finite and not np.isfinite(array).all():
        _overflow(key, lr, stacklevel=4)  # the caller of backPropogation


def _back_propagation(params: Params, lr: float, update: bool, debug: bool) -> Params:
    n_layers, weights, biases = _network(params, written=update)
    forward = params.get("forwardPass")
    if not isinstance(forward, dict) or "error" not in forward:
        raise ValueError("params has no forward pass: call forwardPass(x, y, params) first")
    for l, w in enumerate(weights):
        for key, rows in (("A_prev%d" % l, w.shape[1]), ("Z_%d" % l, w.shape[0])):
            value = forward.get(key)
            if not isinstance(value, np.ndarray) or value.shape != (rows, 1) or value.dtype != np.float64:
                raise ValueError(f"params['forwardPass'][{key!r}] must be a float64 ({rows}, 1) "
                                 f"column: call forwardPass again")
    error = forward["error"]
    if not isinstance(error, np.ndarray) or error.shape != (weights[-1].shape[0], 1):
        raise ValueError("params['forwardPass']['error'] has the wrong shape: call forwardPass again")
    params["metadata"]["learningRate"] = lr
    deltas, d_theta = {}, {}
    delta = None
    for l in reversed(range(n_layers)):
        z = forward["Z_" + str(l)]
        a_prev = forward["A_prev" + str(l)]
        new_delta = np.empty_like(z)
        if l == n_layers - 1:
            core.delta_times_sigmoid_prime(-1.0, error, z, new_delta)
        else:
            w_next = weights[l + 1]  # already updated when `update`: the post's order
            back = np.empty_like(z)
            core.matmul(1.0, w_next.T, delta, 0.0, back, _work(w_next.shape[1], 1, w_next.shape[0]))
            core.delta_times_sigmoid_prime(1.0, back, z, new_delta)
        delta = new_delta
        dw = np.empty(weights[l].shape)
        core.matmul(1.0, delta, a_prev.T, 0.0, dw, _work(len(delta), len(a_prev), 1))
        deltas["delta_" + str(l)] = delta
        d_theta["d_theta_" + str(l)] = dw
        if update:
            _update(lr, dw, weights[l], "W_%d" % l)
            _update(lr, delta, biases[l], "B_%d" % l)
        if debug:
            if l == n_layers - 1:
                print(delta, dw)
            else:
                print(delta)
    params["deltas"] = deltas
    params["d_theta"] = d_theta
    return params


_post.set_fallbacks(_forward_pass, _back_propagation,
                    lambda lr: as_float(lr, "lr", positive=True), _overflow)
