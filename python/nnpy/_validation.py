"""Input checks shared by every public entry point.

The compiled core runs without bounds checks, so nothing reaches it before these functions
have turned the input into a C-contiguous finite array of the right dtype and shape, or raised
a ValueError/TypeError that names the argument and says what was expected.
"""
from __future__ import annotations

import numbers
import operator
from typing import Any, Optional, Sequence, SupportsIndex, cast

import numpy as np
from numpy.typing import ArrayLike, DTypeLike, NDArray

FLOAT_DTYPES = (np.dtype(np.float32), np.dtype(np.float64))


def as_dtype(dtype: DTypeLike) -> np.dtype[Any]:
    """np.float32 or np.float64 (any spelling numpy accepts), else TypeError."""
    try:
        resolved = np.dtype(dtype)
    except (TypeError, ValueError):
        resolved = None
    # `is None` first: numpy compares a dtype equal to None (np.dtype(None) is float64), so
    # `None in FLOAT_DTYPES` would be True and let an unknown dtype through
    if resolved is None or not any(resolved == d for d in FLOAT_DTYPES):
        raise TypeError(f"dtype must be float32 or float64, got {dtype!r}")
    return resolved


def as_array(value: ArrayLike, name: str, dtype: DTypeLike = np.float64) -> np.ndarray:
    """`value` as a C-contiguous numpy array of `dtype`: numbers, bools and ints are converted
    (any order or strides); complex, object, string and ragged data raise TypeError/ValueError
    naming `name`, and so do numbers too large for `dtype` (never a silent infinity, never a
    RuntimeWarning)."""
    dtype = np.dtype(dtype)
    if isinstance(value, np.ndarray):
        array = value
    else:
        try:
            array = np.asarray(value)
        except ValueError as err:  # ragged nested sequences
            raise ValueError(f"{name} must be a rectangular array of numbers: {err}") from None
        except OverflowError as err:  # a Python int beyond every numpy integer type
            raise ValueError(f"{name} holds a number too large for {dtype.name}: {err}") \
                from None
    kind = array.dtype.kind
    if kind == "c":
        raise TypeError(f"{name} must be real numbers, got complex ({array.dtype})")
    if kind not in "biuf":
        if kind == "O" and array.size and all(isinstance(v, numbers.Real) for v in array.flat):
            try:
                with np.errstate(over="ignore", invalid="ignore"):
                    array = array.astype(np.float64)
            except (OverflowError, TypeError, ValueError) as err:
                raise ValueError(f"{name} holds a number that is not a float64: {err}") from None
            kind = "f"
        else:
            raise TypeError(f"{name} must be an array of real numbers, got dtype {array.dtype}")
    if kind == "f" and array.dtype.itemsize > dtype.itemsize:
        # a narrowing cast (float64 -> float32, longdouble -> float64): values beyond the
        # target's range would become infinity, with a RuntimeWarning
        with np.errstate(over="ignore", invalid="ignore"):
            result = np.ascontiguousarray(array, dtype=dtype)
        if _has_nonfinite(result):
            lost = np.isfinite(array) & ~np.isfinite(result)
            if lost.any():
                index = np.unravel_index(np.flatnonzero(lost)[0], array.shape)
                raise ValueError(f"{name} holds {float(array[index])!r} (first at index "
                                 f"{tuple(int(i) for i in index)}), beyond the range of "
                                 f"{dtype.name} (largest {float(np.finfo(dtype).max):.4g})")
        return result
    return np.ascontiguousarray(array, dtype=dtype)


def _has_nonfinite(array: np.ndarray) -> bool:
    if array.dtype in FLOAT_DTYPES and array.flags.c_contiguous:
        # counted by the core: no temporary as large as the data (np.isfinite makes one)
        from ._dispatch import core
        return bool(core.count_nonfinite(array.reshape(-1)) > 0)
    return not np.isfinite(array).all()


def check_finite(array: np.ndarray, name: str) -> None:
    """ValueError if `array` holds NaN or infinity, saying which and where."""
    if array.dtype.kind == "f" and _has_nonfinite(array):
        bad = np.flatnonzero(~np.isfinite(array.ravel()))[0]
        what = "NaN" if np.isnan(array.ravel()[bad]) else "infinity"
        where = np.unravel_index(bad, array.shape) if array.ndim else ()
        raise ValueError(f"{name} contains {what} (first at index {tuple(int(i) for i in where)}); "
                         f"inputs must be finite")


def as_matrix(value: ArrayLike, name: str, dtype: DTypeLike = np.float64,
              n_cols: Optional[int] = None, allow_1d: bool = False) -> tuple[np.ndarray, bool]:
    """A finite, C-contiguous, non-empty 2-D array of `dtype` with `n_cols` columns when given.
    With allow_1d, a 1-D input is one sample (a single row); the second value returned says
    whether that happened."""
    array = as_array(value, name, dtype)
    single = False
    if array.ndim == 1 and allow_1d:
        array, single = array.reshape(1, -1), True
    if array.ndim != 2:
        want = "a 2-D array (n_samples, n_features) or one 1-D sample" if allow_1d else \
            "a 2-D array (n_samples, n_features)"
        raise ValueError(f"{name} must be {want}, got {array.ndim}-D with shape {array.shape}")
    if array.shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample, got shape {array.shape}")
    if n_cols is not None and array.shape[1] != n_cols:
        raise ValueError(f"{name} has {array.shape[1]} columns; expected shape "
                         f"(n_samples, {n_cols})")
    check_finite(array, name)
    return array, single


def as_targets(value: ArrayLike, name: str, n_rows: int, n_cols: int,
               dtype: DTypeLike = np.float64) -> np.ndarray:
    """Targets for n_rows samples and n_cols outputs: (n_rows, n_cols), or 1-D when n_cols == 1
    (or when a single sample was given)."""
    array = as_array(value, name, dtype)
    if array.ndim == 1 and (n_cols == 1 or n_rows == 1):
        if n_cols == 1 and len(array) != n_rows:
            raise ValueError(f"{name} has {len(array)} values but X has {n_rows} rows: "
                             f"len(X) must equal len({name})")
        array = array.reshape(n_rows if n_cols == 1 else 1, -1)
    if array.ndim != 2:
        raise ValueError(f"{name} must be a 2-D array ({n_rows}, {n_cols}), got {array.ndim}-D "
                         f"with shape {array.shape}")
    if array.shape[0] != n_rows:
        raise ValueError(f"{name} has {array.shape[0]} rows but X has {n_rows}: "
                         f"len(X) must equal len({name})")
    if array.shape[1] != n_cols:
        raise ValueError(f"{name} has {array.shape[1]} columns; expected shape ({n_rows}, {n_cols})")
    check_finite(array, name)
    return array


def as_vector(values: ArrayLike, name: str, length: int, dtype: DTypeLike = np.float64) -> np.ndarray:
    """A finite 1-D vector of `length` values in `dtype` (a flat parameter vector)."""
    flat = as_array(values, name, dtype)
    if flat.shape != (length,):
        raise ValueError(f"{name} must be a vector of {length} values (weights and biases), "
                         f"got shape {flat.shape}")
    check_finite(flat, name)
    return flat


def check_sample_weight(value: ArrayLike, n: int) -> np.ndarray:
    """sample_weight for n rows as a float64 vector, as scikit-learn's _check_sample_weight
    reads it (a scalar is that weight for every row), refused with a ValueError naming it
    unless a weighted mean is defined: finite, non-negative, not all zero."""
    weights = as_array(value, "sample_weight", np.float64)
    if isinstance(value, numbers.Number) or (isinstance(value, np.ndarray) and value.ndim == 0):
        weights = np.full(n, weights.reshape(()), np.float64)  # (as_array gives it a dimension)
    if weights.ndim != 1 or len(weights) != n:
        raise ValueError(f"sample_weight must be a scalar or 1-D with one weight per sample "
                         f"({n} values, one per row of X), got shape {weights.shape}")
    check_finite(weights, "sample_weight")
    if weights.min() < 0:
        raise ValueError(f"sample_weight must be >= 0 (non-negative), got "
                         f"{float(weights.min())!r} at index {int(np.argmin(weights))}")
    if not weights.max() > 0:
        raise ValueError("sample_weight: the weights are all zero; at least one row needs a "
                         "positive weight")
    return weights


def as_sample_weight(value: Optional[ArrayLike], n: int,
                     dtype: DTypeLike = np.float64) -> tuple[np.ndarray, float]:
    """(weights, scale): sample_weight checked (check_sample_weight) and divided by `scale`,
    the power of two that brings the largest weight into [1, 2), in `dtype`; for None an empty
    array (every weight 1) and 1.0.

    A weighted mean sum(w_i l_i) / sum(w_i) does not change when every weight is scaled, but
    its arithmetic does: weights near the float range's ends overflow the sums or underflow
    the products. Scaled by a power of two the weights are exact (a weight within [1, 2) is
    unchanged), so losses and gradients are those of the weights as given, bit for bit, and
    whatever their scale. What is not scale-free, scikit-learn's alpha penalty divided by
    sum(w_i), takes alpha / scale (see scaled_alpha). A positive weight so much smaller than
    the largest that it would become 0 in `dtype` is refused."""
    dtype = np.dtype(dtype)
    if value is None:
        return np.empty(0, dtype), 1.0
    weights = check_sample_weight(value, n)
    exponent = int(np.frexp(weights.max())[1]) - 1   # largest = m * 2**exponent, m in [1, 2)
    scaled = np.ldexp(weights, -exponent)
    result = scaled.astype(dtype)
    lost = (weights > 0) & (result == 0)
    if lost.any():
        i = int(np.flatnonzero(lost)[0])
        raise ValueError(
            f"sample_weight[{i}] = {float(weights[i])!r} is positive but so much smaller than "
            f"the largest weight ({float(weights.max())!r}) that it counts as 0 in "
            f"{dtype.name} (a ratio below {float(np.finfo(dtype).smallest_subnormal):.3g}); "
            f"set such weights to 0 or raise them")
    return result, float(np.ldexp(1.0, exponent))


def scaled_alpha(alpha: float, scale: float, dtype: DTypeLike) -> float:
    """alpha for weights divided by `scale` (as_sample_weight): the penalty
    0.5 * alpha * sum(W**2) / sum(w_i) stays the same. ValueError when that alpha is beyond
    `dtype`'s range (weights so small that the penalty outweighs any loss by more)."""
    result = alpha / scale
    if not result <= float(np.finfo(np.dtype(dtype)).max):
        raise ValueError(f"alpha={alpha!r} with sample_weight this small (largest weight about "
                         f"{scale:.3g}) makes the penalty alpha * sum(W**2) / sum(sample_weight)"
                         f" overflow {np.dtype(dtype).name}: lower alpha or raise the weights")
    return result


def as_int(value: object, name: str, minimum: int) -> int:
    """An int >= minimum (bools and non-integral floats rejected), else TypeError/ValueError."""
    if isinstance(value, (bool, np.bool_)):
        raise TypeError(f"{name} must be an integer, got {value!r}")
    try:
        # cast: whether value has __index__ is what this asks; a TypeError is the answer no
        result = operator.index(cast(SupportsIndex, value))
    except TypeError:
        raise TypeError(f"{name} must be an integer, got {type(value).__name__} {value!r}") from None
    if result < minimum:
        raise ValueError(f"{name} must be at least {minimum}, got {result}")
    return result


def as_float(value: object, name: str, minimum: Optional[float] = None, positive: bool = False,
             below: Optional[float] = None, maximum: Optional[float] = None) -> float:
    """A finite real number; `positive`: > 0; `minimum`: >= minimum; `below`: < below;
    `maximum`: <= maximum."""
    if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real):
        raise TypeError(f"{name} must be a real number, got {type(value).__name__} {value!r}")
    try:
        result = float(value)
    except OverflowError:  # a huge int or Fraction
        raise ValueError(f"{name} must be finite, got {value!r}") from None
    if not np.isfinite(result):
        raise ValueError(f"{name} must be finite, got {result}")
    if positive and result <= 0:
        raise ValueError(f"{name} must be > 0, got {result}")
    if minimum is not None and result < minimum:
        raise ValueError(f"{name} must be >= {minimum}, got {result}")
    if below is not None and result >= below:
        raise ValueError(f"{name} must be < {below}, got {result}")
    if maximum is not None and result > maximum:
        raise ValueError(f"{name} must be <= {maximum}, got {result}")
    return result


MAX_PARAMS = 1 << 40  # weights + biases: far beyond memory, far below Py_ssize_t overflow


def as_sizes(sizes: Sequence[int] | np.ndarray) -> NDArray[np.intp]:
    """Layer widths: a sequence of at least two integers >= 1, as an np.intp array."""
    if isinstance(sizes, (str, bytes)) or not hasattr(sizes, "__len__") or \
            (isinstance(sizes, np.ndarray) and sizes.ndim != 1):
        raise TypeError(f"sizes must be a sequence of layer widths like [64, 32, 10], got {sizes!r}")
    if len(sizes) < 2:
        raise ValueError(f"sizes needs at least two widths (inputs, outputs), got {list(sizes)}")
    widths = [as_int(s, f"sizes[{i}]", 1) for i, s in enumerate(sizes)]
    # the core counts parameters and workspace in Py_ssize_t: refuse sizes that could overflow it
    n_params = sum(n_out * (n_in + 1) for n_in, n_out in zip(widths[:-1], widths[1:]))
    if n_params > MAX_PARAMS or max(widths) > MAX_PARAMS:
        raise ValueError(f"sizes {widths} need {n_params} weights and biases; at most "
                         f"{MAX_PARAMS} are supported")
    return np.array(widths, dtype=np.intp)


def choice(value: object, name: str, options: Sequence[str]) -> str:
    """`value` if it is one of `options` (strings), else ValueError listing them."""
    if not isinstance(value, str) or value not in options:
        raise ValueError(f"{name} must be one of {', '.join(map(repr, options))}; got {value!r}")
    return value
