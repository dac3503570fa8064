"""Export fitted skae estimators to ONNX, to serve them where PyTorch is not installed.

:func:`to_onnx` turns one method of a fitted estimator into an
``onnx.ModelProto``: input ``"X"`` (float32 rows, any number of them, or
float64 rows with ``dtype=np.float64``), the input normalisation inside the
graph, outputs in the dtypes skae returns for input of that dtype.
:func:`register_skl2onnx_converters` teaches skl2onnx the three estimators,
so that a whole scikit-learn pipeline around them converts with
``skl2onnx.to_onnx``, on float or double input. Neither runs on ``import
skae``: this module, onnx and skl2onnx are imported only when you ask for
them.

The graph is what skae itself computes: each method's computation on a chunk
of rows (``_chunk_function``) is traced by PyTorch's TorchScript-based ONNX
exporter from the fitted network, so the ONNX model and skae cannot drift
apart. Needs the ``onnx`` extra (``pip install "skae[onnx]"``: onnx, and
onnxruntime and skl2onnx to run and to convert pipelines).
"""

import copy
import io
import warnings

import numpy as np
import torch
from sklearn.utils.validation import check_is_fitted

from ._autoencoder import AutoencoderTransformer
from ._base import _BaseAutoencoder
from ._outlier import (
    _NEIGHBOUR_SCORES,
    ReconstructionOutlierDetector,
    combined_score,
    embed_codes,
    hotelling_t2,
    local_score,
    overflowed_as_outliers,
    yeo_johnson,
)
from ._neighborhood import neighborhood_score, reference_scale, tie_tolerance, tie_weights
from ._vae import VAETransformer

__all__ = ["register_skl2onnx_converters", "to_onnx"]

#: The opset of ``to_onnx``'s models, unless asked otherwise.
DEFAULT_OPSET = 18
#: The newest opset PyTorch's TorchScript-based exporter writes.
_MAX_OPSET = 20
#: The first opset whose graphs slice to a number of rows they compute, as
#: ``_Rows`` does for networks other than the built-in MLP.
_SPARE_ROW_OPSET = 10

_TRANSFORMER_METHODS = ("transform", "inverse_transform", "score_samples")
_DETECTOR_METHODS = ("score_samples", "decision_function", "predict")
#: The transformers exported, alone or inside a detector (exact classes, not subclasses).
_TRANSFORMERS = (AutoencoderTransformer, VAETransformer)
#: The dtypes of the rows a graph takes: those skae's estimators compute on without a copy.
_INPUT_DTYPES = ("float32", "float64")


def _tensor(array, dtype=np.float64):
    return torch.as_tensor(np.asarray(array, dtype=dtype))


def _cast(x, dtype):
    """``x`` in ``dtype``; ``x`` itself (no Cast node in the graph) if it has it already."""
    return x if x.dtype == dtype else x.to(dtype)


def _network(estimator):
    """A CPU copy of the fitted network in evaluation mode (``torch.compile`` unwrapped)."""
    module = estimator.net_.module_
    module = getattr(module, "_orig_mod", module)
    return copy.deepcopy(module).cpu().eval()


class _Rows(torch.nn.Module):
    """A module on rows: its ``rows`` (in subclasses) computes one result per row.

    ``forward`` computes them on a batch of no rows too, as results of no rows:
    onnxruntime's GRU and LSTM kernels abort the process on an empty batch, and
    reshapes to ``(0, -1)`` (a convolutional body's, a ``GroupNorm``'s) fail on
    one. For networks other than the built-in MLP, such a batch gets one zero
    row, whose results are dropped; any other batch, none, so the graph
    computes it as it is. The MLP computes an empty batch as any other, and
    its answer to one row is quick enough for the spare row's few operators
    to add to its time noticeably.
    """

    def __init__(self, estimator):
        super().__init__()
        self.spare_row = not estimator._builtin_mlp()

    def forward(self, x):
        if not self.spare_row:
            return self.rows(x)
        # Slicing to a number of rows computed in the graph takes opset 10
        # (_SPARE_ROW_OPSET).
        n = x.shape[0]  # traced, a tensor: the graph's batch size
        at_least_one = torch.clamp(n, min=1) if isinstance(n, torch.Tensor) else max(n, 1)
        results = self.rows(torch.cat([x, x.new_zeros((1, x.shape[1]))])[:at_least_one])
        if isinstance(results, tuple):
            return tuple(result[:n] for result in results)
        return results[:n]


class _TransformerGraph(_Rows):
    """One method of a fitted transformer, as a module on float32 or float64 rows."""

    def __init__(self, estimator, method):
        super().__init__(estimator)
        self.network = _network(estimator)
        self.method = method
        self.function = estimator._chunk_function(method, "cpu")

    def rows(self, x):
        # The network computes in float32 whatever the rows' dtype: skae's
        # _map_chunks casts each chunk, and the graph casts the same way.
        result = self.function(self.network, _cast(x, torch.float32))
        if self.method == "score_samples":
            # A row whose float32 pass overflows, which skae recomputes in float64,
            # has a likelihood below every float32 number: minus infinity, not NaN.
            return overflowed_as_outliers(result)
        # Codes and reconstructions in the rows' dtype, as skae returns them.
        return _cast(result, x.dtype)


class _DetectorGraph(_Rows):
    """A fitted detector's scores (and labels) on rows of ``dtype``, as a module.

    ``outputs`` names what ``forward`` returns: one of ``_DETECTOR_METHODS``,
    or ``"label_and_decision"`` (skl2onnx's two outputs of an outlier detector).
    """

    def __init__(self, detector, outputs, dtype):
        inner = detector.estimator_
        super().__init__(inner)
        self.outputs = outputs
        self.network = _network(inner)
        scale = detector.scale_
        power = getattr(detector, "power_transform_", None)
        center = getattr(detector, "center_", None)  # absent from older files
        # As the detector: rows transformed and scaled in their own dtype
        # (_power, _divide), the network in float32, statistics in float64.
        self.register_buffer("power", None if power is None else _tensor(power, dtype))
        self.register_buffer("center", None if center is None else _tensor(center, dtype))
        self.register_buffer(
            "inverse_scale", None if scale is None else _tensor(1.0 / scale, dtype)
        )
        self.register_buffer("offset", _tensor(detector.offset_))
        self.statistic = detector.anomaly_score_
        if self.statistic == "estimator":
            self.score = inner._chunk_function("score_samples", "cpu")
            return
        self.error = inner._chunk_function("reconstruction_error", "cpu")
        self.encode = inner._chunk_function("transform", "cpu")
        self.register_buffer("latent_mean", _tensor(detector.latent_mean_))
        self.register_buffer("latent_precision", _tensor(detector.latent_precision_))
        self.register_buffer("control_limits", _tensor(detector.control_limits_))
        if self.statistic in _NEIGHBOUR_SCORES:
            self.register_buffer("latent_metric", _tensor(detector.latent_metric_))
            reference = _tensor(detector.reference_codes_)
            self.register_buffer("reference", reference)
            self.register_buffer("reference_norms", (reference ** 2).sum(dim=1))
            self.n_neighbors = min(detector.n_neighbors_, len(reference))
        if self.statistic == "neighborhood":
            self.register_buffer("reference_scores", _tensor(detector.reference_scores_))
            # Each reference code holds one reference row (skae's TiedNeighbours
            # groups duplicates; the graph weighs every row).
            self.register_buffer("reference_counts", torch.ones_like(self.reference_scores))
            self.reference_scale = reference_scale(detector.reference_codes_)

    def rows(self, x):
        if self.power is not None:
            x = yeo_johnson(x, *self.power)
        if self.center is not None:
            x = x - self.center
        if self.inverse_scale is not None:
            x = x * self.inverse_scale
        # A row scaled beyond float32's range, which _divide clips to its largest
        # number, is infinite here (the product, or the cast of a float64 row):
        # the network overflows on it as on the clipped row, and the graph scores
        # it -inf (overflowed_as_outliers), as to_onnx documents.
        x = _cast(x, torch.float32)
        if self.statistic != "estimator":
            codes = self.encode(self.network, x).double()
            spe = self.error(self.network, x)
            if self.statistic == "combined":
                t2 = hotelling_t2(codes, self.latent_mean, self.latent_precision)
                scores = combined_score(spe, t2, self.control_limits)
            else:
                embedded = embed_codes(codes, self.latent_mean, self.latent_metric)
                gaps = self._squared_distances(embedded)
                nearest, _ = torch.topk(gaps, self.n_neighbors, dim=1, largest=False)
                # Rounding can take a zero distance below 0 (Relu: a clamp at 0 with no
                # omitted optional input, which _insert would have to drop for skl2onnx).
                distance2 = torch.relu(nearest[:, -1])
                scores = local_score(spe, distance2, self.control_limits, codes.shape[1])
        else:
            scores = self.score(self.network, x)
        # skae recomputes in float64 a row whose float32 pass overflowed; the graph
        # cannot, and ranks the row last, as the detector does one whose codes overflow.
        scores = overflowed_as_outliers(scores)
        if self.statistic == "neighborhood":
            # Every reference row weighed: its nearest k, ties at the k-th shared, as skae's.
            weights = tie_weights(
                torch.sqrt(torch.relu(gaps)), torch.sqrt(distance2),
                tie_tolerance(embedded, self.reference_scale), self.reference_counts,
                self.n_neighbors,
            )
            scores = neighborhood_score(scores, self.reference_scores, weights)
        if self.outputs == "score_samples":
            return scores
        decision = scores - self.offset
        if self.outputs == "decision_function":
            return decision
        # predict: +1 inliers, -1 outliers (decision < 0), as the detector's
        label = torch.where(decision >= 0, 1, -1).to(torch.int64)
        return (label, decision) if self.outputs == "label_and_decision" else label


    def _squared_distances(self, embedded):
        """Each row's squared distance to every reference code, shape ``(N, n_reference)``."""
        return ((embedded ** 2).sum(dim=1, keepdim=True) - 2.0 * embedded @ self.reference.T
                + self.reference_norms)


def _input_dtype(dtype):
    """``dtype`` as the numpy dtype of one of ``_INPUT_DTYPES``, or a ``ValueError``."""
    try:
        # None is no dtype here, though numpy reads it as float64.
        resolved = None if dtype is None else np.dtype(dtype)
    except TypeError:
        resolved = None
    if resolved is None or resolved.name not in _INPUT_DTYPES:
        raise ValueError(
            f"dtype must be np.float32 or np.float64 (or 'float32', 'float64'), got {dtype!r}."
        )
    # In native byte order: a graph's input type has none (">f8" is float64 too).
    return np.dtype(resolved.name)


def _graph(estimator, method, dtype):
    """``(module, n_inputs, outputs)`` computing ``method`` of the fitted ``estimator``
    on rows of ``dtype``.

    ``outputs``: the name of each of the module's outputs and its width, the
    number of values per row (None for one value: an output of shape ``(N,)``).
    """
    if type(estimator) not in (*_TRANSFORMERS, ReconstructionOutlierDetector):
        raise TypeError(
            f"skae.onnx exports skae's estimators, got {type(estimator).__name__}."
        )
    check_is_fitted(estimator)
    inner = getattr(estimator, "estimator_", None)
    if inner is not None and type(inner) not in _TRANSFORMERS:
        raise TypeError(
            "skae.onnx exports a ReconstructionOutlierDetector over skae's transformers, "
            f"got one over {type(inner).__name__}."
        )
    if isinstance(estimator, _BaseAutoencoder):
        if method not in _TRANSFORMER_METHODS:
            raise ValueError(
                f"method must be one of {_TRANSFORMER_METHODS} for {type(estimator).__name__}, "
                f"got {method!r}."
            )
        n_inputs, width = estimator.n_features_in_, estimator.n_components_
        if method == "inverse_transform":
            n_inputs, width = width, n_inputs
        elif method == "score_samples":
            width = None
        return _TransformerGraph(estimator, method), n_inputs, [(method, width)]
    if method not in (*_DETECTOR_METHODS, "label_and_decision"):
        raise ValueError(
            f"method must be one of {_DETECTOR_METHODS} for ReconstructionOutlierDetector, "
            f"got {method!r}."
        )
    names = ["label", "scores"] if method == "label_and_decision" else [method]
    outputs = [(name, None) for name in names]
    return _DetectorGraph(estimator, method, dtype), estimator.n_features_in_, outputs


def _logaddexp(g, a, b):
    """ONNX for ``torch.logaddexp`` (which PyTorch's exporter lacks), as PyTorch computes it.

    ``max(a, b) + log(1 + exp(-|a - b|))``; the Gaussian likelihood's
    variance floor uses it.
    """
    gap = g.op("Neg", g.op("Abs", g.op("Sub", a, b)))
    one = g.op("Constant", value_t=torch.tensor(1.0))
    return g.op("Add", g.op("Max", a, b), g.op("Log", g.op("Add", one, g.op("Exp", gap))))


def _export(module, n_inputs, outputs, opset, dtype):
    onnx = _import("onnx")
    if module.spare_row and opset < _SPARE_ROW_OPSET:
        # At opsets 7 and 8 PyTorch's exporter would also write a GRU's or an
        # LSTM's initial state with ConstantFill, which ONNX has removed: onnx.checker
        # passes it, and onnxruntime refuses the file only where it is served.
        raise ValueError(
            f"opset must be {_SPARE_ROW_OPSET} or later for networks other than the "
            f"built-in MLP, got {opset}: their graph answers an empty batch, which "
            "onnxruntime cannot compute with their layers, by slicing to a number of rows "
            f"it computes (opset {_SPARE_ROW_OPSET})."
        )
    output_names = [name for name, _ in outputs]
    # Registered for this exporter only, and again on every export (idempotent).
    torch.onnx.register_custom_op_symbolic("aten::logaddexp", _logaddexp, 9)
    buffer = io.BytesIO()
    with warnings.catch_warnings():
        # The TorchScript-based exporter is deprecated in favour of the
        # torch.export-based one, which needs onnxscript and is slower; the
        # graphs here are static, which the TorchScript exporter traces well.
        warnings.simplefilter("ignore", DeprecationWarning)
        # The tracer warns where a tensor becomes a Python value, which the graph
        # then holds as the constant it was on the probe rows. In skae's and
        # torch's code these are the fixed shapes of the network; in a user's
        # module it may be a value of the data, the graph wrong for other rows:
        # those warnings are the caller's to see.
        warnings.filterwarnings("ignore", category=torch.jit.TracerWarning,
                                module=r"(skae|torch)\.")
        # GRU/LSTM: the exporter warns that a batch size other than the traced
        # one "can" fail; skae's recurrent bodies build their initial states from
        # the input's shape, and the tests run every network on 1 and 40 rows.
        warnings.filterwarnings("ignore", "Exporting a model to ONNX with a batch_size")
        torch.onnx.export(
            module,
            (_tensor(np.zeros((2, n_inputs)), dtype),),
            buffer,
            dynamo=False,
            input_names=["X"],
            output_names=output_names,
            dynamic_axes={name: {0: "N"} for name in ["X", *output_names]},
            opset_version=opset,
        )
    model = onnx.load_model_from_string(buffer.getvalue())
    # The exporter names a width it cannot follow through a reshape (a
    # recurrent or 1-D convolutional decoder's output) as a free dimension,
    # "Addinverse_transform_dim_1": declared, a runtime checks it and a server
    # can size its buffers.
    for output, (_, width) in zip(model.graph.output, outputs):
        if width is not None:
            output.type.tensor_type.shape.dim[1].dim_value = width
    return model


def _import(name):
    import importlib

    try:
        return importlib.import_module(name)
    except ImportError as exc:
        raise ImportError(
            f"skae.onnx needs {name}: pip install 'skae[onnx]' (onnx, onnxruntime, skl2onnx)."
        ) from exc


def to_onnx(estimator, method="transform", *, opset=DEFAULT_OPSET, dtype=np.float32):
    """Export one method of a fitted skae estimator as an ONNX model.

    The model takes rows of ``dtype`` (float32 unless asked otherwise) as
    input ``"X"`` of shape ``(N, n_features)`` -- for
    :meth:`~AutoencoderTransformer.inverse_transform`, codes of shape
    ``(N, n_components)`` -- with a dynamic batch size ``N``, and returns the
    method's result as output named after the method (of shape
    ``(N, n_components)``, ``(N, n_features)`` or ``(N,)``, as the graph
    declares), in the dtype skae
    returns for input of that dtype: codes and reconstructions in the input's
    dtype (float32 numbers, which the network computes, in either), float64
    scores (computed in float64 as skae computes them), int64 labels. The
    input normalisation, the network and (for the detector) the feature
    scaling, the threshold and the labels are inside the graph. onnxruntime
    reproduces skae's results to float32 precision (tested to 1e-5, relative,
    or absolute for values near zero), except on rows so far from the training
    data that the network's float32 pass overflows: skae recomputes them in
    float64 (a finite, huge negative score), the graph scores them ``-inf``;
    both rank them last, and the detector labels them outliers. A row whose
    ``decision_function`` is within that precision of 0 may be labelled
    differently (constant training data put every row at exactly 0 in skae,
    an inlier, and at about -1e-16 in the graph). The detector's
    ``anomaly_score_="neighborhood"`` averages over a row's ``n_neighbors_``
    nearest reference codes, and reference codes tied at the last of those
    distances (discrete features put codes on a lattice) share its place
    equally, in skae and in the graph alike, so the two agree on discrete
    data too. The graph weighs every reference code for every row: it holds
    a few float64 matrices of ``N`` by the number of reference codes (up to
    100,000), so score large batches in slices.

    Export with the dtype of the rows you will serve. The graph computes what
    skae computes on rows of its dtype. On float64 rows that is, for the
    detector, the Yeo-Johnson transform (``power_transform_``), the centring
    (``center_``) and the division by ``scale_`` in float64, then the network
    in float32, as :class:`ReconstructionOutlierDetector` does before its
    network's cast; for the transformers, the cast to float32 first, as
    theirs does. Rows far from 0 relative to their spread lose digits in a
    cast to float32 that the detector's float64 centring keeps (and, on
    discrete data, the ties between their codes): on such float64 rows the
    float32 graph's scores are not the detector's (up to 14 % apart,
    relative, on the tests' discrete rows 1e5 from 0 with a spread of about
    1), and the float64 graph's are, to float32 precision.

    Parameters
    ----------
    estimator : AutoencoderTransformer, VAETransformer or ReconstructionOutlierDetector
        A fitted estimator.
    method : str, default="transform"
        ``"transform"``, ``"inverse_transform"`` or ``"score_samples"`` for the
        transformers; ``"score_samples"``, ``"decision_function"`` or
        ``"predict"`` (int64 labels) for :class:`ReconstructionOutlierDetector`.
    opset : int, default=18
        ONNX opset version, from 7 to 20. From 13 every network skae builds
        exports; at an earlier opset one that needs a later operator raises
        (PyTorch's error naming it, or a ``ValueError``): networks other than
        the built-in MLP need opset 10, the 2-D convolutional decoder 13.
    dtype : {np.float32, np.float64}, default=np.float32
        The dtype of the input ``"X"`` (for ``inverse_transform``, of the
        codes), or a name numpy reads as one of them (``"float64"``); any
        other value is a ``ValueError``.

    Returns
    -------
    model : onnx.ModelProto
        Save it with ``onnx.save`` or run it with ``onnxruntime``.

    Notes
    -----
    :class:`VAETransformer`'s ``score_samples`` is exported with its fixed
    importance-sampling draws (drawn at fit time from ``random_state``) as
    constants, so it equals skae's deterministic estimate; the graph holds
    one decoder pass per draw (``n_importance_samples``). Every architecture
    exports (``"mlp"``, ``"conv"``, ``"gru"``, ``"lstm"``), and custom
    ``encoder`` / ``decoder`` modules when PyTorch's TorchScript-based
    exporter supports their operations. The exporter traces the network on
    probe rows: a custom module that turns a tensor's value into a Python
    number or condition (``float(h.max())``, ``if h.sum() > 0``) is recorded
    with the value it had on them, and the graph is wrong for other rows;
    PyTorch's ``TracerWarning``, passed on for such a module, says where.
    Images and sequences enter as their rows, the C-order flattening of each
    sample, and ``inverse_transform`` returns rows too; the runtime refuses
    input of another rank or width, such as the samples themselves. A batch
    of no rows, which skae's methods refuse, gives results of no rows.

    The graph does not validate its rows as skae does: a NaN or an infinity
    (or, in a float64 graph, a value beyond float32's range), which skae
    refuses with a ``ValueError``, gives NaN codes and reconstructions, and a
    score of ``-inf`` (the detector labels the row an outlier). Check the
    rows before serving them where that matters.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> from skae import AutoencoderTransformer
    >>> from skae.onnx import to_onnx
    >>> X = np.random.RandomState(0).rand(100, 5).astype(np.float32)
    >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
    >>> model = to_onnx(ae, "transform")
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> (codes,) = session.run(None, {"X": X})
    >>> bool(np.allclose(codes, ae.transform(X), atol=1e-5))
    True

    For float64 rows, a float64 graph; codes come back in float64, as skae's:

    >>> model = to_onnx(ae, "transform", dtype=np.float64)
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> (codes,) = session.run(None, {"X": X.astype(np.float64)})
    >>> codes.dtype
    dtype('float64')
    """
    dtype = _input_dtype(dtype)
    if not 7 <= opset <= _MAX_OPSET:
        raise ValueError(f"opset must be between 7 and {_MAX_OPSET}, got {opset}.")
    module, n_inputs, outputs = _graph(estimator, method, dtype)
    model = _export(module, n_inputs, outputs, opset, dtype)
    model.doc_string = f"skae {type(estimator).__name__}.{method}"
    return model


# --------------------------------------------------------------- skl2onnx
def register_skl2onnx_converters():
    """Register skl2onnx converters for skae's three estimators.

    Afterwards ``skl2onnx.to_onnx`` converts pipelines holding them: a
    transformer becomes its ``transform``; the detector gives skl2onnx's two
    outlier-detector outputs, ``label`` (int64, :meth:`predict`) and
    ``scores`` (:meth:`decision_function`), both of shape ``(N,)``. Double
    input gets the graph of :func:`to_onnx` with ``dtype=np.float64`` (the
    detector transforms, centres and scales double rows in double, as skae
    does float64 rows), float input the float32 graph. The other outputs have
    the input's dtype (float or double); the network computes in float32.
    Registering is explicit: importing skae never touches skl2onnx.
    Calling it again is harmless.

    Examples
    --------
    >>> import numpy as np
    >>> import onnxruntime
    >>> import skl2onnx
    >>> from sklearn.pipeline import make_pipeline
    >>> from sklearn.preprocessing import StandardScaler
    >>> from skae import AutoencoderTransformer
    >>> from skae.onnx import register_skl2onnx_converters
    >>> register_skl2onnx_converters()
    >>> X = np.random.RandomState(0).rand(100, 5).astype(np.float32)
    >>> pipe = make_pipeline(
    ...     StandardScaler(), AutoencoderTransformer(2, max_epochs=3, random_state=0)
    ... ).fit(X)
    >>> model = skl2onnx.to_onnx(pipe, X[:1])
    >>> session = onnxruntime.InferenceSession(model.SerializeToString())
    >>> (codes,) = session.run(None, {"X": X})
    >>> bool(np.allclose(codes, pipe.transform(X), atol=1e-5))
    True
    """
    skl2onnx = _import("skl2onnx")
    for cls in _TRANSFORMERS:
        skl2onnx.update_registered_converter(
            cls, f"Skae{cls.__name__}", _transformer_shape, _convert_transformer
        )
    skl2onnx.update_registered_converter(
        ReconstructionOutlierDetector, "SkaeReconstructionOutlierDetector",
        _detector_shape, _convert_detector,
    )


def _input_type(operator):
    from skl2onnx.common.data_types import DoubleTensorType, FloatTensorType

    kind = type(operator.inputs[0].type)
    if kind not in (FloatTensorType, DoubleTensorType):
        raise TypeError(
            f"{type(operator.raw_operator).__name__} converts float or double input, "
            f"got {kind.__name__}."
        )
    return kind


def _transformer_shape(operator):
    kind = _input_type(operator)
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = kind([n_rows, operator.raw_operator.n_components_])


def _detector_shape(operator):
    from skl2onnx.common.data_types import Int64TensorType

    kind = _input_type(operator)
    n_rows = operator.inputs[0].get_first_dimension()
    operator.outputs[0].type = Int64TensorType([n_rows])
    operator.outputs[1].type = kind([n_rows])


def _convert_transformer(scope, operator, container):
    _insert(scope, operator, container, "transform")


def _convert_detector(scope, operator, container):
    _insert(scope, operator, container, "label_and_decision")


#: ONNX's recurrent layers, whose input 4 is the length of each sequence.
_RECURRENT_OPS = ("RNN", "GRU", "LSTM")


def _whole_sequence_lengths(scope, container, sequences, opset):
    """The name of an int32 tensor holding, for each sequence, its number of steps.

    ``sequences``: a recurrent node's input, of shape ``(steps, batch, features)``.
    """
    from onnx import TensorProto

    def name(base):
        return scope.get_unique_variable_name(f"skae_{base}")

    def add(op_type, inputs, **attributes):
        output = name(f"{op_type.lower()}_output")
        container.add_node(op_type, inputs, [output], op_version=opset,
                           name=scope.get_unique_operator_name(f"Skae{op_type}"), **attributes)
        return output

    first, second = name("steps_axis"), name("batch_axis")
    container.add_initializer(first, TensorProto.INT64, [], [0])
    container.add_initializer(second, TensorProto.INT64, [1], [1])
    shape = add("Shape", [sequences])
    steps, batch = add("Gather", [shape, first]), add("Gather", [shape, second])
    return add("Cast", [add("Expand", [steps, batch])], to=TensorProto.INT32)


def _insert(scope, operator, container, method):
    """Export ``method`` of the operator's estimator and copy its graph into ``container``.

    Every name of the exported graph is made unique in the pipeline's scope.
    The graph takes the input's dtype (float64 for double input, as
    :func:`to_onnx`'s ``dtype``); outputs are cast to the types the shape
    calculator declared (the input's) where the graph's differ (a float
    detector's float64 scores).
    """
    from onnx import helper, numpy_helper
    from skl2onnx.common.data_types import DoubleTensorType

    opset = min(container.target_opset or _MAX_OPSET, _MAX_OPSET)
    double = isinstance(operator.inputs[0].type, DoubleTensorType)  # else float (_input_type)
    dtype = np.dtype(np.float64 if double else np.float32)
    module, n_inputs, outputs = _graph(operator.raw_operator, method, dtype)
    graph = _export(module, n_inputs, outputs, opset, dtype).graph
    names = {"": ""}  # an omitted optional input keeps its empty name

    def unique(name):
        if name not in names:
            names[name] = scope.get_unique_variable_name(f"skae_{name}")
        return names[name]

    names[graph.input[0].name] = operator.inputs[0].full_name
    for output, variable in zip(graph.output, operator.outputs):
        if output.type.tensor_type.elem_type == variable.type.to_onnx_type().tensor_type.elem_type:
            names[output.name] = variable.full_name
    for initializer in graph.initializer:
        array = numpy_helper.to_array(initializer)
        container.add_initializer(unique(initializer.name), initializer.data_type,
                                  list(array.shape), numpy_helper.from_array(array))
    for node in graph.node:
        attributes = {a.name: helper.get_attribute_value(a) for a in node.attribute}
        inputs = [unique(name) for name in node.input]
        outputs = [unique(name) for name in node.output]
        # skl2onnx orders the nodes by their inputs' names, and no node makes the
        # empty name of an omitted optional input: trailing ones are left out (as
        # ONNX allows), and a recurrent layer's sequence lengths (input 4, which
        # torch omits: every sequence is whole) are computed instead.
        if node.op_type in _RECURRENT_OPS and len(inputs) > 4 and not inputs[4]:
            inputs[4] = _whole_sequence_lengths(scope, container, inputs[0], opset)
        while inputs and not inputs[-1]:
            inputs.pop()
        while outputs and not outputs[-1]:
            outputs.pop()
        if "" in inputs or "" in outputs:
            raise NotImplementedError(
                f"skl2onnx cannot place the omitted optional inputs or outputs of the "
                f"exported {node.op_type} node; export the estimator alone with "
                "skae.onnx.to_onnx."
            )
        container.add_node(
            node.op_type,
            inputs,
            outputs,
            op_domain=node.domain,
            op_version=opset,
            name=scope.get_unique_operator_name(f"Skae{node.op_type}"),
            **attributes,
        )
    for output, variable in zip(graph.output, operator.outputs):
        if names[output.name] != variable.full_name:
            container.add_node("Cast", [names[output.name]], [variable.full_name],
                               to=variable.type.to_onnx_type().tensor_type.elem_type,
                               name=scope.get_unique_operator_name("Cast"))
