"""Training data for skorch: a pre-loaded tensor (or CSR matrix) and an iterator slicing it.

skae feeds skorch a dataset that is a pre-loaded tensor on the training device
and an iterator that slices it, instead of skorch's per-row
``Dataset.__getitem__`` + ``DataLoader`` (about 8x slower for small networks).
"""

import math

import numpy as np
import scipy.sparse as sp
import torch


def to_float32_tensor(X, device):
    """Dense ``X`` as a float32 tensor on ``device``.

    No copy when ``X`` already is a writeable float32 array and ``device`` is the
    CPU. A read-only array (joblib hands memmaps to parallel workers) is copied:
    torch would alias memory it is allowed to write.
    """
    X = np.asarray(X, dtype=np.float32)
    if not X.flags.writeable:
        X = X.copy()
    return torch.as_tensor(X, device=device)


class RowDataset(torch.utils.data.Dataset):
    """The rows ``indices`` of a pre-loaded tensor, or of a CSR matrix densified per batch."""

    def __init__(self, data, indices, device):
        self.data = data
        self.device = device
        self.sparse = sp.issparse(data)
        self.indices = (
            np.asarray(indices)
            if self.sparse
            else torch.as_tensor(indices, dtype=torch.long, device=device)
        )

    def __len__(self):
        return len(self.indices)

    def rows(self, positions):
        """The rows at ``positions`` (into ``indices``) as a float32 tensor on the device."""
        if self.sparse:
            block = self.data[self.indices[positions.cpu().numpy()]].toarray()
            return to_float32_tensor(block, self.device)
        return self.data.index_select(0, self.indices[positions])

    def __getitem__(self, i):
        return self.rows(torch.as_tensor([i]))[0], 0


class BatchIterator:
    """Yields ``(X_batch, None)`` by slicing a :class:`RowDataset`.

    skorch builds the iterator once per ``fit`` and iterates it every epoch, so
    the order is reshuffled in ``__iter__`` from a generator seeded once. Rows
    are gathered a block of batches at a time (about ``BLOCK_ELEMENTS`` values,
    bounded memory) and each batch is a slice of its block: one gather per
    block instead of three small operations per batch.
    """

    #: Values gathered at once (4 MiB of float32).
    BLOCK_ELEMENTS = 2**20

    def __init__(self, dataset, batch_size, shuffle=False, seed=0):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))

    def __len__(self):
        return math.ceil(len(self.dataset) / self.batch_size)

    def __iter__(self):
        n = len(self.dataset)
        if self.shuffle:
            order = torch.randperm(n, generator=self.generator)
        else:
            order = torch.arange(n)
        if not self.dataset.sparse:
            order = order.to(self.dataset.device)
        row_size = max(1, self.dataset.data.shape[1])
        block_rows = self.batch_size * max(1, self.BLOCK_ELEMENTS // (self.batch_size * row_size))
        for block_start in range(0, n, block_rows):
            block = self.dataset.rows(order[block_start : block_start + block_rows])
            for start in range(0, len(block), self.batch_size):
                yield block[start : start + self.batch_size], None
