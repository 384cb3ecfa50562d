"""One-to-one matching of predicted to true points within a radius (minimum total distance)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

_EPS = 1e-9  # explicit zeros are not edges for the sparse solver


def ratio(numerator, denominator):
    """numerator / denominator, NaN (undefined) where the denominator is 0; numbers or numpy arrays."""
    numerator, denominator = np.asarray(numerator, np.float64), np.asarray(denominator, np.float64)
    out = np.divide(
        numerator, denominator, out=np.full(np.broadcast(numerator, denominator).shape, np.nan), where=denominator > 0
    )
    return float(out) if out.ndim == 0 else out


def prf(tp, n_predicted, n_true):
    """Precision, recall and F1 = 2 TP / (predicted + true), the one definition every score uses.

    A ratio with nothing to count is undefined (NaN), never 100%: precision with no detections, recall with
    no true defects, F1 with neither. F1 is 0 when only one side is empty (all missed, or all false)."""
    return ratio(tp, n_predicted), ratio(tp, n_true), ratio(2 * np.asarray(tp), np.add(n_predicted, n_true))


@dataclass(frozen=True)
class Matches:
    predicted_index: np.ndarray
    true_index: np.ndarray
    distance: np.ndarray
    n_predicted: int
    n_true: int

    @property
    def true_positives(self) -> int:
        return len(self.distance)

    @property
    def precision(self) -> float:
        return prf(self.true_positives, self.n_predicted, self.n_true)[0]

    @property
    def recall(self) -> float:
        return prf(self.true_positives, self.n_predicted, self.n_true)[1]

    @property
    def f1(self) -> float:
        return prf(self.true_positives, self.n_predicted, self.n_true)[2]


def match_points(predicted: np.ndarray, true: np.ndarray, radius: float) -> Matches:
    """Maximum one-to-one matching within `radius`, minimum total distance among those.

    Sparse min-weight full bipartite matching (Hungarian-type): every point also has a private
    'unmatched' partner costing `radius`, so leaving a pair unmatched (2 x radius) always costs more
    than matching it (<= radius); scales to tens of thousands of atom columns.
    """
    predicted = np.asarray(predicted, dtype=np.float64).reshape(-1, 2)
    true = np.asarray(true, dtype=np.float64).reshape(-1, 2)
    n, m = len(predicted), len(true)
    empty = np.array([], dtype=np.int64)
    if n == 0 or m == 0:
        return Matches(empty, empty, np.array([]), n, m)
    pairs = cKDTree(predicted).sparse_distance_matrix(cKDTree(true), radius, output_type="coo_matrix")
    if pairs.nnz == 0:
        return Matches(empty, empty, np.array([]), n, m)
    i, j, d = pairs.row, pairs.col, pairs.data
    # left = predicted (0..n-1) + true dummies (n..n+m-1); right = true (0..m-1) + predicted dummies (m..m+n-1)
    rows = np.concatenate([i, np.arange(n), n + np.arange(m), n + j])
    cols = np.concatenate([j, m + np.arange(n), np.arange(m), m + i])
    cost = np.concatenate([d + _EPS, np.full(n, radius), np.full(m, radius), np.full(len(i), _EPS)])
    graph = scipy.sparse.csr_matrix((cost, (rows, cols)), shape=(n + m, n + m))
    row_ind, col_ind = min_weight_full_bipartite_matching(graph)
    right_of_left = np.empty(n + m, dtype=np.int64)
    right_of_left[row_ind] = col_ind
    partner = right_of_left[:n]
    matched = partner < m
    pred_idx = np.nonzero(matched)[0]
    true_idx = partner[matched]
    dist = np.hypot(*(predicted[pred_idx] - true[true_idx]).T)
    return Matches(pred_idx, true_idx, dist, n, m)
