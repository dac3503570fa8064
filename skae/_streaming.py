"""Training data that does not fit in memory: numpy memmaps and dask arrays.

Such data is never loaded whole. :class:`RowBlocks` cuts it into blocks of rows
(a dask array's own row chunks, or ``BLOCK_ELEMENTS``-value slices of a memmap);
statistics merge the blocks' moments in one pass (:func:`merge_moments`); an
epoch visits the blocks in a random order and shuffles the rows within each
block (dask-ml's scheme for ``Incremental``). A background thread reads the
next block and gathers its rows in their shuffled order (:func:`read_ahead`),
so the network neither waits on the disk nor spends its own thread gathering
rows; about three blocks are alive at once (the one trained on, and the one
being read and its gathered rows).

dask is optional: nothing here imports it; a dask array is recognised only when
``dask.array`` is already imported (it must be, for one to exist).
"""

import math
import sys
from collections import deque
from concurrent.futures import ThreadPoolExecutor

import numpy as np
import torch

from ._data import BatchIterator

#: A memmap is read in blocks of about this many values (32 MiB of float32).
BLOCK_ELEMENTS = 2**23
#: At most this many values are held out for early stopping on streamed data.
VALID_MAX_ELEMENTS = 2**23


def is_dask_array(X):
    """Whether ``X`` is a ``dask.array.Array``."""
    da = sys.modules.get("dask.array")
    return da is not None and isinstance(X, da.Array)


def is_streamed(X):
    """Whether ``fit`` streams ``X`` block by block instead of loading it.

    A ``numpy.memmap`` (``np.load(..., mmap_mode="r")`` gives one) or a dask
    array: data that may not fit in memory; or a :class:`MappedRows` view of
    one. Everything else is loaded whole.
    """
    return isinstance(X, (np.memmap, MappedRows)) or is_dask_array(X)


def is_contiguous(index):
    """Whether the sorted, distinct row indices ``index`` are consecutive."""
    return index[-1] - index[0] + 1 == len(index)


def merge_moments(first, second, ddof=0):
    """Count, mean and (co)variance of two sets of rows from each one's.

    ``first`` and ``second`` are ``(count, mean, variance)`` triples, where the
    variance is a vector (per column) or a covariance matrix, normalised by
    ``count - ddof``; either may be ``None``. Chan, Golub & LeVeque's pairwise
    update: stable, and one pass over the blocks. A single set is returned as
    given, so one block gives exactly that block's statistics.
    """
    if first is None or first[0] == 0:
        return second
    if second is None or second[0] == 0:
        return first
    (n_a, mean_a, var_a), (n_b, mean_b, var_b) = first, second
    n = n_a + n_b
    delta = mean_b - mean_a
    spread = np.outer(delta, delta) if np.ndim(var_a) == 2 else delta**2
    scatter = var_a * max(n_a - ddof, 0) + var_b * max(n_b - ddof, 0) + spread * (n_a * n_b / n)
    return n, mean_a + delta * (n_b / n), scatter / max(n - ddof, 1)


def sample_rows(n_samples, size, seed, exclude=None):
    """``size`` distinct sorted row indices below ``n_samples``, none in ``exclude``.

    Every such set of rows is equally likely; which one is drawn depends only
    on the arguments (``seed`` seeds ``np.random.default_rng``). ``exclude``:
    sorted distinct row indices. Memory is proportional to ``size`` and
    ``exclude``, whatever ``n_samples``: the draw never holds an index of every
    row (numpy's ``Generator.choice`` shuffles one, 8 bytes a row, once
    ``size`` exceeds ``n_samples / 50``). Rows are drawn by their rank among
    the rows not excluded, then mapped to their indices.
    """
    rng = np.random.default_rng(seed)
    exclude = np.empty(0, dtype=np.int64) if exclude is None else np.asarray(exclude, np.int64)
    n_free = n_samples - len(exclude)
    size = max(0, min(size, n_free))
    if 2 * size > n_free:
        # Most of the rows: the ones left out are drawn, and an index of every
        # row not excluded is less than twice ``size``.
        ranks = np.delete(np.arange(n_free), _distinct_sorted(rng, n_free, n_free - size))
    else:
        ranks = _distinct_sorted(rng, n_free, size)
    # The rank-th row not excluded is that many rows plus the excluded ones up
    # to it: exclude[i] - i rows not excluded lie below exclude[i].
    below = np.arange(len(exclude))
    np.subtract(exclude, below, out=below)
    ranks += np.searchsorted(below, ranks, side="right")
    return ranks


def _distinct_sorted(rng, n, k):
    """``k`` distinct sorted integers below ``n`` (``k <= n / 2``), each set equally likely.

    Integers drawn with replacement, their repeats dropped, until there are at
    least ``k``, then a surplus dropped at random. Which integers are drawn
    (with replacement) and which are dropped does not depend on their values,
    so every set of ``k`` is equally likely. A round draws about as many as
    are expected to give the integers still missing, and a little more, so one
    round nearly always suffices; ``k <= n / 2`` keeps the repeats few.
    """
    drawn = np.empty(0, dtype=np.int64)
    while len(drawn) < k:
        missing, left = k - len(drawn), n - len(drawn)
        # m draws give, on average, (n - len(drawn)) (1 - (1 - 1/n)^m) integers
        # not drawn yet; about -n log(1 - missing / left) draws give the missing.
        count = math.ceil(-n * math.log1p(-missing / left) * 1.01) + 32
        drawn = np.concatenate([drawn, rng.integers(n, size=count, dtype=np.int64)])
        drawn.sort()
        drawn = drawn[np.concatenate([[True], drawn[1:] != drawn[:-1]])]
    surplus = len(drawn) - k
    return np.delete(drawn, rng.choice(len(drawn), surplus, replace=False)) if surplus else drawn


class MappedRows:
    """A memmap or dask array's rows, passed through ``function`` as they are read.

    ``function=None`` leaves them as they are. ``rows`` (sorted row indices)
    selects some of ``X``'s rows, all by default; they are read as ``dtype``,
    and a row of an array of rank 3 or more (images, sequences) as its C-order
    flattening. The view is itself streamed (:func:`is_streamed`): an
    estimator fitted on it reads it block by block, as it would ``X``, and no
    whole copy of ``X`` -- mapped or not -- is ever made. The outlier detector
    fits its estimator on ``X``'s scaled rows this way, and its second fit on
    the rows the first one kept; the transformers' inference reads a memmap
    that validation would copy whole this way.
    """

    ndim = 2

    def __init__(self, X, function, dtype, rows=None):
        self.X = X
        self.function = function
        self.dtype = np.dtype(dtype)
        self.rows = rows
        self.shape = (X.shape[0] if rows is None else len(rows), math.prod(X.shape[1:]))

    def __len__(self):
        return self.shape[0]

    def __getitem__(self, key):
        """Rows ``key`` (a slice or sorted row indices), read and mapped: an ndarray."""
        if self.rows is not None:
            key = self.rows[key]
            if len(key) and is_contiguous(key):
                key = slice(key[0], key[-1] + 1)
        block = self.X[key]
        if is_dask_array(block):
            block = block.compute()
        block = np.asarray(block, dtype=self.dtype).reshape(len(block), -1)
        return block if self.function is None else self.function(block)

    def subset(self, rows):
        """The view of this view's rows ``rows`` (sorted indices), mapped alike."""
        rows = rows if self.rows is None else self.rows[rows]
        return MappedRows(self.X, self.function, self.dtype, rows)

    def block_bounds(self, block_elements=None):
        """Where the underlying array's blocks (:class:`RowBlocks`) start and end
        among this view's rows, none empty: a block of the view is read from one
        block of the array."""
        bounds = RowBlocks(self.X, block_elements).bounds
        return bounds if self.rows is None else np.unique(np.searchsorted(self.rows, bounds))


class RowBlocks:
    """A memmap or dask array, read one block of rows at a time.

    The blocks are a dask array's row chunks, or consecutive slices of about
    ``BLOCK_ELEMENTS`` values of anything else (whose rows may be samples of
    any shape: images, sequences); a :class:`MappedRows` view has its array's
    blocks, less the rows it leaves out (a chunk backed by one delayed read is
    read once a pass, not once for each slice cut from it).
    ``check(block, start)``, if given, validates every block read (``start``:
    its first row's index).
    """

    def __init__(self, X, block_elements=None, check=None):
        self.X = X
        self.check = check
        n_samples, n_features = X.shape[0], math.prod(X.shape[1:])
        if isinstance(X, MappedRows):
            self.bounds = X.block_bounds(block_elements)
        elif is_dask_array(X):
            sizes = [size for size in X.chunks[0] if size]
            self.bounds = np.concatenate([[0], np.cumsum(sizes)]).astype(np.int64)
        else:
            rows = max(1, (block_elements or BLOCK_ELEMENTS) // max(n_features, 1))
            self.bounds = np.append(np.arange(0, n_samples, rows), n_samples).astype(np.int64)
        self.shape = X.shape
        self.dtype = X.dtype

    def __len__(self):
        return len(self.bounds) - 1

    def _stored(self, i):
        """Block ``i`` as stored: a view of the memmap, or the computed dask block; checked."""
        start = int(self.bounds[i])
        block = self.X[start : self.bounds[i + 1]]
        if is_dask_array(block):
            block = block.compute()
        if self.check is not None:
            self.check(block, start)
        return block

    def check_all(self):
        """Run ``check`` on every block, in order, copying none of a memmap's."""
        for i in range(len(self)):
            self._stored(i)

    def read(self, i, dtype=np.float32, rows=None):
        """Block ``i`` as a new in-memory array of ``dtype``.

        With ``rows`` (positions within the block), only those rows, in that
        order: gathered straight from the memmap's pages or the computed dask
        block, one copy in all.
        """
        block = self._stored(i)
        # A new array, never a view of the file: the reading happens here, in
        # the read-ahead thread, and torch may write what it is handed.
        if rows is None:
            return np.array(block, dtype=dtype)
        return np.asarray(np.take(block, rows, axis=0), dtype=dtype)

    def iter(self, dtype):
        """The blocks in order, as ``dtype`` arrays, read ahead."""
        return read_ahead(lambda i: self.read(i, dtype), range(len(self)))


def read_ahead(load, keys, depth=1):
    """Yield ``load(key)`` for each key, loading the next ``depth`` in a thread.

    numpy's copies and dask's computations release the GIL, so reading the next
    block overlaps training on the current one. At most ``depth + 1`` results
    are alive at once: the one yielded and those being read.
    """
    keys = iter(keys)
    with ThreadPoolExecutor(max_workers=1, thread_name_prefix="skae-read-ahead") as pool:
        pending = deque(pool.submit(load, key) for _, key in zip(range(depth), keys))
        try:
            while pending:
                result = pending.popleft().result()
                for key in keys:
                    pending.append(pool.submit(load, key))
                    break
                yield result
                del result  # not held while the consumer waits for the next one
        finally:
            for future in pending:
                future.cancel()


class BlockDataset(torch.utils.data.Dataset):
    """The rows of :class:`RowBlocks` except the sorted row indices ``exclude``.

    Only :class:`BlockIterator` reads it, block by block; the excluded rows (a
    validation set) are skipped as each block is read.
    """

    def __init__(self, blocks, exclude, device):
        self.blocks = blocks
        self.exclude = np.asarray(exclude, dtype=np.int64)
        self.device = device
        # where each block's excluded rows start and end in ``exclude``
        self._cuts = np.searchsorted(self.exclude, blocks.bounds)
        self.block_lengths = np.diff(blocks.bounds) - np.diff(self._cuts)

    def __len__(self):
        return int(self.block_lengths.sum())

    def __getitem__(self, i):
        raise TypeError("a BlockDataset is read block by block, by BlockIterator")

    def load(self, key):
        """The kept rows of block ``i`` as a float32 tensor on the device.

        ``key`` is ``i``, or ``(i, order)``: the kept rows in ``order`` (a
        permutation of ``range(block_lengths[i])``), gathered as they are read.
        """
        i, order = key if isinstance(key, tuple) else (key, None)
        excluded = self.exclude[self._cuts[i] : self._cuts[i + 1]] - self.blocks.bounds[i]
        rows = order
        if len(excluded):
            kept = np.delete(np.arange(self.blocks.bounds[i + 1] - self.blocks.bounds[i]), excluded)
            rows = kept if order is None else kept[order]
        return torch.from_numpy(self.blocks.read(i, rows=rows)).to(self.device)


class BlockIterator(BatchIterator):
    """Yields ``(X_batch, None)`` from a :class:`BlockDataset`, one block at a time.

    With ``shuffle=True`` each iteration (epoch) visits the blocks in a random
    order and the rows of each block in a random order, from a generator seeded
    once; batches do not straddle blocks (a block's last batch may be smaller,
    or, with ``merge_single_row``, one row larger rather than a single row; a
    block of one row is then a ``ValueError``). Each block arrives with its rows
    already in their shuffled order (gathered by the read-ahead thread): a batch
    is a slice of it.
    """

    _PART = "a block of the streamed training data (batches do not straddle blocks)"

    def _part_lengths(self):
        return [int(n) for n in self.dataset.block_lengths if n]

    def _keys(self):
        """``(block, row order)`` for each block to visit, drawn as they are needed."""
        lengths = self.dataset.block_lengths
        if not self.shuffle:
            yield from (i for i in range(len(lengths)) if lengths[i])
            return
        for i in torch.randperm(len(lengths), generator=self.generator).tolist():
            if lengths[i]:
                yield i, torch.randperm(int(lengths[i]), generator=self.generator).numpy()

    def __iter__(self):
        for block in read_ahead(self.dataset.load, self._keys()):
            yield from self._batches(block)
            del block  # freed before the next block arrives


def iterate_batches(dataset, **kwargs):
    """skorch's ``iterator_train``: :class:`BlockIterator` for streamed data, else
    :class:`BatchIterator`."""
    iterator = BlockIterator if isinstance(dataset, BlockDataset) else BatchIterator
    return iterator(dataset, **kwargs)


def map_row_blocks(function, X, meta):
    """Apply ``function`` lazily to each row block of the dask array ``X``.

    ``X`` holds rows, or samples of rank 2 or 3 (sequences, images). ``meta``
    is ``function``'s output on one sample: its dtype and its shape after the
    first axis (none for one value per sample; more than one axis for samples
    given back in their ``input_shape``) give the result's. A sample split
    over several chunks is joined first: ``function`` needs whole samples.
    """
    if any(len(sizes) > 1 for sizes in X.chunks[1:]):
        X = X.rechunk({axis: -1 for axis in range(1, X.ndim)})
    kwargs = dict(dtype=meta.dtype, meta=np.empty((0,) * meta.ndim, dtype=meta.dtype))
    if meta.ndim < X.ndim:
        kwargs["drop_axis"] = list(range(meta.ndim, X.ndim))
    elif meta.ndim > X.ndim:
        kwargs["new_axis"] = list(range(X.ndim, meta.ndim))
    chunks = (X.chunks[0], *((size,) for size in meta.shape[1:]))
    return X.map_blocks(function, chunks=chunks, **kwargs)
