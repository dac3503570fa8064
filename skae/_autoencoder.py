"""``AutoencoderTransformer``: a nonlinear PCA trained by reconstruction."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import StrOptions, validate_params
from sklearn.utils.validation import check_is_fitted

from ._architectures import DEFAULT_HIDDEN_LAYER_SIZES, IMAGE_NORM_GROUPS, auto_training
from ._base import (
    NumberInterval,
    _BaseAutoencoder,
    _check_unit_interval,
    _decoder_start_at,
    _in_unit_interval,
    _value_range,
    lazy_on_dask,
)
from ._modules import Autoencoder
from ._objectives import ReconstructionLoss
from ._random import build_seeded
from ._streaming import merge_moments


class AutoencoderTransformer(_BaseAutoencoder):
    """Autoencoder for nonlinear dimensionality reduction, used as PCA is.

    An encoder network maps each row to ``n_components`` codes and a decoder
    maps codes back; both are trained (through skorch) to reconstruct the input.
    By default the network starts at PCA's solution -- a linear path initialised
    with the principal axes plus a nonlinear residual MLP whose last layer
    starts at zero -- so training only improves on PCA, and early stopping on a
    validation split keeps the best epoch (PCA's solution included). The
    codes start as PCA's scores divided by one common scale, the root of
    their mean variance: PCA's geometry (a nearest-neighbour classifier on the
    codes sees PCA's distances), not whitened. A component's sign may differ
    from :class:`~sklearn.decomposition.PCA`'s (which flips each to a
    convention); it is fixed for given data and ``random_state``.

    Parameters
    ----------
    n_components : int, default=2
        Number of codes (latent dimensions); at most ``n_features`` and the
        number of training samples, as for PCA.

    input_shape : tuple of int or None, default=None
        The shape of one sample, channels first: ``(C, H, W)`` for images,
        ``(C, T)`` for sequences of ``T`` steps with ``C`` channels. Rows of
        ``X`` are the samples' C-order flattenings (``n_features =
        C * H * W``); arrays of shape ``(n_samples, *input_shape)`` are
        accepted too, and then :meth:`inverse_transform` and :meth:`sample`
        return that shape. ``None``: the shape of a rank-3 or rank-4 ``X``,
        else flat rows for ``architecture="mlp"`` and univariate sequences
        ``(1, n_features)`` for the others.

    architecture : {"mlp", "conv", "gru", "lstm"}, default="mlp"
        The nonlinear body beside the linear (PCA) path of encoder and
        decoder. ``"mlp"``: fully connected layers. ``"conv"``: stride-2
        convolutions (2-D for ``(C, H, W)``, 1-D for ``(C, T)``) and a linear
        layer to the code; the decoder mirrors them with transposed
        convolutions back to the exact input size. ``"gru"``, ``"lstm"``:
        recurrent layers over the ``T`` steps of ``(C, T)`` samples, whose
        last state gives the code; the decoder unrolls the code back over
        the ``T`` steps. See the user guide.

    hidden_layer_sizes : tuple of int, int or "auto", default="auto"
        Widths of the encoder body's layers -- units (``"mlp"``), channels
        (``"conv"``) or hidden state sizes (``"gru"``, ``"lstm"``); the decoder
        mirrors them. ``"auto"``: ``(256, 128)`` for ``"mlp"``, ``(32, 64)``
        for ``"conv"``, ``(64,)`` for ``"gru"`` and ``"lstm"``. ``()`` gives a
        linear autoencoder (PCA's subspace); an int, one hidden layer of that
        width. On images, a convolution whose
        feature maps have shrunk to 1 x 1 needs a channel count other than 1,
        2, 4 or 8, or its ``GroupNorm`` would normalise single values (``fit``
        raises ``ValueError``; see the user guide).

    activation : {"relu", "gelu", "silu", "elu", "leaky_relu", "tanh"}, default="relu"
        Hidden activation of the MLP and convolutional bodies (recurrent
        cells have their own).

    dropout : float, default=0.0
        Dropout probability after each hidden activation (between recurrent
        layers), in training only.

    encoder : torch.nn.Module subclass or instance, default=None
        Your own encoder body instead of the architecture's. It gets the
        normalised input viewed as ``(batch, *input_shape_)`` and returns
        features of shape ``(batch, ...)``, any width; skae flattens them and
        adds a linear layer to the code (started at zero), beside the linear
        path. A class is built with ``encoder_kwargs`` in ``fit``; an instance
        is deep-copied in ``fit`` (yours is never trained). Checked on a dummy
        batch in ``fit``: a wrong interface raises ``ValueError`` naming the
        shapes. It must compute in float32.

    encoder_kwargs : dict, default=None
        Keyword arguments of ``encoder`` when it is a class.

    decoder : torch.nn.Module subclass or instance, default=None
        Your own decoder body: it gets codes of shape ``(batch,
        n_components)`` and returns ``(batch, *input_shape_)`` or ``(batch,
        n_features)``, in the network's units (normalised input; logits for
        a Bernoulli likelihood). Its output is multiplied by a learnable
        scalar gate started at 0 and added to the linear path. Built or
        copied as ``encoder``.

    decoder_kwargs : dict, default=None
        Keyword arguments of ``decoder`` when it is a class.

    loss : {"auto", "mse", "bce"}, default="auto"
        Training objective. ``"mse"``: squared error (a Gaussian likelihood with
        fixed variance). ``"bce"``: binary cross-entropy for data in [0, 1]; the
        decoder then outputs probabilities. ``fit`` rejects data outside [0, 1]
        (beyond an end by more than float32's resolution, as below);
        scoring (:meth:`score_samples`, :meth:`reconstruction_error`) is then
        binary cross-entropy too, and gives such rows an infinite error.
        ``"auto"``: binary cross-entropy when every training value lies in
        [0, 1] (images of grey levels, ``MinMaxScaler`` output; a value beyond
        an end by at most float32's resolution, ``2**-23``, as rounding leaves
        it, counts as in) and the body is the built-in MLP (no ``encoder`` or
        ``decoder`` given), else squared error -- but the model is *scored* by
        squared error either way, so a test value outside [0, 1] is no
        impossibility and ``GridSearchCV`` compares its ``score`` with that of
        ``"mse"`` models. Binary cross-entropy's network starts at the
        sigmoid's linearisation of PCA's solution, not at PCA's solution
        itself: when the trained network does not clearly beat PCA's squared
        error on the validation rows, the model returned is PCA's solution
        exactly, with the squared-error network's identity output (``loss_``
        then says ``"mse"``). :meth:`partial_fit`, which holds no rows out,
        resolves ``"auto"`` on its first chunk and keeps it, with no such
        fall-back; after binary cross-entropy, a later chunk outside [0, 1]
        raises a ``ValueError``. See :ref:`the user guide <unit_interval>`.

    noise : float, default=0.2
        Standard deviation of Gaussian corruption added to the (scaled) input
        during training: a denoising autoencoder. It regularises: by default
        the held-out error is lower than without it (see :ref:`ae-defaults`).
        Validation, early stopping and every inference method see the clean
        input. ``0`` disables it.

    input_scaling : {"global", "feature"} or None, default="global"
        Normalisation inside the network, computed in ``fit``. ``"global"``
        centres each feature and divides by one global scale, so the objective
        stays the squared error in the user's units, as PCA's; ``"feature"``
        standardises each feature (for mixed units, but it inflates
        near-constant features); ``None`` feeds raw values.

    init : {"pca", "random"}, default="pca"
        ``"pca"`` starts the network at PCA's solution; ``"random"`` uses
        PyTorch's default initialisation everywhere.

    learning_rate : float or "auto", default="auto"
        Adam's learning rate (the peak of a schedule). ``"auto"``: ``1e-3``,
        and ``5e-3`` for ``architecture="conv"`` on ``(C, H, W)`` samples
        (see :ref:`ae-defaults`).

    weight_decay : float, default=0.0
        Adam's L2 penalty.

    batch_size : int or "auto", default="auto"
        Mini-batch size. ``"auto"``: about ten optimizer steps per epoch,
        ``ceil(n_samples / 10)`` rows, but at least 8 and at most 200
        (``MLPRegressor``'s ``min(200, n_samples)`` gives small data one step
        per epoch), so data of 2,000 rows and more gets batches of 200, as
        do :meth:`partial_fit`'s chunks; at most 64 images for
        ``architecture="conv"`` on ``(C, H, W)`` samples (more steps per
        epoch trained it faster, see the user guide). Never larger
        than the training set, and the last, smaller batch is kept.

    max_epochs : int or "auto", default="auto"
        Maximum number of passes over the training data. ``"auto"``: 200, and
        25 for ``architecture="conv"`` on ``(C, H, W)`` samples, whose
        learning rate decays to zero over them.

    learning_rate_schedule : {"auto", "constant", "cosine"}, default="auto"
        How :meth:`fit` changes the learning rate from step to step.
        ``"constant"``: ``learning_rate`` throughout. ``"cosine"``: a linear
        warm-up to ``learning_rate`` over the first 5 % of the optimizer steps
        of ``max_epochs`` epochs, then a half-cosine decay to zero at the end of
        the last one, which ends training without a ``ConvergenceWarning``
        (early stopping may end it before). ``"auto"``: ``"cosine"`` for
        ``architecture="conv"`` on ``(C, H, W)`` samples, else ``"constant"``.
        :meth:`partial_fit` always keeps the rate constant.

    partial_fit_epochs : int, default=1
        Epochs each :meth:`partial_fit` call trains on its chunk. ``max_epochs``
        caps :meth:`fit`, which stops early; ``partial_fit`` runs exactly this
        many (the caller's loop decides when to stop), as ``SGDRegressor`` and
        ``MLPRegressor`` run one epoch per call.

    early_stopping : bool or "auto", default="auto"
        True: hold out ``validation_fraction`` of the rows, stop when the
        validation loss stops improving and restore the best weights (the PCA
        starting point competes). False: stop when the training loss stops
        improving. ``"auto"`` (the default): True's hold-out split when it
        has at least 100 rows. On smaller in-memory data, whose dozen
        validation rows would choose the epoch by chance, 5-fold
        cross-validation chooses the number of epochs instead (a network per
        fold, trained in step; every row is a validation row once): the most
        epochs whose mean validation loss over the folds is within one
        standard error of its lowest. The model is then trained on every row
        for that many epochs, started afresh; if the folds' best epoch is not
        clearly better than the start, the model is the start itself (PCA
        fitted on every row, with ``init="pca"``), trained for no epoch. This
        costs about six fits of that length. See :ref:`training`.

    validation_fraction : float, default=0.1
        Fraction of rows held out for early stopping (with ``"auto"``, when
        that is at least 100 rows).

    n_iter_no_change : int, default=20
        Epochs without an improvement larger than ``tol`` before stopping
        (with cross-validation, of the folds' mean validation loss).

    tol : float, default=0.0
        Minimum improvement of the monitored loss.

    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available.

    random_state : int, RandomState instance or None, default=None
        Determines weight initialisation, validation split, shuffling, noise
        and dropout. An int gives the same model on every CPU run; the caller's
        global torch and numpy random states are left untouched.

    verbose : int, default=0
        ``0`` prints nothing. ``1`` shows progress that fits the output: a live
        bar (epoch, losses, time left) in a terminal or a Jupyter notebook, and
        one plain line per epoch (skorch's table, without colour codes) when
        the output goes to a file or a pipe; long inference calls show a bar
        too. ``2`` prints the line per epoch everywhere. See :ref:`callbacks`.

    callbacks : list of skorch callbacks or (name, callback) tuples, default=None
        Extra skorch callbacks, used as given, as skorch does: ``fit`` runs these
        instances (they keep their state) and never copies them; ``clone``
        makes new ones from their parameters. See :ref:`callbacks`.

    Attributes
    ----------
    n_components_ : int
        Number of codes.

    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.

    history_ : skorch.History
        Per-epoch (and per-batch) training history.

    n_epochs_ : int
        Number of epochs run (with cross-validation, see ``early_stopping``:
        the epochs of the model returned, on every row), one per row of
        ``history_``: an epoch interrupted by Ctrl-C counts, its entries of
        ``loss_curve_`` and ``validation_scores_`` are NaN.

    loss_curve_ : list of float
        Training loss per epoch, in the terms of the objective the network
        trained on: squared error in the network's (scaled) units, or binary
        cross-entropy per value. After a fall-back to PCA's solution (see
        ``loss``) the epochs of the network that lost stay, in its objective's
        terms, though ``loss_`` then says ``"mse"``.

    validation_scores_ : list of float
        Negative validation loss per epoch, in ``loss_curve_``'s terms; only
        with early stopping. With cross-validation, the folds' mean for each
        epoch they ran, so it may be longer than ``n_epochs_``.

    loss_ : {"mse", "bce"}
        The objective the returned network was built for: ``loss`` resolved.
        With ``loss="auto"``, ``"bce"`` when the training data lie in [0, 1]
        and the network trained on binary cross-entropy clearly beat PCA's
        squared error on the validation rows; ``"mse"`` otherwise (a fall-back
        to PCA's solution included).

    best_loss_ : float
        Best monitored loss (validation with early stopping, else training):
        that of the model returned, in the terms of its objective, ``loss_``.
        After a fall-back to PCA's solution (``best_epoch_ == 0``), PCA's
        validation loss, fitted on the training rows (with cross-validation,
        the folds' mean): squared error even when ``validation_scores_`` are
        the binary cross-entropy of the network that lost to it.
        NaN when no loss was measured: training stopped by Ctrl-C within its
        first epoch, without early stopping.

    best_epoch_ : int
        Epoch of ``best_loss_``; ``0`` means the starting point was kept. With
        cross-validation, the number of epochs chosen (``n_epochs_``), or, if
        Ctrl-C interrupted the refit on every row, the epochs it completed.

    batch_size_ : int
        Batch size used.

    learning_rate_ : float
        Learning rate used (the schedule's peak): ``learning_rate`` resolved.

    max_epochs_ : int
        ``max_epochs`` resolved.

    learning_rate_schedule_ : {"constant", "cosine"}
        ``learning_rate_schedule`` resolved.

    n_samples_seen_ : int
        Number of training rows: those of :meth:`fit`, plus every chunk given
        to :meth:`partial_fit` since.

    input_shape_ : tuple of int
        The shape the network views one sample in (``input_shape`` resolved).

    hidden_layer_sizes_ : tuple of int
        Widths of the body's layers (``hidden_layer_sizes`` resolved).

    device_ : str
        Device the model was trained on.

    latent_mean_ : ndarray of shape (n_components,)
        Mean of the training codes; :meth:`sample` draws from
        ``N(latent_mean_, latent_covariance_)``. After :meth:`partial_fit`,
        merged over the calls: each chunk's codes as the network its call
        left encodes them. An earlier chunk is not encoded again, so its
        codes lag the network's later training.

    latent_covariance_ : ndarray of shape (n_components, n_components)
        Covariance of the training codes (merged over :meth:`partial_fit`'s
        calls as ``latent_mean_``).

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    VAETransformer : Variational autoencoder with a likelihood-based ``score``.
    sklearn.decomposition.PCA : Linear dimensionality reduction.
    sklearn.decomposition.KernelPCA : Nonlinear reduction with kernels.
    sklearn.decomposition.IncrementalPCA : PCA for data that does not fit in memory.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.

    Notes
    -----
    Computation is in float32; codes and reconstructions come back in the
    input's floating dtype, scores and reconstruction errors in float64.
    Training uses Adam through a skorch ``NeuralNet`` fed by an iterator that
    slices a tensor pre-loaded on the device.

    References
    ----------
    .. [1] Hinton, G. E. and Salakhutdinov, R. R. (2006). "Reducing the
       dimensionality of data with neural networks". Science, 313(5786).
    .. [2] Vincent, P. et al. (2008). "Extracting and composing robust features
       with denoising autoencoders". ICML.

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=8, max_epochs=5, random_state=0)
    >>> Z = ae.fit_transform(X)
    >>> Z.shape
    (1797, 8)
    >>> ae.inverse_transform(Z).shape
    (1797, 64)
    """

    #: The autoencoder's MLP is wider than the VAE's: on digits and MNIST it
    #: lowered the held-out error at every ``n_components``
    #: (``benchmarks/RESULTS_quality.md``, "Against a plain PyTorch loop").
    _default_hidden_layer_sizes = {**DEFAULT_HIDDEN_LAYER_SIZES, "mlp": (256, 128)}
    #: Group-normalised feature maps in the 2-D convolutional body (measured on
    #: the autoencoder only; the VAE's body has none).
    _image_norm_groups = IMAGE_NORM_GROUPS
    _fixed_by_first_call = (*_BaseAutoencoder._fixed_by_first_call, "loss", "noise")

    _parameter_constraints: dict = {
        **_BaseAutoencoder._parameter_constraints,
        "loss": [StrOptions({"auto", "mse", "bce"})],
        "noise": [NumberInterval(Real, 0, None, closed="left")],
        "learning_rate": [StrOptions({"auto"}), NumberInterval(Real, 0, None, closed="neither")],
        "max_epochs": [StrOptions({"auto"}), NumberInterval(Integral, 1, None, closed="left")],
        "learning_rate_schedule": [StrOptions({"auto", "constant", "cosine"})],
    }

    #: ``"auto"`` training settings of every architecture but 2-D convolutions,
    #: which have their own (``_architectures.IMAGE_CONV_TRAINING``).
    _auto_training = {"learning_rate": 1e-3, "max_epochs": 200,
                      "learning_rate_schedule": "constant"}

    def __init__(
        self,
        n_components=2,
        *,
        input_shape=None,
        architecture="mlp",
        hidden_layer_sizes="auto",
        activation="relu",
        dropout=0.0,
        encoder=None,
        encoder_kwargs=None,
        decoder=None,
        decoder_kwargs=None,
        loss="auto",
        noise=0.2,
        input_scaling="global",
        init="pca",
        learning_rate="auto",
        weight_decay=0.0,
        batch_size="auto",
        max_epochs="auto",
        learning_rate_schedule="auto",
        partial_fit_epochs=1,
        early_stopping="auto",
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=0.0,
        device="auto",
        random_state=None,
        verbose=0,
        callbacks=None,
    ):
        self.n_components = n_components
        self.input_shape = input_shape
        self.architecture = architecture
        self.hidden_layer_sizes = hidden_layer_sizes
        self.activation = activation
        self.dropout = dropout
        self.encoder = encoder
        self.encoder_kwargs = encoder_kwargs
        self.decoder = decoder
        self.decoder_kwargs = decoder_kwargs
        self.loss = loss
        self.noise = noise
        self.input_scaling = input_scaling
        self.init = init
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
        self.learning_rate_schedule = learning_rate_schedule
        self.partial_fit_epochs = partial_fit_epochs
        self.early_stopping = early_stopping
        self.validation_fraction = validation_fraction
        self.n_iter_no_change = n_iter_no_change
        self.tol = tol
        self.device = device
        self.random_state = random_state
        self.verbose = verbose
        self.callbacks = callbacks

    # ------------------------------------------------------------------ hooks
    def _training_settings(self):
        auto = auto_training(self.architecture, self.input_shape_, self._auto_training)
        given = {"learning_rate": self.learning_rate, "max_epochs": self.max_epochs,
                 "learning_rate_schedule": self.learning_rate_schedule}
        return {key: auto[key] if value == "auto" else value for key, value in given.items()}

    def _resolve_parameters(self, X, sample_shape, partial=False):
        super()._resolve_parameters(X, sample_shape, partial)
        self.loss_ = "mse" if self.loss == "auto" else self.loss
        # Binary cross-entropy was measured on the built-in MLP only (MNIST,
        # digits); the other bodies and users' decoders keep squared error.
        if self.loss == "auto" and self._builtin_mlp():
            self.loss_ = "bce" if _in_unit_interval(*_value_range(X)) else "mse"

    def _check_support(self, X):
        if self.loss == "bce":
            _check_unit_interval(X, 'loss="bce"')
        elif getattr(self, "loss_", None) == "bce":
            # partial_fit's later chunks, under loss="auto" resolved on the first
            # one. (Unfitted, as a detector asks before fitting, "auto" takes any data.)
            _check_unit_interval(
                X, 'loss="auto", which chose binary cross-entropy on the first data seen,'
            )

    def _scored_by_likelihood(self):
        """Whether scores are the training likelihood's (``loss="bce"``), not squared error.

        The ``loss`` the network was built with: set to ``"bce"`` after a fit
        on squared error, it would score a Gaussian network by the wrong rule.
        """
        return getattr(self, "_first_call_params", {}).get("loss", self.loss) == "bce"

    def _pca_reference(self, X, rows, loc, scale, exclude=None):
        # loss="auto" trains a Bernoulli network, started at the sigmoid's
        # linearisation of PCA, but scores by squared error: the trained network
        # must beat PCA's solution itself, which only an identity output computes.
        if self.loss_ != "bce" or self._scored_by_likelihood():
            return None
        module = build_seeded(
            lambda: self._build_module(X.shape[1], loc, scale, loss="mse"), torch.Generator()
        )
        self._start_at_pca(module, *self._principal_axes(X, rows, loc, scale, exclude))
        return module.to(self.device_).eval()

    def _use_pca_solution(self):
        if self.loss == "auto":
            self.loss_ = "mse"

    def _build_module(self, n_features, loc, scale, loss=None):
        loss = self.loss_ if loss is None else loss
        encoder, decoder = self._residual_maps(n_features, self.n_components)
        return Autoencoder(
            n_features,
            self.n_components,
            self.hidden_layer_sizes_,
            activation=self.activation,
            dropout=self.dropout,
            loc=loc,
            scale=scale,
            encoder=encoder,
            decoder=decoder,
            likelihood="bernoulli" if loss == "bce" else "gaussian",
            noise=self.noise,
        )

    def _build_criterion(self):
        return ReconstructionLoss()

    def _start_at_pca(self, module, mean, eigenvalues, axes, total_variance):
        # PCA's scores divided by ONE scale, the root of their mean variance: the
        # codes average unit variance, which suits the decoder's body, and keep
        # PCA's geometry (distances between rows, as a nearest-neighbour
        # classifier sees them, are PCA's up to that factor); whitening each
        # direction would give a minor one as much weight as the first. Constant
        # data (no variance at all) keep scale 1.
        scale = math.sqrt(eigenvalues.mean()) if eigenvalues.mean() > 0 else 1.0
        module.encoder.start_at(axes.T / scale, -(mean @ axes) / scale)
        _decoder_start_at(module, axes * scale, mean)

    def _after_fit(self, X, n_previous=0):
        # The Gaussian of the codes that ``sample`` draws from, merged block by
        # block (and across partial_fit calls). X is already validated: encode it
        # directly. ``self.transform`` would re-validate the bare array and warn
        # that it lacks the feature names seen in fit (a DataFrame's).
        moments = None
        if n_previous:
            moments = (n_previous, self.latent_mean_, self.latent_covariance_)
        encode = self._chunk_function("transform", self.net_.device)
        for block in self._blocks(X):
            codes = self._map_chunks(block, encode, np.float64)
            if len(codes) > 1:
                covariance = np.atleast_2d(np.cov(codes, rowvar=False))
            else:
                covariance = np.zeros((self.n_components_, self.n_components_))
            moments = merge_moments(moments, (len(codes), codes.mean(axis=0), covariance), ddof=1)
        _, self.latent_mean_, self.latent_covariance_ = moments

    # ----------------------------------------------------------------- public
    @lazy_on_dask
    def transform(self, X):
        """Encode ``X`` into its codes.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Data to encode, processed in chunks of bounded size; images or
            sequences of shape ``(n_samples, *input_shape_)`` too. A dask array
            gives a lazy dask array.

        Returns
        -------
        X_new : ndarray of shape (n_samples, n_components)
            Codes, in the input's floating dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> ae.transform(X[:3]).shape
        (3, 2)
        """
        X = self._check_X(X)
        return self._map_chunks(X, self._chunk_function("transform", self.net_.device), X.dtype)

    @lazy_on_dask
    def reconstruction_error(self, X, *, per_feature=False):
        """Reconstruction error of each row: squared error, or binary cross-entropy.

        Squared error in the original units (``loss="mse"`` and ``"auto"``,
        whichever objective ``"auto"`` trained with), computed in float64
        whatever the magnitude of ``X``, or binary cross-entropy
        (``loss="bce"``), which is ``inf`` for a value outside [0, 1]: the model
        cannot produce it.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Data to reconstruct; images or sequences of shape
            ``(n_samples, *input_shape_)`` too. A dask array gives a lazy dask
            array.
        per_feature : bool, default=False
            Return the error of every feature instead of the row mean -- which
            features are badly reconstructed.

        Returns
        -------
        error : ndarray of shape (n_samples,) or (n_samples, n_features)
            Per feature, of shape ``(n_samples, *input_shape_)`` when ``fit``
            saw such an array.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> ae.reconstruction_error(X[:3]).shape
        (3,)
        >>> ae.reconstruction_error(X[:3], per_feature=True).shape
        (3, 5)
        """
        X = self._check_X(X)
        errors = self._map_chunks(X, lambda m, x: self._errors(m, x, per_feature), np.float64)
        return self._as_samples(errors) if per_feature else errors

    def _errors(self, module, x, per_feature=False):
        """Reconstruction error of each row (or element) of the float32 chunk ``x``, in float64."""
        params = module.decode(module.encode(x))
        if self._scored_by_likelihood():
            err = -module.likelihood.log_prob(x, params).double()
            # A value outside [0, 1] is impossible under the model: infinite error.
            err = err.masked_fill(~module.likelihood.support(x), math.inf)
        elif module.is_bernoulli:
            # loss="auto" trained on binary cross-entropy: squared error between
            # the probabilities (in the original units) and x, in float64.
            err = (module.reconstruct_mean(params).double() - x.double()) ** 2
        else:
            # The difference in the network's scaled units, the square in float64
            # and the user's units: the square of a float32 difference of 1e19
            # overflows, that of 1e-30 underflows.
            diff = (params - module.target(x)).double()
            err = (diff * module.normalize.scale.double()) ** 2
        return err if per_feature else err.mean(dim=1)

    def _chunk_function(self, method, device):
        if method == "transform":
            return lambda m, x: m.encode(x)
        if method == "reconstruction_error":
            return lambda m, x: self._errors(m, x)
        if method == "score_samples":
            return lambda m, x: -self._errors(m, x)
        return super()._chunk_function(method, device)

    @lazy_on_dask
    def score_samples(self, X):
        """Negative reconstruction error of each row (higher = better reconstructed).

        The error is :meth:`reconstruction_error`'s: squared error unless
        ``loss="bce"``. With ``loss="bce"``, a row with a value outside [0, 1] scores ``-inf``
        (as :class:`~sklearn.neighbors.KernelDensity` scores a point outside a
        compact kernel's support), so a detector flags it as an outlier.

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Data to score; images or sequences of shape
            ``(n_samples, *input_shape_)`` too. A dask array gives a lazy dask
            array.

        Returns
        -------
        scores : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> scores = ae.score_samples(X[:3])
        >>> scores.shape, bool(np.all(scores <= 0))
        ((3,), True)
        """
        X = self._check_X(X)
        function = self._chunk_function("score_samples", self.net_.device)
        return self._map_chunks(X, function, np.float64)

    @validate_params(
        {
            "n_samples": [NumberInterval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate rows by decoding draws from a Gaussian fitted to the training codes.

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seed of the draws.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Generated rows in the original units; of shape
            ``(n_samples, *input_shape_)`` when ``fit`` saw such an array.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import AutoencoderTransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> ae.sample(4, random_state=0).shape
        (4, 5)
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        codes = rng.multivariate_normal(
            self.latent_mean_, self.latent_covariance_, size=n_samples
        )
        return self.inverse_transform(codes)

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # Binary cross-entropy takes data in [0, 1] only ("auto" takes any data).
        tags.input_tags.positive_only = self.loss == "bce"
        return tags
