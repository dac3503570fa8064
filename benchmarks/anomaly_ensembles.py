"""Would an ensemble with a peer close skae's gaps? Score-level ensembles, measured.

``bench_anomaly.py``'s second target asks skae's detector to be within 0.01 of
the best peer on each of its 25 dataset-protocol pairs; the peers that win the
pairs skae trails (LOF, IsolationForest, OneClassSVM, PCA error) differ from
pair to pair. This script asks whether adding one of them to skae's score, or
several, would meet it: on the benchmark's splits, it fits skae's default
detector and the four fast peers (``bench_anomaly.contestants``), and ranks
the test rows by a label-free combination of their anomaly scores. Each
detector's score is first put on a common scale by its own *training* rows'
scores -- a default has no labels to weigh them by:

* ``robust``: minus the training median, over the training interquartile range;
* ``rank``: the share of training rows scoring lower (training ECDF).

Besides fixed mixtures, it measures a label-free choice of one detector per
split, as unsupervised model selection does: the detector whose ranking of
the training rows agrees best (Spearman) with the consensus, the mean of all
candidates' training ranks.

Each combination is compared with the peers stored by ``bench_anomaly.py``
(the same splits), as that script compares skae: mean ROC-AUC, pairs more than
``TOLERANCE`` behind the best peer, and unsupervised pairs lost to
IsolationForest where an autoencoder peer beats it. Run::

    python benchmarks/anomaly_ensembles.py

The peers' scores are computed here, in the same way as the benchmark's, so
the row of skae alone reproduces the benchmark's figures.
"""
import warnings

import numpy as np
import torch
from scipy.stats import rankdata, spearmanr
from sklearn.metrics import roc_auc_score

import bench_anomaly as bench

PEERS = ("IsolationForest", "LOF", "OneClassSVM", "PCA error")


def robust(test, train):
    q1, median, q3 = np.percentile(train, [25, 50, 75])
    return (test - median) / max(q3 - q1, np.finfo(np.float64).eps)


def rank(test, train):
    return np.searchsorted(np.sort(train), test, side="right") / len(train)


def anomaly_scores():
    """Per pair, per split: the test labels and each detector's (test, training) scores."""
    out = {}
    for protocol, dataset, splits in bench.pair_splits():
        for seed, X_train, X_test, is_anomaly in splits:
            k = bench.skae_n_components(X_train, seed)
            split = {"y": is_anomaly}
            for name, (factory, anomaly_score) in bench.contestants(seed).items():
                if name != bench.SKAE and name not in PEERS:
                    continue
                with warnings.catch_warnings():
                    warnings.simplefilter("ignore")
                    model = factory(k).fit(X_train)
                split[name] = (anomaly_score(model, X_test), anomaly_score(model, X_train))
            out.setdefault((protocol, dataset), []).append(split)
        print(f"  {protocol} {dataset}", flush=True)
    return out


def consensus_choice(split, names):
    """The test scores of the detector among ``names`` nearest the training consensus."""
    ranks = {name: rankdata(split[name][1]) for name in names}
    consensus = np.mean(list(ranks.values()), axis=0)
    chosen = max(names, key=lambda name: spearmanr(ranks[name], consensus)[0])
    return split[chosen][0]


def ensembles():
    """``label -> f(split)``: the anomaly score of the test rows."""
    def scaled(split, name, scale):
        return scale(*split[name])

    out = {"skae alone": lambda s: s[bench.SKAE][0]}
    for peer in PEERS:
        for weight in (0.25, 0.5, 1.0):
            out[f"skae + {weight:g} x {peer} (robust)"] = (
                lambda s, p=peer, w=weight: scaled(s, bench.SKAE, robust) + w * scaled(s, p, robust))
        out[f"skae + {peer} (rank)"] = (
            lambda s, p=peer: scaled(s, bench.SKAE, rank) + scaled(s, p, rank))
        out[f"max(skae, {peer}) (robust)"] = (
            lambda s, p=peer: np.maximum(scaled(s, bench.SKAE, robust), scaled(s, p, robust)))
    out["skae + all four peers (rank)"] = lambda s: sum(
        scaled(s, name, rank) for name in (bench.SKAE, *PEERS))
    for pool in ((bench.SKAE, *PEERS), (bench.SKAE, "IsolationForest")):
        out[f"consensus choice among {', '.join(pool)}"] = (
            lambda s, pool=pool: consensus_choice(s, pool))
    return out


def evaluate(scores, combine, store):
    """Suite means, the pairs behind the best peer and the losses to IsolationForest."""
    peers = [m for m in bench._methods(store) if m != bench.SKAE]
    store = {p: {d: dict(by_method) for d, by_method in by_dataset.items()}
             for p, by_dataset in store.items()}
    for (protocol, dataset), splits in scores.items():
        store[protocol][dataset][bench.SKAE] = {
            "roc_auc": [roc_auc_score(s["y"], combine(s)) for s in splits]}
    cells = list(scores)
    methods = [bench.SKAE, *peers]
    behind = sum(bench._best_other(store, p, d, bench.SKAE, methods)[1] > bench.TOLERANCE
                 for p, d in cells)
    lost = bench.losses_to_forest(store, methods)
    auc = {(p, d): bench._mean(store, p, d, bench.SKAE) for p, d in cells}
    unsupervised = np.mean([v for (p, _), v in auc.items() if p == "unsupervised"])
    return unsupervised, np.mean(list(auc.values())), behind, lost


def main():
    torch.set_num_threads(1)
    store = bench._load_store(bench.STORE)
    scores = anomaly_scores()
    print(f"\n| score | unsupervised | all 25 | > {bench.TOLERANCE} behind | lost to IF |")
    print("|---|---:|---:|---:|---|")
    for label, combine in ensembles().items():
        unsupervised, overall, behind, lost = evaluate(scores, combine, store)
        print(f"| {label} | {unsupervised:.3f} | {overall:.3f} | {behind} | "
              f"{', '.join(lost) or 'none'} |", flush=True)


if __name__ == "__main__":
    main()
