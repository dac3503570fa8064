"""Tests for skae.plotting: what each Display draws, and the missing-matplotlib error."""

import sys
import warnings

import numpy as np
import pytest

pytest.importorskip("matplotlib")
import matplotlib  # noqa: E402

matplotlib.use("Agg")
import matplotlib.pyplot as plt  # noqa: E402
import pandas as pd  # noqa: E402
import polars as pl  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.decomposition import PCA  # noqa: E402

from conftest import HOLD_OUT  # noqa: E402

from skae import AutoencoderTransformer, VAETransformer  # noqa: E402
from skae.plotting import (  # noqa: E402
    LatentSpaceDisplay,
    LossCurveDisplay,
    ReconstructionDisplay,
)

X_DIGITS, Y_DIGITS = load_digits(return_X_y=True)
X_DIGITS, Y_DIGITS = X_DIGITS[:300] / 16, Y_DIGITS[:300]


@pytest.fixture(scope="module")
def autoencoder():
    return AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(16,), max_epochs=4, random_state=0, **HOLD_OUT
    ).fit(X_DIGITS)


@pytest.fixture(scope="module")
def vae():
    return VAETransformer(
        n_components=2, hidden_layer_sizes=(16,), max_epochs=4, random_state=0
    ).fit(X_DIGITS)


@pytest.fixture(autouse=True)
def close_figures():
    yield
    plt.close("all")


def _legend_texts(ax):
    return [text.get_text() for text in ax.get_legend().get_texts()]


# ----------------------------------------------------------------- LossCurveDisplay
def test_loss_curve_autoencoder(autoencoder):
    display = LossCurveDisplay.from_estimator(autoencoder)
    ax = display.ax_
    assert display.figure_ is ax.figure
    assert set(display.lines_) == {"train_loss", "valid_loss"}
    n_lines = 2 + (display.best_epoch_line_ is not None)
    assert len(ax.get_lines()) == n_lines
    for key, line in display.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), np.arange(1, autoencoder.n_epochs_ + 1))
        np.testing.assert_allclose(line.get_ydata(), autoencoder.history_[:, key])
    assert display.lines_["train_loss"].get_linestyle() == "-"
    assert display.lines_["valid_loss"].get_linestyle() == "--"
    assert ax.get_xlabel() == "epoch"
    assert ax.get_ylabel() == "loss"
    assert ax.get_title() == "AutoencoderTransformer"
    assert _legend_texts(ax)[:2] == ["loss (train)", "loss (validation)"]


def test_loss_curve_vae_draws_elbo_terms(vae):
    display = LossCurveDisplay.from_estimator(vae)
    assert set(display.lines_) == {
        "train_loss",
        "valid_loss",
        "train_reconstruction",
        "valid_reconstruction",
        "train_kl",
        "valid_kl",
    }
    texts = _legend_texts(display.ax_)
    assert "kl (train)" in texts and "reconstruction (validation)" in texts
    assert display.ax_.get_ylabel() == "nats per row"
    np.testing.assert_allclose(
        display.lines_["train_kl"].get_ydata(), vae.history_[:, "train_kl"]
    )


def test_loss_curve_vae_without_terms(vae):
    display = LossCurveDisplay.from_estimator(vae, terms=False)
    assert set(display.lines_) == {"train_loss", "valid_loss"}


def test_loss_curve_without_early_stopping_has_no_validation_curve():
    ae = AutoencoderTransformer(
        n_components=2, hidden_layer_sizes=(8,), max_epochs=2, early_stopping=False,
        random_state=0,
    ).fit(X_DIGITS)
    display = LossCurveDisplay.from_estimator(ae)
    assert list(display.lines_) == ["train_loss"]


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_loss_curve_leaves_gaps_where_a_loss_was_not_recorded(Estimator):
    # partial_fit holds no rows out: after a fit with early stopping, the
    # validation curves (loss and ELBO terms) stop at the fit's last epoch.
    # They used to be dropped whole.
    est = Estimator(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, partial_fit_epochs=2,
                    random_state=0, early_stopping=True).fit(X_DIGITS[:, ::4])
    fitted = est.n_epochs_
    est.partial_fit(X_DIGITS[:, ::4])
    display = LossCurveDisplay.from_estimator(est)
    assert est.n_epochs_ == fitted + 2
    valid_keys = [key for key in display.lines_ if key.startswith("valid_")]
    assert len(valid_keys) == (1 if Estimator is AutoencoderTransformer else 3)
    epochs = np.arange(1, est.n_epochs_ + 1)
    for key, line in display.lines_.items():
        np.testing.assert_array_equal(line.get_xdata(), epochs)
        if key.startswith("train_"):
            expected = est.history_[:, key]
        else:
            expected = est.history_[:fitted, key] + [np.nan, np.nan]
        np.testing.assert_array_equal(line.get_ydata(), expected)
        assert line.get_marker() == "None"  # every value has a neighbour


def test_loss_curve_draws_a_value_without_neighbours_as_a_dot():
    nan = np.nan
    display = LossCurveDisplay(epochs=[1, 2, 3, 4, 5], curves={
        "train_loss": [5.0, 4.0, 3.0, 2.0, 1.0],
        "valid_loss": [5.0, nan, 3.0, 2.0, nan],
        "valid_kl": [nan, 4.0, nan, nan, 1.0],
    }).plot()
    lines = display.lines_
    assert lines["train_loss"].get_marker() == "None"
    assert lines["valid_loss"].get_marker() == "o"
    assert lines["valid_loss"].get_markevery() == [0]
    assert lines["valid_kl"].get_markevery() == [1, 4]
    np.testing.assert_array_equal(lines["valid_kl"].get_ydata(), [nan, 4.0, nan, nan, 1.0])
    # A marker asked for is drawn at every value.
    display.plot(marker="x")
    assert display.lines_["valid_loss"].get_marker() == "x"
    assert display.lines_["valid_loss"].get_markevery() is None


def test_loss_curve_marks_best_epoch_and_uses_given_axes():
    _, ax = plt.subplots()
    display = LossCurveDisplay(
        epochs=[1, 2, 3], curves={"train_loss": [3.0, 2.0, 2.5]}, best_epoch=2
    ).plot(ax=ax, linewidth=3)
    assert display.ax_ is ax
    assert len(ax.get_lines()) == 2
    assert list(display.best_epoch_line_.get_xdata()) == [2, 2]
    assert display.lines_["train_loss"].get_linewidth() == 3
    assert "kept (epoch 2)" in _legend_texts(ax)


def test_loss_curve_of_a_fit_of_no_epoch_draws_no_legend():
    # Cross-validated early stopping may keep PCA's solution, trained for no
    # epoch: nothing to draw, and matplotlib warned that the legend was empty.
    ae = AutoencoderTransformer(n_components=2, max_epochs=2, random_state=0).fit(X_DIGITS[:40])
    assert ae.n_epochs_ == 0
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display = LossCurveDisplay.from_estimator(ae)
    assert display.lines_ == {} and display.ax_.get_legend() is None


def test_loss_curve_requires_fitted_estimator():
    from sklearn.exceptions import NotFittedError

    with pytest.raises(NotFittedError):
        LossCurveDisplay.from_estimator(AutoencoderTransformer())


def test_loss_curve_of_a_fitted_detector_names_its_estimator():
    from skae import ReconstructionOutlierDetector

    X = X_DIGITS[:40, ::8]
    detector = ReconstructionOutlierDetector(
        AutoencoderTransformer(n_components=2, max_epochs=1, random_state=0, **HOLD_OUT)
    ).fit(X)
    # It used to say the fitted detector was "not fitted yet".
    with pytest.raises(TypeError, match="pass its fitted estimator_"):
        LossCurveDisplay.from_estimator(detector)
    assert "train_loss" in LossCurveDisplay.from_estimator(detector.estimator_).lines_


# --------------------------------------------------------------- LatentSpaceDisplay
def test_latent_space_classes_get_one_scatter_and_legend_entry_each(autoencoder):
    display = LatentSpaceDisplay.from_estimator(autoencoder, X_DIGITS, Y_DIGITS)
    ax = display.ax_
    assert len(display.scatters_) == 10
    assert len(ax.collections) == 10
    assert _legend_texts(ax) == [str(c) for c in range(10)]
    assert display.colorbar_ is None
    assert ax.get_xlabel() == "autoencodertransformer0"
    assert ax.get_ylabel() == "autoencodertransformer1"
    n_points = sum(len(s.get_offsets()) for s in display.scatters_)
    assert n_points == len(X_DIGITS)


def test_latent_space_components_choose_the_axes(autoencoder):
    display = LatentSpaceDisplay.from_estimator(autoencoder, X_DIGITS, components=(2, 0))
    codes = autoencoder.transform(X_DIGITS)
    np.testing.assert_allclose(display.scatters_[0].get_offsets(), codes[:, [2, 0]], rtol=1e-6)
    assert display.ax_.get_xlabel() == "autoencodertransformer2"
    assert display.ax_.get_ylabel() == "autoencodertransformer0"
    assert display.ax_.get_legend() is None


def test_latent_space_continuous_y_gets_a_colorbar(vae):
    y = np.linspace(0, 1, len(X_DIGITS))
    display = LatentSpaceDisplay.from_estimator(vae, X_DIGITS, y)
    assert len(display.scatters_) == 1
    assert display.colorbar_ is not None
    assert len(display.figure_.axes) == 2  # the scatter's axes and the colour bar's


def test_latent_space_works_with_pca():
    pca = PCA(2).fit(X_DIGITS)
    display = LatentSpaceDisplay.from_estimator(pca, X_DIGITS, Y_DIGITS)
    assert display.ax_.get_xlabel() == "pca0"
    assert display.ax_.get_title() == "PCA"


@pytest.mark.parametrize("components", [(0, 0), (0, 3), (0,), (0, 1, 2), (0.0, 1)])
def test_latent_space_rejects_bad_components(autoencoder, components):
    with pytest.raises(ValueError, match="components must be two distinct integers"):
        LatentSpaceDisplay.from_estimator(autoencoder, X_DIGITS, components=components)


def test_latent_space_needs_two_components():
    ae = AutoencoderTransformer(
        n_components=1, hidden_layer_sizes=(8,), max_epochs=1, random_state=0
    ).fit(X_DIGITS)
    with pytest.raises(ValueError, match="at least two components"):
        LatentSpaceDisplay.from_estimator(ae, X_DIGITS)


# ------------------------------------------------------------- ReconstructionDisplay
def test_reconstruction_draws_two_rows_of_images(autoencoder):
    display = ReconstructionDisplay.from_estimator(
        autoencoder, X_DIGITS, image_shape=(8, 8), n_images=6
    )
    assert display.ax_.shape == (2, 6)
    assert len(display.figure_.axes) == 12
    assert all(len(ax.get_images()) == 1 for ax in display.ax_.ravel())
    assert display.images_[0, 0].get_array().shape == (8, 8)
    np.testing.assert_allclose(
        np.asarray(display.images_[0, 3].get_array()), X_DIGITS[3].reshape(8, 8)
    )
    expected = autoencoder.inverse_transform(autoencoder.transform(X_DIGITS[:6]))
    np.testing.assert_allclose(
        np.asarray(display.images_[1, 5].get_array()), expected[5].reshape(8, 8), rtol=1e-6
    )
    assert display.ax_[0, 0].get_ylabel() == "original"
    assert display.ax_[1, 0].get_ylabel() == "reconstruction"


def test_reconstruction_of_images_given_with_their_shape():
    images = X_DIGITS.reshape(-1, 1, 8, 8)
    ae = AutoencoderTransformer(
        n_components=3, architecture="conv", hidden_layer_sizes=(4,), max_epochs=2,
        random_state=0,
    ).fit(images)
    display = ReconstructionDisplay.from_estimator(ae, images, image_shape=(8, 8), n_images=3)
    expected = ae.inverse_transform(ae.transform(images[:3]))
    np.testing.assert_allclose(
        np.asarray(display.images_[1, 2].get_array()), expected[2, 0], rtol=1e-6
    )
    np.testing.assert_array_equal(np.asarray(display.images_[0, 1].get_array()), images[1, 0])


@pytest.mark.parametrize("library", ["pandas", "polars"])
def test_reconstruction_of_a_dataframe_gives_the_estimator_its_feature_names(library):
    # The rows reached the estimator as bare values: one fitted on the
    # DataFrame warned that X lacked the feature names it was fitted with.
    columns = [f"pixel{i}" for i in range(64)]
    if library == "pandas":
        X = pd.DataFrame(X_DIGITS, columns=columns)
    else:
        X = pl.DataFrame(X_DIGITS, schema=columns)
    ae = AutoencoderTransformer(
        n_components=3, hidden_layer_sizes=(16,), max_epochs=1, random_state=0, **HOLD_OUT
    ).fit(X)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        display = ReconstructionDisplay.from_estimator(ae, X, image_shape=(8, 8), n_images=3)
    expected = ae.inverse_transform(ae.transform(X[:3]))
    np.testing.assert_allclose(
        np.asarray(display.images_[1, 2].get_array()), expected[2].reshape(8, 8), rtol=1e-6
    )
    np.testing.assert_array_equal(
        np.asarray(display.images_[0, 1].get_array()), X_DIGITS[1].reshape(8, 8)
    )


def test_reconstruction_from_arrays_on_given_axes():
    fig, axes = plt.subplots(2, 3)
    rng = np.random.RandomState(0)
    display = ReconstructionDisplay(
        originals=rng.rand(3, 12),
        reconstructions=rng.rand(3, 12),
        image_shape=(3, 4),
        labels=("noisy", "denoised"),
    ).plot(ax=axes, cmap="viridis")
    assert display.figure_ is fig
    assert display.images_[1, 2].get_cmap().name == "viridis"
    assert display.ax_[1, 0].get_ylabel() == "denoised"


def test_reconstruction_rejects_wrong_image_shape(autoencoder):
    with pytest.raises(ValueError, match="image_shape"):
        ReconstructionDisplay.from_estimator(autoencoder, X_DIGITS, image_shape=(7, 7))


# ------------------------------------------------------------------ no matplotlib
@pytest.mark.parametrize(
    "draw",
    [
        lambda est: LossCurveDisplay.from_estimator(est),
        lambda est: LatentSpaceDisplay.from_estimator(est, X_DIGITS),
        lambda est: ReconstructionDisplay.from_estimator(est, X_DIGITS, image_shape=(8, 8)),
    ],
    ids=["loss", "latent", "reconstruction"],
)
def test_missing_matplotlib_raises_helpful_import_error(monkeypatch, autoencoder, draw):
    monkeypatch.setitem(sys.modules, "matplotlib", None)
    monkeypatch.setitem(sys.modules, "matplotlib.pyplot", None)
    with pytest.raises(ImportError, match=r"pip install skae\[plot\]"):
        draw(autoencoder)


def test_importing_skae_does_not_import_matplotlib():
    import subprocess

    code = "import sys, skae, skae.plotting; print('matplotlib' in sys.modules)"
    out = subprocess.run(
        [sys.executable, "-c", code], capture_output=True, text=True, check=True
    ).stdout
    assert out.strip() == "False"
