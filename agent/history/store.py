"""The history store's SQLite implementation: writes (polls, site intervals, imports, purges) and queries.

The schema, migrations and connection are in :mod:`agent.history.database`, the row encoding in
:mod:`agent.history.rows`, the protocol and its types in :mod:`agent.history.records`.

One module (over 400 lines): one class, the SQLite store's writes and queries over one schema (schema and
connection: database.py, row encoding: rows.py).
"""

from __future__ import annotations

import bisect
import itertools
import math
import sqlite3
from collections.abc import Iterable, Sequence
from functools import partial
from pathlib import Path
from typing import Any

from agent.errors import HistoryOverlapError, HistoryQueryError
from agent.history.columns import COLUMNS_SELECT, RollupColumns, columns_from_rows
from agent.history.database import MAX_INTERVAL_S, SCHEMA_VERSION, SqliteDatabase, translate
from agent.history.poll_data import READING_BYTES, encode_readings
from agent.history.raw import RawReads, RawRows
from agent.history.records import (
    RESOLUTIONS_S,
    DeviceEnergyRow,
    ReadingRow,
    SiteInterval,
    SiteRollup,
)
from agent.history.retention import strip_readings
from agent.history.rows import (
    IMPORT_BATCH,
    ROLLUP_INF,
    ROLLUP_SELECT,
    ROLLUP_UPSERT,
    batches,
    interval_from_row,
    interval_row,
    iso,
    refuse_non_finite,
    rollup_from_row,
    rollup_sums,
    split_buckets,
)

__all__ = ["SqliteHistoryStore"]


#: how many readings the hot poll rows hold (v4, :mod:`agent.history.poll_data`); a WHERE may follow
_POLL_READINGS_SQL = f"SELECT coalesce(sum((length(data) - 1) / {READING_BYTES}), 0) FROM polls"


class SqliteHistoryStore(RawReads, SqliteDatabase):
    """:class:`~agent.history.records.HistoryStore` in one SQLite file (WAL); how it is opened, and its
    parameters and errors: :class:`~agent.history.database.SqliteDatabase`.

    ``pack`` (default): a device's raw rows of a closed UTC hour are packed into one compressed block when
    its first poll of the next hour is written (:mod:`agent.history.raw`); ``pack=False`` keeps every raw
    row in the hot tables, as schema v2 did (the benchmark's "before").
    """

    def __init__(
        self,
        path: str | Path,
        *,
        readonly: bool = False,
        durable: bool = False,
        exclusive: bool = False,
        pack: bool = True,
    ) -> None:
        self._raw = RawRows()
        self._pack = pack
        self._stripped_before_s = -math.inf  # raw blocks before this hold device energy only
        # (device, quantity) -> (ts_s, total_j) of its newest device_energy row, as written by record_poll: a poll
        # need not SELECT it (forgotten on a rollback, which may have undone the row)
        self._last_energy: dict[tuple[str, str], tuple[float, float]] = {}
        self._pack_closed_hours = False
        super().__init__(path, readonly=readonly, durable=durable, exclusive=exclusive)

    def _after_migration(self, db: sqlite3.Connection, version: int) -> None:
        # a v2 file's closed hours are packed once the file has the newest schema (the packer reads v4's column)
        self._pack_closed_hours = self._pack_closed_hours or version == 3
        if version == SCHEMA_VERSION and self._pack_closed_hours:
            self._raw.pack_all(db)

    def _on_rollback(self) -> None:
        self._raw.forget()
        self._last_energy.clear()

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
        """One poll, its readings and device energies, and the device rollups: one transaction."""
        try:
            with self._transaction() as db:
                data = encode_readings(readings, partial(self._raw.new_id, db)) if readings else None
                db.execute(
                    "INSERT OR REPLACE INTO polls VALUES (?, ?, ?, ?, ?, ?)",
                    (device, timestamp_s, int(ok), duration_s, error_kind, data),
                )
                last_energy = self._last_energy
                for row in energy:
                    key = (row.device, row.quantity)
                    previous = last_energy.get(key)
                    if previous is None:
                        previous = db.execute(
                            "SELECT ts_s, total_j FROM device_energy WHERE device = ? AND quantity = ? "
                            "ORDER BY ts_s DESC LIMIT 1",
                            key,
                        ).fetchone()
                    if previous is None:  # the last one is packed (the device's first poll in an hour)
                        last = self._raw.newest_block_energy(db, row.device, row.quantity, None)
                        previous = None if last is None else (last.timestamp_s, last.total_j)
                    db.execute("INSERT OR REPLACE INTO device_energy VALUES (?, ?, ?, ?, ?, ?)", row)
                    if previous is None or row.timestamp_s >= previous[0]:
                        last_energy[key] = (row.timestamp_s, row.total_j)  # the newest row stored now
                    if previous is not None and row.timestamp_s > previous[0] and row.total_j >= previous[1]:
                        self._device_rollup(db, row, previous[0], row.total_j - previous[1])
                if self._pack:
                    self._raw.after_poll(db, device, timestamp_s)
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err

    def _device_rollup(self, db: sqlite3.Connection, row: DeviceEnergyRow, since_s: float, energy_j: float) -> None:
        for resolution, start, share in split_buckets(since_s, row.timestamp_s, (3600, 86400)):
            db.execute(
                "INSERT INTO device_rollup VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
                "energy_j = energy_j + excluded.energy_j",
                (row.device, row.quantity, resolution, start, energy_j * share),
            )

    def last_device_energy(self, device: str, quantity: str) -> DeviceEnergyRow | None:
        row = self._query_one(
            "SELECT device, quantity, ts_s, total_j, agent_total_j, method FROM device_energy "
            "WHERE device = ? AND quantity = ? ORDER BY ts_s DESC LIMIT 1",
            (device, quantity),
        )
        hot = None if row is None else DeviceEnergyRow(*row)
        try:
            packed = self._raw.newest_block_energy(self._db, device, quantity, None if hot is None else hot.timestamp_s)
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        if packed is None or (hot is not None and hot.timestamp_s >= packed.timestamp_s):
            return hot
        return packed

    def record_site_interval(self, interval: SiteInterval) -> None:
        """One site interval and its rollups at every resolution: one transaction."""
        try:
            with self._transaction() as db:
                try:
                    self._insert_interval(db, interval)
                except sqlite3.IntegrityError as err:  # the overlap trigger, or the same start twice
                    raise HistoryQueryError(
                        f"site interval at {iso(interval.start_s)} ({interval.duration_s:g} s) overlaps one "
                        f"already stored (is another agent writing {self.path}?)"
                    ) from err
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err

    def import_site_intervals(self, intervals: Iterable[SiteInterval]) -> int:
        """Insert many intervals in a single transaction: all or nothing, in bounded memory.

        ``intervals`` is consumed lazily in batches of :data:`IMPORT_BATCH`; an exception raised
        while iterating it (e.g. a malformed row further down a file) rolls the whole import back.

        Raises
        ------
        HistoryOverlapError
            an interval overlaps one already stored or another one being imported (nothing is written).
        HistoryQueryError
            an interval has a non-finite time or energy (nothing is written).
        """
        count = 0
        try:
            with self._transaction() as db:
                for batch in batches(intervals, IMPORT_BATCH):
                    self._check_overlap(db, batch)
                    self._insert_intervals(db, batch)
                    count += len(batch)
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        return count

    def _check_overlap(self, db: sqlite3.Connection, batch: Sequence[SiteInterval]) -> None:
        """Refuse a batch (sorted by start) that overlaps itself or the stored intervals."""
        for before, after in itertools.pairwise(batch):
            if after.start_s < before.start_s + before.duration_s - 1e-6:
                raise HistoryOverlapError(
                    f"interval starting {iso(after.start_s)} overlaps the one imported at {iso(before.start_s)}",
                    after.start_s,
                )
        first_s = batch[0].start_s
        end_s = max(iv.start_s + iv.duration_s for iv in batch)
        # stored intervals never overlap each other: only the last one starting before the batch can reach into it
        stored = db.execute(
            "SELECT start_s, duration_s FROM site_interval WHERE start_s < ? AND start_s > ? "
            "ORDER BY start_s DESC LIMIT 1",
            (first_s, first_s - MAX_INTERVAL_S),
        ).fetchall()
        starts = [iv.start_s for iv in batch]
        for stored_s, stored_duration_s in itertools.chain(
            stored,
            db.execute(
                "SELECT start_s, duration_s FROM site_interval WHERE start_s >= ? AND start_s < ? ORDER BY start_s",
                (first_s, end_s),
            ),
        ):
            i = max(bisect.bisect_right(starts, stored_s) - 1, 0)
            for iv in batch[i : i + 2]:
                if stored_s < iv.start_s + iv.duration_s and stored_s + stored_duration_s > iv.start_s + 1e-6:
                    raise HistoryOverlapError(
                        f"interval starting {iso(iv.start_s)} overlaps stored data at {iso(stored_s)}", iv.start_s
                    )

    def _insert_interval(self, db: sqlite3.Connection, iv: SiteInterval) -> None:
        self._insert_intervals(db, [iv])

    def _insert_intervals(self, db: sqlite3.Connection, intervals: Sequence[SiteInterval]) -> None:
        """Intervals, their terms and their rollups at every resolution (summed per bucket first)."""
        rows = [interval_row(iv) for iv in intervals]
        db.executemany("INSERT INTO site_interval VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows)
        db.executemany(
            "INSERT INTO site_term_interval VALUES (?, ?, ?, ?)",
            [(iv.start_s, term, covered, value) for iv in intervals for term, (covered, value) in iv.terms.items()],
        )
        buckets, term_buckets = rollup_sums(intervals, rows)
        db.executemany(
            ROLLUP_UPSERT,
            [
                (res, start, *sums[:6], methods, categories, sources, *sums[6:], max_inlet_c)
                for (res, start), (methods, categories, sources, max_inlet_c, sums) in buckets.items()
            ],
        )
        db.executemany(
            "INSERT INTO site_term_rollup VALUES (?, ?, ?, ?, ?) ON CONFLICT DO UPDATE SET "
            "covered_s = covered_s + excluded.covered_s, value = value + excluded.value",
            [(res, start, term, covered, value) for (res, start, term), (covered, value) in term_buckets.items()],
        )

    def purge_raw(self, before_s: float, energy_before_s: float | None = None) -> int:
        """Delete polls and readings older than ``before_s``, device energy (but the newest of each device quantity)
        and site intervals older than ``energy_before_s`` (default ``before_s``; -inf: none); rollups are kept."""
        energy_cut = before_s if energy_before_s is None else min(energy_before_s, before_s)
        try:
            with self._transaction() as db:
                if self._pack:
                    self._raw.pack_idle(db)
                deleted = self._raw.purge(db, energy_cut) if energy_cut > -math.inf else 0
                deleted += strip_readings(self._raw, db, before_s, self._stripped_before_s)
                deleted += int(db.execute(f"{_POLL_READINGS_SQL} WHERE ts_s < ?", (before_s,)).fetchone()[0])
                for table in ("polls", "readings"):
                    deleted += db.execute(f"DELETE FROM {table} WHERE ts_s < ?", (before_s,)).rowcount
                deleted += db.execute(
                    "DELETE FROM device_energy WHERE ts_s < ? AND ts_s < "
                    "(SELECT max(e2.ts_s) FROM device_energy e2 "
                    "WHERE e2.device = device_energy.device AND e2.quantity = device_energy.quantity)",
                    (energy_cut,),
                ).rowcount
                deleted += db.execute(
                    "DELETE FROM site_term_interval WHERE start_s < ? AND start_s IN "
                    "(SELECT start_s FROM site_interval WHERE start_s < ? AND source = 'agent')",
                    (energy_cut, energy_cut),
                ).rowcount
                deleted += db.execute(
                    "DELETE FROM site_interval WHERE start_s < ? AND source = 'agent'", (energy_cut,)
                ).rowcount
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        self._stripped_before_s = max(self._stripped_before_s, before_s)
        return deleted

    # --- reads -------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err

    def _query_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]:
        if resolution_s not in RESOLUTIONS_S:
            raise HistoryQueryError(f"resolution {resolution_s} s is not stored (stored: {RESOLUTIONS_S})")
        rows = self._query(
            f"SELECT {ROLLUP_SELECT} FROM site_rollup WHERE resolution_s = ? AND start_s >= ? AND start_s < ? "
            "ORDER BY start_s",
            (resolution_s, start_s, end_s),
        )
        terms = self._terms(
            "SELECT start_s, term, covered_s, value FROM site_term_rollup WHERE resolution_s = ? "
            "AND start_s >= ? AND start_s < ?",
            (resolution_s, start_s, end_s),
        )
        self._refuse_non_finite_rollups(resolution_s, start_s, end_s)
        return [rollup_from_row(row, terms.get(float(row[1]), {})) for row in rows]

    def site_rollup_columns(self, resolution_s: int, start_s: float, end_s: float) -> RollupColumns:
        """:meth:`site_rollups` as columns (:mod:`agent.history.columns`): one query, no object per bucket."""
        if resolution_s not in RESOLUTIONS_S:
            raise HistoryQueryError(f"resolution {resolution_s} s is not stored (stored: {RESOLUTIONS_S})")
        where = "WHERE resolution_s = ? AND start_s >= ? AND start_s < ?"
        rows = self._query(
            f"SELECT {COLUMNS_SELECT} FROM site_rollup {where} ORDER BY start_s", (resolution_s, start_s, end_s)
        )
        terms = self._terms(
            f"SELECT start_s, term, covered_s, value FROM site_term_rollup {where}", (resolution_s, start_s, end_s)
        )
        self._refuse_non_finite_rollups(resolution_s, start_s, end_s)
        return columns_from_rows(resolution_s, rows, terms)

    def _refuse_non_finite_rollups(self, resolution_s: int, start_s: float, end_s: float) -> None:
        """Refuses the rollups of the period if one holds inf (an import from before the checks); one scan in
        SQLite (NaN cannot be stored: SQLite keeps it as NULL, which the NOT NULL columns refuse)."""
        row = self._query_one(
            f"SELECT start_s FROM site_rollup WHERE resolution_s = ? AND start_s >= ? AND start_s < ? "
            f"AND ({ROLLUP_INF}) LIMIT 1",
            (resolution_s, start_s, end_s),
        )
        if row is not None:
            refuse_non_finite((math.inf,), "site_rollup", row[0])

    def _terms(self, sql: str, params: Sequence[object]) -> dict[float, dict[str, tuple[float, float]]]:
        out: dict[float, dict[str, tuple[float, float]]] = {}
        for start, term, covered, value in self._query(sql, params):
            refuse_non_finite((covered, value), str(term), start)
            out.setdefault(float(start), {})[str(term)] = (float(covered), float(value))
        return out

    def site_intervals(self, start_s: float, end_s: float) -> list[SiteInterval]:
        rows = self._query(
            "SELECT * FROM site_interval WHERE start_s >= ? AND start_s < ? ORDER BY start_s",
            (start_s, end_s),
        )
        terms = self._terms(
            "SELECT start_s, term, covered_s, value FROM site_term_interval WHERE start_s >= ? AND start_s < ?",
            (start_s, end_s),
        )
        out = []
        for row in rows:
            refuse_non_finite(row, "site_interval", row[0])
            out.append(interval_from_row(row, terms.get(float(row[0]), {})))
        return out

    def device_energy(self, device: str, quantity: str, start_s: float, end_s: float) -> list[DeviceEnergyRow]:
        try:
            rows = self.raw_rows(device, start_s, end_s).energy
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        return [r for r in rows if r.quantity == quantity]

    def data_span(self) -> tuple[float, float] | None:
        row = self._query_one(
            "SELECT min(start_s), max(start_s + duration_s) FROM site_rollup WHERE resolution_s = ?", (86400,)
        )
        if row is None or row[0] is None:
            return None
        span = self._query_one("SELECT min(start_s), max(start_s + duration_s) FROM site_interval")
        lo = float(row[0])
        hi = float(row[1])
        if span is not None and span[0] is not None:
            lo, hi = min(lo, float(span[0])), max(hi, float(span[1]))
        return lo, hi

    def count(self, table: str) -> int:
        if table not in {
            "polls",
            "readings",
            "device_energy",
            "device_rollup",
            "site_interval",
            "site_rollup",
            "site_term_interval",
            "site_term_rollup",
        }:
            raise ValueError(table)
        row = self._query_one(f"SELECT count(*) FROM {table}")
        hot = int(row[0]) if row else 0
        if table == "readings":  # v4: the hot readings in their polls' rows
            hot += int(self._query_one(_POLL_READINGS_SQL)[0])  # type: ignore[index]
        if table in ("polls", "readings", "device_energy"):
            try:
                return hot + self._raw.counts(self._db)[table]
            except sqlite3.DatabaseError as err:
                raise translate(err, self.path) from err
        return hot

    def integrity_check(self) -> str:
        row = self._query_one("PRAGMA integrity_check")
        return str(row[0]) if row else "?"

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> SqliteHistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
