"""Sparse inputs: scipy.sparse matrices and arrays as X, checked and converted to the core's
CSR rows (core.CsrRows) without densifying them. scipy is not a dependency of nnpy: an object
counts as sparse when its type comes from scipy.sparse and it has ``tocsr`` (scipy is then
imported already), so nothing here imports scipy."""
from __future__ import annotations

from typing import Any, Dict, Optional, Tuple, Union, cast

import numpy as np
import numpy.typing as npt

from ._dispatch import core
from ._validation import as_matrix

# the core's X when the rows are sparse (not read)
_NO_ROWS: Dict[Any, np.ndarray] = {np.dtype(np.float32): np.empty((0, 0), np.float32),
                                   np.dtype(np.float64): np.empty((0, 0), np.float64)}


def is_sparse(X: Any) -> bool:
    """True for a scipy.sparse matrix or array (any format) and for checked CSR rows."""
    if isinstance(X, core.CsrRows):
        return True
    return type(X).__module__.startswith("scipy.sparse") and hasattr(X, "tocsr")


def as_csr_rows(X: Any, name: str, dtype: npt.DTypeLike, n_cols: Optional[int]) -> Any:
    """X (sparse, see is_sparse) as core.CsrRows of `dtype`: 2-D, at least one row, n_cols
    columns when given, finite stored values, canonical (sorted indices, no duplicates: summed
    on a copy when X has them, as scipy's sum_duplicates does). X itself is never changed."""
    dtype = np.dtype(dtype)
    if isinstance(X, core.CsrRows):
        if X.data.dtype != dtype:
            X = core.CsrRows(X.data.astype(dtype), X.indices, X.indptr, X.n_cols)
        shape: Tuple[int, ...] = X.shape
    else:
        shape = tuple(X.shape)
    if len(shape) != 2:
        raise ValueError(f"{name} must be a 2-D sparse matrix (n_samples, n_features), got "
                         f"{len(shape)}-D with shape {shape}")
    if shape[0] == 0:
        raise ValueError(f"{name} is empty: it needs at least one sample, got shape {shape}")
    if n_cols is not None and shape[1] != n_cols:
        raise ValueError(f"{name} has {shape[1]} columns; expected shape (n_samples, {n_cols})")
    if isinstance(X, core.CsrRows):
        return X
    csr = X.tocsr()
    if not csr.has_canonical_format:
        csr = csr.copy()  # sum_duplicates works in place; X stays the caller's
        csr.sum_duplicates()
    if csr.data.dtype.kind not in "biuf":
        raise ValueError(f"{name} must hold real numbers, got dtype {csr.data.dtype}")
    data = np.ascontiguousarray(csr.data, dtype=dtype)
    if data.size and not np.isfinite(data).all():
        bad = int(np.flatnonzero(~np.isfinite(data))[0])
        row = int(np.searchsorted(csr.indptr, bad, side="right")) - 1
        what = "NaN" if np.isnan(data[bad]) else "infinity"
        raise ValueError(f"{name} contains {what} (first at index ({row}, "
                         f"{int(csr.indices[bad])})); inputs must be finite")
    indices = csr.indices
    if indices.dtype not in (np.int32, np.int64):
        indices = indices.astype(np.int64)
    return core.CsrRows(data, indices, csr.indptr, shape[1])


def as_rows(X: Any, name: str, dtype: npt.DTypeLike, n_cols: Optional[int],
            allow_1d: bool = False) -> Tuple[np.ndarray, bool]:
    """as_matrix for dense X, as_csr_rows for sparse X: (rows, single sample given). CSR rows
    are typed as an ndarray: callers take only len() of them and pass them to the core."""
    if is_sparse(X):
        return as_csr_rows(X, name, dtype, n_cols), False
    return as_matrix(X, name, dtype, n_cols, allow_1d=allow_1d)


def dense_x(X: Union[np.ndarray, Any]) -> np.ndarray:
    """The core's X for checked rows: X itself when dense, else a (0, 0) stand-in."""
    return _NO_ROWS[X.data.dtype] if isinstance(X, core.CsrRows) else cast(np.ndarray, X)


def sparse_kw(X: Union[np.ndarray, Any]) -> Dict[str, Any]:
    """The core's keyword for checked rows: {"sparse_x": X} when sparse, else none."""
    return {"sparse_x": X} if isinstance(X, core.CsrRows) else {}


def largest_magnitude(X: Any) -> float:
    """max |X| over checked rows (0 for sparse rows that store nothing)."""
    values = X.data if isinstance(X, core.CsrRows) else X
    return float(np.abs(values).max(initial=0))
