"""What ``pue-agent history info`` states about a history store: backend, schema, partitioning, retention, rows.

SQLite: the file, its schema version and size, packed blocks. PostgreSQL: the server version, schema version,
whether TimescaleDB is installed and which partitioning the raw tables use (native monthly partitions either
way: :data:`agent.history.postgres.schema.TIMESCALE_NOT_USED`), the partitions per raw table, the site's agents.
"""

from __future__ import annotations

import math
import sqlite3
from typing import Any

from agent.history.records import HistoryStore

__all__ = ["describe"]

_TABLES = ("polls", "device_energy", "site_interval", "site_rollup", "device_rollup")


def describe(store: HistoryStore, retention: tuple[float, float] | None = None) -> list[tuple[str, str]]:
    """(label, value) lines describing ``store``; ``retention`` (raw, energy) [s] from the config if known."""
    from agent.history.store import SqliteHistoryStore

    lines = _sqlite(store) if isinstance(store, SqliteHistoryStore) else _postgres(store)
    for table in _TABLES:
        lines.append((f"rows: {table}", f"{store.count(table):,}"))  # type: ignore[attr-defined]
    if retention is not None:
        raw_s, energy_s = retention
        lines.append(("retention: readings, polls", f"{raw_s / 86400:g} days"))
        energy = "kept (no limit)" if math.isinf(energy_s) else f"{energy_s / 86400:g} days"
        lines.append(("retention: device energy, site intervals", energy))
        lines.append(("retention: rollups", "kept (no limit)"))
    return lines


def _sqlite(store: Any) -> list[tuple[str, str]]:
    db = sqlite3.connect(f"{store.path.resolve().as_uri()}?mode=ro", uri=True)
    try:
        version = int(db.execute("PRAGMA user_version").fetchone()[0])
        pages, size = (int(v) for v in db.execute("SELECT * FROM pragma_page_count(), pragma_page_size()").fetchone())
        blocks = db.execute("SELECT count(*), coalesce(sum(readings > 0), 0) FROM raw_block").fetchone()
    finally:
        db.close()
    return [
        ("backend", f"SQLite {sqlite3.sqlite_version} file {store.path}"),
        ("schema version", str(version)),
        ("size", f"{pages * size / 1e6:,.1f} MB"),
        ("partitioning", "none (one file; raw rows packed per device and hour/day)"),
        ("packed raw blocks", f"{int(blocks[0]):,} ({int(blocks[1]):,} with readings, the rest energy only)"),
    ]


def _postgres(store: Any) -> list[tuple[str, str]]:
    from agent.history.postgres import schema

    server = store.query("SHOW server_version")[0][0]
    version = store.query("SELECT max(version) FROM pue_schema")[0][0]
    timescale = store.query("SELECT extversion FROM pg_extension WHERE extname = 'timescaledb'")
    partitions = dict(
        store.query(
            "SELECT parent.relname, count(*) FROM pg_inherits i JOIN pg_class parent ON parent.oid = i.inhparent "
            "WHERE parent.relname = ANY(%s) GROUP BY parent.relname",
            (list(schema.PARTITIONED),),
        )
    )
    agents = store.agents()
    used = "native monthly partitions"
    if timescale:
        used += f" (TimescaleDB {timescale[0][0]} installed, not used: {schema.TIMESCALE_NOT_USED})"
    else:
        used += " (no TimescaleDB extension in this database)"
    return [
        ("backend", f"PostgreSQL {server} at {store.where}, site {store.site!r}"),
        ("schema version", str(version)),
        ("partitioning", used),
        ("partitions", ", ".join(f"{t} {partitions.get(t, 0)}" for t in schema.PARTITIONED)),
        (
            "agents",
            ", ".join(f"{a} (shard {s.index}/{s.count})" for a, s in sorted(agents.items())) or "none yet",
        ),
    ]
