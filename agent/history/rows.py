"""How site intervals become rows and rollup sums, and back: the history store's encoding helpers."""

from __future__ import annotations

import itertools
import math
from collections.abc import Iterable, Iterator, Sequence
from typing import Any

from agent.errors import HistoryQueryError
from agent.history.records import CONDITION_COLUMNS, RESOLUTIONS_S, SiteInterval, SiteRollup

__all__ = [
    "IMPORT_BATCH",
    "METHOD_BITS",
    "ROLLUP_INF",
    "ROLLUP_SELECT",
    "ROLLUP_UPSERT",
    "SOURCE_BITS",
    "batches",
    "bits",
    "category_bits",
    "interval_from_row",
    "interval_row",
    "iso",
    "refuse_non_finite",
    "rollup_from_row",
    "rollup_sums",
    "share_sums",
    "split_buckets",
    "unbits",
]

#: intervals an import validates and writes at a time (bounds its memory, not its transaction)
IMPORT_BATCH = 2000

ROLLUP_UPSERT = (
    "INSERT INTO site_rollup VALUES (" + ", ".join("?" * (12 + 2 * len(CONDITION_COLUMNS))) + ") "
    "ON CONFLICT DO UPDATE SET duration_s = duration_s + excluded.duration_s, "
    "covered_s = covered_s + excluded.covered_s, facility_j = facility_j + excluded.facility_j, "
    "it_j = it_j + excluded.it_j, "
    "cooling_covered_s = cooling_covered_s + excluded.cooling_covered_s, "
    "cooling_j = cooling_j + excluded.cooling_j, methods = methods | excluded.methods, "
    "it_categories = it_categories | excluded.it_categories, sources = sources | excluded.sources, "
    + ", ".join(
        f"cond_s_{c} = cond_s_{c} + excluded.cond_s_{c}, cond_{c} = cond_{c} + excluded.cond_{c}"
        for c in CONDITION_COLUMNS
    )
    + ", max_inlet_c = CASE WHEN max_inlet_c IS NULL THEN excluded.max_inlet_c "
    "WHEN excluded.max_inlet_c IS NULL THEN max_inlet_c "
    "ELSE max(max_inlet_c, excluded.max_inlet_c) END"
)

METHOD_BITS = {"counter": 1, "integrated": 2, "imported": 4}
SOURCE_BITS = {"agent": 1, "import": 2}


def bits(names: Iterable[str], table: dict[str, int]) -> int:
    out = 0
    for name in names:
        for part in name.split("+"):
            out |= table.get(part, 0)
    return out


def unbits(value: int, table: dict[str, int]) -> frozenset[str]:
    return frozenset(name for name, bit in table.items() if value & bit)


#: the sets behind each bit pattern, decoded once (a year of hourly rollups decodes 8,760 rows)
_METHOD_SETS = {b: unbits(b, METHOD_BITS) for b in range(1 << len(METHOD_BITS))}
_SOURCE_SETS = {b: unbits(b, SOURCE_BITS) for b in range(1 << len(SOURCE_BITS))}
_CATEGORY_SETS = {b: frozenset(k for k in (0, 1, 2, 3) if b & (1 << k)) for b in range(16)}
#: any REAL column of ``site_rollup`` holding +-inf (SQLite reads 9e999 as inf)
ROLLUP_INF = " OR ".join(
    f"abs({c}) = 9e999"
    for c in (
        "duration_s",
        "covered_s",
        "facility_j",
        "it_j",
        "cooling_covered_s",
        "cooling_j",
        *(f"{p}{c}" for c in CONDITION_COLUMNS for p in ("cond_s_", "cond_")),
        "max_inlet_c",
    )
)

#: the columns :func:`rollup_from_row` decodes: each condition's time-weighted mean is divided out in SQL
#: (the same IEEE division as in Python), NULL where it was never known
ROLLUP_SELECT = (
    "resolution_s, start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, methods, "
    "it_categories, sources, "
    + ", ".join(f"CASE WHEN cond_s_{c} > 0 THEN cond_{c} / cond_s_{c} END" for c in CONDITION_COLUMNS)
    + ", max_inlet_c"
)


def rollup_from_row(row: Sequence[Any], terms: dict[str, tuple[float, float]]) -> SiteRollup:
    """The :class:`SiteRollup` of one ``site_rollup`` row as :data:`ROLLUP_SELECT` reads it (resolution, start,
    sums, bits, the mean of each condition or NULL where it was never known, inlet maximum)."""
    methods, cats, sources = int(row[8]), int(row[9]), int(row[10])
    return SiteRollup(
        int(row[1]),
        int(row[0]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(row[5]),
        float(row[6]),
        float(row[7]),
        _METHOD_SETS.get(methods) or unbits(methods, METHOD_BITS),
        _CATEGORY_SETS.get(cats) or frozenset(k for k in (0, 1, 2, 3) if cats & (1 << k)),
        _SOURCE_SETS.get(sources) or unbits(sources, SOURCE_BITS),
        {c: float(v) for c, v in zip(CONDITION_COLUMNS, row[11:-1], strict=True) if v is not None},
        None if row[-1] is None else float(row[-1]),
        terms,
    )


def category_bits(category: int | None) -> int:
    return 0 if category is None else 1 << int(category)


def batches(items: Iterable[SiteInterval], size: int) -> Iterator[list[SiteInterval]]:
    """Consecutive batches of at most ``size`` intervals, each sorted by start."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        batch.sort(key=lambda iv: iv.start_s)
        yield batch


def refuse_non_finite(row: Sequence[Any], what: str, start_s: float) -> None:
    """Refuse a stored row holding inf (left by an import from before the checks): never report it."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in row):
        raise HistoryQueryError(
            f"history database: {what} at {iso(start_s)} holds a non-finite value "
            "(written by an older, unchecked import): refusing to use it; delete that period or re-import it"
        )


def share_sums(iv: SiteInterval, conditions: Sequence[float | None], share: float) -> list[float]:
    """The rollup sums of the part ``share`` of ``iv`` (energies, times, time-weighted conditions)."""
    known_s = iv.duration_s * share
    sums = [
        known_s,
        iv.covered_s * share,
        iv.facility_j * share,
        iv.it_j * share,
        iv.cooling_covered_s * share,
        iv.cooling_j * share,
    ]
    for value in conditions:
        sums += (0.0, 0.0) if value is None else (known_s, value * known_s)
    return sums


def interval_row(iv: SiteInterval) -> tuple[Any, ...]:
    """The ``site_interval`` row of ``iv``; unknown or non-finite conditions become NULL.

    Raises
    ------
    HistoryQueryError
        a time or energy is not a finite number, or is negative: such a row would make every
        total, export and report over it inf or nan.
    """
    amounts = [iv.duration_s, iv.covered_s, iv.facility_j, iv.it_j, iv.cooling_covered_s, iv.cooling_j]
    for covered, value in iv.terms.values():
        amounts += (covered, value)
    if not math.isfinite(iv.start_s) or not all(0.0 <= amount < math.inf for amount in amounts):
        names = ["duration_s", "covered_s", "facility_j", "it_j", "cooling_covered_s", "cooling_j"]
        for term in iv.terms:
            names += (f"{term} covered_s", term)
        name, value = next(
            ((n, a) for n, a in zip(names, amounts, strict=True) if not 0.0 <= a < math.inf), ("start_s", iv.start_s)
        )
        raise HistoryQueryError(
            f"site interval at {iso(iv.start_s)}: {name} = {value!r} is not a finite amount: not stored"
        )

    def known(value: float | None) -> float | None:
        return value if value is not None and math.isfinite(value) else None

    return (
        iv.start_s,
        iv.duration_s,
        iv.covered_s,
        iv.facility_j,
        iv.it_j,
        iv.cooling_covered_s,
        iv.cooling_j,
        iv.method,
        iv.it_category,
        iv.source,
        *(known(iv.conditions.get(c)) for c in CONDITION_COLUMNS),
        known(iv.max_inlet_c),
    )


def split_buckets(start_s: float, end_s: float, resolutions: Sequence[int]) -> Iterator[tuple[int, int, float]]:
    """(resolution, bucket start, share of [start, end) in that bucket) for UTC-aligned buckets."""
    length = end_s - start_s
    for resolution in resolutions:
        bucket = math.floor(start_s / resolution) * resolution
        if length <= 0:
            yield resolution, int(bucket), 1.0
            continue
        while bucket < end_s:
            overlap = min(end_s, bucket + resolution) - max(start_s, bucket)
            if overlap > 0:
                yield resolution, int(bucket), overlap / length
            bucket += resolution


def iso(epoch_s: float) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{epoch_s!r} s"


#: (resolution, bucket start) -> [methods, categories, sources, max inlet, sums]
Buckets = dict[tuple[int, int], list[Any]]
#: (resolution, bucket start, term) -> [covered, value]
TermBuckets = dict[tuple[int, int, str], list[float]]


def rollup_sums(intervals: Sequence[SiteInterval], rows: Sequence[tuple[Any, ...]]) -> tuple[Buckets, TermBuckets]:
    """The rollup sums of ``intervals`` (``rows`` their :func:`~agent.history.rows.interval_row`) at every
    resolution, each bucket's share by time; an imported coarse interval is never spread over finer buckets."""
    n = len(CONDITION_COLUMNS)
    buckets: Buckets = {}
    term_buckets: TermBuckets = {}
    for iv, row in zip(intervals, rows, strict=True):
        methods = bits([iv.method], METHOD_BITS)
        sources = bits([iv.source], SOURCE_BITS)
        categories = category_bits(iv.it_category)
        conditions: list[float | None] = list(row[10 : 10 + n])
        max_inlet_c: float | None = row[-1]
        whole = [iv.duration_s, iv.covered_s, iv.facility_j, iv.it_j, iv.cooling_covered_s, iv.cooling_j]
        for value in conditions:
            whole += (0.0, 0.0) if value is None else (iv.duration_s, value * iv.duration_s)
        end_s = iv.start_s + iv.duration_s
        resolutions = [r for r in RESOLUTIONS_S if iv.source == "agent" or r >= iv.duration_s - 1e-9]
        for resolution, start, share in split_buckets(iv.start_s, end_s, resolutions):
            sums = whole if share == 1.0 else share_sums(iv, conditions, share)
            bucket = buckets.get((resolution, start))
            if bucket is None:
                buckets[(resolution, start)] = [methods, categories, sources, max_inlet_c, list(sums)]
            else:
                bucket[0] |= methods
                bucket[1] |= categories
                bucket[2] |= sources
                if max_inlet_c is not None and (bucket[3] is None or max_inlet_c > bucket[3]):
                    bucket[3] = max_inlet_c
                bucket[4] = [a + b for a, b in zip(bucket[4], sums, strict=True)]
            for term, (covered, value) in iv.terms.items():
                acc = term_buckets.get((resolution, start, term))
                if acc is None:
                    term_buckets[(resolution, start, term)] = [covered * share, value * share]
                else:
                    acc[0] += covered * share
                    acc[1] += value * share
    return buckets, term_buckets


def interval_from_row(row: Sequence[Any], terms: dict[str, tuple[float, float]]) -> SiteInterval:
    """A stored ``site_interval`` row (the columns of :func:`interval_row`, in order) as a :class:`SiteInterval`."""
    n = len(CONDITION_COLUMNS)
    return SiteInterval(
        float(row[0]),
        float(row[1]),
        float(row[2]),
        float(row[3]),
        float(row[4]),
        float(row[5]),
        float(row[6]),
        str(row[7]),
        None if row[8] is None else int(row[8]),
        str(row[9]),
        {c: float(v) for c, v in zip(CONDITION_COLUMNS, row[10 : 10 + n], strict=True) if v is not None},
        None if row[10 + n] is None else float(row[10 + n]),
        terms,
    )
