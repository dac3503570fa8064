"""Tests for skae.onnx: ONNX export of every method, parity with skae, skl2onnx pipelines."""

import subprocess
import sys
import warnings

import numpy as np
import pytest
import torch

from conftest import HOLD_OUT

import skae
from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer

onnx = pytest.importorskip("onnx")
onnxruntime = pytest.importorskip("onnxruntime")

from skae.onnx import register_skl2onnx_converters, to_onnx  # noqa: E402

FAST = dict(max_epochs=4, hidden_layer_sizes=(8,), random_state=0, **HOLD_OUT)
X = np.random.RandomState(0).rand(70, 5)
X32 = X.astype(np.float32)

TRANSFORMERS = {
    # loss="auto" on this data in [0, 1]: binary cross-entropy, which does not beat
    # PCA on the validation rows: PCA's solution with an identity output.
    "ae": lambda: AutoencoderTransformer(2, **FAST),
    # No validation split: the network trained on binary cross-entropy, scored by
    # squared error.
    "ae_auto_bce": lambda: AutoencoderTransformer(2, **{**FAST, "early_stopping": False}),
    "ae_bce_feature": lambda: AutoencoderTransformer(
        2, loss="bce", input_scaling="feature", **FAST
    ),
    "ae_linear_unscaled": lambda: AutoencoderTransformer(
        2, input_scaling=None, **{**FAST, "hidden_layer_sizes": ()}
    ),
    "vae": lambda: VAETransformer(2, n_importance_samples=4, **FAST),
    "vae_bernoulli": lambda: VAETransformer(
        2, likelihood="bernoulli", n_importance_samples=3, **FAST
    ),
}


def run(model, inputs):
    session = onnxruntime.InferenceSession(model.SerializeToString())
    return session.run(None, {session.get_inputs()[0].name: inputs})


def declared_shapes(values):
    """The shape each of a graph's inputs or outputs declares: ints, or the name of a free one."""
    return [[d.dim_param or d.dim_value for d in v.type.tensor_type.shape.dim] for v in values]


@pytest.fixture(scope="module", params=list(TRANSFORMERS))
def transformer(request):
    return TRANSFORMERS[request.param]().fit(X)


@pytest.mark.parametrize("dtype", [np.float32, np.float64])
@pytest.mark.parametrize("method", ["transform", "inverse_transform", "score_samples"])
def test_transformer_methods_match_skae(transformer, method, dtype):
    # In skae's dtype for rows of each: codes and reconstructions in the rows'
    # dtype, scores in float64.
    rows = X.astype(dtype)
    inputs = transformer.transform(rows) if method == "inverse_transform" else rows
    model = to_onnx(transformer, method, dtype=dtype)
    onnx.checker.check_model(model)
    (output,) = run(model, inputs)
    expected = getattr(transformer, method)(inputs)
    assert output.dtype == expected.dtype and output.shape == expected.shape
    assert declared_shapes(model.graph.input) == [["N", inputs.shape[1]]]
    assert declared_shapes(model.graph.output) == [["N", *expected.shape[1:]]]
    np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5)


def test_batch_size_is_dynamic_and_rows_are_independent(transformer):
    model = to_onnx(transformer, "transform")
    assert model.graph.input[0].type.tensor_type.shape.dim[0].dim_param
    (one,) = run(model, X32[:1])
    (many,) = run(model, X32)
    assert one.shape == (1, 2) and many.shape == (70, 2)
    np.testing.assert_allclose(one[0], many[0], rtol=1e-6, atol=1e-6)


def test_normalisation_is_inside_the_graph():
    # Raw units far from 0: the graph must centre and scale them itself.
    est = AutoencoderTransformer(2, **FAST).fit(1000 + 50 * X)
    (codes,) = run(to_onnx(est), (1000 + 50 * X).astype(np.float32))
    np.testing.assert_allclose(codes, est.transform(1000 + 50 * X), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("detector", [
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)),
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST), n_neighbors=25),
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST),
                                          anomaly_score="local"),
    lambda: ReconstructionOutlierDetector(
        VAETransformer(2, n_importance_samples=3, **FAST), feature_scaling=None,
        contamination=0.1,
    ),
])
@pytest.mark.parametrize("heavy_tailed", [False, True])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_detector_methods_match_skae(detector, heavy_tailed, dtype):
    # Heavy-tailed: two features through the detector's Yeo-Johnson transform.
    tails = np.random.RandomState(1).lognormal(0, 1.5, (len(X), 2))
    data = np.column_stack([tails, X[:, 2:]]) if heavy_tailed else X
    detector = detector().fit(data)
    assert (getattr(detector, "power_transform_", None) is not None) == (
        heavy_tailed and detector.feature_scaling == "auto"
    )
    rows = data.astype(dtype)
    for method in ["score_samples", "decision_function", "predict"]:
        (output,) = run(to_onnx(detector, method, dtype=dtype), rows)
        expected = getattr(detector, method)(rows)
        assert output.shape == expected.shape
        if method == "predict":
            assert output.dtype == np.int64
            np.testing.assert_array_equal(output, expected)
        else:
            assert output.dtype == np.float64
            np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5)


def relative_gap(output, expected):
    return np.max(np.abs(output - expected) / np.abs(expected))


#: Discrete rows 1e5 from 0 with a spread of about 1: float32 holds the
#: integers, but not the detector's centre (its mean) to the digits that
#: place the codes on their lattice.
FAR = 1e5 + np.random.RandomState(0).randint(0, 4, (200, 3)).astype(np.float64)


@pytest.fixture(scope="module")
def far_detector():
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(1, **{**FAST, "max_epochs": 2}), random_state=0
    ).fit(FAR[:150])
    assert detector.anomaly_score_ == "neighborhood"
    return detector


def test_float64_graph_keeps_the_digits_of_rows_far_from_0(far_detector):
    # The detector centres float64 rows in float64 before the network's
    # float32 cast; the float64 graph does the same, the float32 graph cannot.
    for method in ["score_samples", "decision_function", "predict"]:
        expected = getattr(far_detector, method)(FAR)
        (output,) = run(to_onnx(far_detector, method, dtype=np.float64), FAR)
        assert output.dtype == expected.dtype and output.shape == expected.shape
        if method == "predict":
            np.testing.assert_array_equal(output, expected)
        else:
            np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-6)
    (scores32,) = run(to_onnx(far_detector, "score_samples"), FAR.astype(np.float32))
    assert relative_gap(scores32, far_detector.score_samples(FAR)) > 1e-2


def test_float64_graph_power_transforms_in_float64():
    # Heavy-tailed features far from 0: the detector's Yeo-Johnson transform
    # about its median, in float64 as skae computes it for float64 rows.
    tails = 1e5 + np.random.RandomState(1).lognormal(0, 1.5, (len(X), 2))
    data = np.column_stack([tails, X[:, 2:]])
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(data)
    assert detector.power_transform_ is not None
    expected = detector.score_samples(data)
    (scores,) = run(to_onnx(detector, "score_samples", dtype="float64"), data)
    np.testing.assert_allclose(scores, expected, rtol=1e-6)
    (scores32,) = run(to_onnx(detector, "score_samples"), data.astype(np.float32))
    assert relative_gap(scores32, expected) > 1e-4


@pytest.mark.parametrize("n_components, n_rows, seed", [(1, 150, 1), (2, 60, 3)])
def test_neighborhood_matches_skae_where_distances_tie(n_components, n_rows, seed):
    # Integer features put the codes on a lattice: a row can be as far from
    # several reference codes as from its k-th nearest. The graph weighs every
    # reference code, skae searches a tree; both share the tied codes' slots
    # (when each took one of them, scores differed by up to 7 %, relative).
    rng = np.random.RandomState(seed)
    X_int = rng.randint(0, 4, (n_rows, 3)).astype(np.float32)
    rows = np.vstack([X_int, rng.randint(0, 4, (50, 3)).astype(np.float32)])
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(n_components, **{**FAST, "max_epochs": 2}), random_state=0
    ).fit(X_int)
    assert detector.anomaly_score_ == "neighborhood"
    (scores,) = run(to_onnx(detector, "score_samples"), rows)
    np.testing.assert_allclose(scores, detector.score_samples(rows), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("score", ["neighborhood", "local"])
def test_an_exact_reconstruction_matches_skae(score):
    # As many components as features: the reconstruction error is float32
    # rounding, which onnxruntime and PyTorch round differently. Divided by its
    # mean, also rounding, the scores differed by their own size.
    rng = np.random.RandomState(0)
    X_int = rng.randint(0, 4, (60, 2)).astype(np.float32)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **{**FAST, "max_epochs": 2}), anomaly_score=score,
        random_state=0,
    ).fit(X_int)
    assert detector.control_limits_[0] == 1.0
    (scores,) = run(to_onnx(detector, "score_samples"), X_int)
    np.testing.assert_allclose(scores, detector.score_samples(X_int), rtol=1e-6, atol=1e-6)


@pytest.mark.parametrize("detector", [
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)),
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST),
                                          anomaly_score="local"),
    lambda: ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST),
                                          anomaly_score="combined"),
    lambda: ReconstructionOutlierDetector(VAETransformer(2, n_importance_samples=3, **FAST)),
])
def test_rows_that_overflow_float32_are_outliers_in_the_graph(detector):
    # skae recomputes such rows in float64; the graph's float32 network cannot,
    # and must rank them last and label them outliers, not return NaN (an inlier).
    # So too float64 rows beyond float32's range (which the detector clips to it).
    def overflowing(dtype, large):
        rows = np.vstack([X[:2], np.full((2, 5), large)]).astype(dtype)
        rows[3, 0] = -large
        return rows

    detector = detector().fit(X)
    for dtype, large in [(np.float32, 3e38), (np.float64, 1e300)]:
        rows = overflowing(dtype, large)
        (scores,) = run(to_onnx(detector, "score_samples", dtype=dtype), rows)
        (labels,) = run(to_onnx(detector, "predict", dtype=dtype), rows)
        assert not np.isnan(scores).any() and scores[2:].max() < scores[:2].min()
        np.testing.assert_array_equal(labels[2:], [-1, -1])
        with warnings.catch_warnings(record=True) as record:
            warnings.simplefilter("always")
            np.testing.assert_array_equal(labels, detector.predict(rows))
        # The infinite codes' NaN is the detector's to handle, not numpy's to report.
        assert not [w for w in record if "invalid value" in str(w.message)]
    rows = overflowing(np.float32, 3e38)
    ae = AutoencoderTransformer(2, **FAST).fit(X)
    (scores,) = run(to_onnx(ae, "score_samples"), rows)
    np.testing.assert_array_equal(scores[2:], [-np.inf, -np.inf])
    assert np.all(ae.score_samples(rows)[2:] < -1e30)


def test_the_graph_refuses_shapes_but_not_values():
    # As the serving guide says: the runtime checks the declared rank and width;
    # a NaN or an infinity, which skae refuses, gets NaN codes and an outlier's score.
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, **{**FAST, "max_epochs": 1}), trim_fraction=0
    ).fit(X)
    ae = detector.estimator_
    rows = np.vstack([X32[:2], np.full((2, 5), np.nan, np.float32)])
    rows[3, 1:] = np.inf
    (codes,) = run(to_onnx(ae), rows)
    (scores,) = run(to_onnx(ae, "score_samples"), rows)
    (labels,) = run(to_onnx(detector, "predict"), rows)
    assert np.isfinite(codes[:2]).all() and np.isnan(codes[2:]).all()
    np.testing.assert_array_equal(scores[2:], [-np.inf, -np.inf])
    np.testing.assert_array_equal(labels[2:], [-1, -1])
    with pytest.raises(ValueError, match="NaN"):
        ae.transform(rows)
    # A float64 value beyond float32's range, which skae refuses, likewise.
    huge = np.vstack([X[:1], np.full((1, 5), 1e300)])
    (codes,) = run(to_onnx(ae, dtype=np.float64), huge)
    (scores,) = run(to_onnx(ae, "score_samples", dtype=np.float64), huge)
    assert np.isnan(codes[1]).all() and scores[1] == -np.inf
    with pytest.raises(ValueError, match="beyond the range of float32"):
        ae.transform(huge)
    for wrong in (X32[:, :4], X32[:, None, :]):
        with pytest.raises(onnxruntime.capi.onnxruntime_pybind11_state.InvalidArgument):
            run(to_onnx(ae), wrong)


def test_bad_arguments():
    fitted = AutoencoderTransformer(2, **FAST).fit(X)
    with pytest.raises(ValueError, match="method must be one of"):
        to_onnx(fitted, "predict")
    with pytest.raises(ValueError, match="opset"):
        to_onnx(fitted, opset=99)
    for dtype in [np.float16, "int64", None, "complex"]:
        with pytest.raises(ValueError, match=r"dtype must be np.float32 or np.float64"):
            to_onnx(fitted, dtype=dtype)
    # Checked before the estimator is: no export work for a bad dtype.
    with pytest.raises(ValueError, match="dtype must be"):
        to_onnx(AutoencoderTransformer(), dtype=np.int32)
    # A byte order is no part of a graph's input type: ">f8" is float64.
    (codes,) = run(to_onnx(fitted, dtype=">f8"), X.astype(np.float64))
    assert codes.dtype == np.float64
    np.testing.assert_allclose(codes, fitted.transform(X.astype(np.float64)), rtol=1e-5, atol=1e-6)
    with pytest.raises(ValueError, match="method must be one of"):
        to_onnx(ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X),
                "transform")
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        to_onnx(AutoencoderTransformer())
    from sklearn.decomposition import PCA

    with pytest.raises(TypeError, match="skae's estimators"):
        to_onnx(PCA(2).fit(X))
    detector = ReconstructionOutlierDetector(PCA(2), anomaly_score="estimator").fit(X)
    with pytest.raises(TypeError, match="over skae's transformers, got one over PCA"):
        to_onnx(detector, "predict")


def test_importing_skae_does_not_touch_skl2onnx_or_onnx():
    code = "import sys, skae; print('skl2onnx' in sys.modules, 'onnx' in sys.modules)"
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True,
                         check=True)
    assert out.stdout.split() == ["False", "False"]


# ------------------------------------------------------------------ skl2onnx
skl2onnx = pytest.importorskip("skl2onnx")


@pytest.fixture(scope="module")
def registered():
    register_skl2onnx_converters()
    register_skl2onnx_converters()  # twice is harmless


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_skl2onnx_converts_a_whole_pipeline(registered, Estimator, dtype):
    from sklearn.linear_model import LogisticRegression
    from sklearn.pipeline import Pipeline
    from sklearn.preprocessing import StandardScaler

    y = (X[:, 0] + X[:, 1] > 1).astype(int)
    pipe = Pipeline([
        ("scale", StandardScaler()),
        ("reduce", Estimator(3, **FAST)),
        ("classify", LogisticRegression()),
    ]).fit(X, y)
    Xin = X.astype(dtype)
    # ZipMap (skl2onnx's dict output) takes float only: plain arrays instead.
    model = skl2onnx.to_onnx(pipe, Xin[:1], options={LogisticRegression: {"zipmap": False}})
    label, probabilities = run(model, Xin)
    np.testing.assert_array_equal(label, pipe.predict(Xin))
    np.testing.assert_allclose(probabilities, pipe.predict_proba(Xin), rtol=1e-5, atol=1e-5)
    # The reducing step alone, as the pipeline computes it.
    reduce = skl2onnx.to_onnx(pipe[:2], Xin[:1])
    (codes,) = run(reduce, Xin)
    assert codes.dtype == dtype
    np.testing.assert_allclose(codes, pipe[:2].transform(Xin), rtol=1e-5, atol=1e-5)


def test_skl2onnx_converts_the_detector(registered):
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    label, scores = run(skl2onnx.to_onnx(detector, X32[:1]), X32)
    np.testing.assert_array_equal(label, detector.predict(X32))
    np.testing.assert_allclose(scores, detector.decision_function(X32), rtol=1e-5, atol=1e-5)


def test_skl2onnx_keeps_the_digits_of_double_input(registered, far_detector):
    # Double input gets the float64 graph (not a cast to float): the rows are
    # centred in float64, as skae centres them.
    model = skl2onnx.to_onnx(far_detector, FAR[:1])
    assert model.graph.input[0].type.tensor_type.elem_type == onnx.TensorProto.DOUBLE
    label, scores = run(model, FAR)
    assert scores.dtype == np.float64
    np.testing.assert_array_equal(label, far_detector.predict(FAR))
    np.testing.assert_allclose(scores, far_detector.decision_function(FAR), rtol=1e-5,
                               atol=1e-6)


@pytest.mark.parametrize("architecture", ["gru", "lstm"])
def test_skl2onnx_converts_recurrent_networks(registered, architecture):
    # torch's graph omits a recurrent layer's sequence lengths (an input named ""),
    # which skl2onnx could not order ("unable to sort names"): the converter
    # computes them, every sequence whole, for any number of rows.
    rows = np.random.RandomState(0).rand(40, 16).astype(np.float32)
    est = AutoencoderTransformer(2, architecture=architecture, input_shape=(2, 8),
                                 hidden_layer_sizes=(3,), max_epochs=1, random_state=0).fit(rows)
    model = skl2onnx.to_onnx(est, rows[:1])
    for batch in (rows[:1], rows):
        (codes,) = run(model, batch)
        np.testing.assert_allclose(codes, est.transform(batch), rtol=1e-5, atol=1e-5)


# The MLP's graph at opset 8 keeps its initializers as inputs too (ONNX IR 3), as PyTorch warns.
@pytest.mark.filterwarnings("ignore:Setting 'keep_initializers_as_inputs=False'")
def test_an_opset_too_early_for_the_network_is_refused_at_export(registered):
    # At opset 8 PyTorch wrote a GRU's initial state with ConstantFill (removed
    # from ONNX: onnx.checker passed it, onnxruntime refused the file when
    # loading it) and to_onnx returned the model; skl2onnx failed with "dtype
    # should not be a parameter". At 9 the graph cannot slice to the number of
    # rows it computes, which answering an empty batch takes.
    rows = np.random.RandomState(0).rand(40, 16).astype(np.float32)
    est = AutoencoderTransformer(2, architecture="gru", input_shape=(2, 8),
                                 hidden_layer_sizes=(3,), max_epochs=1, random_state=0).fit(rows)
    for opset in (8, 9):
        for method in ("transform", "inverse_transform"):
            with pytest.raises(ValueError, match=f"opset must be 10 or later .* got {opset}"):
                to_onnx(est, method, opset=opset)
    with pytest.raises(ValueError, match="opset must be 10 or later"):
        skl2onnx.to_onnx(est, rows[:1], target_opset=8)
    # The built-in MLP still exports at opset 8.
    mlp = AutoencoderTransformer(2, **{**FAST, "max_epochs": 1}).fit(X)
    (codes,) = run(to_onnx(mlp, opset=8), X32)
    np.testing.assert_allclose(codes, mlp.transform(X32), rtol=1e-5, atol=1e-5)


def test_skl2onnx_refuses_integer_input(registered):
    est = AutoencoderTransformer(2, **FAST).fit(X)
    with pytest.raises(TypeError, match="float or double"):
        skl2onnx.to_onnx(est, np.zeros((1, 5), dtype=np.int64))


def test_exported_model_survives_save_and_load(tmp_path):
    # The serving path: skae.save, skae.load elsewhere, export there.
    est = VAETransformer(2, n_importance_samples=2, **FAST).fit(X)
    path = tmp_path / "model.skae"
    skae.save(est, path)
    (codes,) = run(to_onnx(skae.load(path)), X32)
    np.testing.assert_allclose(codes, est.transform(X32), rtol=1e-5, atol=1e-5)


# ----------------------------------------------------- architectures, custom modules
class TinyEncoder(torch.nn.Module):
    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(5, 3)

    def forward(self, x):
        return torch.tanh(self.layer(x))


@pytest.mark.parametrize("architecture, shape, sizes", [
    ("conv", (1, 4, 4), (2,)), ("conv", (2, 8), (2,)), ("gru", (2, 8), (3,)),
    ("lstm", (2, 8), (3,)),
])
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_architectures_match_skae(Estimator, architecture, shape, sizes):
    extra = {"n_importance_samples": 2} if Estimator is VAETransformer else {}
    X_shaped = np.random.RandomState(0).rand(40, *shape).astype(np.float32)
    est = Estimator(2, architecture=architecture, hidden_layer_sizes=sizes, max_epochs=2,
                    random_state=0, **extra).fit(X_shaped)
    rows = X_shaped.reshape(40, -1)  # ONNX takes the C-order flattening of each sample
    codes = est.transform(X_shaped)
    for method, inputs, expected in [
        ("transform", rows, codes),
        ("inverse_transform", codes, est.inverse_transform(codes).reshape(40, -1)),
        ("score_samples", rows, est.score_samples(X_shaped)),
    ]:
        with warnings.catch_warnings():
            # The tracer's warnings about skae's own networks (fixed shapes) are not shown.
            warnings.simplefilter("error", torch.jit.TracerWarning)
            model = to_onnx(est, method)
        (output,) = run(model, inputs)
        np.testing.assert_allclose(output, expected, rtol=1e-5, atol=1e-5, err_msg=method)
        # Every width declared: the exporter left the reconstructions' free
        # ("Addinverse_transform_dim_1") after a recurrent or 1-D convolutional decoder.
        assert declared_shapes(model.graph.input) == [["N", inputs.shape[1]]]
        assert declared_shapes(model.graph.output) == [["N", *expected.shape[1:]]]
        # The batch size is dynamic for recurrent networks too (exported with 2 rows).
        (one,) = run(model, inputs[:1])
        np.testing.assert_allclose(one, expected[:1], rtol=1e-5, atol=1e-5, err_msg=method)


@pytest.mark.parametrize("architecture, shape, sizes", [
    ("conv", (1, 4, 4), (2,)), ("gru", (2, 8), (3,)),
])
def test_detector_over_images_and_series_matches_skae(architecture, shape, sizes):
    # The local term's metric comes from reconstructions of the samples' shape;
    # the graph takes each sample flattened, as the transformers' graphs do.
    X_shaped = np.random.RandomState(0).rand(40, *shape).astype(np.float32)
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(2, architecture=architecture, hidden_layer_sizes=sizes,
                               max_epochs=2, random_state=0),
        contamination=0.1,
    ).fit(X_shaped)
    assert detector.anomaly_score_ == "neighborhood"
    (output,) = run(to_onnx(detector, "score_samples"), X_shaped.reshape(40, -1))
    np.testing.assert_allclose(output, detector.score_samples(X_shaped), rtol=1e-5, atol=1e-5)


#: Runs each model file named on the command line on a batch of no rows, and
#: prints the shapes of its outputs: in a process of its own, which
#: onnxruntime's GRU and LSTM kernels aborted on such a batch.
EMPTY_BATCH = """
import sys, numpy, onnxruntime
for path in sys.argv[1:]:
    session = onnxruntime.InferenceSession(path)
    (X,) = session.get_inputs()
    rows = numpy.zeros((0, X.shape[1]), "float64" if X.type == "tensor(double)" else "float32")
    print(*[output.shape for output in session.run(None, {X.name: rows})])
"""


@pytest.mark.parametrize("architecture, shape", [
    ("conv", (1, 4, 4)), ("conv", (2, 8)), ("gru", (2, 8)), ("lstm", (2, 8)),
])
def test_an_empty_batch_gives_empty_results(tmp_path, architecture, shape):
    # A batch of no rows aborted the process (GRU, LSTM) or failed to reshape to
    # (0, -1) (convolutions); the MLP's graphs always gave empty results.
    X_shaped = np.random.RandomState(0).rand(40, *shape)
    ae = AutoencoderTransformer(2, architecture=architecture, hidden_layer_sizes=(2,),
                                max_epochs=1, random_state=0)
    detector = ReconstructionOutlierDetector(ae, trim_fraction=0).fit(X_shaped)
    ae.fit(X_shaped)
    models = [to_onnx(ae), to_onnx(ae, "inverse_transform"),
              to_onnx(ae, "score_samples", dtype=np.float64),
              to_onnx(detector, "predict", dtype=np.float64)]
    paths = [str(tmp_path / f"{i}.onnx") for i in range(len(models))]
    for model, path in zip(models, paths):
        onnx.save(model, path)
    out = subprocess.run([sys.executable, "-c", EMPTY_BATCH, *paths], capture_output=True,
                         text=True)
    assert out.returncode == 0, out.stderr
    assert out.stdout.splitlines() == ["(0, 2)", f"(0, {np.prod(shape)})", "(0,)", "(0,)"]
    # Any other batch is computed as it is, not with a spare row.
    rows = X_shaped.reshape(40, -1)
    (scores,) = run(models[2], rows[:1])
    np.testing.assert_allclose(scores, ae.score_samples(X_shaped[:1]), rtol=1e-5, atol=1e-5)


def test_custom_modules_export():
    est = AutoencoderTransformer(2, encoder=TinyEncoder, **FAST).fit(X)
    (codes,) = run(to_onnx(est), X32)
    np.testing.assert_allclose(codes, est.transform(X32), rtol=1e-5, atol=1e-5)


class ValueReadingEncoder(torch.nn.Module):
    """Divides by a number read from the batch: a constant in the traced graph."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(5, 3)

    def forward(self, x):
        h = self.layer(x)
        return h / float(h.detach().abs().max() + 1)


def test_a_custom_module_that_reads_values_of_its_input_warns():
    # The graph holds the number the probe rows gave, wrong for other rows, and
    # nothing said so: the tracer's warning, which skae hid, reaches the caller.
    est = AutoencoderTransformer(2, encoder=ValueReadingEncoder, **{**FAST, "max_epochs": 1})
    est.fit(X)
    with pytest.warns(torch.jit.TracerWarning, match="Python float"):
        to_onnx(est)
