"""Tests of samples with a shape: rank-3/4 input, ``input_shape`` and the shapes given back."""

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from conftest import HOLD_OUT

from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from skae._shapes import as_rows, check_shape_parameter, check_tensor, resolve_input_shape

TRANSFORMERS = [AutoencoderTransformer, VAETransformer]
FAST = dict(n_components=3, hidden_layer_sizes=(8,), max_epochs=2, random_state=0, **HOLD_OUT)

RNG = np.random.RandomState(0)
#: 40 "images" of 2 channels, 3 x 5 pixels, and 40 sequences of 2 channels, 6 steps.
IMAGES = RNG.rand(40, 2, 3, 5)
SEQUENCES = RNG.rand(40, 2, 6)


# ------------------------------------------------------------------ helpers
def test_as_rows_is_a_view_of_contiguous_arrays():
    rows, shape = as_rows(IMAGES)
    assert shape == (2, 3, 5)
    assert rows.shape == (40, 30)
    assert np.shares_memory(rows, IMAGES)
    np.testing.assert_array_equal(rows[7], IMAGES[7].ravel())


def test_as_rows_of_non_contiguous_arrays_is_c_order():
    transposed = np.asfortranarray(IMAGES)
    rows, _ = as_rows(transposed)
    np.testing.assert_array_equal(rows, IMAGES.reshape(40, -1))


@pytest.mark.parametrize(
    "X",
    [IMAGES[:, 0, 0, 0], IMAGES[:, 0, 0], sp.csr_matrix(IMAGES[:, 0, 0])],
    ids=["1d", "2d", "csr"],
)
def test_as_rows_leaves_other_input_to_validation(X):
    rows, shape = as_rows(X)
    assert rows is X and shape is None


def test_as_rows_accepts_nested_lists():
    rows, shape = as_rows(SEQUENCES.tolist())
    assert shape == (2, 6)
    np.testing.assert_array_equal(rows, SEQUENCES.reshape(40, -1))


def test_as_rows_leaves_tensors_numpy_converts_to_validation():
    tensor = torch.tensor(IMAGES[:, 0, 0])
    rows, shape = as_rows(tensor)
    assert rows is tensor and shape is None
    rows, shape = as_rows(torch.tensor(IMAGES))
    assert shape == (2, 3, 5)
    np.testing.assert_array_equal(rows, IMAGES.reshape(40, -1))


def test_check_tensor_names_what_numpy_cannot_convert():
    check_tensor(IMAGES)
    check_tensor(torch.tensor(IMAGES))
    with pytest.raises(TypeError, match="Z is a torch tensor .*requires grad"):
        check_tensor(torch.zeros(2, 3, requires_grad=True), "Z")


def test_as_rows_rejects_rank_5():
    with pytest.raises(ValueError, match="got 5 dimensions"):
        as_rows(np.zeros((2, 1, 2, 2, 2)))


@pytest.mark.parametrize("shape", [(), (1, 2, 3, 4), (0, 3), (2.0, 3), (True, 2), (-1,)])
def test_check_shape_parameter_rejects(shape):
    with pytest.raises(ValueError, match="input_shape must be"):
        check_shape_parameter(shape)


def test_resolve_input_shape():
    assert resolve_input_shape(None, None, 12, (12,)) == (12,)
    assert resolve_input_shape(None, (3, 4), 12, (12,)) == (3, 4)
    assert resolve_input_shape([3, np.int64(4)], None, 12, (12,)) == (3, 4)
    with pytest.raises(ValueError, match=r"has 12 values per sample, but X has 10"):
        resolve_input_shape((3, 4), None, 10, (10,))
    with pytest.raises(ValueError, match=r"samples of shape \(4, 3\), but input_shape"):
        resolve_input_shape((3, 4), (4, 3), 12, (12,))


# --------------------------------------------------------------- estimators
@pytest.mark.parametrize("cls", TRANSFORMERS)
@pytest.mark.parametrize("architecture", ["mlp", "conv"])
def test_rank_4_round_trip(cls, architecture):
    est = cls(architecture=architecture, **FAST).fit(IMAGES)
    assert est.input_shape_ == (2, 3, 5)
    assert est.n_features_in_ == 30
    codes = est.transform(IMAGES)
    assert codes.shape == (40, 3)
    assert est.inverse_transform(codes).shape == (40, 2, 3, 5)
    assert est.sample(4, random_state=0).shape == (4, 2, 3, 5)
    assert est.score_samples(IMAGES).shape == (40,)
    # The flattened rows are the same samples.
    np.testing.assert_array_equal(est.transform(IMAGES.reshape(40, -1)), codes)


@pytest.mark.parametrize("cls", TRANSFORMERS)
@pytest.mark.parametrize("architecture", ["mlp", "conv", "gru", "lstm"])
def test_rank_3_round_trip(cls, architecture):
    est = cls(architecture=architecture, **FAST).fit(SEQUENCES)
    assert est.input_shape_ == (2, 6)
    assert est.inverse_transform(est.transform(SEQUENCES)).shape == (40, 2, 6)


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_2d_rows_with_input_shape_give_rows_back(cls):
    rows = IMAGES.reshape(40, -1)
    est = cls(input_shape=(2, 3, 5), architecture="conv", **FAST).fit(rows)
    assert est.input_shape_ == (2, 3, 5)
    assert est.inverse_transform(est.transform(rows)).shape == (40, 30)
    assert est.sample(2, random_state=0).shape == (2, 30)
    # Images of the fitted shape are accepted too.
    np.testing.assert_array_equal(est.transform(IMAGES), est.transform(rows))


@pytest.mark.parametrize(
    "architecture, expected", [("mlp", (30,)), ("conv", (1, 30)), ("gru", (1, 30))]
)
def test_default_input_shape_of_2d_rows(architecture, expected):
    est = AutoencoderTransformer(architecture=architecture, **FAST).fit(IMAGES.reshape(40, -1))
    assert est.input_shape_ == expected


def test_per_feature_error_has_the_sample_shape():
    est = AutoencoderTransformer(**FAST).fit(IMAGES)
    assert est.reconstruction_error(IMAGES, per_feature=True).shape == (40, 2, 3, 5)
    assert est.reconstruction_error(IMAGES).shape == (40,)


def test_fit_does_not_modify_or_copy_the_callers_array():
    X = IMAGES.astype(np.float32)
    before = X.copy()
    est = AutoencoderTransformer(**FAST).fit(X)
    est.transform(X)
    np.testing.assert_array_equal(X, before)
    assert est.transform(X).dtype == np.float32


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_shape_mismatches_raise(cls):
    with pytest.raises(ValueError, match=r"samples of shape \(2, 3, 5\), but input_shape"):
        cls(input_shape=(2, 5, 3), **FAST).fit(IMAGES)
    with pytest.raises(ValueError, match="has 16 values per sample, but X has 30 features"):
        cls(input_shape=(1, 4, 4), **FAST).fit(IMAGES.reshape(40, -1))
    est = cls(**FAST).fit(IMAGES)
    for method in ("transform", "score_samples"):
        with pytest.raises(ValueError, match=r"shape \(2, 5, 3\), but .* fitted on samples"):
            getattr(est, method)(IMAGES.reshape(40, 2, 5, 3))
        with pytest.raises(ValueError, match="X has 24 features"):
            getattr(est, method)(IMAGES[:, :, :, :4].reshape(40, -1))


def test_2d_fit_rejects_rank_4_input():
    est = AutoencoderTransformer(**FAST).fit(IMAGES.reshape(40, -1))
    with pytest.raises(ValueError, match=r"fitted on samples of shape \(30,\)"):
        est.transform(IMAGES)


@pytest.mark.parametrize(
    "params, X, match",
    [
        (dict(architecture="gru"), IMAGES, r'"gru" needs samples of shape \(C, T\)'),
        (dict(architecture="lstm", input_shape=(30,)), IMAGES.reshape(40, -1), r"\(C, T\)"),
        (dict(architecture="conv", input_shape=(30,)), IMAGES.reshape(40, -1),
         r"\(C, T\) or \(C, H, W\)"),
        (dict(input_shape=(1, 1, 2, 15)), IMAGES.reshape(40, -1), "input_shape must be"),
    ],
)
def test_architecture_needs_a_matching_shape(params, X, match):
    with pytest.raises(ValueError, match=match):
        AutoencoderTransformer(**{**FAST, **params}).fit(X)


def test_rank_5_input_raises():
    with pytest.raises(ValueError, match="got 5 dimensions"):
        AutoencoderTransformer(**FAST).fit(IMAGES[:, None])


@pytest.mark.parametrize("estimator", [AutoencoderTransformer(architecture="conv", **FAST),
                                       VAETransformer(architecture="conv", **FAST)])
def test_outlier_detector_scores_one_value_per_image(estimator):
    detector = ReconstructionOutlierDetector(estimator, contamination=0.1).fit(IMAGES)
    assert detector.n_features_in_ == 30
    assert detector.estimator_.input_shape_ == (2, 3, 5)
    assert detector.score_samples(IMAGES).shape == (40,)
    assert detector.predict(IMAGES).shape == (40,)
    np.testing.assert_array_equal(
        detector.score_samples(IMAGES), detector.score_samples(IMAGES.reshape(40, -1))
    )
    with pytest.raises(ValueError, match="fitted on samples"):
        detector.score_samples(IMAGES.reshape(40, 2, 5, 3))


@pytest.fixture(scope="module")
def image_models():
    """A conv autoencoder fitted on IMAGES, and a detector over one."""
    estimator = AutoencoderTransformer(architecture="conv", **FAST)
    detector = ReconstructionOutlierDetector(estimator, contamination=0.1)
    return estimator.fit(IMAGES), detector.fit(IMAGES)


@pytest.mark.parametrize("container", ["numpy", "memmap", "dask"])
@pytest.mark.parametrize("shape", [(2, 4, 5), (2, 5, 3), (1, 30)], ids=["other size", "30 values",
                                                                         "rank 3"])
def test_samples_of_another_shape_name_the_class_called_and_both_shapes(
    image_models, container, shape, tmp_path
):
    # The detector said "X has 40 features, but ... is expecting 30", or named
    # the AutoencoderTransformer it wraps when the number of values matched.
    X = RNG.rand(6, *shape)
    if container == "memmap":
        np.save(tmp_path / "X.npy", X)
        X = np.load(tmp_path / "X.npy", mmap_mode="r")
    elif container == "dask":
        X = pytest.importorskip("dask.array").from_array(X, chunks=3)
    estimator, detector = image_models
    methods = [estimator.transform, estimator.score_samples, detector.score_samples,
               detector.predict, detector.decision_function, detector.feature_contributions]
    for method in methods:
        name = type(method.__self__).__name__
        given = ", ".join(map(str, shape))
        with pytest.raises(ValueError, match=rf"^X has samples of shape \({given}\), but {name} "
                                             r"was fitted on samples of shape \(2, 3, 5\)"):
            method(X)
