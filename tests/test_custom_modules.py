"""Tests of users' own modules as encoder and decoder bodies."""

import pickle
import threading

import numpy as np
import pytest
import torch
from sklearn.base import clone
from sklearn.decomposition import PCA
from sklearn.model_selection import GridSearchCV
from sklearn.utils._param_validation import InvalidParameterError
from torch import nn

from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from conftest import TrainingBatchSizes

from skae._custom_modules import EncoderHead, GatedBody, instantiate

TRANSFORMERS = [AutoencoderTransformer, VAETransformer]
SHAPE = (1, 8, 8)


class SmallConv(nn.Module):
    """An encoder body: (batch, 1, 8, 8) images -> (batch, channels, 4, 4) feature maps."""

    def __init__(self, channels=4):
        super().__init__()
        self.conv = nn.Conv2d(1, channels, 3, stride=2, padding=1)

    def forward(self, x):
        return torch.relu(self.conv(x))


class BatchNormConv(SmallConv):
    """An encoder body with batch normalisation of its features: torch cannot train
    it on a batch of one row (one value per feature)."""

    def __init__(self, channels=4):
        super().__init__(channels)
        self.norm = nn.BatchNorm1d(channels * 16)

    def forward(self, x):
        return self.norm(super().forward(x).flatten(1))


class SmallDecoder(nn.Module):
    """A decoder body: (batch, n_components) codes -> (batch, 1, 8, 8) images."""

    def __init__(self, n_components=3, width=16):
        super().__init__()
        self.net = nn.Sequential(nn.Linear(n_components, width), nn.ReLU(), nn.Linear(width, 64))

    def forward(self, z):
        return self.net(z).view(-1, *SHAPE)


class Float64Encoder(nn.Module):
    def forward(self, x):
        return x.double().flatten(1)


class Flat(nn.Module):
    def forward(self, x):
        return x.flatten(1)


class TupleOutput(nn.Module):
    def forward(self, x):
        return x, x


class DropsOut(nn.Module):
    """An encoder body with dropout and a random draw of its own while training."""

    def __init__(self):
        super().__init__()
        self.layer = nn.Linear(64, 8)
        self.dropout = nn.Dropout(0.5)

    def forward(self, x):
        h = self.dropout(self.layer(x.flatten(1)))
        return h + 0.1 * torch.randn_like(h) if self.training else h


class DropoutDecoder(SmallDecoder):
    def __init__(self):
        super().__init__()
        self.net.insert(2, nn.Dropout(0.5))


class NotAModule:
    pass


class RaisesInInit(nn.Module):
    def __init__(self, depth=1):
        super().__init__()
        raise RuntimeError(f"no network of depth {depth}")


class ScalesItsInput(nn.Module):
    def forward(self, z):
        return z.mul_(2).repeat(1, 22)[:, :64]


class HoldsALock(Flat):
    def __init__(self):
        super().__init__()
        self.lock = threading.Lock()


@pytest.fixture(scope="module")
def X(digits):
    return digits[0][:120]


def _est(cls, **params):
    defaults = dict(n_components=3, input_shape=SHAPE, max_epochs=3, random_state=0)
    return cls(**{**defaults, **params})


# ------------------------------------------------------------------ wrappers
def test_wrappers_start_at_zero_and_still_train():
    head = EncoderHead(SmallConv(), 64, 3)
    gated = GatedBody(SmallDecoder())
    head.zero_output_()
    x = torch.randn(5, *SHAPE)
    z = torch.randn(5, 3)
    assert torch.equal(head(x), torch.zeros(5, 3))
    assert torch.equal(gated(z), torch.zeros(5, *SHAPE))
    (head(x).sum() + gated(z).sum()).backward()
    assert head.head.weight.grad.abs().sum() > 0
    assert gated.gate.grad != 0


def test_instantiate_copies_instances_and_builds_classes():
    given = SmallConv(channels=2)
    built = instantiate(given, None, "encoder")
    assert built is not given and built.conv is not given.conv
    assert torch.equal(built.conv.weight, given.conv.weight)
    assert instantiate(SmallConv, {"channels": 5}, "encoder").conv.out_channels == 5


# --------------------------------------------------------------- estimators
@pytest.mark.parametrize(
    "params",
    [
        dict(encoder=SmallConv, encoder_kwargs={"channels": 2}),
        dict(decoder=SmallDecoder()),
        dict(encoder=SmallConv(), decoder=SmallDecoder, decoder_kwargs={"width": 8},
             architecture="conv"),
    ],
    ids=["encoder-class", "decoder-instance", "both"],
)
def test_custom_bodies_start_at_pca(params, X):
    start = dict(learning_rate=1e-12, max_epochs=1, early_stopping=False)
    pca = PCA(n_components=3).fit(X)
    ae = _est(AutoencoderTransformer, **params, **start).fit(X)
    np.testing.assert_allclose(
        ae.inverse_transform(ae.transform(X)), pca.inverse_transform(pca.transform(X)),
        atol=1e-5,
    )
    vae = _est(VAETransformer, n_importance_samples=3, **params, **start).fit(X)
    np.testing.assert_allclose(vae.score_samples(X), pca.score_samples(X), rtol=1e-5, atol=1e-4)


def test_custom_bodies_are_used_and_trained(X):
    ae = _est(AutoencoderTransformer, encoder=SmallConv, decoder=SmallDecoder,
              max_epochs=5, early_stopping=False).fit(X)
    module = ae.net_.module_
    assert isinstance(module.encoder.body.body, SmallConv)
    assert isinstance(module.decoder.body.body, SmallDecoder)
    assert module.decoder.body.gate.item() != 0
    assert module.encoder.body.head.weight.abs().sum() > 0


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_given_instance_is_copied_not_trained(cls, X):
    encoder, decoder = SmallConv(), SmallDecoder()
    before = [p.detach().clone() for p in [*encoder.parameters(), *decoder.parameters()]]
    est = _est(cls, encoder=encoder, decoder=decoder, early_stopping=False).fit(X)
    after = [*encoder.parameters(), *decoder.parameters()]
    assert all(torch.equal(a, b) for a, b in zip(before, after))
    assert est.encoder is encoder  # the parameter itself is stored untouched
    assert est.net_.module_.encoder.body.body is not encoder
    # Refitting starts again from the given weights: the same model.
    again = clone(est).fit(X)
    np.testing.assert_array_equal(again.transform(X), est.transform(X))


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_random_state_fixes_the_random_draws_of_custom_bodies(cls, X):
    # nn.Dropout and torch.randn_like in a user's module drew from torch's global
    # generator: two fits with one random_state gave two models, and advanced it.
    state = torch.random.get_rng_state()
    fits = [
        _est(cls, encoder=DropsOut, decoder=DropoutDecoder, max_epochs=2,
             early_stopping=False).fit(X)
        for _ in range(2)
    ]
    assert torch.equal(torch.random.get_rng_state(), state)
    assert fits[0].loss_curve_ == fits[1].loss_curve_
    np.testing.assert_array_equal(fits[0].transform(X), fits[1].transform(X))


def test_clone_set_params_and_pickle(X):
    est = _est(AutoencoderTransformer, encoder=SmallConv, encoder_kwargs={"channels": 2},
               decoder=SmallDecoder())
    cloned = clone(est)
    assert cloned.encoder is SmallConv and cloned.encoder_kwargs == {"channels": 2}
    assert isinstance(cloned.decoder, SmallDecoder) and cloned.decoder is not est.decoder
    cloned.set_params(encoder_kwargs={"channels": 6}).fit(X)
    assert cloned.net_.module_.encoder.body.body.conv.out_channels == 6
    loaded = pickle.loads(pickle.dumps(cloned))
    np.testing.assert_array_equal(loaded.transform(X), cloned.transform(X))


def test_grid_search_over_custom_module_parameters(X):
    search = GridSearchCV(
        _est(VAETransformer, encoder=SmallConv, n_importance_samples=2, max_epochs=2),
        {"encoder_kwargs": [{"channels": 2}, {"channels": 4}], "decoder": [None, SmallDecoder]},
        cv=2,
    ).fit(X)
    assert len(search.cv_results_["params"]) == 4
    assert np.all(np.isfinite(search.cv_results_["mean_test_score"]))
    assert search.best_estimator_.encoder is SmallConv


@pytest.mark.parametrize("cls", TRANSFORMERS)
def test_set_params_reaches_one_module_argument(cls):
    # encoder_kwargs__channels, the grid key a skorch user writes (module__channels),
    # failed: AttributeError: 'dict' object has no attribute 'set_params'.
    given = {"channels": 2}
    est = _est(cls, encoder=SmallConv, encoder_kwargs=given)
    assert est.get_params()["encoder_kwargs__channels"] == 2
    assert "encoder_kwargs__channels" not in est.get_params(deep=False)
    est.set_params(encoder_kwargs__channels=5, decoder=SmallDecoder,
                   decoder_kwargs={"width": 4}, decoder_kwargs__n_components=3)
    assert est.encoder_kwargs == {"channels": 5} and given == {"channels": 2}
    assert est.decoder_kwargs == {"width": 4, "n_components": 3}
    detector = ReconstructionOutlierDetector(_est(cls, encoder=SmallConv))
    detector.set_params(estimator__encoder_kwargs__channels=3)
    assert detector.estimator.encoder_kwargs == {"channels": 3}
    with pytest.raises(ValueError, match="encoder_kwargs__channels sets an entry of "
                                         "encoder_kwargs, which is 5, not a dict"):
        _est(cls, encoder_kwargs=5).set_params(encoder_kwargs__channels=3)


def test_grid_search_over_one_module_argument(X):
    search = GridSearchCV(
        _est(AutoencoderTransformer, encoder=SmallConv, max_epochs=1, early_stopping=True),
        {"encoder_kwargs__channels": [2, 3]}, cv=2,
    ).fit(X)
    channels = search.best_estimator_.net_.module_.encoder.body.body.conv.out_channels
    assert channels == search.best_params_["encoder_kwargs__channels"]


def test_outlier_detector_with_custom_bodies(X):
    detector = ReconstructionOutlierDetector(
        _est(AutoencoderTransformer, encoder=SmallConv, decoder=SmallDecoder),
        contamination=0.1,
    ).fit(X)
    assert detector.score_samples(X).shape == (len(X),)


#: On 91 rows: nine batches of 10 rows and one of a single row.
ONE_ROW_TAIL = dict(batch_size=10, early_stopping=False, max_epochs=1)


@pytest.mark.parametrize("cls", TRANSFORMERS)
@pytest.mark.parametrize("method", ["fit", "partial_fit"])
def test_batch_norm_body_never_trains_on_a_single_row(cls, method, X):
    sizes = TrainingBatchSizes()
    est = _est(cls, encoder=BatchNormConv, callbacks=[sizes], **ONE_ROW_TAIL)
    getattr(est, method)(X[:91])
    assert sizes.sizes_ == [10] * 8 + [11]  # the lone row joins the batch before it
    assert est.transform(X[:1]).shape == (1, 3)  # inference takes one row (eval mode)


def test_body_without_batch_norm_keeps_its_single_row_batch(X):
    sizes = TrainingBatchSizes()
    _est(AutoencoderTransformer, encoder=SmallConv, callbacks=[sizes], **ONE_ROW_TAIL).fit(X[:91])
    assert sizes.sizes_ == [10] * 9 + [1]


def test_outlier_detector_with_batch_norm_body(X):
    estimator = _est(AutoencoderTransformer, encoder=BatchNormConv,
                     callbacks=[TrainingBatchSizes()], **ONE_ROW_TAIL)
    detector = ReconstructionOutlierDetector(estimator, trim_fraction=0).fit(X[:91])
    assert detector.estimator_.callbacks[0].sizes_ == [10] * 8 + [11]
    assert detector.predict(X[:1]).shape == (1,)


def test_batch_norm_body_on_a_single_row_is_an_error(X):
    est = _est(AutoencoderTransformer, encoder=BatchNormConv, **ONE_ROW_TAIL).partial_fit(X[:10])
    with pytest.raises(ValueError, match="batch-normalisation layer.*at least 2 rows"):
        est.partial_fit(X[:1])


def test_flat_rows_without_input_shape(X):
    # The MLP's view of 2-D rows: (batch, n_features).
    est = AutoencoderTransformer(n_components=3, encoder=Flat, max_epochs=2, random_state=0)
    assert est.fit(X).net_.module_.encoder.body.head.in_features == 64


# ------------------------------------------------------------------- errors
@pytest.mark.parametrize(
    "params, error, match",
    [
        (dict(encoder="conv"), InvalidParameterError, "encoder"),
        (dict(encoder=NotAModule), TypeError, "torch.nn.Module subclass or instance"),
        (dict(encoder=SmallConv(), encoder_kwargs={"channels": 2}), ValueError,
         "encoder_kwargs=.* can only be used when encoder is a class"),
        (dict(encoder=SmallConv, encoder_kwargs={"depth": 2}), TypeError,
         "encoder=SmallConv could not be built with encoder_kwargs"),
        (dict(encoder=RaisesInInit, encoder_kwargs={"depth": 3}), ValueError,
         r"encoder=RaisesInInit could not be built with encoder_kwargs=\{'depth': 3\}: it "
         "raised RuntimeError: no network of depth 3"),
        (dict(decoder=HoldsALock()), ValueError,
         "decoder, an instance of HoldsALock, could not be deep-copied .* pass its class"),
        (dict(encoder=nn.Sequential(nn.ReLU(inplace=True), nn.Flatten())), ValueError,
         "encoder must not modify its input in place"),
        (dict(decoder=ScalesItsInput), ValueError, "decoder must not modify its input in place"),
        (dict(decoder_kwargs={"width": 2}), ValueError,
         "decoder_kwargs is set but decoder is None"),
        (dict(encoder=SmallConv, input_shape=None), ValueError,
         r"encoder must map a float32 batch of shape \(2, 64\) to features .* raised"),
        (dict(encoder=TupleOutput), ValueError, r"shape \(2, 1, 8, 8\) to features .* got tuple"),
        (dict(encoder=Float64Encoder), ValueError, "must compute in float32"),
        (dict(decoder=Flat), ValueError,
         r"decoder must map a batch of codes of shape \(2, 3\) to \(2, 1, 8, 8\) or \(2, 64\); "
         r"got \(2, 3\)"),
        (dict(decoder=SmallDecoder, decoder_kwargs={"n_components": 4}), ValueError,
         r"decoder must map a float32 batch of shape \(2, 3\)"),
    ],
)
def test_interface_errors_name_the_shapes(params, error, match, X):
    with pytest.raises(error, match=match):
        _est(AutoencoderTransformer, **params).fit(X)
