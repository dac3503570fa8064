"""Tests of the convolutional and recurrent bodies, alone and inside both transformers."""

import pickle
import re
import warnings

import numpy as np
import pytest
import torch
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning

import skae
from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from skae._base import auto_batch_size
from skae._architectures import (
    ConvDecoderBody,
    ConvEncoderBody,
    RecurrentDecoderBody,
    RecurrentEncoderBody,
    ResidualBody,
    build_decoder_body,
    build_encoder_body,
    check_group_norms,
    conv_sizes,
)

TRANSFORMERS = [AutoencoderTransformer, VAETransformer]
ARCHITECTURES = ["conv", "gru", "lstm"]
#: Small bodies per architecture, and the sample shape each is tested on (digits: 8 x 8).
SMALL = {"conv": ((4, 8), (1, 8, 8)), "gru": ((8,), (8, 8)), "lstm": ((8,), (8, 8))}


def _small(architecture, **params):
    sizes, shape = SMALL[architecture]
    return dict(architecture=architecture, hidden_layer_sizes=sizes, input_shape=shape,
                random_state=0, **params)


@pytest.fixture(scope="module")
def digits_small(digits):
    return digits[0][:150]


# ------------------------------------------------------------------ modules
@pytest.mark.parametrize(
    "spatial, expected",
    [((8, 8), [(8, 8), (4, 4), (2, 2)]), ((7, 7), [(7, 7), (4, 4), (2, 2)]),
     ((28, 28), [(28, 28), (14, 14), (7, 7)]), ((1, 5), [(1, 5), (1, 3), (1, 2)])],
)
def test_conv_sizes_halve_rounding_up(spatial, expected):
    assert conv_sizes(spatial, 2) == expected


@pytest.mark.parametrize(
    "shape", [(1, 8, 8), (3, 7, 7), (1, 28, 28), (2, 5, 9), (1, 1, 6), (2, 11), (1, 1), (3, 16)]
)
@pytest.mark.parametrize("channels", [(4,), (4, 6), (2, 3, 5)])
def test_conv_decoder_gives_back_the_exact_input_size(shape, channels):
    encoder = ConvEncoderBody(shape, channels, out_features=3)
    decoder = ConvDecoderBody(3, shape, channels)
    x = torch.randn(5, *shape)
    z = encoder(x)
    assert z.shape == (5, 3)
    if len(shape) == 3:  # an image decoder also gates the linear path
        shift, gate = decoder(z)
        assert shift.shape == gate.shape == (5, *shape)
    else:
        assert decoder(z).shape == (5, *shape)
    conv = torch.nn.Conv2d if len(shape) == 3 else torch.nn.Conv1d
    assert sum(isinstance(m, conv) for m in encoder.modules()) == len(channels)


@pytest.mark.parametrize("shape", [(1, 1, 1), (2, 2, 2), (1, 3, 3), (1, 5, 4)])
@pytest.mark.parametrize("channels", [(1,), (4,), (8, 8), (9,), (16, 4), (4, 3)])
def test_group_norm_check_matches_the_built_bodies(shape, channels):
    # check_group_norms refuses exactly the bodies with a GroupNorm group of one
    # value, which torch refuses to normalise for a single sample.
    def refused(body, x):
        try:
            body.eval()(x)
        except ValueError as exc:
            assert "Expected more than 1 value per channel" in str(exc)
            return True
        return False

    def check(**sides):
        try:
            check_group_norms(shape, channels, 8, **sides)
        except ValueError:
            return True
        return False

    encoder = ConvEncoderBody(shape, channels, out_features=2, norm_groups=8)
    decoder = ConvDecoderBody(2, shape, channels, norm_groups=8)
    assert check(encoder=True, decoder=False) == refused(encoder, torch.zeros(1, *shape))
    assert check(encoder=False, decoder=True) == refused(decoder, torch.zeros(1, 2))


@pytest.mark.parametrize("cell", ["gru", "lstm"])
@pytest.mark.parametrize("sizes", [(6,), (6, 4)])
def test_recurrent_bodies_shapes(cell, sizes):
    encoder = RecurrentEncoderBody((3, 10), sizes, out_features=4, cell=cell, dropout=0.5)
    decoder = RecurrentDecoderBody(4, (3, 10), tuple(reversed(sizes)), cell=cell, dropout=0.5)
    z = encoder(torch.randn(5, 3, 10))
    assert z.shape == (5, 4)
    assert decoder(z).shape == (5, 3, 10)
    rnn = torch.nn.GRU if cell == "gru" else torch.nn.LSTM
    assert [m.hidden_size for m in encoder.modules() if isinstance(m, rnn)] == list(sizes)


def test_recurrent_encoder_reads_the_whole_sequence():
    torch.manual_seed(0)
    encoder = RecurrentEncoderBody((1, 12), (5,), out_features=2)
    x = torch.randn(3, 1, 12)
    changed = x.clone()
    changed[:, :, 0] += 1.0  # the first step only
    assert not torch.allclose(encoder(x), encoder(changed))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_residual_body_starts_exactly_linear(architecture, rng):
    sizes, shape = SMALL[architecture]
    n = int(np.prod(shape))
    encoder = ResidualBody(n, 3, build_encoder_body(architecture, shape, sizes, 3), shape)
    decoder = ResidualBody(3, n, build_decoder_body(architecture, 3, shape, sizes))
    w_in, b_in = rng.randn(3, n), rng.randn(3)
    w_out, b_out = rng.randn(n, 3), rng.randn(n)
    encoder.start_at(w_in, b_in)
    decoder.start_at(w_out, b_out)
    x = torch.randn(6, n)
    z = encoder(x)
    torch.testing.assert_close(z, x @ encoder.linear.weight.T + encoder.linear.bias)
    torch.testing.assert_close(decoder(z), z @ decoder.linear.weight.T + decoder.linear.bias)
    # Only the last layer is zero: gradients still reach the body.
    out = decoder(encoder(x)).pow(2).sum()
    out.backward()
    assert decoder.body.zero_output_ is not None
    assert any(p.grad is not None and p.grad.abs().sum() > 0 for p in decoder.body.parameters())


def test_residual_body_adds_a_narrower_body_to_the_first_outputs():
    # A user's decoder body gives the mean only where the likelihood also takes
    # log-variances: it is added to the first outputs, the rest stay linear.
    body = torch.nn.Linear(2, 3)
    decoder = ResidualBody(2, 6, body)
    z = torch.randn(4, 2)
    linear = decoder.linear(z)
    out = decoder(z)
    torch.testing.assert_close(out[:, :3], linear[:, :3] + body(z))
    torch.testing.assert_close(out[:, 3:], linear[:, 3:])


def test_build_without_hidden_layers_is_linear():
    assert build_encoder_body("conv", (1, 4, 4), (), 2) is None
    assert build_decoder_body("gru", 2, (1, 4), ()) is None


# --------------------------------------------------------------- estimators
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_starts_at_pca(architecture, digits_small):
    # Before training (a 1e-12 step) the autoencoder reconstructs as PCA does,
    # and the VAE's likelihood is probabilistic PCA's.
    X = digits_small
    start = dict(learning_rate=1e-12, max_epochs=1, early_stopping=False)
    pca = PCA(n_components=4).fit(X)
    ae = AutoencoderTransformer(n_components=4, **_small(architecture, **start)).fit(X)
    np.testing.assert_allclose(
        ae.inverse_transform(ae.transform(X)), pca.inverse_transform(pca.transform(X)),
        atol=1e-5,
    )
    vae = VAETransformer(
        n_components=4, n_importance_samples=3, **_small(architecture, **start)
    ).fit(X)
    np.testing.assert_allclose(vae.score_samples(X), pca.score_samples(X), rtol=1e-5, atol=1e-4)


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_training_improves_on_pca(architecture, digits_small):
    X = digits_small
    params = _small(architecture, max_epochs=8, batch_size=32, early_stopping=False,
                    learning_rate=3e-3)
    params["hidden_layer_sizes"] = "auto"  # tiny bodies learn too slowly to tell in 8 epochs
    pca = PCA(n_components=4).fit(X)
    ae = AutoencoderTransformer(n_components=4, **params).fit(X)
    ae_error = np.mean((ae.inverse_transform(ae.transform(X)) - X) ** 2)
    assert ae_error < 0.97 * np.mean((pca.inverse_transform(pca.transform(X)) - X) ** 2)
    assert ae.loss_curve_[-1] < ae.loss_curve_[0]
    vae = VAETransformer(n_components=4, n_importance_samples=3, **params).fit(X)
    assert vae.score(X) > pca.score(X)


@pytest.mark.parametrize("cls", TRANSFORMERS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_same_random_state_same_model(cls, architecture, digits_small):
    params = _small(architecture, n_components=2, max_epochs=2, dropout=0.2)
    first = cls(**params).fit(digits_small).transform(digits_small)
    second = cls(**params).fit(digits_small).transform(digits_small)
    np.testing.assert_array_equal(first, second)


@pytest.mark.parametrize("cls", TRANSFORMERS)
@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_pickle_round_trip(cls, architecture, digits_small):
    est = cls(**_small(architecture, n_components=2, max_epochs=2)).fit(digits_small)
    loaded = pickle.loads(pickle.dumps(est))
    np.testing.assert_array_equal(loaded.transform(digits_small), est.transform(digits_small))


@pytest.mark.parametrize("architecture", ARCHITECTURES)
def test_save_and_load_rebuild_the_architecture(architecture, digits_small, tmp_path):
    sizes, shape = SMALL[architecture]
    X = digits_small.reshape(-1, *shape)
    est = VAETransformer(architecture=architecture, hidden_layer_sizes=sizes, n_components=2,
                         max_epochs=2, random_state=0).fit(X)
    skae.save(est, tmp_path / "model.skae")
    loaded = skae.load(tmp_path / "model.skae")
    np.testing.assert_array_equal(loaded.transform(X), est.transform(X))
    assert loaded.inverse_transform(loaded.transform(X[:3])).shape == (3, *shape)


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_bernoulli_output_with_conv(cls, digits_small):
    objective = dict(loss="bce") if cls is AutoencoderTransformer else dict(likelihood="bernoulli")
    est = cls(**_small("conv", n_components=2, max_epochs=2, **objective)).fit(digits_small)
    reconstruction = est.inverse_transform(est.transform(digits_small))
    assert reconstruction.min() >= 0 and reconstruction.max() <= 1


@pytest.mark.parametrize("architecture", ARCHITECTURES)
@pytest.mark.parametrize(
    "estimator_cls, score",
    [(AutoencoderTransformer, "neighborhood"), (VAETransformer, "estimator")],
)
def test_outlier_detector(architecture, estimator_cls, score, digits_small):
    estimator = estimator_cls(**_small(architecture, n_components=2, max_epochs=2))
    detector = ReconstructionOutlierDetector(estimator, contamination=0.1).fit(digits_small)
    assert detector.anomaly_score_ == score
    assert detector.estimator_.architecture == architecture
    scores = detector.score_samples(digits_small)
    assert scores.shape == (len(digits_small),) and np.all(np.isfinite(scores))
    assert (detector.predict(digits_small) == -1).mean() == pytest.approx(0.1, abs=0.02)


def test_auto_hidden_layer_sizes_per_architecture(digits_small):
    expected = {"mlp": (256, 128), "conv": (32, 64), "gru": (64,), "lstm": (64,)}
    for architecture, sizes in expected.items():
        est = AutoencoderTransformer(architecture=architecture, max_epochs=1, random_state=0)
        assert est.hidden_layer_sizes == "auto"
        assert est.fit(digits_small[:20]).hidden_layer_sizes_ == sizes


def test_mlp_default_network_is_unchanged(digits_small):
    # "auto" gives the MLP the network it always had: same weights, same codes.
    auto = AutoencoderTransformer(max_epochs=2, random_state=0).fit(digits_small)
    given = AutoencoderTransformer(
        hidden_layer_sizes=(256, 128), max_epochs=2, random_state=0
    ).fit(digits_small)
    np.testing.assert_array_equal(auto.transform(digits_small), given.transform(digits_small))
    assert type(auto.net_.module_.encoder).__name__ == "ResidualMLP"


def test_auto_batch_size_for_images_is_at_most_64():
    # Images get more optimizer steps per epoch; sequences and explicit sizes are unchanged.
    X = np.random.RandomState(0).rand(3000, 16)
    fast = dict(n_components=2, max_epochs=1, early_stopping=False, random_state=0)
    images = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), **fast).fit(X)
    series = AutoencoderTransformer(architecture="conv", input_shape=(1, 16), **fast).fit(X)
    chosen = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), batch_size=100,
                                    **fast).fit(X)
    assert (images.batch_size_, series.batch_size_, chosen.batch_size_) == (64, 200, 100)
    small = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), **fast).fit(X[:40])
    # the general rule, below the images' limit
    assert small.batch_size_ == auto_batch_size(40) == 8


def test_auto_training_settings_per_architecture():
    # 2-D convolutions get a higher peak rate decayed over a fixed budget of epochs;
    # sequences, the MLP and explicit values keep theirs.
    X = np.random.RandomState(0).rand(40, 16)
    fast = dict(n_components=2, random_state=0)

    def settings(est):
        est._resolve_parameters(X, None)
        return est.learning_rate_, est.max_epochs_, est.learning_rate_schedule_

    images = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), **fast)
    assert settings(images) == (5e-3, 25, "cosine")
    for est in (AutoencoderTransformer(**fast),
                AutoencoderTransformer(architecture="conv", input_shape=(1, 16), **fast),
                AutoencoderTransformer(architecture="gru", **fast)):
        assert settings(est) == (1e-3, 200, "constant")
    chosen = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), learning_rate=0.01,
                                    max_epochs=5, learning_rate_schedule="constant", **fast)
    assert settings(chosen) == (0.01, 5, "constant")
    # the VAE's parameters are numbers, used as given, with a constant rate
    vae = VAETransformer(architecture="conv", input_shape=(1, 4, 4), **fast)
    assert settings(vae) == (vae.learning_rate, vae.max_epochs, "constant")


def test_image_conv_fit_with_defaults_ends_with_its_schedule():
    X = np.random.RandomState(0).rand(30, 16)
    est = AutoencoderTransformer(n_components=2, architecture="conv", input_shape=(1, 4, 4),
                                 hidden_layer_sizes=(2,), n_iter_no_change=100, random_state=0)
    with warnings.catch_warnings():
        warnings.simplefilter("error", ConvergenceWarning)
        est.fit(X)
    assert est.n_epochs_ == 25  # the whole budget, and no ConvergenceWarning
    assert est.net_.optimizer_.param_groups[0]["lr"] == pytest.approx(0.0, abs=1e-4)


def test_autoencoder_image_conv_body_is_group_normalised():
    # GroupNorm before each hidden activation for 2-D convolutions of the autoencoder;
    # series and the VAE keep the plain body. The start stays exactly PCA's.
    X = np.random.RandomState(0).rand(50, 16)
    fast = dict(n_components=2, hidden_layer_sizes=(4, 6), max_epochs=1, random_state=0)

    def norms(est):
        return [m.num_groups for m in est.net_.module_.modules()
                if isinstance(m, torch.nn.GroupNorm)]

    images = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), **fast).fit(X)
    assert sorted(norms(images)) == [2, 4, 4]  # encoder: 4 and 6 maps; decoder: 4
    series = AutoencoderTransformer(architecture="conv", input_shape=(1, 16), **fast).fit(X)
    vae = VAETransformer(architecture="conv", input_shape=(1, 4, 4), **fast).fit(X)
    assert norms(series) == norms(vae) == []
    start = AutoencoderTransformer(architecture="conv", input_shape=(1, 4, 4), **fast)
    # no validation split: no fall-back to PCA, the network itself is compared
    start.set_params(learning_rate=1e-12, noise=0.0, early_stopping=False).fit(X)
    pca = PCA(n_components=2).fit(X)
    np.testing.assert_allclose(start.inverse_transform(start.transform(X)),
                               pca.inverse_transform(pca.transform(X)), atol=1e-4)


@pytest.mark.parametrize(
    "shape, sizes, layer",
    [((1, 8, 8), (8, 8, 8), 3), ((1, 3, 3), (4, 4), 2), ((3, 2, 2), (4,), 1),
     ((1, 1, 1), (1,), 1), ((2, 8, 1), (16, 4, 2, 9), 3)],
)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_image_conv_too_deep_for_its_group_norm_raises_before_training(shape, sizes, layer,
                                                                        method):
    # A layer whose maps are 1 x 1, in groups of one map, would normalise each
    # value on its own, to zero; before this check torch refused it from inside
    # the fit, with its own message.
    X = np.random.RandomState(0).rand(20, *shape)
    est = AutoencoderTransformer(n_components=1, architecture="conv", hidden_layer_sizes=sizes,
                                 max_epochs=1, random_state=0)
    message = (
        f"hidden_layer_sizes={sizes} is too deep for images of shape {shape}: .* layer "
        f"{layer}'s feature maps are 1 x 1, .* more than 8 channels in layer {layer}, or larger "
        "images"
    )
    with pytest.raises(ValueError, match=re.escape(message).replace(r"\.\*", ".*")):
        getattr(est, method)(X)
    assert not hasattr(est, "net_") and not hasattr(est, "hidden_layer_sizes_")


@pytest.mark.parametrize(
    "cls, shape, sizes, params",
    [
        (AutoencoderTransformer, (1, 8, 8), (8, 8), {}),  # the last maps are 2 x 2
        (AutoencoderTransformer, (1, 8, 8), (8, 8, 9), {}),  # 1 x 1 maps, one group of 9
        (AutoencoderTransformer, (1, 8, 8), (8, 8, 16), {}),  # 1 x 1 maps, groups of 2
        (AutoencoderTransformer, (1, 3, 3), (4,), {}),
        (AutoencoderTransformer, (3, 2, 2), (16,), {}),
        (AutoencoderTransformer, (1, 4, 4), (1,), {}),  # one group of four values
        # The decoder normalises every layer's maps but the last one's.
        (AutoencoderTransformer, (1, 3, 3), (4, 4), {"encoder": torch.nn.Flatten}),
        (AutoencoderTransformer, (3, 2, 2), (4,), {"encoder": torch.nn.Flatten}),
        # Sequences and the VAE have no GroupNorm.
        (AutoencoderTransformer, (4, 1), (4, 4), {}),
        (VAETransformer, (1, 3, 3), (4, 4), {}),
    ],
)
def test_image_conv_just_deep_enough_for_its_group_norm_fits(cls, shape, sizes, params):
    X = np.random.RandomState(0).rand(20, *shape)
    est = cls(n_components=1, architecture="conv", hidden_layer_sizes=sizes, max_epochs=1,
              random_state=0, **params).fit(X)
    assert est.transform(X[:1]).shape == (1, 1)
