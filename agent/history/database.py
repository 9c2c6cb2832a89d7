"""The history database: its schema, migrations and connection (open, read-only media, transactions, errors).

One SQLite file in WAL mode. ``PRAGMA user_version`` holds the schema version; :data:`MIGRATIONS`
brings any older file forward at open (forward only). Each write is one small transaction, so a
kill -9 loses at most the write in flight.

Tables
------
``polls``           one row per device poll (ok, duration, error kind)           raw, purged
``readings``        every canonical reading at poll resolution (up to v3; from v4 in ``polls.data``) raw, purged
``device_energy``   the monotonic energy per device and quantity [J], method     raw, purged
``device_rollup``   per-device energy per hour and per day [J]                   kept
``site_interval``   site intervals at tick resolution: energies, complete flag   raw, purged
``site_rollup``     site energies per 1 min, 15 min, 1 h, 1 d, with covered time kept
``site_term_interval`` / ``site_term_rollup``  optional boundaries (renewable, reused heat, water,
                    zones), one row per term, each with its own covered time        raw, purged / kept
``raw_block``       v3: polls, readings and device_energy of one device and closed UTC hour, packed and
                    compressed (:mod:`agent.history.blocks`); the three tables above then hold only the
                    open hour's rows ("hot" rows, :mod:`agent.history.raw`)          raw, purged
``raw_name``        v3: the names a block refers to by id (devices, quantities, labels, kinds, methods)

Stored site intervals never overlap: a trigger refuses an insert that would (two agents writing one
file would otherwise count the site twice), and the agent holds a writer lock on the file
(:mod:`agent.history.lock`).

Site intervals and rollups keep energy over the *covered* time only (every facility and IT
contributor fresh) and the covered time itself, so coverage and gaps can be computed for any
period. Condition columns (outdoor temperatures, setpoints) are stored as time-weighted sums
over the time they were known.
"""

from __future__ import annotations

import logging
import os
import sqlite3
import stat
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path

from agent.errors import HistoryBusyError, HistoryStoreError
from agent.history.lock import WriterLock
from agent.history.raw import RAW_SCHEMA

__all__ = ["MAX_INTERVAL_S", "MIGRATIONS", "OVERLAP_TOLERANCE_S", "SCHEMA_VERSION", "SqliteDatabase", "translate"]

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

# v4: a poll's readings in its own ``polls`` row (:mod:`agent.history.poll_data`); the ``readings`` table keeps
# the hot rows a v3 file had until their hour is packed
_SCHEMA_V4 = """
ALTER TABLE polls ADD COLUMN data BLOB;
"""

#: forward migrations: MIGRATIONS[i] takes a file from user_version i to i + 1; v3 adds the packed raw
#: blocks (:mod:`agent.history.raw`), and the store packs the closed hours of a v2 file's raw rows into them
#: once the file is at the newest version (:meth:`SqliteDatabase._after_migration`)
MIGRATIONS: tuple[str, ...] = (_SCHEMA_V1, _SCHEMA_V2, RAW_SCHEMA, _SCHEMA_V4)
SCHEMA_VERSION = len(MIGRATIONS)

#: page size of a new database file [bytes] (an existing file keeps its own)
PAGE_SIZE = 16384

#: the writer connection's page cache [KiB]
WRITER_CACHE_KIB = 65536

#: longest interval accepted from an import [s]; bounds the overlap search
MAX_INTERVAL_S = 31 * 86400.0
#: site intervals may touch (one ends where the next starts) but not overlap by more than this [s]
OVERLAP_TOLERANCE_S = 1e-6
_NO_OVERLAP_TRIGGER = "site_interval_no_overlap"


class SqliteDatabase:
    """One history database file opened (and migrated) for :class:`agent.history.store.SqliteHistoryStore`.

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

    def __init__(
        self, path: str | Path, *, readonly: bool = False, durable: bool = False, exclusive: bool = False
    ) -> None:
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
                # a new file gets 16 KiB pages: packed hour blocks (~0.6 KB each and up) leave less of a page
                # unused than with 4 KiB (17 % measured); it must be set before WAL mode writes the header
                self._db.execute(f"PRAGMA page_size={PAGE_SIZE}")
                self._db.execute("PRAGMA journal_mode=WAL")
                self._db.execute(f"PRAGMA synchronous={'FULL' if durable else 'NORMAL'}")
                # SQLite's default page cache (2 MB: 125 pages of 16 KiB) cannot hold the B-tree paths a round of
                # polls of 10,000 devices walks: each poll read its pages back from the OS (issue 17)
                self._db.execute(f"PRAGMA cache_size=-{WRITER_CACHE_KIB}")
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
                    f"history database {where} has schema version {version}; open it writable once to migrate it"
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
            if (
                self._db.execute(
                    "SELECT 1 FROM sqlite_master WHERE type = 'trigger' AND name = ?", (_NO_OVERLAP_TRIGGER,)
                ).fetchone()
                is None
            ):
                self._db.execute(
                    f"CREATE TRIGGER IF NOT EXISTS {_NO_OVERLAP_TRIGGER} BEFORE INSERT ON site_interval "
                    "WHEN (SELECT s.start_s + s.duration_s FROM site_interval s "
                    "      WHERE s.start_s < NEW.start_s + NEW.duration_s ORDER BY s.start_s DESC LIMIT 1)"
                    f"     > NEW.start_s + {OVERLAP_TOLERANCE_S} "
                    "BEGIN SELECT RAISE(ABORT, 'site interval overlaps a stored one'); END"
                )
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err

    def _migrate(self, version: int) -> None:
        try:
            for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
                with self._transaction():
                    for statement in filter(str.strip, script.split(";")):
                        self._db.execute(statement)
                    self._after_migration(self._db, target)
                    self._db.execute(f"PRAGMA user_version={target}")
        except sqlite3.DatabaseError as err:
            raise HistoryStoreError(f"history database {self.path}: cannot create/migrate the schema: {err}") from err

    def _after_migration(self, db: sqlite3.Connection, version: int) -> None:
        """Converts rows once the schema reached ``version`` (inside the migration's transaction)."""

    def _on_rollback(self) -> None:
        """Forgets what was cached during a transaction that was rolled back."""

    #: inside :meth:`batch`: each write joins the batch's transaction instead of committing its own
    _batching = False

    @contextmanager
    def batch(self) -> Iterator[None]:
        """Several writes (the history writer's polls of the last 0.1 s) in one transaction: all or none.

        One commit for many polls writes each shared page to the WAL once, not once per poll. An error in
        any write rolls the whole batch back and is raised (the writer then writes them one by one).
        """
        with self._transaction():
            self._batching = True
            try:
                yield
            finally:
                self._batching = False

    @contextmanager
    def _transaction(self) -> Iterator[sqlite3.Connection]:
        if self._batching:  # the batch's transaction commits or rolls back
            yield self._db
            return
        if self.readonly:
            raise HistoryStoreError(f"history database {self.path} was opened read-only")
        try:
            self._db.execute("BEGIN IMMEDIATE")
        except sqlite3.DatabaseError as err:
            raise translate(err, self.path) from err
        try:
            yield self._db
        except BaseException as err:
            self._rollback()
            if isinstance(err, sqlite3.DatabaseError):
                raise translate(err, self.path) from err
            raise
        try:
            self._db.execute("COMMIT")
        except sqlite3.DatabaseError as err:
            self._rollback()
            raise translate(err, self.path) from err

    def _rollback(self) -> None:
        # SQLite rolls back by itself on SQLITE_FULL and friends; a second ROLLBACK would then fail
        # with "no transaction is active" and hide the real error
        self._on_rollback()
        if self._db.in_transaction:
            self._db.execute("ROLLBACK")

    # --- writes ------------------------------------------------------------------------------


def _writable(path: Path) -> bool:
    # honour the permission bits even when running as root: a file marked read-only is an archive
    mode = path.stat().st_mode
    return bool(mode & (stat.S_IWUSR | stat.S_IWGRP | stat.S_IWOTH)) and os.access(path, os.W_OK)


def translate(err: sqlite3.DatabaseError, path: Path) -> HistoryStoreError:
    text = str(err)
    code = getattr(err, "sqlite_errorcode", None)  # absent on ProgrammingError (e.g. a closed store)
    if code is not None and code & 0xFF in (sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED):
        return HistoryBusyError(f"history database {path} is busy (another connection holds its lock): {text}")
    if "readonly" in text or "read-only" in text:
        return HistoryStoreError(f"history database {path} is read-only: {text}")
    if "disk" in text or "full" in text:
        return HistoryStoreError(f"history database {path}: disk problem: {text}")
    return HistoryStoreError(f"history database {path}: {text}")
