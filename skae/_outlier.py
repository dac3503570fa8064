"""``ReconstructionOutlierDetector``: outlier detection with an autoencoder or a VAE."""

import functools
import warnings
from numbers import Integral, Real

import numpy as np
import scipy.sparse as sp
import torch
from scipy import linalg, stats
from sklearn.base import BaseEstimator, OutlierMixin, _fit_context, clone
from sklearn.exceptions import ConvergenceWarning
from sklearn.neighbors import NearestNeighbors
from sklearn.utils import check_random_state, gen_batches
from sklearn.utils._available_if import available_if
from sklearn.utils._param_validation import HasMethods, StrOptions
from sklearn.utils._tags import get_tags
from sklearn.utils.validation import check_is_fitted, validate_data

from ._autoencoder import AutoencoderTransformer
from ._base import (
    NumberInterval,
    _BaseAutoencoder,
    _check_float32_resolution,
    _not_2d,
    _column_moments,
    _dense_chunks,
    _float_dtype,
    _rounding_variance,
    check_finite_block,
    check_real_dtype,
    lazy_on_dask,
    principal_axes,
    validate_streamed,
)
from ._fit_failure import _forget_fit, unfitted_on_error
from ._neighborhood import TiedNeighbours, neighborhood_score
from ._sklearn_callbacks import CallbackSupportMixin, FitTasks
from ._shapes import as_rows, check_sample_shape, sample_shape_of
from ._streaming import MappedRows, RowBlocks, is_streamed, merge_moments

#: ``feature_scaling="auto"``: a feature whose skewness exceeds this in absolute
#: value ...
_HEAVY_TAIL_SKEWNESS = 3.0
#: ... and that takes more than this many distinct values (a few-valued rating
#: is skewed without a tail) goes through a Yeo-Johnson transform first, its
#: exponent within ``_POWER_RANGE``: from a logarithm of the right tail (0) to
#: one of the left tail (2), 1 being no transform.
_HEAVY_TAIL_MIN_VALUES = 20
_POWER_RANGE = (0.0, 2.0)
#: ``feature_scaling``: a near-constant feature's variance gets this multiple
#: of its rare values' typical square deviation from its most common value
#: added (their median over the sampled rows, ``_near_constant``; their mean
#: over every row where the sample holds none, ``_rare_deviation``), in its own
#: units: a typical rare value then lands about ``1 / sqrt(_VARIANCE_FLOOR)``
#: scaled units from the common one -- at 1, as far as one standard deviation
#: of any other feature ...
_VARIANCE_FLOOR = 1.0
#: ... where near-constant means that this fraction of its rows hold its most
#: common value (an image's blank border pixel, a rarely set flag).
_NEAR_CONSTANT = 0.9
#: The default autoencoder's hidden widths: these multiples of the number of
#: features, at most these widths.
_HIDDEN_PER_FEATURE = (2, 1)
_HIDDEN_MAX = (128, 64)
#: With ``estimator=None``, the default autoencoder keeps enough components to
#: explain this fraction of the (scaled) training variance.
_EXPLAINED_VARIANCE = 0.6
#: ... measured on at most this many training rows, drawn at random (as is
#: ``feature_scaling``'s near-constant rule).
_N_COMPONENTS_MAX_SAMPLES = 2000
#: The default autoencoder's training budget, in epochs over the training rows
#: (no early stopping): the network starts at PCA's solution and moves a few
#: steps from it, as far as the normal rows' shared structure takes it, before
#: it learns to reconstruct the rarer rows -- the anomalies -- too.
_EPOCHS = 5
#: Tukey's fence: ``contamination="auto"`` flags scores below Q1 - 1.5 IQR; the
#: reference rows of the statistics are those whose first fit's anomaly score is
#: within the fence on a log scale (see ``_reference_rows``).
_TUKEY_K = 1.5
#: ``anomaly_score`` of ``"neighborhood"`` or ``"local"``: a row's local statistic
#: is its squared distance to the ``n_neighbors``-th nearest reference code (in
#: the input's units, see ``_decoder_metric``), among at most this many reference
#: rows' codes, drawn at random: the neighbour search, the fitted detector (and
#: its ONNX graph) stay of bounded size however many rows it was fitted on.
_MAX_REFERENCE_CODES = 100_000
#: Rows whose statistics (T², embedded codes, neighbours) are computed at
#: once, in float64: a bound on the memory that scoring and fitting take
#: beside the per-row results (which hold the codes in the network's float32).
_CHUNK_ROWS = 2**14
#: The wrapped estimator's methods each score of its own statistics needs (the
#: local term measures distances between reconstructions: ``inverse_transform``).
_SCORE_METHODS = {
    "combined": ("reconstruction_error", "transform"),
    "local": ("reconstruction_error", "transform", "inverse_transform"),
}
_SCORE_METHODS["neighborhood"] = _SCORE_METHODS["local"]
#: The scores that measure the codes' nearest reference codes.
_NEIGHBOUR_SCORES = ("local", "neighborhood")


def yeo_johnson(X, lambdas, centre, spread):
    """Yeo-Johnson's power transform of each column of ``X``, about ``centre`` in units of ``spread``.

    Column ``j`` becomes ``yj((X[:, j] - centre[j]) / spread[j], lambdas[j])``;
    a column with exponent 1 is returned as it is. Centred and scaled first,
    the transform acts on the column's shape, not its offset or units: a
    narrow column far from 0 would otherwise be flattened below float32's
    resolution. numpy arrays, or torch tensors (ONNX export).
    """
    if isinstance(X, torch.Tensor):
        where, log1p, power = torch.where, torch.log1p, torch.pow
        lambdas, centre, spread = (v.to(X.dtype) for v in (lambdas, centre, spread))
    else:
        where, log1p, power = np.where, np.log1p, np.power
        lambdas, centre, spread = (v.astype(X.dtype) for v in (lambdas, centre, spread))
    untouched = X
    X = (X - centre) / spread
    positive = X >= 0
    # Each side's formula sees 0 for the values of the other side (bases stay
    # >= 1); the branch not taken for an exponent of 0 or 2 divides by zero or
    # overflows, and the where discards it.
    above, below = where(positive, X, 0 * X), where(positive, 0 * X, -X)
    with np.errstate(divide="ignore", invalid="ignore", over="ignore"):
        right = where(lambdas == 0, log1p(above), (power(above + 1, lambdas) - 1) / lambdas)
        left = where(lambdas == 2, -log1p(below),
                     -(power(below + 1, 2 - lambdas) - 1) / (2 - lambdas))
    return where(lambdas == 1, untouched, where(positive, right, left))


def _fit_power(rows):
    """``(lambdas, centre, spread)`` of :func:`yeo_johnson` for the columns of ``rows``.

    ``rows``: the training rows of :func:`_sample`. Fitted for the heavy-tailed
    columns (a skewness beyond ``_HEAVY_TAIL_SKEWNESS``, more than
    ``_HEAVY_TAIL_MIN_VALUES`` distinct values, not near-constant): the median, the
    interquartile range over 1.349 (the standard deviation where it is 0),
    and the maximum-likelihood exponent of the centred, scaled column
    (:func:`scipy.stats.yeojohnson_normmax`) clipped to ``_POWER_RANGE``.
    The other columns get exponent 1: left as they are.
    """
    n_features = rows.shape[1]
    lambdas, centre, spread = np.ones(n_features), np.zeros(n_features), np.ones(n_features)
    for j, column in enumerate(rows.T):
        # (NaN and infinities are reported by the scaling's checked pass.)
        values, counts = np.unique(column, return_counts=True)
        if len(values) <= _HEAVY_TAIL_MIN_VALUES or not np.isfinite(column).all():
            continue
        # A near-constant column is skewed by its rare values being there, not by
        # a tail: the floor scales it (_feature_scale), and a log-like transform
        # would pull its far rare values -- a training set's anomalies, or a new
        # row's -- in towards the others.
        if _is_near_constant(counts):
            continue
        if not abs(stats.skew(column)) > _HEAVY_TAIL_SKEWNESS:
            continue
        q1, centre[j], q3 = np.percentile(column, [25, 50, 75])
        spread[j] = (q3 - q1) / 1.349 if q3 > q1 else column.std()
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # the optimiser's overflows
            lambdas[j] = np.clip(
                stats.yeojohnson_normmax((column - centre[j]) / spread[j]), *_POWER_RANGE
            )
    return lambdas, centre, spread


def hotelling_t2(codes, mean, precision):
    """Hotelling's T² of each row of ``codes``: numpy arrays, or torch tensors (ONNX export)."""
    centred = codes - mean
    einsum = torch.einsum if isinstance(codes, torch.Tensor) else np.einsum
    return einsum("ij,jk,ik->i", centred, precision, centred)


def embed_codes(codes, mean, metric):
    """Codes centred and multiplied by ``metric`` (``latent_metric_``), where the
    local term measures their distances: numpy arrays, or torch tensors (ONNX export).
    """
    return (codes - mean) @ metric


def combined_score(spe, t2, control_limits):
    """``anomaly_score="combined"``: minus the sum of SPE and T², each divided by its control limit.

    numpy arrays, or torch tensors (ONNX export).
    """
    return -(spe / control_limits[0] + t2 / control_limits[1])


def local_score(spe, distance2, control_limits, n_components):
    """``anomaly_score="local"``: minus SPE over its limit plus the codes' local term.

    The local term is ``n_components * log(1 + distance2 / control_limits[1])``,
    ``distance2`` the squared distance to the k-th nearest reference code:
    minus twice the log of a k-nearest-neighbour density estimate of the
    codes (``d_k ** -n_components``), up to a constant -- the counterpart of
    T², minus twice the log of a Gaussian density. The 1 keeps duplicated
    codes (``distance2 = 0``, discrete data) finite. numpy arrays, or torch
    tensors (ONNX export).
    """
    log = torch.log if isinstance(spe, torch.Tensor) else np.log
    return -(spe / control_limits[0] + n_components * log(1.0 + distance2 / control_limits[1]))


def overflowed_as_outliers(scores):
    """``scores`` with NaN replaced by minus infinity: numpy arrays, or torch tensors (ONNX export).

    The rows scored are finite (validated), and so are the fitted network and
    statistics, so a NaN score can only come from infinity minus infinity: float32
    overflowing inside the network on a row so far from the training data that its
    codes or reconstruction cannot be represented. Such a row is farther out than
    any row the network can score: it ranks below every finite score and is
    labelled an outlier, where a NaN would pass every comparison with the
    threshold as an inlier.
    """
    if isinstance(scores, torch.Tensor):
        return torch.where(torch.isnan(scores), -torch.inf, scores)
    return np.where(np.isnan(scores), -np.inf, scores)


def _over_chunks(function, n_rows):
    """``function`` of each slice of ``_CHUNK_ROWS`` rows below ``n_rows``, the results joined."""
    parts = [function(batch) for batch in gen_batches(n_rows, _CHUNK_ROWS)]
    return np.concatenate(parts) if parts else np.empty(0)


def _code_chunk(codes, batch, rows=None):
    """The rows ``batch`` of ``codes`` (those where the mask ``rows`` is true), in float64."""
    chunk = codes[batch] if rows is None else codes[batch][rows[batch]]
    return chunk.astype(np.float64)


def _code_chunks(codes, rows=None):
    """``codes``, or the rows of them where the mask ``rows`` is true, ``_CHUNK_ROWS``
    rows at a time, in float64: no float64 copy of every row's codes is made."""
    for batch in gen_batches(len(codes), _CHUNK_ROWS):
        yield _code_chunk(codes, batch, rows)


def _per_chunk(function, codes, rows=None):
    """``function`` of each chunk of :func:`_code_chunks`, the results joined."""
    return _over_chunks(lambda batch: function(_code_chunk(codes, batch, rows)), len(codes))


def _gaussian(codes, rows=None):
    """Mean and precision (pseudo-inverse covariance) of ``codes``, or of the rows
    of them where the mask ``rows`` is true; merged chunk by chunk."""
    moments = None
    for chunk in _code_chunks(codes, rows):
        if len(chunk):
            scatter = np.atleast_2d(np.cov(chunk, rowvar=False, bias=True))
            moments = merge_moments(moments, (len(chunk), chunk.mean(axis=0), scatter))
    n_rows, mean, covariance = moments
    # (normalised by the rows' count; np.cov's by one less)
    covariance = covariance * (n_rows / (n_rows - 1)) if n_rows > 1 else None
    if covariance is None or not np.all(np.isfinite(covariance)):
        covariance = np.eye(codes.shape[1])
    return mean, linalg.pinvh(covariance)


def _spe_rounding(rows, centre=0.0):
    """The reconstruction error that float32 rounding alone leaves on rows like ``rows``.

    A network that reconstructs its rows exactly (as many components as
    features) still leaves each value off by the rounding of the float32 sums
    it is computed with: the scalers' rounding variance of a constant feature
    (:func:`~skae._base._rounding_variance`), in float32, for values of the
    magnitude it computes with (their root mean square) summed over as many
    terms as a row has features. ``rows``: :func:`_sample`'s rows of the
    scaled training rows; ``centre``: what the network subtracts from them
    first (see :meth:`ReconstructionOutlierDetector._network_centre`). A
    skae network computes on the rows centred and compares its reconstruction
    with them there: measured from 0, a feature far from 0 relative to its
    spread would take the floor above a genuine reconstruction error.
    """
    magnitude = np.sqrt(np.mean((rows - centre) ** 2))
    return float(_rounding_variance(0.0, magnitude, rows.shape[1], np.float32))


def _control_limits(spe, statistic, spe_rounding):
    """The two statistics' means over the rows: the divisors of the score.

    ``spe_rounding``: :func:`_spe_rounding` of the training rows.
    """
    limits = np.array([spe.mean(), statistic.mean()])
    # A statistic that is 0 on every row (constant data) gets limit 1, as
    # scikit-learn's scalers treat a zero scale: its ratio stays finite. So does
    # an SPE that rounding alone gives (an exact reconstruction): divided by it,
    # the rows' rounding noise would make up the score, and differ from the
    # ONNX graph's by its own size.
    return np.where(limits > [spe_rounding, 0.0], limits, 1.0)


def _ranking_score(spe, codes, spe_rounding, fitted_rows=None):
    """Rows' SPE and T² combined, with the statistics of ``fitted_rows`` (a mask; all rows by default).

    They choose the rows of the second fit and the reference rows. The
    combined and local scores both rank by SPE and T² here: T²'s single
    Gaussian cannot be fooled by a cluster of anomalies, which the codes'
    nearest neighbours can (a clustered anomaly's neighbours are anomalies).
    ``spe_rounding``: see :func:`_control_limits`.
    """
    mean, precision = _gaussian(codes, fitted_rows)
    t2 = _per_chunk(lambda chunk: hotelling_t2(chunk, mean, precision), codes)
    fitted = slice(None) if fitted_rows is None else fitted_rows
    return combined_score(spe, t2, _control_limits(spe[fitted], t2[fitted], spe_rounding))


def _default_hidden_layer_sizes(n_features):
    """Hidden widths of the default autoencoder: proportional to the number of features.

    A network much wider than the data learns to reconstruct the anomalies too.
    """
    return tuple(min(m * n_features, cap) for m, cap in zip(_HIDDEN_PER_FEATURE, _HIDDEN_MAX))


def _sampled_rows(n_samples, random_state, size=_N_COMPONENTS_MAX_SAMPLES):
    """Sorted indices of at most ``size`` rows drawn at random.

    Every row when there are no more: the rules measured on a sample of the
    training rows (the number of components, the near-constant features), and
    the reference codes (``_MAX_REFERENCE_CODES``).
    """
    if n_samples <= size:
        return np.arange(n_samples)
    # Generator.choice, not RandomState.choice's permutation of every row (8 bytes
    # per row of a memmap larger than memory): it shuffles an index of every row
    # only below 50 * size rows, a bound that size sets. Not sample_rows, which
    # draws other rows: fitted detectors stay the models they were.
    seed = check_random_state(random_state).randint(np.iinfo(np.int32).max)
    return np.sort(np.random.default_rng(seed).choice(n_samples, size, replace=False))


def _sample(X, random_state):
    """The rows of :func:`_sampled_rows` of ``X`` (dense, CSR or streamed), as a float64 array.

    The feature-scaling rules are measured on them, not on the first rows:
    sorted data would be judged by its head. They are checked for NaN and
    infinities: they are the first rows ``fit`` reads of streamed ``X``,
    before any pass that checks its blocks.
    """
    rows = _sampled_rows(X.shape[0], random_state)
    sample = np.vstack(list(_dense_chunks(X, rows)))
    check_finite_block(sample, rows)
    return sample


def _is_near_constant(counts):
    """Whether a column whose distinct values occur ``counts`` times is
    near-constant: most of its rows (``_NEAR_CONSTANT``) hold one value."""
    return counts.max() / counts.sum() >= _NEAR_CONSTANT


def _near_constant(rows):
    """Each feature's most common value in ``rows`` (in their dtype), whether it
    is near-constant (:func:`_is_near_constant`), and the median square deviation
    from that value of the values off it (NaN where ``rows`` hold no other value)."""
    n_features = rows.shape[1]
    modes, near_constant = np.empty(n_features, rows.dtype), np.empty(n_features, bool)
    typical = np.full(n_features, np.nan)
    for j, column in enumerate(rows.T):
        values, counts = np.unique(column, return_counts=True)
        mode = counts.argmax()
        modes[j], near_constant[j] = values[mode], _is_near_constant(counts)
        if len(values) > 1:
            off = np.arange(len(values)) != mode
            squares = (values[off].astype(np.float64) - float(values[mode])) ** 2
            typical[j] = np.median(np.repeat(squares, counts[off]))
    return modes, near_constant, typical


def _moments_off_mode(X, modes):
    """Each feature's mean and variance (:func:`_column_moments`) and how many rows
    of ``X`` (dense, CSR or streamed) differ from its value in ``modes``.

    Streamed ``X`` is read once for both, each block checked
    (:func:`check_finite_block`); dense and CSR ``X`` are counted in chunks of
    rows, made dense as :func:`_column_moments` reads them, never compared
    whole: a CSR matrix's stored entries are not its values (duplicates of one
    row and column add up). ``modes`` must be in ``X``'s dtype and units
    (after any transform) to compare equal.
    """
    off = np.zeros(X.shape[1], np.int64)

    def count(block):
        off[:] += np.count_nonzero(block != modes, axis=0)

    if is_streamed(X):
        def check(block, start):
            check_finite_block(block, start)
            count(block)

        return (*_column_moments(X, check=check), off)
    for block in _dense_chunks(X, dtype=X.dtype):
        count(block)
    return (*_column_moments(X), off)


def _rare_deviation(mean, var, modes, off, n_samples):
    """Each feature's mean square deviation from ``modes`` over its ``off`` rows
    that differ from it (0 where none does), from its ``mean`` and ``var`` over
    all ``n_samples`` rows: the rows that equal the mode add nothing to the sum
    of squares ``n_samples * (var + (mean - mode)**2)``."""
    squares = n_samples * (var + (mean - modes) ** 2)
    return np.divide(squares, off, out=np.zeros_like(squares), where=off > 0)


def _over_blocks(function, X):
    """``function`` applied to each block of rows of streamed ``X``, the results joined.

    Arrays are joined along the rows; tuples of arrays, element by element.
    Only a block of ``X`` (and what ``function`` makes of it) is in memory at a
    time, beside the results, which are written into arrays of every row
    allocated at the first block: joining a list of every block's results
    would hold them twice. A sparse ``X`` is passed in row slices, which
    ``function`` may make dense one at a time.
    """
    results, start = None, 0
    if sp.issparse(X):
        X, bounds = X.tocsr(), RowBlocks(X).bounds
        blocks = (X[a:b] for a, b in zip(bounds[:-1], bounds[1:]))
    else:
        blocks = RowBlocks(X).iter(_float_dtype(X))
    for block in blocks:
        part = function(block)
        parts = part if isinstance(part, tuple) else (part,)
        if results is None:
            results = tuple(np.empty((X.shape[0], *p.shape[1:]), p.dtype) for p in parts)
        for result, p in zip(results, parts):
            result[start : start + len(p)] = p
        start += block.shape[0]
    return results if isinstance(part, tuple) else results[0]


def _in_row_blocks(method):
    """Let a fitted detector's ``method(X)`` take data larger than memory.

    A dask array gives a lazy dask array (:func:`~skae._base.lazy_on_dask`); a
    memmap (of rows, images or sequences) is read a block of rows at a time
    (:class:`RowBlocks`), so that neither it nor its scaled copy is ever in
    memory whole, and the blocks' results are concatenated. So is a sparse
    matrix that the detector makes dense (:meth:`_fitted_dense`).
    """
    lazy = lazy_on_dask(method)

    @functools.wraps(method)
    def wrapper(self, X):
        streamed = isinstance(X, np.memmap) and X.ndim >= 2
        densified = sp.issparse(X) and self._fitted_dense()
        if not ((streamed or densified) and X.shape[0] > 0):
            return lazy(self, X)
        check_is_fitted(self)
        check_real_dtype(X, type(self).__name__)
        if streamed:  # before a block is read
            self._check_sample_shape(sample_shape_of(X))
        return _over_blocks(functools.partial(method, self), X)

    return wrapper


def _row_subset(X, rows):
    """The rows ``rows`` (sorted indices) of ``X``: a copy, or a view when ``X`` is
    streamed (:class:`MappedRows`)."""
    return X.subset(rows) if isinstance(X, MappedRows) else X[rows]


def _clip_to_float32(X):
    """``X`` (a new array) clipped in place to float32's finite range.

    Scaled, or squared by the power transform, a row far outside the training
    data can leave the range in which the network computes, though the user's
    own values were within it: clipped, the row reaches the network and scores
    as far out as it can represent (minus infinity, see
    :func:`overflowed_as_outliers`), rather than being refused for a magnitude
    the user never passed. Rows within the range are left as they are.
    """
    limit = np.finfo(np.float32).max
    return np.clip(X, -limit, limit, out=X)


def _reshaped(X, sample_shape):
    """Rows ``X`` as ``(n_samples, *sample_shape)`` when the input had that shape."""
    return X if sample_shape is None else X.reshape(X.shape[0], *sample_shape)


def _explains_features(detector):
    """Whether ``detector.feature_contributions`` can work: the (fitted, else the
    given) estimator is an :class:`AutoencoderTransformer`, whose reconstruction
    error is a sum over features; otherwise the method is hidden, as
    scikit-learn hides the methods a meta-estimator's estimator lacks."""
    estimator = getattr(detector, "estimator_", detector.estimator)
    if estimator is not None and not isinstance(estimator, AutoencoderTransformer):
        raise AttributeError(
            "feature_contributions needs a wrapped AutoencoderTransformer (its "
            "score has a per-feature reconstruction error); "
            f"{type(estimator).__name__} scores rows otherwise."
        )
    return True


class ReconstructionOutlierDetector(CallbackSupportMixin, OutlierMixin, BaseEstimator):
    """Outlier detector that flags rows an autoencoder or a VAE models badly.

    The wrapped estimator is fitted on the training rows (assumed mostly
    normal) and scores new rows; higher means more normal. For an
    :class:`AutoencoderTransformer` the default score combines how badly a row
    is reconstructed with how unusual its codes are (see ``anomaly_score``); for a
    :class:`VAETransformer` it is the VAE's log-likelihood, which already has
    both parts. The API is :class:`~sklearn.ensemble.IsolationForest`'s:
    :meth:`predict` returns ``+1`` for inliers and ``-1`` for outliers,
    :meth:`decision_function` is ``score_samples(X) - offset_`` (negative for
    outliers).

    Parameters
    ----------
    estimator : estimator object or None, default=None
        Unfitted estimator with ``fit`` and ``score_samples`` (higher = more
        normal), usually an :class:`AutoencoderTransformer` or a
        :class:`VAETransformer`; it is cloned into ``estimator_``. ``None``
        uses ``AutoencoderTransformer(n_components=k,
        hidden_layer_sizes=(2 d, d), max_epochs=5, early_stopping=False,
        loss="mse", random_state=random_state)``, with ``d`` the number of
        features (the widths at most ``(128, 64)``) and ``k`` the smallest
        number of principal components that explain 60 % of the variance of
        the scaled training data. The detector has its own training budget:
        the network starts at PCA's solution and trains five epochs, with no
        early stopping -- trained longer, or wider, it learns to reconstruct
        the anomalies of a contaminated training set as well as the normal
        rows.

    contamination : "auto" or float in (0, 0.5], default="auto"
        Sets ``offset_``, the threshold of :meth:`predict`. A float: the
        proportion of training rows flagged as outliers (``offset_`` is that
        percentile of the training scores). ``"auto"``: Tukey's fence, ``offset_
        = Q1 - 1.5 IQR`` of the training scores (Q1, IQR: their first quartile
        and inter-quartile range), the boxplot rule for "far out" values. It
        needs no guess of the outlier proportion, is unaffected by up to 25 %
        of outliers in the training data, and adapts to how spread the scores
        are, whatever their units (a normalised statistic or a
        log-likelihood).

    feature_scaling : {"auto", "standard"} or None, default="auto"
        How features are put on one scale before the wrapped estimator sees
        them. A reconstruction error summed over features in different units
        (millimetres and square millimetres) is dominated by the features with
        the largest numbers, so each feature is divided by its standard
        deviation. ``"auto"`` first passes each *heavy-tailed*
        feature (skewness beyond 3 in absolute value, more than 20 distinct
        values, not near-constant -- see below; counted on at most 2,000 rows
        drawn at random) through a
        Yeo-Johnson power transform, centred on its median and in units of
        its interquartile range, with the maximum-likelihood exponent between
        0 (a logarithm of the right tail) and 2 (one of the left tail): the
        standard deviation alone leaves such a feature's normal tail far out,
        and its rows dominate the reconstruction error (see
        ``power_transform_``; sparse input is not transformed). ``"standard"``
        only standardises. Either way, a *near-constant* feature (90 % of its rows
        hold one value: an image's blank border pixel, a seldom-set flag;
        counted on the same rows) gets the median square deviation of its other
        values from that one, on the same rows, added to its variance first:
        divided by its own tiny spread, its rare values would be inflated into
        huge errors; so floored, a typical rare value lands about one scaled
        unit from the common one, as far as one standard deviation of any other
        feature, and a far one, such as an anomaly of the training data, stays
        far (a mean would let far values set the scale and hide there). Where
        those rows hold no other value, the mean square deviation of the
        training rows that do is used. Each feature's scaling depends on its
        own values alone, as a ``StandardScaler``'s does, whatever the other
        features' units. Dense rows are
        centred on the training mean first, in their own dtype, before the
        estimator computes in float32: the cast of rows far from 0 relative to
        their spread would lose digits (and discrete data its ties, which the
        neighbours' score shares); sparse rows are only divided, so they stay
        sparse (given to a detector fitted on dense rows, they are made dense
        and scaled as those were). ``None`` feeds ``X`` as is: for features in
        one unit whose raw spreads matter, and for an estimator that needs data in [0, 1]
        (``loss="bce"``, ``likelihood="bernoulli"``), which the scaling would
        take outside that range (``fit`` raises a ``ValueError`` saying so).
        Rows outside the estimator's support score ``-inf``: outliers.

    anomaly_score : {"auto", "neighborhood", "local", "combined", "estimator"}, \
            default="auto"
        What :meth:`score_samples` returns. ``"estimator"``: the wrapped
        estimator's ``score_samples`` (negative reconstruction error, or a
        VAE's log-likelihood). ``"local"`` and ``"combined"`` (autoencoders
        only) return minus the sum of two terms: the reconstruction error
        (SPE, or Q: how far the row is off the learned manifold) divided by its
        mean on the reference training rows, and a term for its codes (how
        unusual its place on the manifold is). ``"combined"``: Hotelling's T²
        of the codes (their Mahalanobis distance from the training codes'
        mean) divided by its mean -- multivariate statistical process
        control's pair, one Gaussian over the codes. ``"local"``:
        ``n_components * log(1 + d² / mean d²)``, with ``d`` the distance to
        the ``n_neighbors``-th nearest reference code (``reference_codes_``),
        measured as the distance between the two codes' reconstructions (the decoder
        linearised, see ``latent_metric_``), in the units of the scaled
        input, as the reconstruction error is: minus twice the log of a
        nearest-neighbour density of the codes on the learned manifold, up to
        a constant, as T² is for a Gaussian. It sees a row in a gap between
        clusters of normal codes, which T²'s single Gaussian takes for
        normal. ``"neighborhood"``: ``"local"``'s anomaly score shared with
        the row's ``n_neighbors`` nearest reference rows -- the mean, over
        them, of the larger of the row's and the neighbour's own (each
        reference row's without itself among its neighbours,
        ``reference_scores_``): the row's anomaly score plus the mean excess
        of its neighbours' over it. Reference rows as far from the row as the
        ``n_neighbors``-th, up to float32 rounding (discrete features put
        codes on a lattice), share the places the strictly nearer ones leave,
        equally, whichever of them a search would find first. The anomalies
        of a contaminated training set sit together in the codes, where they
        are dense and their local terms small; their reconstruction errors
        flag them, and a new row among them inherits that. ``"auto"``:
        ``"neighborhood"`` for an estimator with ``reconstruction_error``,
        ``transform`` and ``inverse_transform`` (an
        :class:`AutoencoderTransformer`), ``"estimator"`` otherwise. The
        others need those methods (``"combined"`` all but
        ``inverse_transform``): given an estimator without them (a
        :class:`VAETransformer`, scikit-learn's ``PCA``), ``fit`` raises a
        ``ValueError`` naming the missing ones before fitting anything.

    n_neighbors : int, default=10
        The local term's ``k`` (``anomaly_score`` of ``"neighborhood"`` or
        ``"local"``): ``d`` is the distance to the ``n_neighbors``-th nearest
        reference code (the farthest, if there are fewer), and
        ``"neighborhood"`` shares the score with those ``n_neighbors``. As for
        :class:`~sklearn.neighbors.LocalOutlierFactor`'s ``n_neighbors``, it
        should exceed the number of anomalies that may sit together in the
        training data: a cluster of fewer rows is then measured from the
        normal codes around it, not from its own members. Smaller follows a
        clean training set's fine structure more closely; larger smooths the
        codes' density, for training data that holds anomalies. The default
        is a compromise between the two (see :ref:`anomaly_detection`).

    trim_fraction : float in [0, 0.5), default=0.1
        Robust training. Training data usually holds some anomalies, and a
        model fitted to them learns to reconstruct them too. With
        ``trim_fraction > 0`` the detector fits twice: the rows the first fit
        scores worst by SPE and T² (this fraction of the training rows, but
        never so many that fewer rows than the estimator's components remain)
        are left out of the estimator's second fit, as the concentration steps of
        the minimum covariance determinant and robust PCA do; the feature
        scaling is fitted once, on every training row. Then, as that estimator's reweighting step, the statistics of
        the score (the codes' mean and covariance, the reference codes, the
        control limits) are fitted on every training row
        except the clear outliers: those whose anomaly score under the second
        fit lies beyond Tukey's fence on a log scale. ``offset_`` still comes
        from every training row. ``0`` fits once, with every row as a
        reference (e.g. for training data known to be clean, or to halve the
        fit time).

    random_state : int, RandomState instance or None, default=None
        Seed of the default estimator (``estimator=None``); a given estimator
        keeps its own ``random_state``.

    Attributes
    ----------
    estimator_ : estimator
        The fitted clone of ``estimator`` (or the default autoencoder).

    offset_ : float
        Threshold on :meth:`score_samples`: ``decision_function = score_samples
        - offset_``; rows below it are outliers.

    anomaly_score_ : {"neighborhood", "local", "combined", "estimator"}
        The score used (``anomaly_score`` resolved).

    scale_ : ndarray of shape (n_features_in_,) or None
        Divisor of each feature (after ``power_transform_``), fitted on every
        training row; None with ``feature_scaling=None``.

    center_ : ndarray of shape (n_features_in_,) or None
        Mean of each feature (after ``power_transform_``) over every training
        row, 0 for a constant feature, subtracted from dense rows before the
        division; None for sparse input and with ``feature_scaling=None``.

    power_transform_ : ndarray of shape (3, n_features_in_) or None
        ``feature_scaling="auto"``'s Yeo-Johnson transform: each feature's
        exponent, centre (median) and spread (interquartile range / 1.349);
        exponent 1 for the features left as they are. None when no feature is
        heavy-tailed, for sparse input, and with ``feature_scaling`` of
        ``"standard"`` or None.

    latent_mean_ : ndarray of shape (n_components,)
        Mean of the reference training codes; not with
        ``anomaly_score_="estimator"``.

    latent_precision_ : ndarray of shape (n_components, n_components)
        Pseudo-inverse of the reference training codes' covariance (for T²);
        not with ``anomaly_score_="estimator"``.

    latent_metric_ : ndarray of shape (n_components, n_components)
        Symmetric matrix that maps centred codes to where the local term
        measures distances: codes centred and multiplied by it are as far
        apart as their reconstructions, the decoder replaced by its
        least-squares linear fit over the reference codes (``L``, of shape
        ``(n_components, n_features)``; the matrix is the symmetric square
        root of ``L @ L.T``); only with ``anomaly_score_`` of
        ``"neighborhood"`` or ``"local"``.

    reference_codes_ : ndarray of shape (n_reference, n_components)
        The reference training rows' codes, centred and multiplied by
        ``latent_metric_``, among which a row's
        nearest neighbours are found (of at most 100,000 reference rows,
        drawn at random when there are more); only with ``anomaly_score_``
        of ``"neighborhood"`` or ``"local"``.

    reference_scores_ : ndarray of shape (n_reference,)
        The local score (as ``anomaly_score="local"``'s :meth:`score_samples`)
        of the reference row of each of ``reference_codes_``, that row's own
        code not among its neighbours: what ``"neighborhood"`` shares with a
        row near it; only with ``anomaly_score_="neighborhood"``.

    n_neighbors_ : int
        ``n_neighbors`` at fit: the local term's distance is to the
        ``n_neighbors_``-th nearest reference code (the farthest, if there
        are fewer); only with ``anomaly_score_`` of ``"neighborhood"`` or
        ``"local"``.

    control_limits_ : ndarray of shape (2,)
        Means over the reference training rows of the reconstruction error
        and of the codes' statistic (T², or the squared distance to the
        ``n_neighbors_``-th nearest other reference code, over the rows of
        ``reference_codes_``):
        the units of the score's two terms; not with
        ``anomaly_score_="estimator"``. A mean of 0 is 1 instead, as a zero
        spread is in scikit-learn's scalers, and so is a reconstruction error
        that float32 rounding alone leaves (an exact reconstruction, with as
        many components as features): divided by it, the rows' rounding noise
        would make up the score.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    AutoencoderTransformer : Autoencoder; scores rows by reconstruction error.
    VAETransformer : Variational autoencoder; scores rows by log-likelihood.
    sklearn.ensemble.IsolationForest : Outlier detection by random partitions.
    sklearn.neighbors.LocalOutlierFactor : Outlier detection by local density.
    sklearn.svm.OneClassSVM : Kernel support of the normal data.

    Notes
    -----
    The defaults were chosen on ``benchmarks/bench_anomaly.py``: twelve ODDS-style
    tabular datasets under the unsupervised protocol (the training split keeps
    its anomalies) and the semi-supervised one, and digits novelty (results
    in ``benchmarks/RESULTS_anomaly.md``). What each default fixes:

    * *Standardisation with a floor for near-constant features only.* The
      earlier floor on every feature (``sqrt(var + 3 median var)``) silenced
      informative features in small units -- page-blocks' black-pixel ratio,
      whose variance is a millionth of the area's -- while protecting an
      image's blank border pixels, which it still does. The floor is the rare
      values' median square deviation from the common one, in the feature's
      own units: a typical rare value lands about one unit out, and a far one
      -- an anomaly of the training data -- stays far, where a mean square
      would have let it set the floor and hide behind it
      (``benchmarks/anomaly_near_constant.py``: ROC-AUC 1.000 against 0.848
      with 1 % of such anomalies in the training rows, 0.989 against 0.645
      with 3 %).
    * *The sum of the two normalised statistics* rather than the larger: an
      anomaly that is a little off the manifold *and* a little unusual on it
      ranks above one that is only one of the two.
    * *Robust training* (``trim_fraction``): fitted on a contaminated split, a
      model learns the anomalies too; the second fit, without the worst-scored
      rows, does not. The feature scaling is not refitted on those rows: on
      clean training data the trim removes the tail of normal rows, and
      spreads measured without it shrink heavy-tailed features' divisors, so
      that normal new rows in that tail are reconstructed with large errors
      (thyroid, digits novelty).
    * *Hidden widths proportional to the number of features.* The MLP's
      ``(128, 64)`` on 9-13 features reconstructed held-out anomalies nearly
      as well as normal rows (vowels, ecoli).
    * *Its own training budget: five epochs from PCA's start, no early
      stopping.* The autoencoder's own defaults (early stopping on a
      validation split, patience 20, up to 200 epochs) aim at the best
      reconstruction of held-out rows; on a contaminated training set the
      validation split holds anomalies too, and the longer the network
      trains the better it reconstructs them (vowels: ROC-AUC 0.77 with those
      defaults, 0.91 after 1-12 epochs).
    * *Each statistic divided by its training mean* rather than its 95th
      percentile, a scale that the tail -- the anomalies of a contaminated
      training set -- does not set alone (unsupervised mean ROC-AUC 0.890
      against 0.884 with the percentile).
    * *The codes' local term* (``"local"``) rather than T². Where the
      normal rows form several clusters (glass, wine, digits), an anomaly in
      a gap between them has an ordinary T² -- one Gaussian spans the gap --
      but no near training code. The term is the log of the neighbour
      distance, not its square: a normal row in a sparse region has a
      squared distance hundreds of times its mean, which ranked such rows
      above anomalies that SPE sees (satimage-2: average precision 0.38
      against 0.98). Mean ROC-AUC over both protocols 0.916 against 0.893
      with T².
    * *Its neighbours measured between reconstructions*, in the scaled
      input's units, rather than in whitened codes, where every kept
      direction counts as much as the first and the noise of one of small
      variance decided who is near (unsupervised thyroid 0.896 -> 0.911,
      digits novelty 0.884 -> 0.897; mean over both protocols 0.924 ->
      0.926).
    * *The local score shared with the row's neighbours*
      (``"neighborhood"``) rather than the row's own. The anomalies of a
      contaminated training split sit together in the codes, so a new
      anomaly's nearest reference codes are often anomalies and its local
      term is small; their reconstruction errors, though, are large. Taking
      the mean over the neighbours of the worse of the row's and the
      neighbour's own score lets a row among them inherit that evidence, and
      leaves a row among normal neighbours with about its own score
      (unsupervised wine 0.833 -> 0.883, ecoli 0.917 -> 0.930, breastw
      0.970 -> 0.980; unsupervised mean 0.911 -> 0.920, over both protocols
      0.926 -> 0.930; semi-supervised vowels 0.930 -> 0.921 and
      unsupervised page-blocks 0.966 -> 0.947 pay for it). Reference rows
      tied at the k-th distance (discrete features) share the last places
      equally: the score does not depend on the order in which a search
      finds them, and the ONNX graph gives the same.
    * *Heavy-tailed features pulled in* (``feature_scaling="auto"``): their
      normal tail, left far out by the standard deviation alone, dominated
      the reconstruction error (semi-supervised thyroid 0.926 -> 0.973; mean
      over both protocols 0.916 -> 0.924).
    * *Reference rows: all but the clear outliers.* Statistics fitted on the
      trimmed rows only would miss the tail of clean training data and flag
      normal new rows in it (semi-supervised thyroid and page-blocks, where
      PCA's error, fitted on every row, led).

    An autoencoder trained on data with outliers learns to reconstruct them
    too: fit on clean data when you have it (novelty detection).

    Examples
    --------
    >>> import numpy as np
    >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
    >>> rng = np.random.RandomState(0)
    >>> X = rng.randn(200, 2) @ rng.randn(2, 6)   # rows on a plane
    >>> detector = ReconstructionOutlierDetector(
    ...     AutoencoderTransformer(n_components=2, max_epochs=5, random_state=0),
    ...     contamination=0.05,
    ... ).fit(X)
    >>> off_plane = X[:3] + 5 * rng.randn(3, 6)
    >>> detector.predict(off_plane)
    array([-1, -1, -1])
    >>> bool((detector.predict(X) == -1).mean() <= 0.06)
    True
    """

    #: Fitted state besides the attributes ending in "_" (see ``_neighbour_index``
    #: and ``_tied_neighbours``).
    _private_fitted_attributes = ("_reference_index", "_reference_ties")

    _parameter_constraints: dict = {
        "estimator": [HasMethods(["fit", "score_samples"]), None],
        "contamination": [StrOptions({"auto"}), NumberInterval(Real, 0, 0.5, closed="right")],
        "feature_scaling": [StrOptions({"auto", "standard"}), None],
        "anomaly_score": [
            StrOptions({"auto", "neighborhood", "local", "combined", "estimator"})
        ],
        "n_neighbors": [NumberInterval(Integral, 1, None, closed="left")],
        "trim_fraction": [NumberInterval(Real, 0, 0.5, closed="left")],
        "random_state": ["random_state"],
    }

    def __init__(
        self,
        estimator=None,
        *,
        contamination="auto",
        feature_scaling="auto",
        anomaly_score="auto",
        n_neighbors=10,
        trim_fraction=0.1,
        random_state=None,
    ):
        self.estimator = estimator
        self.contamination = contamination
        self.feature_scaling = feature_scaling
        self.anomaly_score = anomaly_score
        self.n_neighbors = n_neighbors
        self.trim_fraction = trim_fraction
        self.random_state = random_state

    # --------------------------------------------------------------- fitting
    @unfitted_on_error
    @_fit_context(
        # The wrapped estimator's parameters are validated by its own fit.
        prefer_skip_nested_validation=False
    )
    def fit(self, X, y=None):
        """Fit the wrapped estimator to ``X`` and set the threshold ``offset_``.

        A fit that raises (the wrapped estimator's training diverged, say)
        leaves the detector unfitted, even if it was fitted before, rather
        than with a new scaling beside an earlier fit's estimator and
        threshold.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Training data, assumed mostly normal. Images or sequences of
            shape ``(n_samples, *input_shape)`` are accepted too: they reach
            the estimator in that shape, and each gets one score. A 2-D
            memmap or dask array is streamed, never loaded whole, when the
            estimator is the default or a skae estimator: it is read block by
            block, scaled as it is read, and the estimator trains on it as
            its own ``fit`` would (see :ref:`scaling`); only per-row results
            (scores, codes) are held in memory. Any other input is loaded
            whole, with one scaled copy.
        y : Ignored
            Not used, present for API consistency by convention.

        Returns
        -------
        self : object
            The fitted detector.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
        >>> X = np.random.RandomState(0).randn(200, 4)
        >>> detector = ReconstructionOutlierDetector(
        ...     AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0),
        ...     contamination=0.1,
        ... ).fit(X)
        >>> detector.estimator_.n_components_
        2
        """
        # A new fit starts over: an earlier fit's attributes that this one does not
        # set (reference_scores_ after a refit with anomaly_score="local", the
        # statistics after one with "estimator") would describe another model.
        _forget_fit(self)
        if self.estimator is not None:
            self._check_score_methods(self.estimator)
        X_rows, sample_shape = as_rows(X)
        if is_streamed(X_rows) and X_rows.ndim < 2:
            # Refused by its rank, unread: validate_data would load a dask array
            # whole, then name its values.
            raise _not_2d(X_rows)
        if self._streams(X_rows):
            # Validated here by its first row, block by block as it is read.
            validate_streamed(self, X_rows, reset=True)
            X_checked = MappedRows(X_rows, None, _float_dtype(X_rows))
        else:
            X_checked = validate_data(
                self, X_rows, accept_sparse=self._accept_sparse(), dtype=[np.float64, np.float32]
            )
        # scikit-learn's callbacks see one task per fit of the wrapped estimator.
        tasks = FitTasks(self, X, y, max_subtasks=2 if self.trim_fraction > 0 else 1)
        X = X_checked
        # The scaling is fitted once, on every training row: refitted on the rows
        # a trim keeps, it would lose the tail of clean heavy-tailed features, and
        # the normal rows of that tail would be inflated into large errors.
        X_scaled, sample = self._fit_scaling(X)
        shaped = _reshaped(X_scaled, sample_shape)
        self._fit_estimator(X_scaled, shaped, tasks, "fit-estimator", X=X, sample=sample)
        # (The statistics' scores only: "estimator" takes the estimator's own.)
        spe_rounding = None
        if self.anomaly_score_ != "estimator":
            spe_rounding = _spe_rounding(
                _sample(X_scaled, self.random_state) if sample is None else sample,
                self._network_centre(),
            )
        kept = None
        if self.trim_fraction > 0:
            # Robust training: the rows the first model scores worst -- the likeliest
            # outliers of a contaminated training set -- are left out of a second
            # fit, so that the network describes the normal rows.
            kept = self._kept_rows(self._global_scores(shaped, spe_rounding))
            # One copy of the kept rows (a view, if streamed), in both shapes.
            scaled_kept = _row_subset(X_scaled, np.flatnonzero(kept))
            self._fit_estimator(
                scaled_kept, _reshaped(scaled_kept, sample_shape), tasks, "refit-estimator"
            )
        # The threshold comes from every training row, left-out rows included.
        if self.anomaly_score_ == "estimator":
            scores = self._score(shaped)
        else:
            # Every training row is encoded once by the final model: its statistics
            # choose the reference rows, fit the score's statistics and score the rows.
            spe, codes = self._statistics(shaped)
            reference = None
            if kept is not None:
                # As the minimum covariance determinant's reweighting step: the
                # robust model's scores of every row choose the reference rows.
                reference = self._reference_rows(
                    _ranking_score(spe, codes, spe_rounding, kept)
                )
            self._fit_statistics(spe, codes, spe_rounding, reference)
            scores = self._score_statistics(spe, codes)
        if self.contamination == "auto":
            q1, q3 = np.percentile(scores, [25, 75])
            self.offset_ = float(q1 - _TUKEY_K * (q3 - q1))
        else:
            self.offset_ = float(np.percentile(scores, 100.0 * self.contamination))
        tasks.end()
        return self

    def _global_scores(self, X_scaled, spe_rounding):
        """The first fit's scores of rows ``X_scaled``, which choose the second fit's rows.

        SPE and T² combined (see ``_ranking_score``; ``spe_rounding`` as
        there), or the estimator's own score with ``anomaly_score="estimator"``.
        """
        if self.anomaly_score_ == "estimator":
            return self._score(X_scaled)
        return _ranking_score(*self._statistics(X_scaled), spe_rounding)

    def _kept_rows(self, scores):
        """Mask of the training rows the second fit keeps, from the first fit's scores.

        Never fewer than the estimator's components: a skae estimator refuses
        fewer rows, as PCA does, and the second fit of tiny data would fail
        where the first passed.
        """
        kept = scores >= np.quantile(scores, self.trim_fraction)
        needed = min(getattr(self.estimator_, "n_components_", 0), len(scores))
        if np.count_nonzero(kept) < needed:
            kept = scores >= np.sort(scores)[-needed]
        return kept

    @staticmethod
    def _reference_rows(scores):
        """Mask of the training rows the statistics describe: all but the clear outliers.

        The network is trained without the worst ``trim_fraction`` of the rows,
        however clean the data; the statistics that score new rows (the codes'
        Gaussian, the neighbours, the control limits) leave out only the rows
        whose anomaly score ``-scores`` is beyond Tukey's fence on a log scale
        (the anomaly score is a positive, right-skewed sum of squares) -- as the
        minimum covariance determinant's reweighting step keeps every row within
        its cut-off. Dropping the tail of clean data from the reference would
        make normal new rows in that tail look anomalous.
        """
        log_anomaly = np.log(np.maximum(-scores, np.finfo(np.float64).tiny))
        q1, q3 = np.percentile(log_anomaly, [25, 75])
        return log_anomaly <= q3 + _TUKEY_K * (q3 - q1)

    def _fit_estimator(self, X_scaled, shaped, tasks, task_name, X=None, sample=None):
        """Fit the wrapped estimator to rows ``X_scaled`` (after the scaling), given to
        it as ``shaped``, the same in the shape ``fit`` saw (images, sequences).

        ``X``: the rows before the scaling, whose support is compared with the
        scaled rows' (:meth:`_check_scaled_support`) -- at the first fit: the
        second fits a subset of the same rows. ``sample``: :func:`_sample`'s rows
        of ``X_scaled``, if already read.
        """
        if self.estimator is None:
            estimator = self._default_estimator(X_scaled, sample)
        else:
            estimator = clone(self.estimator)
            if X is not None:
                self._check_scaled_support(estimator, X, X_scaled)
        with tasks.sub_estimator(task_name, estimator), warnings.catch_warnings():
            if self.estimator is None:
                # The default's few epochs are its budget, not a failure to converge.
                warnings.simplefilter("ignore", ConvergenceWarning)
            self.estimator_ = estimator.fit(shaped)
        self.anomaly_score_ = self._resolve_score()

    def _network_centre(self):
        """The centre the fitted network subtracts from its (scaled) input rows,
        ``normalize.loc``, for a skae estimator; 0 for another, whose
        computation is not known."""
        if not isinstance(self.estimator_, _BaseAutoencoder):
            return 0.0
        return self.estimator_.net_.module_.normalize.loc.cpu().numpy().astype(np.float64)

    def _default_estimator(self, X_scaled, sample=None):
        """The autoencoder of ``estimator=None``, with the detector's own training budget."""
        return AutoencoderTransformer(
            self._default_n_components(X_scaled, sample),
            hidden_layer_sizes=_default_hidden_layer_sizes(X_scaled.shape[1]),
            max_epochs=_EPOCHS,
            # Early stopping would watch the reconstruction of a validation split,
            # which holds anomalies too when the training set does: the better
            # the network reconstructs them, the longer it trains.
            early_stopping=False,
            # Squared error whatever the data's range: loss="auto" would train on
            # binary cross-entropy when the scaled data fall in [0, 1], and, with
            # no validation split, never fall back to PCA's solution.
            loss="mse",
            random_state=self.random_state,
        )

    def _streams(self, X):
        """Whether ``fit`` reads ``X`` block by block: a 2-D memmap or dask array, for
        an estimator that streams it too (the default, or any skae estimator)."""
        return (
            is_streamed(X)
            and X.ndim == 2
            and (self.estimator is None or isinstance(self.estimator, _BaseAutoencoder))
        )

    def _accept_sparse(self):
        if self.estimator is None or get_tags(self.estimator).input_tags.sparse:
            return "csr"
        return False

    def _fit_scaling(self, X):
        """Fit ``feature_scaling`` to ``X``; return ``X`` scaled (a view, if streamed)
        and :func:`_sample`'s rows of it, scaled (None without a scaling: none is drawn).
        """
        self.power_transform_ = self.scale_ = self.center_ = None
        if self.feature_scaling is None:
            return X, None
        # One sample, drawn and read once, for the rules measured on a sample (and,
        # scaled, for the SPE's rounding floor: _spe_rounding).
        sample = _sample(X, self.random_state)
        if self.feature_scaling == "auto" and not sp.issparse(X):
            power = _fit_power(sample)
            if np.any(power[0] != 1):
                self.power_transform_ = np.vstack(power)
        # The sample in X's dtype, as the transform sees X's own rows.
        sample = self._power(sample.astype(X.dtype))
        if isinstance(X, MappedRows):
            self.center_, self.scale_ = self._feature_scale(
                MappedRows(X.X, self._power, X.dtype), sample
            )
            X_scaled = MappedRows(X.X, self._scale, X.dtype)
        else:
            transformed = self._power(X)  # transformed once, for the scale and the result
            self.center_, self.scale_ = self._feature_scale(transformed, sample)
            X_scaled = self._divide(transformed)
        return X_scaled, self._divide(sample).astype(np.float64)

    def _feature_scale(self, X, sample=None):
        """Each feature's centre and divisor: its spread, floored for a near-constant feature.

        The centre is the feature's mean (0 for a constant feature), or None for
        sparse ``X``, which is only divided. Dense rows are centred before the
        estimator's float32 cast: rows far from 0 relative to their spread would
        lose their last digits in that cast, and lattice data its ties, which
        the neighbours' score shares. ``sample``: :func:`_sample`'s rows of
        ``X`` (drawn from ``X`` if not given).
        """
        modes, near_constant, typical = _near_constant(
            _sample(X, self.random_state) if sample is None else sample
        )
        # The pass over streamed X that checks each block's values counts its
        # rows off each feature's mode too.
        mean, var, off = _moments_off_mode(X, modes)
        rare_deviation = _rare_deviation(mean, var, modes, off, X.shape[0])
        # Rounding noise of a constant feature is no variance (scikit-learn's scalers' rule).
        noise = _rounding_variance(var, mean, X.shape[0])
        # The network's own check, before the division rather than after; dense
        # float64 rows are centred before the network's float32 cast
        # (center_), and reach it with their digits.
        sparse = sp.issparse(X)
        centred = not sparse and X.dtype == np.float64
        network = self.estimator is None or isinstance(self.estimator, _BaseAutoencoder)
        if network and not centred:
            _check_float32_resolution(mean, var, noise)
        varies = var > noise
        var = np.where(varies, var, 0.0)
        # A constant feature is left uncentred: it rounds alike in every row,
        # where its mean, subtracted, would leave rounding noise for the codes.
        mean = np.where(varies, mean, 0.0)
        # Standardise, except that a near-constant feature's variance is floored:
        # divided by its own tiny spread, the rare values of a blank border pixel
        # or a seldom-set flag would be inflated into huge errors. The floor is in
        # the feature's own units, as its spread is, so that a feature's scaled
        # values depend on it alone, not on the other features' units. It is the
        # rare values' median square deviation, not their mean: the rare values of
        # unlabelled training data hold its anomalies, and far ones would set a
        # mean, and the scale, by themselves -- and hide there. A feature whose
        # rare values the sample missed has only its few rows off the mode.
        typical = np.where(np.isnan(typical), rare_deviation, typical)
        floor = np.where(near_constant & varies, _VARIANCE_FLOOR * typical, 0.0)
        var = var + floor
        return None if sparse else mean, np.where(var > 0, np.sqrt(var), 1.0)

    def _check_scaled_support(self, estimator, X, X_scaled):
        """Say so when ``feature_scaling`` took ``X`` out of ``estimator``'s support.

        A Bernoulli or BCE estimator needs data in [0, 1]; centring takes such
        data below 0, dividing by a spread below 1 above 1. ``X`` itself out of the support is left
        to the estimator's own error.
        """
        if self.scale_ is None or not isinstance(estimator, _BaseAutoencoder):
            return
        try:
            estimator._check_support(X_scaled)
        except ValueError as exc:
            try:
                estimator._check_support(X)
            except ValueError:
                return
            raise ValueError(
                f'feature_scaling="{self.feature_scaling}" rescales each feature (centres '
                "dense rows on center_ and divides by its spread, scale_, after "
                "power_transform_ if any), which took X outside "
                "what the wrapped "
                f"{type(estimator).__name__} accepts: {exc} Data in [0, 1] share one "
                "scale already: pass feature_scaling=None."
            ) from exc

    def _power(self, X):
        """``X`` through the fitted Yeo-Johnson transform of its heavy-tailed features."""
        power = getattr(self, "power_transform_", None)  # absent from older files
        return X if power is None else yeo_johnson(X, *power)

    def _fitted_dense(self):
        """Whether the scaling was fitted on dense rows: centred (and transformed)
        before the division. Sparse rows only divided would then reach the
        estimator off by ``center_ / scale_`` and score as other rows; they are
        made dense (by blocks of rows, :func:`_in_row_blocks`) and scaled alike."""
        return (getattr(self, "center_", None) is not None
                or getattr(self, "power_transform_", None) is not None)

    def _scale(self, X):
        """``X`` as the wrapped estimator sees it: transformed, then standardised."""
        if sp.issparse(X) and self._fitted_dense():
            X = X.toarray()
        return self._divide(self._power(X))

    def _divide(self, X):
        """``X`` less ``center_`` (dense ``X``), divided by ``scale_``, in its own
        dtype and sparsity."""
        if self.scale_ is None:
            return X
        inverse = (1.0 / self.scale_).astype(X.dtype)
        center = getattr(self, "center_", None)  # absent from older files
        with np.errstate(over="ignore"):  # clipped below
            if sp.issparse(X):
                X = sp.csr_matrix(X.multiply(inverse), dtype=X.dtype)
                _clip_to_float32(X.data)
                return X
            if center is not None:
                X = X - center.astype(X.dtype)
            return _clip_to_float32(X * inverse)

    def _default_n_components(self, X, sample=None):
        """Fewest principal components explaining ``_EXPLAINED_VARIANCE`` of ``X``'s variance,
        measured on ``sample``, :func:`_sample`'s rows of ``X`` (read if not given)."""
        n_samples, n_features = X.shape
        if n_samples < 2 or n_features < 2:
            return 1
        if sample is None:
            sample = _sample(X, self.random_state)
        n_max = min(n_features, len(sample))
        _, eigenvalues, _, total = principal_axes(
            sample, None, np.zeros(n_features), np.ones(1), n_max, 0
        )
        if total <= 0:
            return 1
        explained = np.cumsum(eigenvalues) / total
        return int(min(np.searchsorted(explained, _EXPLAINED_VARIANCE) + 1, n_features))

    def _resolve_score(self):
        score = self.anomaly_score
        if score == "auto":
            return (
                "neighborhood"
                if all(hasattr(self.estimator_, name) for name in _SCORE_METHODS["neighborhood"])
                else "estimator"
            )
        self._check_score_methods(self.estimator_)
        return score

    def _check_score_methods(self, estimator):
        """Refuse an ``anomaly_score`` whose statistics need methods ``estimator`` lacks.

        Called on the given estimator before anything is fitted -- its
        methods are known unfitted, as scikit-learn's meta-estimators expose
        theirs -- so that a long fit does not end in this error, and again on
        the fitted one. The message names the methods missing, not only those
        needed.
        """
        needed = _SCORE_METHODS.get(self.anomaly_score, ())
        missing = [name for name in needed if not hasattr(estimator, name)]
        if missing:
            raise ValueError(
                f'anomaly_score="{self.anomaly_score}" needs an estimator with '
                f"{', '.join(needed)} (an AutoencoderTransformer); "
                f"{type(estimator).__name__} has no {' and no '.join(missing)}. "
                'Use anomaly_score="estimator" (its score_samples).'
            )

    def _statistics(self, X_scaled):
        """Reconstruction error (SPE, float64) and the codes, per row.

        The codes are held in float32 when the estimator is a skae network,
        which computes them in float32 (and returns them in the input's
        dtype: float64 would hold no more digits), in the estimator's own
        floating dtype otherwise. The statistics read them in float64 chunks
        (:func:`_code_chunks`): every row's codes are held once, at their size.
        """
        if is_streamed(X_scaled):
            return _over_blocks(self._statistics, X_scaled)
        spe = np.asarray(self.estimator_.reconstruction_error(X_scaled), dtype=np.float64)
        codes = np.asarray(self.estimator_.transform(X_scaled))
        dtype = (
            np.float32 if isinstance(self.estimator_, _BaseAutoencoder)
            else np.result_type(codes.dtype, np.float32)
        )
        with np.errstate(over="ignore"):  # overflowed codes score as outliers (_chunk_scores)
            return spe, codes.astype(dtype, copy=False)

    def _neighbour_index(self):
        """A neighbour search over ``reference_codes_``, built once per fit.

        Kept so that scoring (a row at a time, say) does not rebuild the tree
        over every reference code at each call; it is not saved by
        :func:`skae.save` (``reference_codes_`` is) and is rebuilt on first use
        after :func:`skae.load`.
        """
        index = getattr(self, "_reference_index", None)
        if index is None:
            n_neighbors = min(self.n_neighbors_, len(self.reference_codes_))
            index = NearestNeighbors(n_neighbors=n_neighbors).fit(self.reference_codes_)
            self._reference_index = index
        return index

    def _tied_neighbours(self):
        """The search of ``"neighborhood"``'s tie bands (:class:`TiedNeighbours`), built
        once per fit, as :meth:`_neighbour_index`, and not saved either."""
        ties = getattr(self, "_reference_ties", None)
        if ties is None:
            ties = TiedNeighbours(self.reference_codes_, self.reference_scores_)
            self._reference_ties = ties
        return ties

    def _neighbour_distances(self):
        """Squared distance of each reference code to its k-th nearest other reference code.

        Each row is not its own neighbour. The rows are queried ``_CHUNK_ROWS``
        at a time: only the k-th distance is kept, not every row's k neighbours.
        """
        index = self._neighbour_index()
        n_neighbors = min(self.n_neighbors_, index.n_samples_fit_ - 1)
        if n_neighbors < 1:  # a single reference row has no neighbour but itself
            return np.zeros(index.n_samples_fit_)
        distance2 = np.empty(index.n_samples_fit_)
        for rows in gen_batches(index.n_samples_fit_, _CHUNK_ROWS):
            # A reference row is its own nearest neighbour, at distance 0 (tied
            # with its duplicates, if any): the k-th distance to the other rows
            # is the (k + 1)-th in its list, as kneighbors() of the fitted rows says.
            distances, _ = index.kneighbors(
                self.reference_codes_[rows], n_neighbors=n_neighbors + 1
            )
            distance2[rows] = distances[:, -1] ** 2
        return distance2

    def _fit_statistics(self, spe, codes, spe_rounding, reference=None):
        """Fit the codes' Gaussian, the reference codes and both control limits.

        ``spe`` and ``codes``: every training row's reconstruction error and
        codes; the statistics describe the rows where the mask ``reference`` is
        true (all of them by default). ``spe_rounding``: see :func:`_control_limits`.
        """
        self._reference_index = self._reference_ties = None
        self.latent_mean_, self.latent_precision_ = _gaussian(codes, reference)
        if self.anomaly_score_ == "combined":
            statistic = _per_chunk(
                lambda chunk: hotelling_t2(chunk, self.latent_mean_, self.latent_precision_),
                codes,
                reference,
            )
        else:
            rows = np.arange(len(codes)) if reference is None else np.flatnonzero(reference)
            rows = rows[_sampled_rows(len(rows), self.random_state, _MAX_REFERENCE_CODES)]
            self.latent_metric_ = self._decoder_metric(codes[rows])
            self.reference_codes_ = embed_codes(
                codes[rows].astype(np.float64), self.latent_mean_, self.latent_metric_
            )
            # Fixed at fit, as the control limit measured with it.
            self.n_neighbors_ = int(self.n_neighbors)  # a Python int, as skae.load checks
            statistic = self._neighbour_distances()
        self.control_limits_ = _control_limits(
            spe if reference is None else spe[reference], statistic, spe_rounding
        )
        if self.anomaly_score_ == "neighborhood":
            # Each reference row's local score, its own code not among its neighbours.
            self.reference_scores_ = local_score(
                spe[rows], statistic, self.control_limits_, codes.shape[1]
            )

    def _decoder_metric(self, codes):
        """``latent_metric_``: distances between codes become those between their reconstructions.

        The neighbours are measured in the units of the scaled input, as the
        reconstruction error and the peers that measure distances in the
        input (LOF, nearest neighbours) see the rows. In whitened codes,
        T²'s units, a kept direction of small variance would count as much as
        the first: its noise would decide who is near. The decoder is
        replaced by its least-squares linear fit over ``codes`` (the reference
        codes) so that the metric is one ``n_components``-square matrix, and
        the reference rows need not be kept at the input's width; the
        reconstructions are accumulated in chunks, never held whole.
        """
        gram = cross = 0.0  # the normal equations of [codes - mean, 1] -> reconstructions
        for chunk in _code_chunks(codes):
            reconstruction = np.asarray(self.estimator_.inverse_transform(chunk))
            design = np.column_stack([chunk - self.latent_mean_, np.ones(len(chunk))])
            gram += design.T @ design
            cross += design.T @ reconstruction.reshape(len(chunk), -1).astype(np.float64)
        linear = (linalg.pinvh(gram) @ cross)[:-1]  # without the intercept's row
        eigenvalues, eigenvectors = linalg.eigh(linear @ linear.T)
        return (eigenvectors * np.sqrt(np.maximum(eigenvalues, 0.0))) @ eigenvectors.T

    # ------------------------------------------------------------- inference
    def _score(self, X_scaled):
        if self.anomaly_score_ == "estimator":
            return self._estimator_scores(X_scaled)
        return self._score_statistics(*self._statistics(X_scaled))

    def _estimator_scores(self, X_scaled):
        """The wrapped estimator's ``score_samples``, checked: one number per sample, no NaN.

        A NaN would pass every comparison with the threshold as an inlier.
        """
        if is_streamed(X_scaled):
            return _over_blocks(self._estimator_scores, X_scaled)
        scores = np.asarray(self.estimator_.score_samples(X_scaled), dtype=np.float64)
        name, n_samples = type(self.estimator_).__name__, X_scaled.shape[0]
        if scores.shape != (n_samples,):
            raise ValueError(
                f"{name}.score_samples returned an array of shape {scores.shape}; the "
                f"detector needs one score per sample, shape ({n_samples},)."
            )
        n_nan = int(np.isnan(scores).sum())
        if n_nan:
            raise ValueError(
                f"{name}.score_samples returned NaN for {n_nan} of {len(scores)} samples; "
                "the detector cannot rank them."
            )
        return scores

    def _score_statistics(self, spe, codes):
        """The combined or local score of rows with reconstruction errors ``spe`` and ``codes``.

        Computed ``_CHUNK_ROWS`` rows at a time, in float64.
        """
        return _over_chunks(
            lambda batch: self._chunk_scores(spe[batch], _code_chunk(codes, batch)), len(codes)
        )

    def _chunk_scores(self, spe, codes):
        # Codes that overflowed float32 are infinite, and centring them gives
        # NaN: handled below (such a row is the farthest out), not a warning.
        with np.errstate(invalid="ignore"):
            if self.anomaly_score_ == "combined":
                t2 = hotelling_t2(codes, self.latent_mean_, self.latent_precision_)
                return overflowed_as_outliers(combined_score(spe, t2, self.control_limits_))
            embedded = embed_codes(codes, self.latent_mean_, self.latent_metric_)
        index = self._neighbour_index()
        k = index.n_neighbors  # n_neighbors_, or every reference code if fewer
        # "neighborhood" looks one neighbour further, where there is one: whether
        # the k-th distance is tied (see _neighborhood_scores).
        n_query = k + int(self.anomaly_score_ == "neighborhood" and k < index.n_samples_fit_)
        # Codes that overflowed float32 (a row far beyond the training data) have
        # no nearest neighbours: infinitely far from every reference code (their
        # score is -inf, whichever neighbours they are given).
        finite = np.isfinite(embedded).all(axis=1)
        distances = np.full((len(embedded), n_query), np.inf)
        neighbours = np.zeros((len(embedded), n_query), dtype=np.intp)
        if finite.any():
            distances[finite], neighbours[finite] = index.kneighbors(
                embedded[finite], n_neighbors=n_query
            )
        scores = overflowed_as_outliers(
            local_score(spe, distances[:, k - 1] ** 2, self.control_limits_, codes.shape[1])
        )
        if self.anomaly_score_ == "neighborhood":
            scores = self._neighborhood_scores(scores, embedded, distances, neighbours, finite)
        return scores

    def _neighborhood_scores(self, scores, embedded, distances, neighbours, finite):
        """Local ``scores`` shared with the rows' neighbours, ties at the k-th distance shared.

        ``distances`` and ``neighbours``: of each row's ``k`` nearest reference
        rows, and of one more when there are more reference rows than ``k``.
        Where that one is within the tie tolerance of the k-th, some reference
        rows beyond the k found are tied with it: those rows are scored again
        with every reference row of their tie band (:class:`TiedNeighbours`);
        the others keep the mean over their k neighbours.
        """
        k = self._neighbour_index().n_neighbors
        shared = neighborhood_score(scores, self.reference_scores_[neighbours[:, :k]])
        if distances.shape[1] == k:
            return shared  # every reference row is a neighbour
        ties = self._tied_neighbours()
        tied = np.zeros(len(scores), dtype=bool)
        tolerance = ties.tolerance(embedded[finite])
        tied[finite] = distances[finite, k] - distances[finite, k - 1] <= tolerance
        if tied.any():
            # At most as many (row, code) pairs at once as the k + 1 neighbours of a chunk.
            shared[tied] = ties.scores(
                embedded[tied], scores[tied], distances[tied, k - 1],
                tolerance[tied[finite]], k, budget=_CHUNK_ROWS * (k + 1),
            )
        return shared

    @_in_row_blocks
    def score_samples(self, X):
        """The anomaly score of each row, negated (higher = more normal).

        As ``anomaly_score_`` says, on the rows after ``feature_scaling``: by
        default minus the sum of the reconstruction error and the codes'
        nearest-neighbour term, each divided by its mean on the reference
        training rows (see ``anomaly_score``); with ``"estimator"``, the
        wrapped estimator's own score (negative reconstruction error, or a
        VAE's log-likelihood). A row so far from the training data that its
        codes overflow float32, in which the network computes, scores
        ``-inf``: it ranks below every other row and is an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Rows to score. A memmap is read a block of rows at a time; a dask
            array gives a lazy dask array.

        Returns
        -------
        scores : ndarray of shape (n_samples,), dtype float64

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
        >>> X = np.random.RandomState(0).randn(200, 4)
        >>> detector = ReconstructionOutlierDetector(
        ...     AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0),
        ...     contamination=0.1,
        ... ).fit(X)
        >>> detector.score_samples(X[:3]).shape
        (3,)
        """
        return self._score(self._scaled_input(X))

    def _scaled_input(self, X):
        """``X`` validated and scaled, in the shape the wrapped estimator was fitted on."""
        check_is_fitted(self)
        X, sample_shape = as_rows(X)
        self._check_sample_shape(sample_shape)
        X = validate_data(
            self,
            X,
            accept_sparse=self._accept_sparse(),
            dtype=[np.float64, np.float32],
            reset=False,
        )
        return _reshaped(self._scale(X), sample_shape)

    def _check_sample_shape(self, sample_shape):
        """Refuse images or sequences whose ``sample_shape`` the estimator was not fitted on.

        Checked here, before the width, and not left to the estimator: its
        error would name it, not the detector the user called, and the
        width's would name the values per sample, not the samples' shapes.
        An estimator other than skae's checks its input itself.
        """
        input_shape = getattr(self.estimator_, "input_shape_", None)
        if input_shape is not None:
            check_sample_shape(
                sample_shape, input_shape, type(self).__name__, "estimator_.input_shape_"
            )

    @available_if(_explains_features)
    @_in_row_blocks
    def feature_contributions(self, X):
        """Each feature's share of the reconstruction part of each row's anomaly score.

        Which features make a row anomalous: the squared reconstruction error of
        each feature (after ``feature_scaling``: in the units of the
        power transform's output for a heavy-tailed feature, see
        ``power_transform_``), divided by the number of
        features -- and, unless ``anomaly_score_="estimator"``, by the
        reconstruction error's control limit ``control_limits_[0]`` -- so that
        the contributions of a row add up to the reconstruction part of its
        anomaly score ``-score_samples(X)``. With
        ``anomaly_score_="estimator"`` that is the whole anomaly score;
        otherwise the rest, ``-score_samples(X) - contributions.sum(axis=1)``,
        is the codes' part (how unusual the row's place on the learned
        manifold is: its nearest-neighbour distance or its T²) and, with
        ``"neighborhood"``, the excess its neighbours' scores add, which no
        single feature owns. Only a detector over an
        :class:`AutoencoderTransformer` (the default) has this method: a
        :class:`VAETransformer`'s log-likelihood has no share per feature, and
        ``hasattr(detector, "feature_contributions")`` is False then, as
        scikit-learn's meta-estimators lack the methods their estimator does.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Rows to explain; images or sequences of shape
            ``(n_samples, *input_shape)`` if ``fit`` saw such an array. A
            memmap is read a block of rows at a time; a dask array gives a
            lazy dask array.

        Returns
        -------
        contributions : ndarray of shape (n_samples, n_features), dtype float64
            Non-negative; of shape ``(n_samples, *input_shape)`` (a map per image
            or series) when ``fit`` saw such an array.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
        >>> X = np.random.RandomState(0).randn(200, 4)
        >>> detector = ReconstructionOutlierDetector(
        ...     AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0),
        ...     contamination=0.1,
        ... ).fit(X)
        >>> odd = X[:1].copy()
        >>> odd[0, 3] += 10  # feature 3 is off
        >>> int(detector.feature_contributions(odd).argmax())
        3
        """
        X_scaled = self._scaled_input(X)
        per_feature = self.estimator_.reconstruction_error(X_scaled, per_feature=True)
        contributions = per_feature / self.n_features_in_
        if self.anomaly_score_ != "estimator":
            contributions /= self.control_limits_[0]
        return contributions

    @_in_row_blocks
    def decision_function(self, X):
        """``score_samples(X) - offset_``: negative for outliers, positive for inliers.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Rows to score. A memmap is read a block of rows at a time; a dask
            array gives a lazy dask array.

        Returns
        -------
        decision : ndarray of shape (n_samples,), dtype float64

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
        >>> X = np.random.RandomState(0).randn(200, 4)
        >>> detector = ReconstructionOutlierDetector(
        ...     AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0),
        ...     contamination=0.1,
        ... ).fit(X)
        >>> far = X[:2] + 20
        >>> bool(np.all(detector.decision_function(far) < 0))
        True
        """
        return self.score_samples(X) - self.offset_

    @_in_row_blocks
    def predict(self, X):
        """Whether each row is an inlier (``+1``) or an outlier (``-1``).

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Rows to classify. A memmap is read a block of rows at a time; a
            dask array gives a lazy dask array.

        Returns
        -------
        is_inlier : ndarray of shape (n_samples,)
            ``+1`` for inliers, ``-1`` for outliers (``decision_function < 0``).

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer, ReconstructionOutlierDetector
        >>> X = np.random.RandomState(0).randn(200, 4)
        >>> detector = ReconstructionOutlierDetector(
        ...     AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0),
        ...     contamination=0.1,
        ... ).fit(X)
        >>> detector.predict(X[:2] + 20)
        array([-1, -1])
        """
        # Written so that a NaN decision, were one to occur, would be an outlier.
        return np.where(self.decision_function(X) >= 0, 1, -1)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        tags.input_tags.sparse = self._accept_sparse() == "csr"
        # Rank-3 X is scaled as rows and reaches the estimator in its own shape.
        tags.input_tags.three_d_array = (
            self.estimator is None or get_tags(self.estimator).input_tags.three_d_array
        )
        return tags
