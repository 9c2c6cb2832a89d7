"""The PostgreSQL history schema: versioned migrations applied at start, and monthly partitions.

Every row carries the ``site`` and the ``agent`` (a shard, or ``main``) that wrote it, so many agents and
shards share one database. ``history_agent`` registers each writer with its shard (index and count) and
whether it owns cooling meters; reads combine the agents of a site (:mod:`agent.history.postgres.combine`).

A poll's readings are arrays in its ``polls`` row (quantities, labels, values: one row per device poll, not one
per reading, so the site, agent, device and time are stored once). Raw tables (``polls``, ``device_energy``,
``site_interval``, ``site_term_interval``) are
declaratively partitioned by month on their time column (epoch seconds, UTC months); a month's partitions
are created when the first row of that month is written. Rollups (kept for years) are plain tables.

Migrations run at open inside one transaction holding an advisory lock, so agents starting together
migrate once; ``pue_schema.version`` is the version. A database migrated by a newer pue-agent is refused.
TimescaleDB is detected and reported (log, ``pue-agent history info``); this version uses native partitions
either way (:data:`TIMESCALE_NOT_USED`).
"""

from __future__ import annotations

import logging
from datetime import UTC, datetime
from typing import Any

from agent.errors import HistoryStoreError

__all__ = [
    "MIGRATIONS",
    "MIGRATION_LOCK",
    "PARTITIONED",
    "SCHEMA_VERSION",
    "TIMESCALE_NOT_USED",
    "current_version",
    "migrate",
    "month_bounds",
    "partition_ddl",
    "partitioning",
]

log = logging.getLogger(__name__)

_V1 = """
CREATE TABLE pue_schema (version INTEGER NOT NULL);
INSERT INTO pue_schema VALUES (0);
CREATE TABLE history_agent (
    site TEXT NOT NULL, agent TEXT NOT NULL, shard_index INTEGER NOT NULL, shard_count INTEGER NOT NULL,
    has_cooling BOOLEAN NOT NULL, first_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
    last_seen TIMESTAMPTZ NOT NULL DEFAULT now(),
    CHECK (1 <= shard_index AND shard_index <= shard_count), PRIMARY KEY (site, agent));
CREATE TABLE polls (
    site TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, ts_s DOUBLE PRECISION NOT NULL,
    ok BOOLEAN NOT NULL, duration_s DOUBLE PRECISION NOT NULL, error_kind TEXT,
    quantities TEXT[] NOT NULL, labels TEXT[] NOT NULL, vals DOUBLE PRECISION[] NOT NULL,
    CHECK (cardinality(quantities) = cardinality(vals) AND cardinality(labels) = cardinality(vals)),
    PRIMARY KEY (site, device, ts_s, agent)) PARTITION BY RANGE (ts_s);
CREATE TABLE device_energy (
    site TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, quantity TEXT NOT NULL,
    ts_s DOUBLE PRECISION NOT NULL, total_j DOUBLE PRECISION NOT NULL, agent_total_j DOUBLE PRECISION NOT NULL,
    method TEXT NOT NULL CHECK (method IN ('counter', 'integrated')),
    PRIMARY KEY (site, device, quantity, ts_s, agent)) PARTITION BY RANGE (ts_s);
CREATE TABLE device_rollup (
    site TEXT NOT NULL, agent TEXT NOT NULL, device TEXT NOT NULL, quantity TEXT NOT NULL,
    resolution_s INTEGER NOT NULL, start_s BIGINT NOT NULL, energy_j DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, device, quantity, resolution_s, start_s, agent));
CREATE TABLE site_interval (
    site TEXT NOT NULL, agent TEXT NOT NULL,
    start_s DOUBLE PRECISION NOT NULL, duration_s DOUBLE PRECISION NOT NULL, covered_s DOUBLE PRECISION NOT NULL,
    facility_j DOUBLE PRECISION NOT NULL, it_j DOUBLE PRECISION NOT NULL,
    cooling_covered_s DOUBLE PRECISION NOT NULL, cooling_j DOUBLE PRECISION NOT NULL,
    method TEXT NOT NULL, it_category INTEGER, source TEXT NOT NULL,
    outdoor_dry_bulb_c DOUBLE PRECISION, outdoor_wet_bulb_c DOUBLE PRECISION, outdoor_rh_percent DOUBLE PRECISION,
    supply_air_setpoint_c DOUBLE PRECISION, chw_supply_setpoint_c DOUBLE PRECISION,
    economizer_enabled DOUBLE PRECISION, max_inlet_c DOUBLE PRECISION,
    PRIMARY KEY (site, agent, start_s)) PARTITION BY RANGE (start_s);
CREATE TABLE site_rollup (
    site TEXT NOT NULL, agent TEXT NOT NULL,
    resolution_s INTEGER NOT NULL, start_s BIGINT NOT NULL, duration_s DOUBLE PRECISION NOT NULL,
    covered_s DOUBLE PRECISION NOT NULL, facility_j DOUBLE PRECISION NOT NULL, it_j DOUBLE PRECISION NOT NULL,
    cooling_covered_s DOUBLE PRECISION NOT NULL, cooling_j DOUBLE PRECISION NOT NULL,
    methods INTEGER NOT NULL, it_categories INTEGER NOT NULL, sources INTEGER NOT NULL,
    cond_s_outdoor_dry_bulb_c DOUBLE PRECISION NOT NULL, cond_outdoor_dry_bulb_c DOUBLE PRECISION NOT NULL,
    cond_s_outdoor_wet_bulb_c DOUBLE PRECISION NOT NULL, cond_outdoor_wet_bulb_c DOUBLE PRECISION NOT NULL,
    cond_s_outdoor_rh_percent DOUBLE PRECISION NOT NULL, cond_outdoor_rh_percent DOUBLE PRECISION NOT NULL,
    cond_s_supply_air_setpoint_c DOUBLE PRECISION NOT NULL, cond_supply_air_setpoint_c DOUBLE PRECISION NOT NULL,
    cond_s_chw_supply_setpoint_c DOUBLE PRECISION NOT NULL, cond_chw_supply_setpoint_c DOUBLE PRECISION NOT NULL,
    cond_s_economizer_enabled DOUBLE PRECISION NOT NULL, cond_economizer_enabled DOUBLE PRECISION NOT NULL,
    max_inlet_c DOUBLE PRECISION,
    PRIMARY KEY (site, resolution_s, start_s, agent));
CREATE TABLE site_term_interval (
    site TEXT NOT NULL, agent TEXT NOT NULL, start_s DOUBLE PRECISION NOT NULL, term TEXT NOT NULL,
    covered_s DOUBLE PRECISION NOT NULL, value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, agent, start_s, term)) PARTITION BY RANGE (start_s);
CREATE TABLE site_term_rollup (
    site TEXT NOT NULL, agent TEXT NOT NULL, resolution_s INTEGER NOT NULL, start_s BIGINT NOT NULL,
    term TEXT NOT NULL, covered_s DOUBLE PRECISION NOT NULL, value DOUBLE PRECISION NOT NULL,
    PRIMARY KEY (site, resolution_s, start_s, term, agent));
"""

#: forward migrations: MIGRATIONS[i] takes a database from version i to i + 1
MIGRATIONS: tuple[str, ...] = (_V1,)
SCHEMA_VERSION = len(MIGRATIONS)

#: the advisory lock (transaction scope) held while migrating or creating partitions
MIGRATION_LOCK = 0x70756531  # "pue1"

#: partitioned raw tables and their time column
PARTITIONED: dict[str, str] = {
    "polls": "ts_s",
    "device_energy": "ts_s",
    "site_interval": "start_s",
    "site_term_interval": "start_s",
}


def current_version(cur: Any) -> int:
    """The schema version of the database (0: empty)."""
    row = cur.execute("SELECT to_regclass('pue_schema') IS NOT NULL").fetchone()
    if not row[0]:
        return 0
    row = cur.execute("SELECT max(version) FROM pue_schema").fetchone()
    return int(row[0] or 0)


def migrate(conn: Any, where: str, *, readonly: bool = False) -> int:
    """Bring the schema to :data:`SCHEMA_VERSION` in one transaction under the advisory lock; returns the version.

    Raises
    ------
    HistoryStoreError
        the database has a newer schema (upgrade pue-agent), or is empty / older and ``readonly``.
    """
    with conn.transaction(), conn.cursor() as cur:
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (MIGRATION_LOCK,))
        version = current_version(cur)
        if version > SCHEMA_VERSION:
            raise HistoryStoreError(
                f"history database {where} has schema version {version}; this pue-agent knows up to "
                f"{SCHEMA_VERSION}: upgrade pue-agent"
            )
        if version < SCHEMA_VERSION and readonly:
            if version == 0:
                raise HistoryStoreError(f"history database {where}: no pue-agent history in it")
            raise HistoryStoreError(
                f"history database {where} has schema version {version}; open it writable once to migrate it"
            )
        for target, script in enumerate(MIGRATIONS[version:], start=version + 1):
            cur.execute(script.encode())
            cur.execute("UPDATE pue_schema SET version = %s", (target,))
            log.info("history database %s: schema migrated to version %d", where, target)
    return SCHEMA_VERSION


#: why TimescaleDB, when installed, does not turn the raw tables into hypertables (yet)
TIMESCALE_NOT_USED = (
    "hypertables need an integer or timestamp time column and this schema keys raw rows by epoch seconds "
    "in double precision, so the raw tables keep native monthly partitions"
)


def partitioning(conn: Any) -> str:
    """``"timescaledb"`` when that extension is installed in the database, else ``"native"``; logged.

    Either way the raw tables are native monthly partitions (:data:`TIMESCALE_NOT_USED`); the answer is what
    ``pue-agent history info`` and the start-up log state."""
    row = conn.execute("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'").fetchone()
    if row is not None:
        log.info("history: TimescaleDB %s is installed; %s", row[0], TIMESCALE_NOT_USED)
        return "timescaledb"
    log.info("history: native monthly partitions (no TimescaleDB extension in the database)")
    return "native"


def month_bounds(epoch_s: float) -> tuple[str, float, float]:
    """(suffix ``y2026m01``, month start, next month start) of the UTC month holding ``epoch_s``."""
    t = datetime.fromtimestamp(epoch_s, tz=UTC)
    start = datetime(t.year, t.month, 1, tzinfo=UTC)
    end = datetime(t.year + (t.month == 12), t.month % 12 + 1, 1, tzinfo=UTC)
    return f"y{t.year:04d}m{t.month:02d}", start.timestamp(), end.timestamp()


def partition_ddl(epoch_s: float) -> list[str]:
    """CREATE TABLE IF NOT EXISTS of every raw table's partition for the month of ``epoch_s``."""
    suffix, lo, hi = month_bounds(epoch_s)
    return [
        f"CREATE TABLE IF NOT EXISTS {table}_{suffix} PARTITION OF {table} FOR VALUES FROM ({lo!r}) TO ({hi!r})"
        for table in PARTITIONED
    ]
