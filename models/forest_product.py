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

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
from numpy.typing import NDArray

__all__ = ["ProductColumns", "ProductForests", "product_columns"]

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
    n_rows, n_cand = features.shape[:2]
    # a column at a time, contiguous (the features' own layout strides a column across the cache lines)
    for j, column in enumerate(np.moveaxis(features, 2, 0)):
        column = np.ascontiguousarray(column)
        # a few rows or candidates first: most columns that vary show it there, and are not compared whole
        head_r, head_c = column[: min(n_rows, 4)], column[:, : min(n_cand, 4)]
        if np.array_equal(head_r, np.broadcast_to(head_r[:, :1], head_r.shape)) and np.array_equal(
            column, np.broadcast_to(column[:, :1], column.shape)
        ):
            row.append(j)
        elif np.array_equal(head_c, np.broadcast_to(head_c[:1, :], head_c.shape)) and np.array_equal(
            column, np.broadcast_to(column[:1, :], column.shape)
        ):
            candidate.append(j)
        else:
            pair.append(j)
    return ProductColumns(tuple(row), tuple(candidate), tuple(pair))


class _Forest:
    """One estimator's trees as leaf bitmasks: per feature, (threshold, tree, mask) of every split on it."""

    def __init__(self, estimator: Any) -> None:
        self.estimator = estimator
        self.compiled = False
        self.n_trees = 0
        self.baseline = 0.0
        self.dtype: np.dtype[Any] = np.dtype(np.uint32)
        self.all_ones = (1 << 32) - 1
        self.leaf_values = np.zeros((0, 1))
        self.splits: dict[int, list[tuple[float, int, int]]] = {}
        try:
            self._compile(estimator)
        except (AttributeError, KeyError, ValueError, IndexError, TypeError):
            # the fitted state of another scikit-learn than the one this was written for: its own predict
            self.compiled = False
            self.n_trees = 0
            self.leaf_values = np.zeros((0, 1))
            self.splits = {}

    def _compile(self, estimator: Any) -> None:
        self.baseline = float(np.asarray(estimator._baseline_prediction).ravel()[0])
        trees = [iteration[0].nodes for iteration in estimator._predictors]
        self.n_trees = len(trees)
        self.leaf_values = np.zeros((self.n_trees, 1))
        n_leaves = max((int(nodes["is_leaf"].sum()) for nodes in trees), default=1)
        if not (
            all(len(iteration) == 1 for iteration in estimator._predictors)
            and not any(bool(nodes["is_categorical"][nodes["is_leaf"] == 0].any()) for nodes in trees)
            and n_leaves <= 64
        ):
            return
        self.dtype = np.dtype(np.uint32 if n_leaves <= 32 else np.uint64)
        self.all_ones = (1 << (8 * self.dtype.itemsize)) - 1
        self.leaf_values = np.zeros((self.n_trees, n_leaves + 1))  # column 0 unused: leaves count from 1
        for t, nodes in enumerate(trees):
            self._compile_tree(t, nodes)
        self.compiled = True

    def _compile_tree(self, t: int, nodes: Any) -> None:
        """Number the leaves of tree ``t`` left to right; record each split's threshold and mask."""

        def walk(i: int, first_leaf: int) -> int:  # returns the number of leaves under node i
            node = nodes[i]
            if node["is_leaf"]:
                self.leaf_values[t, first_leaf + 1] = node["value"]
                return 1
            n_left = walk(int(node["left"]), first_leaf)
            n_right = walk(int(node["right"]), first_leaf + n_left)
            left_bits = ((1 << n_left) - 1) << first_leaf
            self.splits.setdefault(int(node["feature_idx"]), []).append(
                (float(node["num_threshold"]), t, self.all_ones & ~left_bits)
            )
            return n_left + n_right

        walk(0, 0)

    def prefix(self, feature: int, thresholds: FloatArray, trees: NDArray[np.intp]) -> NDArray[Any]:
        """Reachable-leaf bits of ``trees`` when the value lies above the first k ``thresholds``, shape
        (len(trees), len(thresholds) + 1): the AND of the masks of this forest's splits among those k."""
        table = np.full((len(thresholds) + 1, self.n_trees), self.all_ones, dtype=self.dtype)
        for threshold, tree, mask in self.splits.get(feature, ()):
            table[int(np.searchsorted(thresholds, threshold)) + 1, tree] &= self.dtype.type(mask)
        table = np.bitwise_and.accumulate(table, axis=0)
        return np.ascontiguousarray(table.T[trees])


class _Layout:
    """A forest arranged for one split of the features: the trees with per-pair splits first."""

    def __init__(self, forest: _Forest, thresholds: dict[int, FloatArray], columns: ProductColumns) -> None:
        pair_trees = sorted({t for j in columns.pair for _, t, _ in forest.splits.get(j, ())})
        order = np.array(pair_trees + [t for t in range(forest.n_trees) if t not in set(pair_trees)], dtype=np.intp)
        self.n_pair_trees = len(pair_trees)
        #: stored position of each tree, in the estimator's order
        self.position = np.argsort(order)
        #: leaf values, in the estimator's order of the trees
        self.leaf_values = forest.leaf_values
        self.row = [(j, forest.prefix(j, thresholds[j], order)) for j in columns.row if j in forest.splits]
        self.candidate = [(j, forest.prefix(j, thresholds[j], order)) for j in columns.candidate if j in forest.splits]
        self.pair = [
            (j, forest.prefix(j, thresholds[j], order[: self.n_pair_trees])) for j in columns.pair if j in forest.splits
        ]


class ProductForests:
    """Fitted ``HistGradientBoostingRegressor`` s (single output) compiled for product evaluation.

    The estimators are evaluated together: they share the threshold search of every feature value.

    Parameters
    ----------
    estimators : sequence of sklearn.ensemble.HistGradientBoostingRegressor
        Fitted, on the same features. One this class cannot compile (categorical splits, trees of more
        than 64 leaves) is evaluated by its own ``predict`` on the flattened pairs.
    """

    def __init__(self, estimators: Sequence[Any]) -> None:
        self._forests = [_Forest(estimator) for estimator in estimators]
        features = sorted({j for forest in self._forests if forest.compiled for j in forest.splits})
        #: per feature, the thresholds of every compiled forest, sorted, without repeats
        self._thresholds = {
            j: np.unique([s[0] for forest in self._forests if forest.compiled for s in forest.splits.get(j, ())])
            for j in features
        }
        self._layouts: dict[ProductColumns, list[_Layout]] = {}

    def predict(self, features: FloatArray, columns: ProductColumns) -> list[FloatArray]:
        """Each estimator's ``predict`` of every pair, shape (n_rows * n_candidates,) row-major, equal to the bit.

        Parameters
        ----------
        features : numpy.ndarray, shape (n_rows, n_candidates, n_features)
        columns : ProductColumns
            :func:`product_columns` of ``features``.
        """
        n_rows, n_cand, n_features = features.shape
        compiled = [forest.compiled for forest in self._forests]
        if np.isnan(features).any():
            compiled = [False] * len(compiled)
        results = [
            np.zeros(n_rows * n_cand) if ok else np.asarray(forest.estimator.predict(features.reshape(-1, n_features)))
            for forest, ok in zip(self._forests, compiled, strict=True)
        ]
        if not any(compiled):
            return results
        if columns not in self._layouts:
            self._layouts[columns] = [_Layout(forest, self._thresholds, columns) for forest in self._forests]
        layouts = self._layouts[columns]

        def above(j: int, values: FloatArray) -> NDArray[np.intp]:  # thresholds below the value: splits go right
            return np.asarray(np.searchsorted(self._thresholds[j], values, side="left"))

        row_k = {j: above(j, features[:, 0, j]) for j in columns.row if j in self._thresholds}
        cand_k = {j: above(j, features[0, :, j]) for j in columns.candidate if j in self._thresholds}
        row_bits: list[NDArray[Any]] = []
        cand_bits: list[NDArray[Any]] = []
        for forest, layout in zip(self._forests, layouts, strict=True):
            bits_r = np.full((forest.n_trees, n_rows), forest.all_ones, dtype=forest.dtype)
            for j, table in layout.row:
                bits_r &= np.take(table, row_k[j], axis=1)
            bits_c = np.full((forest.n_trees, n_cand), forest.all_ones, dtype=forest.dtype)
            for j, table in layout.candidate:
                bits_c &= np.take(table, cand_k[j], axis=1)
            row_bits.append(bits_r)
            cand_bits.append(bits_c)
        totals = [result.reshape(n_rows, n_cand) for result in results]
        # candidates whose per-pair features agree on every row (the same chilled-water setpoint, say) share
        # their per-pair lookups: done once per class, then spread to the class's members
        classes: dict[bytes, int] = {}
        by_candidate = np.ascontiguousarray(features[:, :, list(columns.pair)].transpose(1, 0, 2)).reshape(n_cand, -1)
        of_class = np.array([classes.setdefault(c.tobytes(), len(classes)) for c in by_candidate], dtype=np.intp)
        representatives = np.unique(of_class, return_index=True)[1]
        # blocks of rows small enough that the per-tree arrays stay in a core's cache; their work arrays allocated
        # once per call (per forest: the leaf bits, their lowest set bit, the leaf numbers)
        step = max(1, _PAIRS_PER_BLOCK // max(n_cand, 1))
        width = min(step, n_rows) * n_cand
        scratch = [
            (
                np.empty((forest.n_trees, width), forest.dtype),
                np.empty((forest.n_trees, width), forest.dtype),
                np.empty((forest.n_trees, width), np.uint8),
            )
            for forest in self._forests
        ]
        for lo in range(0, n_rows, step):
            hi = min(n_rows, lo + step)
            size = (hi - lo) * n_cand
            pair_k = {j: above(j, features[lo:hi, representatives, j]) for j in columns.pair if j in self._thresholds}
            for i, (forest, layout) in enumerate(zip(self._forests, layouts, strict=True)):
                if not compiled[i]:
                    continue
                bits_flat, below_flat, leaf_flat = scratch[i]
                bits = bits_flat[:, :size].reshape(forest.n_trees, hi - lo, n_cand)
                n_pair = layout.n_pair_trees if layout.pair else 0
                np.bitwise_and(row_bits[i][n_pair:, lo:hi, None], cand_bits[i][n_pair:, None, :], out=bits[n_pair:])
                if layout.pair:
                    # the per-pair trees: their row bits joined to the class's lookups (small), spread to the members
                    per_class = np.take(layout.pair[0][1], pair_k[layout.pair[0][0]], axis=1)
                    for j, table in layout.pair[1:]:
                        per_class &= np.take(table, pair_k[j], axis=1)
                    per_class &= row_bits[i][:n_pair, lo:hi, None]
                    np.take(per_class, of_class, axis=2, out=bits[:n_pair], mode="clip")  # valid: clip skips a copy
                    bits[:n_pair] &= cand_bits[i][:n_pair, None, :]
                # the leaf: the count of bits up to and including the lowest set one (1 = the first leaf)
                below = below_flat[:, :size]
                np.subtract(bits_flat[:, :size], forest.dtype.type(1), out=below)
                below ^= bits_flat[:, :size]
                leaf = leaf_flat[:, :size]
                np.bitwise_count(below, out=leaf)
                total = totals[i][lo:hi].reshape(size)
                total += forest.baseline
                for t, stored in enumerate(layout.position.tolist()):  # the estimator's order: the same sum to the bit
                    total += layout.leaf_values[t].take(leaf[stored])
        return results
