"""Samples with a shape: images ``(C, H, W)`` and sequences ``(C, T)`` as scikit-learn rows.

scikit-learn's ``X`` is 2-D; a row of an image or a sequence is its C-order
flattening and ``input_shape`` (channels first, as torch) says how the network
views it. Arrays of rank 3 or 4 are accepted too: they are reshaped into rows
(a view when the array is C-contiguous) *before* scikit-learn's validation,
which rejects more than two dimensions. A torch tensor NumPy cannot convert is
refused here too (:func:`check_tensor`).
"""

import math
from numbers import Integral

import numpy as np
import scipy.sparse as sp
import torch

#: Ranks of ``X`` accepted besides 2: ``(n_samples, C, T)`` and ``(n_samples, C, H, W)``.
_SAMPLE_RANKS = (2, 3)


def check_tensor(X, name="X"):
    """Raise ``TypeError`` if ``X`` is a torch tensor that NumPy cannot convert.

    A tensor is an array-like: scikit-learn's validation converts it with
    ``np.asarray``, as any other, and this leaves it to do so. One that NumPy
    cannot hold -- tracked by autograd, on a GPU, of dtype bfloat16 -- would
    fail there with torch's own ``RuntimeError`` or ``TypeError``; this
    ``TypeError`` keeps torch's reason and says what skae takes.
    """
    if not isinstance(X, torch.Tensor):
        return
    try:
        X.numpy()  # the conversion np.asarray makes; a view, nothing is copied
    except (RuntimeError, TypeError) as exc:
        raise TypeError(
            f"{name} is a torch tensor that NumPy cannot convert: {exc} skae takes NumPy "
            "arrays, array-likes and SciPy sparse matrices, as scikit-learn does; convert the "
            "tensor first (detached, on the CPU, in a dtype NumPy has such as float32)."
        ) from None


def as_rows(X):
    """``X`` as 2-D rows, and the shape of one sample when ``X`` has rank 3 or 4.

    Returns ``(X_rows, sample_shape)``. ``sample_shape`` is None, and ``X``
    returned unchanged, for everything else (2-D or 1-D arrays, sparse
    matrices, DataFrames): scikit-learn's validation checks those, after
    :func:`check_tensor`.
    """
    check_tensor(X)
    if sp.issparse(X) or hasattr(X, "columns"):
        return X, None
    if not hasattr(X, "ndim"):
        if not isinstance(X, (list, tuple)):
            return X, None
        try:
            array = np.asarray(X)
        except ValueError:  # ragged: scikit-learn's validation says so
            return X, None
        if array.ndim <= 2:
            return X, None
        X = array
    if X.ndim <= 2:
        return X, None
    # The rank is checked first: a dask array of the wrong rank is refused
    # before it is computed whole.
    shape = sample_shape_of(X)
    X = np.asarray(X)
    return X.reshape(X.shape[0], -1), shape


def sample_shape_of(X):
    """The shape of one of ``X``'s samples: None for an array of rank 2 or less.

    ``ValueError`` unless ``X`` has rank 2, 3 or 4 (or less: scikit-learn's
    validation refuses those).
    """
    if X.ndim <= 2:
        return None
    if X.ndim - 1 not in _SAMPLE_RANKS:
        raise ValueError(
            f"X must have 2 dimensions (n_samples, n_features), 3 (n_samples, C, T) or "
            f"4 (n_samples, C, H, W); got {X.ndim} dimensions, shape {X.shape}."
        )
    return tuple(X.shape[1:])


def check_shape_parameter(input_shape):
    """``input_shape`` as a tuple of 1 to 3 positive ints, or ``ValueError``."""
    shape = tuple(input_shape)
    if not (
        1 <= len(shape) <= 3
        and all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in shape)
    ):
        raise ValueError(
            "input_shape must be the shape of one sample, channels first: 1 to 3 positive "
            f"integers such as (C, H, W) or (C, T); got {input_shape!r}."
        )
    return tuple(int(s) for s in shape)


def resolve_input_shape(input_shape, sample_shape, n_features, default):
    """The shape the network views one sample in.

    ``input_shape`` (the parameter) if given, checked against ``sample_shape``
    (the shape of ``X``'s samples when ``X`` had rank 3 or 4) and against
    ``n_features``; else ``sample_shape``; else ``default``.
    """
    if input_shape is None:
        return sample_shape if sample_shape is not None else tuple(default)
    shape = check_shape_parameter(input_shape)
    if sample_shape is not None and sample_shape != shape:
        raise ValueError(f"X has samples of shape {sample_shape}, but input_shape={shape}.")
    if math.prod(shape) != n_features:
        raise ValueError(
            f"input_shape={shape} has {math.prod(shape)} values per sample, but X has "
            f"{n_features} features."
        )
    return shape


def check_sample_shape(sample_shape, input_shape, name, attribute="input_shape_"):
    """Raise ``ValueError`` when rank-3/4 input's samples do not have the fitted shape.

    ``name``: the class the user called; ``attribute``: where it keeps ``input_shape``.
    """
    if sample_shape is not None and sample_shape != tuple(input_shape):
        raise ValueError(
            f"X has samples of shape {sample_shape}, but {name} was fitted on samples of "
            f"shape {tuple(input_shape)} ({attribute})."
        )
