"""Tests for skae.save / skae.load: round trips of every public estimator, devices, training on.

Files crafted to attack the loader are tested in ``test_persistence_security.py``.
"""

import inspect
import io
import os
import pickle
import re
import signal
import stat

import numpy as np
import pytest
import torch
from sklearn.base import BaseEstimator

from conftest import HOLD_OUT, TinyEncoder

import skae
from skae import AutoencoderTransformer, ReconstructionOutlierDetector, VAETransformer
from skae._persistence import _CLASSES, _NOT_SAVED
from skae._data import RowDataset
from skae._random import draw_from

FAST = dict(max_epochs=4, hidden_layer_sizes=(8,), random_state=0, **HOLD_OUT)
X = np.random.RandomState(0).rand(60, 5)

ESTIMATORS = {
    # loss="auto" on this data in [0, 1]: binary cross-entropy, which does not beat
    # PCA on the validation rows: PCA's solution in a squared-error network.
    "ae": lambda: AutoencoderTransformer(2, **FAST),
    # No validation split: the network trained on binary cross-entropy is kept.
    "ae_auto_bce": lambda: AutoencoderTransformer(2, **{**FAST, "early_stopping": False}),
    "ae_bce_denoising": lambda: AutoencoderTransformer(
        2, loss="bce", noise=0.1, input_scaling=None, **FAST
    ),
    "ae_feature_scaling_no_early_stopping": lambda: AutoencoderTransformer(
        3, input_scaling="feature", **{**FAST, "early_stopping": False}
    ),
    "vae": lambda: VAETransformer(2, kl_warmup_epochs=2, **FAST),
    "vae_bernoulli": lambda: VAETransformer(2, likelihood="bernoulli", **FAST),
    "detector_default": lambda: ReconstructionOutlierDetector(random_state=0),
    "detector_vae": lambda: ReconstructionOutlierDetector(
        VAETransformer(2, **FAST), contamination=0.1, feature_scaling=None
    ),
}


def round_trip(estimator, **kwargs):
    buffer = io.BytesIO()
    skae.save(estimator, buffer)
    return skae.load(io.BytesIO(buffer.getvalue()), **kwargs)


@pytest.fixture(scope="module", params=list(ESTIMATORS))
def fitted_pair(request):
    estimator = ESTIMATORS[request.param]().fit(X)
    return estimator, round_trip(estimator)


def assert_same_value(a, b, where):
    """``a`` and ``b`` equal, of the same type, recursively (arrays: dtype and bits)."""
    assert type(a) is type(b), (where, type(a), type(b))
    if isinstance(a, np.ndarray):
        assert a.dtype == b.dtype and a.shape == b.shape, where
        np.testing.assert_array_equal(a, b, err_msg=where)
    elif isinstance(a, torch.Tensor):
        assert torch.equal(a, b), where
    elif isinstance(a, (list, tuple)):
        assert len(a) == len(b), where
        for i, (x, y) in enumerate(zip(a, b)):
            assert_same_value(x, y, f"{where}[{i}]")
    elif isinstance(a, dict):
        assert list(a) == list(b), where
        for key in a:
            assert_same_value(a[key], b[key], f"{where}[{key!r}]")
    elif isinstance(a, BaseEstimator):
        assert_same_estimator(a, b, where)
    elif isinstance(a, float) and np.isnan(a):
        assert np.isnan(b), where
    else:
        assert a == b, where


def assert_same_estimator(a, b, where="estimator"):
    assert type(a) is type(b)
    assert_same_value(a.get_params(deep=False), b.get_params(deep=False), f"{where} params")
    # Caches rebuilt on first use (_NOT_SAVED) are not part of the saved state.
    skipped = ("net_", "history_", "device_", *_NOT_SAVED)
    fitted = {k for k in vars(a) if k not in skipped}
    assert fitted == {k for k in vars(b) if k not in skipped}, where
    for key in fitted:
        assert_same_value(getattr(a, key), getattr(b, key), f"{where}.{key}")
    if hasattr(a, "net_"):
        assert_same_value(list(a.history_), list(b.history_), f"{where}.history_")
        assert b.history_ is b.net_.history
        assert_same_value(
            a.net_.module_.state_dict(), b.net_.module_.state_dict(), f"{where} weights"
        )
        assert not b.net_.module_.training
        assert_same_value(optimizer_state(a.net_), optimizer_state(b.net_), f"{where} optimizer")


def optimizer_state(net):
    """Adam's state per parameter name, and its hyperparameters.

    By name: the order of the optimizer's parameters is its own.
    """
    names = {id(p): name for name, p in net.module_.named_parameters()}
    state = {names[id(p)]: dict(values) for p, values in net.optimizer_.state.items()}
    groups = [{k: v for k, v in g.items() if k != "params"} for g in net.optimizer_.param_groups]
    return {name: state[name] for name in sorted(state)}, groups


def test_every_public_estimator_can_be_saved():
    public = {
        name for name in skae.__all__
        if inspect.isclass(getattr(skae, name)) and issubclass(getattr(skae, name), BaseEstimator)
    }
    assert public == set(_CLASSES)


def test_round_trip_keeps_parameters_and_fitted_state(fitted_pair):
    original, loaded = fitted_pair
    assert_same_estimator(original, loaded)


def test_round_trip_gives_the_same_results_bit_for_bit(fitted_pair):
    original, loaded = fitted_pair
    methods = ["transform", "score_samples", "score", "reconstruction_error",
               "decision_function", "predict"]
    for method in methods:
        if hasattr(original, method):
            assert_same_value(getattr(original, method)(X), getattr(loaded, method)(X), method)
    if hasattr(original, "inverse_transform"):
        Z = original.transform(X)
        assert_same_value(original.inverse_transform(Z), loaded.inverse_transform(Z), "inverse")
        assert_same_value(
            original.sample(5, random_state=0), loaded.sample(5, random_state=0), "sample"
        )


@pytest.mark.parametrize("sizes", [(8,), (64,)])
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_loaded_net_keeps_training_as_the_original(Estimator, sizes):
    # skorch's partial_fit on both nets: the optimizer state (Adam's moments and
    # step) came back, so one more epoch gives the same weights bit for bit.
    # (Without early stopping: the original net monitors a validation loss otherwise.)
    # With 64 hidden units FlatAdam flattens tensors of 64k elements and reorders
    # its parameters: the state is matched by the parameters' names.
    original = Estimator(2, **{**FAST, "early_stopping": False, "hidden_layer_sizes": sizes}).fit(X)
    loaded = round_trip(original)
    dataset = RowDataset(torch.as_tensor(X, dtype=torch.float32), np.arange(60), "cpu")
    for est in (original, loaded):
        est.net_.max_epochs = 1
        with draw_from(est.net_.module_, torch.Generator().manual_seed(0)):  # the VAE's noise
            est.net_.partial_fit(dataset, None)
    assert len(loaded.history_) == len(original.history_) == original.n_epochs_ + 1
    assert_same_value(
        original.net_.module_.state_dict(), loaded.net_.module_.state_dict(), "weights"
    )


def test_loaded_estimator_refits(fitted_pair):
    original, loaded = fitted_pair
    refit = round_trip(original).fit(X)
    assert_same_value(original.transform(X), refit.transform(X), "refit") if hasattr(
        original, "transform"
    ) else assert_same_value(original.score_samples(X), refit.score_samples(X), "refit")


@pytest.mark.parametrize("name", list(ESTIMATORS))
def test_unfitted_round_trip(name):
    estimator = ESTIMATORS[name]()
    loaded = round_trip(estimator)
    assert_same_estimator(estimator, loaded)
    assert not hasattr(loaded, "n_features_in_")


def test_random_state_instance_parameter_round_trips():
    random_state = np.random.RandomState(3)
    random_state.standard_normal()  # a cached Gaussian is part of the state
    loaded = round_trip(AutoencoderTransformer(random_state=random_state))
    restored = loaded.random_state
    assert restored is not random_state
    np.testing.assert_array_equal(restored.standard_normal(5), random_state.standard_normal(5))


def test_arrays_under_dict_keys_holding_slashes_round_trip():
    # Tensors are named by their path of keys: both arrays were named
    # ".../a/b", one overwrote the other, and save wrote a file load refused.
    kwargs = {"a": {"b": np.ones(2)}, "a/b": np.zeros(2)}
    loaded = round_trip(AutoencoderTransformer(encoder_kwargs=kwargs))
    assert_same_value(kwargs, loaded.encoder_kwargs, "encoder_kwargs")


def test_feature_names_and_output_configuration_round_trip():
    pd = pytest.importorskip("pandas")
    frame = pd.DataFrame(X, columns=[f"f{i}" for i in range(5)])
    est = AutoencoderTransformer(2, **FAST).set_output(transform="pandas").fit(frame)
    loaded = round_trip(est)
    assert_same_value(est.feature_names_in_, loaded.feature_names_in_, "feature names")
    out = loaded.transform(frame)
    assert isinstance(out, pd.DataFrame)
    pd.testing.assert_frame_equal(out, est.transform(frame))


def test_save_to_a_path_and_load_from_it(tmp_path):
    est = VAETransformer(2, **FAST).fit(X)
    path = tmp_path / "model.skae"
    skae.save(est, path)
    assert_same_value(skae.load(str(path)).score_samples(X), est.score_samples(X), "path")


def test_save_to_a_bytes_path(tmp_path):
    path = os.fsencode(tmp_path / "model.skae")
    skae.save(AutoencoderTransformer(n_components=3), path)
    assert skae.load(path).n_components == 3


def test_a_save_that_fails_part_way_leaves_the_earlier_file(tmp_path):
    # The file system refuses the write after a few bytes (a full disk, say):
    # the model saved before is kept, and no partial file is left beside it.
    resource = pytest.importorskip("resource")
    sigxfsz = getattr(signal, "SIGXFSZ", None)
    if sigxfsz is None or signal.getsignal(sigxfsz) != signal.SIG_IGN:
        pytest.skip("needs RLIMIT_FSIZE with SIGXFSZ ignored (Python's default on POSIX)")
    path = tmp_path / "model.skae"
    skae.save(AutoencoderTransformer(n_components=2), path)
    earlier = path.read_bytes()
    fitted = AutoencoderTransformer(2, **FAST).fit(X)  # a larger file
    soft, hard = resource.getrlimit(resource.RLIMIT_FSIZE)
    resource.setrlimit(resource.RLIMIT_FSIZE, (len(earlier) + 100, hard))
    try:
        with pytest.raises(OSError):
            skae.save(fitted, path)
    finally:
        resource.setrlimit(resource.RLIMIT_FSIZE, (soft, hard))
    assert path.read_bytes() == earlier
    assert os.listdir(tmp_path) == ["model.skae"]


def test_save_to_a_folder_or_into_a_missing_one_names_the_path(tmp_path):
    with pytest.raises(IsADirectoryError, match=re.escape(str(tmp_path))):
        skae.save(AutoencoderTransformer(), tmp_path)
    with pytest.raises(FileNotFoundError, match=re.escape(str(tmp_path / "no" / "m.skae"))):
        skae.save(AutoencoderTransformer(), tmp_path / "no" / "m.skae")
    assert os.listdir(tmp_path) == []


@pytest.mark.skipif(os.name != "posix", reason="POSIX permissions and symbolic links")
def test_save_keeps_permissions_and_writes_through_a_link(tmp_path):
    path, reference = tmp_path / "model.skae", tmp_path / "reference"
    skae.save(AutoencoderTransformer(), path)
    reference.write_bytes(b"")  # the umask's permissions
    assert stat.S_IMODE(path.stat().st_mode) == stat.S_IMODE(reference.stat().st_mode)
    path.chmod(0o640)
    link = tmp_path / "link.skae"
    link.symlink_to(path)
    skae.save(AutoencoderTransformer(n_components=3), link)
    assert link.is_symlink() and skae.load(path).n_components == 3
    assert stat.S_IMODE(path.stat().st_mode) == 0o640


@pytest.mark.parametrize("path", [12345, True, 1.5, None])
def test_save_and_load_take_paths_and_file_objects_only(path):
    with pytest.raises(TypeError, match="path must be a file path .* with a write"):
        skae.save(AutoencoderTransformer(), path)
    with pytest.raises(TypeError, match="path must be a file path .* with a read"):
        skae.load(path)


class _Unseekable(io.RawIOBase):
    """A stream that reads but cannot seek, as a socket's or a pipe's."""

    def __init__(self, data):
        self._data = io.BytesIO(data)

    def readable(self):
        return True

    def readinto(self, buffer):
        return self._data.readinto(buffer)


def test_load_names_a_file_object_it_cannot_read(tmp_path):
    # A valid file behind a stream that cannot seek was "not a skae model file: seek".
    path = tmp_path / "model.skae"
    skae.save(AutoencoderTransformer(), path)
    with pytest.raises(TypeError, match="can seek in.*io.BytesIO"):
        skae.load(_Unseekable(path.read_bytes()))
    with open(path, encoding="latin-1") as text, pytest.raises(TypeError, match="'rb'"):
        skae.load(text)


def test_an_int_is_not_taken_as_a_file_descriptor(tmp_path):
    # open() takes an int as a file descriptor: it would write into (or read) the
    # file that number names in this process, then close it.
    skae.save(AutoencoderTransformer(), tmp_path / "model.skae")
    write_fd = os.open(tmp_path / "empty", os.O_CREAT | os.O_WRONLY)
    read_fd = os.open(tmp_path / "model.skae", os.O_RDONLY)
    try:
        with pytest.raises(TypeError, match="got int"):
            skae.save(AutoencoderTransformer(), write_fd)
        with pytest.raises(TypeError, match="got int"):
            skae.load(read_fd)
        os.fstat(write_fd)  # both still open
        os.fstat(read_fd)
    finally:
        os.close(write_fd)
        os.close(read_fd)
    assert (tmp_path / "empty").stat().st_size == 0


def test_the_file_is_a_safetensors_file(tmp_path):
    safetensors_numpy = pytest.importorskip("safetensors.numpy")
    safe_open = pytest.importorskip("safetensors").safe_open
    est = AutoencoderTransformer(2, **FAST).fit(X)
    path = tmp_path / "model.skae"
    skae.save(est, path)
    tensors = safetensors_numpy.load_file(str(path))
    weight = est.net_.module_.encoder.linear.weight.detach().numpy()
    np.testing.assert_array_equal(tensors["network/module/encoder.linear.weight"], weight)
    with safe_open(str(path), "np") as f:
        assert '"class":"AutoencoderTransformer"' in f.metadata()["skae"]


def test_load_device(tmp_path, monkeypatch):
    # Tensors are stored as CPU arrays whatever the device: a model saved with
    # device_="cuda" loads on a CPU-only machine (the CUDA test does it for real).
    est = AutoencoderTransformer(2, **FAST).fit(X)
    est.set_params(device="cuda")
    est.device_ = "cuda"
    loaded = round_trip(est, device="cpu")
    assert loaded.device == "cuda"  # the parameter is the user's, kept as given
    assert loaded.device_ == "cpu" and loaded.net_.device == "cpu"
    assert all(p.device.type == "cpu" for p in loaded.net_.module_.parameters())
    assert_same_value(loaded.transform(X), est.transform(X), "transform")
    monkeypatch.setattr(torch.cuda, "is_available", lambda: False)
    with pytest.raises(ValueError, match="CUDA is not available"):
        round_trip(est, device="cuda")
    assert round_trip(est, device="auto").device_ == "cpu"


def test_load_leaves_the_global_rng_untouched():
    est = VAETransformer(2, **FAST).fit(X)
    torch_state, numpy_state = torch.get_rng_state(), np.random.get_state()
    round_trip(est)
    assert torch.equal(torch_state, torch.get_rng_state())
    assert_same_value(numpy_state[1], np.random.get_state()[1], "numpy rng")


def test_callbacks_cannot_be_saved():
    from skorch.callbacks import EpochTimer

    with pytest.raises(ValueError, match="callbacks=None"):
        skae.save(AutoencoderTransformer(callbacks=[EpochTimer()]), io.BytesIO())


def test_callbacks_are_saved_only_as_named_nones():
    # A named None is data, which skorch takes (and skips); other data is no
    # callback, and load would refuse it: save refuses it first.
    est = AutoencoderTransformer(2, callbacks=[("unused", None)], **FAST).fit(X)
    assert round_trip(est).callbacks == [("unused", None)]
    with pytest.raises(ValueError, match="cannot store 'callbacks': callbacks must be"):
        skae.save(AutoencoderTransformer(callbacks=[5]), io.BytesIO())


def test_sklearn_callbacks_are_not_saved():
    # set_callbacks' callbacks watch fits, as a ProgressBar: not part of the model.
    sklearn_callback = pytest.importorskip("sklearn.callback")
    pytest.importorskip("rich")
    estimator = AutoencoderTransformer(2, **FAST).set_callbacks(sklearn_callback.ProgressBar())
    loaded = round_trip(estimator.fit(X))
    assert not hasattr(loaded, "_skl_callbacks")
    np.testing.assert_array_equal(loaded.transform(X), estimator.transform(X))


@pytest.mark.parametrize("estimator", [
    AutoencoderTransformer(n_components=-3), VAETransformer(tol=float("nan")),
    ReconstructionOutlierDetector(contamination=0.9),
    ReconstructionOutlierDetector(AutoencoderTransformer(activation="nope")),
])
def test_save_refuses_parameters_load_would_refuse(estimator):
    # They were written, and the file could not be read back.
    with pytest.raises(ValueError, match="parameter of"):
        skae.save(estimator, io.BytesIO())


@pytest.mark.parametrize("make", [
    lambda: AutoencoderTransformer(2, batch_size=np.int64(16), **FAST),
    lambda: VAETransformer(2, batch_size=np.int64(16), **FAST),
    lambda: ReconstructionOutlierDetector(n_neighbors=np.int64(5), random_state=0),
])
def test_numpy_integer_parameters_round_trip(make):
    # A grid over np.arange(...) hands the best estimator numpy integers: fit
    # resolves them as Python ints, which load checks the file for.
    estimator = make().fit(X)
    loaded = round_trip(estimator)
    np.testing.assert_array_equal(loaded.score_samples(X), estimator.score_samples(X))


def test_only_skae_estimators_can_be_saved():
    from sklearn.decomposition import PCA

    with pytest.raises(ValueError, match="skae's estimators only"):
        skae.save(PCA(), io.BytesIO())

    class Sub(AutoencoderTransformer):
        pass

    with pytest.raises(ValueError, match="skae's estimators only"):
        skae.save(Sub(), io.BytesIO())


def test_pickle_still_works(fitted_pair):
    original, _ = fitted_pair
    restored = pickle.loads(pickle.dumps(original))
    assert_same_value(original.score_samples(X), restored.score_samples(X), "pickle")


# ----------------------------------------------------- architectures, custom modules
class TinyDecoder(torch.nn.Module):
    """A custom decoder body: (batch, 2) codes -> (batch, 5)."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(2, 5)

    def forward(self, z):
        return self.layer(z)


@pytest.mark.parametrize("architecture, shape, sizes", [
    ("conv", (1, 4, 4), (2,)), ("gru", (2, 8), (3,)), ("lstm", (2, 8), (3,)),
])
@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_architectures_round_trip(Estimator, architecture, shape, sizes):
    X_shaped = np.random.RandomState(0).rand(40, *shape)
    est = Estimator(2, architecture=architecture, hidden_layer_sizes=sizes, max_epochs=2,
                    random_state=0).fit(X_shaped)
    loaded = round_trip(est)
    assert_same_estimator(est, loaded)
    for method in ("transform", "score_samples"):
        assert_same_value(getattr(est, method)(X_shaped), getattr(loaded, method)(X_shaped),
                          method)
    codes = est.transform(X_shaped)
    assert_same_value(est.inverse_transform(codes), loaded.inverse_transform(codes), "inverse")


def test_custom_modules_load_only_when_passed():
    est = AutoencoderTransformer(
        2, encoder=TinyEncoder, encoder_kwargs={"width": 3}, decoder=TinyDecoder, **FAST
    ).fit(X)
    buffer = io.BytesIO()
    skae.save(est, buffer)
    raw = buffer.getvalue()
    with pytest.raises(ValueError, match=r"custom_modules=\[TinyEncoder, TinyDecoder\]"):
        skae.load(io.BytesIO(raw))
    with pytest.raises(ValueError, match=r"custom_modules=\[TinyDecoder\]"):
        skae.load(io.BytesIO(raw), custom_modules=[TinyEncoder])

    class TinyEncoder_(TinyEncoder):  # another class, even with the same behaviour
        pass

    with pytest.raises(ValueError, match=r"custom_modules=\[TinyEncoder\]"):
        skae.load(io.BytesIO(raw), custom_modules=[TinyEncoder_, TinyDecoder])
    loaded = skae.load(io.BytesIO(raw), custom_modules=[TinyDecoder, TinyEncoder])
    assert loaded.encoder is TinyEncoder and loaded.encoder_kwargs == {"width": 3}
    assert_same_estimator(est, loaded)
    assert_same_value(est.transform(X), loaded.transform(X), "transform")
    assert_same_value(est.score_samples(X), loaded.score_samples(X), "score_samples")


class ValueReadingEncoder(torch.nn.Module):
    """A custom encoder body that reads a tensor's value, which the meta device has not."""

    def __init__(self):
        super().__init__()
        self.layer = torch.nn.Linear(5, 3)

    def forward(self, x):
        return self.layer(x) * float(self.layer.weight.abs().max() > 0)


def test_a_custom_module_the_meta_device_cannot_build_loads():
    # load checks the saved weights against the network built on the meta device
    # first; a module that cannot be built there is checked once built instead.
    est = AutoencoderTransformer(2, encoder=ValueReadingEncoder, **FAST).fit(X)
    loaded = round_trip(est, custom_modules=[ValueReadingEncoder])
    assert_same_estimator(est, loaded)
    assert_same_value(est.transform(X), loaded.transform(X), "transform")


def _body_class(activation):
    """A custom encoder body class; every call makes one of the same qualified name."""

    class Body(torch.nn.Module):
        def __init__(self):
            super().__init__()
            self.layer = torch.nn.Linear(5, 3)

        def forward(self, x):
            return activation(self.layer(x))

    return Body


def test_custom_module_classes_of_one_name_are_refused():
    # The file knows a class by its qualified name: with two such classes passed,
    # load built the last one -- relu where tanh was saved, the same weights, other
    # codes; a model using both would be saved as using one.
    TanhBody, ReluBody = _body_class(torch.tanh), _body_class(torch.relu)
    est = AutoencoderTransformer(2, encoder=TanhBody, **FAST).fit(X)
    buffer = io.BytesIO()
    skae.save(est, buffer)
    with pytest.raises(ValueError, match="two custom module classes are named .*Body"):
        skae.load(io.BytesIO(buffer.getvalue()), custom_modules=[TanhBody, ReluBody])
    loaded = skae.load(io.BytesIO(buffer.getvalue()), custom_modules=[TanhBody, TanhBody])
    assert_same_value(loaded.transform(X), est.transform(X), "transform")
    with pytest.raises(ValueError, match="two custom module classes are named .*Body"):
        skae.save(AutoencoderTransformer(2, encoder=TanhBody, decoder=ReluBody), io.BytesIO())


def test_custom_module_instances_cannot_be_saved():
    est = AutoencoderTransformer(2, encoder=TinyEncoder(), **FAST)
    with pytest.raises(ValueError, match="encoder=TinyEncoder, encoder_kwargs"):
        skae.save(est, io.BytesIO())


@pytest.mark.parametrize("bad", [TinyEncoder(), "TinyEncoder", int])
def test_custom_modules_must_be_module_classes(bad):
    buffer = io.BytesIO()
    skae.save(AutoencoderTransformer(), buffer)
    with pytest.raises(TypeError, match="custom_modules"):
        skae.load(io.BytesIO(buffer.getvalue()), custom_modules=[bad])


@pytest.mark.parametrize("Estimator", [AutoencoderTransformer, VAETransformer])
def test_loaded_estimator_continues_with_partial_fit_as_the_original(Estimator):
    # fit, save, load; then the same partial_fit calls on both: the same model,
    # bit for bit (weights, Adam's state by parameter, history).
    original = Estimator(2, **{**FAST, "hidden_layer_sizes": (64,)}).fit(X)
    loaded = round_trip(original)
    for est in (original, loaded):
        est.partial_fit(X[:30])
        est.partial_fit(X[30:])
    assert_same_trained(original, loaded)
    assert_same_value(original.transform(X), loaded.transform(X), "transform")


def assert_same_trained(a, b):
    """Same weights, Adam state and losses (the history's epoch durations differ)."""
    assert_same_value(a.net_.module_.state_dict(), b.net_.module_.state_dict(), "weights")
    assert_same_value(optimizer_state(a.net_), optimizer_state(b.net_), "optimizer")
    assert_same_value(a.loss_curve_, b.loss_curve_, "loss_curve_")


def test_a_model_trained_by_partial_fit_round_trips_and_goes_on():
    original = AutoencoderTransformer(2, **FAST).partial_fit(X[:30])
    loaded = round_trip(original)
    for est in (original, loaded):
        est.partial_fit(X[30:])
    assert_same_trained(original, loaded)


@pytest.mark.parametrize("name, loss", [("ae", "mse"), ("ae_auto_bce", "bce")])
def test_auto_loss_round_trips_with_the_network_it_chose(name, loss):
    # loss="auto": the resolved objective (loss_) decides the network rebuilt.
    estimator = ESTIMATORS[name]().fit(X)
    loaded = round_trip(estimator)
    assert estimator.loss_ == loaded.loss_ == loss
    assert loaded.net_.module_.is_bernoulli == (loss == "bce")
    np.testing.assert_array_equal(loaded.score_samples(X), estimator.score_samples(X))


# ------------------------------------------------- parameters changed since fit
@pytest.mark.parametrize("cls, name, value", [
    (AutoencoderTransformer, "activation", "tanh"), (AutoencoderTransformer, "dropout", 0.2),
    (VAETransformer, "decoder_variance", "feature"), (VAETransformer, "n_components", 3),
])
def test_save_refuses_parameters_changed_since_fit(cls, name, value):
    # load builds the network from the saved parameters: saved, these would give
    # back another model (activation: silently; dropout: an error on load).
    est = cls(2, **FAST).fit(X)
    fitted = est.get_params()[name]
    est.set_params(**{name: value})
    with pytest.raises(ValueError, match=rf"{name} changed from .* since the model was fitted"):
        skae.save(est, io.BytesIO())
    est.set_params(**{name: fitted}, device="cpu")  # the device is load's to choose
    round_trip(est)


def test_a_loaded_model_knows_the_parameters_its_network_was_built_with():
    loaded = round_trip(AutoencoderTransformer(2, **FAST).fit(X))
    loaded.partial_fit(X)
    loaded.set_params(activation="tanh")
    with pytest.raises(ValueError, match="activation changed from 'relu' to 'tanh' between"):
        loaded.partial_fit(X)


def test_save_refuses_a_fitted_state_its_parameters_no_longer_describe():
    # The detector scales by scale_ only with feature_scaling="standard": saved
    # with None, the file would be refused by load as malformed.
    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    detector.set_params(feature_scaling=None)
    with pytest.raises(ValueError, match=r"scale_ = .* set_params since fit"):
        skae.save(detector, io.BytesIO())
    round_trip(detector.set_params(feature_scaling="standard"))
