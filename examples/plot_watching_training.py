"""
======================================================
Watching a fit: TensorBoard, loss curves, progress bar
======================================================

Three ways to see a network train: skorch's ``TensorBoard`` callback writes
every epoch's losses where TensorBoard reads them,
:class:`skae.plotting.LossCurveDisplay` draws them from the fitted estimator,
and scikit-learn's :class:`~sklearn.callback.ProgressBar` follows a whole grid
search, down to the epochs of each fit. See :ref:`callbacks` for the rules
(what ``verbose`` prints where, what ``clone`` copies).
"""

# %%
# A VAE logged to TensorBoard
# ---------------------------
# Pass skorch's callback with a ``SummaryWriter`` (``pip install
# skae[tensorboard]``); skae runs it as given. The log goes to a temporary
# directory here; point ``SummaryWriter`` at ``runs/...`` and run
# ``tensorboard --logdir runs`` to watch it live.
import tempfile
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_digits
from sklearn.exceptions import ConvergenceWarning
from skorch.callbacks import TensorBoard
from torch.utils.tensorboard import SummaryWriter

from skae import AutoencoderTransformer, VAETransformer
from skae.plotting import LossCurveDisplay

X, _ = load_digits(return_X_y=True)
X = X / 16 + np.random.RandomState(0).uniform(size=X.shape) / 16  # dequantised

log_dir = tempfile.mkdtemp(prefix="skae-tensorboard-")
vae = VAETransformer(
    n_components=8,
    max_epochs=40,
    random_state=0,
    callbacks=[TensorBoard(SummaryWriter(log_dir))],
)
with warnings.catch_warnings():
    # 40 epochs keep the example short; the warning says training could go on.
    warnings.simplefilter("ignore", ConvergenceWarning)
    vae.fit(X)

# %%
# Reading the scalars back
# ------------------------
# TensorBoard's own reader finds one scalar series per history key: the loss on
# the training and validation rows and, for a VAE, the ELBO's two terms.
from tensorboard.backend.event_processing.event_accumulator import EventAccumulator

events = EventAccumulator(log_dir)
events.Reload()
tags = sorted(events.Tags()["scalars"])
print("\n".join(tags))

# %%
# The same curves two ways
# ------------------------
# Left, the scalars read from TensorBoard's files, drawn with
# :class:`~skae.plotting.LossCurveDisplay`; right, the display made directly
# from the fitted estimator's ``history_``, which also marks the epoch whose
# weights were kept.
keys = ["train_loss", "valid_loss", "train_kl", "valid_kl"]
curves = {key: [e.value for e in events.Scalars(f"Loss/{key}")] for key in keys}
epochs = [e.step for e in events.Scalars("Loss/train_loss")]

fig, (left, right) = plt.subplots(1, 2, figsize=(11, 4), sharey=True)
LossCurveDisplay(epochs=epochs, curves=curves, estimator_name="from TensorBoard").plot(ax=left)
LossCurveDisplay.from_estimator(vae, ax=right)
plt.show()

# %%
# Progress as the output allows
# -----------------------------
# ``verbose=1`` shows a live bar (epoch, losses, time left) in a terminal or a
# notebook. Here the output is captured into this page, not a terminal, so each
# epoch prints one plain line instead, without colour codes.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    AutoencoderTransformer(n_components=8, max_epochs=5, random_state=0, verbose=1).fit(X)

# %%
# A grid search with a progress bar
# ---------------------------------
# scikit-learn's callbacks are set on the search, which hands them to each fit
# of the estimator (also in parallel workers with ``n_jobs=2``); every epoch is
# a step of its fit's bar. ``ProgressBar`` draws with the ``rich`` package.
# In a terminal the bars move; this page shows their final state (in 130
# columns: rich would otherwise assume a terminal's 80 and shorten the lines).
import os

from sklearn.callback import ProgressBar

os.environ["COLUMNS"] = "130"
from sklearn.model_selection import GridSearchCV

search = GridSearchCV(
    AutoencoderTransformer(max_epochs=15, random_state=0),
    {"n_components": [4, 8]},
    cv=2,
)
search.set_callbacks(ProgressBar(max_propagation_depth=None))
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    search.fit(X)
print("best n_components:", search.best_params_["n_components"])
