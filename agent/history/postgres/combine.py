"""How the agents (shards) of one site are combined into the site's rollups, never double counted.

Each shard (``pue-agent run --shard I/N``) writes site intervals over its *own* topology contributors:
energy of its own facility, IT and cooling meters, counted over its ticks where every one of its own facility
and IT contributors was fresh (a shard owning no facility meter contributes 0 J over full coverage). The
site's value for one rollup bucket (1 min, 15 min, 1 h, 1 d) is then:

* **complete** when the bucket holds exactly one row of each shard 1..N of one N (a non-sharded agent is
  shard 1/1). Otherwise (a shard missing, two agents claiming one shard, shards of different N) the bucket
  is a gap: covered time 0, energies 0, so nothing is double counted and nothing is made up.
* its **covered time** is the least covered time of the shards; each shard's energy is pro-rated to it
  (``energy * covered / shard_covered``), the same share-by-time rule that splits an interval across bucket
  edges. Facility and IT energies are the sums of the pro-rated shard energies.
* **cooling** counts over the shards that own cooling meters only (least covered time, pro-rated sums);
  optional boundaries and zones (``terms``) likewise over the shards that wrote them, never over more than
  the site's covered time.
* conditions are time-weighted means over every shard that knew them, the inlet maximum the largest.

One agent alone (1/1) gives back its own rows unchanged.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from agent.history.records import CONDITION_COLUMNS, SiteInterval, SiteRollup
from agent.history.rows import METHOD_BITS, SOURCE_BITS, unbits

__all__ = ["AgentShard", "RollupRow", "combine_bucket", "rollup_interval", "whole_site_rollup"]

_N = len(CONDITION_COLUMNS)
_CATEGORIES = {bits: frozenset(k for k in (0, 1, 2, 3) if bits & (1 << k)) for bits in range(16)}
_METHODS = {bits: unbits(bits, METHOD_BITS) for bits in range(8)}
_SOURCES = {bits: unbits(bits, SOURCE_BITS) for bits in range(4)}


@dataclass(frozen=True, slots=True)
class AgentShard:
    """One writer of a site: its shard and whether it owns cooling meters."""

    index: int
    count: int
    has_cooling: bool


@dataclass(frozen=True, slots=True)
class RollupRow:
    """One agent's stored rollup bucket (sums, as in ``site_rollup``)."""

    agent: str
    start_s: int
    resolution_s: int
    duration_s: float
    covered_s: float
    facility_j: float
    it_j: float
    cooling_covered_s: float
    cooling_j: float
    methods: int
    it_categories: int
    sources: int
    #: (known time, time-weighted sum) per condition column
    conditions: tuple[tuple[float, float], ...]
    max_inlet_c: float | None
    terms: dict[str, tuple[float, float]]

    @classmethod
    def from_db(cls, row: Sequence[Any], terms: dict[str, tuple[float, float]]) -> RollupRow:
        n = len(CONDITION_COLUMNS)
        cond = tuple((float(row[12 + 2 * i]), float(row[13 + 2 * i])) for i in range(n))
        return cls(
            str(row[0]),
            int(row[1]),
            int(row[2]),
            float(row[3]),
            float(row[4]),
            float(row[5]),
            float(row[6]),
            float(row[7]),
            float(row[8]),
            int(row[9]),
            int(row[10]),
            int(row[11]),
            cond,
            None if row[12 + 2 * n] is None else float(row[12 + 2 * n]),
            terms,
        )


def whole_site_rollup(row: Sequence[Any], terms: dict[str, tuple[float, float]]) -> SiteRollup:
    """The site's rollup from the one row of an agent polling the whole site (shard 1/1): the row itself."""
    cond = row[12 : 12 + 2 * _N]
    return SiteRollup(
        int(row[1]),
        int(row[2]),
        row[3],
        row[4],
        row[5],
        row[6],
        row[7],
        row[8],
        _METHODS.get(row[9]) or unbits(int(row[9]), METHOD_BITS),
        _CATEGORIES.get(row[10]) or frozenset(k for k in (0, 1, 2, 3) if int(row[10]) & (1 << k)),
        _SOURCES.get(row[11]) or unbits(int(row[11]), SOURCE_BITS),
        {c: cond[2 * i + 1] / cond[2 * i] for i, c in enumerate(CONDITION_COLUMNS) if cond[2 * i] > 0},
        row[12 + 2 * _N],
        terms,
    )


def _share(value: float, covered: float, own_covered: float) -> float:
    if own_covered == covered:
        return value
    return value * covered / own_covered if own_covered > 0 else 0.0


def combine_bucket(rows: Sequence[RollupRow], agents: dict[str, AgentShard]) -> SiteRollup:
    """The site's rollup for one bucket from its agents' rows (the rule in this module's docstring)."""
    shards = [agents.get(r.agent) for r in rows]
    counts = {s.count for s in shards if s is not None}
    complete = (
        None not in shards
        and len(counts) == 1
        and sorted(s.index for s in shards if s is not None) == list(range(1, counts.pop() + 1))
    )
    duration = min(r.duration_s for r in rows) if complete else max(r.duration_s for r in rows)
    covered = min(r.covered_s for r in rows) if complete else 0.0
    facility = sum(_share(r.facility_j, covered, r.covered_s) for r in rows) if covered > 0 else 0.0
    it = sum(_share(r.it_j, covered, r.covered_s) for r in rows) if covered > 0 else 0.0
    cooling_rows = [r for r, s in zip(rows, shards, strict=True) if s is not None and s.has_cooling]
    cooling_covered = cooling = 0.0
    if covered > 0 and cooling_rows:
        cooling_covered = min(covered, *(r.cooling_covered_s for r in cooling_rows))
        if cooling_covered > 0:
            cooling = sum(_share(r.cooling_j, cooling_covered, r.cooling_covered_s) for r in cooling_rows)
    methods = categories = sources = 0
    for r in rows:
        methods |= r.methods
        categories |= r.it_categories
        sources |= r.sources
    conditions: dict[str, float] = {}
    for i, name in enumerate(CONDITION_COLUMNS):
        known = sum(r.conditions[i][0] for r in rows)
        if known > 0:
            conditions[name] = sum(r.conditions[i][1] for r in rows) / known
    inlets = [r.max_inlet_c for r in rows if r.max_inlet_c is not None]
    terms: dict[str, tuple[float, float]] = {}
    for term in sorted({t for r in rows for t in r.terms}):
        having = [r.terms[term] for r in rows if term in r.terms]
        term_covered = min(covered, *(c for c, _v in having)) if covered > 0 else 0.0
        value = sum(_share(v, term_covered, c) for c, v in having) if term_covered > 0 else 0.0
        terms[term] = (term_covered, value)
    return SiteRollup(
        rows[0].start_s,
        rows[0].resolution_s,
        duration,
        covered,
        facility,
        it,
        cooling_covered,
        cooling,
        unbits(methods, METHOD_BITS),
        frozenset(k for k in (0, 1, 2, 3) if categories & (1 << k)),
        unbits(sources, SOURCE_BITS),
        conditions,
        max(inlets) if inlets else None,
        terms,
    )


def rollup_interval(rollup: SiteRollup) -> SiteInterval:
    """A combined bucket as one site interval (what ``site_intervals`` returns across several agents)."""
    categories = sorted(rollup.it_categories)
    return SiteInterval(
        start_s=float(rollup.start_s),
        duration_s=rollup.duration_s,
        covered_s=rollup.covered_s,
        facility_j=rollup.facility_j,
        it_j=rollup.it_j,
        cooling_covered_s=rollup.cooling_covered_s,
        cooling_j=rollup.cooling_j,
        method="+".join(sorted(rollup.methods)) or "integrated",
        it_category=categories[-1] if categories else None,
        source="import" if rollup.sources == {"import"} else "agent",
        conditions=dict(rollup.conditions),
        max_inlet_c=rollup.max_inlet_c,
        terms=dict(rollup.terms),
    )
