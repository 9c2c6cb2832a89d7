"""The history store: a narrow :class:`HistoryStore` protocol and its SQLite implementation.

One SQLite file in WAL mode. ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS`
brings any older file forward at open (forward only). Each write is one small transaction, so a
kill -9 loses at most the write in flight.

Tables
------
``polls``           one row per device poll (ok, duration, error kind)           raw, purged
``readings``        every canonical reading at poll resolution                   raw, purged
``device_energy``   the monotonic energy per device and quantity [J], method     raw, purged
``device_rollup``   per-device energy per hour and per day [J]                   kept
``site_interval``   site intervals at tick resolution: energies, complete flag   raw, purged
``site_rollup``     site energies per 1 min, 15 min, 1 h, 1 d, with covered time kept
``site_term_interval`` / ``site_term_rollup``  optional boundaries (renewable, reused heat, water,
                    zones), one row per term, each with its own covered time        raw, purged / kept

Stored site intervals never overlap: a trigger refuses an insert that would (two agents writing one
file would otherwise count the site twice), and the agent holds a writer lock on the file
(:mod:`agent.history.lock`).

Site intervals and rollups keep energy over the *covered* time only (every facility and IT
contributor fresh) and the covered time itself, so coverage and gaps can be computed for any
period. Condition columns (outdoor temperatures, setpoints) are stored as time-weighted sums
over the time they were known.
"""

from __future__ import annotations

import bisect
import itertools
import logging
import math
import os
import sqlite3
import stat
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any, Protocol

from agent.errors import HistoryBusyError, HistoryOverlapError, HistoryQueryError, HistoryStoreError
from agent.history.lock import WriterLock

__all__ = [
    "CONDITION_COLUMNS",
    "MIGRATIONS",
    "RESOLUTIONS_S",
    "SCHEMA_VERSION",
    "DeviceEnergyRow",
    "HistoryStore",
    "ReadingRow",
    "SiteInterval",
    "SiteRollup",
    "SqliteHistoryStore",
]

#: rollup resolutions [s]: 1 min, 15 min, 1 h, 1 d (UTC-aligned buckets)
RESOLUTIONS_S: tuple[int, ...] = (60, 900, 3600, 86400)

#: interval-mean conditions carried along with the energies (names as in the canonical CSV)
CONDITION_COLUMNS: tuple[str, ...] = (
    "outdoor_dry_bulb_c",
    "outdoor_wet_bulb_c",
    "outdoor_rh_percent",
    "supply_air_setpoint_c",
    "chw_supply_setpoint_c",
    "economizer_enabled",
)


@dataclass(frozen=True, slots=True)
class ReadingRow:
    device: str
    quantity: str
    labels: str
    timestamp_s: float
    value: float


@dataclass(frozen=True, slots=True)
class DeviceEnergyRow:
    """Monotonic energy of one device quantity at one poll; ``agent_total_j`` is the agent's own total."""

    device: str
    quantity: str
    timestamp_s: float
    total_j: float
    agent_total_j: float
    method: str


@dataclass(frozen=True)
class SiteInterval:
    """One site interval. Energies [J] over ``covered_s``; conditions are interval means or None."""

    start_s: float
    duration_s: float
    covered_s: float
    facility_j: float
    it_j: float
    cooling_covered_s: float
    cooling_j: float
    method: str
    it_category: int | None = None
    source: str = "agent"
    conditions: dict[str, float] = field(default_factory=dict)
    max_inlet_c: float | None = None
    #: optional boundaries: name -> (covered time [s], amount over it [J or m3]); see ``site_term_interval``
    terms: dict[str, tuple[float, float]] = field(default_factory=dict)


@dataclass(frozen=True)
class SiteRollup:
    """One rollup bucket; ``conditions`` are means over the time each was known."""

    start_s: int
    resolution_s: int
    duration_s: float
    covered_s: float
    facility_j: float
    it_j: float
    cooling_covered_s: float
    cooling_j: float
    methods: frozenset[str]
    it_categories: frozenset[int]
    sources: frozenset[str]
    conditions: dict[str, float]
    max_inlet_c: float | None
    terms: dict[str, tuple[float, float]] = field(default_factory=dict)


class HistoryStore(Protocol):
    """What the writer, exporter, importer and reports need from a store (SQLite today)."""

    def record_poll(
        self,
        device: str,
        timestamp_s: float,
        ok: bool,
        duration_s: float,
        error_kind: str | None,
        readings: Sequence[ReadingRow],
        energy: Sequence[DeviceEnergyRow],
    ) -> None: ...

    def last_device_energy(self, device: str, quantity: str) -> DeviceEnergyRow | None: ...

    def record_site_interval(self, interval: SiteInterval) -> None: ...

    def import_site_intervals(self, intervals: Iterable[SiteInterval]) -> int: ...

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]: ...

    def site_intervals(self, start_s: float, end_s: float) -> list[SiteInterval]: ...

    def device_energy(
        self, device: str, quantity: str, start_s: float, end_s: float
    ) -> list[DeviceEnergyRow]: ...

    def data_span(self) -> tuple[float, float] | None: ...

    def purge_raw(self, before_s: float) -> int: ...

    def close(self) -> None: ...


log = logging.getLogger(__name__)

_SCHEMA_V1 = """
CREATE TABLE polls (
    device TEXT NOT NULL, ts_s REAL NOT NULL, ok INTEGER NOT NULL, duration_s REAL NOT NULL,
    error_kind TEXT, PRIMARY KEY (device, ts_s)) WITHOUT ROWID;
CREATE TABLE readings (
    device TEXT NOT NULL, quantity TEXT NOT NULL, labels TEXT NOT NULL, ts_s REAL NOT NULL,
    value REAL NOT NULL, PRIMARY KEY (device, quantity, labels, ts_s)) WITHOUT ROWID;
CREATE TABLE device_energy (
    device TEXT NOT NULL, quantity TEXT NOT NULL, ts_s REAL NOT NULL, total_j REAL NOT NULL,
    agent_total_j REAL NOT NULL, method TEXT NOT NULL CHECK (method IN ('counter', 'integrated')),
    PRIMARY KEY (device, quantity, ts_s)) WITHOUT ROWID;
CREATE TABLE device_rollup (
    device TEXT NOT NULL, quantity TEXT NOT NULL, resolution_s INTEGER NOT NULL, start_s INTEGER NOT NULL,
    energy_j REAL NOT NULL, PRIMARY KEY (device, quantity, resolution_s, start_s)) WITHOUT ROWID;
CREATE TABLE site_interval (
    start_s REAL PRIMARY KEY, duration_s REAL NOT NULL, covered_s REAL NOT NULL,
    facility_j REAL NOT NULL, it_j REAL NOT NULL, cooling_covered_s REAL NOT NULL, cooling_j REAL NOT NULL,
    method TEXT NOT NULL, it_category INTEGER, source TEXT NOT NULL,
    outdoor_dry_bulb_c REAL, outdoor_wet_bulb_c REAL, outdoor_rh_percent REAL,
    supply_air_setpoint_c REAL, chw_supply_setpoint_c REAL, economizer_enabled REAL, max_inlet_c REAL);
CREATE TABLE site_rollup (
    resolution_s INTEGER NOT NULL, start_s INTEGER NOT NULL, duration_s REAL NOT NULL,
    covered_s REAL NOT NULL, facility_j REAL NOT NULL, it_j REAL NOT NULL,
    cooling_covered_s REAL NOT NULL, cooling_j REAL NOT NULL,
    methods INTEGER NOT NULL, it_categories INTEGER NOT NULL, sources INTEGER NOT NULL,
    cond_s_outdoor_dry_bulb_c REAL NOT NULL DEFAULT 0, cond_outdoor_dry_bulb_c REAL NOT NULL DEFAULT 0,
    cond_s_outdoor_wet_bulb_c REAL NOT NULL DEFAULT 0, cond_outdoor_wet_bulb_c REAL NOT NULL DEFAULT 0,
    cond_s_outdoor_rh_percent REAL NOT NULL DEFAULT 0, cond_outdoor_rh_percent REAL NOT NULL DEFAULT 0,
    cond_s_supply_air_setpoint_c REAL NOT NULL DEFAULT 0, cond_supply_air_setpoint_c REAL NOT NULL DEFAULT 0,
    cond_s_chw_supply_setpoint_c REAL NOT NULL DEFAULT 0, cond_chw_supply_setpoint_c REAL NOT NULL DEFAULT 0,
    cond_s_economizer_enabled REAL NOT NULL DEFAULT 0, cond_economizer_enabled REAL NOT NULL DEFAULT 0,
    max_inlet_c REAL,
    PRIMARY KEY (resolution_s, start_s)) WITHOUT ROWID;
CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL);
"""

# v2: optional boundaries of the topology (renewable, reuse, water, zones), one row per term:
# ``renewable_j``, ``reused_heat_j``, ``water_m3`` (over the facility/IT covered time) and
# ``zone:<name>:it_j`` / ``zone:<name>:overhead_j``, each with the time it was complete
_SCHEMA_V2 = """
CREATE TABLE site_term_interval (
    start_s REAL NOT NULL, term TEXT NOT NULL, covered_s REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (start_s, term)) WITHOUT ROWID;
CREATE TABLE site_term_rollup (
    resolution_s INTEGER NOT NULL, start_s INTEGER NOT NULL, term TEXT NOT NULL,
    covered_s REAL NOT NULL, value REAL NOT NULL,
    PRIMARY KEY (resolution_s, start_s, term)) WITHOUT ROWID;
"""

#: forward migrations: MIGRATIONS[i] takes a file from user_version i to i + 1
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2)
SCHEMA_VERSION = len(MIGRATIONS)

#: longest interval accepted from an import [s]; bounds the overlap search
_MAX_INTERVAL_S = 31 * 86400.0
#: site intervals may touch (one ends where the next starts) but not overlap by more than this [s]
_OVERLAP_TOLERANCE_S = 1e-6
_NO_OVERLAP_TRIGGER = "site_interval_no_overlap"
#: intervals an import validates and writes at a time (bounds its memory, not its transaction)
_IMPORT_BATCH = 2000

_ROLLUP_UPSERT = (
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

_METHOD_BITS = {"counter": 1, "integrated": 2, "imported": 4}
_SOURCE_BITS = {"agent": 1, "import": 2}


def _bits(names: Iterable[str], table: dict[str, int]) -> int:
    out = 0
    for name in names:
        for part in name.split("+"):
            out |= table.get(part, 0)
    return out


def _unbits(value: int, table: dict[str, int]) -> frozenset[str]:
    return frozenset(name for name, bit in table.items() if value & bit)


def _category_bits(category: int | None) -> int:
    return 0 if category is None else 1 << int(category)


class SqliteHistoryStore:
    """:class:`HistoryStore` in one SQLite file (WAL).

    Parameters
    ----------
    path : the database file; created (with its directory) unless ``readonly``
    readonly : open for reading only (export, report); the file must exist. On read-only media (a
        read-only mount, a directory this user may not write) it is read as immutable
    durable : ``synchronous=FULL`` (each commit survives power loss) instead of NORMAL (survives
        a killed process, may lose the last commits on power loss)
    exclusive : the agent's writer: hold the database's writer lock (:mod:`agent.history.lock`) until
        :meth:`close`, so that a second agent is refused

    Raises
    ------
    HistoryStoreError
        the file cannot be opened, is read-only when writing is needed, is not a history
        database, or was written by a newer pue-agent.
    HistoryLockedError
        ``exclusive`` and another agent already writes the database.
    """

    def __init__(self, path: str | Path, *, readonly: bool = False, durable: bool = False,
                 exclusive: bool = False) -> None:
        self.path = Path(path)
        self.readonly = readonly
        self._lock: WriterLock | None = None
        try:
            self._open(readonly, durable, exclusive)
        except BaseException:
            if self._lock is not None:
                self._lock.release()
            raise

    def _open(self, readonly: bool, durable: bool, exclusive: bool) -> None:
        where = str(self.path)
        if readonly:
            if not self.path.is_file():
                raise HistoryStoreError(f"history database {where}: no such file")
        else:
            if self.path.exists() and not _writable(self.path):
                raise HistoryStoreError(
                    f"history database {where} is read-only (file permissions): cannot write to it; "
                    "make it writable or point --db / history.path elsewhere"
                )
            try:
                self.path.parent.mkdir(parents=True, exist_ok=True)
            except OSError as err:
                raise HistoryStoreError(
                    f"history database {where}: cannot create its directory: {err.strerror or err}"
                ) from err
            if exclusive:
                self._lock = WriterLock.acquire(self.path)
        try:
            if readonly:
                self._db = self._connect_readonly()
            else:
                self._db = sqlite3.connect(where, isolation_level=None, check_same_thread=False)
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
            self._db.execute("PRAGMA busy_timeout=5000")
            version = int(self._db.execute("PRAGMA user_version").fetchone()[0])
        except sqlite3.DatabaseError as err:
            raise HistoryStoreError(f"history database {where}: cannot open: {err}") from err
        if version > SCHEMA_VERSION:
            self._db.close()
            raise HistoryStoreError(
                f"history database {where} has schema version {version}; this pue-agent "
                f"knows up to {SCHEMA_VERSION}: upgrade pue-agent"
            )
        if version < SCHEMA_VERSION:
            if readonly:
                if version == 0:
                    self._db.close()
                    raise HistoryStoreError(f"history database {where}: not a pue-agent history database")
                self._db.close()
                raise HistoryStoreError(
                    f"history database {where} has schema version {version}; open it "
                    "writable once to migrate it"
                )
            self._migrate(version)
        if not readonly:
            self._ensure_no_overlap()

    def _connect_readonly(self) -> sqlite3.Connection:
        """A read-only connection; on read-only media (a read-only mount, a directory we may not write)
        one that reads the file as immutable, since SQLite cannot create the WAL index (``-shm``) there.

        Immutable reading ignores a ``-wal`` file, so it is used only when there is none with content:
        otherwise the newest writes would be silently missing (or an agent is still writing the file).
        """
        uri = self.path.resolve().as_uri()
        db = sqlite3.connect(f"{uri}?mode=ro", uri=True, isolation_level=None, check_same_thread=False)
        try:
            db.execute("PRAGMA user_version").fetchone()  # SQLite opens the file (and its -shm) lazily
            return db
        except sqlite3.OperationalError as err:
            db.close()
            if err.sqlite_errorcode & 0xFF != sqlite3.SQLITE_CANTOPEN or self._on_writable_media():
                raise
        wal = self.path.with_name(self.path.name + "-wal")
        if wal.exists() and wal.stat().st_size > 0:
            raise HistoryStoreError(
                f"history database {self.path} is on read-only media and {wal.name} holds writes not yet in the "
                "file (an agent still writing it, or a copy taken while it ran): copy the database with its -wal "
                "file to a writable directory and read it there"
            )
        log.info("history database %s is on read-only media: reading it as immutable", self.path)
        return sqlite3.connect(f"{uri}?mode=ro&immutable=1", uri=True, isolation_level=None, check_same_thread=False)

    def _on_writable_media(self) -> bool:
        return os.access(self.path.parent, os.W_OK) and os.access(self.path, os.W_OK)

    def _ensure_no_overlap(self) -> None:
        """The trigger that refuses a site interval overlapping a stored one, whoever inserts it.

        Created at each writable open when missing (files from before it get it too); stored intervals
        are disjoint, so the one starting last before the new interval's end is the only one to check.
        """
        try:
            if self._db.execute("SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?",
                                (_NO_OVERLAP_TRIGGER,)).fetchone() is None:
                self._db.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {_NO_OVERLAP_TRIGGER} BEFORE INSERT ON site_interval "
                    "WHEN (SELECT s.start_s + s.duration_s FROM site_interval s "
                    "      WHERE s.start_s < NEW.start_s + NEW.duration_s ORDER BY s.start_s DESC LIMIT 1)"
                    f"     > NEW.start_s + {_OVERLAP_TOLERANCE_S} "
                    "BEGIN SELECT RAISE(ABORT, 'site interval overlaps a stored one'); END"
                )
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err

    def _migrate(self, version: int) -> None:
        try:
            for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self._transaction():
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                    self._db.execute(f"PRAGMA user_version={target}")
        except sqlite3.DatabaseError as err:
            raise HistoryStoreError(
                f"history database {self.path}: cannot create/migrate the schema: {err}"
            ) from err

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self.readonly:
            raise HistoryStoreError(f"history database {self.path} was opened read-only")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err
        try:
            yield self._db
        except BaseException as err:
            self._rollback()
            if isinstance(err, sqlite3.DatabaseError):
                raise _translate(err, self.path) from err
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            self._rollback()
            raise _translate(err, self.path) from err

    def _rollback(self) -> None:
        # SQLite rolls back by itself on SQLITE_FULL and friends; a second ROLLBACK would then fail
        # with "no transaction is active" and hide the real error
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # --- writes ------------------------------------------------------------------------------
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
                db.execute(
                    "INSERT OR REPLACE INTO polls VALUES (?, ?, ?, ?, ?)",
                    (device, timestamp_s, int(ok), duration_s, error_kind),
                )
                db.executemany(
                    "INSERT OR REPLACE INTO readings VALUES (?, ?, ?, ?, ?)",
                    [(r.device, r.quantity, r.labels, r.timestamp_s, r.value) for r in readings],
                )
                for row in energy:
                    previous = db.execute(
                        "SELECT ts_s, total_j FROM device_energy WHERE device = ? AND quantity = ? "
                        "ORDER BY ts_s DESC LIMIT 1",
                        (row.device, row.quantity),
                    ).fetchone()
                    db.execute(
                        "INSERT OR REPLACE INTO device_energy VALUES (?, ?, ?, ?, ?, ?)",
                        (
                            row.device,
                            row.quantity,
                            row.timestamp_s,
                            row.total_j,
                            row.agent_total_j,
                            row.method,
                        ),
                    )
                    if previous is not None and row.timestamp_s > previous[0] and row.total_j >= previous[1]:
                        self._device_rollup(db, row, previous[0], row.total_j - previous[1])
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err

    def _device_rollup(
        self, db: sqlite3.Connection, row: DeviceEnergyRow, since_s: float, energy_j: float
    ) -> None:
        for resolution, start, share in _split(since_s, row.timestamp_s, (3600, 86400)):
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
        return None if row is None else DeviceEnergyRow(*row)

    def record_site_interval(self, interval: SiteInterval) -> None:
        """One site interval and its rollups at every resolution: one transaction."""
        try:
            with self._transaction() as db:
                try:
                    self._insert_interval(db, interval)
                except sqlite3.IntegrityError as err:  # the overlap trigger, or the same start twice
                    raise HistoryQueryError(
                        f"site interval at {_iso(interval.start_s)} ({interval.duration_s:g} s) overlaps one "
                        f"already stored (is another agent writing {self.path}?)"
                    ) from err
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err

    def import_site_intervals(self, intervals: Iterable[SiteInterval]) -> int:
        """Insert many intervals in a single transaction: all or nothing, in bounded memory.

        ``intervals`` is consumed lazily in batches of :data:`_IMPORT_BATCH`; an exception raised
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
                for batch in _batches(intervals, _IMPORT_BATCH):
                    self._check_overlap(db, batch)
                    self._insert_intervals(db, batch)
                    count += len(batch)
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err
        return count

    def _check_overlap(self, db: sqlite3.Connection, batch: Sequence[SiteInterval]) -> None:
        """Refuse a batch (sorted by start) that overlaps itself or the stored intervals."""
        for before, after in itertools.pairwise(batch):
            if after.start_s < before.start_s + before.duration_s - 1e-6:
                raise HistoryOverlapError(
                    f"interval starting {_iso(after.start_s)} overlaps the one imported at {_iso(before.start_s)}",
                    after.start_s,
                )
        first_s = batch[0].start_s
        end_s = max(iv.start_s + iv.duration_s for iv in batch)
        # stored intervals never overlap each other: only the last one starting before the batch can reach into it
        stored = db.execute(
            "SELECT start_s, duration_s FROM site_interval WHERE start_s < ? AND start_s > ? "
            "ORDER BY start_s DESC LIMIT 1",
            (first_s, first_s - _MAX_INTERVAL_S),
        ).fetchall()
        starts = [iv.start_s for iv in batch]
        for stored_s, stored_duration_s in itertools.chain(
            stored, db.execute("SELECT start_s, duration_s FROM site_interval WHERE start_s >= ? AND start_s < ? "
                               "ORDER BY start_s", (first_s, end_s))
        ):
            i = max(bisect.bisect_right(starts, stored_s) - 1, 0)
            for iv in batch[i : i + 2]:
                if stored_s < iv.start_s + iv.duration_s and stored_s + stored_duration_s > iv.start_s + 1e-6:
                    raise HistoryOverlapError(
                        f"interval starting {_iso(iv.start_s)} overlaps stored data at {_iso(stored_s)}", iv.start_s
                    )

    def _insert_interval(self, db: sqlite3.Connection, iv: SiteInterval) -> None:
        self._insert_intervals(db, [iv])

    def _insert_intervals(self, db: sqlite3.Connection, intervals: Sequence[SiteInterval]) -> None:
        """Intervals, their terms and their rollups at every resolution (summed per bucket first)."""
        rows = [_interval_row(iv) for iv in intervals]
        db.executemany(
            "INSERT INTO site_interval VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?, ?)", rows
        )
        db.executemany(
            "INSERT INTO site_term_interval VALUES (?, ?, ?, ?)",
            [(iv.start_s, term, covered, value) for iv in intervals for term, (covered, value) in iv.terms.items()],
        )
        n = len(CONDITION_COLUMNS)
        buckets: dict[tuple[int, int], list[Any]] = {}
        term_buckets: dict[tuple[int, int, str], list[float]] = {}
        for iv, row in zip(intervals, rows, strict=True):
            methods = _bits([iv.method], _METHOD_BITS)
            sources = _bits([iv.source], _SOURCE_BITS)
            categories = _category_bits(iv.it_category)
            conditions: list[float | None] = list(row[10 : 10 + n])
            max_inlet_c: float | None = row[-1]
            # sums over the whole interval; a bucket holding part of it gets its share
            whole = [iv.duration_s, iv.covered_s, iv.facility_j, iv.it_j, iv.cooling_covered_s, iv.cooling_j]
            for value in conditions:
                whole += (0.0, 0.0) if value is None else (iv.duration_s, value * iv.duration_s)
            end_s = iv.start_s + iv.duration_s
            # an imported coarse interval is never spread over finer buckets: that would invent detail
            resolutions = [r for r in RESOLUTIONS_S if iv.source == "agent" or r >= iv.duration_s - 1e-9]
            for resolution, start, share in _split(iv.start_s, end_s, resolutions):
                sums = whole if share == 1.0 else _share(iv, conditions, share)
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
        db.executemany(
            _ROLLUP_UPSERT,
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

    def purge_raw(self, before_s: float) -> int:
        """Delete poll-resolution rows older than ``before_s``; rollups are kept. Returns rows deleted.

        The newest device_energy row of each device quantity is kept so energy stays monotonic.
        """
        deleted = 0
        try:
            with self._transaction() as db:
                for table in ("polls", "readings"):
                    deleted += db.execute(f"DELETE FROM {table} WHERE ts_s < ?", (before_s,)).rowcount
                deleted += db.execute(
                    "DELETE FROM device_energy WHERE ts_s < ? AND ts_s < "
                    "(SELECT max(e2.ts_s) FROM device_energy e2 "
                    "WHERE e2.device = device_energy.device AND e2.quantity = device_energy.quantity)",
                    (before_s,),
                ).rowcount
                deleted += db.execute(
                    "DELETE FROM site_term_interval WHERE start_s < ? AND start_s IN "
                    "(SELECT start_s FROM site_interval WHERE start_s < ? AND source = 'agent')",
                    (before_s, before_s),
                ).rowcount
                deleted += db.execute(
                    "DELETE FROM site_interval WHERE start_s < ? AND source = 'agent'", (before_s,)
                ).rowcount
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err
        return deleted

    # --- reads -------------------------------------------------------------------------------
    def _query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            return list(self._db.execute(sql, params).fetchall())
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err

    def _query_one(self, sql: str, params: Sequence[object] = ()) -> tuple[Any, ...] | None:
        rows = self._query(sql, params)
        return rows[0] if rows else None

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]:
        if resolution_s not in RESOLUTIONS_S:
            raise HistoryQueryError(f"resolution {resolution_s} s is not stored (stored: {RESOLUTIONS_S})")
        rows = self._query(
            "SELECT * FROM site_rollup WHERE resolution_s = ? AND start_s >= ? AND start_s < ? "
            "ORDER BY start_s",
            (resolution_s, start_s, end_s),
        )
        terms = self._terms(
            "SELECT start_s, term, covered_s, value FROM site_term_rollup WHERE resolution_s = ? "
            "AND start_s >= ? AND start_s < ?",
            (resolution_s, start_s, end_s),
        )
        out = []
        n = len(CONDITION_COLUMNS)
        for row in rows:
            _refuse_non_finite(row, "site_rollup", row[1])
            (res, start, duration, covered, fac, it, cool_cov, cool, methods, cats, sources) = row[:11]
            cond_raw = row[11 : 11 + 2 * n]
            conditions = {
                c: float(cond_raw[2 * i + 1]) / float(cond_raw[2 * i])
                for i, c in enumerate(CONDITION_COLUMNS)
                if float(cond_raw[2 * i]) > 0
            }
            out.append(
                SiteRollup(
                    int(start),
                    int(res),
                    float(duration),
                    float(covered),
                    float(fac),
                    float(it),
                    float(cool_cov),
                    float(cool),
                    _unbits(int(methods), _METHOD_BITS),
                    frozenset(k for k in (0, 1, 2, 3) if int(cats) & (1 << k)),
                    _unbits(int(sources), _SOURCE_BITS),
                    conditions,
                    None if row[-1] is None else float(row[-1]),
                    terms.get(float(start), {}),
                )
            )
        return out

    def _terms(self, sql: str, params: Sequence[object]) -> dict[float, dict[str, tuple[float, float]]]:
        out: dict[float, dict[str, tuple[float, float]]] = {}
        for start, term, covered, value in self._query(sql, params):
            _refuse_non_finite((covered, value), str(term), start)
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
            _refuse_non_finite(row, "site_interval", row[0])
            cond = {c: float(v) for c, v in zip(CONDITION_COLUMNS, row[10:16], strict=True) if v is not None}
            out.append(
                SiteInterval(
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
                    cond,
                    None if row[16] is None else float(row[16]),
                    terms.get(float(row[0]), {}),
                )
            )
        return out

    def device_energy(
        self, device: str, quantity: str, start_s: float, end_s: float
    ) -> list[DeviceEnergyRow]:
        rows = self._query(
            "SELECT device, quantity, ts_s, total_j, agent_total_j, method FROM device_energy "
            "WHERE device = ? AND quantity = ? AND ts_s >= ? AND ts_s < ? ORDER BY ts_s",
            (device, quantity, start_s, end_s),
        )
        return [DeviceEnergyRow(*r) for r in rows]

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
        return int(row[0]) if row else 0

    def integrity_check(self) -> str:
        row = self._query_one("PRAGMA integrity_check")
        return str(row[0]) if row else "?"

    def close(self) -> None:
        try:
            self._db.close()
        except sqlite3.DatabaseError as err:
            raise _translate(err, self.path) from err
        finally:
            if self._lock is not None:
                self._lock.release()

    def __enter__(self) -> SqliteHistoryStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()


def _batches(items: Iterable[SiteInterval], size: int) -> Iterator[list[SiteInterval]]:
    """Consecutive batches of at most ``size`` intervals, each sorted by start."""
    iterator = iter(items)
    while batch := list(itertools.islice(iterator, size)):
        batch.sort(key=lambda iv: iv.start_s)
        yield batch


def _refuse_non_finite(row: Sequence[Any], what: str, start_s: float) -> None:
    """Refuse a stored row holding inf (left by an import from before the checks): never report it."""
    if any(isinstance(v, float) and not math.isfinite(v) for v in row):
        raise HistoryQueryError(
            f"history database: {what} at {_iso(start_s)} holds a non-finite value "
            "(written by an older, unchecked import): refusing to use it; delete that period or re-import it"
        )


def _share(iv: SiteInterval, conditions: Sequence[float | None], share: float) -> list[float]:
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


def _interval_row(iv: SiteInterval) -> tuple[Any, ...]:
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
            f"site interval at {_iso(iv.start_s)}: {name} = {value!r} is not a finite amount: not stored"
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


def _writable(path: Path) -> bool:
    # honour the permission bits even when running as root: a file marked read-only is an archive
    mode = path.stat().st_mode
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def _split(start_s: float, end_s: float, resolutions: Sequence[int]) -> Iterator[tuple[int, int, float]]:
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


def _iso(epoch_s: float) -> str:
    from datetime import UTC, datetime

    try:
        return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
    except (OverflowError, ValueError, OSError):
        return f"{epoch_s!r} s"


def _translate(err: sqlite3.DatabaseError, path: Path) -> HistoryStoreError:
    text = str(err)
    if err.sqlite_errorcode & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return HistoryBusyError(f"history database {path} is busy (another connection holds its lock): {text}")
    if "readonly" in text or "read-only" in text:
        return HistoryStoreError(f"history database {path} is read-only: {text}")
    if "disk" in text or "full" in text:
        return HistoryStoreError(f"history database {path}: disk problem: {text}")
    return HistoryStoreError(f"history database {path}: {text}")
