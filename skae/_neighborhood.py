"""The neighbourhood score: a row's local score shared with its nearest reference rows.

``anomaly_score="neighborhood"`` averages, over a row's ``k`` nearest reference
codes, the smaller of the row's local score and the neighbour's own
(``reference_scores_``). Discrete data put codes on a lattice, where several
reference codes can be as far from a row as its k-th nearest: those *tied*
codes share the slots the strictly nearer ones leave, equally, so that the
score does not depend on which of them a search returns first (it is the
expected score under a random tie-break). The functions take numpy arrays or
torch tensors: the ONNX graph (``skae.onnx``) weighs every reference code at
once; the detector searches a tree for the ``k`` nearest, and looks for the
tied codes (:class:`TiedNeighbours`) only on the rows whose k-th distance has
a tie.
"""

import numpy as np
import torch
from sklearn.neighbors import KDTree

#: Two reference codes are tied, seen from a row, when their distances to it
#: differ by at most this fraction of the codes' magnitude (the norm of the
#: row's code plus the root mean square norm of the reference codes, where
#: distances are measured). The codes come from float32 rows through a float32
#: network: a tie of the data (a row of integers halfway between two others)
#: reaches the distances broken by a few to a few tens of float32 ulps of that
#: magnitude, and onnxruntime's codes differ from PyTorch's by a few more. 64
#: ulps covers both, far below the gaps between a lattice's distinct distances;
#: relative to float64 rounding only, a tie broken in float32 would stay broken,
#: and the graph and skae would break it differently.
_TIE_RESOLUTION = 64 * float(np.finfo(np.float32).eps)


def reference_scale(reference_codes):
    """Root mean square norm of the reference codes: the magnitude that sets the ties' tolerance."""
    return float(np.sqrt(np.mean(np.sum(reference_codes**2, axis=1))))


def tie_tolerance(embedded, scale):
    """Per row of ``embedded`` codes, the difference of distances within which two are tied.

    ``scale``: :func:`reference_scale` of the reference codes. numpy arrays, or
    torch tensors (ONNX export).
    """
    return _TIE_RESOLUTION * ((embedded**2).sum(1) ** 0.5 + scale)


def tie_weights(distances, kth, tolerance, counts, n_neighbors):
    """Each candidate neighbour's weight in a row's neighbourhood score.

    ``distances``: shape ``(n_rows, n_candidates)``, from each row to reference
    codes that hold ``counts`` reference rows each (broadcast against
    ``distances``; 0 for padding); ``kth``: each row's distance to its
    ``n_neighbors``-th nearest reference row; ``tolerance``: each row's
    :func:`tie_tolerance`. Rows strictly nearer than the k-th distance (by
    more than the tolerance) count once each; those within the tolerance of
    it share the remaining ``n_neighbors`` minus that many slots equally;
    farther ones count 0. The weights of a row add up to ``n_neighbors`` when
    the candidates hold every reference row within ``kth + tolerance``. numpy
    arrays, or torch tensors (ONNX export).
    """
    where = torch.where if isinstance(distances, torch.Tensor) else np.where
    low, high = (kth - tolerance)[:, None], (kth + tolerance)[:, None]
    nearer = distances < low
    tied = (distances >= low) & (distances <= high)
    n_nearer = where(nearer, counts, 0.0).sum(1)
    n_tied = where(tied, counts, 0.0).sum(1)
    # (A row without a candidate in its band -- its codes overflowed -- gets no weight.)
    with np.errstate(divide="ignore", invalid="ignore"):
        share = (n_neighbors - n_nearer) / n_tied
    return where(nearer, counts, where(tied, counts * share[:, None], 0.0))


def neighborhood_score(scores, neighbour_scores, weights=None):
    """``anomaly_score="neighborhood"``: each row's local score shared with its neighbours'.

    ``scores``: the rows' local scores, shape ``(n_rows,)``; ``neighbour_scores``:
    those of each row's ``k`` nearest reference rows, shape ``(n_rows, k)``
    (or of candidate reference rows, broadcast against ``weights``).
    The row's anomaly score is the mean, over its neighbours, of the larger
    of its own and the neighbour's (scores are negated: the smaller score).
    Reference rows tied at the k-th distance share the slots the strictly
    nearer ones leave: ``weights`` (:func:`tie_weights`) makes it a weighted
    mean, and a row whose candidates have no weight keeps its own score.
    A cluster of anomalies in the training data is dense, so its members'
    local terms are small and a new row among them looks normal; their
    reconstruction errors are what flags them, and a row near them inherits
    that evidence. The row's own score only ever counts more: the result is
    its own anomaly score plus the mean excess of its neighbours' over it,
    which, with the same neighbours, never reverses the order of two rows'
    own scores. numpy arrays, or torch tensors (ONNX export).
    """
    torch_input = isinstance(scores, torch.Tensor)
    minimum = torch.minimum if torch_input else np.minimum
    shared = minimum(scores[:, None], neighbour_scores)
    if weights is None:
        return shared.mean(1)
    where = torch.where if torch_input else np.where
    total = weights.sum(1)
    # Weightless candidates are left out: 0 * -inf (an overflowed row) is NaN.
    weighted = where(weights > 0, weights * shared, 0.0).sum(1)
    with np.errstate(divide="ignore", invalid="ignore"):
        return where(total > 0, weighted / total, scores)


def _padded_batches(sizes, budget):
    """Slices of rows whose ``sizes`` ascend, each at most ``budget`` values once
    padded to its largest size (or one row)."""
    start = 0
    while start < len(sizes):
        # The batch's padded size, n_rows * sizes[its last row], grows with n_rows.
        low, high = 1, len(sizes) - start
        while low < high:
            middle = (low + high + 1) // 2
            if middle * sizes[start + middle - 1] <= budget:
                low = middle
            else:
                high = middle - 1
        yield slice(start, start + low)
        start += low


class TiedNeighbours:
    """The reference rows within a row's tie band, for the rows whose k-th distance has a tie.

    Reference rows of one code and one own score are interchangeable: they are
    held once, with their count, so that the work on a row grows with the
    distinct codes in its band, not with the duplicates of discrete data (a
    cluster of identical rows ties at distance 0).
    """

    def __init__(self, reference_codes, reference_scores):
        groups, counts = np.unique(
            np.column_stack([reference_codes, reference_scores]), axis=0, return_counts=True
        )
        self.scale = reference_scale(reference_codes)
        self._tree = KDTree(groups[:, :-1])
        self._scores = groups[:, -1]
        self._counts = counts.astype(np.float64)

    def tolerance(self, embedded):
        """:func:`tie_tolerance` of rows ``embedded``."""
        return tie_tolerance(embedded, self.scale)

    def scores(self, embedded, scores, kth, tolerance, n_neighbors, budget):
        """The neighbourhood scores of rows ``embedded`` (finite codes), ties shared.

        ``scores``: their local scores; ``kth``: their distances to the
        ``n_neighbors``-th nearest reference row; ``tolerance``: their
        :meth:`tolerance`. The rows are searched in batches of at most
        ``budget`` (row, reference code) pairs, or one row: the memory is
        bounded by the larger of ``budget`` and the distinct reference codes.
        """
        radius = kth + tolerance
        sizes = self._tree.query_radius(embedded, radius, count_only=True)
        order = np.argsort(sizes, kind="stable")
        shared = np.empty(len(embedded))
        for batch in _padded_batches(sizes[order], budget):
            rows = order[batch]
            found, distances = self._tree.query_radius(
                embedded[rows], radius[rows], return_distance=True
            )
            lengths = np.fromiter(map(len, found), dtype=np.intp, count=len(rows))
            # The ragged lists, padded: weight 0 beyond each row's own.
            at = np.repeat(np.arange(len(rows)), lengths)
            column = np.arange(lengths.sum()) - np.repeat(np.cumsum(lengths) - lengths, lengths)
            groups = np.concatenate(found).astype(np.intp)
            padded = np.full((len(rows), lengths.max(initial=1)), np.inf)
            padded[at, column] = np.concatenate(distances)
            counts, group_scores = np.zeros(padded.shape), np.zeros(padded.shape)
            counts[at, column] = self._counts[groups]
            group_scores[at, column] = self._scores[groups]
            weights = tie_weights(padded, kth[rows], tolerance[rows], counts, n_neighbors)
            shared[rows] = neighborhood_score(scores[rows], group_scores, weights)
        return shared
