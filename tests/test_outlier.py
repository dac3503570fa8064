"""Tests for ReconstructionOutlierDetector: outlier API, thresholds, quality, bad input."""

import warnings

import numpy as np
import pytest
import scipy.sparse as sp
from sklearn.base import BaseEstimator, clone
from sklearn.exceptions import NotFittedError
from sklearn.datasets import load_breast_cancer
from sklearn.decomposition import PCA
from sklearn.metrics import pairwise_distances, roc_auc_score
from sklearn.utils import get_tags

from conftest import HOLD_OUT, assert_noted

import skae._outlier
from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from skae._outlier import _EPOCHS, _sampled_rows

FAST = dict(max_epochs=5, hidden_layer_sizes=(16,), random_state=0, **HOLD_OUT)


def scaled(detector, X):
    """``X`` as the detector's estimator sees it (no feature heavy-tailed here)."""
    return (X - detector.center_) / detector.scale_


def _plane(n_samples=300, seed=0):
    """Rows near a 2-D plane in 6-D, in raw (uncentred) units."""
    rng = np.random.RandomState(seed)
    return rng.randn(n_samples, 2) @ rng.randn(2, 6) + 3.0 + 0.05 * rng.randn(n_samples, 6)


X_PLANE = _plane()
X_OFF = _plane(20, seed=1) + 4.0 * np.random.RandomState(2).randn(20, 6)


@pytest.fixture(scope="module")
def fitted():
    return ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), contamination=0.1
    ).fit(X_PLANE)


def test_api(fitted):
    assert isinstance(fitted.estimator_, AutoencoderTransformer)
    assert fitted.estimator_ is not fitted.estimator  # cloned
    assert not hasattr(fitted.estimator, "net_")
    assert fitted.n_features_in_ == 6
    scores = fitted.score_samples(X_PLANE)
    decision = fitted.decision_function(X_PLANE)
    assert scores.dtype == np.float64 and decision.dtype == np.float64
    np.testing.assert_allclose(decision, scores - fitted.offset_)
    pred = fitted.predict(X_PLANE)
    assert set(np.unique(pred)) <= {-1, 1}
    np.testing.assert_array_equal(pred == -1, decision < 0)


def test_off_plane_rows_are_outliers(fitted):
    assert (fitted.predict(X_OFF) == -1).mean() >= 0.9
    assert fitted.score_samples(X_OFF).max() < np.median(fitted.score_samples(X_PLANE))


@pytest.mark.parametrize("contamination", [0.05, 0.2])
def test_float_contamination_flags_that_fraction(contamination):
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), contamination=contamination
    )
    pred = detector.fit_predict(X_PLANE)
    assert abs((pred == -1).mean() - contamination) <= 0.01
    np.testing.assert_array_equal(pred, detector.predict(X_PLANE))


def test_auto_contamination_is_tukeys_fence(fitted):
    detector = clone(fitted).set_params(contamination="auto").fit(X_PLANE)
    scores = detector.score_samples(X_PLANE)
    q1, q3 = np.percentile(scores, [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1))
    # Few clean training rows are flagged; rows far off the plane all are.
    assert (detector.predict(X_PLANE) == -1).mean() < 0.1
    assert (detector.predict(X_OFF) == -1).all()


def test_with_vae():
    detector = ReconstructionOutlierDetector(
        VAETransformer(2, n_importance_samples=5, **FAST), contamination=0.1
    ).fit(X_PLANE)
    assert isinstance(detector.estimator_, VAETransformer)
    np.testing.assert_allclose(
        detector.score_samples(X_PLANE), detector.estimator_.score_samples(scaled(detector, X_PLANE))
    )
    assert detector.score_samples(X_OFF).mean() < detector.score_samples(X_PLANE).mean()
    assert set(np.unique(detector.predict(X_OFF))) <= {-1, 1}


def test_combined_score_is_the_sum_of_the_normalised_statistics(fitted):
    combined = clone(fitted).set_params(anomaly_score="combined").fit(X_PLANE)
    assert combined.anomaly_score_ == "combined"
    X_scaled = scaled(combined, X_OFF)
    spe = combined.estimator_.reconstruction_error(X_scaled)
    codes = combined.estimator_.transform(X_scaled) - combined.latent_mean_
    t2 = np.einsum("ij,jk,ik->i", codes, combined.latent_precision_, codes)
    expected = -(spe / combined.control_limits_[0] + t2 / combined.control_limits_[1])
    np.testing.assert_allclose(combined.score_samples(X_OFF), expected)


def check_local_score(fitted, X_train=X_PLANE):
    """``fitted``'s scores of X_OFF, its limit and its reference rows' scores, from
    the definition, by brute force (``fitted`` on ``X_train``, 2 components)."""
    assert fitted.anomaly_score_ in ("neighborhood", "local")

    def spe_and_embedded(X):
        X_scaled = scaled(fitted, X)
        codes = fitted.estimator_.transform(X_scaled) - fitted.latent_mean_
        return fitted.estimator_.reconstruction_error(X_scaled), codes @ fitted.latent_metric_

    def local_score(spe, kth):
        # Minus twice the log of a k-nearest-neighbour density of the 2-D codes,
        # up to a constant, with the training mean of kth as its unit.
        return -(spe / fitted.control_limits_[0] + 2 * np.log1p(kth / fitted.control_limits_[1]))

    spe, embedded = spe_and_embedded(X_OFF)
    reference = fitted.reference_codes_
    k = min(fitted.n_neighbors_, len(reference))
    gaps = ((embedded[:, None, :] - reference[None]) ** 2).sum(axis=2)
    neighbours = np.argsort(gaps, axis=1)[:, :k]
    local = local_score(spe, np.take_along_axis(gaps, neighbours, axis=1)[:, -1])
    reference_gaps = ((reference[:, None] - reference[None]) ** 2).sum(axis=2)
    reference_kth = np.sort(reference_gaps, axis=1)[:, min(k, len(reference) - 1)]  # self excluded
    assert fitted.control_limits_[1] == pytest.approx(reference_kth.mean())
    if fitted.anomaly_score_ == "local":
        np.testing.assert_allclose(fitted.score_samples(X_OFF), local)
        return
    # The reference rows' own local scores, each row not its own neighbour ...
    spe_train, embedded_train = spe_and_embedded(X_train)
    rows = pairwise_distances(reference, embedded_train).argmin(axis=1)
    reference_local = local_score(spe_train[rows], reference_kth)
    np.testing.assert_allclose(fitted.reference_scores_, reference_local)
    # ... shared: the mean over a row's k neighbours of the worse of the two.
    shared = np.minimum(local[:, None], reference_local[neighbours]).mean(axis=1)
    np.testing.assert_allclose(fitted.score_samples(X_OFF), shared)
    assert np.all(shared - local <= 1e-12 * np.abs(local))  # (up to the mean's rounding)


def test_neighborhood_is_the_default_score(fitted):
    assert fitted.anomaly_score == "auto" and fitted.anomaly_score_ == "neighborhood"


def test_local_score_is_spe_plus_the_log_distance_to_the_kth_nearest_code(fitted):
    assert fitted.n_neighbors == fitted.n_neighbors_ == 10
    check_local_score(fitted)
    local = clone(fitted).set_params(anomaly_score="local").fit(X_PLANE)
    assert not hasattr(local, "reference_scores_")
    check_local_score(local)
    # The same network and reference codes: only the score differs.
    np.testing.assert_array_equal(local.reference_codes_, fitted.reference_codes_)


def test_n_neighbors_sets_the_local_terms_count_at_fit(fitted):
    wide = clone(fitted).set_params(n_neighbors=40).fit(X_PLANE)
    assert wide.n_neighbors_ == 40
    check_local_score(wide)
    # The same network and reference codes: only the count differs.
    np.testing.assert_array_equal(wide.reference_codes_, fitted.reference_codes_)
    assert not np.allclose(wide.score_samples(X_OFF), fitted.score_samples(X_OFF))
    # Changed after fit, it waits for the next fit: the limit was measured with 40.
    before = wide.score_samples(X_OFF)
    wide.set_params(n_neighbors=3)
    np.testing.assert_array_equal(wide.score_samples(X_OFF), before)


def test_n_neighbors_beyond_the_reference_codes_counts_them_all():
    X = X_PLANE[:30]
    for score in ("neighborhood", "local"):
        detector = ReconstructionOutlierDetector(
            AutoencoderTransformer(2, **FAST), n_neighbors=1000, trim_fraction=0.0,
            anomaly_score=score,
        ).fit(X)
        assert len(detector.reference_codes_) == 30
        check_local_score(detector, X)


def _integer_rows(n_rows, seed, n_features=3):
    """Integers 0-3: their codes lie on a lattice, where distances tie."""
    return np.random.RandomState(seed).randint(0, 4, (n_rows, n_features)).astype(np.float64)


def test_discrete_rows_far_from_zero_score_as_near_it():
    # Rows 10,000 of their spreads from 0 are centred in float64 before the
    # network's float32 cast: cast first, they lost the digits that tell a
    # lattice's tied distances apart, and the neighbours' shared score moved
    # (here by 7e-4, relative; by 20 % on single rows of other lattices).
    X, new = _integer_rows(200, seed=0), _integer_rows(40, seed=1)
    offset = 1e4 * X.std(axis=0)
    near = ReconstructionOutlierDetector(random_state=0).fit(X)
    far = ReconstructionOutlierDetector(random_state=0).fit(X + offset)
    np.testing.assert_allclose(far.center_, near.center_ + offset / near.scale_ * far.scale_)
    for rows in (X, new):
        np.testing.assert_allclose(far.score_samples(rows + offset), near.score_samples(rows),
                                   rtol=1e-6)
    assert far.offset_ == pytest.approx(near.offset_, rel=1e-6)



def test_float64_rows_too_far_from_zero_for_float32_are_centred_not_refused():
    # 1e8 from 0, float32 has numbers 8 apart: the network alone could not
    # resolve a spread of 1, but the detector centres float64 rows before the
    # cast, and they score as near 0. Float32 rows have lost those digits already.
    offset = 1e8
    near = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X_PLANE)
    far = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X_PLANE + offset)
    rows = np.vstack([X_PLANE[:5], X_OFF])
    np.testing.assert_allclose(far.score_samples(rows + offset), near.score_samples(rows),
                               rtol=1e-4)
    with pytest.raises(ValueError, match="Centre X first"):
        clone(far).fit((X_PLANE + offset).astype(np.float32))


def brute_force_neighborhood(detector, X):
    """``detector``'s neighbourhood scores of ``X`` from the definition, by brute force.

    The reference rows strictly nearer than a row's k-th distance count once;
    those within the tie tolerance of it share the slots left equally. Also
    returns the number of rows whose tie band holds more than k reference rows.
    """
    spe, codes = detector._statistics(detector._scaled_input(X))
    embedded = (codes.astype(np.float64) - detector.latent_mean_) @ detector.latent_metric_
    reference = detector.reference_codes_
    distances = np.sqrt(((embedded[:, None, :] - reference[None]) ** 2).sum(axis=2))
    k = min(detector.n_neighbors_, len(reference))
    kth = np.sort(distances, axis=1)[:, k - 1]
    limits = detector.control_limits_
    local = -(spe / limits[0] + codes.shape[1] * np.log1p(kth**2 / limits[1]))
    magnitude = np.linalg.norm(embedded, axis=1) + np.sqrt((reference**2).sum(axis=1).mean())
    tolerance = skae._neighborhood._TIE_RESOLUTION * magnitude
    scores, n_beyond = np.empty(len(X)), 0
    for i, row in enumerate(distances):
        nearer, tied = row < kth[i] - tolerance[i], np.abs(row - kth[i]) <= tolerance[i]
        shared = np.minimum(local[i], detector.reference_scores_)
        share = (k - nearer.sum()) / tied.sum()
        scores[i] = (shared[nearer].sum() + share * shared[tied].sum()) / k
        n_beyond += nearer.sum() + tied.sum() > k
    return scores, n_beyond


@pytest.mark.parametrize("n_components, n_rows, seed", [(1, 150, 1), (2, 60, 3)])
@pytest.mark.parametrize("chunk_rows", [None, 2])
def test_reference_rows_tied_at_the_kth_distance_share_its_slots(
    n_components, n_rows, seed, chunk_rows, monkeypatch
):
    # Integer rows, 40 copies of one among them: tie bands of one to dozens of
    # reference rows. Chunks of 2 rows leave the tie search a budget of 22
    # (row, code) pairs: several batches, and rows searched alone.
    X = np.vstack([_integer_rows(n_rows, seed), np.ones((40, 3))])
    if chunk_rows:
        monkeypatch.setattr(skae._outlier, "_CHUNK_ROWS", chunk_rows)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(n_components, **{**FAST, "max_epochs": 2}), random_state=0
    ).fit(X)
    rows = np.vstack([X, _integer_rows(50, seed + 100)])
    expected, n_beyond = brute_force_neighborhood(detector, rows)
    assert n_beyond >= 40  # ties that reach beyond the k nearest, where the tree's pick mattered
    np.testing.assert_allclose(detector.score_samples(rows), expected, rtol=1e-12)
    # The reference rows' own scores see their k-th distance only, which ties do not
    # change: its mean is the brute force's (each row's own code excluded, not its
    # duplicates).
    reference = detector.reference_codes_
    between = np.sqrt(((reference[:, None] - reference[None]) ** 2).sum(axis=2))
    kth = np.sort(between, axis=1)[:, detector.n_neighbors_]
    assert detector.control_limits_[1] == pytest.approx(np.mean(kth**2), rel=1e-12)
    # The reference rows equal to [1, 1, 1] (the 40 copies among them) are held
    # once, with their count.
    assert detector._tied_neighbours()._counts.max() >= 40
    # The reference rows' order is not the tie-break: shuffled, they give the same scores.
    order = np.random.RandomState(0).permutation(len(detector.reference_codes_))
    shuffled = clone(detector)
    shuffled.__dict__.update(detector.__dict__)
    shuffled.reference_codes_ = detector.reference_codes_[order]
    shuffled.reference_scores_ = detector.reference_scores_[order]
    shuffled._reference_index = shuffled._reference_ties = None
    np.testing.assert_allclose(shuffled.score_samples(rows), expected, rtol=1e-12)


@pytest.mark.parametrize("score", ["neighborhood", "local", "combined"])
def test_an_exact_reconstructions_spe_limit_is_not_its_rounding(score):
    # As many components as features: the network reconstructs the rows exactly,
    # up to float32 rounding, and the SPE's mean is rounding noise (~1e-15).
    # Divided by it, the score was noise over noise; it gets limit 1, as a zero
    # spread does in scikit-learn's scalers.
    X = _integer_rows(120, seed=0)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(3, **{**FAST, "max_epochs": 2}), anomaly_score=score,
        random_state=0,
    ).fit(X)
    spe, _ = detector._statistics(detector._scaled_input(X))
    floor = skae._outlier._spe_rounding(
        skae._outlier._sample(detector._scaled_input(X), 0), detector._network_centre()
    )
    assert spe.mean() < floor / 10 and floor < 1e-9
    assert detector.control_limits_[0] == 1.0
    # The scores are the codes' term: the rows' rounding noise does not rank them.
    scores = detector.score_samples(X)
    assert np.all(np.isfinite(scores))
    codes_only = clone(detector)
    codes_only.__dict__.update(detector.__dict__)
    codes_only.control_limits_ = np.array([np.inf, detector.control_limits_[1]])
    np.testing.assert_allclose(scores, codes_only.score_samples(X), rtol=1e-9, atol=1e-9)
    # A row far out of the data scores lowest.
    assert detector.score_samples(np.full((1, 3), 10.0))[0] < scores.min()


@pytest.mark.parametrize("score", ["neighborhood", "combined"])
def test_the_spe_rounding_floor_ignores_the_datas_offset(score):
    # Rows near a 3-D subspace of 40 features, each feature 3,000 of its
    # standard deviations from 0 (a pressure in pascals, say). The network
    # subtracts its centre before it computes, so the floor of its rounding is
    # set by the rows' spread about that centre. Measured from 0, the floor
    # (~2e-4) exceeded the genuine reconstruction error (~3e-5), the SPE's
    # limit became 1 and rows off the subspace ranked as inliers.
    rng = np.random.RandomState(0)
    X = rng.randn(200, 3) @ rng.randn(3, 40) + 0.01 * rng.randn(200, 40)
    offset = 3000 * X.std(axis=0)
    off_subspace = X[:20] + 0.2 * rng.randn(20, 40)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(3, **{**FAST, "max_epochs": 2}), anomaly_score=score,
        contamination=0.05, trim_fraction=0, random_state=0,
    ).fit(X + offset)
    spe, _ = detector._statistics(detector._scaled_input(X + offset))
    assert detector.control_limits_[0] == pytest.approx(spe.mean(), rel=1e-12)
    assert np.all(detector.predict(off_subspace + offset) == -1)
    # The exact reconstruction of rows as far from 0 still gets limit 1.
    X_int = _integer_rows(120, seed=0) + 3000
    exact = ReconstructionOutlierDetector(
        AutoencoderTransformer(3, **{**FAST, "max_epochs": 2}), anomaly_score=score,
        random_state=0,
    ).fit(X_int)
    assert exact.control_limits_[0] == 1.0


def test_local_distances_are_the_linearised_decoders(fitted):
    # latent_metric_ is symmetric, and codes mapped by the metric fitted on some
    # codes are as far apart as those codes' images under the decoder's
    # least-squares linear fit over them.
    np.testing.assert_allclose(fitted.latent_metric_, fitted.latent_metric_.T)
    codes = fitted.estimator_.transform(scaled(fitted, X_OFF))
    metric = fitted._decoder_metric(codes)
    design = np.column_stack([codes - fitted.latent_mean_, np.ones(len(codes))])
    reconstructions = fitted.estimator_.inverse_transform(codes)
    linear = np.linalg.lstsq(design, reconstructions, rcond=None)[0][:-1]
    np.testing.assert_allclose(
        pairwise_distances(codes @ metric), pairwise_distances(codes @ linear), atol=1e-6
    )


def test_a_linear_decoders_local_distances_are_the_reconstructions():
    # With a linear network the fit is exact: the neighbours are measured between
    # the reconstructions, in the scaled input's units -- not in T²'s whitened
    # codes, where a kept direction of small variance would count as much as the first.
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **{**FAST, "hidden_layer_sizes": ()}), contamination=0.1
    ).fit(X_PLANE)
    codes = detector.estimator_.transform(scaled(detector, X_OFF))
    reconstructions = detector.estimator_.inverse_transform(codes)
    np.testing.assert_allclose(
        pairwise_distances((codes - detector.latent_mean_) @ detector.latent_metric_),
        pairwise_distances(reconstructions),
        rtol=1e-4, atol=1e-6,
    )
    check_local_score(detector)


def test_reference_codes_are_a_random_sample_of_bounded_size(fitted, monkeypatch):
    # Rows are also queried a few at a time, and the codes' Gaussian merged from
    # chunks of 7 rows: the k-th distances and the Gaussian do not change.
    monkeypatch.setattr(skae._outlier, "_MAX_REFERENCE_CODES", 60)
    monkeypatch.setattr(skae._outlier, "_CHUNK_ROWS", 7)
    bounded = clone(fitted).fit(X_PLANE)
    assert bounded.reference_codes_.shape == (60, 2)
    check_local_score(bounded)
    # the same model, Gaussian and SPE limit (a mean over every reference row)
    assert len(fitted.reference_codes_) > 60
    np.testing.assert_allclose(bounded.latent_mean_, fitted.latent_mean_, rtol=1e-12)
    np.testing.assert_allclose(bounded.latent_precision_, fitted.latent_precision_, rtol=1e-12)
    assert bounded.control_limits_[0] == fitted.control_limits_[0]
    first = bounded.estimator_.transform(scaled(bounded, X_PLANE[:60])) - bounded.latent_mean_
    assert not np.allclose(first @ bounded.latent_metric_, bounded.reference_codes_)


def test_codes_are_held_in_float32_and_their_gaussian_merged_from_chunks(fitted, monkeypatch):
    # Every training row's codes are held once, in the network's float32; the
    # Gaussian reads them in float64 chunks, merged: as one float64 pass would.
    spe, codes = fitted._statistics(fitted._scale(X_PLANE))
    assert spe.dtype == np.float64 and codes.dtype == np.float32
    monkeypatch.setattr(skae._outlier, "_CHUNK_ROWS", 7)
    rows = np.random.RandomState(0).rand(len(codes)) < 0.8
    mean, precision = skae._outlier._gaussian(codes, rows)
    exact = codes[rows].astype(np.float64)
    np.testing.assert_allclose(mean, exact.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(precision, np.linalg.inv(np.cov(exact, rowvar=False)), rtol=1e-10)


def test_robust_training_is_a_second_fit_on_the_rows_scored_best(fitted):
    # trim_fraction=0.1: the network is the one a single fit gives on the 90 % of
    # the rows that a first fit scores best by SPE and T²; the threshold comes
    # from every row.
    assert fitted.trim_fraction == 0.1
    once = clone(fitted).set_params(trim_fraction=0.0, anomaly_score="combined").fit(X_PLANE)
    scores = once.score_samples(X_PLANE)
    keep = scores >= np.quantile(scores, 0.1)
    assert fitted.estimator_.n_samples_seen_ == keep.sum() == 270
    # The scaling is every row's; the second network is the one a fit on the
    # kept rows, so scaled, gives.
    np.testing.assert_allclose(fitted.scale_, once.scale_)
    refit = clone(fitted.estimator_).fit(scaled(fitted, X_PLANE[keep]))
    np.testing.assert_allclose(
        fitted.estimator_.transform(scaled(fitted, X_OFF)),
        refit.transform(scaled(fitted, X_OFF)),
    )
    # The statistics describe every row but the clear outliers: those whose
    # first anomaly score is beyond Tukey's fence on a log scale.
    log_anomaly = np.log(-scores)
    q1, q3 = np.percentile(log_anomaly, [25, 75])
    reference = log_anomaly <= q3 + 1.5 * (q3 - q1)
    assert len(fitted.reference_codes_) == reference.sum() > keep.sum()
    spe = fitted.estimator_.reconstruction_error(scaled(fitted, X_PLANE[reference]))
    assert fitted.control_limits_[0] == pytest.approx(spe.mean())


def test_local_score_sees_a_row_between_two_clusters_that_t2_misses():
    # Two clusters on a line in 3-D; a row half-way between them is near the
    # codes' mean (a small T²) but far from every training code.
    rng = np.random.RandomState(0)
    direction = np.array([1.0, 2.0, -1.0])
    centres = np.r_[-1.0, 1.0][rng.randint(2, size=300)]
    X = (centres + 0.05 * rng.randn(300))[:, None] * direction + 0.01 * rng.randn(300, 3)
    between = np.zeros((1, 3))
    detectors = {
        score: ReconstructionOutlierDetector(
            AutoencoderTransformer(1, **FAST), anomaly_score=score, random_state=0
        ).fit(X)
        for score in ("neighborhood", "local", "combined")
    }
    for score, detector in detectors.items():
        # The fraction of training rows scored as more anomalous than it.
        rank = (detector.score_samples(X) < detector.score_samples(between)[0]).mean()
        if score != "combined":
            assert detector.predict(between)[0] == -1 and rank < 0.01
        else:
            assert detector.predict(between)[0] == 1 and rank > 0.5


def test_a_row_among_the_training_sets_anomalies_inherits_their_scores():
    # 20 anomalies of the training data sit together at the plane's edge, a
    # little off it (by 0.1-0.5: within the reference rows). Near them a new
    # row's 10th nearest code is one of theirs, so its local term is small,
    # and so is its own reconstruction error; the neighbours' errors are not.
    rng = np.random.RandomState(0)
    basis = rng.randn(2, 6)
    off_plane = np.linalg.svd(basis)[2][-1]
    X = rng.randn(300, 2) @ basis + 3.0 + 0.05 * rng.randn(300, 6)
    edge = np.array([2.5, 2.5]) @ basis + 3.0
    cluster = edge + 0.05 * rng.randn(20, 6) + rng.uniform(0.1, 0.5, (20, 1)) * off_plane
    new = edge + 0.05 * rng.randn(5, 6)
    detectors = {
        score: ReconstructionOutlierDetector(
            AutoencoderTransformer(2, **FAST), anomaly_score=score
        ).fit(np.vstack([X, cluster]))
        for score in ("local", "neighborhood")
    }
    assert len(detectors["neighborhood"].reference_codes_) > 300  # the cluster is a reference
    assert (detectors["local"].predict(new) == 1).sum() >= 3
    np.testing.assert_array_equal(detectors["neighborhood"].predict(new), -1)


def test_trim_fraction_leaves_the_worst_rows_out_of_the_second_fit():
    # 10 % of the training rows far off the plane: the refit never sees them.
    X_train = np.vstack([X_PLANE[:270], X_OFF[:15] + 10.0, X_PLANE[270:285]])
    trimmed = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), trim_fraction=0.1
    ).fit(X_train)
    once = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), trim_fraction=0.0, anomaly_score="combined"
    ).fit(X_train)
    assert once.estimator_.n_samples_seen_ == len(X_train)
    # The first fit is ``once``'s (which ranks by SPE and T²); the second
    # network is fitted on the rows it scores best: never the far ones. The
    # scaling stays every row's.
    first_scores = once.score_samples(X_train)
    keep = first_scores >= np.quantile(first_scores, 0.1)
    assert not keep[270:285].any()
    assert trimmed.estimator_.n_samples_seen_ == keep.sum()
    np.testing.assert_allclose(trimmed.scale_, once._feature_scale(once._power(X_train))[1])
    # Nor are they reference rows of the statistics; the threshold is still
    # set on every training row.
    assert len(trimmed.reference_codes_) <= 285
    assert (trimmed.predict(X_train) == -1)[270:285].all()


def test_feature_contributions_add_up_to_the_reconstruction_part(fitted):
    contributions = fitted.feature_contributions(X_OFF)
    assert contributions.shape == X_OFF.shape and contributions.dtype == np.float64
    assert np.all(contributions >= 0)
    X_scaled = scaled(fitted, X_OFF)
    spe = fitted.estimator_.reconstruction_error(X_scaled)
    np.testing.assert_allclose(contributions.sum(axis=1), spe / fitted.control_limits_[0])
    # The rest of the anomaly score is the codes' part, non-negative.
    assert np.all(-fitted.score_samples(X_OFF) - contributions.sum(axis=1) >= -1e-9)


def test_feature_contributions_point_at_the_feature_that_is_off(fitted):
    X = X_PLANE[:20].copy()
    X[:, 4] += 20 * fitted.scale_[4]
    assert np.all(fitted.feature_contributions(X).argmax(axis=1) == 4)


def test_feature_contributions_with_the_estimators_score():
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), anomaly_score="estimator"
    ).fit(X_PLANE)
    np.testing.assert_allclose(
        detector.feature_contributions(X_OFF).sum(axis=1), -detector.score_samples(X_OFF)
    )


def test_feature_contributions_need_an_autoencoder():
    # As scikit-learn's meta-estimators hide the methods their estimator lacks
    # (available_if): before fit by the given estimator, after it by the fitted one.
    assert hasattr(ReconstructionOutlierDetector(), "feature_contributions")
    assert hasattr(
        ReconstructionOutlierDetector(AutoencoderTransformer(2)), "feature_contributions"
    )
    detector = ReconstructionOutlierDetector(VAETransformer(2, n_importance_samples=5, **FAST))
    assert not hasattr(detector, "feature_contributions")
    detector.fit(X_PLANE)
    assert not hasattr(detector, "feature_contributions")
    with pytest.raises(AttributeError, match="has no attribute 'feature_contributions'") as info:
        detector.feature_contributions(X_PLANE)
    assert "needs a wrapped AutoencoderTransformer" in str(info.value.__cause__)
    # The fitted estimator decides: an estimator set after fit waits for the next fit.
    detector.set_params(estimator=AutoencoderTransformer(2, **FAST))
    assert not hasattr(detector, "feature_contributions")
    assert hasattr(detector.fit(X_PLANE), "feature_contributions")
    assert detector.feature_contributions(X_OFF).shape == X_OFF.shape
    with pytest.raises(NotFittedError):
        ReconstructionOutlierDetector().feature_contributions(X_PLANE)


@pytest.mark.parametrize(
    "architecture, shape, sizes",
    [("conv", (1, 4, 4), (4,)), ("gru", (2, 8), (8,)), ("lstm", (2, 8), (8,))],
)
def test_images_and_sequences_get_one_score_and_a_contribution_map_each(
    architecture, shape, sizes
):
    rng = np.random.RandomState(0)
    X = (rng.randn(60, 2) @ rng.randn(2, int(np.prod(shape)))).reshape(60, *shape)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(
            2, architecture=architecture, hidden_layer_sizes=sizes, input_shape=shape,
            max_epochs=2, random_state=0,
        ),
        contamination=0.1,
    ).fit(X)
    scores = detector.score_samples(X)
    assert scores.shape == (60,) and np.all(np.isfinite(scores))
    assert detector.predict(X).shape == (60,)
    contributions = detector.feature_contributions(X)
    assert contributions.shape == X.shape
    np.testing.assert_allclose(
        contributions.reshape(60, -1).sum(axis=1),
        detector.estimator_.reconstruction_error(scaled(detector, X.reshape(len(X), -1)).reshape(X.shape))
        / detector.control_limits_[0],
    )


def test_score_estimator_is_the_negative_reconstruction_error():
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), anomaly_score="estimator"
    ).fit(X_PLANE)
    assert detector.anomaly_score_ == "estimator"
    np.testing.assert_allclose(
        detector.score_samples(X_OFF),
        -detector.estimator_.reconstruction_error(scaled(detector, X_OFF)),
    )


@pytest.mark.parametrize("score", ["local", "combined"])
def test_combined_and_local_scores_need_an_autoencoder(score):
    detector = ReconstructionOutlierDetector(
        VAETransformer(2, n_importance_samples=5, **FAST), anomaly_score=score
    )
    with pytest.raises(ValueError, match=score):
        detector.fit(X_PLANE)


class _ProjectionWithoutDecoder(BaseEstimator):
    """PCA's codes and reconstruction error, without ``inverse_transform``."""

    def fit(self, X, y=None):
        self.pca_ = PCA(2).fit(X)
        return self

    def transform(self, X):
        return self.pca_.transform(X)

    def reconstruction_error(self, X):
        return ((self.pca_.inverse_transform(self.transform(X)) - X) ** 2).mean(axis=1)

    def score_samples(self, X):
        return -self.reconstruction_error(X)


def test_the_local_score_needs_inverse_transform():
    # The local term measures distances between reconstructions; T² does not.
    without_decoder = _ProjectionWithoutDecoder()
    with pytest.raises(ValueError, match="_ProjectionWithoutDecoder has no inverse_transform"):
        ReconstructionOutlierDetector(without_decoder, anomaly_score="local").fit(X_PLANE)
    for score, resolved in [("auto", "estimator"), ("combined", "combined")]:
        detector = ReconstructionOutlierDetector(without_decoder, anomaly_score=score)
        assert detector.fit(X_PLANE).anomaly_score_ == resolved


class _UnfittablePCA(PCA):
    """PCA whose ``fit`` must not be reached."""

    def fit(self, X, y=None):
        raise AssertionError("fitted before anomaly_score was checked")


@pytest.mark.parametrize(
    "score, missing",
    [("combined", "reconstruction_error"), ("local", "reconstruction_error"),
     ("neighborhood", "reconstruction_error")],
)
def test_a_score_needing_missing_methods_is_refused_before_fitting(score, missing):
    # scikit-learn's PCA has transform and inverse_transform but no
    # reconstruction_error: the error names that one, before any (long) fit.
    detector = ReconstructionOutlierDetector(_UnfittablePCA(2), anomaly_score=score)
    with pytest.raises(ValueError, match=f"_UnfittablePCA has no {missing}\\. Use"):
        detector.fit(X_PLANE)
    assert not hasattr(detector, "estimator_")


def test_default_estimator_and_n_components():
    detector = ReconstructionOutlierDetector(random_state=0).fit(X_PLANE)
    assert isinstance(detector.estimator_, AutoencoderTransformer)
    # 60 % of the variance of a noisy plane takes one or two components.
    assert detector.estimator_.n_components_ in (1, 2)
    assert detector.estimator_.random_state == 0
    assert (detector.predict(X_OFF) == -1).mean() >= 0.9


def test_default_estimator_has_the_detectors_training_budget():
    # A few epochs, no early stopping on a validation split that would hold the
    # training set's anomalies too -- and no ConvergenceWarning for the budget.
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        detector = ReconstructionOutlierDetector(random_state=0).fit(X_PLANE)
    estimator = detector.estimator_
    assert estimator.early_stopping is False
    assert estimator.n_epochs_ == estimator.max_epochs == _EPOCHS
    assert estimator.n_samples_seen_ == 270  # the trimmed second fit
    # Its widths follow the number of features.
    assert estimator.hidden_layer_sizes == (12, 6)


def test_default_estimator_trains_on_squared_error_whatever_the_range():
    # Unscaled data in [0, 1]: the autoencoder's loss="auto" would train on
    # binary cross-entropy; the detector's default pins squared error.
    X = np.random.RandomState(0).uniform(size=(200, 4))
    detector = ReconstructionOutlierDetector(feature_scaling=None, random_state=0).fit(X)
    assert detector.estimator_.loss == detector.estimator_.loss_ == "mse"


def test_feature_scaling_puts_features_on_one_scale():
    units = np.array([1e-3, 1.0, 1e3, 1.0, 1e2, 1.0])
    X_units = X_PLANE * units
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), trim_fraction=0.0
    ).fit(X_units)
    # No feature is near-constant: each is standardised, whatever its unit.
    np.testing.assert_allclose(detector.scale_, X_units.std(axis=0))
    np.testing.assert_allclose((X_units / detector.scale_).var(axis=0), 1.0)
    assert (detector.predict(X_OFF * units) == -1).mean() >= 0.9


def test_near_constant_features_get_a_floor_instead_of_being_inflated():
    X = X_PLANE.copy()
    X[:, 5] = 0.0
    X[:5, 5] = 0.01  # a seldom-set flag: 98 % of its rows hold one value
    X[5:8, 5] = -0.02
    scale = ReconstructionOutlierDetector()._feature_scale(X)[1]
    var = X.var(axis=0)
    np.testing.assert_allclose(scale[:5], np.sqrt(var[:5]))
    # The floor: the rare values' median square deviation from the common one.
    typical = np.median([0.01**2] * 5 + [0.02**2] * 3)
    assert scale[5] == pytest.approx(np.sqrt(var[5] + typical))
    assert scale[5] > 4 * np.sqrt(var[5])
    # A typical rare value lands about one scaled unit from the common one.
    assert 0.01 / scale[5] == pytest.approx(1, rel=0.05)


def test_a_near_constant_feature_is_floored_not_power_transformed():
    # Skewed (about 4) by its rare values being there, with more than 20 of
    # them: a log-like transform would pull the far ones in. A heavy-tailed
    # column beside it is still transformed.
    rng = np.random.RandomState(0)
    flag = np.where(rng.rand(500) < 0.05, 3 + rng.randn(500), 0.0)
    X = np.c_[rng.randn(500, 3), rng.lognormal(sigma=1.5, size=500), flag]
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    lambdas = detector.power_transform_[0]
    assert lambdas[3] != 1 and lambdas[4] == 1
    assert detector.scale_[4] == pytest.approx(np.sqrt(
        flag.var() + np.median((flag[flag != 0]) ** 2)))


def test_far_rare_values_do_not_set_a_near_constant_features_floor():
    # The rare values of unlabelled training data hold its anomalies: their mean
    # square would be set by the far ones, which it would then scale back to
    # about one unit, hidden. The median is the typical rare value's.
    X = _flagged_table()  # a flag set to 1 in 2 % of the rows
    contaminated = X.copy()
    contaminated[1::100, -1] = 50.0  # and 1 % of the rows far out
    scale = ReconstructionOutlierDetector(feature_scaling="standard")._feature_scale(
        contaminated)[1][-1]
    assert scale == pytest.approx(np.sqrt(contaminated[:, -1].var() + 1.0))
    assert 50.0 / scale > 9  # as far as the standard deviation alone puts them (10)


def _flagged_table():
    """X_PLANE's continuous columns beside a flag set in 2 % of the rows."""
    flag = np.zeros(len(X_PLANE))
    flag[::50] = 1.0
    return np.column_stack([X_PLANE, flag])


X_OFF_FLAGGED = np.column_stack([X_OFF, np.arange(len(X_OFF)) % 2])


def test_near_constant_floor_does_not_depend_on_the_other_features_units():
    # kPa to MPa in two unrelated columns: the flag's scale stays, the columns'
    # scales follow their unit, and every row scores as it did. (Two columns of
    # less than the median variance: a floor in units of it moved with them.)
    X = _flagged_table()
    units = np.array([1, 1, 1e3, 1e3, 1, 1, 1])
    detectors = [
        ReconstructionOutlierDetector(random_state=0).fit(rows) for rows in (X, X * units)
    ]
    np.testing.assert_allclose(detectors[1].scale_, detectors[0].scale_ * units, rtol=1e-12)
    np.testing.assert_allclose(
        detectors[1].score_samples(X_OFF_FLAGGED * units),
        detectors[0].score_samples(X_OFF_FLAGGED),
        rtol=1e-6,
    )


def test_a_flag_the_sample_misses_is_floored_by_its_one_rare_row():
    # Set in 1 row of 2,500: the 2,000 rows sampled miss it, so the feature is
    # constant there; its rare row, over every row, floors its variance.
    X = np.random.RandomState(0).randn(2500, 3)
    row = np.setdiff1d(np.arange(len(X)), _sampled_rows(len(X), 0))[0]
    X[:, 2] = 5.0
    X[row, 2] = 7.0
    scale = ReconstructionOutlierDetector(random_state=0)._feature_scale(X)[1]
    assert np.isfinite(scale[2]) and scale[2] > 0
    assert 2.0 / scale[2] == pytest.approx(1.0, rel=1e-3)


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_streamed_and_sparse_rows_get_the_dense_rows_scale(dtype, tmp_path):
    X = _flagged_table()
    rows = np.arange(len(X))
    # A heavy-tailed column (power-transformed, streamed block by block) ...
    X[:, 3] = np.exp(1.5 * np.random.RandomState(1).randn(len(X)))
    # ... and near-constant ones: 0 but in 8 % of the rows, where it is skewed
    # (floored, not transformed) ...
    X[:, 4] = np.where(rows % 12 == 0, np.exp(2 * np.random.RandomState(0).randn(len(X))), 0.0)
    # ... and 0.3 but in 5 % of the rows, whose zeros sparse rows leave implicit.
    X[:, 5] = np.where(rows % 20 == 0, 0.0, 0.3)
    X = X.astype(dtype)
    mapped = np.lib.format.open_memmap(tmp_path / "X.npy", mode="w+", dtype=dtype, shape=X.shape)
    mapped[:] = X
    mapped.flush()

    def fitted(rows, feature_scaling):
        estimator = AutoencoderTransformer(2, max_epochs=1, random_state=0)
        return ReconstructionOutlierDetector(
            estimator, feature_scaling=feature_scaling, random_state=0
        ).fit(rows)

    dense = fitted(X, "auto")
    assert dense.power_transform_[0][3] != 1 and dense.power_transform_[0][4] == 1
    np.testing.assert_allclose(fitted(mapped, "auto").scale_, dense.scale_, rtol=1e-12)
    np.testing.assert_allclose(
        fitted(sp.csr_matrix(X), "standard").scale_, fitted(X, "standard").scale_, rtol=1e-12
    )


def test_sparse_rows_with_duplicate_entries_get_the_dense_rows_scale():
    # A CSR matrix may hold one value as several entries of its row and column,
    # which scipy sums: the flag's 1 as 0.5 + 0.5, a 0 of it as 0.25 - 0.25.
    # Counted entry by entry, both read as rows off the flag's common value.
    X = _flagged_table()
    dense = sp.csr_matrix(X[:, :6])
    flag = [[0.5, 0.5] if value else [0.25, -0.25] if i % 50 == 25 else []
            for i, value in enumerate(X[:, 6])]
    data = [np.append(dense[i].data, values) for i, values in enumerate(flag)]
    indices = [np.append(dense[i].indices, [6] * len(values)) for i, values in enumerate(flag)]
    indptr = np.cumsum([0] + [len(row) for row in data])
    duplicated = sp.csr_matrix(
        (np.concatenate(data), np.concatenate(indices), indptr), shape=X.shape
    )
    assert not duplicated.has_canonical_format
    np.testing.assert_array_equal(duplicated.toarray(), X)
    stored = duplicated.data.copy(), duplicated.indices.copy()
    detectors = [
        ReconstructionOutlierDetector(
            AutoencoderTransformer(2, max_epochs=1, random_state=0),
            feature_scaling="standard", random_state=0,
        ).fit(rows)
        for rows in (X, duplicated)
    ]
    np.testing.assert_allclose(detectors[1].scale_, detectors[0].scale_, rtol=1e-12)
    # The user's matrix is left as it was given.
    np.testing.assert_array_equal(duplicated.data, stored[0])
    np.testing.assert_array_equal(duplicated.indices, stored[1])


def test_feature_scaling_none_feeds_raw_data():
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), feature_scaling=None, anomaly_score="estimator"
    ).fit(X_PLANE)
    assert detector.scale_ is None
    np.testing.assert_allclose(
        detector.score_samples(X_PLANE), detector.estimator_.score_samples(X_PLANE)
    )


def test_sparse_input_matches_dense():
    X = X_PLANE.copy()
    X[X < 3] = 0.0
    dense = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    sparse = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(
        sp.csr_matrix(X)
    )
    np.testing.assert_allclose(sparse.scale_, dense.scale_)
    np.testing.assert_allclose(
        sparse.score_samples(sp.csr_matrix(X)), dense.score_samples(X), rtol=1e-4, atol=1e-6
    )


def test_sparse_input_with_the_estimators_score():
    X = X_PLANE.copy()
    X[X < 3] = 0.0
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), anomaly_score="estimator"
    )
    sparse = clone(detector).fit(sp.csr_matrix(X))
    np.testing.assert_allclose(
        sparse.score_samples(sp.csr_matrix(X)), detector.fit(X).score_samples(X),
        rtol=1e-4, atol=1e-6,
    )



@pytest.mark.parametrize("heavy_tail", [False, True])
def test_a_detector_fitted_on_dense_rows_scores_them_alike_as_sparse(heavy_tail, monkeypatch):
    # Fitted on dense rows, the estimator saw them centred on center_ (and
    # through power_transform_): the same rows given as a sparse matrix must
    # be scaled alike, not only divided (off by center_ / scale_, they scored
    # as far rows; the power transform failed on them).
    X = X_PLANE.copy()
    if heavy_tail:
        X[:, 0] = np.random.RandomState(0).lognormal(sigma=1.5, size=len(X)) * 3
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    assert (detector.power_transform_ is not None) == heavy_tail
    rows = np.vstack([X[:5], X_OFF[:5]])
    np.testing.assert_array_equal(
        detector.score_samples(sp.csr_matrix(rows)), detector.score_samples(rows)
    )
    np.testing.assert_array_equal(
        detector.feature_contributions(sp.csr_matrix(rows)),
        detector.feature_contributions(rows),
    )
    # Made dense a block of rows at a time (here 3 rows), in any sparse format.
    import skae._streaming
    monkeypatch.setattr(skae._streaming, "BLOCK_ELEMENTS", 3 * X.shape[1])
    for sparse in (sp.csr_matrix(rows), sp.coo_matrix(rows)):
        np.testing.assert_allclose(detector.score_samples(sparse), detector.score_samples(rows),
                                   rtol=1e-6)
        np.testing.assert_array_equal(detector.predict(sparse), detector.predict(rows))


@pytest.mark.parametrize("score", ["local", "combined", "estimator"])
@pytest.mark.parametrize("units", [1.0, 1e-30])
def test_a_row_beyond_what_float32_represents_is_an_outlier(score, units):
    # In units of 1e-30, a row of 3e8 is 3e38 once scaled: its codes overflow
    # float32, in which the network computes. It must come out as the most
    # anomalous row, never as NaN, which would pass the threshold as an inlier.
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **FAST), anomaly_score=score
    ).fit(X_PLANE * units)
    rows = np.vstack([X_PLANE[:3], np.full((1, 6), 3e38), np.full((1, 6), -3e38)]) * units
    for dtype in (np.float64, np.float32):
        scores = detector.score_samples(rows.astype(dtype))
        assert not np.isnan(scores).any()
        assert scores[3:].max() < scores[:3].min()
        np.testing.assert_array_equal(detector.predict(rows.astype(dtype))[3:], [-1, -1])


@pytest.mark.parametrize("dtype", [np.float64, np.float32])
def test_a_far_row_on_a_power_transformed_feature_is_an_outlier(dtype):
    # The lognormal feature's left side is squared by its transform (exponent 0):
    # -1e20, within float32's range, leaves it once transformed. The row is
    # scored, not refused for a magnitude the user never passed.
    X = _heavy_tailed()
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    assert detector.power_transform_[0, 0] == 0
    far = X[:2].astype(dtype)
    far[0, 0] = -1e20
    scores = detector.score_samples(far)
    assert scores[0] < -1e30 and np.isfinite(scores[1])  # -inf where the codes overflow
    assert detector.predict(far)[0] == -1


def test_three_d_array_tag_is_the_wrapped_estimators():
    # Rank-3 X reaches the estimator in its own shape: skae's take it, PCA does not.
    for estimator in (None, AutoencoderTransformer(), VAETransformer()):
        assert get_tags(ReconstructionOutlierDetector(estimator)).input_tags.three_d_array
    assert not get_tags(ReconstructionOutlierDetector(PCA())).input_tags.three_d_array


def test_float32_input_gives_float64_scores(fitted):
    assert fitted.score_samples(X_PLANE.astype(np.float32)).dtype == np.float64


def test_feature_names(fitted):
    pd = pytest.importorskip("pandas")
    df = pd.DataFrame(X_PLANE, columns=[f"f{i}" for i in range(6)])
    detector = clone(fitted).fit(df)
    np.testing.assert_array_equal(detector.feature_names_in_, df.columns)
    assert detector.predict(df).shape == (len(df),)


def test_quality_breast_cancer_mixed_units():
    """Defaults on raw-unit tabular data: malignant rows among held-out benign ones."""
    X, y = load_breast_cancer(return_X_y=True)  # 1 = benign
    rng = np.random.RandomState(0)
    benign, malignant = rng.permutation(np.flatnonzero(y == 1)), np.flatnonzero(y == 0)
    X_test = np.vstack([X[benign[250:]], X[rng.choice(malignant, 12, replace=False)]])
    is_anomaly = np.r_[np.zeros(len(benign) - 250), np.ones(12)]
    detector = ReconstructionOutlierDetector(random_state=0).fit(X[benign[:250]])
    auc = roc_auc_score(is_anomaly, -detector.score_samples(X_test))
    assert auc > 0.93
    # Raw-unit PCA reconstruction error is dominated by the area features.
    pca = PCA(detector.estimator_.n_components_).fit(X[benign[:250]])
    pca_error = ((pca.inverse_transform(pca.transform(X_test)) - X_test) ** 2).sum(axis=1)
    assert auc > roc_auc_score(is_anomaly, pca_error)


@pytest.mark.parametrize(
    "params, match",
    [
        ({"contamination": 0.7}, "contamination"),
        ({"contamination": 0.0}, "contamination"),
        ({"contamination": "high"}, "contamination"),
        ({"feature_scaling": "minmax"}, "feature_scaling"),
        ({"n_neighbors": 0}, "n_neighbors"),
        ({"n_neighbors": 2.5}, "n_neighbors"),
        ({"n_neighbors": True}, "n_neighbors"),
        ({"estimator": PCA(2).fit_transform}, "estimator"),
    ],
)
def test_bad_parameters(params, match):
    with pytest.raises(ValueError, match=match):
        ReconstructionOutlierDetector(**params).fit(X_PLANE)


def test_bad_estimator_parameters_are_reported():
    with pytest.raises(ValueError, match="n_components"):
        ReconstructionOutlierDetector(AutoencoderTransformer(10, **FAST)).fit(X_PLANE)


def test_bad_input(fitted):
    with pytest.raises(ValueError, match="features"):
        fitted.predict(X_PLANE[:, :4])
    X_nan = X_PLANE.copy()
    X_nan[0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        clone(fitted).fit(X_nan)
    with pytest.raises(ValueError, match="NaN"):
        fitted.score_samples(X_nan)


def test_not_fitted():
    with pytest.raises(NotFittedError):
        ReconstructionOutlierDetector().predict(X_PLANE)


def test_a_failed_refit_leaves_the_detector_unfitted():
    # Not the new scaling with the old estimator_ and offset_, which flagged
    # none of the training rows instead of a tenth.
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**FAST), contamination=0.1)
    detector.fit(X_PLANE)
    diverging = AutoencoderTransformer(**{**FAST, "early_stopping": False}, learning_rate=1e8)
    with pytest.raises(FloatingPointError, match="diverged") as error:
        detector.set_params(estimator=diverging).fit(X_PLANE * 100)
    assert sorted(vars(detector)) == sorted(vars(clone(detector)))
    with pytest.raises(NotFittedError):
        detector.predict(X_PLANE)
    # One note, on the detector the user holds, not on the estimator it cloned.
    assert_noted(error, "ReconstructionOutlierDetector.fit raised: the estimator is left unfitted.")
    assert len(getattr(error.value, "__notes__", [])) <= 1


def test_a_refit_keeps_no_attribute_of_the_earlier_fit(tmp_path):
    # reference_scores_ of a "neighborhood" fit, left beside a "local" refit's
    # reference codes of another length, made skae.save refuse the new model.
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **{**FAST, "max_epochs": 1}), trim_fraction=0
    ).fit(X_PLANE[:40])
    assert detector.anomaly_score_ == "neighborhood"
    for score in ("local", "combined", "estimator"):
        detector.set_params(anomaly_score=score).fit(X_PLANE[:30])
        fresh = clone(detector).fit(X_PLANE[:30])
        assert sorted(vars(detector)) == sorted(vars(fresh))
    detector.set_params(anomaly_score="local").fit(X_PLANE[:30])
    skae.save(detector, tmp_path / "refit.skae")


class _ScoringPCA(PCA):
    """PCA whose ``score_samples`` is replaced: NaN on some rows, or two columns."""

    def __init__(self, n_components=2, broken="nan"):
        super().__init__(n_components)
        self.broken = broken

    def score_samples(self, X):
        scores = super().score_samples(X)
        if self.broken == "nan":
            return np.where(np.arange(len(scores)) % 10 == 0, np.nan, scores)
        return np.column_stack([scores, scores])


@pytest.mark.parametrize(
    "broken, match",
    [("nan", r"_ScoringPCA.score_samples returned NaN for 6 of 60 samples"),
     ("2d", r"returned an array of shape \(60, 2\); .* shape \(60,\)")],
)
def test_wrapped_estimator_scores_are_checked(broken, match):
    # A NaN score would pass every comparison with the threshold as an inlier.
    detector = ReconstructionOutlierDetector(
        _ScoringPCA(broken=broken), anomaly_score="estimator"
    )
    with pytest.raises(ValueError, match=match):
        detector.fit(X_PLANE[:60])


# ------------------------------------------------------ heavy-tailed features
def _heavy_tailed(n_samples=300, seed=0):
    """Columns: lognormal (heavy right tail), a skewed 1-5 rating, normal, minus lognormal."""
    rng = np.random.RandomState(seed)
    rating = np.minimum(rng.geometric(0.93, n_samples), 5).astype(float)
    return np.column_stack([
        rng.lognormal(0, 1.5, n_samples), rating, rng.randn(n_samples),
        -rng.lognormal(2, 1.2, n_samples),
    ])


def test_auto_scaling_transforms_the_heavy_tailed_many_valued_features_only():
    from skae._outlier import _fit_power

    X = _heavy_tailed()
    lambdas, centre, spread = _fit_power(X)
    # the rating is skewed but takes 5 values; the normal column is not skewed
    np.testing.assert_array_equal(lambdas[[1, 2]], 1.0)
    assert 0 <= lambdas[0] < 1 < lambdas[3] <= 2  # the right tail pulled in; the left
    np.testing.assert_allclose(centre[[0, 3]], np.median(X[:, [0, 3]], axis=0))
    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    np.testing.assert_array_equal(detector.power_transform_, np.vstack([lambdas, centre, spread]))
    standard = ReconstructionOutlierDetector(feature_scaling="standard", random_state=0).fit(X)
    assert standard.power_transform_ is None
    # what the estimator sees: the tails pulled in, the other columns only standardised
    seen = detector._scale(X) * detector.scale_ + detector.center_
    from scipy.stats import skew
    assert np.all(np.abs(skew(X[:, [0, 3]])) > 3)
    assert np.all(np.abs(skew(seen[:, [0, 3]])) < 1.5)
    np.testing.assert_allclose(seen[:, [1, 2]], X[:, [1, 2]], rtol=1e-12)


def test_yeo_johnson_is_scikit_learns_on_the_centred_columns():
    import torch
    from sklearn.preprocessing import PowerTransformer
    from skae._outlier import yeo_johnson

    X = _heavy_tailed()
    lambdas, centre, spread = np.array([0.0, 1.0, 0.5, 2.0]), np.median(X, axis=0), X.std(axis=0)
    expected = PowerTransformer(standardize=False).fit((X - centre) / spread)
    expected.lambdas_ = lambdas
    transformed = yeo_johnson(X, lambdas, centre, spread)
    np.testing.assert_allclose(
        transformed[:, [0, 2, 3]], expected.transform((X - centre) / spread)[:, [0, 2, 3]],
        rtol=1e-12,
    )
    np.testing.assert_array_equal(transformed[:, 1], X[:, 1])  # exponent 1: untouched
    as_torch = yeo_johnson(torch.from_numpy(X), *(torch.from_numpy(v) for v in
                                                  (lambdas, centre, spread)))
    np.testing.assert_allclose(as_torch.numpy(), transformed, rtol=1e-12)


def test_the_transform_holds_on_new_rows_and_in_saved_files(tmp_path):
    import skae

    X = _heavy_tailed()
    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    new = _heavy_tailed(50, seed=1)
    path = tmp_path / "detector.skae"
    skae.save(detector, path)
    loaded = skae.load(path)
    np.testing.assert_array_equal(loaded.power_transform_, detector.power_transform_)
    np.testing.assert_array_equal(loaded.score_samples(new), detector.score_samples(new))
    contributions = detector.feature_contributions(new)
    assert np.isfinite(contributions).all() and contributions.shape == new.shape
