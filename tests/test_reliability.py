"""A catalogue of extreme, constant, out-of-support and malformed inputs.

Every case asserts the documented behaviour (see "Input validation and numerical
limits" in the user guide): a finite, correct result, or a ``ValueError`` /
``TypeError`` naming the problem -- never a silent NaN, infinity or wrong
number -- and the caller's arrays come back bit for bit unchanged. A fit that
raises (a diverging one, say) leaves no fitted model behind.
"""

import math
import threading
import warnings
from numbers import Integral, Real

import numpy as np
import pytest
import scipy.sparse as sp
import torch
from joblib import parallel_config
from sklearn.base import clone
from sklearn.exceptions import ConvergenceWarning, NotFittedError
from sklearn.model_selection import GridSearchCV
from skorch.callbacks import Callback, EpochScoring

from conftest import HOLD_OUT, InterruptAt, RaiseAtTrainEnd, assert_noted

from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from skae._base import NumberInterval, _BaseAutoencoder, principal_axes
from skae._net import SkaeNet

ESTIMATORS = [AutoencoderTransformer, VAETransformer]
FAST = dict(hidden_layer_sizes=(8,), max_epochs=3, random_state=0, **HOLD_OUT)
X = np.random.RandomState(0).randn(60, 6)
U = np.random.RandomState(1).rand(60, 6)  # data in [0, 1]
BERNOULLI = [
    (AutoencoderTransformer, {"loss": "bce"}),
    (VAETransformer, {"likelihood": "bernoulli"}),
]


def unchanged(fn, *arrays):
    """``fn(*arrays)``, asserting the arrays are bit for bit unchanged afterwards."""
    copies = [a.copy() for a in arrays]
    try:
        return fn(*arrays)
    finally:
        for a, c in zip(arrays, copies):
            assert type(a) is type(c) and a.dtype == c.dtype
            if sp.issparse(a):
                a, c = a.toarray(), c.toarray()
            np.testing.assert_array_equal(a, c, strict=True)


@pytest.fixture(scope="module", params=ESTIMATORS, ids=lambda c: c.__name__)
def fitted(request):
    """Each transformer, fitted on ``X`` (read-only)."""
    return request.param(**FAST).fit(X)


# ------------------------------------------------------------ 1. magnitudes
@pytest.mark.parametrize("magnitude", [1e-30, 1e-12, 1e19, 1e30, 1e37])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_scores_follow_the_units_at_any_magnitude(Estimator, magnitude):
    # The network works in scaled units: a model of X * m is the model of X (up
    # to float32 rounding in training), and its scores are X's in the new units
    # -- finite, never a float32 overflow (-inf for 1e19) or underflow (0 for 1e-30).
    reference = Estimator(**FAST).fit(X)
    Xm = X * magnitude
    model = unchanged(Estimator(**FAST).fit, Xm)
    scores = unchanged(model.score_samples, Xm)
    assert np.all(np.isfinite(scores))
    if Estimator is AutoencoderTransformer:
        # squared error in the user's units: times m**2
        expected = reference.score_samples(X) * magnitude**2
    else:
        # a log-density in the user's units: minus n_features * log(m)
        expected = reference.score_samples(X) - X.shape[1] * math.log(magnitude)
    np.testing.assert_allclose(scores, expected, rtol=0.05)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_reconstruction_error_of_float32_input_at_1e19(dtype):
    Xm = (X * 1e19).astype(dtype)
    model = AutoencoderTransformer(**FAST).fit(Xm)
    error = unchanged(model.reconstruction_error, Xm)
    assert error.dtype == np.float64 and np.all(np.isfinite(error)) and np.all(error > 0)
    per_feature = model.reconstruction_error(Xm, per_feature=True)
    np.testing.assert_allclose(per_feature.mean(axis=1), error, rtol=1e-12)


@pytest.mark.parametrize("magnitude", [1e20, 1e30, 3e38])
def test_far_rows_get_finite_scores_below_every_training_row(fitted, magnitude):
    far = np.full((2, X.shape[1]), magnitude)
    far[1] *= -1
    scores = unchanged(fitted.score_samples, far)
    assert np.all(np.isfinite(scores))
    assert scores.max() < fitted.score_samples(X).min()
    codes = unchanged(fitted.transform, far)
    assert np.all(np.isfinite(codes))


def test_inverse_transform_of_large_codes(fitted):
    # Within float32's range: finite (recomputed in float64 where float32 overflows).
    Z = np.array([[3e38, 0.0], [-3e38, 1.0]])
    assert np.all(np.isfinite(unchanged(fitted.inverse_transform, Z)))
    # Beyond it: a clear error, as for X.
    with pytest.raises(ValueError, match="Z has values beyond the range of float32"):
        unchanged(fitted.inverse_transform, np.array([[1e39, 0.0]]))


@pytest.mark.parametrize("method", ["fit", "score_samples", "transform"])
@pytest.mark.parametrize(
    "magnitude, message",
    [(1e39, "beyond the range of float32"), (1e-40, "smallest normal number")],
)
def test_data_outside_float32_range_raise(fitted, method, magnitude, message):
    estimator = type(fitted)(**FAST) if method == "fit" else fitted
    with pytest.raises(ValueError, match=message):
        unchanged(getattr(estimator, method), X * magnitude)


@pytest.mark.parametrize("input_scaling", ["feature", "global", None])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_spread_float32_cannot_resolve_raises(Estimator, input_scaling):
    # 1e8 + X: float32's numbers are 8 apart there, X varies by 1. The network
    # would see a handful of values; fit says so instead of fitting noise.
    shifted = X.copy()
    shifted[:, 2] += 1e8
    estimator = Estimator(**FAST, input_scaling=input_scaling)
    with pytest.raises(ValueError, match=r"Feature 2 of X varies .* numbers 8 apart"):
        unchanged(estimator.fit, shifted)
    with pytest.raises(ValueError, match=r"Feature 2 of X varies"):
        estimator.partial_fit(shifted)


def test_detector_names_the_unresolvable_feature_in_its_units():
    shifted = X + 1e8
    # Float32 rows (numbers 1 apart at 1e7): float64 ones are centred before
    # the network's cast (center_).
    shifted32 = (X + 1e7).astype(np.float32)
    message = (r"Feature 0 of X \(and 5 other features\) varies by a standard deviation of "
               rf"{shifted32[:, 0].astype(np.float64).std():.3g} around")  # not the scaled 1
    with pytest.raises(ValueError, match=message):
        unchanged(ReconstructionOutlierDetector(random_state=0).fit, shifted32)
    # An estimator computing in float64 is not held to float32's resolution.
    from sklearn.decomposition import PCA

    detector = ReconstructionOutlierDetector(PCA(2), anomaly_score="estimator").fit(shifted)
    assert np.all(np.isfinite(detector.score_samples(shifted)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_offset_float32_resolves_is_accepted(Estimator):
    # At 1e4 float32's numbers are 1e-3 apart: the scores are X's, shifted.
    model, shifted = Estimator(**FAST).fit(X), Estimator(**FAST).fit(X + 1e4)
    np.testing.assert_allclose(
        shifted.score_samples(X + 1e4), model.score_samples(X), rtol=0.05, atol=0.05
    )


def test_all_zero_data_are_not_tiny_data():
    model = AutoencoderTransformer(**FAST).fit(np.zeros((20, 3)))
    assert np.all(np.isfinite(model.transform(np.zeros((2, 3)))))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_detector_at_1e30_flags_what_it_flags_at_1(Estimator):
    detectors = [
        ReconstructionOutlierDetector(Estimator(**FAST), feature_scaling=None, contamination=0.1)
        for _ in range(2)
    ]
    unchanged(detectors[0].fit, X)
    unchanged(detectors[1].fit, X * 1e30)
    assert np.isfinite(detectors[1].offset_)
    flagged = [d.predict(Xd) for d, Xd in zip(detectors, [X, X * 1e30])]
    assert (flagged[1] == -1).sum() == 6  # contamination 0.1 of 60 rows
    np.testing.assert_array_equal(flagged[0], flagged[1])
    far = np.full((1, X.shape[1]), 1e20)
    assert detectors[0].predict(far)[0] == -1


# -------------------------------------------------------- 2. out of support
@pytest.fixture(scope="module", params=BERNOULLI, ids=["bce", "bernoulli"])
def bernoulli_fitted(request):
    Estimator, params = request.param
    return Estimator(**params, **FAST).fit(U)


@pytest.mark.parametrize("value", [2.0, -0.5, 1.0 + 1e-6, 5.0])
def test_rows_outside_unit_interval_score_minus_infinity(bernoulli_fitted, value):
    rows = U[:3].copy()
    rows[0, 2] = value
    scores = unchanged(bernoulli_fitted.score_samples, rows)
    assert scores[0] == -np.inf
    assert np.all(np.isfinite(scores[1:]))
    assert unchanged(bernoulli_fitted.score, rows) == -np.inf


@pytest.mark.parametrize("Estimator, params", BERNOULLI, ids=["bce", "bernoulli"])
def test_rounding_beyond_the_unit_interval_counts_as_in_it(Estimator, params):
    # MinMaxScaler's output exceeds 1 by one float64 ulp on some data: fit takes
    # it (as loss="auto" does), and scoring gives the rows it takes finite scores.
    rows = U.copy()
    rows[0, 0], rows[1, 1], rows[2, 2] = 1 + 2**-52, -(2**-30), 1 + 2**-23
    model = unchanged(Estimator(**params, **FAST).fit, rows)
    assert np.all(np.isfinite(model.score_samples(rows)))
    # Beyond float32's resolution it is out, and the message shows by how much.
    rows[3, 3] = 1 + 1e-6
    with pytest.raises(ValueError, match=r"got values in \[-9.3\d*e-10, 1.000001\]"):
        Estimator(**params, **FAST).fit(rows)


def test_reconstruction_error_outside_unit_interval_is_infinite():
    model = AutoencoderTransformer(loss="bce", **FAST).fit(U)
    rows = U[:3].copy()
    rows[0, 2] = 2.0
    error = unchanged(model.reconstruction_error, rows)
    assert error[0] == np.inf and np.all(np.isfinite(error[1:])) and np.all(error[1:] >= 0)
    per_feature = model.reconstruction_error(rows, per_feature=True)
    assert per_feature[0, 2] == np.inf
    assert np.all(np.isfinite(np.delete(per_feature, 2, axis=1)))


def test_boundary_values_are_in_the_support(bernoulli_fitted):
    rows = np.array([[0.0] * 6, [1.0] * 6])
    assert np.all(np.isfinite(unchanged(bernoulli_fitted.score_samples, rows)))


def test_sparse_rows_outside_unit_interval(bernoulli_fitted):
    rows = sp.csr_matrix(np.array([[0.0, 3.0, 0.0, 0.0, 0.5, 0.0], [0.0] * 6]))
    scores = unchanged(bernoulli_fitted.score_samples, rows)
    assert scores[0] == -np.inf and np.isfinite(scores[1])


@pytest.mark.parametrize("Estimator, params", BERNOULLI, ids=["bce", "bernoulli"])
def test_detector_flags_rows_outside_the_support(Estimator, params):
    detector = ReconstructionOutlierDetector(
        Estimator(**params, **FAST), feature_scaling=None, contamination=0.1
    ).fit(U)
    rows = np.vstack([np.full(6, 5.0), np.full(6, -1.0), U[:1]])
    decision = unchanged(detector.decision_function, rows)
    assert decision[0] == decision[1] == -np.inf
    np.testing.assert_array_equal(detector.predict(rows)[:2], [-1, -1])


@pytest.mark.parametrize("Estimator, params", BERNOULLI, ids=["bce", "bernoulli"])
def test_detector_says_why_feature_scaling_breaks_a_bernoulli_estimator(Estimator, params):
    detector = ReconstructionOutlierDetector(Estimator(**params, **FAST))
    with pytest.raises(ValueError, match=r'feature_scaling="auto".*feature_scaling=None'):
        unchanged(detector.fit, U)
    # data outside [0, 1] in the first place: the estimator's own message
    with pytest.raises(ValueError, match=r"needs data in \[0, 1\]") as info:
        detector.fit(X)
    assert "feature_scaling" not in str(info.value)
    # without the scaling, it fits
    ReconstructionOutlierDetector(Estimator(**params, **FAST), feature_scaling=None).fit(U)


# ---------------------------------------------------------- 3. near-constant
@pytest.mark.parametrize("input_scaling", ["global", "feature", None])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_constant_data_get_unit_scale(Estimator, input_scaling):
    # 1e-16 rounding noise in the variance is no spread: a row 0.1 away
    # encodes to codes of 0.1 or less, not 1e20.
    C = np.tile(X[:1], (30, 1))
    model = unchanged(Estimator(input_scaling=input_scaling, **FAST).fit, C)
    codes = unchanged(model.transform, C[:1] + 0.1)
    assert np.all(np.abs(codes) <= 0.1 * math.sqrt(X.shape[1]) + 1e-6)
    if Estimator is VAETransformer:
        # identical non-zero rows score as identical zero rows do (they were -27,530
        # nats); the two fits' last digits may keep different epochs (the decoder's
        # variance, at its floor, moves by ~1e-3 nats per epoch), hence abs=1e-2
        zeros = np.zeros_like(C)
        expected = Estimator(input_scaling=input_scaling, **FAST).fit(zeros).score(zeros)
        assert model.score(C) == pytest.approx(expected, abs=1e-2)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_constant_column_with_feature_scaling(Estimator):
    Xc = X.copy()
    Xc[:, 2] = 0.1  # its float64 variance is ~1e-33, not 0
    model = unchanged(Estimator(input_scaling="feature", **FAST).fit, Xc)
    assert model.net_.module_.normalize.scale[2] == 1.0
    assert np.abs(model.transform(Xc)).max() < 10
    assert np.abs(model.transform(Xc[:1] + 0.1)).max() < 10


@pytest.mark.parametrize("input_scaling", ["global", "feature"])
def test_tiny_real_spread_keeps_its_scale(input_scaling):
    # relative, not absolute: data in units of 1e-20 are standardised as usual
    model = AutoencoderTransformer(input_scaling=input_scaling, **FAST).fit(X * 1e-20)
    scale = model.net_.module_.normalize.scale.numpy()
    assert np.all((scale > 1e-21) & (scale < 1e-19))


def test_principal_axes_ignore_rounding_noise():
    C = np.tile(X[:1] * 1e3, (40, 1))
    loc = C.mean(axis=0)  # rounding error: centred rows are ~1e-13, not 0
    _, eigenvalues, axes, total = principal_axes(C, np.arange(40), loc, np.ones(1), 2, 0)
    assert total == 0.0 and np.all(eigenvalues == 0.0)
    np.testing.assert_allclose(axes.T @ axes, np.eye(2), atol=1e-12)


@pytest.mark.parametrize(
    "estimator", [AutoencoderTransformer(**FAST), VAETransformer(**FAST), None]
)
def test_detector_on_constant_data(estimator):
    C = np.tile(X[:1], (30, 1))
    detector = unchanged(
        ReconstructionOutlierDetector(estimator, contamination=0.1, random_state=0).fit, C
    )
    np.testing.assert_array_equal(detector.scale_, np.ones(X.shape[1]))
    # Left uncentred: its mean, subtracted, would leave rounding noise.
    np.testing.assert_array_equal(detector.center_, np.zeros(X.shape[1]))
    assert np.isfinite(detector.offset_)
    np.testing.assert_array_equal(detector.predict(C[:3]), [1, 1, 1])
    assert detector.predict(C[:1] + 0.1)[0] == -1


# ------------------------------------------------------------------ 4. threads
THREADED = [
    lambda: AutoencoderTransformer(dropout=0.2, noise=0.1, **FAST),
    lambda: VAETransformer(dropout=0.1, **FAST),
    lambda: VAETransformer(**{**FAST, "random_state": 1}),
    lambda: AutoencoderTransformer(
        architecture="conv", dropout=0.1, **{**FAST, "hidden_layer_sizes": (4,)}
    ),
    lambda: VAETransformer(
        architecture="gru", dropout=0.1, **{**FAST, "hidden_layer_sizes": (4,)}
    ),
    # above the one-thread limit: trains on the caller's threads while the others run on one
    lambda: AutoencoderTransformer(
        **{**FAST, "hidden_layer_sizes": (300, 300), "batch_size": 200}
    ),
]


def _weights(model):
    return [t.clone() for t in model.net_.module_.state_dict().values()]


@pytest.fixture
def two_torch_threads():
    """Two intra-op threads (the test session runs on one), so that the one-thread
    limit of small fits changes what a concurrent large fit runs on."""
    previous = torch.get_num_threads()
    torch.set_num_threads(2)
    yield
    torch.set_num_threads(previous)


def test_fits_in_threads_equal_sequential_fits_and_leave_the_global_rng_alone(two_torch_threads):
    sequential = [_weights(make().fit(X)) for make in THREADED]
    torch.manual_seed(0)
    expected_draws = torch.rand(100)
    torch.manual_seed(0)
    results = {}

    def fit(i):
        results[i] = _weights(THREADED[i % len(THREADED)]().fit(X))

    threads = [threading.Thread(target=fit, args=(i,)) for i in range(2 * len(THREADED))]
    for thread in threads:
        thread.start()
    draws = torch.cat([torch.rand(1) for _ in range(100)])  # meanwhile, in this thread
    for thread in threads:
        thread.join()
    for i, weights in results.items():
        expected = sequential[i % len(THREADED)]
        assert all(torch.equal(a, b) for a, b in zip(weights, expected)), i
    assert len(results) == len(threads)
    assert torch.equal(draws, expected_draws)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_fit_and_inference_leave_the_global_rng_untouched(Estimator):
    state = torch.get_rng_state()
    model = Estimator(dropout=0.2, **FAST).fit(X)
    model.score_samples(X)
    model.sample(3, random_state=0)
    assert torch.equal(torch.get_rng_state(), state)


def test_grid_search_on_threads_equals_sequential():
    def search():
        grid = GridSearchCV(
            VAETransformer(dropout=0.1, **FAST), {"n_components": [1, 2], "beta": [0.5, 1.0]}, cv=2
        )
        return grid.fit(X).cv_results_

    sequential = search()
    with parallel_config(backend="threading", n_jobs=4):
        threaded = search()
    for key in ["mean_test_score", "rank_test_score", "split0_test_score", "split1_test_score"]:
        np.testing.assert_array_equal(threaded[key], sequential[key], strict=True)
    assert threaded["params"] == sequential["params"]


def test_detector_on_all_zero_data_scores_far_rows_finitely():
    zeros = np.zeros((30, 6))
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**FAST)).fit(zeros)
    rows = np.vstack([zeros[:1], np.full((1, 6), 1e3), np.full((1, 6), 1e6)])
    scores = unchanged(detector.score_samples, rows)
    assert np.all(np.isfinite(scores)) and scores[0] > scores[1] > scores[2]
    np.testing.assert_array_equal(detector.predict(rows), [1, -1, -1])


# --------------------------------------------------- 5. clear errors, no crashes
@pytest.mark.parametrize("n_components", [18, 20])  # = and > the 18 training rows
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_many_features_and_more_components_than_training_rows(Estimator, n_components):
    # > 1024 features: the PCA start is a randomized SVD of the 18 training rows
    wide = np.random.RandomState(0).randn(20, 1100)
    model = unchanged(Estimator(n_components=n_components, **FAST).fit, wide)
    assert np.all(np.isfinite(model.transform(wide)))


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_more_components_than_samples_is_refused_as_pca_refuses_it(Estimator):
    # Components beyond the rows' rank would be arbitrary directions, and new
    # rows' codes along them arbitrary too.
    X_few = np.random.RandomState(0).randn(6, 8)
    with pytest.raises(ValueError, match=r"n_components=7 must be at most the number of "
                                         r"samples: X has 6 samples\."):
        Estimator(n_components=7, **FAST).fit(X_few)
    with pytest.raises(ValueError, match="the first chunk given to partial_fit has 1 sample"):
        Estimator(n_components=2, **FAST).partial_fit(X_few[:1])
    # As many as the samples fit; so does a detector over them, whose second
    # fit keeps that many of its rows however many the trim would leave out.
    Estimator(n_components=6, **FAST).fit(X_few)
    detector = ReconstructionOutlierDetector(Estimator(n_components=6, **FAST)).fit(X_few)
    assert detector.estimator_.n_samples_seen_ == 6


def test_randomized_principal_axes_are_orthonormal_beyond_the_rank():
    wide = np.random.RandomState(0).randn(10, 1100)
    _, eigenvalues, axes, _ = principal_axes(wide, np.arange(10), 0.0, 1.0, 12, 0)
    assert axes.shape == (1100, 12)
    np.testing.assert_allclose(axes.T @ axes, np.eye(12), atol=1e-10)
    np.testing.assert_allclose(eigenvalues[9:], 0.0, atol=1e-10)  # rank 9 once centred


def _numeric_parameters(Estimator):
    return [
        name
        for name, constraints in Estimator._parameter_constraints.items()
        if any(isinstance(c, NumberInterval) for c in constraints)
    ]


@pytest.mark.parametrize(
    "Estimator, name",
    [(E, name) for E in ESTIMATORS for name in _numeric_parameters(E)]
    + [(ReconstructionOutlierDetector, "contamination")],
)
@pytest.mark.parametrize("flag", [True, False])
def test_bools_are_not_numbers(Estimator, name, flag):
    estimator = Estimator(**{name: flag})
    data = U if Estimator is ReconstructionOutlierDetector else X
    with pytest.raises((ValueError, TypeError), match=f"'{name}' parameter"):
        estimator.fit(data)


def test_every_numeric_parameter_rejects_bools():
    # the constraints of skae's estimators use NumberInterval, never a bare Interval
    from sklearn.utils._param_validation import Interval

    for Estimator in [*ESTIMATORS, ReconstructionOutlierDetector]:
        for name, constraints in Estimator._parameter_constraints.items():
            for constraint in constraints:
                if isinstance(constraint, Interval):
                    assert isinstance(constraint, NumberInterval), (Estimator, name)
    assert len(_numeric_parameters(VAETransformer)) > len(_numeric_parameters(_BaseAutoencoder))


@pytest.mark.parametrize("n_samples", [True, False, 0, 2.0])
def test_sample_rejects_non_integers(fitted, n_samples):
    with pytest.raises((ValueError, TypeError), match="'n_samples' parameter"):
        fitted.sample(n_samples)


@pytest.mark.parametrize(
    "callbacks",
    [[object()], [("name", object())], [(1, EpochScoring("r2"))], [("a", "b", "c")], [print]],
)
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_callbacks_must_be_skorch_callbacks(Estimator, callbacks):
    with pytest.raises(TypeError, match="callbacks must be a list of skorch callbacks"):
        Estimator(callbacks=callbacks, **FAST).fit(X)


@pytest.mark.parametrize(
    "callbacks",
    [[Callback()], [Callback], [("noop", Callback())], [("unused", None)]],
)
def test_every_form_skorch_accepts_is_accepted(callbacks):
    model = AutoencoderTransformer(callbacks=callbacks, **FAST).fit(X)
    assert model.n_epochs_ == FAST["max_epochs"]


@pytest.mark.parametrize("device", ["meta", "mps"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_unusable_devices_are_named(Estimator, device):
    with pytest.raises(ValueError, match=f"device='{device}' cannot be used"):
        unchanged(Estimator(device=device, **FAST).fit, X)


#: Torch tensors NumPy cannot convert (scikit-learn's check_array fails on them with
#: torch's own RuntimeError or TypeError).
UNCONVERTIBLE_TENSORS = {
    "requires_grad": lambda a: torch.tensor(a, requires_grad=True),
    "bfloat16": lambda a: torch.tensor(a).bfloat16(),
}


@pytest.mark.parametrize("make", UNCONVERTIBLE_TENSORS.values(), ids=UNCONVERTIBLE_TENSORS)
@pytest.mark.parametrize(
    "method", ["fit", "fit_images", "transform", "score_samples", "inverse_transform"]
)
def test_tensors_numpy_cannot_convert_are_a_type_error(fitted, make, method):
    name = "Z" if method == "inverse_transform" else "X"
    match = f"{name} is a torch tensor that NumPy cannot convert: .* skae takes NumPy arrays"
    with pytest.raises(TypeError, match=match):
        if method == "fit":
            type(fitted)(**FAST).fit(make(X))
        elif method == "fit_images":  # rank 4: reshaped into rows before validation
            type(fitted)(**FAST).fit(make(X.reshape(60, 1, 2, 3)))
        elif method == "inverse_transform":
            fitted.inverse_transform(make(fitted.transform(X[:3])))
        else:
            getattr(fitted, method)(make(X[:3]))


def test_detector_refuses_tensors_numpy_cannot_convert():
    tensor = UNCONVERTIBLE_TENSORS["requires_grad"](U)
    with pytest.raises(TypeError, match="X is a torch tensor that NumPy cannot convert"):
        ReconstructionOutlierDetector(random_state=0).fit(tensor)


def test_tensors_numpy_converts_are_array_likes(fitted):
    np.testing.assert_array_equal(fitted.transform(torch.tensor(X)), fitted.transform(X))


def test_number_interval_keeps_sklearn_semantics():
    constraint = NumberInterval(Integral, 1, None, closed="left")
    assert constraint.is_satisfied_by(3) and constraint.is_satisfied_by(np.int64(3))
    assert not constraint.is_satisfied_by(True) and not constraint.is_satisfied_by(0)
    real = NumberInterval(Real, 0, 1, closed="neither")
    assert real.is_satisfied_by(0.5) and not real.is_satisfied_by(False)
    assert str(constraint) == "an int in the range [1, inf)"


# ------------------------------------------------------- 6. a fit that raises
#: One optimizer step, far too large: only the state after it shows the divergence.
ONE_DIVERGING_STEP = {
    AutoencoderTransformer: dict(learning_rate=10.0),
    VAETransformer: dict(learning_rate=1.0),
}


def assert_unfitted(model, error):
    """``model`` holds what a new one holds, nothing fitted, and ``error`` says so."""
    assert sorted(vars(model)) == sorted(vars(clone(model)))
    for method in ("transform", "score_samples"):
        with pytest.raises(NotFittedError):
            getattr(model, method)(X)
    assert_noted(error, f"{type(model).__name__}.fit raised: the estimator is left unfitted.")


@pytest.mark.parametrize("refit", [False, True], ids=["new", "refit"])
@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_a_fit_that_diverges_leaves_the_estimator_unfitted(Estimator, refit):
    # Not a network trained into NaN that transforms without an error; nor,
    # after a good fit, the old attributes (n_epochs_...) beside a new network.
    model = Estimator(**FAST)
    if refit:
        model.fit(X)
    model.set_params(learning_rate=1e8, early_stopping=False)
    with pytest.raises(FloatingPointError, match="diverged") as error:
        model.fit(X)
    assert_unfitted(model, error)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_error_outside_the_epochs_leaves_the_estimator_unfitted(Estimator):
    # A KeyboardInterrupt outside skorch's epoch loop (within it, skorch ends
    # training gracefully) is an error like any other.
    stop = RaiseAtTrainEnd()
    model = Estimator(callbacks=[stop], **FAST).fit(X)
    stop.error = KeyboardInterrupt()
    with pytest.raises(KeyboardInterrupt) as error:
        model.fit(X)
    assert_unfitted(model, error)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
@pytest.mark.parametrize("epoch", [1, 2])
def test_an_interrupt_within_the_epochs_ends_training(Estimator, method, epoch):
    # The interrupted epoch keeps its history row, as in skorch (its steps
    # changed the weights), so it counts; it has no loss: NaN, in its place.
    model = Estimator(callbacks=[InterruptAt(epoch, batch=2)], batch_size=8,
                      partial_fit_epochs=3, **FAST)
    with warnings.catch_warnings():
        # Interrupted is not "max_epochs reached without convergence".
        warnings.simplefilter("error", ConvergenceWarning)
        getattr(model, method)(X)
    assert model.n_epochs_ == len(model.history_) == len(model.loss_curve_) == epoch
    assert np.isnan(model.loss_curve_[-1]) and np.all(np.isfinite(model.loss_curve_[:-1]))
    if method == "fit":
        assert len(model.validation_scores_) == epoch and np.isnan(model.validation_scores_[-1])
    assert model.best_epoch_ < epoch
    assert np.all(np.isfinite(model.transform(X)))
    if method == "partial_fit":
        # The next call's best epoch is an epoch with a loss, in the history's numbering.
        model.partial_fit(X)
        assert model.n_epochs_ == len(model.loss_curve_) == epoch + 3
        assert model.loss_curve_[model.best_epoch_ - 1] == model.best_loss_ == np.nanmin(
            model.loss_curve_)


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_interrupt_in_the_only_epoch_leaves_no_best_loss(Estimator):
    # Without early stopping the start's loss is never measured: after an
    # interrupted first epoch there is no loss to call best (not inf).
    # (The second interrupt is partial_fit's, below: a fit ends at the first.)
    model = Estimator(callbacks=[InterruptAt(1, batch=2), InterruptAt(2, batch=2)],
                      batch_size=8, partial_fit_epochs=1, **{**FAST, "early_stopping": False})
    model.fit(X)
    assert model.best_epoch_ == 0 and model.n_epochs_ == 1
    assert np.isnan(model.best_loss_) and np.isnan(model.loss_curve_[0])
    # With early stopping, the start's validation loss is the best one measured.
    model.set_params(early_stopping=True).fit(X)
    assert model.best_epoch_ == 0 and np.isfinite(model.best_loss_)
    # That fit kept its start: partial_fit's best looks only at its own epochs,
    # and the fit's validation loss is no training loss of theirs.
    model.partial_fit(X)
    assert model.n_epochs_ == 2 and np.isnan(model.loss_curve_[1])
    assert model.best_epoch_ == 0 and np.isnan(model.best_loss_)


def test_an_interrupt_while_cross_validating_the_epochs_interrupts_the_fit(monkeypatch):
    # A fold's skorch net swallows the KeyboardInterrupt, but no model is
    # trained yet: the fit is interrupted, as by one outside the epochs.
    model = AutoencoderTransformer(early_stopping="auto", hidden_layer_sizes=(8,), max_epochs=3,
                                   random_state=0).fit(X)
    assert hasattr(model, "validation_scores_")  # the folds' mean: it cross-validated
    steps = []
    train_step = SkaeNet.train_step_single

    def interrupted_step(net, batch, **fit_params):
        steps.append(None)
        if len(steps) == 3:
            raise KeyboardInterrupt
        return train_step(net, batch, **fit_params)

    monkeypatch.setattr(SkaeNet, "train_step_single", interrupted_step)
    with pytest.raises(KeyboardInterrupt) as error:
        model.fit(X)
    assert_unfitted(model, error)



@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_an_interrupt_in_the_cross_validated_refit_describes_the_epochs_it_completed(Estimator):
    # The refit on every row stopped short of the epochs chosen: best_epoch_ is
    # n_epochs_'s completed epochs, not the folds' choice, and best_loss_ the
    # folds' mean validation loss after that many epochs.
    params = dict(early_stopping="auto", init="random", hidden_layer_sizes=(8,), max_epochs=4,
                  batch_size=16, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", ConvergenceWarning)
        full = Estimator(**params).fit(X)
        assert full.best_epoch_ == full.n_epochs_ >= 3  # the folds chose 3 epochs or more
        model = Estimator(callbacks=[InterruptAt(3, batch=1)], **params).fit(X)
    assert model.n_epochs_ == len(model.loss_curve_) == 3 and np.isnan(model.loss_curve_[-1])
    assert model.best_epoch_ == 2
    assert model.best_loss_ == -model.validation_scores_[1] == -full.validation_scores_[1]


@pytest.mark.parametrize("Estimator", ESTIMATORS)
def test_divergence_in_the_last_step_is_raised(Estimator):
    # One epoch of one batch: its training loss, computed before the step, is
    # fine; the network the step leaves is not.
    model = Estimator(hidden_layer_sizes=(8,), max_epochs=1, batch_size=len(X), random_state=0,
                      early_stopping=False, **ONE_DIVERGING_STEP[Estimator])
    with pytest.raises(FloatingPointError, match="after the last step of epoch 1") as error:
        model.fit(X)
    assert_unfitted(model, error)
