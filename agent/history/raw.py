"""Raw rows in SQLite: hot rows of the open hour, packed blocks (:mod:`agent.history.blocks`) for closed ones.

A poll is written to the hot tables (``polls``, ``readings``, ``device_energy``) in its own transaction.
When a device's first poll of a new UTC hour is written, the same transaction packs that device's hot rows
of earlier hours into one ``raw_block`` row per hour and deletes them from the hot tables: a kill -9
leaves either the hot rows or the block, never both, never neither. A closed UTC day's hour blocks are
merged into one day block (:meth:`RawRows.merge_days`). Reads merge the blocks with the hot rows (a hot row
wins over a packed one with the same key, as ``INSERT OR REPLACE`` would).

One module (over 400 lines): packing, merging, retention and the reads of the same blocks, which must agree
on how blocks cover time (the format itself: blocks.py).
"""

from __future__ import annotations

import sqlite3
import zlib
from collections import defaultdict
from collections.abc import Iterable
from functools import partial
from typing import Any

from agent.history.blocks import BLOCK_S, RawBlock, decode_block, encode_block, window_start
from agent.history.poll_data import decode_readings
from agent.history.records import DeviceEnergyRow, PollRow, ReadingRow

__all__ = ["RAW_SCHEMA", "RawRows"]

#: schema v3: names (devices, quantities, labels, error kinds, methods) and the packed blocks
RAW_SCHEMA = """
CREATE TABLE raw_name (id INTEGER PRIMARY KEY, name TEXT NOT NULL UNIQUE);
CREATE TABLE raw_block (
    device_id INTEGER NOT NULL, start_s INTEGER NOT NULL, span_s INTEGER NOT NULL,
    polls INTEGER NOT NULL, readings INTEGER NOT NULL, energies INTEGER NOT NULL, data BLOB NOT NULL,
    PRIMARY KEY (device_id, start_s));
"""

#: the longest block span a query must look back for [s]
_MAX_SPAN_S = 86400


class RawRows:
    """The raw rows of one database: packing, block-aware reads, retention. Methods run inside the caller's
    transaction (writes) or on its connection (reads)."""

    def __init__(self) -> None:
        self._ids: dict[str, int] = {}
        self._names: dict[int, str] = {}
        # device -> the earliest window that may hold hot rows (a cache; None: ask the database)
        self._hot_from: dict[str, int] = {}

    # --- names ---------------------------------------------------------------------------------------
    def name_id(self, db: sqlite3.Connection, name: str, create: bool = True) -> int | None:
        found = self._ids.get(name)
        if found is not None:
            return found
        row = db.execute("SELECT id FROM raw_name WHERE name = ?", (name,)).fetchone()
        if row is None:
            if not create:
                return None
            row = db.execute("INSERT INTO raw_name (name) VALUES (?) RETURNING id", (name,)).fetchone()
        # only cached once committed would be safer; ids of a rolled-back transaction are forgotten below
        self._ids[name] = int(row[0])
        self._names[int(row[0])] = name
        return int(row[0])

    def new_id(self, db: sqlite3.Connection, name: str) -> int:
        """The id of ``name``, created if it has none yet."""
        found = self._ids.get(name)
        if found is None:
            found = self.name_id(db, name)
            assert found is not None
        return found

    def name(self, db: sqlite3.Connection, ident: int) -> str:
        found = self._names.get(ident)
        if found is None:
            row = db.execute("SELECT name FROM raw_name WHERE id = ?", (ident,)).fetchone()
            if row is None:
                raise ValueError(f"raw block names id {ident}, which raw_name does not hold")
            found = self._names[ident] = str(row[0])
        return found

    def hot_polls(
        self, db: sqlite3.Connection, device: str, where: str, params: tuple[object, ...]
    ) -> tuple[list[PollRow], list[ReadingRow]]:
        """``device``'s hot polls where ``where`` (on ``ts_s``) holds, and their readings: those in the poll rows
        (v4) and those a v3 file left in the ``readings`` table."""
        polls: list[PollRow] = []
        readings = [
            ReadingRow(device, q, labels, ts, v)
            for q, labels, ts, v in db.execute(
                f"SELECT quantity, labels, ts_s, value FROM readings WHERE device = ? AND {where}", (device, *params)
            )
        ]
        name = partial(self.name, db)
        for ts, ok, dur, err, data in db.execute(
            f"SELECT ts_s, ok, duration_s, error_kind, data FROM polls WHERE device = ? AND {where}",
            (device, *params),
        ):
            polls.append(PollRow(device, ts, bool(ok), dur, err))
            if data is not None:
                readings += decode_readings(device, ts, bytes(data), name)
        return polls, readings

    def forget(self) -> None:
        """After a rollback: ids and hot windows cached during it may not exist."""
        self._ids.clear()
        self._names.clear()
        self._hot_from.clear()

    # --- writes ----------------------------------------------------------------------------------------
    def after_poll(self, db: sqlite3.Connection, device: str, timestamp_s: float) -> None:
        """Pack ``device``'s hot rows of windows before the one of ``timestamp_s`` (the poll just written)."""
        current = window_start(timestamp_s)
        hot_from = self._hot_from.get(device)
        if hot_from is None:
            oldest = _oldest_hot(db, device)
            hot_from = current if oldest is None else window_start(oldest)
        if hot_from < current:
            self.pack(db, device, current)
            if current % 86400 // BLOCK_S == zlib.crc32(device.encode()) % 24:
                self.merge_days(db, device, current)
        # packed, or nothing to pack; rows of a later window (the clock went back) are packed once it closes
        self._hot_from[device] = current

    def pack(self, db: sqlite3.Connection, device: str, before_s: float) -> int:
        """Move ``device``'s hot rows older than ``before_s`` into blocks; returns the rows moved."""
        polls, readings = self.hot_polls(db, device, "ts_s < ?", (before_s,))
        hot = RawBlock(
            polls,
            readings,
            [
                DeviceEnergyRow(device, q, ts, total, agent_total, method)
                for q, ts, total, agent_total, method in db.execute(
                    "SELECT quantity, ts_s, total_j, agent_total_j, method FROM device_energy "
                    "WHERE device = ? AND ts_s < ?",
                    (device, before_s),
                )
            ],
        )
        moved = sum(hot.counts)
        if not moved:
            return 0
        by_window: dict[int, RawBlock] = defaultdict(lambda: RawBlock([], [], []))
        for p in hot.polls:
            by_window[window_start(p.timestamp_s)].polls.append(p)
        for r in hot.readings:
            by_window[window_start(r.timestamp_s)].readings.append(r)
        for e in hot.energy:
            by_window[window_start(e.timestamp_s)].energy.append(e)
        device_id = self.name_id(db, device)
        for start, block in by_window.items():
            span = BLOCK_S
            stored = db.execute(
                "SELECT start_s, span_s, data FROM raw_block WHERE device_id = ? AND start_s <= ? "
                "ORDER BY start_s DESC LIMIT 1",
                (device_id, start),
            ).fetchone()
            if stored is not None and int(stored[0]) + int(stored[1]) > start:
                # a late row for a packed hour (or day): merged into its block, the hot row wins
                block = _merge(self.decode(db, device, bytes(stored[2])), block)
                start, span = int(stored[0]), int(stored[1])
            self.store_block(db, device, start, block, span)
        for table in ("polls", "readings", "device_energy"):
            db.execute(f"DELETE FROM {table} WHERE device = ? AND ts_s < ?", (device, before_s))
        return moved

    def merge_days(self, db: sqlite3.Connection, device: str, now_s: float, most: int = 2) -> int:
        """Merge the hour blocks of up to ``most`` closed UTC days of ``device`` into one block per day.

        A day packs about a quarter smaller than its 24 hours (zlib and the column headers over 1,440
        polls); each device merges at an hour of its own (a hash of its name), so a site's merges spread
        over the day instead of all running after midnight. Returns the days merged."""
        device_id = self.name_id(db, device)
        today = int(now_s) - int(now_s) % 86400
        days = [
            int(d)
            for (d,) in db.execute(
                "SELECT DISTINCT start_s - start_s % 86400 FROM raw_block WHERE device_id = ? AND start_s < ? "
                "AND span_s < 86400 ORDER BY 1 LIMIT ?",
                (device_id, today, most),
            )
        ]
        for day in days:
            merged = merge_hot(
                (
                    self.decode(db, device, bytes(data))
                    for (data,) in db.execute(
                        "SELECT data FROM raw_block WHERE device_id = ? AND start_s >= ? AND start_s < ? "
                        "ORDER BY start_s, span_s DESC",
                        (device_id, day, day + 86400),
                    ).fetchall()
                ),
                RawBlock([], [], []),
            )
            db.execute(
                "DELETE FROM raw_block WHERE device_id = ? AND start_s >= ? AND start_s < ?",
                (device_id, day, day + 86400),
            )
            self.store_block(db, device, day, merged, 86400)
        return len(days)

    def store_block(self, db: sqlite3.Connection, device: str, start_s: int, block: RawBlock, span_s: int) -> None:
        device_id = self.name_id(db, device)
        if not any(block.counts):
            db.execute("DELETE FROM raw_block WHERE device_id = ? AND start_s = ?", (device_id, start_s))
            return
        data = encode_block(block, lambda name: int(self.name_id(db, name) or 0))
        db.execute(
            "INSERT OR REPLACE INTO raw_block VALUES (?, ?, ?, ?, ?, ?, ?)",
            (device_id, start_s, span_s, *block.counts, data),
        )

    def pack_idle(self, db: sqlite3.Connection) -> int:
        """Pack the hot rows of devices that stopped polling (their last hour is closed by now)."""
        newest = db.execute("SELECT max(ts_s) FROM polls").fetchone()[0]
        if newest is None:
            return 0
        current = window_start(float(newest))
        idle = [
            str(device)
            for device, last in db.execute("SELECT device, max(ts_s) FROM polls GROUP BY device").fetchall()
            if window_start(float(last)) < current
        ]
        moved = 0
        for device in idle:
            moved += self.pack(db, device, current)
            self._hot_from.pop(device, None)
        return moved

    def pack_all(self, db: sqlite3.Connection) -> int:
        """Pack every device's closed hours (a migration from schema v2)."""
        devices = [
            str(d)
            for (d,) in db.execute(
                "SELECT device FROM polls UNION SELECT device FROM readings UNION SELECT device FROM device_energy"
            ).fetchall()
        ]
        moved = 0
        for device in devices:
            newest = _newest_hot(db, device)
            if newest is not None:
                moved += self.pack(db, device, window_start(newest))
        return moved

    def purge(self, db: sqlite3.Connection, before_s: float) -> int:
        """Blocks wholly older than ``before_s`` deleted (retention is applied per block: a block straddling
        ``before_s`` is kept whole until its hour has passed); the newest energy row of each device quantity
        is kept (moved to the hot table) so that energy stays monotonic. Returns the rows deleted."""
        deleted = 0
        doomed: dict[int, list[tuple[int, bytes, int]]] = defaultdict(list)
        for device_id, start, data, count in db.execute(
            "SELECT device_id, start_s, data, polls + readings + energies FROM raw_block "
            "WHERE start_s + span_s <= ? ORDER BY device_id, start_s",
            (before_s,),
        ).fetchall():
            doomed[int(device_id)].append((int(start), bytes(data), int(count)))
        for device_id, blocks in doomed.items():
            device = self.name(db, device_id)
            kept = self._newest_energy(db, device, blocks, before_s)
            db.execute("DELETE FROM raw_block WHERE device_id = ? AND start_s + span_s <= ?", (device_id, before_s))
            deleted += sum(count for _s, _d, count in blocks) - len(kept)
            db.executemany(
                "INSERT OR REPLACE INTO device_energy VALUES (?, ?, ?, ?, ?, ?)",
                [(e.device, e.quantity, e.timestamp_s, e.total_j, e.agent_total_j, e.method) for e in kept],
            )
            if kept:
                self._hot_from.pop(device, None)
        return deleted

    def _newest_energy(
        self, db: sqlite3.Connection, device: str, blocks: list[tuple[int, bytes, int]], before_s: float
    ) -> list[DeviceEnergyRow]:
        """The newest energy row of each quantity in the doomed ``blocks`` that has no row left after them."""
        newest: dict[str, DeviceEnergyRow] = {}
        for _start, data, _count in reversed(blocks):
            for e in self.decode(db, device, data).energy:
                if e.quantity not in newest or e.timestamp_s > newest[e.quantity].timestamp_s:
                    newest[e.quantity] = e
            if newest:
                break
        left = {
            str(q) for (q,) in db.execute("SELECT DISTINCT quantity FROM device_energy WHERE device = ?", (device,))
        }
        device_id = self.name_id(db, device)
        for (data,) in db.execute(
            "SELECT data FROM raw_block WHERE device_id = ? AND start_s + span_s > ? ORDER BY start_s DESC LIMIT 1",
            (device_id, before_s),
        ):
            left |= {e.quantity for e in self.decode(db, device, bytes(data)).energy}
        return [e for q, e in newest.items() if q not in left]

    # --- reads -----------------------------------------------------------------------------------------
    def decode(self, db: sqlite3.Connection, device: str, data: bytes) -> RawBlock:
        return decode_block(device, data, lambda ident: self.name(db, ident))

    def blocks(self, db: sqlite3.Connection, device: str, start_s: float, end_s: float) -> Iterable[RawBlock]:
        """Decoded blocks of ``device`` that may hold rows in ``[start_s, end_s)``, oldest first."""
        device_id = self.name_id(db, device, create=False)
        if device_id is None:
            return
        for (data,) in db.execute(
            "SELECT data FROM raw_block WHERE device_id = ? AND start_s < ? AND start_s > ? "
            "AND start_s + span_s > ? ORDER BY start_s",
            (device_id, end_s, start_s - _MAX_SPAN_S, start_s),
        ).fetchall():
            yield self.decode(db, device, bytes(data))

    def newest_block_energy(
        self, db: sqlite3.Connection, device: str, quantity: str, after_s: float | None
    ) -> DeviceEnergyRow | None:
        """The newest packed energy row of ``device``'s ``quantity`` (in blocks ending after ``after_s``)."""
        device_id = self.name_id(db, device, create=False)
        if device_id is None:
            return None
        cursor = db.execute(
            "SELECT data FROM raw_block WHERE device_id = ? AND energies > 0 AND start_s + span_s > ? "
            "ORDER BY start_s DESC",
            (device_id, -1e300 if after_s is None else after_s),
        )
        for (data,) in cursor:
            rows = [e for e in self.decode(db, device, bytes(data)).energy if e.quantity == quantity]
            if rows:
                return max(rows, key=lambda e: e.timestamp_s)
        return None

    def counts(self, db: sqlite3.Connection) -> dict[str, int]:
        row = db.execute("SELECT sum(polls), sum(readings), sum(energies) FROM raw_block").fetchone()
        return {
            "polls": int(row[0] or 0),
            "readings": int(row[1] or 0),
            "device_energy": int(row[2] or 0),
        }


class RawReads:
    """The raw-row reads of :class:`agent.history.store.SqliteHistoryStore` (packed and hot rows merged).

    Extras beside :class:`~agent.history.records.HistoryStore` (a PostgreSQL store need not have them)."""

    _db: sqlite3.Connection
    _raw: RawRows

    def raw_rows(self, device: str, start_s: float, end_s: float) -> RawBlock:
        """Every raw row of ``device`` in ``[start_s, end_s)``, packed or hot, each list sorted by time."""
        polls, readings = self._raw.hot_polls(self._db, device, "ts_s >= ? AND ts_s < ?", (start_s, end_s))
        hot = RawBlock(
            polls,
            readings,
            [
                DeviceEnergyRow(*r)
                for r in _query(
                    self._db,
                    "SELECT device, quantity, ts_s, total_j, agent_total_j, method FROM device_energy "
                    "WHERE device = ? AND ts_s >= ? AND ts_s < ?",
                    (device, start_s, end_s),
                )
            ],
        )
        merged = merge_hot(self._raw.blocks(self._db, device, start_s, end_s), hot)
        return RawBlock(
            sorted((p for p in merged.polls if start_s <= p.timestamp_s < end_s), key=lambda p: p.timestamp_s),
            sorted(
                (r for r in merged.readings if start_s <= r.timestamp_s < end_s),
                key=lambda r: (r.timestamp_s, r.quantity, r.labels),
            ),
            sorted(
                (e for e in merged.energy if start_s <= e.timestamp_s < end_s),
                key=lambda e: (e.timestamp_s, e.quantity),
            ),
        )

    def raw_devices(self) -> list[str]:
        """The devices with raw rows (packed or hot), sorted."""
        rows = _query(
            self._db,
            "SELECT name FROM raw_name WHERE id IN (SELECT DISTINCT device_id FROM raw_block) "
            "UNION SELECT device FROM polls UNION SELECT device FROM readings UNION SELECT device FROM device_energy",
        )
        return sorted(str(r[0]) for r in rows)

    def poll_counts(self, start_s: float, end_s: float, ok_only: bool = False) -> dict[str, int]:
        """Polls stored per device in ``[start_s, end_s)`` (only those that answered with ``ok_only``)."""
        out: dict[str, int] = {}
        for device in self.raw_devices():
            polls = [p for p in self.raw_rows(device, start_s, end_s).polls if p.ok or not ok_only]
            if polls:
                out[device] = len(polls)
        return out


def _query(db: sqlite3.Connection, sql: str, params: tuple[object, ...] = ()) -> list[tuple[Any, ...]]:
    return list(db.execute(sql, params).fetchall())


def _merge(old: RawBlock, new: RawBlock) -> RawBlock:
    polls = {p.timestamp_s: p for p in old.polls} | {p.timestamp_s: p for p in new.polls}
    readings = {(r.quantity, r.labels, r.timestamp_s): r for r in old.readings} | {
        (r.quantity, r.labels, r.timestamp_s): r for r in new.readings
    }
    energy = {(e.quantity, e.timestamp_s): e for e in old.energy} | {(e.quantity, e.timestamp_s): e for e in new.energy}
    return RawBlock(list(polls.values()), list(readings.values()), list(energy.values()))


def merge_hot(packed: Iterable[RawBlock], hot: RawBlock) -> RawBlock:
    """Packed blocks and hot rows as one block (hot wins on the same key)."""
    out = RawBlock([], [], [])
    for block in packed:
        out = _merge(out, block)
    return _merge(out, hot)


def _oldest_hot(db: sqlite3.Connection, device: str) -> float | None:
    values = [
        db.execute(f"SELECT min(ts_s) FROM {table} WHERE device = ?", (device,)).fetchone()[0]
        for table in ("polls", "readings", "device_energy")
    ]
    found = [float(v) for v in values if v is not None]
    return min(found) if found else None


def _newest_hot(db: sqlite3.Connection, device: str) -> float | None:
    values = [
        db.execute(f"SELECT max(ts_s) FROM {table} WHERE device = ?", (device,)).fetchone()[0]
        for table in ("polls", "readings", "device_energy")
    ]
    found = [float(v) for v in values if v is not None]
    return max(found) if found else None
