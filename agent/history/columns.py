"""Site rollups as columns: what a period report reads for a year of hourly buckets, without an object per hour.

:func:`rollup_columns` gives the same numbers as :meth:`HistoryStore.site_rollups` (the same stored floats, in
start order), as Python lists: a report sums them in the order and with the arithmetic it used on the
rollup objects, so its energies stay bit-identical. The SQLite store reads them with one query
(:meth:`~agent.history.store.SqliteHistoryStore.site_rollup_columns`); any other store's rollups are
converted (:func:`columns_from_rollups`).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any

from agent.history.records import HistoryStore, SiteRollup
from agent.history.rows import METHOD_BITS, SOURCE_BITS, unbits

__all__ = ["COLUMNS_SELECT", "RollupColumns", "columns_from_rollups", "columns_from_rows", "rollup_columns"]

#: the ``site_rollup`` columns :func:`columns_from_rows` decodes (the outdoor dry and wet bulb's means divided in
#: SQL, as :data:`agent.history.rows.ROLLUP_SELECT` does)
COLUMNS_SELECT = (
    "start_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, methods, it_categories, sources, "
    "CASE WHEN cond_s_outdoor_dry_bulb_c > 0 THEN cond_outdoor_dry_bulb_c / cond_s_outdoor_dry_bulb_c END, "
    "CASE WHEN cond_s_outdoor_wet_bulb_c > 0 THEN cond_outdoor_wet_bulb_c / cond_s_outdoor_wet_bulb_c END"
)


@dataclass(frozen=True)
class RollupColumns:
    """Rollup buckets of one resolution in start order, column by column; sets are unions over all buckets."""

    resolution_s: int
    start_s: list[float]
    covered_s: list[float]
    facility_j: list[float]
    it_j: list[float]
    cooling_covered_s: list[float]
    cooling_j: list[float]
    #: mean outdoor dry bulb of each bucket [C], None where it was never known
    outdoor_dry_bulb_c: list[float | None]
    #: mean outdoor wet bulb of each bucket [C], None where it was never known
    outdoor_wet_bulb_c: list[float | None]
    methods: frozenset[str]
    it_categories: frozenset[int]
    sources: frozenset[str]
    #: optional boundaries: name -> (covered time, amount) per bucket, 0 where a bucket has none
    terms: dict[str, tuple[list[float], list[float]]] = field(default_factory=dict)

    def __len__(self) -> int:
        return len(self.start_s)


def rollup_columns(store: HistoryStore, resolution_s: int, start_s: float, end_s: float) -> RollupColumns:
    """The rollups of ``[start_s, end_s)`` as columns (one query on SQLite; converted from objects otherwise)."""
    read: Callable[[int, float, float], RollupColumns] | None = getattr(store, "site_rollup_columns", None)
    if read is not None:
        return read(resolution_s, start_s, end_s)
    return columns_from_rollups(resolution_s, store.site_rollups(resolution_s, start_s, end_s))


def columns_from_rollups(resolution_s: int, rollups: Sequence[SiteRollup]) -> RollupColumns:
    names = sorted({name for r in rollups for name in r.terms})
    return RollupColumns(
        resolution_s,
        [float(r.start_s) for r in rollups],
        [r.covered_s for r in rollups],
        [r.facility_j for r in rollups],
        [r.it_j for r in rollups],
        [r.cooling_covered_s for r in rollups],
        [r.cooling_j for r in rollups],
        [r.conditions.get("outdoor_dry_bulb_c") for r in rollups],
        [r.conditions.get("outdoor_wet_bulb_c") for r in rollups],
        frozenset().union(*(r.methods for r in rollups)),
        frozenset().union(*(r.it_categories for r in rollups)),
        frozenset().union(*(r.sources for r in rollups)),
        {
            name: (
                [r.terms.get(name, (0.0, 0.0))[0] for r in rollups],
                [r.terms.get(name, (0.0, 0.0))[1] for r in rollups],
            )
            for name in names
        },
    )


def columns_from_rows(
    resolution_s: int, rows: Sequence[Sequence[Any]], terms: dict[float, dict[str, tuple[float, float]]]
) -> RollupColumns:
    """Columns from ``SELECT`` :data:`COLUMNS_SELECT` rows in start order and the buckets' terms by start."""
    if not rows:
        return RollupColumns(resolution_s, [], [], [], [], [], [], [], [], frozenset(), frozenset(), frozenset())
    start, covered, facility, it, cool_cov, cool, methods, cats, sources, dry, wet = (
        list(c) for c in zip(*rows, strict=True)
    )
    method_bits = sources_bits = cat_bits = 0
    for m in set(methods):
        method_bits |= int(m)
    for c in set(cats):
        cat_bits |= int(c)
    for s in set(sources):
        sources_bits |= int(s)
    index = {float(s): i for i, s in enumerate(start)}
    term_columns: dict[str, tuple[list[float], list[float]]] = {}
    for bucket, named in terms.items():
        i = index.get(bucket)
        if i is None:
            continue
        for name, (term_covered, value) in named.items():
            if name not in term_columns:
                term_columns[name] = ([0.0] * len(start), [0.0] * len(start))
            term_columns[name][0][i], term_columns[name][1][i] = term_covered, value
    return RollupColumns(
        resolution_s,
        [float(s) for s in start],
        [float(v) for v in covered],
        [float(v) for v in facility],
        [float(v) for v in it],
        [float(v) for v in cool_cov],
        [float(v) for v in cool],
        [None if v is None else float(v) for v in dry],
        [None if v is None else float(v) for v in wet],
        unbits(method_bits, METHOD_BITS),
        frozenset(k for k in (0, 1, 2, 3) if cat_bits & (1 << k)),
        unbits(sources_bits, SOURCE_BITS),
        dict(sorted(term_columns.items())),
    )
