"""What a fitted estimator's attributes can be: checked by :func:`skae.load`.

A model file holds data, never code, but data can still be wrong: a hand-edited
or crafted file (whoever writes it can recompute its checksum) could hold a
batch size of 0, a NaN threshold or a latent mean of the wrong length. Loaded
as is, such a model fails later with an unrelated error, or gives answers
silently. :func:`check_fitted_state` accepts only what ``fit`` can produce:
each attribute's type, range and shape, and how they agree with each other and
with the parameters.
"""

import math
from numbers import Real

import numpy as np

from ._base import _BaseAutoencoder
from ._outlier import _NEIGHBOUR_SCORES, _POWER_RANGE


def _positive_int(value):
    return type(value) is int and value >= 1


def _count(value):
    return type(value) is int and value >= 0


def _sizes(value):
    return type(value) is tuple and all(_positive_int(size) for size in value)


def _real(value):
    return isinstance(value, Real) and not isinstance(value, bool)


def _finite_positive(value):
    return _real(value) and math.isfinite(value) and value > 0


def _finite_array(shape, positive=False):
    """A float array of ``shape`` (``None`` for any length on that axis), finite."""

    def check(value):
        return (
            isinstance(value, np.ndarray)
            and value.dtype.kind == "f"
            and value.ndim == len(shape)
            and all(want is None or got == want for got, want in zip(value.shape, shape))
            and bool(np.isfinite(value).all())
            and (not positive or bool((value > 0).all()))
        )

    return check


def _reals(value):
    return type(value) is list and all(_real(item) for item in value)


def _check(estimator, checks, required):
    """Apply ``checks`` (attribute -> predicate) to the attributes present.

    ``required``: attributes that must be present.
    """
    name = type(estimator).__name__
    missing = [key for key in required if not hasattr(estimator, key)]
    if missing:
        raise ValueError(f"{name} lacks attributes {missing}.")
    for key, check in checks.items():
        if hasattr(estimator, key) and not check(getattr(estimator, key)):
            value = getattr(estimator, key)
            shown = repr(value) if len(repr(value)) <= 60 else repr(value)[:57] + "..."
            raise ValueError(f"{name}.{key} = {shown} is not what fit produces.")


def _check_transformer(estimator):
    k = estimator.n_components
    _check(
        estimator,
        {
            "n_features_in_": _positive_int,
            "n_components_": lambda v: v == k,
            "batch_size_": _positive_int,
            # fit draws it below int32's largest (torch and numpy seed with it).
            "_seed": lambda v: type(v) is int and 0 <= v < np.iinfo(np.int32).max,
            "_sample_rank": _positive_int,
            "hidden_layer_sizes_": _sizes,
            "input_shape_": lambda v: _sizes(v) and math.prod(v) == estimator.n_features_in_,
            "learning_rate_": _finite_positive,
            "max_epochs_": _count,
            "n_epochs_": _count,
            "n_samples_seen_": _count,
            "best_epoch_": _count,
            "best_loss_": _real,
            "loss_curve_": _reals,
            "loss_": lambda v: v in ("mse", "bce"),
            "latent_mean_": _finite_array((k,)),
            "latent_covariance_": _finite_array((k, k)),
        },
        required=("n_features_in_", "n_components_", "batch_size_", "device_", "_seed",
                  "_sample_rank", "hidden_layer_sizes_", "input_shape_", "learning_rate_",
                  "max_epochs_", "n_epochs_")
        # The autoencoder's resolved objective (the VAE has a likelihood instead).
        + (("loss_",) if hasattr(estimator, "loss") else ()),
    )


def _check_detector(detector):
    # What the checks below are built from, present before they are read.
    _check(detector, {}, required=("estimator_", "n_features_in_", "anomaly_score_"))
    inner = detector.estimator_
    if not isinstance(inner, _BaseAutoencoder) or not hasattr(inner, "net_"):
        raise ValueError("the detector's estimator_ is not a fitted skae transformer.")
    n_features, k = detector.n_features_in_, inner.n_components_
    statistics = detector.anomaly_score_ in (*_NEIGHBOUR_SCORES, "combined")
    local = detector.anomaly_score_ in _NEIGHBOUR_SCORES
    shared = detector.anomaly_score_ == "neighborhood"
    scaled = detector.feature_scaling is not None
    _check(
        detector,
        {
            "n_features_in_": lambda v: v == inner.n_features_in_,
            "anomaly_score_": lambda v: v in (*_NEIGHBOUR_SCORES, "combined", "estimator"),
            "offset_": lambda v: _real(v) and math.isfinite(v),
            "scale_": (_finite_array((n_features,), positive=True) if scaled
                       else lambda v: v is None),
            # Optional: absent from older files, None for sparse input.
            "center_": lambda v: v is None or (scaled and _finite_array((n_features,))(v)),
            # Yeo-Johnson's exponents, centres and (positive) spreads; optional.
            "power_transform_": lambda v: v is None or (
                detector.feature_scaling == "auto"
                and _finite_array((3, n_features))(v)
                and bool(np.all(v[2] > 0))
                and bool(np.all((v[0] >= _POWER_RANGE[0]) & (v[0] <= _POWER_RANGE[1])))
            ),
            "control_limits_": _finite_array((2,), positive=True),
            "latent_mean_": _finite_array((k,)),
            "latent_precision_": _finite_array((k, k)),
            "latent_metric_": _finite_array((k, k)),
            "reference_codes_": _finite_array((None, k)),
            "n_neighbors_": _positive_int,
            "reference_scores_": _finite_array((len(getattr(detector, "reference_codes_", ())),)),
        },
        required=(
            ("offset_", "scale_")
            + (("control_limits_", "latent_mean_", "latent_precision_") if statistics else ())
            + (("latent_metric_", "reference_codes_", "n_neighbors_") if local else ())
            + (("reference_scores_",) if shared else ())
        ),
    )
    if local and len(detector.reference_codes_) == 0:
        raise ValueError("ReconstructionOutlierDetector.reference_codes_ holds no row.")


def check_fitted_state(estimator):
    """Raise ``ValueError`` unless ``estimator``'s fitted attributes are what ``fit`` produces.

    A transformer's network is checked when it is rebuilt (its weights' names,
    shapes, dtypes and finiteness); here, the attributes besides it.
    """
    if isinstance(estimator, _BaseAutoencoder):
        _check_transformer(estimator)
    else:
        _check_detector(estimator)
