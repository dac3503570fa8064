"""skae.load on crafted files: anything that is not a skae model is refused, without side effects.

Every test runs with the ways a file could execute code replaced by functions
that fail the test (pickle, torch.load, np.load, os.system, subprocess,
importlib, eval, exec), in an empty working directory that must stay empty.
Most forged files carry a correct checksum, so the checks behind it are the
ones tested.
"""

import base64
import builtins
import importlib
import io
import json
import os
import pickle
import subprocess
import zipfile

import numpy as np
import pytest
import torch
from sklearn.base import clone

from conftest import HOLD_OUT

import skae
from skae import AutoencoderTransformer, ReconstructionOutlierDetector
from skae import _safetensors
from skae._persistence import FORMAT_VERSION, _digest

X = np.random.RandomState(0).rand(40, 4)
FAST = dict(max_epochs=2, hidden_layer_sizes=(4,), random_state=0, **HOLD_OUT)


class Evil:
    """Unpickling this runs a shell command."""

    def __reduce__(self):
        return os.system, ("touch pwned",)


def _payloads():
    """A pickle, an .npy with an object array and a torch.save file, each running Evil.

    Made at import, before the tests replace os.system (which Evil pickles by name).
    """
    npy, torch_file = io.BytesIO(), io.BytesIO()
    np.save(npy, np.array([Evil()], dtype=object), allow_pickle=True)
    torch.save({"x": Evil()}, torch_file)
    return pickle.dumps(Evil()), npy.getvalue(), torch_file.getvalue()


PICKLE_PAYLOAD, NPY_PAYLOAD, TORCH_PAYLOAD = _payloads()


@pytest.fixture(autouse=True)
def no_side_effects(monkeypatch, tmp_path):
    """Fail the test if loading executes code or touches the file system."""

    def forbidden(*args, **kwargs):
        raise AssertionError("skae.load executed code named by a file")

    for module, name in [
        (os, "system"), (os, "popen"), (subprocess, "Popen"), (pickle, "loads"),
        (pickle, "load"), (pickle, "Unpickler"), (torch, "load"), (np, "load"),
        (importlib, "import_module"), (builtins, "eval"), (builtins, "exec"),
    ]:
        monkeypatch.setattr(module, name, forbidden)
    workdir = tmp_path / "cwd"
    workdir.mkdir()
    monkeypatch.chdir(workdir)
    yield
    assert not any(workdir.iterdir()), "loading created files"
    assert not (tmp_path / "pwned").exists()


@pytest.fixture(scope="module")
def saved():
    """The bytes of a saved detector (its estimator nested inside), of an autoencoder,
    and of a detector with ``anomaly_score="local"``."""
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(2, **FAST)).fit(X)
    local = clone(detector).set_params(anomaly_score="local").fit(X)
    files = {}
    for name, est in [("detector", detector), ("ae", detector.estimator_), ("local", local)]:
        buffer = io.BytesIO()
        skae.save(est, buffer)
        files[name] = buffer.getvalue()
    return files


def parts(raw):
    """``(document, tensors)`` of a saved file, to tamper with."""
    stream = io.BytesIO(raw)
    entries, metadata, size = _safetensors.read_header(stream, len(raw))
    return json.loads(metadata["skae"]), _safetensors.read_tensors(entries, stream.read(size))


def forge(document, tensors):
    """A file holding ``document`` and ``tensors``, with a correct checksum."""
    text = json.dumps(document)
    return _safetensors.dumps(tensors, {"skae": text, "skae_sha256": _digest(text, tensors)})


def raw_file(header, data=b""):
    """A safetensors file with the given header (a dict, or bytes) and data bytes."""
    text = header if isinstance(header, bytes) else json.dumps(header).encode()
    return len(text).to_bytes(8, "little") + text + data


def load_bytes(raw):
    return skae.load(io.BytesIO(raw))


def test_an_untampered_file_loads(saved):
    # The guards above do not get in the way of a genuine file.
    detector = load_bytes(saved["detector"])
    assert detector.predict(X).shape == (40,)


# -------------------------------------------------------------- class names
@pytest.mark.parametrize("name", [
    "os.system", "builtins.eval", "posix.system", "subprocess.Popen", "__main__.Evil",
    "skae.AutoencoderTransformer", "_BaseAutoencoder", "PCA", "sklearn.decomposition.PCA",
    "", None, 1, ["AutoencoderTransformer"],
])
@pytest.mark.parametrize("where", ["top", "nested parameter", "nested attribute"])
def test_only_skae_classes_are_built(saved, name, where):
    document, tensors = parts(saved["detector"])
    spec = document["estimator"]
    if where == "nested parameter":
        spec = spec["params"]["estimator"]["__estimator__"]
    elif where == "nested attribute":
        spec = spec["attributes"]["estimator_"]["__estimator__"]
    spec["class"] = name
    with pytest.raises(ValueError, match="skae.load builds only"):
        load_bytes(forge(document, tensors))


# ---------------------------------------------------------- pickle payloads
@pytest.mark.parametrize("value", [
    {"__pickle__": base64.b64encode(PICKLE_PAYLOAD).decode()},
    {"__reduce__": ["os.system", ["touch pwned"]]},
    {"__class__": "os.system"},
    {"__init__": []},
    {"py/object": "os.system"},  # jsonpickle's convention
    {"__ndarray__": "network/module/encoder.linear.weight", "dtype": "object"},
    {"__dict__": {"a": 1}, "__class__": "os.system"},
    {"a": 1},  # an untagged object
])
def test_unknown_tags_and_untagged_objects_are_refused(saved, value):
    document, tensors = parts(saved["ae"])
    document["estimator"]["attributes"]["latent_mean_"] = value
    with pytest.raises(ValueError, match="unexpected value"):
        load_bytes(forge(document, tensors))


def test_a_pickled_string_stays_an_inert_string(saved):
    payload = PICKLE_PAYLOAD.decode("latin-1")
    document, tensors = parts(saved["ae"])
    document["estimator"]["attributes"]["device_"] = payload  # overwritten with the device
    document["estimator"]["attributes"]["extra_"] = payload
    loaded = load_bytes(forge(document, tensors))
    assert loaded.extra_ == payload  # never unpickled: still the same characters


def test_a_pickled_string_as_a_parameter_is_refused_by_validation(saved):
    document, tensors = parts(saved["ae"])
    document["estimator"]["params"]["activation"] = PICKLE_PAYLOAD.decode("latin-1")
    with pytest.raises(ValueError, match="activation"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("dtype", ["O", "object", "PICKLE", "|O8", "V8", "U8 ", "F32\u0000"])
def test_non_numeric_tensor_dtypes_are_refused(dtype):
    raw = raw_file({"x": {"dtype": dtype, "shape": [1], "data_offsets": [0, 8]}}, b"\0" * 8)
    with pytest.raises(ValueError, match="malformed entry"):
        load_bytes(raw)


def test_an_npy_with_an_object_array_inside_a_tensor_is_only_bytes(saved):
    # An .npy file holding a pickled object array, stored as a uint8 tensor, is
    # loaded as those bytes (numbers), never parsed as .npy or unpickled.
    npy = np.frombuffer(NPY_PAYLOAD, dtype=np.uint8).copy()
    document, tensors = parts(saved["ae"])
    tensors["attributes/extra_"] = npy
    document["estimator"]["attributes"]["extra_"] = {"__ndarray__": "attributes/extra_"}
    loaded = load_bytes(forge(document, tensors))
    assert loaded.extra_.dtype == np.uint8
    np.testing.assert_array_equal(loaded.extra_, npy)


@pytest.mark.parametrize("kind", ["pickle", "torch.save", "npy", "zip traversal", "zip bomb",
                                  "empty", "text"])
def test_files_of_other_formats_are_refused(kind, tmp_path):
    if kind == "pickle":
        raw = PICKLE_PAYLOAD
    elif kind == "torch.save":
        raw = TORCH_PAYLOAD
    elif kind == "npy":
        raw = NPY_PAYLOAD
    elif kind.startswith("zip"):
        buffer = io.BytesIO()
        with zipfile.ZipFile(buffer, "w", compression=zipfile.ZIP_DEFLATED) as archive:
            if kind == "zip traversal":
                archive.writestr("../../pwned", "x")
                archive.writestr("/tmp/pwned", "x")
            else:
                archive.writestr("zeros", b"\0" * 20_000_000)  # 20 MB in about 20 kB
        raw = buffer.getvalue()
    elif kind == "empty":
        raw = b""
    else:
        raw = b"AutoencoderTransformer(n_components=2)"
    with pytest.raises(ValueError):
        load_bytes(raw)
    assert not any((tmp_path / "cwd").iterdir()) and not (tmp_path / "pwned").exists()


# ---------------------------------------------------------------- JSON bombs
@pytest.mark.parametrize("depth", [40, 100_000])
def test_deeply_nested_values_are_refused(saved, depth):
    document, tensors = parts(saved["ae"])
    text = json.dumps(document, separators=(",", ":"))
    # Nested lists as an attribute's value; the deep one also trips json's recursion guard.
    text = text.replace('"attributes":{', '"attributes":{"bomb_":' + "[" * depth + "]" * depth
                        + ",", 1)
    raw = _safetensors.dumps(tensors, {"skae": text, "skae_sha256": _digest(text, tensors)})
    with pytest.raises(ValueError, match="nested|unreadable"):
        load_bytes(raw)


def test_deeply_nested_header_is_refused():
    with pytest.raises(ValueError, match="unreadable header"):
        load_bytes(raw_file(b"[" * 100_000 + b"]" * 100_000))


def test_a_huge_integer_is_refused(saved):
    document, tensors = parts(saved["ae"])
    text = json.dumps(document, separators=(",", ":"))
    text = text.replace('"attributes":{', '"attributes":{"big_":' + "9" * 100_000 + ",", 1)
    raw = _safetensors.dumps(tensors, {"skae": text, "skae_sha256": _digest(text, tensors)})
    with pytest.raises(ValueError, match="unreadable"):
        load_bytes(raw)


@pytest.mark.parametrize("claimed", [2**63, 2**40, 200_000_000, 10_000])
def test_a_header_longer_than_the_file_is_refused_before_reading(claimed):
    raw = claimed.to_bytes(8, "little") + b"{}" + b" " * 100
    with pytest.raises(ValueError, match="header claims"):
        load_bytes(raw)


@pytest.mark.parametrize("entry", [
    {"dtype": "F64", "shape": [2**31, 2**31], "data_offsets": [0, 8]},
    {"dtype": "F64", "shape": [10**30], "data_offsets": [0, 8 * 10**30]},
    {"dtype": "F64", "shape": [-1], "data_offsets": [0, 8]},
    {"dtype": "F64", "shape": [1.5], "data_offsets": [0, 8]},
    {"dtype": "F64", "shape": [True], "data_offsets": [0, 8]},
    {"dtype": "F64", "shape": [1], "data_offsets": [8, 0]},
    {"dtype": "F64", "shape": [1], "data_offsets": [0, 8, 16]},
    {"dtype": "F64", "shape": "1", "data_offsets": [0, 8]},
    {"dtype": "F64", "shape": [1], "data_offsets": [0, 8], "extra": 1},
])
def test_absurd_shapes_and_offsets_are_refused(entry):
    # Refused from the header alone: nothing of the claimed size is allocated.
    with pytest.raises(ValueError, match="malformed entry|does not fill|truncated"):
        load_bytes(raw_file({"x": entry}, b"\0" * 8))


def test_overlapping_and_out_of_range_offsets_are_refused():
    overlap = {
        "a": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]},
        "b": {"dtype": "F64", "shape": [1], "data_offsets": [0, 8]},
    }
    with pytest.raises(ValueError, match="gap or overlap"):
        load_bytes(raw_file(overlap, b"\0" * 16))
    beyond = {"a": {"dtype": "F64", "shape": [2], "data_offsets": [0, 16]}}
    with pytest.raises(ValueError, match="truncated"):
        load_bytes(raw_file(beyond, b"\0" * 8))


# ------------------------------------------------------- truncation, corruption
def test_every_truncation_is_refused(saved):
    raw = saved["ae"]
    for length in sorted({0, 1, 7, 8, 9, 100, len(raw) // 2, len(raw) - 8, len(raw) - 1}):
        with pytest.raises(ValueError):
            load_bytes(raw[:length])


def test_flipped_bytes_are_refused(saved):
    raw = saved["ae"]
    positions = np.random.RandomState(0).choice(len(raw), 150, replace=False)
    for position in [*positions, 0, 7, 8, len(raw) - 1]:
        corrupted = bytearray(raw)
        corrupted[position] ^= 0x01
        with pytest.raises(ValueError):
            load_bytes(bytes(corrupted))


def test_a_stale_checksum_is_refused(saved):
    document, tensors = parts(saved["ae"])
    tensors["network/module/encoder.linear.bias"] = tensors[
        "network/module/encoder.linear.bias"] + 1
    stream = io.BytesIO(saved["ae"])
    _, metadata, _ = _safetensors.read_header(stream, len(saved["ae"]))
    with pytest.raises(ValueError, match="checksum"):
        load_bytes(_safetensors.dumps(tensors, metadata))


# --------------------------------------------------- structure and versions
def test_a_newer_format_version_is_refused(saved):
    document, tensors = parts(saved["ae"])
    document["format_version"] = FORMAT_VERSION + 1
    with pytest.raises(ValueError, match=f"format version {FORMAT_VERSION + 1}.*Upgrade skae"):
        load_bytes(forge(document, tensors))


def _before_version_4(document):
    """``document``, a detector fitted with ``anomaly_score="local"``, as formats 1 to 3
    wrote a detector fitted with the default, ``"auto"``, which then resolved to it."""
    params = document["estimator"]["params"]
    assert params["anomaly_score"] == "local"
    params["anomaly_score"] = "auto"
    assert document["estimator"]["attributes"]["anomaly_score_"] == "local"


def test_a_version_3_detector_loads_and_scores_as_it_did(saved):
    # "auto" now resolves to "neighborhood" when fitted; a file fitted with it
    # before keeps the score it was fitted with.
    current = load_bytes(saved["local"])
    document, tensors = parts(saved["local"])
    _before_version_4(document)
    document["format_version"] = 3
    old = load_bytes(forge(document, tensors))
    assert old.anomaly_score == "auto" and old.anomaly_score_ == "local"
    np.testing.assert_array_equal(old.score_samples(X), current.score_samples(X))


def _before_version_3(document):
    """``document`` as formats 1 and 2 wrote it: the detector's neighbour count was
    fixed at 10, neither a parameter nor an attribute."""
    detector = document["estimator"]
    assert detector["params"].pop("n_neighbors") == 10
    assert detector["attributes"].pop("n_neighbors_") == 10


def test_a_version_4_detector_scores_its_rows_uncentred(saved):
    # Format 4 had no center_: its estimator was fitted on rows only divided
    # by scale_, and the file's detector scores them so.
    document, tensors = parts(saved["detector"])
    attributes = document["estimator"]["attributes"]
    assert "center_" in attributes
    del attributes["center_"]
    tensors = {name: t for name, t in tensors.items() if name != "attributes/center_"}
    document["format_version"] = 4
    old = load_bytes(forge(document, tensors))
    assert getattr(old, "center_", None) is None
    np.testing.assert_allclose(
        old.score_samples(X), old._score(old._power(X) / old.scale_), rtol=1e-12
    )
    # Only an older file may lack it: a current one would score uncentred unseen.
    document["format_version"] = FORMAT_VERSION
    with pytest.raises(ValueError, match=r"version-5 file lacks attributes \['center_'\]"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("version, name", [(4, "center_"), (1, "power_transform_")])
def test_an_older_detector_saved_again_loads_and_scores_as_it_did(saved, version, name):
    # A file of a version before the attribute lacks it; the detector it loads
    # is saved as a current file, which must hold it: None, as its absence
    # meant (no centring, no transform), not refused as malformed.
    document, tensors = parts(saved["detector" if version == 4 else "local"])
    attributes = document["estimator"]["attributes"]
    del attributes[name]
    tensors = {n: t for n, t in tensors.items() if n != f"attributes/{name}"}
    if version == 1:
        _before_version_4(document)
        _before_version_3(document)
        attributes["latent_whitening_"] = attributes.pop("latent_metric_")
    document["format_version"] = version
    old = load_bytes(forge(document, tensors))
    buffer = io.BytesIO()
    skae.save(old, buffer)
    again = load_bytes(buffer.getvalue())
    assert getattr(again, name) is None
    np.testing.assert_array_equal(again.score_samples(X), old.score_samples(X))


def test_a_detector_file_without_its_power_transform_is_refused(saved):
    # Every format from 2 on holds power_transform_ (None when no feature is
    # transformed): without it the detector would skip the transform unseen.
    document, tensors = parts(saved["detector"])
    del document["estimator"]["attributes"]["power_transform_"]
    tensors = {n: t for n, t in tensors.items() if n != "attributes/power_transform_"}
    with pytest.raises(ValueError, match=r"lacks attributes \['power_transform_'\]"):
        load_bytes(forge(document, tensors))


def test_a_version_2_detector_loads_and_scores_as_it_did(saved):
    current = load_bytes(saved["local"])
    document, tensors = parts(saved["local"])
    _before_version_4(document)
    _before_version_3(document)
    document["format_version"] = 2
    old = load_bytes(forge(document, tensors))
    assert old.n_neighbors == old.n_neighbors_ == 10
    np.testing.assert_array_equal(old.score_samples(X), current.score_samples(X))
    # Only an older file may lack them: in a current one that is malformed.
    document["format_version"] = FORMAT_VERSION
    with pytest.raises(ValueError, match="missing keys \\['n_neighbors'\\]"):
        load_bytes(forge(document, tensors))


def test_a_version_1_detector_loads_and_scores_as_it_did(saved):
    # Format 1 named the local term's map latent_whitening_ (it whitened the
    # codes); the file's reference codes were mapped by it, so under its new
    # name it gives the scores the detector gave when saved.
    current = load_bytes(saved["local"])
    document, tensors = parts(saved["local"])
    _before_version_4(document)
    _before_version_3(document)
    attributes = document["estimator"]["attributes"]
    attributes["latent_whitening_"] = attributes.pop("latent_metric_")
    document["format_version"] = 1
    old = load_bytes(forge(document, tensors))
    assert not hasattr(old, "latent_whitening_")
    np.testing.assert_array_equal(old.latent_metric_, current.latent_metric_)
    np.testing.assert_array_equal(old.score_samples(X), current.score_samples(X))
    # Only a version-1 file is renamed: in a version-2 one the old name is malformed.
    document["format_version"] = 2
    with pytest.raises(ValueError, match="latent_metric_"):
        load_bytes(forge(document, tensors))
    # Under both names, the map is given twice: which one scores is not the file's to hide.
    document["format_version"] = 1
    attributes["latent_metric_"] = attributes["latent_whitening_"]
    with pytest.raises(ValueError, match="unexpected attribute 'latent_metric_'"):
        load_bytes(forge(document, tensors))
    del attributes["latent_metric_"]
    # The transform came within version 1: a file of it may lack power_transform_.
    document["format_version"] = 1
    assert attributes.pop("power_transform_") is None
    tensors = {n: t for n, t in tensors.items() if n != "attributes/power_transform_"}
    old = load_bytes(forge(document, tensors))
    np.testing.assert_array_equal(old.score_samples(X), current.score_samples(X))


@pytest.mark.parametrize("change", [
    {"format_version": "1"}, {"format_version": 0}, {"format_version": True},
    {"format": "pickle"}, {"extra": 1},
])
def test_bad_format_fields_are_refused(saved, change):
    document, tensors = parts(saved["ae"])
    document.update(change)
    with pytest.raises(ValueError):
        load_bytes(forge(document, tensors))


def test_a_safetensors_file_that_is_not_a_skae_model_is_refused():
    raw = _safetensors.dumps({"w": np.zeros(3, np.float32)}, {"format": "pt"})
    with pytest.raises(ValueError, match="not a skae model file"):
        load_bytes(raw)


@pytest.mark.parametrize("mutation", ["missing", "unexpected", "invalid"])
def test_parameters_must_be_exactly_the_classes(saved, mutation):
    document, tensors = parts(saved["ae"])
    params = document["estimator"]["params"]
    if mutation == "missing":
        del params["n_components"]
    elif mutation == "unexpected":
        params["__class__"] = "os.system"
    else:
        params["n_components"] = -3
    with pytest.raises(ValueError, match="parameters|n_components"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("callbacks", [
    [5], ["print"], [{"__tuple__": ["name", 5]}], [{"__tuple__": ["name"]}], [[]],
])
def test_callbacks_that_skorch_would_not_take_are_refused(saved, callbacks):
    # Data cannot be a skorch callback (only a named None, which skorch skips):
    # building the net ran them, and failed with an AttributeError.
    document, tensors = parts(saved["ae"])
    document["estimator"]["params"]["callbacks"] = callbacks
    with pytest.raises(ValueError, match="malformed skae model file: callbacks must be"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("name", [
    "transform", "fit", "__class__", "__dict__", "__reduce__", "net_", "history_",
    "_parameter_constraints", "n_components", "not an identifier",
    # What save never writes: the detector's neighbour searches (a crafted one failed
    # at score_samples), scikit-learn's callbacks (failed at fit), the record of
    # the parameters the network was built with.
    "_reference_index", "_reference_ties", "_skl_callbacks", "_first_call_params",
])
def test_attributes_cannot_shadow_code_or_parameters(saved, name):
    document, tensors = parts(saved["ae"])
    document["estimator"]["attributes"][name] = 1
    with pytest.raises(ValueError, match="unexpected attribute"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("name", ["n_features_in_", "_seed"])
def test_a_missing_required_attribute_is_refused(saved, name):
    document, tensors = parts(saved["ae"])
    del document["estimator"]["attributes"][name]
    with pytest.raises(ValueError, match="lacks attributes"):
        load_bytes(forge(document, tensors))


def test_a_detector_without_its_estimator_is_refused(saved):
    document, tensors = parts(saved["detector"])
    del document["estimator"]["attributes"]["estimator_"]
    with pytest.raises(ValueError, match="lacks attributes"):
        load_bytes(forge(document, tensors))


def test_a_network_without_fitted_attributes_is_refused(saved):
    document, tensors = parts(saved["ae"])
    document["estimator"]["attributes"] = {}
    with pytest.raises(ValueError):
        load_bytes(forge(document, tensors))


# ----------------------------------------------------------------- weights
WEIGHT = "network/module/encoder.linear.weight"


@pytest.mark.parametrize("change", ["float64", "int32", "transposed", "larger", "scalar"])
def test_weights_of_the_wrong_shape_or_dtype_are_refused(saved, change):
    document, tensors = parts(saved["ae"])
    weight = tensors[WEIGHT]
    tensors[WEIGHT] = {
        "float64": weight.astype(np.float64),
        "int32": weight.astype(np.int32),
        "transposed": np.ascontiguousarray(weight.T),
        "larger": np.zeros((weight.shape[0] + 1, weight.shape[1]), np.float32),
        "scalar": np.float32(1.0).reshape(()),
    }[change]
    with pytest.raises(ValueError, match="encoder.linear.weight"):
        load_bytes(forge(document, tensors))


def test_a_missing_or_extra_weight_is_refused(saved):
    document, tensors = parts(saved["ae"])
    module = document["estimator"]["network"]["module"]["__dict__"]
    del module["encoder.linear.bias"]
    del tensors["network/module/encoder.linear.bias"]
    with pytest.raises(ValueError, match="missing.*encoder.linear.bias"):
        load_bytes(forge(document, tensors))
    document, tensors = parts(saved["ae"])
    module = document["estimator"]["network"]["module"]["__dict__"]
    module["encoder.extra"] = {"__tensor__": "extra"}
    tensors["extra"] = np.zeros(2, np.float32)
    with pytest.raises(ValueError, match="unexpected.*encoder.extra"):
        load_bytes(forge(document, tensors))


def test_unreferenced_or_twice_referenced_tensors_are_refused(saved):
    document, tensors = parts(saved["ae"])
    tensors["hidden"] = np.zeros(2)
    with pytest.raises(ValueError, match="unexpected tensors"):
        load_bytes(forge(document, tensors))
    document, tensors = parts(saved["ae"])
    document["estimator"]["attributes"]["copy_"] = {"__ndarray__": WEIGHT}
    with pytest.raises(ValueError, match="bad tensor reference"):
        load_bytes(forge(document, tensors))


def _retag_state(state, index):
    state[0][0] = index


@pytest.mark.parametrize("mutate", [
    lambda state: _retag_state(state, "0"),
    lambda state: _retag_state(state, 99),  # no such parameter
    lambda state: _retag_state(state, state[1][0]),  # twice the same parameter
    lambda state: state[0].pop(),
    lambda state: state[0][1]["__dict__"].update(step=1),
])
def test_a_malformed_optimizer_state_is_refused(mutate):
    # Trained without held-out rows, so no fall-back to PCA's solution gives it a
    # fresh optimizer: its state has an entry per parameter to tamper with.
    buffer = io.BytesIO()
    skae.save(AutoencoderTransformer(2, **{**FAST, "early_stopping": False}).fit(X), buffer)
    document, tensors = parts(buffer.getvalue())
    assert document["estimator"]["network"]["optimizer"]["__dict__"]["state"]
    mutate(document["estimator"]["network"]["optimizer"]["__dict__"]["state"])
    with pytest.raises(ValueError, match="bad optimizer state"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("name", [
    "os.system", "builtins.eval", "torch.nn.Linear", "skae._modules.ResidualMLP", 5, None,
])
def test_module_classes_come_only_from_the_caller(saved, name):
    document, tensors = parts(saved["ae"])
    document["estimator"]["params"]["encoder"] = {"__module_class__": name}
    # torch.nn.Linear's qualified name is torch.nn.modules.linear.Linear: no match either.
    with pytest.raises(ValueError, match="custom module class"):
        skae.load(io.BytesIO(forge(document, tensors)), custom_modules=[torch.nn.Linear])


# ------------------------------------------------------ fitted attributes
# Values that are data but not what fit produces: refused at load, not left to
# fail later with an unrelated error or to give answers silently.
@pytest.mark.parametrize("file, name, value, match", [
    ("ae", "batch_size_", 0, r"batch_size_ = 0 is not"),
    ("ae", "n_components_", 3, r"n_components_ = 3 is not"),
    ("ae", "input_shape_", {"__tuple__": [2, 3]}, r"input_shape_ = \(2, 3\) is not"),
    ("ae", "hidden_layer_sizes_", {"__tuple__": [4, -1]}, r"hidden_layer_sizes_ = \(4, -1\)"),
    ("ae", "loss_", "huber", r"loss_ = 'huber' is not"),
    ("ae", "learning_rate_", {"__float__": "nan"}, r"learning_rate_ = nan is not"),
    ("ae", "_seed", "0", r"_seed = '0' is not"),
    ("ae", "_seed", -1, r"_seed = -1 is not"),  # failed at partial_fit
    ("ae", "_seed", 10**30, r"_seed = 1000000000000000000000000000000 is not"),
    ("detector", "offset_", {"__float__": "nan"}, r"offset_ = nan is not"),
    ("detector", "offset_", "x", r"offset_ = 'x' is not"),
    ("detector", "anomaly_score_", "bogus", r"anomaly_score_ = 'bogus' is not"),
    ("detector", "n_features_in_", 5, r"n_features_in_ = 5 is not"),
    ("detector", "scale_", None, r"scale_ = None is not"),
])
def test_fitted_attributes_fit_cannot_produce_are_refused(saved, file, name, value, match):
    document, tensors = parts(saved[file])
    document["estimator"]["attributes"][name] = value
    with pytest.raises(ValueError, match="malformed skae model file: .*" + match):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("file, name", [
    ("ae", "hidden_layer_sizes_"), ("ae", "input_shape_"), ("ae", "loss_"),
    ("ae", "device_"), ("detector", "control_limits_"), ("detector", "reference_codes_"),
    ("detector", "n_features_in_"), ("detector", "anomaly_score_"),
    ("detector", "reference_scores_"),
])
def test_every_attribute_inference_needs_is_required(saved, file, name):
    document, tensors = parts(saved[file])
    del document["estimator"]["attributes"][name]
    with pytest.raises(ValueError, match=rf"lacks attributes \['{name}'\]"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("attribute, change", [
    ("control_limits_", "zero"), ("control_limits_", "nan"), ("control_limits_", "shape"),
    # one score per reference code, each finite
    ("reference_scores_", "nan"), ("reference_scores_", "shape"),
])
def test_the_detector_statistics_are_checked(saved, attribute, change):
    document, tensors = parts(saved["detector"])
    reference = document["estimator"]["attributes"][attribute]
    key = next(iter(reference.values())) if isinstance(reference, dict) else None
    name = key if isinstance(key, str) and key in tensors else None
    assert name is not None, reference  # stored as a tensor
    values = tensors[name]
    tensors[name] = {"zero": np.zeros_like(values), "nan": np.full_like(values, np.nan),
                     "shape": np.ones(len(values) + 1, values.dtype)}[change]
    with pytest.raises(ValueError, match=rf"{attribute} = .* is not what fit produces"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("params, attributes", [
    # Sizes beyond torch's 64-bit integers: torch's TypeError and RuntimeError.
    ({"n_components": 10**30}, {"n_components_": 10**30}),
    ({"n_components": 2**62}, {"n_components_": 2**62}),
    ({"hidden_layer_sizes": {"__tuple__": [10**30]}},
     {"hidden_layer_sizes_": {"__tuple__": [10**30]}}),
    # A convolution over flat rows of 4 values: a KeyError.
    ({"architecture": "conv"}, {}),
])
def test_parameters_that_build_no_network_are_refused(saved, params, attributes):
    document, tensors = parts(saved["ae"])
    spec = document["estimator"]
    spec["params"].update(params)
    spec["attributes"].update(attributes)
    for name in ("latent_mean_", "latent_covariance_"):  # sized by n_components too
        tensors.pop(spec["attributes"].pop(name)["__ndarray__"])
    with pytest.raises(ValueError, match="its parameters do not build a network"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("file", ["ae", "detector"])
def test_parameters_naming_a_huge_network_are_refused_before_it_is_built(saved, file):
    # A few bytes of JSON size the network: 8 TB of weights here. The weights in
    # the file, which must fit it, are checked first, against the network built
    # on the meta device (shapes without storage); nothing that size is allocated.
    document, tensors = parts(saved[file])
    spec = document["estimator"]
    if file == "detector":
        spec = spec["attributes"]["estimator_"]["__estimator__"]
    spec["params"]["hidden_layer_sizes"] = {"__tuple__": [10**12]}
    spec["attributes"]["hidden_layer_sizes_"] = {"__tuple__": [10**12]}
    with pytest.raises(ValueError, match=r"the network expects \(1000000000000, 2\)"):
        load_bytes(forge(document, tensors))


def test_weights_that_are_not_finite_are_refused(saved):
    document, tensors = parts(saved["ae"])
    weight = tensors[WEIGHT].copy()
    weight[0, 0] = np.nan
    tensors[WEIGHT] = weight
    with pytest.raises(ValueError, match="encoder.linear.weight' holds NaN or infinite"):
        load_bytes(forge(document, tensors))


@pytest.mark.parametrize("name, array", [
    ("loc", np.zeros(3, np.float32)),  # a feature short: failed only at transform
    ("loc", np.zeros((4, 4), np.float32)),  # broadcast: transform worked on 4 rows, not 3
    ("loc", np.zeros((), np.float32)),
    ("scale", np.ones((4, 4), np.float32)),
    ("scale", np.zeros(1, np.float32)),  # NaN codes
    ("scale", -np.ones(1, np.float32)),
])
def test_an_input_normalisation_fit_cannot_produce_is_refused(saved, name, array):
    # The network is built around loc and scale, so comparing the weights with
    # it cannot catch a wrong shape: they are checked against n_features_in_.
    document, tensors = parts(saved["ae"])
    tensors[f"network/module/normalize.{name}"] = array
    with pytest.raises(ValueError, match="the input normalisation is not what fit produces"):
        load_bytes(forge(document, tensors))
