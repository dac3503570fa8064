"""Streamed data: block access and statistics, and fit on memmaps and dask arrays."""

import threading
import tracemalloc
import warnings

import numpy as np
import pandas as pd
import polars as pl
import pytest
import sklearn
from sklearn.base import clone
from sklearn.decomposition import PCA

from conftest import HOLD_OUT, BatchNormEncoder, TinyEncoder, TrainingBatchSizes

import skae._base
import skae._streaming
from skae import AutoencoderTransformer, VAETransformer
from skae._streaming import (
    BlockDataset,
    BlockIterator,
    RowBlocks,
    merge_moments,
    read_ahead,
    sample_rows,
)

SMALL = dict(n_components=2, hidden_layer_sizes=(8,), max_epochs=3, random_state=0, **HOLD_OUT)
ESTIMATORS = [AutoencoderTransformer, VAETransformer]
N_FEATURES = 5
BLOCK_ROWS = 40  # with BLOCK_ELEMENTS = 200 below


@pytest.fixture(autouse=True)
def small_blocks(monkeypatch):
    monkeypatch.setattr(skae._streaming, "BLOCK_ELEMENTS", BLOCK_ROWS * N_FEATURES)


@pytest.fixture(scope="module")
def X():
    rng = np.random.RandomState(0)
    return rng.randn(230, 2) @ rng.randn(2, N_FEATURES) + 0.1 * rng.randn(230, N_FEATURES) + 3.0


def as_memmap(X, tmp_path, name="X.npy"):
    path = tmp_path / name
    np.save(path, X)
    return np.load(path, mmap_mode="r")


def peak_memory(function, *args):
    """``function(*args)``, and the peak of what it allocated (tracemalloc: NumPy's arrays)."""
    tracemalloc.start()
    try:
        return function(*args), tracemalloc.get_traced_memory()[1]
    finally:
        tracemalloc.stop()


def quietly_fit(est, X):
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # ConvergenceWarning after 3 epochs
        return est.fit(X)


# ----------------------------------------------------------------- statistics
@pytest.mark.parametrize("ddof", [0, 1])
def test_merged_moments_equal_the_whole_data(rng, ddof):
    X = rng.randn(57, 3) * [1, 10, 100] + [5, -5, 1e4]
    moments = None
    for block in np.array_split(X, [1, 2, 20, 50]):  # blocks of 1, 1, 18, 30 and 7 rows
        if ddof:
            cov = np.cov(block, rowvar=False) if len(block) > 1 else np.zeros((3, 3))
            part = (len(block), block.mean(axis=0), cov)
        else:
            part = (len(block), block.mean(axis=0), block.var(axis=0))
        moments = merge_moments(moments, part, ddof=ddof)
    count, mean, var = moments
    assert count == len(X)
    np.testing.assert_allclose(mean, X.mean(axis=0), rtol=1e-12)
    expected = np.cov(X, rowvar=False) if ddof else X.var(axis=0)
    np.testing.assert_allclose(var, expected, rtol=1e-10)


def test_one_block_gives_its_own_moments_exactly(rng):
    part = (10, rng.randn(3), rng.rand(3))
    assert merge_moments(None, part) is part
    assert merge_moments(part, (0, None, None)) is part


@pytest.mark.parametrize("size", [50, 400])  # a few rows, and most of the rows left
def test_sample_rows(size):
    even = np.arange(0, 1000, 2)
    rows = sample_rows(1000, size, seed=3, exclude=even)
    assert len(rows) == size and len(np.unique(rows)) == size
    assert np.all(np.diff(rows) > 0) and np.all(rows % 2 == 1)
    np.testing.assert_array_equal(rows, sample_rows(1000, size, seed=3, exclude=even))
    assert not np.array_equal(rows, sample_rows(1000, size, seed=4, exclude=even))
    np.testing.assert_array_equal(sample_rows(10, 50, seed=0), np.arange(10))
    ends = np.array([0, 9])
    np.testing.assert_array_equal(sample_rows(10, 50, seed=0, exclude=ends), np.arange(1, 9))


@pytest.mark.parametrize("size", [2, 4])  # drawn, or the rows left out drawn
def test_sample_rows_draws_every_set_equally_often(size):
    from scipy.stats import chisquare

    exclude = np.array([1, 6])  # 6 rows left: 15 sets of 2 or 4 rows
    counts = {}
    for seed in range(3000):
        rows = tuple(sample_rows(8, size, seed, exclude).tolist())
        counts[rows] = counts.get(rows, 0) + 1
    assert len(counts) == 15 and not set(sum(counts, ())) & {1, 6}
    assert chisquare(list(counts.values())).pvalue > 1e-3


def test_sample_rows_takes_memory_of_its_size_not_of_the_rows():
    """Nor does a validation set of a tenth of the rows, nor a sample that excludes it,
    build an index of every row (8 bytes per row): numpy's Generator.choice does
    above a fiftieth."""
    n_samples, n_valid = 10**7, 10**6
    valid, valid_peak = peak_memory(sample_rows, n_samples, n_valid, 0)
    sample, sample_peak = peak_memory(sample_rows, n_samples, 1000, 1, valid)
    assert valid_peak < 3 * valid.nbytes  # an index of every row: 10 times valid.nbytes
    assert sample_peak < 1.5 * valid.nbytes
    assert len(np.unique(valid)) == n_valid and valid[-1] < n_samples
    assert len(sample) == 1000 and not np.isin(sample, valid).any()


def test_detector_row_sample_takes_memory_of_its_size_not_of_the_data():
    """The detector's sampled rules draw from a memmap of any length without a
    permutation of every row (8 bytes per row)."""
    from skae._outlier import _sampled_rows

    rows, peak = peak_memory(_sampled_rows, 10**8, 0, 2000)
    assert peak < 10**6  # a permutation of 10**8 rows would take 800 MB
    assert len(np.unique(rows)) == 2000 and np.all(np.diff(rows) > 0) and rows[-1] < 10**8
    np.testing.assert_array_equal(rows, _sampled_rows(10**8, random_state=0, size=2000))
    np.testing.assert_array_equal(_sampled_rows(7, random_state=0, size=2000), np.arange(7))


# -------------------------------------------------------------- block reading
def test_row_blocks_of_a_memmap(X, tmp_path):
    blocks = RowBlocks(as_memmap(X, tmp_path))
    np.testing.assert_array_equal(blocks.bounds, [0, 40, 80, 120, 160, 200, 230])
    read = list(blocks.iter(np.float64))
    assert all(type(block) is np.ndarray and block.flags.writeable for block in read)
    np.testing.assert_array_equal(np.vstack(read), X)
    assert blocks.read(5, np.float32).dtype == np.float32


def test_row_blocks_check_every_block(X, tmp_path):
    seen = []
    blocks = RowBlocks(as_memmap(X, tmp_path), check=lambda block, start: seen.append(start))
    list(blocks.iter(np.float32))
    assert seen == [0, 40, 80, 120, 160, 200]


def test_read_ahead_keeps_order_and_bounds_what_is_in_flight():
    in_flight, peak, lock = [0], [0], threading.Lock()
    consumed = threading.Event()

    def load(key):
        with lock:
            in_flight[0] += 1
            peak[0] = max(peak[0], in_flight[0])
        return key

    results = []
    for key in read_ahead(load, range(10), depth=1):
        results.append(key)
        with lock:
            in_flight[0] -= 1
        consumed.set()
    assert results == list(range(10))
    assert peak[0] <= 2  # the one consumed and the one being read


def test_read_ahead_raises_the_loaders_error():
    def load(key):
        if key == 3:
            raise ValueError("bad block 3")
        return key

    with pytest.raises(ValueError, match="bad block 3"):
        list(read_ahead(load, range(6)))


def test_block_iterator_visits_every_kept_row_once_per_epoch(X, tmp_path):
    exclude = np.array([0, 41, 42, 229])
    dataset = BlockDataset(RowBlocks(as_memmap(X, tmp_path)), exclude, "cpu")
    assert len(dataset) == len(X) - len(exclude)
    iterator = BlockIterator(dataset, batch_size=16, shuffle=True, seed=0)
    kept = np.delete(X, exclude, axis=0).astype(np.float32)
    epochs = []
    for _ in range(2):
        batches = [batch.numpy() for batch, _ in iterator]
        assert len(batches) == len(iterator)
        rows = np.vstack(batches)
        # every kept row exactly once
        np.testing.assert_array_equal(np.unique(rows, axis=0), np.unique(kept, axis=0))
        assert len(rows) == len(kept)
        epochs.append(rows)
    assert not np.array_equal(epochs[0], epochs[1])  # reshuffled every epoch
    again = np.vstack([b.numpy() for b, _ in BlockIterator(dataset, 16, shuffle=True, seed=0)])
    np.testing.assert_array_equal(again, epochs[0])


def test_block_iterator_batches_stay_within_a_block(X, tmp_path):
    dataset = BlockDataset(RowBlocks(as_memmap(X, tmp_path)), np.empty(0, int), "cpu")
    block_of = {tuple(np.float32(row)): i // BLOCK_ROWS for i, row in enumerate(X)}
    for batch, _ in BlockIterator(dataset, batch_size=16, shuffle=True, seed=1):
        assert len({block_of[tuple(row)] for row in batch.numpy()}) == 1


def test_unshuffled_block_iterator_reads_in_order(X, tmp_path):
    dataset = BlockDataset(RowBlocks(as_memmap(X, tmp_path)), np.empty(0, int), "cpu")
    rows = np.vstack([b.numpy() for b, _ in BlockIterator(dataset, batch_size=16)])
    np.testing.assert_array_equal(rows, X.astype(np.float32))


def test_block_iterator_merges_each_blocks_single_row_for_batch_norm(X, tmp_path):
    dataset = BlockDataset(RowBlocks(as_memmap(X, tmp_path)), np.empty(0, int), "cpu")
    iterator = BlockIterator(dataset, batch_size=13, shuffle=True, seed=0, merge_single_row=True)
    # blocks of 40 rows (13 + 13 + 14) and a last one of 30 (13 + 13 + 4)
    assert sorted(len(batch) for batch, _ in iterator) == sorted([13, 13, 14] * 5 + [13, 13, 4])
    assert len(iterator) == 18
    # A block of one kept row leaves nothing to merge it with.
    lone = BlockDataset(RowBlocks(as_memmap(X, tmp_path)), np.arange(1, BLOCK_ROWS), "cpu")
    with pytest.raises(ValueError, match="at least 2 rows.*a block of the streamed training data"):
        BlockIterator(lone, batch_size=13, merge_single_row=True)


# ---------------------------------------------------------------- fit on memmap
@pytest.mark.parametrize("encoder, block_batches", [(BatchNormEncoder, [13, 13, 14]),
                                                    (TinyEncoder, [13, 13, 13, 1])])
def test_streamed_fit_merges_single_rows_only_for_batch_norm(encoder, block_batches, X, tmp_path):
    sizes = TrainingBatchSizes()
    est = AutoencoderTransformer(n_components=2, encoder=encoder, batch_size=13, max_epochs=1,
                                 early_stopping=False, random_state=0, callbacks=[sizes])
    quietly_fit(est, as_memmap(X, tmp_path))
    assert sorted(sizes.sizes_) == sorted(block_batches * 5 + [13, 13, 4])


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("early_stopping", [True, False])
def test_fit_on_a_memmap_never_loads_it_whole(cls, X, tmp_path, monkeypatch, early_stopping):
    data = as_memmap(X, tmp_path)
    largest = [0]
    to_tensor = skae._base.to_float32_tensor

    def recording(block, device):
        largest[0] = max(largest[0], len(block))
        return to_tensor(block, device)

    monkeypatch.setattr(skae._base, "to_float32_tensor", recording)
    est = quietly_fit(cls(**{**SMALL, "early_stopping": early_stopping}), data)
    # the validation set (23 rows) and inference chunks are the only tensors made
    # here; the training blocks are read by BlockDataset
    assert largest[0] <= BLOCK_ROWS
    assert est.n_samples_seen_ == len(X) and est.n_epochs_ == 3
    assert hasattr(est, "validation_scores_") == early_stopping
    codes = est.transform(data)
    np.testing.assert_array_equal(codes, est.transform(np.asarray(X)))
    assert np.isfinite(codes).all()


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_on_a_memmap_learns_and_is_deterministic(cls, X, tmp_path):
    data = as_memmap(np.tile(X, (2, 1)), tmp_path)
    params = dict(SMALL, init="random", learning_rate=1e-2, max_epochs=15, early_stopping=False)
    a = quietly_fit(cls(**params), data)
    b = quietly_fit(cls(**params), data)
    np.testing.assert_array_equal(a.transform(X), b.transform(X))
    first, last = a.loss_curve_[0], a.loss_curve_[-1]
    assert last < first - 0.2 * abs(first)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_streamed_fit_of_one_block_without_early_stopping_is_the_in_memory_model(
    cls, X, tmp_path, monkeypatch
):
    # The user guide's promise; with early stopping the validation rows differ.
    monkeypatch.setattr(skae._streaming, "BLOCK_ELEMENTS", X.size)
    params = dict(SMALL, init="random", learning_rate=1e-2, early_stopping=False)
    streamed = quietly_fit(cls(**params), as_memmap(X, tmp_path))
    in_memory = quietly_fit(cls(**params), X)
    np.testing.assert_array_equal(streamed.transform(X), in_memory.transform(X))


def test_streamed_statistics_equal_the_in_memory_ones(X, tmp_path):
    est = AutoencoderTransformer(input_scaling="feature", **SMALL)
    loc, scale = est._scaling(as_memmap(X, tmp_path))
    np.testing.assert_allclose(loc, X.mean(axis=0), rtol=1e-12)
    np.testing.assert_allclose(scale, X.std(axis=0), rtol=1e-10)


def test_latent_gaussian_of_a_memmap_fit(X, tmp_path):
    est = quietly_fit(AutoencoderTransformer(**SMALL), as_memmap(X, tmp_path))
    codes = est.transform(X)
    np.testing.assert_allclose(est.latent_mean_, codes.mean(axis=0), rtol=1e-10, atol=1e-12)
    np.testing.assert_allclose(
        est.latent_covariance_, np.cov(codes, rowvar=False), rtol=1e-10, atol=1e-12
    )


@pytest.mark.parametrize(
    "value, match", [(np.nan, "NaN"), (np.inf, "infinity"), (1e300, "float32")]
)
def test_bad_values_in_any_block_are_an_error(X, tmp_path, value, match):
    bad = X.copy()
    bad[170, 2] = value
    with pytest.raises(ValueError, match=match) as error:
        AutoencoderTransformer(**SMALL).fit(as_memmap(bad, tmp_path))
    assert "rows 160 to 199" in str(error.value)


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_fit_checks_each_block_once(cls, X, tmp_path, monkeypatch):
    # the statistics' pass checks every block; the epochs read them unchecked
    starts = []
    check = skae._base._BaseAutoencoder._check_block

    def counting(self, block, start):
        starts.append(start)
        return check(self, block, start)

    monkeypatch.setattr(skae._base._BaseAutoencoder, "_check_block", counting)
    quietly_fit(cls(**SMALL), as_memmap(X, tmp_path))
    assert starts == [0, 40, 80, 120, 160, 200]


def test_later_partial_fit_chunks_are_checked(X, tmp_path):
    bad = X.copy()
    bad[170, 2] = np.nan
    data = as_memmap(bad, tmp_path)
    est = AutoencoderTransformer(**SMALL).partial_fit(data[:120])
    with pytest.raises(ValueError, match="NaN") as error:
        est.partial_fit(data[120:])
    assert "rows 40 to 79" in str(error.value)  # rows of the chunk


def test_support_is_checked_in_every_block(tmp_path):
    X = np.random.RandomState(0).uniform(size=(200, N_FEATURES))
    X[150, 0] = 1.5
    with pytest.raises(ValueError, match=r"\[0, 1\]"):
        AutoencoderTransformer(loss="bce", **SMALL).fit(as_memmap(X, tmp_path))


@pytest.mark.parametrize("overshoot, expected", [(0.0, "bce"), (1e-3, "mse")])
def test_auto_loss_reads_the_range_of_every_block(tmp_path, overshoot, expected):
    X = np.random.RandomState(0).uniform(size=(200, N_FEATURES))
    X[150, 0] = 1.0 + overshoot  # in the last block but one
    est = AutoencoderTransformer(**{**SMALL, "early_stopping": False})
    assert quietly_fit(est, as_memmap(X, tmp_path)).loss_ == expected


def test_auto_loss_falls_back_to_pca_on_streamed_data(tmp_path):
    # Independent uniform features leave binary cross-entropy nothing to beat PCA
    # by on the held-out rows: PCA's solution (on every row), identity output.
    X = np.random.RandomState(0).uniform(size=(200, N_FEATURES))
    est = quietly_fit(AutoencoderTransformer(**SMALL), as_memmap(X, tmp_path))
    assert est.loss_ == "mse" and est.best_epoch_ == 0
    pca = PCA(n_components=2).fit(X)
    np.testing.assert_allclose(est.inverse_transform(est.transform(X)),
                               pca.inverse_transform(pca.transform(X)), atol=1e-5)


def test_memmap_of_another_width_or_rank_is_an_error(X, tmp_path):
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    with pytest.raises(ValueError, match="X has 4 features"):
        est.partial_fit(as_memmap(X[:, :4], tmp_path))
    with pytest.raises(ValueError, match="2-D"):
        AutoencoderTransformer().fit(as_memmap(X.ravel(), tmp_path, "flat.npy"))
    with pytest.raises(ValueError, match="0 sample"):
        AutoencoderTransformer().fit(as_memmap(X[:0], tmp_path, "empty.npy"))


def test_float32_and_integer_memmaps(X, tmp_path):
    for data in (X.astype(np.float32), np.round(X * 10).astype(np.int16),
                 np.round(X * 10).astype(np.uint8)):
        est = quietly_fit(AutoencoderTransformer(**SMALL), as_memmap(data, tmp_path))
        assert np.isfinite(est.transform(data.astype(np.float64))).all()



@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.int16, np.float16])
def test_inference_on_a_memmap_to_convert_reads_it_in_chunks(cls, dtype, X, tmp_path, monkeypatch):
    data = np.round(np.tile(X, (10, 1)) * 10).astype(dtype)
    mapped = as_memmap(data, tmp_path)
    est = quietly_fit(cls(**SMALL), X)
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", BLOCK_ROWS * N_FEATURES)
    codes, peak = peak_memory(est.transform, mapped)
    # no float64 copy of the whole memmap beside the codes
    assert peak < codes.nbytes + 0.5 * data.size * 8
    np.testing.assert_array_equal(codes, est.transform(data))
    assert codes.dtype == np.float64
    np.testing.assert_array_equal(est.score_samples(mapped), est.score_samples(data))
    if dtype == np.float16:
        data[-1, 2] = np.nan
        with pytest.raises(ValueError, match="NaN or infinity in rows 2280 to 2299"):
            est.transform(as_memmap(data, tmp_path, "nan.npy"))


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.int16, np.float16])
def test_inverse_transform_of_a_memmap_to_convert_reads_it_in_chunks(cls, dtype, X, tmp_path,
                                                                    monkeypatch):
    est = quietly_fit(cls(**SMALL), X)
    codes = np.round(np.tile(est.transform(X), (10, 1)) * 10).astype(dtype)
    mapped = as_memmap(codes, tmp_path)
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", BLOCK_ROWS * N_FEATURES)
    est.inverse_transform(mapped[:10])  # what the first call allocates once
    rows, peak = peak_memory(est.inverse_transform, mapped)
    # no float64 copy of the whole memmap beside the reconstructions
    assert peak < rows.nbytes + 0.5 * codes.size * 8
    np.testing.assert_array_equal(rows, est.inverse_transform(codes))
    assert rows.dtype == np.float64
    if dtype == np.float16:
        codes[-1, 1] = np.inf
        # blocks of 100 rows of 2 codes (BLOCK_ELEMENTS = 200)
        with pytest.raises(ValueError, match="NaN or infinity in rows 2200 to 2299"):
            est.inverse_transform(as_memmap(codes, tmp_path, "inf.npy"))
    # Refused by its own rank: check_array on its first row printed one code as the array.
    with pytest.raises(ValueError, match=r"^Expected a 2-D array, got a 1-D memmap\.$"):
        est.inverse_transform(as_memmap(codes[:, 0], tmp_path, "1d.npy"))


def test_inference_on_a_memmap_holds_no_index_of_every_row(X, tmp_path):
    """Scores (8 bytes per row) are all the memory that grows with the rows."""
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    path = tmp_path / "long.npy"
    np.lib.format.open_memmap(path, "w+", np.float32, (5 * 10**5, N_FEATURES)).flush()  # zeros
    long = np.load(path, mmap_mode="r")
    est.score_samples(long[:10])  # what the first call allocates once
    scores, peak = peak_memory(est.score_samples, long)
    assert peak < 1.6 * scores.nbytes  # an index of every row: as much as the scores


def sequence_memmaps(X, tmp_path, dtype=np.float32):
    """Sequences (n, 2, 5) of ``X``'s rows, and memmaps of them that are no view of
    rows: in Fortran order, and a slice of wider sequences."""
    sequences = np.stack([X, X[:, ::-1] - 1.0], axis=1).astype(dtype)
    wider = np.concatenate([sequences, np.zeros_like(sequences[:, :, :2])], axis=2)
    return sequences, {
        "Fortran order": as_memmap(np.asfortranarray(sequences), tmp_path, "fortran.npy"),
        "slice": as_memmap(wider, tmp_path, "wider.npy")[:, :, :N_FEATURES],
    }


@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inference_on_a_memmap_of_sequences_reads_it_in_chunks(cls, X, tmp_path, monkeypatch):
    sequences, memmaps = sequence_memmaps(np.tile(X, (10, 1)), tmp_path, np.float64)
    est = quietly_fit(cls(**SMALL), sequences[:230])
    monkeypatch.setattr(skae._base, "_INFERENCE_CHUNK_ELEMENTS", BLOCK_ROWS * N_FEATURES)
    for name, mapped in memmaps.items():
        assert not np.shares_memory(mapped.reshape(len(mapped), -1), mapped)  # rows: a copy
        head = mapped[:460]  # a VAE's scores take long: enough rows for many blocks
        np.testing.assert_array_equal(est.score_samples(head), est.score_samples(sequences[:460]))
        codes, peak = peak_memory(est.transform, mapped)
        assert peak < codes.nbytes + 0.5 * sequences.nbytes, name
        assert codes.dtype == np.float64
        np.testing.assert_array_equal(codes, est.transform(sequences))
    if cls is AutoencoderTransformer:
        errors = est.reconstruction_error(memmaps["slice"], per_feature=True)
        assert errors.shape == sequences.shape
        expected = est.reconstruction_error(sequences, per_feature=True)
        np.testing.assert_array_equal(errors, expected)


def test_values_of_a_memmap_of_sequences_are_checked_block_by_block(X, tmp_path):
    sequences, _ = sequence_memmaps(X, tmp_path, np.float64)
    est = quietly_fit(AutoencoderTransformer(**SMALL), sequences)
    for value, match in [(np.nan, "NaN or infinity in rows 200 to 219"),
                         (1e300, "beyond the range of float32")]:
        bad = sequences.copy()
        bad[215, 1, 3] = value
        fortran = as_memmap(np.asfortranarray(bad), tmp_path, "bad.npy")
        with pytest.raises(ValueError, match=match):
            est.transform(fortran)
    with pytest.raises(ValueError, match=r"samples of shape \(5, 2\)"):
        est.transform(as_memmap(np.asfortranarray(sequences.reshape(-1, 5, 2)), tmp_path, "t.npy"))
    with pytest.raises(ValueError, match="2-D"):
        est.transform(as_memmap(np.arange(10, dtype=np.int16), tmp_path, "1d.npy"))
    with pytest.raises(ValueError, match="got 5 dimensions"):
        est.transform(as_memmap(np.asfortranarray(sequences[..., None, None]), tmp_path, "5d.npy"))


def test_partial_fit_on_memmap_chunks(X, tmp_path):
    data = as_memmap(X, tmp_path)
    in_memory = AutoencoderTransformer(**SMALL).partial_fit(X[:120]).partial_fit(X[120:])
    streamed = AutoencoderTransformer(**SMALL).partial_fit(data[:120]).partial_fit(data[120:])
    assert streamed.n_epochs_ == 2 and streamed.n_samples_seen_ == len(X)
    # different shuffling (block by block), the same start
    np.testing.assert_allclose(
        streamed.net_.module_.normalize.loc, in_memory.net_.module_.normalize.loc, rtol=1e-6
    )


def test_first_partial_fit_on_a_memmap_holds_no_index_of_every_row(tmp_path, monkeypatch):
    """The PCA start's sample is drawn as fit draws it on streamed data, in memory
    of its size: not from an index of every row, which RandomState.choice also
    permutes whole (16 bytes per row)."""
    n_samples = 2 * 10**5
    monkeypatch.setattr(skae._streaming, "BLOCK_ELEMENTS", 2**14)  # few blocks: a quick epoch
    monkeypatch.setattr(skae._base, "_INIT_MAX_SAMPLES", 1000)
    path = tmp_path / "long.npy"
    long = np.lib.format.open_memmap(path, "w+", np.float32, (n_samples, N_FEATURES))
    long[:] = np.random.RandomState(0).randn(n_samples, N_FEATURES)
    long.flush()
    params = dict(SMALL, batch_size=4096)
    AutoencoderTransformer(**params).partial_fit(long[:10])  # what a first call allocates once
    est, peak = peak_memory(AutoencoderTransformer(**params).partial_fit, long)
    assert peak < 8 * n_samples  # an index of every row alone takes that
    assert est.n_samples_seen_ == n_samples and np.isfinite(est.transform(long[:10])).all()


# ------------------------------------------------------------------ dask arrays
@pytest.mark.parametrize("cls", ESTIMATORS)
def test_dask_array_fits_as_the_memmap_of_the_same_blocks(cls, X, tmp_path):
    da = pytest.importorskip("dask.array")
    from_dask = quietly_fit(cls(**SMALL), da.from_array(X, chunks=(BLOCK_ROWS, -1)))
    from_memmap = quietly_fit(cls(**SMALL), as_memmap(X, tmp_path))
    np.testing.assert_array_equal(from_dask.transform(X), from_memmap.transform(X))


def test_dask_row_chunks_are_the_blocks(X):
    da = pytest.importorskip("dask.array")
    blocks = RowBlocks(da.from_array(X, chunks=((100, 0, 30, 100), (2, 3))))
    np.testing.assert_array_equal(blocks.bounds, [0, 100, 130, 230])
    np.testing.assert_array_equal(np.vstack(list(blocks.iter(np.float64))), X)


@pytest.mark.parametrize("method", ["fit", "partial_fit", "detector"])
def test_dask_array_with_unknown_chunks_is_an_error(X, method):
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    unknown = da.from_array(X, chunks=(50, -1))
    unknown = unknown[unknown[:, 0] > -np.inf]
    with pytest.raises(ValueError, match="compute_chunk_sizes"):
        if method == "detector":
            ReconstructionOutlierDetector(random_state=0).fit(unknown)
        else:
            getattr(AutoencoderTransformer(**SMALL), method)(unknown)


@pytest.mark.parametrize("cls", ESTIMATORS)
@pytest.mark.parametrize("dtype", [np.float32, np.float64])
def test_inference_on_dask_arrays_is_lazy_and_blockwise(cls, X, dtype):
    da = pytest.importorskip("dask.array")
    est = quietly_fit(cls(**SMALL), X)
    data = X.astype(dtype)
    lazy_X = da.from_array(data, chunks=((100, 30, 100), (2, 3)))  # columns get joined
    codes = est.transform(lazy_X)
    assert isinstance(codes, da.Array)
    assert codes.chunks == ((100, 30, 100), (2,)) and codes.dtype == dtype
    blocks = np.split(data, [100, 130])

    def blockwise(method, parts):  # a float32 product's rounding depends on its row count
        return np.concatenate([method(part) for part in parts])

    np.testing.assert_array_equal(codes.compute(), blockwise(est.transform, blocks))
    scores = est.score_samples(lazy_X)
    assert scores.chunks == ((100, 30, 100),) and scores.dtype == np.float64
    np.testing.assert_array_equal(scores.compute(), blockwise(est.score_samples, blocks))
    back = est.inverse_transform(codes)
    assert back.chunks == ((100, 30, 100), (N_FEATURES,)) and back.dtype == dtype
    np.testing.assert_array_equal(
        back.compute(), blockwise(est.inverse_transform, np.split(codes.compute(), [100, 130]))
    )
    assert est.score(lazy_X) == pytest.approx(est.score(data), rel=1e-6)


@pytest.mark.parametrize("output", ["pandas", "polars"])
def test_set_output_gives_a_dataframe_of_a_dask_array(output, X):
    # polars cannot build a DataFrame from the lazy dask array (a TypeError);
    # pandas computed it itself.
    da = pytest.importorskip("dask.array")
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    lazy_X = da.from_array(X, chunks=(100, -1))
    expected = est.transform(lazy_X).compute()
    frame = {"pandas": pd.DataFrame, "polars": pl.DataFrame}[output]
    with sklearn.config_context(transform_output=output):
        global_output = est.transform(lazy_X)
    local_output = est.set_output(transform=output).transform(lazy_X)
    for codes in (global_output, local_output):
        assert isinstance(codes, frame)
        assert list(codes.columns) == list(est.get_feature_names_out())
        np.testing.assert_array_equal(codes.to_numpy(), expected)


def test_reconstruction_error_of_a_dask_array(X):
    da = pytest.importorskip("dask.array")
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    lazy_X = da.from_array(X, chunks=(100, -1))
    per_feature = est.reconstruction_error(lazy_X, per_feature=True)
    assert per_feature.shape == X.shape
    np.testing.assert_array_equal(
        per_feature.compute(), est.reconstruction_error(X, per_feature=True)
    )


def test_dask_inference_checks_the_width_before_computing(X):
    da = pytest.importorskip("dask.array")
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    with pytest.raises(ValueError, match="X has 4 features"):
        est.transform(da.from_array(X[:, :4], chunks=50))
    with pytest.raises(ValueError, match="Z has 3 columns"):
        est.inverse_transform(da.zeros((10, 3), chunks=5))



@pytest.mark.parametrize("cls", ESTIMATORS)
def test_inference_on_a_dask_array_of_sequences_is_lazy_and_blockwise(cls, X):
    # fit loads such an array (as the user guide says); inference keeps it lazy
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    sequences = np.stack([X, X[:, ::-1] - 1.0], axis=1)  # (230, 2, 5)
    lazy = da.from_array(sequences, chunks=((100, 30, 100), 1, 3))  # samples get joined
    est = quietly_fit(cls(**SMALL), lazy)
    detector = quietly_fit(ReconstructionOutlierDetector(cls(**SMALL), random_state=0), sequences)
    blocks = np.split(sequences, [100, 130])
    methods = [(est, "transform", (2,)), (est, "score_samples", ()),
               (detector, "score_samples", ())]
    if cls is AutoencoderTransformer:
        methods += [(est, "reconstruction_error", ()),
                    (detector, "feature_contributions", (2, N_FEATURES))]
    for model, method, shape in methods:
        result = getattr(model, method)(lazy)
        assert isinstance(result, da.Array) and result.shape == (len(X), *shape)
        assert result.chunks[0] == (100, 30, 100)
        # a float32 product's rounding depends on its row count: compared block by block
        expected = np.concatenate([getattr(model, method)(block) for block in blocks])
        np.testing.assert_array_equal(result.compute(), expected)
    back = est.inverse_transform(est.transform(lazy))
    assert back.chunks == ((100, 30, 100), (2,), (N_FEATURES,))
    with pytest.raises(ValueError, match=r"samples of shape \(5, 2\)"):
        est.transform(da.from_array(sequences.reshape(len(X), N_FEATURES, 2), chunks=50))


def test_a_dask_array_of_rank_5_is_refused_naming_its_shape(X):
    # Not the shape of the one-row probe that checks it: (1, 5, 1, 1, 1).
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL), random_state=0)
    detector = quietly_fit(detector, X)
    rank_5 = da.from_array(X[:, :, None, None, None], chunks=100)
    for method in (est.transform, est.score_samples, detector.score_samples, detector.predict):
        with pytest.raises(ValueError, match=r"got 5 dimensions, shape \(230, 5, 1, 1, 1\)\.$"):
            method(rank_5)
    # Codes are no samples: inverse_transform's error stays scikit-learn's.
    with pytest.raises(ValueError, match="Found array with dim 5"):
        est.inverse_transform(da.from_array(est.transform(X)[:, :, None, None, None]))
    # Refused by its rank before it is computed (computing this one raises).
    def unreadable(block):
        raise AssertionError("the array was computed")

    lazy = rank_5.map_blocks(unreadable, dtype=rank_5.dtype)
    fits = (AutoencoderTransformer(**SMALL).fit, ReconstructionOutlierDetector().fit)
    for method in (est.transform, detector.score_samples) + fits:
        with pytest.raises(ValueError, match=r"got 5 dimensions, shape \(230, 5, 1, 1, 1\)\."):
            method(lazy)


def test_a_complex_memmap_is_refused_as_in_memory(X, tmp_path):
    # Read block by block as floats, its imaginary part was dropped with only
    # numpy's warning, and the detector scored the real part.
    from skae import ReconstructionOutlierDetector

    complex_rows = as_memmap(X + 1j, tmp_path)
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL), random_state=0)
    detector = quietly_fit(detector, X)
    methods = (est.transform, est.score_samples, detector.score_samples, detector.predict,
               detector.decision_function, detector.feature_contributions)
    for method in methods:
        name = type(method.__self__).__name__
        with pytest.raises(ValueError, match=f"^Complex data not supported by {name}; X has"):
            method(complex_rows)
    # Codes to convert are checked by their dtype, not by check_array on their first row.
    with pytest.raises(ValueError, match=r"^Complex data not supported .*; Z has dtype complex"):
        est.inverse_transform(as_memmap(est.transform(X)[:5] + 1j, tmp_path, "Z.npy"))


def test_a_complex_dask_array_is_refused_naming_its_dtype_not_a_probe(X):
    # scikit-learn's message printed the probe that stands for X: one row of zeros.
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL), random_state=0)
    detector = quietly_fit(detector, X)
    complex_rows = da.from_array(X + 1j, chunks=100)
    methods = (est.transform, est.score_samples, detector.score_samples, detector.predict,
               AutoencoderTransformer(**SMALL).fit, ReconstructionOutlierDetector().fit)
    for method in methods:
        name = type(method.__self__).__name__
        with pytest.raises(ValueError, match=rf"^Complex data not supported by {name}; X has "
                                             r"dtype complex128\.($|\n)"):
            method(complex_rows)
    with pytest.raises(ValueError, match=r"^Complex data .*; Z has dtype complex128\.$"):
        est.inverse_transform(da.from_array(est.transform(X) + 1j, chunks=100))


def test_a_dask_array_without_features_is_refused_naming_its_shape(X):
    # Not the shape of the row that stands for it in validation: (1, 0).
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL), random_state=0)
    detector = quietly_fit(detector, X)
    empty = da.zeros((60, 0), chunks=20)
    methods = (est.transform, est.inverse_transform, detector.score_samples,
               AutoencoderTransformer(**SMALL).fit, ReconstructionOutlierDetector().fit)
    for method in methods:
        name = type(method.__self__).__name__
        message = rf"^Found array with 0 feature\(s\) \(shape=\(60, 0\)\) .* required by {name}\."
        with pytest.raises(ValueError, match=message):
            method(empty)


def test_a_dask_array_of_numbers_as_strings_is_converted_as_in_memory(X):
    # Its probe, an empty string, could not be converted where its values can.
    da = pytest.importorskip("dask.array")
    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    strings = X[:100].astype(str)
    lazy = da.from_array(strings, chunks=(100, -1))
    np.testing.assert_array_equal(est.transform(lazy).compute(), est.transform(strings))


def test_a_dask_array_of_rank_1_is_refused_as_one(X):
    # Not scikit-learn's message about the one-row probe, which names its zeros
    # as the array's values.
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    est = quietly_fit(AutoencoderTransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL), random_state=0)
    detector = quietly_fit(detector, X)
    methods = (est.transform, est.score_samples, est.inverse_transform,
               detector.score_samples, detector.predict)
    fits = (AutoencoderTransformer(**SMALL).fit,
            ReconstructionOutlierDetector(AutoencoderTransformer(**SMALL)).fit,
            ReconstructionOutlierDetector().fit)
    for method in methods + fits:
        # (a fit's error carries a note that the estimator is left unfitted)
        with pytest.raises(ValueError, match=r"^Expected a 2-D array, got a 1-D Array\.($|\n)"):
            method(da.from_array(X[0], chunks=2))


def test_dask_inference_passes_empty_row_chunks(X):
    # A filtered dask array has empty chunks once its sizes are computed.
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    lazy_X = da.from_array(X, chunks=((0, 100, 0, 130), -1))
    ae = quietly_fit(AutoencoderTransformer(**SMALL), X)
    vae = quietly_fit(VAETransformer(**SMALL), X)
    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    for est, method in [(ae, "transform"), (ae, "reconstruction_error"), (vae, "score_samples"),
                        (detector, "predict"), (detector, "feature_contributions")]:
        result = getattr(est, method)(lazy_X)
        assert result.chunks[0] == (0, 100, 0, 130)
        parts = np.split(X, [100])  # a float32 product's rounding depends on its row count
        expected = np.concatenate([getattr(est, method)(part) for part in parts])
        np.testing.assert_array_equal(result.compute(), expected)
    codes = da.from_array(ae.transform(X), chunks=((0, 230), -1))
    assert ae.inverse_transform(codes).compute().shape == X.shape

# ------------------------------------------------------- detector inference
def record_scaled_rows(detector, monkeypatch):
    """A list that receives the number of rows of each block ``detector`` scales."""
    scaled_rows = []
    scale = detector._scale

    def recording(rows):
        scaled_rows.append(len(rows))
        return scale(rows)

    monkeypatch.setattr(detector, "_scale", recording)
    return scaled_rows


def test_detector_scores_a_memmap_block_by_block(X, tmp_path, monkeypatch):
    from skae import ReconstructionOutlierDetector

    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    data = as_memmap(X, tmp_path)
    scaled_rows = record_scaled_rows(detector, monkeypatch)
    for method in ("score_samples", "decision_function", "predict", "feature_contributions"):
        scaled_rows.clear()
        np.testing.assert_array_equal(getattr(detector, method)(data),
                                      getattr(detector, method)(np.asarray(X)))
        # no scaled copy of more than a block: 230 rows in blocks of 40
        assert max(scaled_rows[:-1]) <= BLOCK_ROWS and len(scaled_rows) == 7
    assert detector.predict(data).dtype == detector.predict(X).dtype


def test_detector_scores_a_memmap_of_sequences_block_by_block(X, tmp_path, monkeypatch):
    from skae import ReconstructionOutlierDetector

    sequences = np.asarray(X).reshape(len(X), 1, N_FEATURES)
    detector = ReconstructionOutlierDetector(random_state=0).fit(sequences)
    data = as_memmap(sequences, tmp_path)
    scaled_rows = record_scaled_rows(detector, monkeypatch)
    for method in ("score_samples", "feature_contributions"):
        scaled_rows.clear()
        result = getattr(detector, method)(data)
        assert max(scaled_rows) <= BLOCK_ROWS  # no scaled copy of more than a block
        np.testing.assert_array_equal(result, getattr(detector, method)(sequences))


def test_detector_inference_on_a_dask_array_is_lazy(X):
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    detector = ReconstructionOutlierDetector(random_state=0).fit(X)
    lazy_X = da.from_array(X, chunks=(100, -1))
    for method in ("score_samples", "decision_function", "predict", "feature_contributions"):
        result = getattr(detector, method)(lazy_X)
        assert result.chunks[0] == (100, 100, 30)
        np.testing.assert_array_equal(result.compute(), getattr(detector, method)(X))
    with pytest.raises(ValueError, match="X has 4 features"):
        detector.score_samples(da.from_array(X[:, :4], chunks=50))


# ------------------------------------------------------------- detector fit
@pytest.fixture
def small_chunks(monkeypatch):
    """The statistics' chunks (the PCA samples', the decoded reference codes') no
    larger than the blocks."""
    monkeypatch.setattr(skae._base, "_CHUNK_ELEMENTS", BLOCK_ROWS * N_FEATURES)
    monkeypatch.setattr(skae._outlier, "_CHUNK_ROWS", BLOCK_ROWS)


def test_detector_fit_on_a_memmap_never_holds_it_whole(X, tmp_path, monkeypatch, small_chunks):
    from skae import ReconstructionOutlierDetector

    scaled, tensors = [], []
    scale, to_tensor = ReconstructionOutlierDetector._scale, skae._base.to_float32_tensor

    def recording_scale(self, rows):
        scaled.append(len(rows))
        return scale(self, rows)

    def recording_tensor(block, device):
        tensors.append(len(block))
        return to_tensor(block, device)

    monkeypatch.setattr(ReconstructionOutlierDetector, "_scale", recording_scale)
    monkeypatch.setattr(skae._base, "to_float32_tensor", recording_tensor)
    detector = ReconstructionOutlierDetector(random_state=0).fit(as_memmap(X, tmp_path))
    # both fits and the statistics' passes read scaled rows, a block at a time
    assert len(scaled) > 2 * len(X) // BLOCK_ROWS and max(scaled) <= BLOCK_ROWS
    assert max(tensors) <= BLOCK_ROWS
    assert detector.n_features_in_ == N_FEATURES
    # the second fit trained on the rows the first kept (all but the worst 10 %)
    assert detector.estimator_.n_samples_seen_ == len(X) - len(X) // 10


def test_detector_fit_on_a_memmap_is_consistent_with_its_scores(X, tmp_path):
    from skae import ReconstructionOutlierDetector

    detector = ReconstructionOutlierDetector(random_state=0).fit(as_memmap(X, tmp_path))
    in_memory = ReconstructionOutlierDetector(random_state=0).fit(X)
    np.testing.assert_allclose(detector.scale_, in_memory.scale_, rtol=1e-12)
    # the threshold is Tukey's fence on the training rows' scores, computed
    # block by block in fit and here from the rows in memory
    q1, q3 = np.percentile(detector.score_samples(X), [25, 75])
    assert detector.offset_ == pytest.approx(q1 - 1.5 * (q3 - q1), rel=1e-9)
    again = ReconstructionOutlierDetector(random_state=0).fit(as_memmap(X, tmp_path, "Y.npy"))
    np.testing.assert_array_equal(again.score_samples(X), detector.score_samples(X))


def test_detector_fit_on_a_dask_array_as_on_the_memmap_of_the_same_blocks(X, tmp_path):
    da = pytest.importorskip("dask.array")
    from skae import ReconstructionOutlierDetector

    on_memmap = ReconstructionOutlierDetector(random_state=0).fit(as_memmap(X, tmp_path))
    on_dask = ReconstructionOutlierDetector(random_state=0).fit(
        da.from_array(X, chunks=(BLOCK_ROWS, -1))
    )
    assert on_dask.offset_ == on_memmap.offset_
    np.testing.assert_array_equal(on_dask.score_samples(X), on_memmap.score_samples(X))


def test_detector_fit_reads_a_dask_array_by_its_row_chunks(X):
    # Each chunk one delayed read. A pass over the data reads each chunk once,
    # not once for each 40-row block a memmap would be cut into: two chunks of
    # 115 rows are read a third as often as six chunks of 40 (or fewer), where
    # 40-row slices of them would read them as often.
    da = pytest.importorskip("dask.array")
    dask = pytest.importorskip("dask")
    from skae import ReconstructionOutlierDetector

    def fit_counting_reads(rows_per_chunk):
        reads = []

        def read(start):
            reads.append(start)
            return X[start : start + rows_per_chunk]

        starts = range(0, len(X), rows_per_chunk)
        lazy = da.concatenate([
            da.from_delayed(dask.delayed(read)(start),
                            (len(X[start : start + rows_per_chunk]), N_FEATURES), X.dtype)
            for start in starts
        ])
        detector = ReconstructionOutlierDetector(random_state=0).fit(lazy)
        return detector, len(reads)

    detector, reads_of_two = fit_counting_reads(115)
    _, reads_of_six = fit_counting_reads(BLOCK_ROWS)
    assert 2 * reads_of_two < reads_of_six
    in_memory = ReconstructionOutlierDetector(random_state=0).fit(
        da.from_array(X, chunks=(115, -1))
    )
    np.testing.assert_array_equal(detector.score_samples(X), in_memory.score_samples(X))


@pytest.mark.parametrize("value", [np.nan, np.inf])
@pytest.mark.parametrize("feature_scaling", ["auto", None])
def test_detector_fit_names_the_row_of_a_bad_value(X, tmp_path, value, feature_scaling):
    # Read in the sample that sets the scaling or the number of components
    # before any pass checked the blocks; without a scaling, the principal
    # axes of that sample raised scipy's "array must not contain infs or NaNs".
    from skae import ReconstructionOutlierDetector

    bad = X.copy()
    bad[170, 2] = value
    detector = ReconstructionOutlierDetector(feature_scaling=feature_scaling, random_state=0)
    with pytest.raises(ValueError, match=r"^Input X contains NaN or infinity in row 170\."):
        detector.fit(as_memmap(bad, tmp_path))


def test_detector_of_an_estimator_that_cannot_stream_loads_a_memmap(X, tmp_path):
    from skae import ReconstructionOutlierDetector

    detector = ReconstructionOutlierDetector(PCA(2), random_state=0)
    on_memmap = clone(detector).fit(as_memmap(X, tmp_path))
    assert on_memmap.offset_ == detector.fit(X).offset_
