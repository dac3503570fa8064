"""
=====================================================
Which features make a row anomalous?
=====================================================

:class:`~skae.ReconstructionOutlierDetector` scores a row by how badly its
model of normal data reconstructs it (plus how unusual the row's codes are,
and how anomalous its nearest training rows are).
:meth:`~skae.ReconstructionOutlierDetector.feature_contributions` splits the
reconstruction part of that score over the features: each feature's squared
reconstruction error, on the detector's scale, so that a row's contributions
add up to the reconstruction part of its anomaly score.

The data: scikit-learn's breast cancer set (30 measurements of cell nuclei, in
mixed units), with the benign tumours as normal rows and a few malignant ones
mixed in, as in the ODDS benchmark's ``wbc`` task.
"""

# %%
import warnings

import matplotlib.pyplot as plt
import numpy as np
from sklearn.datasets import load_breast_cancer
from sklearn.exceptions import ConvergenceWarning
from sklearn.metrics import roc_auc_score
from sklearn.model_selection import train_test_split

from skae import ReconstructionOutlierDetector

data = load_breast_cancer(as_frame=True)
X, y = data.data, data.target  # y: 0 malignant, 1 benign
rng = np.random.RandomState(0)
malignant = rng.choice(np.flatnonzero(y == 0), 21, replace=False)
rows = np.r_[np.flatnonzero(y == 1), malignant]
X, is_anomaly = X.iloc[rows], (y.iloc[rows] == 0).to_numpy().astype(int)
X_train, X_test, _, is_anomaly_test = train_test_split(
    X, is_anomaly, test_size=0.4, stratify=is_anomaly, random_state=0
)

# %%
# The detector with its defaults, fitted on the (unlabelled, contaminated)
# training split. It scales the features itself (heavy-tailed ones, such as
# the tumours' areas, through a Yeo-Johnson transform first, so the
# contributions are in those units), and fits twice: the
# rows its first model scores worst -- the likeliest anomalies -- are left out
# of the second fit (``trim_fraction=0.1``).
with warnings.catch_warnings():
    warnings.simplefilter("ignore", ConvergenceWarning)
    detector = ReconstructionOutlierDetector(random_state=0).fit(X_train)
anomaly_score = -detector.score_samples(X_test)
print(f"ROC-AUC on the held-out split: {roc_auc_score(is_anomaly_test, anomaly_score):.3f}")

# %%
# The contributions of the three most anomalous held-out rows. The
# reconstruction part of a row's score is the sum of its bars; the rest of the
# score is the codes' part (how unusual the row's place on the learned
# manifold is, and how much more anomalous its nearest training rows are:
# the default score shares them), which belongs to no single feature.
contributions = detector.feature_contributions(X_test)
worst = np.argsort(anomaly_score)[::-1][:3]
fig, axes = plt.subplots(1, 3, figsize=(12, 5), sharey=True)
for ax, row in zip(axes, worst):
    top = np.argsort(contributions[row])[::-1][:8]
    ax.barh(X.columns[top][::-1], contributions[row, top][::-1])
    reconstruction = contributions[row].sum()
    ax.set_title(
        f"row {row} ({'malignant' if is_anomaly_test[row] else 'benign'})\n"
        f"score {anomaly_score[row]:.1f} = {reconstruction:.1f} reconstruction"
        f" + {anomaly_score[row] - reconstruction:.1f} codes and neighbours",
        fontsize=9,
    )
    ax.set_xlabel("contribution to the anomaly score")
fig.tight_layout()

# %%
# Over all held-out rows, the features that contribute most to the anomaly
# scores of the malignant tumours, against their share for benign ones:
share = contributions / contributions.sum(axis=1, keepdims=True)
by_class = np.vstack([share[is_anomaly_test == 0].mean(axis=0),
                      share[is_anomaly_test == 1].mean(axis=0)])
top = np.argsort(by_class[1])[::-1][:8]
fig, ax = plt.subplots(figsize=(7, 4))
positions = np.arange(len(top))
ax.barh(positions + 0.2, by_class[1, top], height=0.4, label="malignant")
ax.barh(positions - 0.2, by_class[0, top], height=0.4, label="benign")
ax.set_yticks(positions, X.columns[top])
ax.invert_yaxis()
ax.set_xlabel("mean share of the reconstruction part of the score")
ax.legend()
fig.tight_layout()
plt.show()
