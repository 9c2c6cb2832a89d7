"""The overlap check of an import batch, as the SQLite store does it (rollup sums: agent.history.rows)."""

from __future__ import annotations

import bisect
import itertools
from collections.abc import Sequence

from agent.errors import HistoryOverlapError
from agent.history.records import SiteInterval
from agent.history.rows import iso, rollup_sums

__all__ = ["check_batch", "rollup_sums"]


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
