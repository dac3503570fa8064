"""Training data for skorch: a pre-loaded tensor (or CSR matrix) and an iterator slicing it.

skae feeds skorch a dataset that is a pre-loaded tensor on the training device
and an iterator that slices it, instead of skorch's per-row
``Dataset.__getitem__`` + ``DataLoader`` (about 8x slower for small networks).
"""

import numpy as np
import scipy.sparse as sp
import torch
from torch.nn.modules.batchnorm import _BatchNorm


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


def has_batch_norm(module):
    """Whether ``module`` holds a batch-normalisation layer (``SyncBatchNorm`` included).

    Such a layer cannot normalise a training batch of one row (torch raises), so
    its network's training batches never have one (``merge_single_row`` of
    :class:`BatchIterator`). In evaluation mode it uses its running statistics,
    and takes batches of any size.
    """
    return any(isinstance(layer, _BatchNorm) for layer in module.modules())


def _starts(n, size, merge_single_row):
    """Where the spans of ``size`` rows that cover ``n`` rows start (a ``range``).

    Each span ends where the next one starts, the last at ``n``: that one may
    be shorter -- or, with ``merge_single_row``, ``size + 1`` rows long rather
    than leaving one row on its own.
    """
    last = n - 1 if merge_single_row and n > 1 and size > 1 and n % size == 1 else n
    return range(0, last, size)


def _spans(n, size, merge_single_row):
    """``(start, stop)`` of each span of :func:`_starts`."""
    starts = _starts(n, size, merge_single_row)
    for start in starts:
        stop = start + size
        yield start, stop if stop < starts.stop else n


class BatchIterator:
    """Yields ``(X_batch, None)`` by slicing a :class:`RowDataset`.

    skorch builds the iterator once per ``fit`` and iterates it every epoch, so
    the order is reshuffled in ``__iter__`` from a generator seeded once. Rows
    are gathered a block of batches at a time (about ``BLOCK_ELEMENTS`` values,
    bounded memory) and each batch is a slice of its block: one gather per
    block instead of three small operations per batch.

    With ``merge_single_row`` (training a network with batch normalisation,
    :func:`has_batch_norm`) a last batch of one row is merged into the batch
    before it, which gets ``batch_size + 1`` rows; data of one row, or
    ``batch_size=1``, leaves nothing to merge with: ``ValueError``.
    """

    #: Values gathered at once (4 MiB of float32).
    BLOCK_ELEMENTS = 2**20
    #: What a batch cannot extend beyond, for the error of a lone row.
    _PART = "the training data"

    def __init__(self, dataset, batch_size, shuffle=False, seed=0, merge_single_row=False):
        self.dataset = dataset
        self.batch_size = batch_size
        self.shuffle = shuffle
        self.generator = torch.Generator().manual_seed(int(seed))
        self.merge_single_row = merge_single_row
        if merge_single_row and (batch_size < 2 or 1 in self._part_lengths()):
            reason = f"batch_size is {batch_size}" if batch_size < 2 else f"{self._PART} has 1 row"
            raise ValueError(
                "The network holds a batch-normalisation layer, which needs at least 2 rows "
                f"in every training batch, but {reason}."
            )

    def _part_lengths(self):
        """The rows of each part of the data that batches do not straddle."""
        return [len(self.dataset)]

    def __len__(self):
        return sum(
            len(_starts(n, self.batch_size, self.merge_single_row)) for n in self._part_lengths()
        )

    def _batches(self, block):
        """``(X_batch, None)`` for each batch sliced from ``block``."""
        for start, stop in _spans(len(block), self.batch_size, self.merge_single_row):
            yield block[start:stop], None

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
        # A block is a whole number of batches but the last; a lone last row
        # (merge_single_row) joins the block before it, and so its last batch.
        for block_start, block_stop in _spans(n, block_rows, self.merge_single_row):
            yield from self._batches(self.dataset.rows(order[block_start:block_stop]))
