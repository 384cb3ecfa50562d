"""One-to-one matching of predicted to true points within a radius (minimum total distance)."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import scipy.sparse
from scipy.sparse.csgraph import min_weight_full_bipartite_matching
from scipy.spatial import cKDTree

_EPS = 1e-9  # explicit zeros are not edges for the sparse solver


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
        return self.true_positives / self.n_predicted if self.n_predicted else float(self.n_true == 0)

    @property
    def recall(self) -> float:
        return self.true_positives / self.n_true if self.n_true else float(self.n_predicted == 0)

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


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
