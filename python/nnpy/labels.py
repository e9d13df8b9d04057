"""Class labels for nnpy.Network: one-hot encoding and class weights.

    import nnpy
    Y = nnpy.one_hot([0, 2, 1], 3)      # [[1, 0, 0], [0, 0, 1], [0, 1, 0]]

Network.fit, loss, gradients, objective and accuracy take 1-D integer labels wherever they
take a one-hot Y (see Network); class_weight (Network.fit, NNClassifier) weights each sample
by its class, with scikit-learn's meaning.
"""
from __future__ import annotations

import numbers
from typing import Any, Dict, Mapping, Optional, Union

import numpy as np
import numpy.typing as npt

from ._validation import as_array, as_int, check_sample_weight

__all__ = ["one_hot", "class_weights"]

ClassWeight = Union[None, str, Mapping[Any, float]]  # None, "balanced" or {class: weight}


def as_labels(labels: npt.ArrayLike, n_classes: int, name: str = "labels") -> np.ndarray:
    """`labels` as a 1-D np.intp array of class indices in 0..n_classes-1: integers, or floats
    with integral values (as pandas gives them); else ValueError naming `name`."""
    array = as_array(labels, name)  # float64: refuses complex, strings, objects
    if array.ndim != 1:
        raise ValueError(f"{name} must be a 1-D array of class indices, got shape "
                         f"{array.shape}")
    if array.size == 0:
        raise ValueError(f"{name} is empty: it needs at least one label")
    bad = np.flatnonzero(~np.isfinite(array) | (array != np.round(array)))
    if len(bad):
        i = int(bad[0])
        raise ValueError(f"{name} must be integer class indices 0..{n_classes - 1}; got "
                         f"{array[i]!r} at index {i}")
    out_of_range = np.flatnonzero((array < 0) | (array >= n_classes))
    if len(out_of_range):
        i = int(out_of_range[0])
        raise ValueError(f"{name} must be class indices 0..{n_classes - 1} (one per class, "
                         f"{n_classes} classes); got {int(array[i])} at index {i}")
    return array.astype(np.intp)


def one_hot(labels: npt.ArrayLike, n_classes: int,
            dtype: npt.DTypeLike = np.float64) -> np.ndarray:
    """One-hot encoding of class labels.

    Parameters
    ----------
    labels : array-like of shape (n_samples,)
        Class indices 0..n_classes-1 (integers, or floats with integral values).
    n_classes : int
        Number of classes: the columns of the result.
    dtype : float32 or float64, default float64

    Returns
    -------
    ndarray of shape (n_samples, n_classes)
        Row i is 1 in column labels[i] and 0 elsewhere.

    Raises ValueError naming `labels` for labels that are not integers or out of range.

    Examples
    --------
    >>> nnpy.one_hot([2, 0], 3)
    array([[0., 0., 1.],
           [1., 0., 0.]])
    """
    n_classes = as_int(n_classes, "n_classes", 1)
    indices = as_labels(labels, n_classes)
    out = np.zeros((len(indices), n_classes), dtype)
    out[np.arange(len(indices)), indices] = 1
    return out


def classes_of(Y: np.ndarray, name: str = "Y") -> np.ndarray:
    """The class index of each row of checked targets Y (n_samples, n_outputs): for several
    outputs the column of the row's 1 (rows must be one-hot), for one output the value itself
    (0 or 1). ValueError naming `name` for other targets: class weights need classes."""
    if Y.shape[1] == 1:
        values = Y[:, 0]
        bad = np.flatnonzero((values != 0) & (values != 1))
        if len(bad):
            raise ValueError(f"class_weight needs class labels: {name} must be 0 or 1 for one "
                             f"output, got {values[bad[0]]!r} at row {int(bad[0])}")
        return values.astype(np.intp)
    one_hot_rows = ((Y == 0) | (Y == 1)).all(axis=1) & (Y.sum(axis=1) == 1)
    bad = np.flatnonzero(~one_hot_rows)
    if len(bad):
        raise ValueError(f"class_weight needs class labels: {name} must be one-hot rows (or 1-D "
                         f"labels), got {Y[bad[0]].tolist()} at row {int(bad[0])}")
    return Y.argmax(axis=1)


def class_weights(class_weight: ClassWeight, y: npt.ArrayLike, n_classes: int) -> np.ndarray:
    """The weight of each class 0..n_classes-1 (float64), scikit-learn's meaning.

    Parameters
    ----------
    class_weight : None, "balanced" or dict {class index: weight}
        None: every class 1. "balanced": n_samples / (n_present * np.bincount(y)) for the
        n_present classes that occur in y (sklearn.utils.class_weight.compute_class_weight(
        "balanced", classes=np.unique(y), y=y)); classes absent from y get 1 (no sample has
        them). A dict: the weights it gives (finite, >= 0), 1 for classes it leaves out; its
        keys must be class indices.
    y : array-like of shape (n_samples,)
        Class indices 0..n_classes-1.
    n_classes : int

    Returns
    -------
    ndarray of shape (n_classes,)
        Multiply it into the sample weights: ``weights[y]``.

    Examples
    --------
    >>> class_weights("balanced", [0, 0, 0, 1], 2)
    array([0.66666667, 2.        ])
    """
    labels = as_labels(y, n_classes, "y")
    weights = np.ones(n_classes, np.float64)
    if class_weight is None:
        return weights
    if isinstance(class_weight, str):
        if class_weight != "balanced":
            raise ValueError(f"class_weight must be None, 'balanced' or a dict {{class: "
                             f"weight}}, got {class_weight!r}")
        counts = np.bincount(labels, minlength=n_classes)
        present = counts > 0
        weights[present] = len(labels) / (np.count_nonzero(present) *
                                          counts[present].astype(np.float64))
        return weights
    if not isinstance(class_weight, Mapping):
        raise TypeError(f"class_weight must be None, 'balanced' or a dict {{class: weight}}, "
                        f"got {type(class_weight).__name__}")
    given: Dict[int, float] = {}
    for key, value in class_weight.items():
        if isinstance(key, (bool, np.bool_)) or not isinstance(key, numbers.Integral) or \
                not 0 <= int(key) < n_classes:
            raise ValueError(f"class_weight's keys must be class indices 0..{n_classes - 1}, "
                             f"got {key!r}")
        if isinstance(value, (bool, np.bool_)) or not isinstance(value, numbers.Real) or \
                not np.isfinite(float(value)) or float(value) < 0:
            raise ValueError(f"class_weight[{key!r}] must be a finite number >= 0, got "
                             f"{value!r}")
        given[int(key)] = float(value)
    for key, value in given.items():
        weights[key] = value
    return weights


def weighted_samples(class_weight: ClassWeight, classes: np.ndarray, n_classes: int,
                     sample_weight: Optional[npt.ArrayLike]) -> np.ndarray:
    """sample_weight (None: every sample 1) multiplied by each sample's class weight
    (class_weights), in float64: what fit trains with for class_weight."""
    per_sample = class_weights(class_weight, classes, n_classes)[classes]
    if sample_weight is None:
        return per_sample
    return check_sample_weight(sample_weight, len(classes)) * per_sample
