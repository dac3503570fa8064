"""Is the neighbourhood size vowels wants a property of skae's network? Measured without one.

``bench_anomaly.py``'s detector loses vowels (both protocols) to OneClassSVM's
broad kernel, and the diagnosis found that its local term ranks vowels well
only with many neighbours, and digits novelty only with few. This script asks
the same of the plainest peer there is: the distance from each test row to
its k-th nearest training row, in a ``StandardScaler``'s space, with no
network and no codes, on the benchmark's splits, for several k. Run::

    python benchmarks/anomaly_knn_scales.py

It prints the mean ROC-AUC over the splits of each pair, per k.
"""
import warnings

import numpy as np
from sklearn.metrics import roc_auc_score
from sklearn.neighbors import NearestNeighbors
from sklearn.preprocessing import StandardScaler

import bench_anomaly as bench

NEIGHBOURS = (5, 10, 20, 50)
PAIRS = (("unsupervised", ("vowels", "wine")), ("semi-supervised", ("vowels", "digits")))


def knn_roc_auc(splits, neighbours=NEIGHBOURS):
    """``{k: mean ROC-AUC}`` of the k-th neighbour distance over ``splits``."""
    aucs = {k: [] for k in neighbours}
    for _, X_train, X_test, is_anomaly in splits:
        scaler = StandardScaler().fit(X_train)
        search = NearestNeighbors(n_neighbors=max(neighbours)).fit(scaler.transform(X_train))
        distances, _ = search.kneighbors(scaler.transform(X_test))
        for k in neighbours:
            aucs[k].append(roc_auc_score(is_anomaly, distances[:, k - 1]))
    return {k: float(np.mean(v)) for k, v in aucs.items()}


def main():
    print(f"{'pair':<32}" + "".join(f"{f'k = {k}':>9}" for k in NEIGHBOURS))
    for protocol, datasets in PAIRS:
        for protocol, dataset, splits in bench.pair_splits((protocol,), datasets):
            with warnings.catch_warnings():
                warnings.simplefilter("ignore")
                aucs = knn_roc_auc(splits)
            print(f"{protocol + ' ' + dataset:<32}"
                  + "".join(f"{aucs[k]:>9.3f}" for k in NEIGHBOURS), flush=True)


if __name__ == "__main__":
    main()
