"""``pue-agent history migrate``: copy a SQLite history into a shared PostgreSQL database, verified.

Every table is copied (COPY) as rows of the target's site and agent, in one transaction; before it commits,
the rows and energy totals each table gained are compared with the source's, and any difference rolls the
whole copy back. A target that already holds rows of that site/agent is refused unless ``append`` (then an
overlapping row is refused by its primary key and nothing is copied).
"""

from __future__ import annotations

import math
import sqlite3
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import HistoryError, HistoryStoreError
from agent.history.postgres import schema
from agent.history.postgres.store import PostgresHistoryStore

if TYPE_CHECKING:
    from agent.history.store import SqliteHistoryStore

__all__ = ["TABLES", "TableCheck", "migrate_sqlite"]

#: table -> (columns, as in both schemas after site and agent; the sum checked). ``polls`` and ``readings``
#: become one ``polls`` row per poll, its readings in arrays (:mod:`agent.history.postgres.schema`)
TABLES: dict[str, tuple[str, str]] = {
    "polls": ("device, ts_s, ok, duration_s, error_kind", "0"),
    "readings": ("device, ts_s, quantity, labels, value", "value"),
    "device_energy": ("device, quantity, ts_s, total_j, agent_total_j, method", "total_j"),
    "device_rollup": ("device, quantity, resolution_s, start_s, energy_j", "energy_j"),
    "site_interval": (
        "start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, method, it_category, "
        "source, outdoor_dry_bulb_c, outdoor_wet_bulb_c, outdoor_rh_percent, supply_air_setpoint_c, "
        "chw_supply_setpoint_c, economizer_enabled, max_inlet_c",
        "facility_j + it_j + cooling_j",
    ),
    "site_term_interval": ("start_s, term, covered_s, value", "value"),
    "site_rollup": (
        "resolution_s, start_s, duration_s, covered_s, facility_j, it_j, cooling_covered_s, cooling_j, methods, "
        "it_categories, sources, cond_s_outdoor_dry_bulb_c, cond_outdoor_dry_bulb_c, cond_s_outdoor_wet_bulb_c, "
        "cond_outdoor_wet_bulb_c, cond_s_outdoor_rh_percent, cond_outdoor_rh_percent, "
        "cond_s_supply_air_setpoint_c, cond_supply_air_setpoint_c, cond_s_chw_supply_setpoint_c, "
        "cond_chw_supply_setpoint_c, cond_s_economizer_enabled, cond_economizer_enabled, max_inlet_c",
        "facility_j + it_j + cooling_j",
    ),
    "site_term_rollup": ("resolution_s, start_s, term, covered_s, value", "value"),
}

#: what the target holds of a table: (count, sum) expressions and the table they are over
_TARGET: dict[str, tuple[str, str, str]] = {
    "polls": ("count(*)", "0", "polls"),
    "readings": ("sum(cardinality(vals))", "sum((SELECT sum(v) FROM unnest(vals) AS v))", "polls"),
}

#: the raw tables: read through the SQLite store (packed hours and open-hour rows merged), not by SQL
RAW_TABLES = ("polls", "readings", "device_energy")
#: raw rows are read a week of one device at a time (bounded memory for a year of 1-minute polls)
_RAW_WINDOW_S = 7 * 86400.0

#: called with (rows copied so far, rows in all)
Progress = Callable[[int, int], None]


@dataclass(frozen=True)
class TableCheck:
    """One table's rows and energy total [J] (or its sum column) in the source and gained by the target."""

    table: str
    source_rows: int
    target_rows: int
    source_energy: float
    target_energy: float

    @property
    def ok(self) -> bool:
        return self.source_rows == self.target_rows and math.isclose(
            self.source_energy, self.target_energy, rel_tol=1e-9, abs_tol=1e-6
        )


def _source(path: Path) -> tuple[sqlite3.Connection, SqliteHistoryStore]:
    """A read-only connection for the row tables, and the store (a schema this version reads) for raw rows."""
    from agent.history.store import SqliteHistoryStore

    store = SqliteHistoryStore(path, readonly=True)
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True), store


def _raw_span(src: sqlite3.Connection) -> tuple[float | None, float | None]:
    """First and last time of any raw row, packed (schema v3 ``raw_block``) or not."""
    parts = [
        "SELECT min(ts_s), max(ts_s) FROM polls",
        "SELECT min(ts_s), max(ts_s) FROM readings",
        "SELECT min(ts_s), max(ts_s) FROM device_energy",
    ]
    if src.execute("SELECT 1 FROM sqlite_master WHERE name = 'raw_block'").fetchone():
        parts.append("SELECT min(start_s), max(start_s + span_s) FROM raw_block")
    rows = [src.execute(sql).fetchone() for sql in parts]
    los = [float(r[0]) for r in rows if r[0] is not None]
    his = [float(r[1]) for r in rows if r[1] is not None]
    return (min(los), max(his)) if los else (None, None)


def _months(lo: float, hi: float) -> list[float]:
    out = []
    t = lo
    while True:
        _suffix, start, end = schema.month_bounds(t)
        out.append(start)
        if end > hi:
            return out
        t = end


def migrate_sqlite(
    source: Path, target: PostgresHistoryStore, *, append: bool = False, progress: Progress | None = None
) -> list[TableCheck]:
    """Copy every table of the SQLite history ``source`` into ``target`` (its site and agent), verified.

    Raises
    ------
    HistoryError
        the source cannot be read, the target already holds this site/agent (without ``append``), a row
        overlaps one stored, or a table's rows or energy differ after the copy (nothing is copied).
    """
    src, raw = _source(source)
    try:
        sums: dict[str, tuple[int, float]] = {
            t: src.execute(f"SELECT count(*), total({e}) FROM {t}").fetchone()
            for t, (_c, e) in TABLES.items()
            if t not in RAW_TABLES
        }
        for table in RAW_TABLES:  # packed hours included (schema v3); the sums are taken as they are copied
            sums[table] = (raw.count(table), 0.0)
        total_rows = sum(int(n) for n, _e in sums.values())
        before = {t: _target_sums(target, t) for t in TABLES}
        if not append and any(rows for rows, _e in before.values()):
            held = ", ".join(f"{t} {rows}" for t, (rows, _e) in before.items() if rows)
            raise HistoryError(
                f"{target.where} already holds history of site {target.site!r} agent {target.agent!r} ({held} rows): "
                "give --append to add to it, or another --agent"
            )
        spans = [
            src.execute(f"SELECT min({c}), max({c}) FROM {t}").fetchone()
            for t, c in schema.PARTITIONED.items()
            if t not in RAW_TABLES
        ]
        spans.append(_raw_span(src))
        months = sorted({m for lo, hi in spans if lo is not None for m in _months(float(lo), float(hi))})
        done = 0
        with target.transaction() as cur:
            for month in months:
                target.partition(cur, month)
            step = (lambda n: progress(n, total_rows)) if progress is not None else (lambda n: None)
            copied = _copy_raw(raw, _raw_span(src), cur, target, step)
            for table, (rows, total) in copied.items():
                if rows != sums[table][0]:
                    raise HistoryStoreError(
                        f"history database {source}: {table} counts {sums[table][0]} rows but {rows} were read"
                    )
                sums[table] = (rows, total)
            done = sum(rows for rows, _t in copied.values())
            for table, (columns, _energy) in TABLES.items():
                if table in RAW_TABLES:
                    continue
                with cur.copy(f"COPY {table} (site, agent, {columns}) FROM STDIN".encode()) as copy:
                    for row in src.execute(f"SELECT {columns} FROM {table}"):
                        copy.write_row((target.site, target.agent, *row))
                        done += 1
                        if progress is not None and done % 10_000 == 0:
                            progress(done, total_rows)
            checks = []
            for table in TABLES:
                count_sql, sum_sql, over = _target_sql(table)
                rows, total = cur.execute(
                    f"SELECT coalesce({count_sql}, 0), coalesce({sum_sql}, 0) FROM {over} "
                    "WHERE site = %s AND agent = %s".encode(),
                    (target.site, target.agent),
                ).fetchone() or (0, 0.0)
                checks.append(
                    TableCheck(
                        table,
                        int(sums[table][0]),
                        int(rows) - before[table][0],
                        float(sums[table][1]),
                        float(total) - before[table][1],
                    )
                )
            bad = [c for c in checks if not c.ok]
            if bad:
                raise HistoryStoreError(
                    "migration verification failed, nothing copied: "
                    + "; ".join(
                        f"{c.table}: {c.source_rows} rows {c.source_energy:g} in the source, "
                        f"{c.target_rows} rows {c.target_energy:g} copied"
                        for c in bad
                    )
                )
        if progress is not None:
            progress(total_rows, total_rows)
        return checks
    except sqlite3.DatabaseError as err:
        raise HistoryStoreError(f"history database {source}: {err}") from err
    finally:
        src.close()
        raw.close()


def _target_sql(table: str) -> tuple[str, str, str]:
    return _TARGET.get(table) or ("count(*)", f"sum({TABLES[table][1]})", table)


def _target_sums(target: PostgresHistoryStore, table: str) -> tuple[int, float]:
    count_sql, sum_sql, over = _target_sql(table)
    rows = target.query(
        f"SELECT coalesce({count_sql}, 0), coalesce({sum_sql}, 0) FROM {over} WHERE site = %s AND agent = %s",
        (target.site, target.agent),
    )
    return int(rows[0][0]), float(rows[0][1])


def _copy_raw(
    raw: SqliteHistoryStore,
    span: tuple[float | None, float | None],
    cur: Any,
    target: PostgresHistoryStore,
    step: Callable[[int], None],
) -> dict[str, tuple[int, float]]:
    """Copy every raw row: polls with their readings as arrays (readings of no stored poll get a poll row of
    their own: ok, 0 s), then device energy. Returns rows read and their sum per raw table."""
    lo, hi = span
    out = {t: (0, 0.0) for t in RAW_TABLES}
    if lo is None or hi is None:
        return out
    devices = raw.raw_devices()
    windows = [(t, t + _RAW_WINDOW_S) for t in _arange(math.floor(lo / 86400) * 86400.0, hi + 1.0, _RAW_WINDOW_S)]
    counts = {t: 0 for t in RAW_TABLES}
    values: dict[str, list[float]] = {t: [] for t in RAW_TABLES}
    done = 0
    with cur.copy(
        b"COPY polls (site, agent, device, ts_s, ok, duration_s, error_kind, quantities, labels, vals) FROM STDIN"
    ) as copy:
        for device in devices:
            for w0, w1 in windows:
                block = raw.raw_rows(device, w0, w1)
                by_ts: dict[float, list[Any]] = {}
                for r in block.readings:
                    by_ts.setdefault(r.timestamp_s, []).append(r)
                    values["readings"].append(r.value)
                polls = {p.timestamp_s: p for p in block.polls}
                for ts in sorted(set(polls) | set(by_ts)):
                    p = polls.get(ts)
                    rs = by_ts.get(ts, [])
                    ok, duration, kind = (p.ok, p.duration_s, p.error_kind) if p is not None else (True, 0.0, None)
                    copy.write_row(
                        (
                            target.site,
                            target.agent,
                            device,
                            ts,
                            ok,
                            duration,
                            kind,
                            [r.quantity for r in rs],
                            [r.labels for r in rs],
                            [r.value for r in rs],
                        )
                    )
                counts["polls"] += len(block.polls)
                counts["readings"] += len(block.readings)
                done += len(block.polls) + len(block.readings)
                step(done)
    columns = TABLES["device_energy"][0]
    with cur.copy(f"COPY device_energy (site, agent, {columns}) FROM STDIN".encode()) as copy:
        for device in devices:
            for w0, w1 in windows:
                for e in raw.raw_rows(device, w0, w1).energy:
                    copy.write_row(
                        (
                            target.site,
                            target.agent,
                            device,
                            e.quantity,
                            e.timestamp_s,
                            e.total_j,
                            e.agent_total_j,
                            e.method,
                        )
                    )
                    counts["device_energy"] += 1
                    values["device_energy"].append(e.total_j)
            step(done + counts["device_energy"])
    return {t: (counts[t], math.fsum(values[t])) for t in RAW_TABLES}


def _arange(start: float, stop: float, step: float) -> list[float]:
    out = []
    t = start
    while t < stop:
        out.append(t)
        t += step
    return out
