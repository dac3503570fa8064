"""Training data: the row dataset (dense or CSR), the batch iterator, float32 tensors."""

import math

import numpy as np
import pytest
import scipy.sparse as sp
import torch

from skae._data import BatchIterator, RowDataset, has_batch_norm, to_float32_tensor


def _row_ids(n):
    """A dataset whose rows carry their own index in column 0."""
    data = torch.stack([torch.arange(n, dtype=torch.float32), torch.zeros(n)], dim=1)
    return RowDataset(data, np.arange(n), "cpu")


def _epoch(iterator):
    batches = list(iterator)
    assert all(y is None for _, y in batches)
    return [X[:, 0].long().tolist() for X, _ in batches]


@pytest.mark.parametrize("n, batch_size", [(23, 5), (20, 5), (3, 200), (1, 1)])
@pytest.mark.parametrize("shuffle", [False, True])
def test_batch_iterator_yields_every_row_once(n, batch_size, shuffle):
    iterator = BatchIterator(_row_ids(n), batch_size=batch_size, shuffle=shuffle, seed=0)
    for _ in range(3):
        batches = _epoch(iterator)
        sizes = [len(b) for b in batches]
        expected = [batch_size] * (n // batch_size) + ([n % batch_size] if n % batch_size else [])
        assert sizes == expected  # the last, smaller batch is kept
        assert len(batches) == len(iterator) == math.ceil(n / batch_size)
        assert sorted(sum(batches, [])) == list(range(n))
        if not shuffle:
            assert sum(batches, []) == list(range(n))


def test_batch_iterator_reshuffles_each_epoch_deterministically():
    orders = {}
    for seed in (0, 0, 1):
        iterator = BatchIterator(_row_ids(50), batch_size=8, shuffle=True, seed=seed)
        orders.setdefault(seed, []).append([sum(_epoch(iterator), []) for _ in range(3)])
    first, again = orders[0]
    assert first == again  # same seed, same sequence of epochs
    assert first[0] != first[1] != first[2]  # a new order every epoch
    assert first[0] != list(range(50))
    assert orders[1][0] != first  # another seed, another sequence


def test_batch_iterator_over_a_subset_of_rows():
    data = torch.arange(10, dtype=torch.float32)[:, None]
    dataset = RowDataset(data, [1, 4, 7, 9], "cpu")
    assert len(dataset) == 4
    rows = sorted(sum(_epoch(BatchIterator(dataset, 3, shuffle=True, seed=2)), []))
    assert rows == [1, 4, 7, 9]


@pytest.mark.parametrize("block_elements", [1, 2 * 7 * 2, 10**6])
def test_batch_iterator_blocks_do_not_change_the_batches(monkeypatch, block_elements):
    # Rows are gathered a block at a time: any block size yields the same batches
    # (one batch per block, blocks of two batches, everything in one block).
    reference = [X.tolist() for X, _ in BatchIterator(_row_ids(23), 7, shuffle=True, seed=4)]
    monkeypatch.setattr(BatchIterator, "BLOCK_ELEMENTS", block_elements)
    blocked = [X.tolist() for X, _ in BatchIterator(_row_ids(23), 7, shuffle=True, seed=4)]
    assert blocked == reference
    assert [len(b) for b in blocked] == [7, 7, 7, 2]


@pytest.mark.parametrize("block_elements", [2 * 5 * 2, 10**6])
@pytest.mark.parametrize("shuffle", [False, True])
def test_merge_single_row_joins_a_lone_last_row_to_the_batch_before(monkeypatch, block_elements,
                                                                    shuffle):
    # 21 rows in batches of 5: 5, 5, 5, 6 rather than 5, 5, 5, 5, 1; with blocks of
    # two batches the lone row is a block of its own, joined to the block before.
    monkeypatch.setattr(BatchIterator, "BLOCK_ELEMENTS", block_elements)
    iterator = BatchIterator(_row_ids(21), 5, shuffle=shuffle, seed=0, merge_single_row=True)
    batches = _epoch(iterator)
    assert [len(b) for b in batches] == [5, 5, 5, 6]
    assert len(iterator) == 4
    assert sorted(sum(batches, [])) == list(range(21))
    # Any other last batch is left as it is.
    assert [len(b) for b in _epoch(BatchIterator(_row_ids(22), 5, merge_single_row=True))] == [
        5, 5, 5, 5, 2]


@pytest.mark.parametrize("n, batch_size, match", [(1, 5, "training data has 1 row"),
                                                  (4, 1, "batch_size is 1")])
def test_merge_single_row_with_nothing_to_merge_with_is_an_error(n, batch_size, match):
    with pytest.raises(ValueError, match=f"batch-normalisation layer.*at least 2 rows.*{match}"):
        BatchIterator(_row_ids(n), batch_size, merge_single_row=True)


def test_has_batch_norm():
    assert has_batch_norm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.BatchNorm1d(2)))
    assert has_batch_norm(torch.nn.SyncBatchNorm(3))
    assert not has_batch_norm(torch.nn.Sequential(torch.nn.Linear(2, 2), torch.nn.LayerNorm(2)))


def test_row_dataset_with_csr_matches_dense(rng):
    dense = rng.randn(30, 4)
    dense[dense < 0.5] = 0.0
    csr = sp.csr_matrix(dense)
    indices = np.array([0, 3, 5, 8, 13, 21, 29])
    sparse_set = RowDataset(csr, indices, "cpu")
    dense_set = RowDataset(to_float32_tensor(dense, "cpu"), indices, "cpu")
    assert sparse_set.sparse and not dense_set.sparse
    assert len(sparse_set) == len(dense_set) == len(indices)
    positions = torch.tensor([0, 2, 6])
    got = sparse_set.rows(positions)
    assert got.dtype == torch.float32
    torch.testing.assert_close(got, dense_set.rows(positions))
    torch.testing.assert_close(got, torch.as_tensor(dense[indices[[0, 2, 6]]], dtype=torch.float32))
    X0, y0 = sparse_set[1]
    torch.testing.assert_close(X0, torch.as_tensor(dense[3], dtype=torch.float32))
    # The iterator densifies one batch at a time and still covers every row once.
    batches = [X for X, _ in BatchIterator(sparse_set, 3, shuffle=True, seed=0)]
    assert [len(b) for b in batches] == [3, 3, 1]
    stacked = torch.cat(batches).numpy()
    expected = dense[indices].astype(np.float32)
    assert sorted(map(tuple, stacked)) == sorted(map(tuple, expected))


def test_to_float32_tensor():
    X = np.arange(6, dtype=np.float64).reshape(3, 2)
    t = to_float32_tensor(X, "cpu")
    assert t.dtype == torch.float32 and t.device.type == "cpu"
    np.testing.assert_array_equal(t.numpy(), X)
