"""Does a near-constant feature's floor hide the anomalies among its rare values?

``ReconstructionOutlierDetector``'s ``feature_scaling`` adds a floor to a
near-constant feature's variance (90 % of the rows hold one value), so that its
rare values are not inflated into huge errors. The floor is the rare values'
median square deviation from the common value; their mean square, the rule
before it, is set by the far ones. On unlabelled training data the far rare
values are the anomalies, and a floor they set scales them back to about one
unit. This script measures both rules on synthetic tables built for that case:
six correlated Gaussian features and a flag that is 0 in 95 % of the rows and
about 3 in the others; anomalies set the flag to about 40, in a share
``contamination`` of the training rows and 2 % of the test rows. Run::

    python benchmarks/anomaly_near_constant.py

It prints the mean ROC-AUC over five seeds per contamination and rule, and the
flag's ``scale_`` (the flag is near-constant, so ``"auto"``'s Yeo-Johnson
transform leaves it to the floor, although it is skewed).
"""
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score

from skae import ReconstructionOutlierDetector
from skae import _outlier

CONTAMINATIONS = (0.0, 0.01, 0.03)
SEEDS = range(5)


def table(n_rows, contamination, rng):
    """Rows and anomaly labels of the synthetic table (see the module docstring)."""
    X = rng.randn(n_rows, 6) @ rng.randn(6, 6)
    flag = np.where(rng.rand(n_rows) < 0.05, 3 + rng.randn(n_rows), 0.0)
    is_anomaly = rng.rand(n_rows) < contamination
    flag[is_anomaly] = 40 + 5 * rng.randn(is_anomaly.sum())
    return np.c_[X, flag], is_anomaly


def mean_square_rule(near_constant):
    """``_outlier._near_constant`` with no median: the floor falls back to the
    rare values' mean square over every row, the rule the median replaced."""

    def patched(rows):
        modes, near, typical = near_constant(rows)
        return modes, near, np.full_like(typical, np.nan)

    return patched


def measure(contamination):
    """Mean ROC-AUC and the flag's mean ``scale_`` over ``SEEDS``."""
    aucs, scales = [], []
    for seed in SEEDS:
        rng = np.random.RandomState(seed)
        X_train, _ = table(2000, contamination, rng)
        X_test, is_anomaly = table(2000, 0.02, rng)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")
            detector = ReconstructionOutlierDetector(random_state=seed).fit(X_train)
        aucs.append(roc_auc_score(is_anomaly, -detector.score_samples(X_test)))
        scales.append(detector.scale_[-1])
    return np.mean(aucs), np.mean(scales)


def main():
    median_rule = _outlier._near_constant
    print(f"{'training contamination':<24}{'rule':<14}{'ROC-AUC':>9}{'flag scale_':>13}")
    for contamination in CONTAMINATIONS:
        for name, rule in (("median", median_rule), ("mean square", mean_square_rule(median_rule))):
            _outlier._near_constant = rule
            try:
                auc, scale = measure(contamination)
            finally:
                _outlier._near_constant = median_rule
            print(f"{contamination:<24.2f}{name:<14}{auc:>9.3f}{scale:>13.3f}", flush=True)


if __name__ == "__main__":
    main()
