"""Visualisations of skae's estimators, following scikit-learn's ``Display`` API.

Each display is built with ``from_estimator`` (which computes what to draw and
calls :meth:`plot`), or directly from precomputed values with its constructor
followed by :meth:`plot`. After plotting, ``ax_`` holds the matplotlib Axes and
``figure_`` the Figure, as in :class:`sklearn.metrics.RocCurveDisplay`.

matplotlib is an optional dependency (``pip install skae[plot]``); it is
imported only when something is drawn, so ``import skae`` never imports it.
"""

from numbers import Integral

import numpy as np
from sklearn.utils import _safe_indexing
from sklearn.utils.validation import check_array, check_is_fitted

from ._shapes import as_rows

__all__ = ["LatentSpaceDisplay", "LossCurveDisplay", "ReconstructionDisplay"]

#: Above this many distinct values, a numeric ``y`` is drawn with a colour bar
#: rather than one legend entry per class.
_MAX_LEGEND_CLASSES = 20


def _import_pyplot(caller):
    """Import ``matplotlib.pyplot`` or raise an ``ImportError`` naming the extra."""
    try:
        import matplotlib.pyplot as plt
    except ImportError as exc:
        raise ImportError(
            f"{caller} requires matplotlib. Install it with `pip install skae[plot]` "
            "(or `pip install matplotlib`)."
        ) from exc
    return plt


def _estimator_name(estimator):
    return type(estimator).__name__


def _dots_where_alone(values):
    """Marker settings drawing a dot at each value a line cannot join to another.

    A line joins consecutive finite values only: one between NaNs (or at an
    end, beside a NaN), or the single value of a curve, would not be drawn.
    """
    finite = np.concatenate([[False], np.isfinite(values), [False]])
    alone = np.flatnonzero(finite[1:-1] & ~finite[:-2] & ~finite[2:])
    return {"marker": "o", "markevery": alone.tolist()} if len(alone) else {}


class LossCurveDisplay:
    """Training and validation loss per epoch of a fitted skae estimator.

    For a :class:`~skae.VAETransformer` the two terms of the negative ELBO
    (``reconstruction``: the negative expected log-likelihood, and ``kl``: the
    KL divergence from the prior, both in nats per row) are drawn as well when
    the history holds them; a KL curve near zero signals posterior collapse.
    Training curves are solid, validation curves dashed; a dotted vertical line
    marks the epoch whose weights were kept (``best_epoch_``). A curve without
    a value at some epochs has gaps there; a value with no neighbour to join
    is drawn as a dot.

    Use :meth:`from_estimator` to create one from a fitted estimator.

    Parameters
    ----------
    epochs : array-like of shape (n_epochs,)
        Epoch numbers (1-based).

    curves : dict of str to array-like of shape (n_epochs,)
        Per-epoch values to draw, keyed by ``history_`` key, e.g.
        ``{"train_loss": ..., "valid_loss": ...}``, NaN at the epochs without
        a value. Keys starting with ``"valid_"`` are drawn dashed.

    best_epoch : int or None, default=None
        Epoch to mark with a vertical line; ``0`` (the starting point was kept)
        and ``None`` draw no line.

    estimator_name : str or None, default=None
        Name used in the title.

    Attributes
    ----------
    lines_ : dict of str to matplotlib.lines.Line2D
        The line of each curve, keyed as ``curves``.

    best_epoch_line_ : matplotlib.lines.Line2D or None
        The vertical line at ``best_epoch``.

    ax_ : matplotlib.axes.Axes
        Axes with the curves.

    figure_ : matplotlib.figure.Figure
        Figure containing the curves.

    See Also
    --------
    sklearn.model_selection.LearningCurveDisplay : Learning curve over training set sizes.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plotting import LossCurveDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=4, max_epochs=3, random_state=0).fit(X)
    >>> display = LossCurveDisplay.from_estimator(ae)
    >>> sorted(display.lines_)
    ['train_loss', 'valid_loss']
    """

    def __init__(self, *, epochs, curves, best_epoch=None, estimator_name=None):
        self.epochs = epochs
        self.curves = curves
        self.best_epoch = best_epoch
        self.estimator_name = estimator_name

    #: history_ keys drawn by ``from_estimator``, in this order.
    _LOSS_KEYS = ("train_loss", "valid_loss")
    _TERM_KEYS = ("train_reconstruction", "valid_reconstruction", "train_kl", "valid_kl")

    @classmethod
    def from_estimator(cls, estimator, *, terms=True, ax=None, **kwargs):
        """Plot the per-epoch losses recorded in a fitted estimator's ``history_``.

        A loss recorded at some epochs only is drawn where it was recorded,
        NaN at the other epochs: after :meth:`fit` with early stopping then
        ``partial_fit``, which holds no rows out, the validation loss stops
        where ``partial_fit``'s epochs begin.

        Parameters
        ----------
        estimator : fitted AutoencoderTransformer or VAETransformer
            Any fitted estimator with a skorch ``history_``.

        terms : bool, default=True
            Also draw the ELBO terms (``*_reconstruction`` and ``*_kl``) when
            the history holds them (:class:`~skae.VAETransformer`).

        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :func:`matplotlib.pyplot.plot` for every curve.

        Returns
        -------
        display : LossCurveDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import LossCurveDisplay
        >>> display = LossCurveDisplay.from_estimator(ae)
        >>> display.ax_.get_xlabel()
        'epoch'
        """
        check_is_fitted(estimator)
        if not hasattr(estimator, "history_"):
            # A fitted detector has none: "not fitted yet" would be false.
            raise TypeError(
                f"{cls.__name__} draws the history_ of a fitted AutoencoderTransformer or "
                f"VAETransformer; {_estimator_name(estimator)} has none. For a "
                "ReconstructionOutlierDetector, pass its fitted estimator_."
            )
        history = estimator.history_
        keys = list(cls._LOSS_KEYS) + (list(cls._TERM_KEYS) if terms else [])
        curves = {}
        for key in keys:
            values = [row.get(key) for row in history]
            if any(value is not None for value in values):
                curves[key] = np.array(
                    [np.nan if value is None else value for value in values], dtype=float
                )
        epochs = np.asarray([row["epoch"] for row in history])
        display = cls(
            epochs=epochs,
            curves=curves,
            best_epoch=getattr(estimator, "best_epoch_", None),
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, *, ax=None, **kwargs):
        """Draw the curves.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :func:`matplotlib.pyplot.plot` for every curve.

        Returns
        -------
        display : LossCurveDisplay
            Object that stores the computed values and the drawn artists.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import LossCurveDisplay
        >>> display = LossCurveDisplay.from_estimator(ae)
        >>> display.plot() is display
        True
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        epochs = np.asarray(self.epochs)
        colours = {"loss": "C0", "reconstruction": "C1", "kl": "C2"}
        self.lines_ = {}
        for key, values in self.curves.items():
            values = np.asarray(values, dtype=float)
            split, _, quantity = key.partition("_")
            style = {
                "color": colours.get(quantity),
                "linestyle": "--" if split == "valid" else "-",
                "label": f"{quantity} ({'validation' if split == 'valid' else split})",
                **({} if {"marker", "markevery"} & set(kwargs) else _dots_where_alone(values)),
                **kwargs,
            }
            (self.lines_[key],) = ax.plot(epochs, values, **style)
        self.best_epoch_line_ = None
        if self.best_epoch:
            self.best_epoch_line_ = ax.axvline(
                self.best_epoch,
                color="0.4",
                linestyle=":",
                label=f"kept (epoch {self.best_epoch})",
            )
        ax.set_xlabel("epoch")
        vae = any(key.endswith(("_kl", "_reconstruction")) for key in self.curves)
        ax.set_ylabel("nats per row" if vae else "loss")
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        if self.lines_ or self.best_epoch_line_ is not None:
            # Not for a model trained for no epoch: matplotlib would warn of an empty legend.
            ax.legend()
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class LatentSpaceDisplay:
    """Scatter plot of two latent components, optionally coloured by a target.

    Works with any fitted transformer -- skae's, or
    :class:`~sklearn.decomposition.PCA` for a side-by-side comparison. A
    categorical ``y`` (strings, or at most 20 distinct numbers) is drawn one
    class per scatter with a legend; a continuous ``y`` with a colour bar.

    Use :meth:`from_estimator` to create one from a fitted estimator.

    Parameters
    ----------
    codes : ndarray of shape (n_samples, 2)
        The two components to draw (x-axis, y-axis).

    y : array-like of shape (n_samples,) or None, default=None
        Values that colour the points.

    component_names : tuple of str or None, default=None
        Axis labels; ``("component 0", "component 1")`` if None.

    estimator_name : str or None, default=None
        Name used in the title.

    Attributes
    ----------
    scatters_ : list of matplotlib.collections.PathCollection
        One scatter per class (categorical ``y``), else a single one.

    colorbar_ : matplotlib.colorbar.Colorbar or None
        Colour bar of a continuous ``y``.

    ax_ : matplotlib.axes.Axes
        Axes with the scatter plot.

    figure_ : matplotlib.figure.Figure
        Figure containing the scatter plot.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plotting import LatentSpaceDisplay
    >>> X, y = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=3, max_epochs=3, random_state=0).fit(X)
    >>> display = LatentSpaceDisplay.from_estimator(ae, X, y, components=(0, 2))
    >>> len(display.scatters_), display.ax_.get_xlabel()
    (10, 'autoencodertransformer0')
    """

    def __init__(self, *, codes, y=None, component_names=None, estimator_name=None):
        self.codes = codes
        self.y = y
        self.component_names = component_names
        self.estimator_name = estimator_name

    @classmethod
    def from_estimator(cls, estimator, X, y=None, *, components=(0, 1), ax=None, **kwargs):
        """Encode ``X`` with a fitted transformer and plot two of its components.

        Parameters
        ----------
        estimator : fitted transformer
            Any fitted estimator with ``transform`` (skae's, PCA, ...).

        X : {array-like, sparse matrix} of shape (n_samples, n_features)
            Data to encode.

        y : array-like of shape (n_samples,), default=None
            Values that colour the points (e.g. class labels).

        components : tuple of two int, default=(0, 1)
            Which components to draw on the x- and y-axis.

        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import LatentSpaceDisplay
        >>> display = LatentSpaceDisplay.from_estimator(ae, X, y)
        >>> len(display.scatters_)
        10
        """
        check_is_fitted(estimator)
        codes = np.asarray(estimator.transform(X))
        if codes.ndim != 2 or codes.shape[1] < 2:
            raise ValueError(
                "LatentSpaceDisplay needs at least two components; the estimator gives "
                f"codes of shape {codes.shape}."
            )
        components = tuple(components)
        if (
            len(components) != 2
            or not all(isinstance(c, Integral) and 0 <= c < codes.shape[1] for c in components)
            or components[0] == components[1]
        ):
            raise ValueError(
                "components must be two distinct integers in "
                f"[0, {codes.shape[1] - 1}], got {components!r}."
            )
        try:
            names = np.asarray(estimator.get_feature_names_out())
            component_names = tuple(str(names[c]) for c in components)
        except (AttributeError, ValueError):
            component_names = tuple(f"component {c}" for c in components)
        display = cls(
            codes=codes[:, list(components)],
            y=y,
            component_names=component_names,
            estimator_name=_estimator_name(estimator),
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, *, ax=None, **kwargs):
        """Draw the scatter plot.

        Parameters
        ----------
        ax : matplotlib.axes.Axes, default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.scatter`.

        Returns
        -------
        display : LatentSpaceDisplay
            Object that stores the computed values and the drawn artists.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import LatentSpaceDisplay
        >>> display = LatentSpaceDisplay(codes=ae.transform(X), y=y)
        >>> len(display.plot().scatters_)
        10
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        if ax is None:
            _, ax = plt.subplots()
        codes = check_array(self.codes)
        if codes.shape[1] != 2:
            raise ValueError(f"codes must have two columns, got shape {codes.shape}.")
        style = {"s": 8, "alpha": 0.8, **kwargs}
        self.scatters_ = []
        self.colorbar_ = None
        y = None if self.y is None else np.asarray(self.y)
        if y is not None and len(y) != len(codes):
            raise ValueError(f"y has {len(y)} values but there are {len(codes)} codes.")
        if y is None:
            self.scatters_.append(ax.scatter(codes[:, 0], codes[:, 1], **style))
        elif y.dtype.kind not in "iufb" or len(np.unique(y)) <= _MAX_LEGEND_CLASSES:
            for label in np.unique(y):
                rows = y == label
                self.scatters_.append(
                    ax.scatter(codes[rows, 0], codes[rows, 1], label=str(label), **style)
                )
            ax.legend(title="y", markerscale=2, fontsize="small")
        else:
            scatter = ax.scatter(codes[:, 0], codes[:, 1], c=y, **style)
            self.scatters_.append(scatter)
            self.colorbar_ = ax.figure.colorbar(scatter, ax=ax, label="y")
        x_name, y_name = self.component_names or ("component 0", "component 1")
        ax.set_xlabel(x_name)
        ax.set_ylabel(y_name)
        if self.estimator_name:
            ax.set_title(self.estimator_name)
        self.ax_ = ax
        self.figure_ = ax.figure
        return self


class ReconstructionDisplay:
    """Images of original rows above their reconstructions.

    For image-shaped rows (e.g. digits' 8x8 pixels flattened to 64 features):
    the first row of axes shows ``originals``, the second the
    ``reconstructions`` (``inverse_transform(transform(X))``). Build it from
    arrays with the constructor (e.g. corrupted inputs and their denoised
    versions) or from a fitted estimator with :meth:`from_estimator`.

    Parameters
    ----------
    originals : array-like of shape (n_images, n_features)
        Rows drawn in the top row.

    reconstructions : array-like of shape (n_images, n_features)
        Rows drawn in the bottom row.

    image_shape : tuple of int
        Shape of one image, e.g. ``(8, 8)``; its product is ``n_features``.

    labels : tuple of two str, default=("original", "reconstruction")
        Labels of the two rows.

    Attributes
    ----------
    images_ : ndarray of matplotlib.image.AxesImage of shape (2, n_images)
        The drawn images.

    ax_ : ndarray of matplotlib.axes.Axes of shape (2, n_images)
        One Axes per image.

    figure_ : matplotlib.figure.Figure
        Figure containing the images.

    Examples
    --------
    >>> import matplotlib
    >>> matplotlib.use("Agg")
    >>> from sklearn.datasets import load_digits
    >>> from skae import AutoencoderTransformer
    >>> from skae.plotting import ReconstructionDisplay
    >>> X, _ = load_digits(return_X_y=True)
    >>> ae = AutoencoderTransformer(n_components=8, max_epochs=3, random_state=0).fit(X)
    >>> display = ReconstructionDisplay.from_estimator(ae, X, image_shape=(8, 8), n_images=5)
    >>> display.ax_.shape
    (2, 5)
    """

    def __init__(
        self, *, originals, reconstructions, image_shape, labels=("original", "reconstruction")
    ):
        self.originals = originals
        self.reconstructions = reconstructions
        self.image_shape = image_shape
        self.labels = labels

    @classmethod
    def from_estimator(
        cls,
        estimator,
        X,
        *,
        image_shape,
        n_images=10,
        labels=("original", "reconstruction"),
        ax=None,
        **kwargs,
    ):
        """Reconstruct the first ``n_images`` rows of ``X`` and draw them.

        Parameters
        ----------
        estimator : fitted transformer
            Any fitted estimator with ``transform`` and ``inverse_transform``.

        X : array-like of shape (n_samples, n_features) or (n_samples, C, H, W)
            Rows (or images) to reconstruct; the first ``n_images`` are drawn.

        image_shape : tuple of int
            Shape of one image, e.g. ``(8, 8)``.

        n_images : int, default=10
            Number of rows to draw.

        labels : tuple of two str, default=("original", "reconstruction")
            Labels of the two rows.

        ax : array-like of matplotlib.axes.Axes of shape (2, n_images), default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.imshow` (e.g. ``cmap``).

        Returns
        -------
        display : ReconstructionDisplay

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import ReconstructionDisplay
        >>> display = ReconstructionDisplay.from_estimator(ae, X, image_shape=(8, 8), n_images=4)
        >>> display.ax_.shape
        (2, 4)
        """
        check_is_fitted(estimator)
        if not isinstance(n_images, Integral) or n_images < 1:
            raise ValueError(f"n_images must be a positive integer, got {n_images!r}.")
        X, sample_shape = as_rows(X)
        # The first rows in X's own container: a DataFrame's keep the feature
        # names that the estimator checks (as values, it would warn of their lack).
        first_rows = _safe_indexing(X, slice(0, n_images))
        X = check_array(first_rows)
        # Images given as (n, C, H, W) are encoded in that shape and drawn as rows.
        inputs = first_rows if sample_shape is None else X.reshape(len(X), *sample_shape)
        reconstructions = np.asarray(estimator.inverse_transform(estimator.transform(inputs)))
        reconstructions = reconstructions.reshape(len(X), -1)
        display = cls(
            originals=X, reconstructions=reconstructions, image_shape=image_shape, labels=labels
        )
        return display.plot(ax=ax, **kwargs)

    def plot(self, *, ax=None, **kwargs):
        """Draw the images.

        Both rows share one colour scale (the originals' range), so a
        reconstruction's contrast is comparable with its original's.

        Parameters
        ----------
        ax : array-like of matplotlib.axes.Axes of shape (2, n_images), default=None
            Axes to draw on; a new figure is created if None.

        **kwargs : dict
            Passed to :meth:`matplotlib.axes.Axes.imshow` (e.g. ``cmap``).

        Returns
        -------
        display : ReconstructionDisplay
            Object that stores the computed values and the drawn artists.

        Examples
        --------
        >>> import matplotlib
        >>> matplotlib.use("Agg")
        >>> from sklearn.datasets import load_digits
        >>> from skae import AutoencoderTransformer
        >>> X, y = load_digits(return_X_y=True)
        >>> ae = AutoencoderTransformer(n_components=2, max_epochs=3, random_state=0).fit(X)
        >>> from skae.plotting import ReconstructionDisplay
        >>> display = ReconstructionDisplay(
        ...     originals=X[:3], reconstructions=ae.inverse_transform(ae.transform(X[:3])),
        ...     image_shape=(8, 8),
        ... )
        >>> display.plot().ax_.shape
        (2, 3)
        """
        plt = _import_pyplot(f"{type(self).__name__}.plot")
        originals = check_array(self.originals, ensure_all_finite=False)
        reconstructions = check_array(self.reconstructions, ensure_all_finite=False)
        if originals.shape != reconstructions.shape:
            raise ValueError(
                f"originals {originals.shape} and reconstructions {reconstructions.shape} "
                "must have the same shape."
            )
        image_shape = tuple(self.image_shape)
        if int(np.prod(image_shape)) != originals.shape[1]:
            raise ValueError(
                f"image_shape={image_shape} holds {int(np.prod(image_shape))} values, but "
                f"rows have {originals.shape[1]} features."
            )
        n_images = len(originals)
        if ax is None:
            _, ax = plt.subplots(
                2, n_images, figsize=(1.1 * n_images, 2.4), squeeze=False
            )
        ax = np.asarray(ax, dtype=object).reshape(2, n_images)
        style = {
            "cmap": "gray_r",
            "vmin": np.nanmin(originals),
            "vmax": np.nanmax(originals),
            "interpolation": "nearest",
            **kwargs,
        }
        images = np.empty((2, n_images), dtype=object)
        for row, rows in enumerate((originals, reconstructions)):
            for i in range(n_images):
                axis = ax[row, i]
                images[row, i] = axis.imshow(rows[i].reshape(image_shape), **style)
                axis.set_xticks([])
                axis.set_yticks([])
            ax[row, 0].set_ylabel(self.labels[row])
        self.images_ = images
        self.ax_ = ax
        self.figure_ = ax[0, 0].figure
        return self
