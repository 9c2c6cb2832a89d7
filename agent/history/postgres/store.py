"""The history store in a shared PostgreSQL database (psycopg 3): many agents and shards, one schema.

Writes are keyed by this store's ``site`` and ``agent``; each batch of polls (:meth:`PostgresHistoryStore.batch`,
the history writer's), poll, site interval or import is one transaction, so a kill -9 of an agent loses at most
the write in flight (the server rolls back an unfinished transaction).
Reads cover the whole site: every agent (shard) of it combined per rollup bucket by
:mod:`agent.history.postgres.combine`. The schema and its migrations: :mod:`agent.history.postgres.schema`.

The connection string is a secret (it may hold a password): messages name only ``host:port/dbname``.
"""

from __future__ import annotations

import itertools
import logging
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

import psycopg

from agent.errors import HistoryQueryError
from agent.history.columns import COLUMNS_SELECT, RollupColumns, columns_from_rollups, columns_from_rows
from agent.history.database import MAX_INTERVAL_S, OVERLAP_TOLERANCE_S
from agent.history.postgres import schema
from agent.history.postgres.buckets import check_batch, rollup_sums
from agent.history.postgres.combine import AgentShard, RollupRow, combine_bucket, rollup_interval, whole_site_rollup
from agent.history.postgres.connection import PostgresDatabase, redacted
from agent.history.postgres.polls import DEVICE_ROLLUP_UPSERT, ENERGY_UPSERT, POLL_UPSERT, PollBatch
from agent.history.records import (
    CONDITION_COLUMNS,
    RESOLUTIONS_S,
    DeviceEnergyRow,
    ReadingRow,
    SiteInterval,
    SiteRollup,
)
from agent.history.rows import IMPORT_BATCH, batches, interval_from_row, interval_row, iso

__all__ = ["PostgresHistoryStore", "redacted"]

log = logging.getLogger(__name__)

_COND = ", ".join(f"cond_s_{c}, cond_{c}" for c in CONDITION_COLUMNS)
_ROLLUP_COLUMNS = (
    "agent, start_s, resolution_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, "
    f"methods, it_categories, sources, {_COND}, max_inlet_c"
)
_INTERVAL_COLUMNS = (
    "start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, method, it_category, source, "
    + ", ".join(CONDITION_COLUMNS)
    + ", max_inlet_c"
)
_ROLLUP_UPSERT = (
    f"INSERT INTO site_rollup AS r (site, agent, resolution_s, start_s, duration_s, covered_s, facility_j, it_j, "
    f"cooling_covered_s, cooling_j, methods, it_categories, sources, {_COND}, max_inlet_c) VALUES ("
    + ", ".join(["%s"] * (14 + 2 * len(CONDITION_COLUMNS)))
    + ") ON CONFLICT (site, resolution_s, start_s, agent) DO UPDATE SET "
    + ", ".join(
        f"{c} = r.{c} + excluded.{c}"
        for c in ("duration_s", "covered_s", "facility_j", "it_j", "cooling_covered_s", "cooling_j")
    )
    + ", methods = r.methods | excluded.methods, it_categories = r.it_categories | excluded.it_categories, "
    "sources = r.sources | excluded.sources, "
    + ", ".join(
        f"cond_s_{c} = r.cond_s_{c} + excluded.cond_s_{c}, cond_{c} = r.cond_{c} + excluded.cond_{c}"
        for c in CONDITION_COLUMNS
    )
    + ", max_inlet_c = GREATEST(r.max_inlet_c, excluded.max_inlet_c)"
)


class PostgresHistoryStore(PostgresDatabase):
    """:class:`~agent.history.records.HistoryStore` in PostgreSQL, writing as ``agent`` of ``site``; how it is
    opened, its parameters and errors: :class:`~agent.history.postgres.connection.PostgresDatabase`."""

    #: the polls staged by :meth:`batch` (None: each poll is its own transaction)
    _batch: PollBatch | None = None

    @contextmanager
    def batch(self) -> Iterator[None]:
        """The polls recorded inside it (the history writer's polls of the last 0.1 s) in one transaction, one
        ``executemany`` per table (:mod:`agent.history.postgres.polls`): all or none.

        An error in any poll, when it is staged or when the batch is written, rolls the whole batch back and is
        raised (the writer then writes its polls one by one). Nested: the outer batch writes.
        """
        if self._batch is not None:
            yield
            return
        self._batch = PollBatch((self.site, self.agent), self._previous_energy)
        try:
            yield
            staged = self._batch
        finally:
            self._batch = None
        self._write_polls(staged)

    def record_poll(
        self,
        device: str,
        timestamp_s: float,
        ok: bool,
        duration_s: float,
        error_kind: str | None,
        readings: Sequence[ReadingRow],
        energy: Sequence[DeviceEnergyRow],
    ) -> None:
        """One poll, its readings and device energies, and the device rollups: one transaction, or a part of the
        :meth:`batch` it is recorded in."""
        with self.batch():
            assert self._batch is not None
            self._batch.add(device, timestamp_s, ok, duration_s, error_kind, readings, energy)

    def _write_polls(self, staged: PollBatch) -> None:
        if not staged.polls:
            return
        with self.transaction(pipeline=True) as cur:
            for epoch_s in sorted({schema.month_bounds(t)[1] for t in staged.times_s}):
                self.partition(cur, epoch_s)
            cur.executemany(POLL_UPSERT, staged.polls)
            if staged.energy:
                cur.executemany(ENERGY_UPSERT, staged.energy)
            if staged.rollups:
                cur.executemany(DEVICE_ROLLUP_UPSERT, staged.rollups)
        self._last_energy.update(staged.last_energy)

    def _previous_energy(self, device: str, quantity: str) -> tuple[float, float] | None:
        cached = self._last_energy.get((device, quantity))
        if cached is not None:
            return cached
        rows = self.query(
            "SELECT ts_s, total_j FROM device_energy WHERE site = %s AND device = %s AND quantity = %s "
            "ORDER BY ts_s DESC LIMIT 1",
            (self.site, device, quantity),
        )
        return None if not rows else (float(rows[0][0]), float(rows[0][1]))

    def record_site_interval(self, interval: SiteInterval) -> None:
        """One site interval and its rollups at every resolution: one transaction."""
        with self.transaction(pipeline=True) as cur:
            self.partition(cur, interval.start_s)
            row = self._db.execute(  # a cursor of its own: `cur` may hold a pipelined executemany
                "SELECT start_s + duration_s FROM site_interval WHERE site = %s AND agent = %s AND start_s < %s "
                "ORDER BY start_s DESC LIMIT 1",
                (self.site, self.agent, interval.start_s + interval.duration_s),
            ).fetchone()
            if row is not None and float(row[0]) > interval.start_s + OVERLAP_TOLERANCE_S:
                raise HistoryQueryError(
                    f"site interval at {iso(interval.start_s)} ({interval.duration_s:g} s) overlaps one already "
                    f"stored by agent {self.agent!r} (is another agent writing as {self.agent!r}?)"
                )
            self._insert_intervals(cur, [interval])

    def import_site_intervals(self, intervals: Iterable[SiteInterval]) -> int:
        """Insert many intervals in a single transaction: all or nothing, in bounded memory (see the SQLite store)."""
        count = 0
        with self.transaction() as cur:
            for batch in batches(intervals, IMPORT_BATCH):
                for start_s in sorted({schema.month_bounds(iv.start_s)[1] for iv in batch}):
                    self.partition(cur, start_s)
                first_s = batch[0].start_s
                end_s = max(iv.start_s + iv.duration_s for iv in batch)
                stored = cur.execute(
                    "(SELECT start_s, duration_s FROM site_interval WHERE site = %s AND agent = %s AND start_s < %s "
                    " AND start_s > %s ORDER BY start_s DESC LIMIT 1) UNION ALL "
                    "(SELECT start_s, duration_s FROM site_interval WHERE site = %s AND agent = %s AND start_s >= %s "
                    " AND start_s < %s) ORDER BY 1",
                    (self.site, self.agent, first_s, first_s - MAX_INTERVAL_S, self.site, self.agent, first_s, end_s),
                ).fetchall()
                check_batch(batch, [(float(s), float(d)) for s, d in stored])
                self._insert_intervals(cur, batch)
                count += len(batch)
        return count

    def _insert_intervals(self, cur: psycopg.Cursor[Any], intervals: Sequence[SiteInterval]) -> None:
        key = (self.site, self.agent)
        rows = [interval_row(iv) for iv in intervals]
        cur.executemany(
            f"INSERT INTO site_interval (site, agent, {_INTERVAL_COLUMNS}) VALUES ("
            + ", ".join(["%s"] * (2 + len(rows[0])))
            + ")",
            [(*key, *row) for row in rows],
        )
        terms = [(*key, iv.start_s, t, c, v) for iv in intervals for t, (c, v) in iv.terms.items()]
        if terms:
            cur.executemany("INSERT INTO site_term_interval VALUES (%s, %s, %s, %s, %s, %s)", terms)
        buckets, term_buckets = rollup_sums(intervals, rows)
        cur.executemany(
            _ROLLUP_UPSERT,
            [
                (*key, res, start, *sums[:6], methods, categories, sources, *sums[6:], max_inlet_c)
                for (res, start), (methods, categories, sources, max_inlet_c, sums) in buckets.items()
            ],
        )
        if term_buckets:
            cur.executemany(
                "INSERT INTO site_term_rollup AS t VALUES (%s, %s, %s, %s, %s, %s, %s) "
                "ON CONFLICT (site, resolution_s, start_s, term, agent) DO UPDATE SET "
                "covered_s = t.covered_s + excluded.covered_s, value = t.value + excluded.value",
                [(*key, res, start, term, c, v) for (res, start, term), (c, v) in term_buckets.items()],
            )

    def purge_raw(self, before_s: float, energy_before_s: float | None = None) -> int:
        """Delete this agent's polls (with their readings) older than ``before_s``, and its device energy (not
        the newest of each device quantity) and site intervals older than ``energy_before_s`` (default
        ``before_s``; ``-inf``: keep them); rollups are kept. Returns rows deleted."""
        energy_cut = before_s if energy_before_s is None else min(energy_before_s, before_s)
        deleted = 0
        with self.transaction() as cur:
            deleted += cur.execute(
                "DELETE FROM polls WHERE site = %s AND agent = %s AND ts_s < %s", (self.site, self.agent, before_s)
            ).rowcount
            key = (self.site, self.agent, energy_cut)
            deleted += cur.execute(
                "DELETE FROM device_energy e WHERE site = %s AND agent = %s AND ts_s < %s AND ts_s < "
                "(SELECT max(e2.ts_s) FROM device_energy e2 WHERE e2.site = e.site AND e2.device = e.device "
                "AND e2.quantity = e.quantity)",
                key,
            ).rowcount
            deleted += cur.execute(
                "DELETE FROM site_term_interval t WHERE site = %s AND agent = %s AND start_s < %s AND EXISTS "
                "(SELECT 1 FROM site_interval s WHERE s.site = t.site AND s.agent = t.agent "
                "AND s.start_s = t.start_s AND s.source = 'agent')",
                key,
            ).rowcount
            deleted += cur.execute(
                "DELETE FROM site_interval WHERE site = %s AND agent = %s AND start_s < %s AND source = 'agent'", key
            ).rowcount
        return deleted

    # --- reads (the whole site: every agent combined) ------------------------------------------------
    def agents(self) -> dict[str, AgentShard]:
        """The site's agents (writers) and their shards."""
        return {
            str(a): AgentShard(int(i), int(n), bool(c))
            for a, i, n, c in self.query(
                "SELECT agent, shard_index, shard_count, has_cooling FROM history_agent WHERE site = %s", (self.site,)
            )
        }

    def _term_rows(self, sql: str, params: Sequence[object]) -> dict[tuple[str, float], dict[str, tuple[float, float]]]:
        out: dict[tuple[str, float], dict[str, tuple[float, float]]] = {}
        for agent, start, term, covered, value in self.query(sql, params):
            out.setdefault((str(agent), float(start)), {})[str(term)] = (float(covered), float(value))
        return out

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]:
        if resolution_s not in RESOLUTIONS_S:
            raise HistoryQueryError(f"resolution {resolution_s} s is not stored (stored: {RESOLUTIONS_S})")
        params = (self.site, resolution_s, start_s, end_s)
        if self.readonly and params in self._memo:  # a report asks for the same rollups more than once
            return list(self._memo[params])
        where = "WHERE site = %s AND resolution_s = %s AND start_s >= %s AND start_s < %s"
        rows = self.query(f"SELECT {_ROLLUP_COLUMNS} FROM site_rollup {where} ORDER BY start_s, agent", params)
        terms = self._term_rows(f"SELECT agent, start_s, term, covered_s, value FROM site_term_rollup {where}", params)
        agents = self.agents()
        whole = {a for a, shard in agents.items() if (shard.index, shard.count) == (1, 1)}
        out = []
        for start, group in itertools.groupby(rows, key=lambda r: r[1]):
            bucket = list(group)
            if len(bucket) == 1 and bucket[0][0] in whole:  # one agent polling the whole site: its row as it is
                out.append(whole_site_rollup(bucket[0], terms.get((bucket[0][0], float(start)), {})))
            else:
                out.append(
                    combine_bucket(
                        [RollupRow.from_db(r, terms.get((str(r[0]), float(r[1])), {})) for r in bucket], agents
                    )
                )
        if self.readonly:
            self._memo = {params: out}
        return list(out)

    def site_rollup_columns(self, resolution_s: int, start_s: float, end_s: float) -> RollupColumns:
        """:meth:`site_rollups` as columns (:mod:`agent.history.columns`): read as stored when one agent polls the
        whole site (one row a bucket, as :func:`whole_site_rollup` takes it); combined bucket by bucket otherwise."""
        if resolution_s not in RESOLUTIONS_S:
            raise HistoryQueryError(f"resolution {resolution_s} s is not stored (stored: {RESOLUTIONS_S})")
        params = (self.site, resolution_s, start_s, end_s)
        where = "WHERE site = %s AND resolution_s = %s AND start_s >= %s AND start_s < %s"
        rows = self.query(f"SELECT agent, {COLUMNS_SELECT} FROM site_rollup {where} ORDER BY start_s, agent", params)
        whole = {a for a, shard in self.agents().items() if (shard.index, shard.count) == (1, 1)}
        if {r[0] for r in rows} <= whole and len({r[1] for r in rows}) == len(rows):
            terms = self._term_rows(
                f"SELECT agent, start_s, term, covered_s, value FROM site_term_rollup {where}", params
            )
            by_start = {start: named for (_agent, start), named in terms.items()}
            return columns_from_rows(resolution_s, [r[1:] for r in rows], by_start)
        return columns_from_rollups(resolution_s, self.site_rollups(resolution_s, start_s, end_s))

    def site_intervals(self, start_s: float, end_s: float) -> list[SiteInterval]:
        """The stored intervals when one agent wrote the period; across shards, the combined 1 min rollups."""
        writers = self.query(
            "SELECT DISTINCT agent FROM site_interval WHERE site = %s AND start_s >= %s AND start_s < %s",
            (self.site, start_s, end_s),
        )
        if len(writers) > 1:
            return [rollup_interval(r) for r in self.site_rollups(60, start_s, end_s)]
        rows = self.query(
            f"SELECT {_INTERVAL_COLUMNS} FROM site_interval WHERE site = %s AND start_s >= %s AND start_s < %s "
            "ORDER BY start_s",
            (self.site, start_s, end_s),
        )
        terms = self._term_rows(
            "SELECT agent, start_s, term, covered_s, value FROM site_term_interval "
            "WHERE site = %s AND start_s >= %s AND start_s < %s",
            (self.site, start_s, end_s),
        )
        agent = str(writers[0][0]) if writers else ""
        return [interval_from_row(row, terms.get((agent, float(row[0])), {})) for row in rows]

    def device_energy(self, device: str, quantity: str, start_s: float, end_s: float) -> list[DeviceEnergyRow]:
        rows = self.query(
            "SELECT device, quantity, ts_s, total_j, agent_total_j, method FROM device_energy WHERE site = %s "
            "AND device = %s AND quantity = %s AND ts_s >= %s AND ts_s < %s ORDER BY ts_s",
            (self.site, device, quantity, start_s, end_s),
        )
        return [DeviceEnergyRow(*r) for r in rows]

    def last_device_energy(self, device: str, quantity: str) -> DeviceEnergyRow | None:
        rows = self.query(
            "SELECT device, quantity, ts_s, total_j, agent_total_j, method FROM device_energy WHERE site = %s "
            "AND device = %s AND quantity = %s ORDER BY ts_s DESC LIMIT 1",
            (self.site, device, quantity),
        )
        return DeviceEnergyRow(*rows[0]) if rows else None

    def data_span(self) -> tuple[float, float] | None:
        rows = self.query(
            "SELECT min(lo), max(hi) FROM (SELECT min(start_s) AS lo, max(start_s + duration_s) AS hi FROM site_rollup "
            "WHERE site = %s AND resolution_s = 86400 UNION ALL SELECT min(start_s), max(start_s + duration_s) "
            "FROM site_interval WHERE site = %s) s",
            (self.site, self.site),
        )
        if not rows or rows[0][0] is None:
            return None
        return float(rows[0][0]), float(rows[0][1])

    def count(self, table: str, agent: str | None = None) -> int:
        """Rows of ``table`` for this site (and ``agent`` if given); ``readings``: the readings in the polls."""
        if table not in {*schema.PARTITIONED, "readings", "device_rollup", "site_rollup", "site_term_rollup"}:
            raise ValueError(table)
        what = "coalesce(sum(cardinality(vals)), 0) FROM polls" if table == "readings" else f"count(*) FROM {table}"
        sql = f"SELECT {what} WHERE site = %s" + (" AND agent = %s" if agent is not None else "")
        rows = self.query(sql, (self.site,) if agent is None else (self.site, agent))
        return int(rows[0][0])

    def __enter__(self) -> PostgresHistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
