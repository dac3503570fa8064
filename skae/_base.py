"""The scikit-learn face shared by skae's transformers.

:class:`_BaseAutoencoder` holds what ``AutoencoderTransformer`` and
``VAETransformer`` have in common, as ``_BasePCA`` does for PCA and
IncrementalPCA: parameter constraints, input validation, input scaling, the
PCA starting point, training through skorch, chunked inference, feature names,
tags and ``score``. Subclasses say which network to build, which objective to
train and how to score a row.
"""

import contextlib
import copy
import functools
import math
from abc import abstractmethod
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy import linalg
from sklearn.base import (
    BaseEstimator,
    ClassNamePrefixFeaturesOutMixin,
    TransformerMixin,
    _fit_context,
)
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._param_validation import Interval, StrOptions
from sklearn.utils._set_output import _get_output_config
from sklearn.utils.extmath import randomized_svd
from sklearn.utils.validation import check_array, check_is_fitted, validate_data
from skorch.callbacks import Callback
from skorch.helper import predefined_split

from ._architectures import (
    DEFAULT_HIDDEN_LAYER_SIZES,
    ResidualBody,
    auto_batch_limit,
    build_decoder_body,
    build_encoder_body,
    check_group_norms,
    is_image_conv,
)
from ._callbacks import ConvergenceMonitor, DivergenceCheck, Plateau, warn_not_converged
from ._custom_modules import custom_decoder_body, custom_encoder_body
from ._data import BatchIterator, RowDataset, has_batch_norm, to_float32_tensor
from ._epoch_choice import FoldRun, choose_epochs
from ._fast_path import FlatAdam
from ._fit_failure import kept_on_error, unfitted_on_error
from ._likelihoods import UNIT_INTERVAL_SLACK
from ._modules import ACTIVATIONS
from ._net import SkaeNet, resolve_device
from ._random import build_seeded, draw_from, fit_generators
from ._schedules import WarmupCosine, set_learning_rate
from ._progress import chunks_with_progress, progress_callbacks
from ._sklearn_callbacks import CallbackSupportMixin, FitTasks, clone_error
from ._shapes import (
    as_rows,
    check_sample_shape,
    check_tensor,
    resolve_input_shape,
    sample_shape_of,
)
from ._threads import training_threads
from ._streaming import (
    VALID_MAX_ELEMENTS,
    BlockDataset,
    MappedRows,
    RowBlocks,
    is_contiguous,
    is_dask_array,
    is_streamed,
    iterate_batches,
    map_row_blocks,
    merge_moments,
    sample_rows,
)

#: Statistics (moments, PCA start) read this many matrix elements per chunk.
_CHUNK_ELEMENTS = 2**22
#: Inference processes this many input elements per chunk (1 MiB of float32), so
#: that the network's intermediate results stay in cache (the chunk size does not
#: change the results; its timings are in benchmarks/RESULTS_performance.md).
_INFERENCE_CHUNK_ELEMENTS = 2**18
#: The PCA starting point is computed on at most this many training rows, and on
#: at most ``_INIT_MAX_ELEMENTS`` matrix elements (but never fewer than 1,000 rows).
_INIT_MAX_SAMPLES = 20_000
_INIT_MAX_ELEMENTS = 2**24
#: ``_derived_seed`` keys of that subsample on streamed data: a pair, which no
#: fold's or epoch's single key can equal.
_PCA_SAMPLE_KEYS = (0, 0)
#: Above this many features the principal axes come from a randomized SVD.
_EXACT_EIGH_MAX_FEATURES = 1024
#: The trained network replaces its PCA start only when it improves the
#: validation rows' scores by this many standard errors (``_clearly_better``).
_SIGNIFICANT_GAIN = 2.0
#: Early stopping holds out a validation split only when it has at least this
#: many rows; on smaller data its loss is too noisy to choose the epoch by (a
#: dozen rows put the best epoch at a chance dip a few epochs in), and the
#: epochs are chosen by ``_CV_FOLDS``-fold cross-validation instead
#: (``_fit_cross_validated``).
_MIN_VALIDATION_ROWS = 100
_CV_FOLDS = 5
#: ``batch_size="auto"``: MLPRegressor's 200 rows per batch, but at least
#: ``_AUTO_STEPS_PER_EPOCH`` optimizer steps per epoch while a batch keeps at
#: least ``_AUTO_MIN_BATCH`` rows.
_AUTO_MAX_BATCH = 200
_AUTO_MIN_BATCH = 8
_AUTO_STEPS_PER_EPOCH = 10


def auto_batch_size(n_samples):
    """``batch_size="auto"`` for ``n_samples`` training rows.

    ``min(200, n_samples)`` rows, as ``MLPRegressor``, gives a small data set a
    single optimizer step per epoch: early stopping's patience, counted in
    epochs, then ends training after as many steps, before the network has
    moved from its starting point. Smaller batches give such data about
    ``_AUTO_STEPS_PER_EPOCH`` steps per epoch; data of 2,000 rows and more
    keeps 200.
    """
    batch = math.ceil(n_samples / _AUTO_STEPS_PER_EPOCH)
    batch = min(_AUTO_MAX_BATCH, max(_AUTO_MIN_BATCH, batch))
    return max(1, min(batch, n_samples))


class NumberInterval(Interval):
    """scikit-learn's ``Interval`` constraint, rejecting bools.

    ``bool`` is an ``Integral`` in Python, so ``Interval(Integral, 1, None)``
    lets ``n_components=True`` through as 1; a flag where a number belongs is
    a mistake worth an error.
    """

    def is_satisfied_by(self, val):
        return not isinstance(val, bool) and super().is_satisfied_by(val)


def _dense_chunks(X, rows=None, dtype=np.float64, elements=None):
    """Yield dense ``dtype`` blocks of the rows ``rows`` of ``X`` (dense or CSR).

    Each block holds about ``elements`` values (default ``_CHUNK_ELEMENTS``).
    Every row (``rows=None``) is read in slices, without an index of every row.
    """
    chunk = max(1, (elements or _CHUNK_ELEMENTS) // max(X.shape[1], 1))
    for batch in gen_batches(X.shape[0] if rows is None else len(rows), chunk):
        if rows is None:
            block = X[batch]
        else:
            index = rows[batch]
            block = X[index[0] : index[-1] + 1] if is_contiguous(index) else X[index]
        block = block.toarray() if sp.issparse(block) else block
        yield np.asarray(block, dtype=dtype)


def _not_2d(X):
    """The ``ValueError`` for a streamed or dask ``X`` that is not of rank 2."""
    return ValueError(f"Expected a 2-D array, got a {X.ndim}-D {type(X).__name__}.")


def check_not_complex(X, name, input_name="X"):
    """scikit-learn's ``ValueError`` for complex ``X``, naming its dtype, not its values.

    Checked on ``X``'s dtype where ``validate_data`` sees a stand-in for
    ``X`` -- a streamed ``X``'s first row (:func:`validate_streamed`), a row
    of zeros for a dask ``X`` (:func:`lazy_on_dask`) -- and would print that
    row as the data. ``name``: the class the user called.
    """
    if X.dtype.kind == "c":
        raise ValueError(
            f"Complex data not supported by {name}; {input_name} has dtype {X.dtype}."
        )


def check_has_features(X, name):
    """scikit-learn's ``ValueError`` for ``X`` whose samples hold no value, naming ``X``'s shape.

    Checked on ``X`` itself where ``validate_data`` sees a stand-in row (see
    :func:`check_not_complex`), whose shape -- ``(1, 0)`` -- it would name.
    """
    if math.prod(X.shape[1:]) == 0:
        raise ValueError(
            f"Found array with 0 feature(s) (shape={X.shape}) while a minimum of 1 is "
            f"required by {name}."
        )


def check_real_dtype(X, name, input_name="X"):
    """``ValueError`` unless streamed ``X`` holds real numbers (or booleans):
    read block by block as floats, complex values would lose their imaginary
    part with only a warning, where ``validate_data`` refuses them."""
    check_not_complex(X, name, input_name)
    if X.dtype.kind not in "fiub":
        raise ValueError(
            f"{input_name} must hold real numbers, got dtype {X.dtype} ({name} reads a memmap "
            f"or dask array block by block as floats; convert {input_name} first)."
        )


def _float_dtype(X):
    """The dtype ``X`` is read as: its own if float32 or float64, else float64
    (as ``validate_data`` converts)."""
    return X.dtype if X.dtype in (np.float32, np.float64) else np.dtype(np.float64)


def validate_streamed(estimator, X, reset):
    """Check streamed ``X`` as ``validate_data`` would, by its shape, dtype and first row.

    ``validate_data`` sees only the first row (and sets ``n_features_in_`` when
    ``reset``); the values of every block are checked as it is read
    (:func:`check_finite_block`). Returns ``X``.
    """
    if X.ndim != 2:
        raise _not_2d(X)
    if any(math.isnan(size) for size in X.shape):
        raise ValueError(
            "X is a dask array with unknown chunk sizes; call X.compute_chunk_sizes() first."
        )
    check_real_dtype(X, type(estimator).__name__)
    check_has_features(X, type(estimator).__name__)
    head = X[:1]
    validate_data(
        estimator,
        np.asarray(head.compute() if is_dask_array(head) else head),
        dtype=[np.float64, np.float32],
        reset=reset,
    )
    return X


def _block_rows(block, start):
    return f"rows {start} to {start + len(block) - 1}"


def check_finite_block(block, start):
    """Raise ``ValueError`` naming the rows if a block of streamed ``X`` holds NaN or
    an infinity; return the block's ``(min, max)``.

    ``start``: the index of the block's first row; or each of its rows' indices,
    for rows read from anywhere in ``X`` (a sample), of which the first that
    holds NaN or an infinity is named.
    """
    # min and max also find a NaN (they return it) or an infinity: two
    # passes over the block where isfinite and the range would take four.
    low, high = (float(block.min()), float(block.max())) if block.size else (0.0, 0.0)
    if not (math.isfinite(low) and math.isfinite(high)):
        if np.ndim(start):
            finite = np.isfinite(block.reshape(len(block), -1)).all(axis=1)
            where = f"row {start[np.argmin(finite)]}"
        else:
            where = _block_rows(block, start)
        raise ValueError(f"Input X contains NaN or infinity in {where}.")
    return low, high


def _checked_in_blocks(X, name="X"):
    """Memmap ``X`` as rows read in chunks (:class:`MappedRows`), its values checked.

    The values are checked as :func:`_check_float32_range` checks an array in
    memory, one block at a time (naming the rows of a NaN or an infinity),
    copying none; the rows are read as float64 unless ``X`` holds float32 or
    float64, as ``check_array`` would convert them.
    """
    if X.dtype.kind == "f":  # integers are finite and within float32's range
        extremes = []

        def check(block, start):
            extremes.append(check_finite_block(block, start))

        RowBlocks(X, check=check).check_all()
        _check_largest_magnitude(max(max(high, -low) for low, high in extremes), name)
    return MappedRows(X, None, _float_dtype(X))


def _check_float32_range(X, name="X"):
    """Raise ``ValueError`` if ``X`` does not fit float32's range of normal numbers.

    skae's networks compute in float32: values beyond its largest number would
    become infinite, then NaN; data whose largest magnitude is below its smallest
    normal number would lose their digits or become zero.
    """
    values = X.data if sp.issparse(X) else X
    if values.size:
        _check_largest_magnitude(max(values.max(), -values.min()), name)


def _check_largest_magnitude(largest, name="X"):
    """:func:`_check_float32_range` given the largest magnitude in ``X``."""
    limits = np.finfo(np.float32)
    largest = np.float64(largest)  # compared with float32's limits without casting down
    if largest > limits.max:
        raise ValueError(
            f"{name} has values beyond the range of float32 (largest magnitude "
            f"{largest:.3g}), in which skae computes; rescale {name}."
        )
    if 0 < largest < limits.smallest_normal:
        raise ValueError(
            f"{name} has no value as large as float32's smallest normal number "
            f"({limits.smallest_normal:.3g}; largest magnitude {largest:.3g}): in float32, "
            f"in which skae computes, they lose their digits. Rescale {name}."
        )


def _rounding_variance(var, mean, n_samples, dtype=np.float64):
    """The variance rounding alone gives a constant feature, per feature.

    The error bound of the two-pass variance (Chan, Golub and LeVeque) that
    scikit-learn's scalers use (``sklearn.preprocessing._data._is_constant_feature``):
    a variance ``var`` computed in ``dtype`` at or below it is indistinguishable
    from zero, and dividing by its square root would blow rounding noise up
    (to ~1e16 in float64).
    """
    eps = np.finfo(dtype).eps
    return n_samples * eps * var + (n_samples * mean * eps) ** 2


#: float32's spacing near a feature's mean, as a fraction of the feature's
#: standard deviation, beyond which ``fit`` refuses the feature: the network
#: would see its values rounded to steps this coarse. At 0.1 the rounding adds
#: under 0.1 % to the variance; a feature far from zero relative to its spread
#: (timestamps, coordinates, a large offset) exceeds it.
_FLOAT32_RESOLUTION = 0.1


def _check_float32_resolution(mean, var, noise):
    """Raise ``ValueError`` where float32 cannot resolve a feature's spread around its mean.

    skae's networks compute in float32, whose numbers near ``mean`` are
    ``np.spacing(mean)`` apart: a feature varying by less than a few such
    steps would reach the network as a handful of values. ``var`` at or below
    ``noise`` (a constant feature) is not checked.
    """
    spacing = np.spacing(np.abs(mean).astype(np.float32)).astype(np.float64)
    coarse = np.flatnonzero((var > noise) & (spacing > _FLOAT32_RESOLUTION * np.sqrt(var)))
    if len(coarse):
        j = coarse[0]
        others = f" (and {len(coarse) - 1} other features)" if len(coarse) > 1 else ""
        raise ValueError(
            f"Feature {j} of X{others} varies by a standard deviation of "
            f"{math.sqrt(var[j]):.3g} around a mean of {mean[j]:.10g}, where float32 -- in "
            f"which skae computes -- has numbers {spacing[j]:.3g} apart. Centre X first "
            "(e.g. StandardScaler, or subtract each feature's mean in float64)."
        )


def _is_callback(obj):
    """Whether skorch accepts ``obj`` as a callback: a ``Callback`` instance or class."""
    return isinstance(obj, Callback) or (isinstance(obj, type) and issubclass(obj, Callback))


def _column_moments(X, check=None):
    """Per-column mean and variance in float64, in chunks (no full copy of X).

    Streamed ``X`` is read once, block by block, each block checked by
    ``check(block, start)`` (see :class:`RowBlocks`), and the blocks' moments
    are merged.
    """
    if is_streamed(X):
        moments = None
        for block in RowBlocks(X, check=check).iter(np.float64):
            moments = merge_moments(moments, (len(block), *_column_moments(block)))
        return moments[1], moments[2]
    n_samples = X.shape[0]
    mean = sum(block.sum(axis=0) for block in _dense_chunks(X)) / n_samples
    sq = sum(((block - mean) ** 2).sum(axis=0) for block in _dense_chunks(X))
    return mean, sq / n_samples


def _value_range(X):
    """``(min, max)`` of the values of ``X`` (dense, CSR or streamed), in float64.

    A streamed array is read once, block by block. NaN in ``X`` gives NaN.
    """
    if is_streamed(X):
        low, high = math.inf, -math.inf
        for block in RowBlocks(X).iter(np.float64):
            if block.size:
                low, high = min(low, float(block.min())), max(high, float(block.max()))
        return low, high
    values = X.data if sp.issparse(X) else X
    low = float(values.min()) if values.size else math.inf
    high = float(values.max()) if values.size else -math.inf
    if sp.issparse(X) and X.nnz < X.shape[0] * X.shape[1]:
        low, high = min(low, 0.0), max(high, 0.0)  # the implicit zeros
    return low, high


def _in_unit_interval(low, high):
    """Whether values from ``low`` to ``high`` lie in [0, 1], within ``UNIT_INTERVAL_SLACK``."""
    return -UNIT_INTERVAL_SLACK <= low and high <= 1 + UNIT_INTERVAL_SLACK


def _check_unit_interval(X, what):
    """Raise ``ValueError`` unless every value of ``X`` (:func:`_value_range`) lies in [0, 1]."""
    low, high = _value_range(X)
    if not _in_unit_interval(low, high):
        # repr: every digit, so that an overshoot of 1e-6 does not read as "1".
        raise ValueError(
            f"{what} needs data in [0, 1]; got values in [{low!r}, {high!r}]. "
            "Rescale X (e.g. MinMaxScaler) or use the Gaussian/MSE objective."
        )


def _decoder_start_at(module, weight, bias):
    """Start ``module``'s decoder at the linear map ``z -> weight @ z + bias``.

    ``weight`` and ``bias`` give the reconstruction in normalised units. For a
    Bernoulli decoder, which outputs logits in the original units, they are
    mapped through the sigmoid's linearisation at 1/2, ``sigmoid(4 (x - 1/2)) ~ x``.
    """
    if module.is_bernoulli:
        loc = module.normalize.loc.numpy().astype(np.float64)
        scale = np.broadcast_to(module.normalize.scale.numpy(), loc.shape)
        weight = 4 * scale[:, None] * weight
        bias = 4 * (loc + scale * bias - 0.5)
    module.decoder.start_at(weight, bias)


def principal_axes(X, rows, loc, scale, n_components, random_state):
    """Principal axes of the scaled rows ``(X[rows] - loc) / scale``.

    Returns ``(mean, eigenvalues, axes, total_variance)``: the scaled rows' mean,
    the top ``n_components`` covariance eigenvalues (descending) and their unit
    eigenvectors as columns of ``axes``, and the covariance's trace.
    """
    n_features = X.shape[1]
    chunks = [(block - loc) / scale for block in _dense_chunks(X, rows)]
    n_rows = sum(len(block) for block in chunks)
    mean = sum(block.sum(axis=0) for block in chunks) / n_rows
    # A constant feature's rounding noise is no variance: made exactly constant,
    # it gets no principal axis and no weight in the whitening.
    var = sum(((block - mean) ** 2).sum(axis=0) for block in chunks) / n_rows
    constant = var <= _rounding_variance(var, mean + np.divide(loc, scale), n_rows)
    if constant.any():
        for block in chunks:
            block[:, constant] = mean[constant]
    denominator = max(n_rows - 1, 1)
    if n_features <= _EXACT_EIGH_MAX_FEATURES:
        cov = sum((block - mean).T @ (block - mean) for block in chunks) / denominator
        eigenvalues, axes = linalg.eigh(
            cov, subset_by_index=[n_features - n_components, n_features - 1]
        )
        eigenvalues, axes = eigenvalues[::-1], axes[:, ::-1]
        total_variance = np.trace(cov)
    else:
        centred = np.vstack(chunks) - mean
        if n_rows < n_components:
            # Zero rows add no variance; they give the SVD the n_components axes
            # asked for (the extra ones orthonormal, with eigenvalue 0), as eigh does.
            centred = np.vstack([centred, np.zeros((n_components - n_rows, n_features))])
        _, singular_values, vt = randomized_svd(
            centred, n_components, random_state=random_state
        )
        eigenvalues, axes = singular_values**2 / denominator, vt.T
        total_variance = (centred**2).sum() / denominator
    return mean, np.clip(eigenvalues, 0.0, None), axes, total_variance


def lazy_on_dask(method=None, *, samples=True):
    """Let ``method(X, ...)`` take a dask array and return a lazy dask array.

    The method is applied to each row block (``map_blocks``), as
    ``dask_ml.wrappers.ParallelPostFit`` would; its output on one row of zeros,
    computed here, gives the result's dtype and columns and checks ``X``'s
    width (or sample shape, for images and sequences of rank 3 or 4) before
    anything is computed. What that row cannot stand for, ``X``'s rank, a
    complex dtype and samples of no value, is checked on ``X`` itself, so that
    no error names the row's shape or values. An empty row chunk (a filtered
    array has them) gives an empty result: ``method`` itself would refuse zero
    rows, as scikit-learn's validation does. ``samples=False``: ``X`` holds codes
    (``inverse_transform``), not samples; use as ``@lazy_on_dask(samples=False)``.
    A method whose result ``set_output`` wraps in a DataFrame returns it
    computed, a NumPy array, for ``set_output`` to wrap.
    """
    if method is None:
        return functools.partial(lazy_on_dask, samples=samples)

    @functools.wraps(method)
    def wrapper(self, X, *args, **kwargs):
        if not is_dask_array(X):
            return method(self, X, *args, **kwargs)
        check_is_fitted(self)
        # The rank, checked on X itself: the one-row probe's error would name
        # the probe's shape, or a row of zeros as the values of a 1-D X.
        if X.ndim < 2:
            raise _not_2d(X)
        if samples:
            sample_shape_of(X)
        check_not_complex(X, type(self).__name__, "X" if samples else "Z")
        check_has_features(X, type(self).__name__)
        # In the dtype validation converts X to: a zero of X's own dtype could
        # be refused where X's values are not (an empty string, for strings of
        # numbers); the blocks are validated as they are computed.
        probe = np.zeros((1, *X.shape[1:]), dtype=_float_dtype(X))
        meta = method(self, probe, *args, **kwargs)

        def apply(block):
            if not len(block):
                return np.empty((0, *meta.shape[1:]), dtype=meta.dtype)
            return method(self, block, *args, **kwargs)

        lazy = map_row_blocks(apply, X, meta)
        if _wrapped_in_a_dataframe(self, method.__name__):
            # The DataFrame is built in memory whatever the result is, and
            # polars cannot build one from a dask array (pandas converts it).
            return lazy.compute()
        return lazy

    return wrapper


def _wrapped_in_a_dataframe(estimator, method_name):
    """Whether scikit-learn's ``set_output`` (or its global ``transform_output``)
    wraps what ``estimator.<method_name>`` returns in a pandas or polars DataFrame."""
    # set_output wraps only these methods; _get_output_config knows no other.
    if method_name not in getattr(estimator, "_sklearn_auto_wrap_output_keys", ()):
        return False
    return _get_output_config(method_name, estimator)["dense"] != "default"


#: Parameter values that are sequences of values (``input_shape``).
_SEQUENCES = (list, tuple, np.ndarray)


def _same_value(a, b):
    """Whether parameter values ``a`` and ``b`` are the same (``==``, or one object).

    A list, a tuple and an array of the same values are one value:
    ``input_shape=[1, 8, 8]`` builds the network ``(1, 8, 8)`` does.
    """
    if a is b:
        return True
    if isinstance(a, _SEQUENCES) and isinstance(b, _SEQUENCES) and np.ndim(a) == np.ndim(b) == 1:
        a, b = tuple(a), tuple(b)
    try:
        return bool(a == b)
    except (TypeError, ValueError):  # values whose == is not one truth value
        return False


def _derived_seed(seed, *keys):
    """A seed of its own for ``keys`` (a fold, an epoch), from the fit's ``seed``."""
    return int(np.random.SeedSequence([seed, *keys]).generate_state(1)[0] >> 1)


def _clearly_better(gains):
    """Whether per-row score ``gains`` (trained minus start) are clearly positive.

    On few validation rows the best of many epochs beats the start by chance:
    the mean paired gain must exceed ``_SIGNIFICANT_GAIN`` standard errors (a
    one-sided test).
    """
    if len(gains) < 2 or not np.all(np.isfinite(gains)):
        return False
    standard_error = gains.std(ddof=1) / math.sqrt(len(gains))
    return bool(gains.mean() > _SIGNIFICANT_GAIN * standard_error)


class _EpochSelection:
    """What :meth:`_BaseAutoencoder._select_epochs` found, named as a monitor's results.

    ``pca_loss_``: the folds' mean validation loss of the model a fall-back to
    PCA's solution returns (:meth:`_BaseAutoencoder._pca_loss`), with ``init="pca"``;
    ``start_loss_``, that of the folds' starts (no epoch).
    """

    def __init__(self, best_epoch_, best_loss_, pca_loss_, start_loss_, validation_losses,
                 clearly_better):
        self.best_epoch_ = best_epoch_
        self.best_loss_ = best_loss_
        self.pca_loss_ = pca_loss_
        self.start_loss_ = start_loss_
        self.validation_losses = validation_losses
        self.clearly_better = clearly_better

    def cut_to(self, epochs):
        """Describe a refit that completed ``epochs`` only (Ctrl-C): the folds'
        mean validation loss after that many epochs."""
        self.best_epoch_ = epochs
        self.best_loss_ = self.validation_losses[epochs - 1] if epochs else self.start_loss_


class _BaseAutoencoder(
    CallbackSupportMixin, ClassNamePrefixFeaturesOutMixin, TransformerMixin, BaseEstimator
):
    """Base class for skae's transformers. Do not use it directly."""

    #: ``hidden_layer_sizes="auto"`` per architecture; a subclass may widen its own.
    _default_hidden_layer_sizes = DEFAULT_HIDDEN_LAYER_SIZES
    #: GroupNorm groups in the built-in 2-D convolutional body (None: no norm).
    _image_norm_groups = None
    #: Fitted state besides the attributes ending in "_": a fit that raises
    #: removes them all (:mod:`skae._fit_failure`).
    _private_fitted_attributes = (
        "_seed", "_sample_rank", "_first_call_params", "_discarded_epochs",
    )
    #: Parameters the first call of ``fit`` or ``partial_fit`` builds into the
    #: network, its objective or its optimizer, and later ``partial_fit`` calls
    #: keep (a subclass adds its own); ``n_components`` and
    #: ``hidden_layer_sizes`` are checked against their fitted values.
    _fixed_by_first_call = (
        "input_shape", "architecture", "encoder", "encoder_kwargs", "decoder",
        "decoder_kwargs", "activation", "dropout", "input_scaling", "learning_rate",
        "weight_decay", "batch_size", "device",
    )

    _parameter_constraints: dict = {
        "n_components": [NumberInterval(Integral, 1, None, closed="left")],
        "input_shape": ["array-like", None],
        "architecture": [StrOptions(set(DEFAULT_HIDDEN_LAYER_SIZES))],
        "hidden_layer_sizes": [
            StrOptions({"auto"}), "array-like", NumberInterval(Integral, 1, None, closed="left")
        ],
        "encoder": [type, torch.nn.Module, None],
        "encoder_kwargs": [dict, None],
        "decoder": [type, torch.nn.Module, None],
        "decoder_kwargs": [dict, None],
        "activation": [StrOptions(set(ACTIVATIONS))],
        "dropout": [NumberInterval(Real, 0, 1, closed="left")],
        "input_scaling": [StrOptions({"global", "feature"}), None],
        "init": [StrOptions({"pca", "random"})],
        "learning_rate": [NumberInterval(Real, 0, None, closed="neither")],
        "weight_decay": [NumberInterval(Real, 0, None, closed="left")],
        "batch_size": [StrOptions({"auto"}), NumberInterval(Integral, 1, None, closed="left")],
        "max_epochs": [NumberInterval(Integral, 1, None, closed="left")],
        "partial_fit_epochs": [NumberInterval(Integral, 1, None, closed="left")],
        "early_stopping": ["boolean", StrOptions({"auto"})],
        "validation_fraction": [NumberInterval(Real, 0, 1, closed="neither")],
        "n_iter_no_change": [NumberInterval(Integral, 1, None, closed="left")],
        "tol": [NumberInterval(Real, 0, None, closed="left")],
        "device": [str],
        "random_state": ["random_state"],
        "verbose": ["verbose"],
        "callbacks": [list, None],
    }

    # ------------------------------------------------------------------ hooks
    @abstractmethod
    def _build_module(self, n_features, loc, scale):
        """The untrained ``torch.nn.Module``."""

    @abstractmethod
    def _build_criterion(self):
        """The training objective, called as ``criterion(output, X, module, training, record)``.

        ``record(name, value)`` writes a per-batch value to the history (see
        :mod:`skae._objectives`).
        """

    @abstractmethod
    def _start_at_pca(self, module, mean, eigenvalues, axes, total_variance):
        """Set ``module``'s weights to (probabilistic) PCA's solution in scaled units."""

    def _training_callbacks(self):
        """Extra skorch callbacks the subclass needs, as ``(name, callback)`` pairs."""
        return []

    def _check_support(self, X):
        """Raise ``ValueError`` when ``X`` is outside the likelihood's support."""

    def _pca_reference(self, X, rows, loc, scale, exclude=None):
        """The network the trained one must clearly beat, when it is not its own start.

        The network starts at PCA's solution on ``X[rows]`` (``init="pca"``)
        and is kept only if it scores clearly better than that start on the
        validation rows (:meth:`_beats_start`). When the start is not PCA's
        solution in the terms :meth:`score_samples` uses (a network trained on
        binary cross-entropy and scored by squared error), this returns a
        network, on ``device_``, that computes PCA's solution and is scored
        alike; ``None`` (here) means the start is the reference.
        """
        return None

    def _use_pca_solution(self):
        """Prepare the fitted attributes for a fall-back to PCA's solution.

        Called before the network at PCA's solution on every row replaces the
        trained one; a subclass whose trained network cannot compute PCA's
        solution switches to one that can here (``_build_module`` then builds it).
        """

    def _training_settings(self):
        """``learning_rate``, ``max_epochs`` and the learning-rate schedule to train with.

        A dict with those three keys (``"learning_rate_schedule"``:
        ``"constant"`` or ``"cosine"``), called once ``input_shape_`` is
        resolved. Here the parameters as given, with a constant rate; a
        subclass with ``"auto"`` values resolves them per architecture.
        """
        return {"learning_rate": self.learning_rate, "max_epochs": self.max_epochs,
                "learning_rate_schedule": "constant"}

    def _after_fit(self, X, n_previous=0):
        """Compute fitted attributes that need the trained network.

        ``X`` is the validated training data (a streamed array is read block
        by block, see :meth:`_blocks`); with ``n_previous > 0``
        (``partial_fit``), it updates the attributes computed from the
        ``n_previous`` rows seen before.
        """

    # --------------------------------------------------------------- training
    @unfitted_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def fit(self, X, y=None):
        """Fit the network to ``X``.

        In-memory data is loaded once as a float32 tensor. A 2-D
        ``numpy.memmap`` or dask array is streamed instead, and never loaded
        whole: the input statistics come from one pass over its blocks of rows
        (a dask array's row chunks), the PCA start from a bounded random
        subsample, and each epoch visits the blocks in a random order, rows
        shuffled within each block, while the next block is read in the
        background. Early stopping then holds out ``validation_fraction`` of
        the rows, but at most a bounded number of them, drawn without an index
        of every row: other rows than the same ``random_state`` holds out of
        the array in memory, so the model differs from the in-memory one, as
        it does whenever the data spans several blocks (another shuffling).
        One of rank 3 or 4 (images, sequences) is loaded. See the user guide's
        "Scaling" section.

        Training that diverges raises a ``FloatingPointError``. A fit that
        raises, for any reason, leaves the estimator unfitted, even if it was
        fitted before: as in scikit-learn, ``fit`` starts over, and what it
        left would be a network trained into NaN beside attributes of its own
        or of the earlier fit.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Training data. Sparse input is densified one batch at a time.
            Arrays of shape ``(n_samples, *input_shape)`` (rank 3 or 4) are
            accepted too; see ``input_shape``.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, early_stopping=True,
        ...                             random_state=0)
        >>> ae.fit(X).n_components_
        2
        >>> ae.n_epochs_
        3
        """
        X_rows, sample_shape = as_rows(X)
        X_checked = self._validate_input(X_rows, reset=True)
        self._resolve_parameters(X_checked, sample_shape)
        tasks = FitTasks(self, X, y, max_subtasks=self.max_epochs_)
        self._fit(X_checked, tasks)
        tasks.end()
        return self

    @kept_on_error
    @_fit_context(prefer_skip_nested_validation=True)
    def partial_fit(self, X, y=None):
        """Train on one chunk of rows: ``partial_fit_epochs`` more epochs over ``X``.

        For data that comes in chunks (a stream, or a loop over blocks read
        from disk), as ``IncrementalPCA.partial_fit``. The first call
        initialises everything :meth:`fit` would, from this chunk alone: the
        input scaling, the PCA (or probabilistic PCA) start, the network and the
        optimizer; make that chunk representative of the data (e.g. shuffled).
        Every call then trains ``partial_fit_epochs`` epochs on its chunk,
        keeping the optimizer's state between calls, and extends ``history_``,
        ``loss_curve_`` and ``n_epochs_``; ``best_loss_`` is then the lowest
        training loss so far, ``best_epoch_`` its epoch. What the first call
        resolves from its chunk is kept: the input scaling, and
        ``loss="auto"``'s objective (``AutoencoderTransformer``), so that a
        later chunk outside [0, 1] after binary cross-entropy was chosen
        raises a ``ValueError``. So does a later call after a parameter the
        first call built into the network, its objective or its optimizer
        was changed (``n_components``, ``hidden_layer_sizes``, ``activation``,
        ``learning_rate``, ``batch_size``, ``beta``...): the call would train
        on with the old setting while ``get_params`` names the new one.
        Called on a model fitted by :meth:`fit`, it continues training that
        model; after :meth:`fit` fell back to PCA's solution, from that
        solution, in its network (``loss_``'s objective), with a fresh
        optimizer. If :meth:`fit` kept its start (``best_epoch_ == 0``),
        ``best_epoch_`` and ``best_loss_`` look only at the epochs run since:
        the earlier ones trained a network that was discarded.

        Unlike :meth:`fit`, ``partial_fit`` holds nothing out and never stops
        early: ``max_epochs``, ``early_stopping``, ``validation_fraction``,
        ``n_iter_no_change`` and ``tol`` are not used, and which epochs to run
        is the caller's decision (score a held-out chunk with :meth:`score`).
        Nor does it fall back to PCA's solution: with no validation rows,
        nothing tells a worse network. Each call is a training run of its own
        for the callbacks: it runs ``callbacks`` and prints what ``verbose``
        asks for as they are at the call, and initializes the callbacks first.
        A ``random_state`` makes the same sequence of calls give the same model.

        A call that raises -- training diverged, say, which is tested on the
        network each call leaves -- leaves the estimator as it was before the
        call: its network's weights, the optimizer's state, ``history_`` and
        the fitted attributes, so that the model the earlier chunks built is
        kept (each call copies the weights and the optimizer's state to this
        end). A first call that raises leaves the estimator unfitted.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            A chunk of training data, with the number of features of the first
            chunk.
        y : Ignored
            Not used, present for API consistency (dask-ml passes a placeholder).

        Returns
        -------
        self : object
            The updated estimator.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(300, 5)
        >>> ae = AutoencoderTransformer(n_components=2, random_state=0)
        >>> for chunk in np.array_split(X, 3):
        ...     ae = ae.partial_fit(chunk)
        >>> ae.n_epochs_, ae.n_samples_seen_
        (3, 300)
        """
        first_call = not hasattr(self, "net_")
        X_rows, sample_shape = as_rows(X)
        if not first_call:
            check_sample_shape(sample_shape, self.input_shape_, type(self).__name__)
        X_checked = self._validate_input(X_rows, reset=first_call)
        tasks = FitTasks(self, X, y, max_subtasks=self.partial_fit_epochs)
        if first_call:
            self._resolve_parameters(X_checked, sample_shape, partial=True)
            self.n_samples_seen_ = 0
            seed = self._seed
        else:
            self._check_same_network()
            # One seed per call, from the fit's seed and the epochs run so far:
            # the same sequence of calls gives the same model.
            seed = _derived_seed(self._seed, self.n_epochs_)
        self._check_data(X_checked)
        # Streamed rows are every row (None), as fit's are: an index of them
        # would take 8 bytes a row, and the PCA start's sample drawn from it as
        # much again.
        rows = None if is_streamed(X_checked) else np.arange(X_checked.shape[0])
        no_rows = np.empty(0, dtype=np.int64)
        # This call's own generators (fit's, on the first call).
        init_generator, train_generator = fit_generators(seed, self.device_)
        with contextlib.ExitStack() as threads:
            if first_call:
                module, _, _ = self._initialize_module(
                    X_checked, rows, no_rows, init_generator, threads
                )
                self.net_ = self._make_net(
                    module, seed, None, extra_callbacks=tasks.epoch_callbacks()
                )
                self.net_.initialize()
            else:
                threads.enter_context(
                    training_threads(self.net_.module_, self.batch_size_, self.device_)
                )
                self._continue_net(seed, tasks)
            threads.enter_context(draw_from(self.net_.module_, train_generator))
            # the first call's _scaling validated a streamed chunk's blocks
            train_set, _ = self._datasets(X_checked, rows, no_rows, checked=first_call)
            self._train(train_set, self.partial_fit_epochs)
            self._record_training()
            self._after_fit(X_checked, self.n_samples_seen_)
        self.n_samples_seen_ += X_checked.shape[0]
        tasks.end()
        return self

    def _validate_input(self, X, reset):
        """Validated training data: loaded (validate_data) or, if streamed, checked
        by its first row here and by every block as it is read."""
        if is_streamed(X):
            return validate_streamed(self, X, reset)
        X = validate_data(self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=reset)
        _check_float32_range(X)
        return X

    def _check_block(self, block, start):
        """Validate one block of streamed training data (``validate_data`` never sees it whole)."""
        low, high = check_finite_block(block, start)
        try:
            _check_largest_magnitude(max(high, -low))
            self._check_support(block)
        except ValueError as exc:
            raise ValueError(f"In {_block_rows(block, start)} of X: {exc}") from None

    def _check_data(self, X):
        if not is_streamed(X):  # streamed data is checked block by block
            self._check_support(X)

    def _row_blocks(self, X, checked=False):
        """``X``'s :class:`RowBlocks`, validating each block read unless ``checked``."""
        return RowBlocks(X, check=None if checked else self._check_block)

    @staticmethod
    def _blocks(X):
        """``X`` as in-memory blocks of rows: itself, or a streamed array's blocks."""
        return RowBlocks(X).iter(np.float32) if is_streamed(X) else [X]

    def _check_same_network(self, consequence=(
        "between calls to partial_fit, which continues the network, objective and "
        "optimizer built with {fitted!r}. Call fit to train a new one."
    ), skip=()):
        """Raise ``ValueError`` if a parameter the fitted network was built with changed since.

        ``partial_fit`` continues the fitted network, objective and optimizer;
        as ``IncrementalPCA`` refuses a new ``n_components`` between its calls,
        it does not train on with the old setting while ``get_params`` names
        another. :func:`skae.save` checks the same (``consequence``: the
        message's end, formatted with ``name`` and ``fitted``), but for the
        parameters in ``skip``.
        """
        first_call = getattr(self, "_first_call_params", {})
        for name, now, fitted in [
            ("n_components", self.n_components, self.n_components_),
            ("hidden_layer_sizes", tuple(self._hidden_layer_sizes()), self.hidden_layer_sizes_),
            *((name, getattr(self, name), first_call[name])
              for name in self._fixed_by_first_call if name in first_call),
        ]:
            if name in skip:
                continue
            if not _same_value(now, fitted):
                raise ValueError(
                    f"{name} changed from {fitted!r} to {now!r} "
                    + consequence.format(name=name, fitted=fitted)
                )

    def _record_first_call_params(self):
        """Record the parameters the network is built with, which
        :meth:`_check_same_network` compares with. A dict given as a parameter
        is copied, so that changing it in place counts as a change."""
        params = {name: getattr(self, name) for name in self._fixed_by_first_call}
        self._first_call_params = {
            name: dict(value) if isinstance(value, dict) else value
            for name, value in params.items()
        }

    def _check_callbacks(self):
        """Raise ``TypeError`` unless ``callbacks`` holds only what skorch takes as callbacks."""
        for item in self.callbacks or []:
            named = isinstance(item, tuple) and len(item) == 2 and isinstance(item[0], str)
            # skorch takes instances or classes, named or not, and skips a named None.
            if not (_is_callback(item) or (named and (item[1] is None or _is_callback(item[1])))):
                raise TypeError(
                    "callbacks must be a list of skorch callbacks (skorch.callbacks.Callback "
                    f"instances or classes) or (name, callback) tuples; got {item!r}."
                )

    def _builtin_mlp(self):
        """Whether the network is the built-in MLP: ``architecture="mlp"`` with
        neither a custom ``encoder`` nor a custom ``decoder``."""
        return self.architecture == "mlp" and self.encoder is None and self.decoder is None

    def _hidden_layer_sizes(self):
        """``hidden_layer_sizes`` with ``"auto"`` resolved for the architecture (unchecked)."""
        sizes = self.hidden_layer_sizes
        if isinstance(sizes, str):
            return self._default_hidden_layer_sizes[self.architecture]
        # One hidden layer may be given as its width, as in MLPRegressor.
        if isinstance(sizes, Integral):
            return (sizes,)
        return sizes

    def _resolve_hyperparameters(self, n_features, sample_shape):
        """Check the parameters against the data; set ``input_shape_``, ``hidden_layer_sizes_``."""
        sizes = self._hidden_layer_sizes()
        if not all(isinstance(s, Integral) and not isinstance(s, bool) and s > 0 for s in sizes):
            raise ValueError(
                f"hidden_layer_sizes must be a sequence of positive integers, got {sizes!r}."
            )
        self._check_callbacks()
        if self.n_components > n_features:
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of features, "
                f"got n_features={n_features}."
            )
        # 2-D rows without input_shape: flat vectors for the MLP, univariate
        # sequences (1 channel, n_features steps) for the other architectures.
        default = (n_features,) if self.architecture == "mlp" else (1, n_features)
        shape = resolve_input_shape(self.input_shape, sample_shape, n_features, default)
        ranks = {"conv": (2, 3), "gru": (2,), "lstm": (2,)}.get(self.architecture)
        if ranks is not None and len(shape) not in ranks:
            wanted = "(C, T) or (C, H, W)" if self.architecture == "conv" else "(C, T)"
            raise ValueError(
                f'architecture="{self.architecture}" needs samples of shape {wanted}, '
                f"channels first; got input_shape {shape}."
            )
        for side in ("encoder", "decoder"):
            if getattr(self, side + "_kwargs") and getattr(self, side) is None:
                raise ValueError(f"{side}_kwargs is set but {side} is None.")
        sizes = tuple(int(s) for s in sizes)
        norm_groups = self._norm_groups(shape)
        if norm_groups:
            check_group_norms(shape, sizes, norm_groups, encoder=self.encoder is None,
                              decoder=self.decoder is None)
        self.hidden_layer_sizes_ = sizes
        self.input_shape_ = shape
        # inverse_transform and sample give back the rank fit saw.
        self._sample_rank = 1 if sample_shape is None else len(sample_shape)

    def _norm_groups(self, shape):
        """GroupNorm groups in the built-in convolutional bodies for ``shape``, or None."""
        return self._image_norm_groups if is_image_conv(self.architecture, shape) else None

    def _residual_maps(self, n_features, code_width, params_per_feature=1):
        """``(encoder, decoder)`` of the chosen architecture and custom bodies.

        None for a side that is the default MLP (``_modules`` builds it). The
        decoder gives ``params_per_feature`` values per feature (the likelihood's
        parameters, one after the other): a built-in body as that many times
        the channels, a user's body the first of them (see ``ResidualBody``).
        """
        shape, sizes = self.input_shape_, self.hidden_layer_sizes_
        out_shape = (params_per_feature * shape[0], *shape[1:])
        out_features = params_per_feature * n_features
        arch, k = self.architecture, self.n_components
        norm = self._norm_groups(shape)
        encoder = decoder = None
        if self.encoder is not None:
            body = custom_encoder_body(self.encoder, self.encoder_kwargs, shape, code_width)
            encoder = ResidualBody(n_features, code_width, body, shape)
        elif arch != "mlp":
            body = build_encoder_body(arch, shape, sizes, code_width, self.activation,
                                      self.dropout, norm)
            encoder = ResidualBody(n_features, code_width, body, shape)
        if self.decoder is not None:
            body = custom_decoder_body(self.decoder, self.decoder_kwargs, k, shape)
            decoder = ResidualBody(k, out_features, body)
        elif arch != "mlp":
            body = build_decoder_body(arch, k, out_shape, sizes, self.activation, self.dropout,
                                      norm)
            decoder = ResidualBody(k, out_features, body)
        return encoder, decoder

    def _resolve_parameters(self, X, sample_shape, partial=False):
        """Check the hyperparameters against ``X``; set the resolved ones and the seed."""
        self._resolve_hyperparameters(X.shape[1], sample_shape)
        if self.n_components > X.shape[0]:
            # As PCA: components beyond the rows' rank would be arbitrary directions
            # of zero variance, and new rows' codes along them arbitrary too.
            rows = "1 sample" if X.shape[0] == 1 else f"{X.shape[0]} samples"
            chunk = "the first chunk given to partial_fit has" if partial else "X has"
            raise ValueError(
                f"n_components={self.n_components} must be at most the number of samples: "
                f"{chunk} {rows}."
            )
        training = self._training_settings()
        self.learning_rate_ = float(training["learning_rate"])
        self.max_epochs_ = int(training["max_epochs"])
        self.learning_rate_schedule_ = training["learning_rate_schedule"]
        self.device_ = resolve_device(self.device)
        self.n_components_ = self.n_components
        self._record_first_call_params()
        rng = check_random_state(self.random_state)
        # Private: also seeds what inference needs to be deterministic (VAE scoring).
        self._seed = int(rng.randint(np.iinfo(np.int32).max))
        if partial:
            # partial_fit's later chunks may be larger than the first one.
            self.batch_size_ = (
                _AUTO_MAX_BATCH if self.batch_size == "auto" else int(self.batch_size)
            )
        elif self.batch_size == "auto":
            self.batch_size_ = auto_batch_size(X.shape[0])
        else:
            # A Python int (not a numpy one from a grid), as skae.load checks.
            self.batch_size_ = int(min(self.batch_size, X.shape[0]))
        limit = auto_batch_limit(self.architecture, self.input_shape_)
        if self.batch_size == "auto" and limit is not None:
            self.batch_size_ = min(self.batch_size_, limit)

    def _scaling(self, X):
        """``loc`` and ``scale`` of the input normalisation, from the training data.

        Streamed data is read once here, block by block, and every block is
        validated, whether or not the statistics are needed: the epochs then
        read it unchecked (:meth:`_datasets`).
        """
        n_features = X.shape[1]
        mean, var = _column_moments(X, check=self._check_block)
        # Scale 1 where the variance is rounding noise, as scikit-learn's scalers do.
        noise = _rounding_variance(var, mean, X.shape[0])
        # Checked whatever the scaling: the network normalises in float32, after
        # the values are cast, so ``loc`` cannot restore digits already lost.
        _check_float32_resolution(mean, var, noise)
        if self.input_scaling is None:
            return np.zeros(n_features), np.ones(1)
        if self.input_scaling == "feature":
            return mean, np.where(var > noise, np.sqrt(var), 1.0)
        global_var = var.mean()
        return mean, np.array([math.sqrt(global_var) if global_var > noise.mean() else 1.0])

    def _validation_split(self, X):
        """``(valid_rows, train_rows)`` for early stopping, sorted.

        Streamed data holds out at most ``VALID_MAX_ELEMENTS`` values (they are
        loaded), and ``train_rows`` is ``None``: every row not held out. Its
        validation rows are drawn by :func:`sample_rows`, in memory of their
        number, not by the in-memory split's permutation of every row (whose
        first rows are known only once every row is shuffled): the same
        ``random_state`` holds out other rows of the same data in memory.
        """
        n_samples = X.shape[0]
        n_valid = 0
        if self.early_stopping and n_samples >= 2:
            n_valid = min(n_samples - 1, math.ceil(self.validation_fraction * n_samples))
        if is_streamed(X):
            n_valid = min(n_valid, max(1, VALID_MAX_ELEMENTS // X.shape[1]))
            return sample_rows(n_samples, n_valid, self._seed), None
        order = np.random.RandomState(self._seed).permutation(n_samples)
        return np.sort(order[:n_valid]), np.sort(order[n_valid:])

    def _initialize_module(self, X, train_rows, valid_rows, generator, threads):
        """The network at its starting point, and the input scaling ``(loc, scale)``.

        Initial weights are drawn from ``generator``; ``threads`` (an
        ``ExitStack``) gets the thread limits for training the network.
        """
        loc, scale = self._scaling(X)
        module = build_seeded(lambda: self._build_module(X.shape[1], loc, scale), generator)
        threads.enter_context(training_threads(module, self.batch_size_, self.device_))
        if self.init == "pca":
            # Fitted on the training rows only, so the starting point competes
            # fairly with the trained epochs on the validation rows.
            self._start_at_pca(
                module, *self._principal_axes(X, train_rows, loc, scale, exclude=valid_rows)
            )
        return module, loc, scale

    def _datasets(self, X, train_rows, valid_rows, checked=False):
        """The training and validation sets (``None`` when no rows are held out).

        ``checked``: every block of streamed ``X`` was validated already (by
        :meth:`_scaling`'s pass), so the epochs do not check them again.
        """
        if is_streamed(X):
            train_set = BlockDataset(self._row_blocks(X, checked), valid_rows, self.device_)
            if not len(valid_rows):
                return train_set, None
            held_out = np.vstack(list(_dense_chunks(X, valid_rows, dtype=np.float32)))
            return train_set, RowDataset(
                to_float32_tensor(held_out, self.device_), np.arange(len(held_out)), self.device_
            )
        data = X if sp.issparse(X) else to_float32_tensor(X, self.device_)
        train_set = RowDataset(data, train_rows, self.device_)
        return train_set, RowDataset(data, valid_rows, self.device_) if len(valid_rows) else None

    def _make_net(self, module, seed, monitor, train_split=None, extra_callbacks=(),
                  internal=False):
        """The skorch net that trains ``module``: ``fit``'s, ``partial_fit``'s and a
        loaded model's.

        ``monitor`` is ``fit``'s :class:`ConvergenceMonitor` (``None`` for
        ``partial_fit``, which never stops early). The user's callbacks are
        used as given, as skorch uses them (never deep-copied: a TensorBoard
        writer holds a lock); ``callbacks`` itself is not modified. An
        ``internal`` net (a cross-validation fold's) runs none of them and
        shows no progress: the user's callbacks see the model ``fit`` returns.
        Requires ``device_`` and ``batch_size_``.
        """
        return SkaeNet(
            module=module,
            criterion=self._build_criterion(),
            optimizer=FlatAdam,
            lr=self.learning_rate_,
            optimizer__weight_decay=self.weight_decay,
            optimizer__fused=SkaeNet.fused_adam_supported(self.device_),
            max_epochs=self.max_epochs_,
            batch_size=self.batch_size_,
            iterator_train=iterate_batches,
            iterator_train__shuffle=True,
            iterator_train__seed=seed,
            # Checked once per net, not per batch; validation runs in eval mode,
            # where batch normalisation takes a single row.
            iterator_train__merge_single_row=has_batch_norm(module),
            iterator_valid=BatchIterator,
            train_split=train_split,
            callbacks=self._net_callbacks(monitor, extra_callbacks, internal),
            device=self.device_,
            verbose=0,
        )

    def _net_callbacks(self, monitor=None, extra_callbacks=(), internal=False):
        """The callbacks of a net training this estimator, as ``callbacks`` and
        ``verbose`` are now (see :meth:`_make_net`)."""
        return [
            ("divergence", DivergenceCheck()),
            *([("convergence", monitor)] if monitor is not None else []),
            *self._training_callbacks(),
            *([] if internal else self.callbacks or []),
            *extra_callbacks,
            *([] if internal else progress_callbacks(self)),
        ]

    def _continue_net(self, seed, tasks):
        """Prepare a trained ``net_`` for ``partial_fit``: reshuffle with ``seed`` and
        take the callbacks of this call.

        Each call is a training run of its own, as ``fit`` is: its callbacks are
        ``callbacks`` and ``verbose`` as they are now (a callback set with
        ``set_params`` after ``fit`` runs, one removed no longer does), with this
        call's scikit-learn callbacks, without ``fit``'s convergence monitor
        (``partial_fit`` never stops early) and learning-rate schedule; and every
        callback is initialized, as at the start of ``fit``, so that one that
        opens a writer in ``initialize()`` and lets it go at the end of a run
        (the user guide's ``TensorBoardPerFit``) has it open in every call.
        """
        self._check_callbacks()
        net = self.net_
        net.callbacks = self._net_callbacks(extra_callbacks=tasks.epoch_callbacks())
        net.initialize_callbacks()
        # partial_fit keeps the rate constant. A cosine fit left it near 0 in
        # the optimizer (saved with it), and its schedule, kept, would have
        # restarted its warm-up and stopped the call after one epoch.
        set_learning_rate(net.optimizer_, self.learning_rate_)
        # skorch reads it when it builds the iterator, at every training run
        # (set_params would rebuild the module and optimizer).
        net.iterator_train__seed = seed

    def _train(self, train_set, epochs):
        """Train ``net_`` for ``epochs`` epochs on ``train_set``, continuing its
        optimizer state and history; raise ``FloatingPointError`` if it diverged.

        A run that raises closes the progress bar and TensorBoard's writer
        (:meth:`SkaeNet.release_after_error`) before the error goes on.
        """
        self.net_.train_epochs(train_set, epochs)
        # The epochs' losses were computed before their steps: the network the
        # run leaves (the best epoch's, if early stopping restored it) is checked now.
        dict(self.net_.callbacks_)["divergence"].check_last_step(self.net_)

    def _record_training(self, monitor=None):
        """The fitted attributes that describe the training run so far."""
        net = self.net_
        validated = net.train_split is not None
        # The split holds the training data: do not keep (or pickle) it.
        net.train_split = None
        net.module_.eval()
        self.history_ = net.history
        # One entry per history row. An epoch interrupted by Ctrl-C keeps its
        # row (SkaeNet.epoch_interrupted), so it counts, but has no loss: NaN.
        self.n_epochs_ = len(net.history)
        self.loss_curve_ = [row.get("train_loss", math.nan) for row in net.history]
        if monitor is None:
            # partial_fit: the best epoch so far, by training loss, of the network
            # it trains, not of one a fit discarded.
            first = getattr(self, "_discarded_epochs", 0)
            losses = np.array(self.loss_curve_[first:])
            if np.isnan(losses).all():
                # Only an interrupted epoch since: no training loss to call best.
                # (A best kept from before would be a fit's validation loss, of
                # its start: an epoch with a training loss would be among these.)
                self.best_epoch_, self.best_loss_ = 0, math.nan
                return
            self.best_epoch_ = first + int(np.nanargmin(losses)) + 1
            self.best_loss_ = self.loss_curve_[self.best_epoch_ - 1]
            return
        if self.n_epochs_ and validated:
            self.validation_scores_ = [-row.get("valid_loss", math.nan) for row in net.history]
        # The monitor's best starts at inf; without a measured start (no early
        # stopping), a fit whose only epoch was interrupted keeps it, having no
        # loss at all: NaN, as in its loss_curve_.
        self.best_loss_ = math.nan if math.isinf(monitor.best_loss_) else monitor.best_loss_
        self.best_epoch_ = monitor.best_epoch_
        # A fit that kept its start (best_epoch_ 0: PCA's solution, or the start
        # restored) discarded the network its epochs trained, which loss="auto"'s
        # fall-back may even have trained on another objective: partial_fit's
        # best epoch is searched after them.
        self._discarded_epochs = self.n_epochs_ if self.best_epoch_ == 0 else 0

    def _schedule_callbacks(self, n_train):
        """The learning-rate schedule of a ``fit`` on ``n_train`` training rows."""
        if self.learning_rate_schedule_ != "cosine":
            return []
        steps_per_epoch = max(1, math.ceil(n_train / self.batch_size_))
        return [("learning_rate_schedule",
                 WarmupCosine(self.learning_rate_, self.max_epochs_, steps_per_epoch))]

    def _fit(self, X, tasks):
        """Train on validated ``X`` (``_resolve_parameters`` has run)."""
        self._check_data(X)
        folds = self._cross_validation_folds(X)
        if folds is None:
            self._fit_on_split(X, tasks)
        else:
            self._fit_cross_validated(X, tasks, folds)
        self.n_samples_seen_ = X.shape[0]
        with training_threads(self.net_.module_, self.batch_size_, self.device_):
            # A pass over X (the codes' statistics), on training's threads.
            self._after_fit(X)

    def _fit_on_split(self, X, tasks):
        """Train on the rows not held out, stopping early on the validation rows (if any)."""
        valid_rows, train_rows = self._validation_split(X)
        # This fit's own generators: fits in threads neither share torch's global one
        # nor change it.
        init_generator, train_generator = fit_generators(self._seed, self.device_)
        with contextlib.ExitStack() as threads:
            module, loc, scale = self._initialize_module(
                X, train_rows, valid_rows, init_generator, threads
            )
            threads.enter_context(draw_from(module, train_generator))
            train_set, valid_set = self._datasets(X, train_rows, valid_rows, checked=True)
            monitor = ConvergenceMonitor(
                "valid_loss" if valid_set is not None else "train_loss",
                patience=self.n_iter_no_change,
                tol=self.tol,
                restore_best=valid_set is not None,
                baseline_dataset=valid_set,
            )
            self.net_ = self._make_net(
                module,
                self._seed,
                monitor,
                train_split=None if valid_set is None else predefined_split(valid_set),
                extra_callbacks=[
                    *self._schedule_callbacks(X.shape[0] - len(valid_rows)),
                    *tasks.epoch_callbacks(),
                ],
            )
            self.net_.initialize()
            self._train(train_set, self.max_epochs_)
        if self.init == "pca" and valid_set is not None:
            reference = self._pca_reference(X, train_rows, loc, scale, exclude=valid_rows)
            if not self._beats_start(X, valid_rows, monitor, reference):
                # No epoch clearly beat the starting point on the validation rows:
                # return PCA's solution fitted on every row, and its validation
                # loss. (The autoencoder's is what PCA(n_components).fit(X) gives;
                # the VAE's probabilistic PCA floors the noise variance, see its
                # _start_at_pca, and differs from PCA's where that floor binds.)
                monitor.best_epoch_ = 0
                monitor.best_loss_ = self._pca_loss(reference, valid_set, monitor.start_loss_)
                self._fall_back_to_pca(X, loc, scale)
        monitor.start_state_ = None
        self._record_training(monitor)

    def _fall_back_to_pca(self, X, loc, scale):
        """Make ``net_`` compute PCA's solution on every row of ``X``; its history stays.

        The trained network is restarted at that solution, or, if it cannot
        compute it (:meth:`_pca_reference`), replaced by one that does.
        """
        every_row = None if is_streamed(X) else np.arange(X.shape[0])
        network = self._pca_reference(X, every_row, loc, scale)
        self._use_pca_solution()
        if network is None:
            self._start_at_pca(
                self.net_.module_, *self._principal_axes(X, every_row, loc, scale)
            )
            # Adam's moments belong to the trained weights: partial_fit continues
            # from PCA's solution with a fresh optimizer, as from a replaced network.
            self.net_.initialize_optimizer()
            return
        # The trained net takes the network in, as skorch's set_params does: a new
        # criterion and optimizer, the history kept, and the callbacks too, which
        # initializing a new net would reset after the training they watched.
        self.net_.set_params(module=network)

    def _pca_loss(self, reference, valid_set, start_loss):
        """The validation loss of the model a fall-back to PCA returns, in its objective's terms.

        ``start_loss``, the start's, or, when the start is not PCA's solution in
        :meth:`score_samples`' terms, that of ``reference`` (:meth:`_pca_reference`,
        fitted on the same training rows): ``best_loss_`` then measures the network
        the fall-back returns with the objective of its ``loss_``, not the network
        that lost to it (a binary cross-entropy).
        """
        if reference is None:
            return start_loss
        net = self._make_net(reference, self._seed, None, internal=True)
        net.initialize()
        return net.evaluate_loss(valid_set)

    def _cross_validation_folds(self, X):
        """``[(train_rows, valid_rows), ...]`` when early stopping cross-validates, else None.

        With ``early_stopping="auto"``, in-memory data whose validation split
        would hold fewer than ``_MIN_VALIDATION_ROWS`` rows (and at least
        ``2 * _CV_FOLDS`` rows in all) is cut into ``_CV_FOLDS`` folds of
        shuffled rows, sorted. A learning-rate schedule over a fixed epoch
        budget (``"cosine"``) keeps the split: its epochs are not chosen.
        """
        n_samples = X.shape[0]
        if (self.early_stopping != "auto" or is_streamed(X) or n_samples < 2 * _CV_FOLDS
                or self.learning_rate_schedule_ != "constant"):
            return None
        if math.ceil(self.validation_fraction * n_samples) >= _MIN_VALIDATION_ROWS:
            return None
        order = np.random.RandomState(self._seed).permutation(n_samples)
        parts = np.array_split(order, _CV_FOLDS)
        return [
            (np.sort(np.concatenate(parts[:i] + parts[i + 1:])), np.sort(part))
            for i, part in enumerate(parts)
        ]

    def _fit_cross_validated(self, X, tasks, folds):
        """Early stopping on small data: choose the epochs on every row, then train on every row.

        :meth:`_select_epochs` trains a network on each fold's other rows and
        scores it on the fold, so every row is a validation row once; the
        final network starts afresh (at PCA fitted on every row, with
        ``init="pca"``) and trains on every row for the epochs chosen, as a
        user tunes a plain loop. If the chosen epoch is not clearly better
        than the start on the folds, that start -- PCA on every row -- is the
        model, trained for no epoch.
        """
        selection = self._select_epochs(X, folds)
        epochs = selection.best_epoch_
        if self.init == "pca" and not selection.clearly_better:
            epochs = selection.best_epoch_ = 0
            selection.best_loss_ = selection.pca_loss_
            self._use_pca_solution()
        every_row, no_rows = np.arange(X.shape[0]), np.empty(0, dtype=np.int64)
        init_generator, train_generator = fit_generators(self._seed, self.device_)
        with contextlib.ExitStack() as threads:
            module, _, _ = self._initialize_module(X, every_row, no_rows, init_generator, threads)
            threads.enter_context(draw_from(module, train_generator))
            train_set, _ = self._datasets(X, every_row, no_rows, checked=True)
            self.net_ = self._make_net(
                module, self._seed, None, extra_callbacks=tasks.epoch_callbacks()
            )
            self.net_.initialize()
            # Even for no epoch: the callbacks, initialized, then see the training
            # begin and end (a writer a callback opened is closed at its end).
            self._train(train_set, epochs)
        if self.net_.epoch_interrupted:
            # Ctrl-C stopped the refit short of the epochs chosen: the model
            # returned is the one trained so far, best_epoch_ its completed epochs.
            selection.cut_to(len(self.net_.history) - 1)
        self._record_training(selection)
        self.validation_scores_ = [-loss for loss in selection.validation_losses]

    def _select_epochs(self, X, folds):
        """The number of epochs, by cross-validation (:meth:`_fit_cross_validated`).

        One network per fold, each started as :meth:`_fit_on_split` starts one
        (PCA on its training rows), trained in step one epoch at a time: the
        validation loss of an epoch is the folds' mean over every row, and
        training stops when it has not improved by more than ``tol`` for
        ``n_iter_no_change`` epochs. The epochs chosen are the most whose loss
        is within one standard error of the lowest (:func:`choose_epochs`).
        Returns a :class:`_EpochSelection`.
        """
        weights = np.array([len(valid_rows) for _, valid_rows in folds]) / X.shape[0]
        runs = []
        with contextlib.ExitStack() as stack:
            for fold, (train_rows, valid_rows) in enumerate(folds):
                seed = _derived_seed(self._seed, fold + 1)
                init_generator, train_generator = fit_generators(seed, self.device_)
                module, loc, scale = self._initialize_module(
                    X, train_rows, valid_rows, init_generator, stack
                )
                stack.enter_context(draw_from(module, train_generator))
                train_set, valid_set = self._datasets(X, train_rows, valid_rows, checked=True)
                net = self._make_net(
                    module, seed, None, train_split=predefined_split(valid_set), internal=True
                )
                net.initialize()
                runs.append(FoldRun(net, seed, train_set, valid_set, valid_rows))
            valid_X = [X[run.valid_rows] for run in runs]
            for run, rows in zip(runs, valid_X):
                run.scores.append(self._decision_scores(rows, run.net, run.seed))
            # fold_losses[f][e]: fold f's validation loss after e epochs (0: the start).
            fold_losses = [[run.net.evaluate_loss(run.valid_set)] for run in runs]
            plateau = Plateau(self.n_iter_no_change, self.tol,
                              best_loss=float(weights @ [f[0] for f in fold_losses]))
            for epoch in range(1, self.max_epochs_ + 1):
                for run, rows, losses in zip(runs, valid_X, fold_losses):
                    # skorch builds the iterator at every training run: a new
                    # seed per epoch, or every epoch would shuffle alike.
                    run.net.iterator_train__seed = _derived_seed(run.seed, epoch)
                    run.net.partial_fit(run.train_set, None, epochs=1)
                    if run.net.epoch_interrupted:
                        # Ctrl-C, which skorch swallowed: no model is trained yet
                        # to return, so the fit is interrupted.
                        raise KeyboardInterrupt
                    losses.append(run.net.history[-1, "valid_loss"])
                    run.scores.append(self._decision_scores(rows, run.net, run.seed))
                plateau.update(float(weights @ [losses[-1] for losses in fold_losses]))
                if plateau.stalled:
                    break
            else:
                warn_not_converged(self.max_epochs_, "cross-validated valid_loss")
            best, chosen = choose_epochs(fold_losses, weights)
            # PCA's solution on each fold's training rows when, in score_samples'
            # terms, it is not the fold's start (None: the start is; loc and scale,
            # X's input scaling, are every fold's): the network to beat, and the
            # model a fall-back returns.
            references = [
                self._pca_reference(X, train_rows, loc, scale, exclude=run.valid_rows)
                if best or self.init == "pca" else None
                for run, (train_rows, _) in zip(runs, folds)
            ]
            # The gain over the start is tested at the epochs chosen, the network
            # the refit trains, not at the best epoch: that epoch was picked as
            # the minimum of these same rows' losses, so its gain is biased
            # upwards (chosen past it, a gain that held only at the minimum
            # let a network worse than PCA through on held-out rows).
            gains = []
            for run, rows, reference in zip(runs, valid_X, references) if best else ():
                baseline = run.scores[0] if reference is None else self._decision_scores(
                    rows, run.net, run.seed, module=reference
                )
                gains.append(run.scores[chosen] - baseline)
            gains = np.concatenate(gains) if gains else np.zeros(0)
            pca_losses = [
                self._pca_loss(reference, run.valid_set, losses[0])
                for run, reference, losses in zip(runs, references, fold_losses)
            ]
        mean_losses = weights @ np.asarray(fold_losses, dtype=np.float64)
        return _EpochSelection(
            best_epoch_=chosen,
            best_loss_=float(mean_losses[chosen]),
            pca_loss_=float(weights @ pca_losses),
            start_loss_=float(mean_losses[0]),
            validation_losses=mean_losses[1:].tolist(),
            clearly_better=best > 0 and _clearly_better(gains),
        )

    def _beats_start(self, X, valid_rows, monitor, reference):
        """Whether the trained network (best epoch) clearly beats its starting point.

        The start is PCA fitted on the training rows only, worse than PCA on
        every row; the best epoch must improve the validation rows'
        :meth:`_decision_scores` clearly (:func:`_clearly_better`), against that
        start or, if the start is not PCA's solution in those terms, against
        ``reference``, the training rows' :meth:`_pca_reference`. Streamed data
        hold out enough rows for the validation loss alone to decide against
        the start.
        """
        if monitor.best_epoch_ == 0:
            return False
        if reference is None and (is_streamed(X) or monitor.start_state_ is None):
            return True
        rows = np.vstack(list(_dense_chunks(X, valid_rows))) if is_streamed(X) else X[valid_rows]
        gains = self._gains_over_start(
            self.net_, rows, monitor.start_state_, self.net_.module_.state_dict(), reference
        )
        return _clearly_better(gains)

    def _gains_over_start(self, net, rows, start_state, best_state, reference=None):
        """Each row's :meth:`_decision_scores` with ``best_state`` minus with ``start_state``.

        Computed with ``net``'s module, which is left holding ``best_state``;
        or minus the scores of the network ``reference`` (:meth:`_pca_reference`).
        """
        best_state = copy.deepcopy(best_state)
        net.module_.load_state_dict(best_state)
        trained = self._decision_scores(rows, net, self._seed)
        if reference is not None:
            return trained - self._decision_scores(rows, net, self._seed, module=reference)
        net.module_.load_state_dict(start_state)
        start = self._decision_scores(rows, net, self._seed)
        net.module_.load_state_dict(best_state)
        return trained - start

    def _decision_scores(self, rows, net, seed, module=None):
        """Each row's :meth:`score_samples`, as the choices made in ``fit`` estimate it.

        Whether the trained network beats its start is decided on these
        (:meth:`_beats_start`, :meth:`_select_epochs`). Here ``score_samples``
        itself, which has no randomness; a subclass whose scores are random
        estimates draws them from ``seed`` (a fold's, or the fit's) apart from
        those ``score_samples`` reports with. ``net`` and ``module`` as in
        :meth:`_map_chunks`; every call with the same ``seed`` draws alike, so
        two networks' scores differ by the networks, not by the draws.
        """
        score = self._chunk_function("score_samples", net.device)
        return self._map_chunks(rows, score, np.float64, net=net, module=module)

    def _principal_axes(self, X, rows, loc, scale, exclude=None):
        """:func:`principal_axes` of ``X[rows]``, on a seeded subsample of large data.

        ``rows=None`` (streamed data) means every row not in ``exclude``.
        """
        n_features = X.shape[1]
        max_rows = max(1000, min(_INIT_MAX_SAMPLES, _INIT_MAX_ELEMENTS // n_features))
        if rows is None:
            # A stream of its own: drawn with the validation rows' seed, the
            # sample's ranks among the other rows would fall beside them.
            seed = _derived_seed(self._seed, *_PCA_SAMPLE_KEYS)
            rows = sample_rows(X.shape[0], max_rows, seed, exclude)
        elif len(rows) > max_rows:
            rows = np.sort(np.random.RandomState(self._seed).choice(rows, max_rows, replace=False))
        return principal_axes(X, rows, loc, scale, self.n_components, self._seed)

    # -------------------------------------------------------------- inference
    def _check_X(self, X):
        check_is_fitted(self)
        if isinstance(X, np.memmap) and (X.ndim > 2 or X.dtype not in (np.float32, np.float64)):
            return self._check_memmap(X)
        X, sample_shape = as_rows(X)
        check_sample_shape(sample_shape, self.input_shape_, type(self).__name__)
        X = validate_data(
            self, X, accept_sparse="csr", dtype=[np.float64, np.float32], reset=False
        )
        _check_float32_range(X)
        return X

    def _check_memmap(self, X):
        """Memmap ``X`` checked block by block, as rows read in chunks (:class:`MappedRows`).

        For a memmap that ``validate_data`` could copy whole: one of another
        dtype than float32 and float64 (converted to float64), or of images or
        sequences (rank 3 or 4), whose rows are a view of it only in C order
        (not in Fortran order, nor in a slice such as ``X[:, :, :8]``). Its
        values are checked as ``validate_data`` and
        :func:`_check_float32_range` check an array, one block at a time,
        naming the rows of a NaN or an infinity.
        """
        check_sample_shape(sample_shape_of(X), self.input_shape_, type(self).__name__)
        # By its first row, as rows: a memmap of rank 1 is refused, as validate_data would.
        validate_streamed(self, MappedRows(X, None, X.dtype) if X.ndim > 2 else X, reset=False)
        return _checked_in_blocks(X)

    def _check_Z(self, Z):
        check_is_fitted(self)
        check_tensor(Z, "Z")
        if isinstance(Z, np.memmap) and Z.dtype not in (np.float32, np.float64):
            # check_array would convert it whole, in memory (codes of int16, say):
            # checked by its rank, dtype and first row, read in chunks, as
            # _check_memmap reads X (the first row of a 1-D Z is one value,
            # which check_array would print as the array).
            if Z.ndim != 2:
                raise _not_2d(Z)
            check_real_dtype(Z, type(self).__name__, "Z")
            check_has_features(Z, type(self).__name__)
            check_array(Z[:1], dtype=[np.float64, np.float32], estimator=self)
            Z = _checked_in_blocks(Z, "Z")
        else:
            Z = check_array(Z, dtype=[np.float64, np.float32], estimator=self)
            _check_float32_range(Z, "Z")
        if Z.shape[1] != self.n_components_:
            raise ValueError(
                f"Z has {Z.shape[1]} columns, but {type(self).__name__} has "
                f"n_components={self.n_components_}."
            )
        return Z

    def _chunk_function(self, method, device):
        """``fn(module, x)``: what ``method`` computes on one float32 chunk on ``device``.

        ``_map_chunks`` applies it to the data and :mod:`skae.onnx` exports it,
        so the two cannot differ. Subclasses add ``"transform"`` and
        ``"score_samples"``.
        """
        if method == "inverse_transform":
            return lambda m, z: m.reconstruct_mean(m.decode(z))
        raise ValueError(f"{type(self).__name__} cannot compute {method!r} on chunks.")

    def _as_samples(self, rows):
        """``rows`` of the input's width, shaped ``(n, *input_shape_)`` if ``fit`` saw such X."""
        if self._sample_rank == 1:
            return rows
        return rows.reshape(rows.shape[0], *self.input_shape_)

    def _map_chunks(self, X, fn, dtype, net=None, module=None):
        """Apply ``fn`` to float32 chunks of ``X`` on the net's device.

        Memory is bounded by the chunk, not by ``X``: no scaled or float32 copy
        of the whole input is made. ``fn`` returns a tensor or a tuple of tensors;
        the result is a numpy array (or a tuple of them) of ``dtype``. ``net``:
        another net than ``net_`` (a cross-validation fold's); ``module``:
        another module than the net's, on its device.
        """
        net = self.net_ if net is None else net
        module = net.module_ if module is None else module
        module.eval()
        device = net.device
        results, start, module64 = None, 0, None
        with torch.inference_mode():
            chunks = _dense_chunks(X, dtype=np.float32, elements=_INFERENCE_CHUNK_ELEMENTS)
            for block in chunks_with_progress(self, chunks, X.shape[0]):
                # Row-major whatever the input's layout (a DataFrame's values are
                # column-major): the matrix products round the same, so a DataFrame
                # gets the same outputs as its array, bit for bit.
                block = np.ascontiguousarray(block)
                out = fn(module, to_float32_tensor(block, device))
                out = out if isinstance(out, tuple) else (out,)
                if not all(bool(torch.isfinite(o).all()) for o in out):
                    # float32 overflowed inside the network (values near its largest):
                    # this chunk again in float64. (An infinite score, of a row outside
                    # the likelihood's support, is computed twice and stays infinite.)
                    if module64 is None:
                        module64 = copy.deepcopy(module).double()
                    rows = next(_dense_chunks(X, np.arange(start, start + len(block))))
                    out = fn(module64, torch.tensor(rows, device=device))
                    out = out if isinstance(out, tuple) else (out,)
                if results is None:
                    # Written in place, chunk by chunk: no list of parts to concatenate.
                    results = tuple(
                        np.empty((X.shape[0], *o.shape[1:]), dtype=dtype) for o in out
                    )
                for result, o in zip(results, out):
                    result[start : start + len(block)] = o.cpu().numpy()
                start += len(block)
        return results if len(results) > 1 else results[0]

    @lazy_on_dask(samples=False)
    def inverse_transform(self, X):
        """Map codes back to the input space (the decoder's mean).

        Parameters
        ----------
        X : {array-like, numpy.memmap, dask array} of shape (n_samples, n_components)
            Codes, e.g. from :meth:`transform` or drawn by the user. Codes beyond
            float32's range (about 3.4e38), in which the network computes, raise
            a ``ValueError``. A dask array gives a lazy dask array.

        Returns
        -------
        X_original : ndarray of shape (n_samples, `n_features_in_`)
            Reconstructions in the original units of the training data; of
            shape ``(n_samples, *input_shape_)`` when ``fit`` saw such an array.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> ae.inverse_transform(ae.transform(X[:3])).shape
        (3, 5)
        """
        Z = self._check_Z(X)
        decode = self._chunk_function("inverse_transform", self.net_.device)
        return self._as_samples(self._map_chunks(Z, decode, Z.dtype))

    def score(self, X, y=None):
        """Mean of :meth:`score_samples` over the rows of ``X`` (higher is better).

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Data to score; images or sequences of shape
            ``(n_samples, *input_shape_)`` too.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        score : float

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> bool(ae.score(X) == ae.score_samples(X).mean())
        True
        """
        return float(np.mean(self.score_samples(X)))

    #: Parameters holding a module's keyword arguments, whose entries
    #: ``get_params`` and ``set_params`` reach as ``<name>__<argument>``.
    _module_kwargs_params = ("encoder_kwargs", "decoder_kwargs")

    def get_params(self, deep=True):
        """Get parameters for this estimator.

        Parameters
        ----------
        deep : bool, default=True
            If True, also the entries of ``encoder_kwargs`` and
            ``decoder_kwargs``, as ``encoder_kwargs__<argument>`` (skorch's
            ``module__<argument>``), which :meth:`set_params` and
            ``GridSearchCV`` take.

        Returns
        -------
        params : dict
            Parameter names mapped to their values.
        """
        params = super().get_params(deep=deep)
        for name in self._module_kwargs_params if deep else ():
            # Any value can be set; fit validates it.
            arguments = params[name] if isinstance(params[name], dict) else {}
            for argument, value in arguments.items():
                params[f"{name}__{argument}"] = value
        return params

    def set_params(self, **params):
        """Set the parameters of this estimator.

        ``encoder_kwargs__<argument>`` and ``decoder_kwargs__<argument>`` set
        one keyword argument of a module class, so that a grid can search over
        it (``{"encoder_kwargs__channels": [8, 16]}``): the parameter becomes a
        new dict with that entry (the dict it held is not modified), on top of
        ``encoder_kwargs`` if that is set in the same call.

        Parameters
        ----------
        **params : dict
            Estimator parameters.

        Returns
        -------
        self : estimator instance
            Estimator instance.
        """
        for name in self._module_kwargs_params:
            prefix = name + "__"
            entries = {key[len(prefix):]: params.pop(key)
                       for key in [key for key in params if key.startswith(prefix)]}
            if entries:
                given = params[name] if name in params else getattr(self, name)
                if not isinstance(given, (dict, type(None))):
                    raise ValueError(
                        f"{prefix}{next(iter(entries))} sets an entry of {name}, which is "
                        f"{given!r}, not a dict or None."
                    )
                params[name] = {**(given or {}), **entries}
        return super().set_params(**params)

    def __sklearn_clone__(self):
        try:
            return super().__sklearn_clone__()
        except Exception as exc:
            error = clone_error(self)
            if error is None:
                raise
            raise error from exc

    @property
    def _n_features_out(self):
        return self.n_components_

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = True
        # Sequences come as (n_samples, C, T) too (and images as rank 4, which no
        # tag names); see ``input_shape``.
        tags.input_tags.three_d_array = True
        tags.transformer_tags.preserves_dtype = ["float64", "float32"]
        return tags
