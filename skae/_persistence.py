"""``skae.save`` and ``skae.load``: fitted estimators as data, never as code.

A saved model is one safetensors file (see :mod:`skae._safetensors`): every
numeric array -- network weights, optimizer state, fitted arrays -- is a
tensor, and one JSON document in the header's metadata describes the rest:
the format version, the estimator's class name (one of skae's own, from an
allow-list), its constructor parameters, its fitted attributes and the
training history. Loading parses JSON and slices bytes; it imports nothing a
file names and unpickles nothing. The network is rebuilt by the estimator's
own construction hook (``_build_module``) from the saved parameters, and its
weights are loaded only when every name, shape and dtype matches and every
value is finite; the fitted attributes must be what ``fit`` produces
(:mod:`skae._fitted_state`).

JSON cannot tell a tuple from a list, a numpy scalar from a Python number or
hold NaN, so values other than ``None``, booleans, finite floats, integers,
strings and lists are written as one-key objects whose key is a tag
(``{"__tuple__": [...]}``); an object that is not exactly one known tag is
rejected on loading.
"""

import contextlib
import errno
import hashlib
import io
import json
import os
import secrets
import stat

import numpy as np
import torch
from skorch.history import History

from . import _safetensors
from ._autoencoder import AutoencoderTransformer
from ._base import _BaseAutoencoder
from ._outlier import ReconstructionOutlierDetector
from ._callbacks import ConvergenceMonitor
from ._fitted_state import check_fitted_state
from ._net import resolve_device
from ._random import build_seeded
from ._vae import VAETransformer

#: Identifies skae's files among safetensors files.
FORMAT = "skae"
#: Raised whenever the layout changes; a file with a larger number is refused.
#: Version 4: the detector's ``anomaly_score="neighborhood"`` and its
#: ``reference_scores_``; earlier files name the scores they were fitted with.
#: Version 5: the detector's ``center_``, subtracted from dense rows before its
#: estimator sees them; earlier files have none, and score rows uncentred as
#: they were fitted (a reader of version 4 would drop the centre, unseen).
FORMAT_VERSION = 5
#: Attributes renamed since a format version: ``{version: {old name: new name}}``
#: applies to the files of that version and earlier. Version 2: the detector's
#: local term measures distances with the decoder's metric, ``latent_metric_``;
#: a version-1 detector's whitening matrix plays the same part (its reference
#: codes were mapped by it), so the detector scores as it did when saved.
_RENAMED = {1: {"latent_whitening_": "latent_metric_"}}
#: Parameters added since a format version: ``{version: {class name: names}}``; the
#: files of that version and earlier lack them, and they take their defaults.
#: Version 3: the detector's ``n_neighbors`` (and ``n_neighbors_``, fitted), the
#: local term's count, which earlier versions fixed at its default, 10.
_ADDED_PARAMETERS = {2: {"ReconstructionOutlierDetector": ("n_neighbors",)}}
#: Fitted attributes added since a format version, ``{version: {class name:
#: names}}``: the files of that version and earlier may lack them, and score as
#: they were fitted (loaded with them None, so that they save as current
#: files); a fitted estimator in a later file that lacks one is
#: malformed, not an older model (the detector would skip a step of its scaling
#: unseen). ``power_transform_`` came within version 1, ``center_`` with 5.
_ADDED_ATTRIBUTES = {
    1: {"ReconstructionOutlierDetector": ("power_transform_",)},
    4: {"ReconstructionOutlierDetector": ("center_",)},
}

#: The only classes a file may name. Nothing else is ever instantiated.
_CLASSES = {
    cls.__name__: cls
    for cls in (AutoencoderTransformer, VAETransformer, ReconstructionOutlierDetector)
}

#: Attributes rebuilt from the file's "network" section, never stored as values.
_NETWORK_ATTRIBUTES = ("net_", "history_")
#: scikit-learn's callbacks (``set_callbacks``) watch fits; they are not part of the model.
#: The detector's neighbour searches are rebuilt from ``reference_codes_`` (and
#: ``reference_scores_``) on first use;
#: a transformer's record of the parameters its network was built with, from the
#: saved parameters (save checks that they are those).
_NOT_SAVED = ("_skl_callbacks", "_reference_index", "_reference_ties", "_first_call_params")
#: Why save refuses parameters changed since fit (``_check_same_network``).
_CHANGED_SINCE_FIT = (
    "since the model was fitted: skae.load builds the network from the saved parameters, "
    "so the file would hold another model than this one. Set {name} back to {fitted!r}, "
    "or fit again, before saving."
)

#: numpy scalar types a value may have (by dtype name, never through ``np.dtype``).
_SCALAR_TYPES = {
    np.dtype(kind).name: kind
    for kind in (np.bool_, np.int8, np.int16, np.int32, np.int64, np.uint8, np.uint16,
                 np.uint32, np.uint64, np.float16, np.float32, np.float64)
}

#: Nesting depth of a stored value beyond which a file is refused.
_MAX_DEPTH = 32


# ----------------------------------------------------------------------- writing
def save(estimator, path):
    """Save a skae estimator to a file that holds only data.

    The file is a `safetensors <https://huggingface.co/docs/safetensors>`_ file:
    the network weights, the optimizer state and every fitted array as tensors,
    plus a JSON document with the class name, the constructor parameters, the
    other fitted attributes and the training history. :func:`load` reads it
    back without importing or unpickling anything the file names, unlike
    :mod:`pickle`. Fitted or not, every public skae estimator can be saved,
    :class:`ReconstructionOutlierDetector` with the estimator inside it.

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAETransformer or ReconstructionOutlierDetector
        The estimator to save. Its parameters must be data (numbers, strings,
        tuples, lists, ``None``, ``numpy.random.RandomState``, skae estimators)
        or custom network classes (``encoder=MyEncoder``, stored by name;
        :func:`load` needs the class). skorch ``callbacks`` and network
        instances cannot be saved: set ``callbacks=None``, pass the class.
    path : str, path-like or binary file object
        Where to write. An existing file is replaced once the new one is
        written whole (next to it, so its folder must be writable): a save that
        fails leaves it as it was, and no partial file.

    Raises
    ------
    TypeError
        If ``path`` is neither a file path nor a file object (an int is not
        taken as a file descriptor).
    ValueError
        If the estimator is not one of skae's or holds a value that cannot be
        stored as data, or a parameter ``fit`` would refuse (scikit-learn's
        ``InvalidParameterError``, which :func:`load` would raise); or if a
        parameter the fitted network was built with (``activation``,
        ``dropout``, ``n_components``...) was changed since ``fit``:
        :func:`load` builds the network from the saved parameters, so the file
        would hold another model (the device is ``load``'s to choose, and may
        differ); or if the fitted attributes are not what ``fit`` gives with
        the current parameters (what :func:`load` checks).

    See Also
    --------
    load : Read the file back.

    Examples
    --------
    >>> import os, tempfile
    >>> import numpy as np
    >>> import skae
    >>> X = np.random.RandomState(0).rand(100, 5)
    >>> ae = skae.AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
    >>> path = os.path.join(tempfile.mkdtemp(), "model.skae")
    >>> skae.save(ae, path)
    >>> loaded = skae.load(path)
    >>> bool(np.array_equal(loaded.transform(X), ae.transform(X)))
    True
    """
    if hasattr(path, "write"):
        path.write(_dumps(estimator))
        return
    path = _file_path(path, "write")
    _replace_file(path, _dumps(estimator))


def _replace_file(path, data):
    """Write ``data`` to a new file beside ``path``, then rename it over ``path``.

    A write that fails part-way (a full disk, an interrupt) leaves ``path`` as
    it was -- the model saved before, or no file -- and removes the partial
    one; written in place, it left a truncated file instead of the earlier
    model. As with ``open``, a symbolic link is written through, an existing
    file keeps its permissions and a new one gets the umask's.
    """
    target = os.path.realpath(os.fsdecode(path))
    if os.path.isdir(target):
        raise IsADirectoryError(errno.EISDIR, os.strerror(errno.EISDIR), path)
    directory, name = os.path.split(target)
    temporary = os.path.join(directory, f".{name}.{secrets.token_hex(8)}.tmp")
    try:
        fd = os.open(temporary, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o666)
    except OSError as exc:
        # Named after the file asked for (its folder is missing, or not writable).
        raise type(exc)(exc.errno, exc.strerror, path) from None
    try:
        with os.fdopen(fd, "wb") as f:
            f.write(data)
        with contextlib.suppress(FileNotFoundError):
            os.chmod(temporary, stat.S_IMODE(os.stat(target).st_mode))
        os.replace(temporary, target)
    except BaseException:
        with contextlib.suppress(OSError):
            os.unlink(temporary)
        raise


def _file_path(path, method):
    """``path`` as a str or bytes file path, or ``TypeError``.

    ``open`` takes an int too, as a file descriptor: it would write into or
    read whatever file that number names in this process, then close it.
    """
    try:
        return os.fspath(path)
    except TypeError:
        raise TypeError(
            "path must be a file path (str, bytes or os.PathLike) or a binary file object "
            f"with a {method}() method; got {type(path).__name__}."
        ) from None


def _dumps(estimator):
    writer = _Writer()
    document = {
        "format": FORMAT,
        "format_version": FORMAT_VERSION,
        "skae_version": _skae_version(),
        "estimator": writer.estimator(estimator, ()),
    }
    text = json.dumps(document, separators=(",", ":"), allow_nan=False)
    metadata = {"skae": text, "skae_sha256": _digest(text, writer.tensors)}
    return _safetensors.dumps(writer.tensors, metadata)


def _qualified_name(cls):
    return f"{cls.__module__}.{cls.__qualname__}"


def _add_module_class(classes, cls):
    """Add ``cls`` to ``classes`` under its qualified name, which a file knows it by.

    Two classes of one name (made by one function, ``make.<locals>.Body``)
    cannot be told apart: one would be built where the other was saved.
    """
    name = _qualified_name(cls)
    if classes.setdefault(name, cls) is not cls:
        raise ValueError(
            f"two custom module classes are named {name}: a model file names a class by "
            "its module and qualified name, so it cannot tell them apart. Give them "
            "different names."
        )


def _check_parameters(estimator, problem):
    """Raise unless ``estimator``'s parameters are what ``fit`` takes.

    scikit-learn's validation (its ``InvalidParameterError``), and a
    transformer's ``callbacks`` checked as skorch would take them: data can
    only be a named None (``callbacks=[5]`` is refused), as a ``ValueError``
    that starts with ``problem``.
    """
    estimator._validate_params()
    if isinstance(estimator, _BaseAutoencoder):
        try:
            estimator._check_callbacks()
        except TypeError as exc:
            raise ValueError(f"{problem}: {exc}") from None


def _skae_version():
    from . import __version__

    return __version__


def _digest(text, tensors):
    """SHA-256 of the JSON document and every tensor (name, dtype, shape, bytes).

    It catches a corrupted or truncated file; it is not a signature: whoever
    can write the file can recompute it.
    """
    digest = hashlib.sha256(text.encode("utf-8"))
    for name in sorted(tensors):
        array = np.asarray(tensors[name], order="C")
        header = [name, _safetensors._dtype_name(array), list(array.shape)]
        digest.update(json.dumps(header).encode("utf-8"))
        digest.update(array.astype(array.dtype.newbyteorder("<"), copy=False).tobytes())
    return digest.hexdigest()


class _Writer:
    """Encodes values as JSON, collecting arrays as named tensors."""

    def __init__(self):
        self.tensors = {}
        self.module_classes = {}

    def _array(self, array, path):
        name = "/".join(path)
        while name in self.tensors:  # a dict key holding "/": {"a/b": x, "a": {"b": y}}
            name += "'"
        self.tensors[name] = array
        return name

    def estimator(self, estimator, path):
        cls = type(estimator)
        if _CLASSES.get(cls.__name__) is not cls:
            raise ValueError(
                f"skae.save saves skae's estimators only, got {cls.__module__}.{cls.__qualname__}."
            )
        # What load() checks, refused here rather than in a file load cannot read.
        _check_parameters(estimator, "skae.save cannot store 'callbacks'")
        if isinstance(estimator, _BaseAutoencoder) and hasattr(estimator, "net_"):
            # load() chooses the device itself.
            estimator._check_same_network(_CHANGED_SINCE_FIT, skip=("device",))
        params = estimator.get_params(deep=False)
        attributes = {
            name: self.value(value, (*path, "attributes", name), name)
            for name, value in vars(estimator).items()
            if name not in params and name not in (*_NETWORK_ATTRIBUTES, *_NOT_SAVED)
        }
        if attributes:
            # What load() will check: refused here, not in a file that cannot be read.
            try:
                check_fitted_state(estimator)
            except ValueError as exc:
                raise ValueError(
                    f"skae.save cannot save this {cls.__name__}: {exc} Were its parameters "
                    "changed with set_params since fit? Set them back, or fit again."
                ) from None
        return {
            "class": cls.__name__,
            "params": {
                name: self.value(value, (*path, "params", name), name)
                for name, value in params.items()
            },
            "attributes": attributes,
            "network": self.network(estimator.net_, (*path, "network"))
            if hasattr(estimator, "net_") else None,
        }

    def network(self, net, path):
        module = net.module_
        # torch.compile wraps the module; its state-dict keys get an "_orig_mod." prefix.
        module = getattr(module, "_orig_mod", module)
        return {
            "module": self.value(dict(module.state_dict()), (*path, "module"), "net_"),
            "optimizer": self.value(
                _optimizer_state_by_name(net.optimizer_, module), (*path, "optimizer"), "net_"
            ),
            "history": self.value(list(net.history), (*path, "history"), "history_"),
        }

    def value(self, value, path, name):
        kind = type(value)
        if value is None or kind in (bool, int, str):
            return value
        if kind is float:
            return value if np.isfinite(value) else {"__float__": repr(value)}
        if isinstance(value, np.generic) and value.dtype.name in _SCALAR_TYPES:
            return {"__scalar__": [value.dtype.name, self.value(value.item(), path, name)]}
        if kind is list:
            return [self.value(v, (*path, str(i)), name) for i, v in enumerate(value)]
        if kind is tuple:
            items = [self.value(v, (*path, str(i)), name) for i, v in enumerate(value)]
            return {"__tuple__": items}
        if kind is dict and all(type(k) is str for k in value):
            return {"__dict__": {k: self.value(v, (*path, k), name) for k, v in value.items()}}
        if kind is np.ndarray and value.dtype == object:
            if value.ndim == 1 and all(type(v) is str for v in value):
                return {"__strings__": value.tolist()}
        elif kind is np.ndarray and value.dtype.newbyteorder("<") in _safetensors._NAMES:
            return {"__ndarray__": self._array(value, path)}
        if isinstance(value, torch.Tensor):
            return {"__tensor__": self._array(value.detach().cpu().numpy(), path)}
        if kind is np.random.RandomState:
            algorithm, keys, pos, has_gauss, cached = value.get_state()
            return {"__random_state__": {
                "keys": self._array(keys, path),
                "pos": int(pos),
                "has_gauss": int(has_gauss),
                "cached_gaussian": self.value(float(cached), path, name),
            }}
        if kind in _CLASSES.values():
            return {"__estimator__": self.estimator(value, path)}
        if isinstance(value, type) and issubclass(value, torch.nn.Module):
            # A custom network class is stored by name only; load builds it only
            # when the caller hands it the class.
            _add_module_class(self.module_classes, value)
            return {"__module_class__": _qualified_name(value)}
        if isinstance(value, torch.nn.Module):
            raise ValueError(
                f"skae.save cannot store {name!r}: it holds a {kind.__qualname__} instance, "
                "whose construction is code, not data. Pass the class and its keyword "
                f"arguments instead ({name}={kind.__qualname__}, {name}_kwargs={{...}})."
            )
        raise ValueError(
            f"skae.save cannot store {name!r}: it holds a {kind.__module__}.{kind.__qualname__}, "
            "which is not data (numbers, strings, lists, tuples, dicts, numeric arrays, "
            "RandomState or skae estimators)."
            + (" Set callbacks=None before saving." if name == "callbacks" else "")
        )


# ----------------------------------------------------------------------- reading
def load(path, *, device="cpu", custom_modules=()):
    """Load an estimator saved by :func:`save`.

    Only data is read: the class must be one of skae's estimators, parameters
    and attributes must be JSON values or numeric arrays, and the network is
    rebuilt by skae's own code, its weights checked name by name for shape
    and dtype. Nothing named in the file is imported or unpickled. The
    loaded estimator gives the same results as the saved one, bit for bit,
    and can be trained further. Files of an older format version are read
    too: an attribute renamed since gets its new name, and a parameter added
    since its default, which is what that version did.

    Parameters
    ----------
    path : str, path-like or binary file object
        The file to read. A file object must be able to seek (a network stream:
        read it into :class:`io.BytesIO` first).
    device : str, default="cpu"
        Torch device to put the network on (``"auto"``: CUDA when available).
        A model saved on a GPU loads on a CPU-only machine. The estimator's
        ``device`` parameter is kept; ``device_`` is set to this device.
    custom_modules : sequence of torch.nn.Module subclasses, default=()
        The classes of the custom ``encoder`` / ``decoder`` networks the model
        was fitted with. The file names them (module and qualified name), so
        two classes of one name cannot be passed together; only the classes
        passed here are ever built, with the saved ``encoder_kwargs`` /
        ``decoder_kwargs``: pass only classes you trust with such arguments.

    Returns
    -------
    estimator : AutoencoderTransformer, VAETransformer or ReconstructionOutlierDetector
        The saved estimator, fitted if it was.

    Raises
    ------
    TypeError
        If ``path`` is neither a file path nor a file object (an int is not
        taken as a file descriptor), is a text file object or one that cannot
        seek, or ``custom_modules`` holds anything but ``torch.nn.Module``
        subclasses.
    ValueError
        If the file is not a skae model, was written by a newer format version,
        is truncated or corrupted, names a class that is not a skae estimator
        or a custom module not in ``custom_modules``, holds unexpected or
        missing keys, values that are not data, fitted attributes ``fit``
        cannot produce (a wrong type, range or shape), or weights whose
        names, shapes or dtypes do not match the network or that are not
        finite.

    See Also
    --------
    save : Write an estimator to a file.

    Examples
    --------
    >>> import io
    >>> import numpy as np
    >>> import skae
    >>> X = np.random.RandomState(0).rand(100, 5)
    >>> vae = skae.VAETransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
    >>> buffer = io.BytesIO()
    >>> skae.save(vae, buffer)
    >>> loaded = skae.load(io.BytesIO(buffer.getvalue()))
    >>> bool(np.array_equal(loaded.score_samples(X), vae.score_samples(X)))
    True
    """
    device = resolve_device(device)
    classes = {}
    for cls in custom_modules:
        if not (isinstance(cls, type) and issubclass(cls, torch.nn.Module)):
            raise TypeError(
                f"custom_modules must hold torch.nn.Module subclasses, got {cls!r}."
            )
        _add_module_class(classes, cls)
    if hasattr(path, "read"):
        return _loads(path, device, classes)
    with open(_file_path(path, "read"), "rb") as f:
        return _loads(f, device, classes)


def _stream_size(stream):
    """The bytes left in ``stream``: what the header's claims are checked against."""
    if isinstance(stream, io.TextIOBase):
        raise TypeError("skae.load reads a binary file object (opened with 'rb'), not a text one.")
    try:
        position = stream.tell()
        size = stream.seek(0, io.SEEK_END)
        stream.seek(position)
    except (OSError, ValueError) as exc:  # io.UnsupportedOperation is both
        raise TypeError(
            f"skae.load reads a file object it can seek in, to know its size; this one "
            f"cannot ({exc}). Read it into io.BytesIO first."
        ) from None
    return size - position


def _loads(stream, device, custom_modules):
    size = _stream_size(stream)
    try:
        entries, metadata, data_size = _safetensors.read_header(stream, size)
    except ValueError as exc:
        raise ValueError(f"not a skae model file: {exc}") from None
    if set(metadata) != {"skae", "skae_sha256"}:
        raise ValueError(
            "not a skae model file: a safetensors file without skae's metadata "
            f"(metadata keys: {sorted(metadata)})."
        )
    try:
        document = json.loads(metadata["skae"], parse_constant=_safetensors._reject_constant)
    except (json.JSONDecodeError, RecursionError, ValueError) as exc:
        raise ValueError(f"corrupted skae model file: unreadable metadata ({exc}).") from None
    _check_keys(document, {"format", "format_version", "skae_version", "estimator"}, "the file")
    version = document["format_version"]
    if document["format"] != FORMAT or type(version) is not int or version < 1:
        raise ValueError("not a skae model file: wrong format name or version.")
    if version > FORMAT_VERSION:
        raise ValueError(
            f"the file has format version {version}, written by skae "
            f"{document['skae_version']!r}; this skae reads versions up to {FORMAT_VERSION}. "
            "Upgrade skae."
        )
    missing = sorted(_module_classes_named(document) - set(custom_modules))
    if missing:
        short = ", ".join(name.rsplit(".", 1)[-1] for name in missing)
        raise ValueError(
            f"the model uses custom module classes {missing}: pass them to load, "
            f"skae.load(path, custom_modules=[{short}])."
        )
    data = stream.read(data_size)
    if len(data) != data_size:
        raise ValueError("truncated file: the tensors' data ends early.")
    tensors = _safetensors.read_tensors(entries, data)
    if _digest(metadata["skae"], tensors) != metadata["skae_sha256"]:
        raise ValueError("corrupted skae model file: the checksum does not match its contents.")
    reader = _Reader(tensors, device, custom_modules, version)
    estimator = reader.estimator(document["estimator"], 0)
    unused = set(tensors) - reader.used
    if unused:
        raise ValueError(f"unexpected tensors in the file: {sorted(unused)[:5]}.")
    return estimator


def _module_classes_named(document):
    """The custom module class names anywhere in ``document`` (iteratively: no recursion)."""
    names, stack = set(), [document]
    while stack:
        obj = stack.pop()
        if type(obj) is dict:
            name = obj.get("__module_class__")
            if len(obj) == 1 and type(name) is str:
                names.add(name)
            stack.extend(obj.values())
        elif type(obj) is list:
            stack.extend(obj)
    return names


def _check_keys(obj, expected, what):
    if type(obj) is not dict:
        raise ValueError(f"malformed skae model file: {what} is not a JSON object.")
    missing, unexpected = expected - set(obj), set(obj) - expected
    if missing or unexpected:
        raise ValueError(
            f"malformed skae model file: {what} has missing keys {sorted(missing)} "
            f"and unexpected keys {sorted(unexpected)[:5]}."
        )


def _optimizer_state_by_name(optimizer, module):
    """The optimizer's ``state_dict`` with parameters named as in ``module``, not numbered.

    torch numbers parameters in the optimizer's own order, which need not be
    the module's (``FlatAdam`` reorders them); names survive any order.
    """
    names = {id(p): name for name, p in module.named_parameters()}
    params = [p for group in optimizer.param_groups for p in group["params"]]
    if any(id(p) not in names for p in params):
        raise ValueError(
            "skae.save: the optimizer holds tensors that are not the network's parameters."
        )
    state = optimizer.state_dict()
    return {
        "state": [[names[id(params[i])], values] for i, values in state["state"].items()],
        "param_groups": [
            {**group, "params": [names[id(params[i])] for i in group["params"]]}
            for group in state["param_groups"]
        ],
    }


def _optimizer_state_by_index(saved, optimizer, module):
    """torch's ``state_dict`` for ``optimizer`` from :func:`_optimizer_state_by_name`'s form.

    Raises ``ValueError`` unless the saved state names exactly the network's
    parameters, each once, with moments of each parameter's shape.
    """
    bad = "malformed skae model file: bad optimizer state"
    if not (
        type(saved) is dict
        and set(saved) == {"state", "param_groups"}
        and type(saved["state"]) is list
        and type(saved["param_groups"]) is list
        and all(type(g) is dict and type(g.get("params")) is list for g in saved["param_groups"])
    ):
        raise ValueError(f"{bad}.")
    parameters = dict(module.named_parameters())
    names = {id(p): name for name, p in parameters.items()}
    current = [[names.get(id(p)) for p in group["params"]] for group in optimizer.param_groups]
    groups = saved["param_groups"]
    if len(groups) != len(current) or any(
        not all(type(n) is str for n in g["params"]) or sorted(g["params"]) != sorted(c)
        for g, c in zip(groups, current)
    ):
        raise ValueError(f"{bad}: its parameters are not the network's.")
    index = {name: i for i, name in enumerate(n for c in current for n in c)}
    state = {}
    for entry in saved["state"]:
        if not (type(entry) is list and len(entry) == 2 and type(entry[0]) is str
                and entry[0] in index and type(entry[1]) is dict):
            raise ValueError(f"{bad}: {_short(entry[0] if type(entry) is list else entry)}.")
        name, values = entry
        shape = parameters[name].shape
        for key, value in values.items():
            if not isinstance(value, torch.Tensor) or (value.dim() and value.shape != shape):
                raise ValueError(f"{bad}: {key} of {name} does not match the parameter.")
        if index[name] in state:
            raise ValueError(f"{bad}: {name} twice.")
        state[index[name]] = values
    return {
        "state": state,
        "param_groups": [
            {**g, "params": [index[n] for n in c]} for g, c in zip(groups, current)
        ],
    }


def _state_on_meta_device(estimator, build):
    """The ``state_dict`` of the network ``build()`` gives, built on PyTorch's meta device.

    Its tensors have their shapes and dtypes but no storage. The parameters
    (``hidden_layer_sizes_``, ``n_components``...) size the network, and a
    file of a few hundred bytes can name a network of any size; the saved
    weights, which must fit it, cannot be larger than the file. Checked
    against this one first, they bound what building the network allocates.
    ``None`` when a custom module cannot be built there (it reads values):
    the weights are then checked against the network built. skae's own
    networks build there from every file ``save`` writes: parameters that do
    not (a size beyond torch's integers, a convolution over flat rows) are a
    ``ValueError``.
    """
    try:
        with torch.device("meta"):
            return build_seeded(build, torch.Generator()).state_dict()
    except Exception as exc:
        if estimator.encoder is None and estimator.decoder is None:
            reason = str(exc).split("\n", 1)[0]
            raise ValueError(
                "malformed skae model file: its parameters do not build a network "
                f"({type(exc).__name__}: {reason[:200]})."
            ) from None
        return None


def _check_weights(state, expected):
    """Raise ``ValueError`` unless ``state`` has ``expected``'s names, shapes and dtypes,
    and finite values."""
    missing, unexpected = set(expected) - set(state), set(state) - set(expected)
    if missing or unexpected:
        raise ValueError(
            "the saved weights do not fit the network the parameters build: missing "
            f"{sorted(missing)[:5]}, unexpected {sorted(unexpected)[:5]}."
        )
    for key, tensor in state.items():
        if tensor.shape != expected[key].shape or tensor.dtype != expected[key].dtype:
            raise ValueError(
                f"the saved weight {key!r} has shape {tuple(tensor.shape)} and dtype "
                f"{tensor.dtype}; the network expects {tuple(expected[key].shape)} and "
                f"{expected[key].dtype}."
            )
        if tensor.is_floating_point() and not bool(torch.isfinite(tensor).all()):
            # fit stops on a loss that is not finite: no model it returns has these.
            raise ValueError(f"the saved weight {key!r} holds NaN or infinite values.")


def _short(value):
    text = json.dumps(value)
    return text if len(text) <= 80 else text[:77] + "..."


class _Reader:
    """Decodes the JSON values :class:`_Writer` encodes; refuses anything else."""

    def __init__(self, tensors, device, custom_modules, version):
        self.tensors = tensors
        self.device = device
        self.custom_modules = custom_modules
        self.used = set()
        self.renamed = {}
        for since, names in _RENAMED.items():
            if version <= since:
                self.renamed.update(names)
        self.absent = {}
        for since, classes in _ADDED_PARAMETERS.items():
            for name, params in classes.items():
                if version <= since:
                    self.absent[name] = self.absent.get(name, ()) + params
        self.version = version
        self.required, self.added = {}, {}
        for since, classes in _ADDED_ATTRIBUTES.items():
            for name, attributes in classes.items():
                known = self.required if version > since else self.added
                known[name] = known.get(name, ()) + attributes

    def _array(self, name):
        if type(name) is not str or name not in self.tensors or name in self.used:
            raise ValueError(f"malformed skae model file: bad tensor reference {_short(name)}.")
        self.used.add(name)
        return self.tensors[name]

    def value(self, obj, depth):
        if depth > _MAX_DEPTH:
            raise ValueError(f"malformed skae model file: values nested deeper than {_MAX_DEPTH}.")
        if obj is None or type(obj) in (bool, int, float, str):
            return obj
        if type(obj) is list:
            return [self.value(v, depth + 1) for v in obj]
        if type(obj) is dict and len(obj) == 1:
            ((tag, content),) = obj.items()
            method = self._TAGS.get(tag)
            if method is not None:
                return getattr(self, method)(content, depth + 1)
        raise ValueError(f"malformed skae model file: unexpected value {_short(obj)}.")

    def _tuple(self, content, depth):
        if type(content) is not list:
            raise ValueError("malformed skae model file: a tuple is not a list.")
        return tuple(self.value(v, depth) for v in content)

    def _dict(self, content, depth):
        if type(content) is not dict:
            raise ValueError("malformed skae model file: a dict is not a JSON object.")
        return {key: self.value(v, depth) for key, v in content.items()}

    def _float(self, content, depth):
        if content not in ("nan", "inf", "-inf"):
            raise ValueError(f"malformed skae model file: bad float {_short(content)}.")
        return float(content)

    def _scalar(self, content, depth):
        if not (type(content) is list and len(content) == 2 and content[0] in _SCALAR_TYPES):
            raise ValueError(f"malformed skae model file: bad scalar {_short(content)}.")
        value = self.value(content[1], depth)
        if type(value) not in (bool, int, float):
            raise ValueError(f"malformed skae model file: bad scalar {_short(content)}.")
        return _SCALAR_TYPES[content[0]](value)

    def _strings(self, content, depth):
        if type(content) is not list or not all(type(v) is str for v in content):
            raise ValueError("malformed skae model file: a string array holds non-strings.")
        return np.array(content, dtype=object)

    def _ndarray(self, content, depth):
        return self._array(content)

    def _tensor(self, content, depth):
        return torch.from_numpy(self._array(content))

    def _random_state(self, content, depth):
        _check_keys(content, {"keys", "pos", "has_gauss", "cached_gaussian"}, "a RandomState")
        keys = self._array(content["keys"])
        cached = self.value(content["cached_gaussian"], depth)
        if keys.dtype != np.uint32 or keys.shape != (624,) or type(cached) is not float:
            raise ValueError("malformed skae model file: bad RandomState.")
        random_state = np.random.RandomState()
        try:
            random_state.set_state(
                ("MT19937", keys, content["pos"], content["has_gauss"], cached)
            )
        except (TypeError, ValueError) as exc:
            raise ValueError(f"malformed skae model file: bad RandomState ({exc}).") from None
        return random_state

    def _estimator(self, content, depth):
        return self.estimator(content, depth)

    def _module_class(self, content, depth):
        cls = self.custom_modules.get(content) if type(content) is str else None
        if cls is None:
            short = content.rsplit(".", 1)[-1] if type(content) is str else "..."
            raise ValueError(
                f"the model uses the custom module class {_short(content)}: pass it to "
                f"load, skae.load(path, custom_modules=[{short}]) (got "
                f"{sorted(self.custom_modules)})."
            )
        return cls

    #: tag -> the method decoding it; a tag is never looked up any other way.
    _TAGS = {
        f"__{kind}__": f"_{kind}"
        for kind in ("tuple", "dict", "float", "scalar", "strings", "ndarray", "tensor",
                     "random_state", "estimator", "module_class")
    }

    def estimator(self, spec, depth):
        _check_keys(spec, {"class", "params", "attributes", "network"}, "an estimator")
        name = spec["class"]
        cls = _CLASSES.get(name) if type(name) is str else None
        if cls is None:
            raise ValueError(
                f"the file names class {_short(name)}; skae.load builds only "
                f"{sorted(_CLASSES)}."
            )
        params = spec["params"]
        absent = set(self.absent.get(name, ()))
        _check_keys(params, set(cls._get_param_names()) - absent, f"{name}'s parameters")
        estimator = cls(**{key: self.value(v, depth + 1) for key, v in params.items()})
        # The hooks below only ever see valid parameters; the net built below runs
        # the callbacks.
        _check_parameters(estimator, "malformed skae model file")

        attributes = spec["attributes"]
        if type(attributes) is not dict:
            raise ValueError("malformed skae model file: attributes are not a JSON object.")
        loaded = set()
        for key, value in attributes.items():
            key = self.renamed.get(key, key)
            if (
                key in loaded  # under its old name and its new one
                or not key.isidentifier()
                or key.startswith("__")
                or key in params
                or key in _NETWORK_ATTRIBUTES
                or key in _NOT_SAVED  # caches and watchers, never data of the model
                or hasattr(cls, key)  # a method or property would be shadowed
            ):
                raise ValueError(f"malformed skae model file: unexpected attribute {key!r}.")
            setattr(estimator, key, self.value(value, depth + 1))
            loaded.add(key)
        lacking = [key for key in self.required.get(name, ()) if key not in attributes]
        if attributes and lacking:
            raise ValueError(
                f"malformed skae model file: the fitted {name} of a format-version-"
                f"{self.version} file lacks attributes {lacking}."
            )
        for key in self.added.get(name, ()) if attributes else ():
            # An older file's model without it: None, what its absence meant (no
            # centring, no transform), so that saved again, as a current file
            # that must hold it, the model loads and scores as it did.
            if key not in attributes:
                setattr(estimator, key, None)
        if "device_" in attributes:
            estimator.device_ = self.device
        if "n_neighbors" in absent and getattr(estimator, "anomaly_score_", None) == "local":
            # Fitted before the count was a parameter: with its default, as then.
            estimator.n_neighbors_ = estimator.n_neighbors
        if attributes or spec["network"] is not None:
            try:
                check_fitted_state(estimator)
            except ValueError as exc:
                raise ValueError(f"malformed skae model file: {exc}") from None

        network = spec["network"]
        if network is not None:
            if not isinstance(estimator, _BaseAutoencoder):
                raise ValueError(f"malformed skae model file: a {name} has no network.")
            self.network(estimator, network, depth + 1)
            # The network was built from these parameters (partial_fit checks them).
            estimator._record_first_call_params()
        elif isinstance(estimator, _BaseAutoencoder) and attributes:
            raise ValueError(f"malformed skae model file: the fitted {name} has no network.")
        return estimator

    def network(self, estimator, network, depth):
        """Rebuild ``estimator.net_`` through its hooks and load the saved state."""
        _check_keys(network, {"module", "optimizer", "history"}, "the network")
        state = self.value(network["module"], depth)
        if type(state) is not dict or not all(isinstance(v, torch.Tensor) for v in state.values()):
            raise ValueError("malformed skae model file: the weights are not a dict of tensors.")
        n_features = estimator.n_features_in_
        if type(n_features) is not int or n_features < 1:
            raise ValueError(f"malformed skae model file: n_features_in_={_short(n_features)}.")
        if not {"normalize.loc", "normalize.scale"} <= set(state):
            raise ValueError("malformed skae model file: the input normalisation is missing.")
        loc, scale = state["normalize.loc"], state["normalize.scale"]
        # The network is built around these (it never checks them against the
        # weights): as fit computes them, a float32 centre per feature and one
        # positive spread, or one per feature. Another shape broadcasts into
        # wrong results or fails only at transform.
        if not (
            loc.dtype == scale.dtype == torch.float32
            and loc.shape == (n_features,)
            and scale.shape in ((1,), (n_features,))
            and bool(torch.isfinite(loc).all())
            and bool(torch.isfinite(scale).all())
            and bool((scale > 0).all())
        ):
            raise ValueError(
                "malformed skae model file: the input normalisation is not what fit produces: "
                f"loc of shape {tuple(loc.shape)} and scale of shape {tuple(scale.shape)} "
                f"({loc.dtype}, {scale.dtype}) for {n_features} features; fit gives float32 "
                f"loc of shape ({n_features},) and a positive, finite scale of shape (1,) or "
                f"({n_features},)."
            )

        def build():
            return estimator._build_module(n_features, loc.numpy(), scale.numpy())

        # The weights are checked before the network they fit is allocated.
        expected = _state_on_meta_device(estimator, build)
        if expected is not None:
            _check_weights(state, expected)
        # Building draws random initial weights (overwritten below): from a generator
        # of its own, so the caller's global RNG stays untouched.
        module = build_seeded(build, torch.Generator())
        if expected is None:
            _check_weights(state, module.state_dict())
        module.load_state_dict(state, strict=True)

        optimizer = self.value(network["optimizer"], depth)
        history = self.value(network["history"], depth)
        if type(history) is not list or not all(type(row) is dict for row in history):
            raise ValueError("malformed skae model file: the history is not a list of dicts.")
        monitor = ConvergenceMonitor(
            "train_loss", patience=estimator.n_iter_no_change, tol=estimator.tol
        )
        net = estimator._make_net(module, estimator._seed, monitor)
        net.initialize()
        # Whether Adam's fused kernel runs depends on the device loaded on, not saved on.
        fused = [group.get("fused") for group in net.optimizer_.param_groups]
        state = _optimizer_state_by_index(optimizer, net.optimizer_, net.module_)
        try:
            net.optimizer_.load_state_dict(state)
        except (TypeError, ValueError, KeyError, RuntimeError) as exc:
            raise ValueError(f"malformed skae model file: bad optimizer state ({exc}).") from None
        for group, value in zip(net.optimizer_.param_groups, fused):
            group["fused"] = value
        net.history = History(history)
        net.module_.eval()
        estimator.net_ = net
        estimator.history_ = net.history
