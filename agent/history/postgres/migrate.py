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
from typing import Any

from agent.errors import HistoryError, HistoryStoreError
from agent.history.postgres import schema
from agent.history.postgres.store import PostgresHistoryStore

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


def _source(path: Path) -> sqlite3.Connection:
    from agent.history.store import SqliteHistoryStore

    SqliteHistoryStore(path, readonly=True).close()  # a pue-agent history of a schema this version reads
    return sqlite3.connect(f"{path.resolve().as_uri()}?mode=ro", uri=True)


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
    src = _source(source)
    try:
        sums = {t: src.execute(f"SELECT count(*), total({e}) FROM {t}").fetchone() for t, (_c, e) in TABLES.items()}
        total_rows = sum(int(n) for n, _e in sums.values())
        before = {t: _target_sums(target, t) for t in TABLES}
        if not append and any(rows for rows, _e in before.values()):
            held = ", ".join(f"{t} {rows}" for t, (rows, _e) in before.items() if rows)
            raise HistoryError(
                f"{target.where} already holds history of site {target.site!r} agent {target.agent!r} ({held} rows): "
                "give --append to add to it, or another --agent"
            )
        spans = [src.execute(f"SELECT min({c}), max({c}) FROM {t}").fetchone() for t, c in schema.PARTITIONED.items()]
        months = sorted({m for lo, hi in spans if lo is not None for m in _months(float(lo), float(hi))})
        done = 0
        with target.transaction() as cur:
            for month in months:
                target.partition(cur, month)
            done = _copy_polls(src, cur, target, lambda n: progress(n, total_rows) if progress else None)
            for table, (columns, _energy) in TABLES.items():
                if table in _TARGET:
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


def _target_sql(table: str) -> tuple[str, str, str]:
    return _TARGET.get(table) or ("count(*)", f"sum({TABLES[table][1]})", table)


def _target_sums(target: PostgresHistoryStore, table: str) -> tuple[int, float]:
    count_sql, sum_sql, over = _target_sql(table)
    rows = target.query(
        f"SELECT coalesce({count_sql}, 0), coalesce({sum_sql}, 0) FROM {over} WHERE site = %s AND agent = %s",
        (target.site, target.agent),
    )
    return int(rows[0][0]), float(rows[0][1])


def _copy_polls(src: sqlite3.Connection, cur: Any, target: PostgresHistoryStore, step: Callable[[int], None]) -> int:
    """The source's polls, each with its readings as arrays; readings of no stored poll get a poll row of their
    own (ok, 0 s). Returns the source rows copied (polls and readings)."""
    readings = src.execute("SELECT device, ts_s, quantity, labels, value FROM readings ORDER BY device, ts_s")
    polls = src.execute("SELECT device, ts_s, ok, duration_s, error_kind FROM polls ORDER BY device, ts_s")
    done = 0
    pending = next(readings, None)
    with cur.copy(
        b"COPY polls (site, agent, device, ts_s, ok, duration_s, error_kind, quantities, labels, vals) FROM STDIN"
    ) as copy:

        def write(poll: tuple[Any, ...]) -> None:
            nonlocal pending, done
            quantities: list[str] = []
            labels: list[str] = []
            values: list[float] = []
            while pending is not None and (pending[0], pending[1]) == (poll[0], poll[1]):
                quantities.append(pending[2])
                labels.append(pending[3])
                values.append(pending[4])
                pending = next(readings, None)
            copy.write_row(
                (target.site, target.agent, poll[0], poll[1], bool(poll[2]), *poll[3:], quantities, labels, values)
            )
            done += 1 + len(values)
            if done % 10_000 < 1 + len(values):
                step(done)

        for poll in polls:
            while pending is not None and (pending[0], pending[1]) < (poll[0], poll[1]):
                write((pending[0], pending[1], 1, 0.0, None))  # readings without their poll row
                done -= 1
            write(poll)
        while pending is not None:
            write((pending[0], pending[1], 1, 0.0, None))
            done -= 1
    return done
