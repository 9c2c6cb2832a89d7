"""Site intervals as rollup sums per bucket, and the overlap check of an import batch (as the SQLite store does)."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence
from typing import Any

from agent.errors import HistoryOverlapError
from agent.history.records import CONDITION_COLUMNS, RESOLUTIONS_S, SiteInterval
from agent.history.rows import METHOD_BITS, SOURCE_BITS, bits, category_bits, iso, share_sums, split_buckets

__all__ = ["check_batch", "rollup_sums"]

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


def check_batch(batch: Sequence[SiteInterval], stored: Sequence[tuple[float, float]]) -> None:
    """Refuse a batch (sorted by start) overlapping itself or ``stored`` (start, duration) intervals near it.

    Raises
    ------
    HistoryOverlapError
        with the first overlapping interval's start.
    """
    for before, after in itertools.pairwise(batch):
        if after.start_s < before.start_s + before.duration_s - 1e-6:
            raise HistoryOverlapError(
                f"interval starting {iso(after.start_s)} overlaps the one imported at {iso(before.start_s)}",
                after.start_s,
            )
    starts = [iv.start_s for iv in batch]
    for stored_s, stored_duration_s in stored:
        i = max(bisect.bisect_right(starts, stored_s) - 1, 0)
        for iv in batch[i : i + 2]:
            if stored_s < iv.start_s + iv.duration_s and stored_s + stored_duration_s > iv.start_s + 1e-6:
                raise HistoryOverlapError(
                    f"interval starting {iso(iv.start_s)} overlaps stored data at {iso(stored_s)}", iv.start_s
                )
