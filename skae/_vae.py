"""``VAETransformer``: a variational autoencoder scored by held-out likelihood."""

import math
from numbers import Integral, Real

import numpy as np
import torch
from sklearn.utils import check_random_state
from sklearn.utils._param_validation import (
    StrOptions,
    validate_parameter_constraints,
    validate_params,
)
from sklearn.utils.validation import check_is_fitted

from ._base import (
    NumberInterval,
    _BaseAutoencoder,
    _check_unit_interval,
    _decoder_start_at,
    _derived_seed,
    lazy_on_dask,
)
from ._likelihoods import gaussian_log_prob, log_mean_exp
from ._modules import VariationalAutoencoder
from ._callbacks import KLWarmup, RecordELBOTerms
from ._objectives import NegativeELBO

#: The ``_derived_seed`` key of :meth:`VAETransformer._decision_scores`' draws,
#: above any fold or epoch number, which key the fit's other seeds.
_DECISION_DRAWS = 2**32 - 1


class VAETransformer(_BaseAutoencoder):
    """Variational autoencoder (beta-VAE) for probabilistic dimensionality reduction.

    The encoder gives a diagonal Gaussian posterior ``q(z | x)`` over
    ``n_components`` latent variables with a standard normal prior; the decoder
    gives the parameters of the observation model ``p(x | z)``. Training
    maximises the ELBO with the KL term weighted by ``beta``.

    :meth:`score_samples` estimates each row's log-likelihood ``log p(x)`` by
    importance weighting (the IWAE bound) in the original units of ``X`` -- the
    same contract as :meth:`sklearn.decomposition.PCA.score_samples` -- so
    :class:`~sklearn.model_selection.GridSearchCV` selects ``n_components`` and
    ``beta`` by held-out likelihood without a scorer, on the same scale as PCA.

    By default the network starts at probabilistic PCA's solution (a linear VAE
    recovers PPCA exactly), with nonlinear residual MLPs whose last layers start
    at zero, so the starting ELBO is PPCA's log-likelihood.

    Parameters
    ----------
    n_components : int, default=2
        Number of latent dimensions; at most ``n_features`` and the number
        of training samples, as for PCA.

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
        mirrors them. ``"auto"``: ``(128, 64)`` for ``"mlp"``, ``(32, 64)``
        for ``"conv"``, ``(64,)`` for ``"gru"`` and ``"lstm"``. ``()`` gives a
        linear VAE (probabilistic PCA); an int, one hidden layer of that width.

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

    beta : float, default=1.0
        Weight of the KL term (beta-VAE). ``1`` is the ELBO; larger values give
        smoother, more disentangled codes and blurrier reconstructions.

    likelihood : {"gaussian", "bernoulli"}, default="gaussian"
        Observation model. ``"gaussian"``: per-feature learned variance with a
        floor (``min_variance``), so a constant or quantised feature cannot give
        an infinite likelihood. ``"bernoulli"``: data in [0, 1]; ``fit`` rejects
        data outside, :meth:`score_samples` gives such rows ``-inf``.

    min_variance : float, default=1e-4
        Floor of the Gaussian observation variance, in the network's scaled
        units (see ``input_scaling``).

    decoder_variance : {"conditional", "feature"}, default="conditional"
        How the Gaussian observation variance is modelled. ``"conditional"``:
        the decoder gives every feature's variance as well as its mean, so it
        depends on the code (heteroscedastic): a feature that is near-constant
        for some kinds of rows and varies for others gets a small variance
        where the code says which, a large gain in likelihood on images. It
        starts at one learned variance per feature (probabilistic PCA's noise),
        and a user's ``decoder`` body gives the mean only (the variance's
        dependence on the code is then linear). ``"feature"``: one learned
        variance per feature, the same for every row. Ignored with
        ``likelihood="bernoulli"``.

    kl_warmup_epochs : int, default=0
        The KL weight grows linearly from 0 to ``beta`` over this many epochs.
        Early stopping always monitors the full-``beta`` validation loss.

    n_importance_samples : int, default=50
        Importance samples per row in :meth:`score_samples` (the IWAE ``K``).
        ``fit`` keeps the trained network only if it clearly beats its
        starting point on the validation rows' estimates with as many
        samples, drawn afresh for each row and apart from those of
        :meth:`score_samples`, so that the choice cannot favour a network
        those happen to flatter.

    input_scaling : {"global", "feature"} or None, default="global"
        Normalisation inside the network, computed in ``fit``: ``"global"``
        centres and divides by one global scale; ``"feature"`` standardises each
        feature; ``None`` feeds raw values. Likelihoods are always reported in
        the original units (the log-Jacobian is included).

    init : {"pca", "random"}, default="pca"
        ``"pca"`` starts at probabilistic PCA's solution; ``"random"`` uses
        PyTorch's default initialisation.

    learning_rate : float, default=2e-3
        Adam's learning rate.

    weight_decay : float, default=0.0
        Adam's L2 penalty.

    batch_size : int or "auto", default="auto"
        Mini-batch size. ``"auto"``: about ten optimizer steps per epoch,
        ``ceil(n_samples / 10)`` rows, but at least 8 and at most 200
        (``MLPRegressor``'s ``min(200, n_samples)`` gives small data one step
        per epoch), so data of 2,000 rows and more gets batches of 200, as
        do :meth:`partial_fit`'s chunks; at most 64 images for
        ``architecture="conv"`` on ``(C, H, W)`` samples (more steps per
        epoch trained it faster, see the user guide).

    max_epochs : int, default=500
        Maximum number of passes over the training data (a VAE's ELBO keeps
        improving for longer than an autoencoder's error; early stopping usually
        ends training first).

    partial_fit_epochs : int, default=1
        Epochs each :meth:`partial_fit` call trains on its chunk. ``max_epochs``
        caps :meth:`fit`, which stops early; ``partial_fit`` runs exactly this
        many (the caller's loop decides when to stop), as ``SGDRegressor`` and
        ``MLPRegressor`` run one epoch per call.

    early_stopping : bool or "auto", default=True
        Hold out ``validation_fraction`` of the rows, stop when the validation
        loss (negative ELBO) stops improving and restore the best weights.
        ``"auto"``: the same when the held-out part has at least 100 rows.
        On smaller in-memory data, whose dozen validation rows would choose
        the epoch by chance, 5-fold cross-validation chooses the number of
        epochs instead (a network per fold, trained in step; every row is a
        validation row once; the most epochs whose mean validation loss is
        within one standard error of its lowest) and the model is then
        trained on every row for that many epochs, started afresh; if the
        folds' best epoch is not clearly better than the start, the model is
        the start itself
        (PCA fitted on every row, with ``init="pca"``), trained for no epoch.
        See :ref:`training`.

    validation_fraction : float, default=0.1
        Fraction of rows held out for early stopping (with ``"auto"``, when
        that is at least 100 rows).

    n_iter_no_change : int, default=20
        Epochs without an improvement larger than ``tol`` before stopping (the
        validation ELBO is a one-sample estimate, noisier than an autoencoder's
        error, hence more patience; with cross-validation, the folds' mean).

    tol : float, default=1e-4
        Minimum improvement of the monitored loss (nats per row).

    device : str, default="auto"
        Torch device; ``"auto"`` uses CUDA when available.

    random_state : int, RandomState instance or None, default=None
        Determines initialisation, split, shuffling, the reparameterisation
        noise and the importance samples of :meth:`score_samples`.

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
        Number of latent dimensions.

    net_ : skorch.NeuralNet
        The trained skorch net; ``net_.module_`` is the torch module.

    history_ : skorch.History
        Per-epoch history; besides ``train_loss`` / ``valid_loss`` (negative
        ELBO per row) it records ``train_reconstruction``, ``train_kl``,
        ``valid_reconstruction`` and ``valid_kl``, the two ELBO terms, to
        diagnose posterior collapse (a KL near zero).

    n_epochs_ : int
        Number of epochs run (with cross-validation, see ``early_stopping``:
        the epochs of the model returned, on every row), one per row of
        ``history_``: an epoch interrupted by Ctrl-C counts, its entries of
        ``loss_curve_`` and ``validation_scores_`` are NaN.

    loss_curve_ : list of float
        Training loss (``beta``-weighted negative ELBO per row) per epoch.

    validation_scores_ : list of float
        Negative validation loss per row per epoch (the ``beta``-weighted
        ELBO; the ELBO itself for ``beta=1``); only with early stopping. With
        cross-validation, the folds' mean for each epoch they ran, so it may
        be longer than ``n_epochs_``.

    best_loss_ : float
        Best monitored loss (validation with early stopping, else training):
        that of the model returned, per row, in the terms of its objective.
        After a fall-back to the starting point (``best_epoch_ == 0``), its
        validation loss (with cross-validation, the folds' mean): the
        fall-back is decided on the validation rows' log-likelihood (see
        ``n_importance_samples``), not on this stochastic loss, so an epoch's
        entry of ``validation_scores_`` may be above ``-best_loss_``.
        NaN when no loss was measured: training stopped by Ctrl-C within its
        first epoch, without early stopping.

    best_epoch_ : int
        Epoch of ``best_loss_``; ``0`` means the starting point was kept.

    batch_size_ : int
        Batch size used.

    learning_rate_ : float
        Learning rate used: ``learning_rate`` resolved.

    max_epochs_ : int
        ``max_epochs`` resolved.

    learning_rate_schedule_ : "constant"
        The VAE trains at a constant learning rate (the attribute is shared
        with :class:`AutoencoderTransformer`, whose schedule may be cosine).

    n_samples_seen_ : int
        Number of training rows: those of :meth:`fit`, plus every chunk given
        to :meth:`partial_fit` since.

    input_shape_ : tuple of int
        The shape the network views one sample in (``input_shape`` resolved).

    hidden_layer_sizes_ : tuple of int
        Widths of the body's layers (``hidden_layer_sizes`` resolved).

    device_ : str
        Device the model was trained on.

    n_features_in_ : int
        Number of features seen during :term:`fit`.

    feature_names_in_ : ndarray of shape (`n_features_in_`,)
        Names of features seen during :term:`fit`. Defined only when `X`
        has feature names that are all strings.

    See Also
    --------
    AutoencoderTransformer : Deterministic autoencoder.
    sklearn.decomposition.PCA : Linear reduction; its ``score`` is PPCA's likelihood.
    sklearn.decomposition.KernelPCA : Nonlinear reduction with kernels.
    sklearn.decomposition.IncrementalPCA : PCA for data that does not fit in memory.
    sklearn.neural_network.MLPRegressor : Multi-layer perceptron regressor.

    Notes
    -----
    With a Gaussian likelihood the reported log-likelihood is a density in
    the units of ``X``; with a Bernoulli likelihood it is the Bernoulli
    log-probability (fractional data give the cross-entropy), not a density.

    References
    ----------
    .. [1] Kingma, D. P. and Welling, M. (2014). "Auto-Encoding Variational
       Bayes". ICLR.
    .. [2] Higgins, I. et al. (2017). "beta-VAE: Learning Basic Visual Concepts
       with a Constrained Variational Framework". ICLR.
    .. [3] Burda, Y., Grosse, R. and Salakhutdinov, R. (2016). "Importance
       Weighted Autoencoders". ICLR.
    .. [4] Tipping, M. E. and Bishop, C. M. (1999). "Probabilistic Principal
       Component Analysis". JRSS B, 61(3).

    Examples
    --------
    >>> from sklearn.datasets import load_digits
    >>> from skae import VAETransformer
    >>> X, _ = load_digits(return_X_y=True)
    >>> vae = VAETransformer(n_components=4, max_epochs=5, random_state=0).fit(X)
    >>> vae.transform(X).shape
    (1797, 4)
    >>> vae.sample(3, random_state=0).shape
    (3, 64)
    >>> bool(vae.score(X) > -1e4)
    True
    """

    _fixed_by_first_call = (
        *_BaseAutoencoder._fixed_by_first_call,
        "beta", "likelihood", "min_variance", "decoder_variance", "kl_warmup_epochs",
    )

    _parameter_constraints: dict = {
        **_BaseAutoencoder._parameter_constraints,
        "beta": [NumberInterval(Real, 0, None, closed="left")],
        "likelihood": [StrOptions({"gaussian", "bernoulli"})],
        "min_variance": [NumberInterval(Real, 0, None, closed="neither")],
        "decoder_variance": [StrOptions({"conditional", "feature"})],
        "kl_warmup_epochs": [NumberInterval(Integral, 0, None, closed="left")],
        "n_importance_samples": [NumberInterval(Integral, 1, None, closed="left")],
    }

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
        beta=1.0,
        likelihood="gaussian",
        min_variance=1e-4,
        decoder_variance="conditional",
        kl_warmup_epochs=0,
        n_importance_samples=50,
        input_scaling="global",
        init="pca",
        learning_rate=2e-3,
        weight_decay=0.0,
        batch_size="auto",
        max_epochs=500,
        partial_fit_epochs=1,
        early_stopping=True,
        validation_fraction=0.1,
        n_iter_no_change=20,
        tol=1e-4,
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
        self.beta = beta
        self.likelihood = likelihood
        self.min_variance = min_variance
        self.decoder_variance = decoder_variance
        self.kl_warmup_epochs = kl_warmup_epochs
        self.n_importance_samples = n_importance_samples
        self.input_scaling = input_scaling
        self.init = init
        self.learning_rate = learning_rate
        self.weight_decay = weight_decay
        self.batch_size = batch_size
        self.max_epochs = max_epochs
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
    def _check_support(self, X):
        if self.likelihood == "bernoulli":
            _check_unit_interval(X, 'likelihood="bernoulli"')

    @property
    def _conditional_variance(self):
        return self.likelihood == "gaussian" and self.decoder_variance == "conditional"

    def _build_module(self, n_features, loc, scale):
        encoder, decoder = self._residual_maps(
            n_features, 2 * self.n_components, 2 if self._conditional_variance else 1
        )
        return VariationalAutoencoder(
            n_features,
            self.n_components,
            self.hidden_layer_sizes_,
            activation=self.activation,
            dropout=self.dropout,
            loc=loc,
            scale=scale,
            encoder=encoder,
            decoder=decoder,
            likelihood=self.likelihood,
            min_variance=self.min_variance,
            conditional_variance=self._conditional_variance,
        )

    def _build_criterion(self):
        return NegativeELBO(beta=self.beta)

    def _training_callbacks(self):
        callbacks = [("elbo_terms", RecordELBOTerms())]
        if self.kl_warmup_epochs:
            callbacks.append(("kl_warmup", KLWarmup(self.kl_warmup_epochs)))
        return callbacks

    def _start_at_pca(self, module, mean, eigenvalues, axes, total_variance):
        # Probabilistic PCA (Tipping & Bishop, 1999) in scaled units: noise
        # variance = mean discarded eigenvalue, W = U (L - s2)^1/2, and the exact
        # posterior N(M^-1 W^T (x - m), s2 M^-1) with M = W^T W + s2 I = L.
        n_features, n_components = axes.shape
        # The noise variance is floored: the likelihood's cannot go below
        # min_variance, and a zero one would make the posterior a point. Where a
        # floor binds (data with less noise), this is not PCA's model.
        tiny = 1e-6 * total_variance / n_features + 1e-12
        if n_features > n_components:
            noise_var = (total_variance - eigenvalues.sum()) / (n_features - n_components)
        else:
            noise_var = 0.0
        noise_var = max(noise_var, self.min_variance * 1.01, tiny)
        eigenvalues = np.maximum(eigenvalues, noise_var)
        signal = np.sqrt(eigenvalues - noise_var)
        mean_weight = (signal / eigenvalues)[:, None] * axes.T
        encoder_weight = np.vstack([mean_weight, np.zeros_like(mean_weight)])
        encoder_bias = np.concatenate([-(mean_weight @ mean), np.log(noise_var / eigenvalues)])
        module.encoder.start_at(encoder_weight, encoder_bias)
        weight, bias = axes * signal, mean
        if not module.is_bernoulli:
            module.likelihood.set_variance(noise_var)
        if module.likelihood.params_per_feature == 2:
            # The log-variance offsets start at zero: PPCA's one noise variance.
            weight = np.vstack([weight, np.zeros_like(weight)])
            bias = np.concatenate([bias, np.zeros_like(bias)])
        _decoder_start_at(module, weight, bias)

    # ----------------------------------------------------------------- public
    @lazy_on_dask
    def transform(self, X):
        """Posterior mean of the latent variables (deterministic).

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
            Posterior means, in the input's floating dtype.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAETransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> vae = VAETransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> codes = vae.transform(X[:3])
        >>> codes.shape, bool(np.array_equal(codes, vae.transform(X[:3])))
        ((3, 2), True)
        """
        X = self._check_X(X)
        return self._map_chunks(X, self._chunk_function("transform", self.net_.device), X.dtype)

    def _importance_noise(self, device):
        """The standard normal draws shared by every row's importance samples.

        One fixed set for all rows makes a row's score independent of the other
        rows scored with it and of their order, and the same on every call.
        """
        generator = torch.Generator().manual_seed(self._seed)
        noise = torch.randn(
            self._n_importance_samples(), self.n_components_, generator=generator
        )
        return noise.to(device)

    def _n_importance_samples(self):
        """``n_importance_samples``, validated: ``set_params`` after ``fit`` is not."""
        validate_parameter_constraints(
            {"n_importance_samples": self._parameter_constraints["n_importance_samples"]},
            {"n_importance_samples": self.n_importance_samples},
            caller_name=type(self).__name__,
        )
        return self.n_importance_samples

    def _decision_scores(self, rows, net, seed, module=None):
        """The IWAE estimate of each row, with draws of its own per row, from ``seed``.

        ``fit`` keeps the trained network only if it clearly beats its start
        (probabilistic PCA) on these. Were the draws :meth:`score_samples`'s
        fixed ones, the choice would favour a network they happen to flatter
        and ``score`` would then report that luck: the start's posterior is
        exact, so its estimate has no draw error; the network's has. Drawn
        apart from those, and afresh for each row, the draws' error differs
        from row to row and widens the standard error of the per-row gains
        that :func:`_clearly_better` tests, instead of shifting every row's
        gain alike, unseen. ``n_importance_samples`` draws: the gain is then
        in the terms of the scores the user gets.
        """
        n_draws, n_components = self._n_importance_samples(), self.n_components_
        # One generator per call: the networks compared see the same draws for a
        # row. A chunk that _map_chunks computes again in float64 (float32
        # overflowed, on rows near its largest values) draws afresh, which
        # shifts the draws of every later chunk for that network too.
        generator = torch.Generator().manual_seed(_derived_seed(seed, _DECISION_DRAWS))

        def score(m, x):
            noise = (
                torch.randn(len(x), n_components, generator=generator).to(x.device)
                for _ in range(n_draws)
            )
            return self._log_likelihood(m, x, noise)

        return self._map_chunks(rows, score, np.float64, net=net, module=module)

    @lazy_on_dask
    def score_samples(self, X):
        """Log-likelihood of each row, ``log p(x)``, estimated by importance weighting.

        The IWAE estimate with ``n_importance_samples`` draws from the posterior,
        in the original units of ``X`` (the normalisation's log-Jacobian
        included), so it is comparable with ``PCA.score_samples`` -- given more
        training rows than features: with fewer, scikit-learn's PCA spreads
        its residual variance over ``n_samples - n_components`` directions,
        probabilistic PCA (skae's start) over ``n_features - n_components``.
        It is a stochastic lower bound in expectation (over the draws) that
        tightens as ``n_importance_samples`` grows; the draws are fixed at fit
        time, so it is deterministic and a row's value does not depend on the
        other rows (beyond float32 rounding: the rows scored with it change how
        the matrix products round). Every row shares the draws, so their error
        does not average out over rows: :meth:`score` carries it whole.
        The network runs in float32 and the densities are summed in float64, so
        rows far from the training data get finite scores. With
        ``likelihood="bernoulli"``, a row with a value outside [0, 1] has
        probability 0: its score is ``-inf`` (as
        :class:`~sklearn.neighbors.KernelDensity` scores a point outside a
        compact kernel's support).

        Parameters
        ----------
        X : {array-like, sparse matrix, numpy.memmap, dask array} of shape \
                (n_samples, n_features)
            Data to score; images or sequences of shape
            ``(n_samples, *input_shape_)`` too. A dask array gives a lazy dask
            array.

        Returns
        -------
        log_likelihood : ndarray of shape (n_samples,)

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAETransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> vae = VAETransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> log_lik = vae.score_samples(X[:3])
        >>> log_lik.shape, bool(np.array_equal(log_lik, vae.score_samples(X[:3])))
        ((3,), True)
        """
        X = self._check_X(X)
        function = self._chunk_function("score_samples", self.net_.device)
        return self._map_chunks(X, function, np.float64)

    @staticmethod
    def _log_likelihood(module, x, noise):
        """IWAE estimate of each row's ``log p(x)``, with the standard normal draws ``noise``.

        One draw per item of ``noise``: of shape ``(n_components,)``, shared by
        every row, or ``(len(x), n_components)``, one per row.
        """
        mean, log_var = module.encode(x)
        std = torch.exp(0.5 * log_var)
        # The network runs in float32, the densities in float64: squares of
        # values far from the training data overflow float32.
        x64, mean64, log_var64 = x.double(), mean.double(), log_var.double()
        log_weights = []
        for eps in noise:
            z = mean + std * eps
            z64 = z.double()
            log_px = module.log_likelihood(x64, module.decode(z).double())
            log_pz = gaussian_log_prob(z64, 0.0, torch.zeros_like(z64)).sum(dim=1)
            log_qz = gaussian_log_prob(z64, mean64, log_var64).sum(dim=1)
            log_weights.append(log_px + log_pz - log_qz)
        log_px = log_mean_exp(torch.stack(log_weights), dim=0)
        # A row outside the likelihood's support (Bernoulli: [0, 1]) is impossible.
        return log_px.masked_fill(~module.likelihood.support(x).all(dim=1), -math.inf)

    def _chunk_function(self, method, device):
        if method == "transform":
            return lambda m, x: m.encode(x)[0]
        if method == "score_samples":
            noise = self._importance_noise(device)
            return lambda m, x: self._log_likelihood(m, x, noise)
        return super()._chunk_function(method, device)

    @validate_params(
        {
            "n_samples": [NumberInterval(Integral, 1, None, closed="left")],
            "random_state": ["random_state"],
        },
        prefer_skip_nested_validation=True,
    )
    def sample(self, n_samples=1, random_state=None):
        """Generate rows by decoding draws from the standard normal prior.

        Each row is the decoder's mean at one draw, without the observation
        noise: the rows vary less than draws from the density that
        :meth:`score_samples` evaluates (at probabilistic PCA's solution,
        their covariance lacks PPCA's noise variance on every feature).

        Parameters
        ----------
        n_samples : int, default=1
            Number of rows to generate.
        random_state : int, RandomState instance or None, default=None
            Seed of the prior draws.

        Returns
        -------
        X : ndarray of shape (n_samples, `n_features_in_`)
            Decoder means (Gaussian: original units; Bernoulli: probabilities);
            of shape ``(n_samples, *input_shape_)`` when ``fit`` saw such an array.

        Examples
        --------
        >>> import numpy as np
        >>> from skae import VAETransformer
        >>> X = np.random.RandomState(0).rand(100, 5)
        >>> vae = VAETransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> vae.sample(4, random_state=0).shape
        (4, 5)
        """
        check_is_fitted(self)
        rng = check_random_state(random_state)
        return self.inverse_transform(rng.standard_normal((n_samples, self.n_components_)))

    def __sklearn_tags__(self):
        tags = super().__sklearn_tags__()
        # A Bernoulli likelihood takes data in [0, 1] only.
        tags.input_tags.positive_only = self.likelihood == "bernoulli"
        return tags
