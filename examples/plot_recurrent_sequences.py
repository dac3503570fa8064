"""
=====================================================
Recurrent autoencoder on time series
=====================================================

``architecture="gru"`` (or ``"lstm"``) reads each sample as a sequence of
``T`` steps with ``C`` channels, ``(C, T)``: a recurrent encoder summarises
the sequence into codes, and the decoder unrolls the codes back over the
``T`` steps. As every skae network, it starts at PCA's solution (a linear path
beside the recurrent body), so it reconstructs at least as well as PCA.

The data is the classic *Cylinder-Bell-Funnel* set (Saito, 1994), generated
here so the example needs no download: three shapes -- a plateau, a ramp up, a
ramp down -- that start and end at random times, with noise. We use the codes
for classification and the reconstruction error for anomaly detection.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.decomposition import PCA
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import KNeighborsClassifier

from skae import AutoencoderTransformer

LENGTH = 64


def cylinder_bell_funnel(n_samples, random_state):
    """``n_samples`` series of each shape, of shape (3 * n_samples, 1, LENGTH), and labels."""
    rng = np.random.RandomState(random_state)
    t = np.arange(LENGTH)
    series, labels = [], []
    for label in range(3):
        for _ in range(n_samples):
            start = rng.randint(LENGTH // 8, LENGTH // 4)
            end = start + rng.randint(LENGTH // 4, 3 * LENGTH // 4)
            inside = (t >= start) & (t <= end)
            ramp = (t - start) / (end - start)
            shape = [np.ones(LENGTH), ramp, 1 - ramp][label]
            series.append((6 + rng.randn()) * inside * shape + rng.randn(LENGTH))
            labels.append(label)
    return np.asarray(series)[:, None, :], np.asarray(labels)


X_train, y_train = cylinder_bell_funnel(100, random_state=0)
X_test, y_test = cylinder_bell_funnel(100, random_state=1)
print(X_train.shape)  # (n_series, channels, steps)

fig, axes = plt.subplots(1, 3, figsize=(9, 2.4), sharey=True)
for label, (ax, name) in enumerate(zip(axes, ["cylinder", "bell", "funnel"])):
    ax.plot(X_train[y_train == label][:3, 0].T)
    ax.set_title(name)

# %%
# A GRU autoencoder with 4 codes. The shape ``(1, 64)`` is taken from the
# array. A recurrent body learns slowly on few series: small batches give it
# more steps per epoch. A smaller hidden state (32 instead of the default 64)
# and fewer epochs keep the example fast. On 300 series the default early
# stopping chooses the number of epochs by 5-fold cross-validation, then
# trains on every series.
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    gru = AutoencoderTransformer(
        n_components=4, architecture="gru", hidden_layer_sizes=(32,), batch_size=32,
        max_epochs=25, random_state=0,
    ).fit(X_train)
pca = PCA(n_components=4).fit(X_train.reshape(len(X_train), -1))


def flat(X):
    return X.reshape(len(X), -1)


gru_error = np.mean((gru.inverse_transform(gru.transform(X_test)) - X_test) ** 2)
pca_error = np.mean((pca.inverse_transform(pca.transform(flat(X_test))) - flat(X_test)) ** 2)
print(f"held-out MSE  PCA: {pca_error:.3f}  GRU autoencoder: {gru_error:.3f}")

# %%
# Reconstructions of three held-out series.
reconstructions = gru.inverse_transform(gru.transform(X_test[[0, 100, 200]]))
fig, axes = plt.subplots(1, 3, figsize=(9, 2.4), sharey=True)
for ax, series, reconstruction in zip(axes, X_test[[0, 100, 200]], reconstructions):
    ax.plot(series[0], color="0.7", label="series")
    ax.plot(reconstruction[0], label="GRU reconstruction")
axes[0].legend(loc="upper left", fontsize="small")

# %%
# Codes for classification: one nearest neighbour on the 4 codes.
for name, train, test in [
    ("PCA", pca.transform(flat(X_train)), pca.transform(flat(X_test))),
    ("GRU autoencoder", gru.transform(X_train), gru.transform(X_test)),
]:
    knn = KNeighborsClassifier(n_neighbors=1).fit(train, y_train)
    print(f"{name}: 1-NN accuracy {knn.score(test, y_test):.3f}")

# %%
# Anomaly scores: ``score_samples`` is minus each series' reconstruction
# error. Series of a shape the model never saw -- sine waves -- are
# reconstructed badly. (:class:`~skae.ReconstructionOutlierDetector` wraps
# the same model with a threshold and scikit-learn's outlier-detector API.)
rng = np.random.RandomState(2)
t = np.arange(LENGTH)
anomalies = (
    3 * np.sin(2 * np.pi * t / rng.uniform(8, 24, size=(20, 1))) + rng.randn(20, LENGTH)
)[:, None, :]
scores = gru.score_samples(np.concatenate([X_test, anomalies]))
is_anomaly = np.r_[np.zeros(len(X_test)), np.ones(len(anomalies))]
print(f"ROC-AUC: {roc_auc_score(is_anomaly, -scores):.3f}")

fig, ax = plt.subplots(figsize=(6, 2.6))
ax.hist(scores[is_anomaly == 0], bins=30, alpha=0.7, label="normal shapes")
ax.hist(scores[is_anomaly == 1], bins=30, alpha=0.7, label="sine waves")
ax.set_xlabel("score_samples (higher = better reconstructed)")
ax.legend(fontsize="small")
plt.show()
