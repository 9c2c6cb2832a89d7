"""A fitted gradient-boosted forest evaluated on every (conditions row, candidate setpoints) pair at once.

The optimiser asks the cooling model about a product: each of many hours (conditions) times each of a grid
of candidate setpoints. Walking every tree for every pair (scikit-learn's predictor) repeats, for each pair,
the comparisons that only involve the hour (IT load, outdoor air) and those that only involve the candidate
(the setpoints). :class:`ProductForest` separates them. It keeps, per tree, one bit per leaf (leaves
numbered left to right) and, per feature, the thresholds of every node splitting on it with the mask of
leaves that node rules out when the value lies above its threshold (its left subtree). For a value, the
AND of the masks of all thresholds below it (a prefix table, one lookup) leaves set the bits of the
leaves still reachable; over all features, the lowest set bit is the leaf the tree walk ends in
(Lucchese et al. 2015). Features that depend on the hour alone are looked up once per hour, those that
depend on the candidate alone once per candidate, and only the rest once per pair; the leaf values are
then added tree after tree in the estimator's order, so the sum equals ``estimator.predict`` to the bit.

Which features are per-hour, per-candidate or per-pair is read off the feature array itself (a column
equal across a row's candidates depends on the hour alone), so new setpoint columns or features need no
declaration here. Pure: numpy only; the estimator is only read.

References
----------
C. Lucchese, F. M. Nardini, S. Orlando, R. Perego, N. Tonellotto, R. Venturini, "QuickScorer: a fast
algorithm to rank documents with additive ensembles of regression trees", SIGIR 2015.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ProductColumns", "ProductForest", "product_columns"]

FloatArray = NDArray[np.float64]

#: Pairs evaluated together: the per-tree bit arrays (trees x pairs) stay within a core's cache.
_PAIRS_PER_BLOCK = 8192


@dataclass(frozen=True)
class ProductColumns:
    """Feature columns of a (rows, candidates, features) array by what they depend on."""

    row: tuple[int, ...]
    candidate: tuple[int, ...]
    pair: tuple[int, ...]


def product_columns(features: FloatArray) -> ProductColumns:
    """Split the columns of ``features`` (shape (n_rows, n_candidates, n_features)) by dependence.

    A column equal across every row's candidates depends on the row alone, one equal across the rows for
    every candidate on the candidate alone (a column constant everywhere counts as a row column); the others
    are per pair. Read off the values themselves, so it holds exactly for this array.
    """
    row: list[int] = []
    candidate: list[int] = []
    pair: list[int] = []
    for j in range(features.shape[2]):
        column = features[:, :, j]
        if np.array_equal(column, np.broadcast_to(column[:, :1], column.shape)):
            row.append(j)
        elif np.array_equal(column, np.broadcast_to(column[:1, :], column.shape)):
            candidate.append(j)
        else:
            pair.append(j)
    return ProductColumns(tuple(row), tuple(candidate), tuple(pair))


class ProductForest:
    """One fitted ``HistGradientBoostingRegressor`` (single output) compiled for product evaluation.

    Parameters
    ----------
    estimator : sklearn.ensemble.HistGradientBoostingRegressor
        Fitted. Forests this class cannot compile (categorical splits, trees of more than 64 leaves)
        are evaluated by the estimator's own ``predict`` on the flattened pairs.
    """

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self._baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        trees = [iteration[0].nodes for iteration in estimator._predictors]
        self._trees = len(trees)
        n_leaves = max((int(nodes["is_leaf"].sum()) for nodes in trees), default=1)
        self.compiled = (
            all(len(iteration) == 1 for iteration in estimator._predictors)
            and not any(bool(nodes["is_categorical"][nodes["is_leaf"] == 0].any()) for nodes in trees)
            and n_leaves <= 64
        )
        if not self.compiled:
            return
        self._dtype = np.dtype(np.uint32 if n_leaves <= 32 else np.uint64)
        self._all_ones = (1 << (8 * self._dtype.itemsize)) - 1
        self._leaves = n_leaves
        self._leaf_values = np.zeros((self._trees, n_leaves))
        nodes_by_feature: dict[int, list[tuple[float, int, int]]] = {}
        for t, nodes in enumerate(trees):
            self._compile_tree(t, nodes, nodes_by_feature)
        # per feature: sorted thresholds and the prefix AND of their masks, shape (n_trees, n_thresholds + 1)
        self._thresholds: dict[int, FloatArray] = {}
        self._prefix: dict[int, NDArray[Any]] = {}
        for feature, entries in nodes_by_feature.items():
            entries.sort(key=lambda e: e[0])
            prefix = np.full((len(entries) + 1, self._trees), self._all_ones, dtype=self._dtype)
            for k, (_, tree, mask) in enumerate(entries):
                prefix[k + 1] = prefix[k]
                prefix[k + 1, tree] &= self._dtype.type(mask)
            self._thresholds[feature] = np.array([e[0] for e in entries])
            self._prefix[feature] = np.ascontiguousarray(prefix.T)
        # leaf value by the count of bits up to and including the lowest set one (1 = the first leaf)
        self._leaf_values_shifted = np.column_stack((np.zeros(self._trees), self._leaf_values))

    def _compile_tree(self, t: int, nodes: Any, by_feature: dict[int, list[tuple[float, int, int]]]) -> None:
        """Number the leaves of tree ``t`` left to right; record each split's threshold and mask."""
        all_ones = int(self._all_ones)

        def walk(i: int, first_leaf: int) -> int:  # returns the number of leaves under node i
            node = nodes[i]
            if node["is_leaf"]:
                self._leaf_values[t, first_leaf] = node["value"]
                return 1
            n_left = walk(int(node["left"]), first_leaf)
            n_right = walk(int(node["right"]), first_leaf + n_left)
            left_bits = ((1 << n_left) - 1) << first_leaf
            by_feature.setdefault(int(node["feature_idx"]), []).append(
                (float(node["num_threshold"]), t, all_ones & ~left_bits)
            )
            return n_left + n_right

        walk(0, 0)

    def _bits(self, feature: int, values: FloatArray) -> NDArray[Any]:
        """Reachable-leaf bits of every tree for ``values`` of one feature, shape (n_trees, *values.shape)."""
        below = np.searchsorted(self._thresholds[feature], values, side="left")  # thresholds < value: go right
        return np.take(self._prefix[feature], below, axis=1)

    def predict(self, features: FloatArray, columns: ProductColumns) -> FloatArray:
        """``estimator.predict`` of every pair, shape (n_rows * n_candidates,) row-major.

        Parameters
        ----------
        features : numpy.ndarray, shape (n_rows, n_candidates, n_features)
        columns : ProductColumns
            :func:`product_columns` of ``features``.
        """
        n_rows, n_cand, n_features = features.shape
        if not self.compiled or np.isnan(features).any():
            return np.asarray(self.estimator.predict(features.reshape(-1, n_features)), dtype=float)
        row_bits = np.full((self._trees, n_rows), self._all_ones, dtype=self._dtype)
        for j in columns.row:
            if j in self._thresholds:
                row_bits &= self._bits(j, features[:, 0, j])
        cand_bits = np.full((self._trees, n_cand), self._all_ones, dtype=self._dtype)
        for j in columns.candidate:
            if j in self._thresholds:
                cand_bits &= self._bits(j, features[0, :, j])
        pair_columns = [j for j in columns.pair if j in self._thresholds]
        total = np.zeros((n_rows, n_cand))
        total += self._baseline
        one = self._dtype.type(1)
        # blocks of rows small enough that the per-tree arrays stay in cache
        step = max(1, _PAIRS_PER_BLOCK // max(n_cand, 1))
        for lo in range(0, n_rows, step):
            hi = min(n_rows, lo + step)
            bits = row_bits[:, lo:hi, None] & cand_bits[:, None, :]
            for j in pair_columns:
                bits &= self._bits(j, features[lo:hi, :, j])
            # index of the lowest set bit: the bits below it and itself, counted, minus one
            below = bits - one
            below ^= bits
            leaf = np.bitwise_count(below)
            block = total[lo:hi]
            for t in range(self._trees):  # the estimator's order of additions: the same sum to the bit
                block += self._leaf_values_shifted[t][leaf[t]]
        return total.ravel()
