"""History backends side by side: write throughput, bytes of a 1,000-device year, monthly PUE table, on
SQLite and on PostgreSQL (``bench/history.py`` is the SQLite storage bench: bytes per table, packed vs rows).

Usage: ``.venv/bin/python bench/history_postgres.py [--devices 200] [--minutes 30] [--batch 50] [--skip-year]
[--postgres | --url postgresql://...]``.
``--postgres`` runs the same on a throwaway PostgreSQL server (tests/pgserver.py; Debian's ``postgresql``),
``--url`` on an existing database (sites ``bench-writes-PID`` and ``bench-year-PID`` are written into it).

1. Write throughput: ``--devices`` synthetic devices polled once a minute for ``--minutes`` (poll row,
   6 readings, one energy row, two device rollups), plus one site interval per minute. Polls are written
   ``--batch`` to a transaction through the store's ``batch()``, as
   :class:`~agent.history.writer.HistoryWriter` writes the polls queued together (its 0.1 s linger gathers
   about 67 at 10,000 devices polled every 15 s); a store without ``batch()`` (PostgreSQL before issue 17's
   batching) writes one transaction per poll, as the writer then did. Printed: polls/s, transactions/s,
   rows/s and process CPU per poll (the server's CPU is not in it).
2. Size: bytes per device-poll measured on that sample, extrapolated (and labelled so) to 1,000
   devices at 1-minute polls: 35 days of raw rows (the default retention) plus a year of rollups.
3. Monthly PUE table: a twin year at 15-minute steps imported, then the annual report's monthly
   table computed from the store.
"""

from __future__ import annotations

import argparse
import os
import tempfile
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from agent.history.records import DeviceEnergyRow, ReadingRow, SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.reports.report import load_emission_factor, period_report
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
QUANTITIES = ("active_power_w", "voltage_v", "current_a", "power_factor", "frequency_hz", "apparent_power_va")


def _size(path: Path) -> int:
    return sum(p.stat().st_size for p in path.parent.glob(path.name + "*"))


#: opens the benchmark's store named ``name`` in PostgreSQL; returns it and a function measuring its size [B]
PgOpener = Callable[..., tuple[Any, Callable[[], int]]]


@dataclass
class Writes:
    """What :func:`bench_writes` measured."""

    polls: int
    rows: int
    transactions: int
    elapsed_s: float
    cpu_s: float
    bytes_per_poll: float


def bench_writes(directory: Path, devices: int, minutes: int, batch: int, pg: PgOpener | None = None) -> Writes:
    path = directory / "writes.sqlite"
    store, size = pg("writes") if pg is not None else (SqliteHistoryStore(path), lambda: _size(path))
    batched = getattr(store, "batch", None) if batch > 1 else None
    totals = [0.0] * devices
    rows = transactions = 0
    polls: list[tuple[Any, ...]] = []

    def write() -> None:
        nonlocal transactions
        if not polls:
            return
        if batched is None:
            for poll in polls:
                store.record_poll(*poll)
            transactions += len(polls)
        else:
            with batched():
                for poll in polls:
                    store.record_poll(*poll)
            transactions += 1
        polls.clear()

    started, cpu = time.perf_counter(), time.process_time()
    for minute in range(minutes):
        t = T0 + 60.0 * minute
        for d in range(devices):
            name = f"pdu-{d:04d}"
            totals[d] += 5_000.0 * 60.0
            readings = [ReadingRow(name, q, "", t, 1000.0 + d) for q in QUANTITIES]
            energy = [DeviceEnergyRow(name, "energy_j", t, totals[d], totals[d], "counter")]
            polls.append((name, t, True, 0.01, None, readings, energy))
            rows += 1 + len(readings) + len(energy)
            if len(polls) >= batch:
                write()
        write()
        if minute:
            store.record_site_interval(
                SiteInterval(t - 60.0, 60.0, 60.0, 7.5e6 * 60, 5e6 * 60, 60.0, 2e6 * 60, "counter", 1)
            )
            transactions += 1
    elapsed, cpu_s = time.perf_counter() - started, time.process_time() - cpu
    store.close()
    count = devices * minutes
    return Writes(count, rows, transactions, elapsed, cpu_s, size() / count)


def bench_monthly_table(directory: Path, pg: PgOpener | None = None) -> tuple[float, float, int]:
    result = simulate(load_site_weather("guiyang"), days=365, step_s=900.0)
    csv_path = directory / "twin.csv"
    write_site_history(result, csv_path)
    from agent.history.importer import import_history

    store = pg("year")[0] if pg is not None else SqliteHistoryStore(directory / "year.sqlite")
    started = time.perf_counter()
    count = import_history(store, csv_path, it_category=1)
    import_s = time.perf_counter() - started
    if pg is not None:  # as `pue-agent report` opens it
        store.close()
        store = pg("year", readonly=True)[0]
    started, cpu = time.perf_counter(), time.process_time()
    report = period_report(store, T0, T0 + 365 * 86400.0, load_emission_factor("cn-mee-2023-southern"))
    table_s = time.perf_counter() - started
    print(f"annual report data {table_s * 1e3:.0f} ms wall, {(time.process_time() - cpu) * 1e3:.0f} ms CPU")
    assert len(report.months) == 12 and report.total.pue is not None
    store.close()
    return import_s, table_s, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=30)
    parser.add_argument("--batch", type=int, default=50, help="polls per transaction (the writer's batch)")
    parser.add_argument("--skip-year", action="store_true", help="writes and bytes only, no monthly table")
    backend = parser.add_mutually_exclusive_group()
    backend.add_argument("--postgres", action="store_true", help="on a throwaway PostgreSQL server")
    backend.add_argument("--url", help="on this PostgreSQL database (postgresql://user@host:5432/db)")
    args = parser.parse_args()
    server = None
    pg: PgOpener | None = None
    if args.postgres:
        import sys

        sys.path.insert(0, str(Path(__file__).resolve().parents[1]))  # the repository: tests/pgserver.py
        from tests.pgserver import start_server

        server = start_server()
        pg = _pg_opener(lambda name: server.new_database(name))
    elif args.url:
        pg = _pg_opener(lambda _name: args.url)
    try:
        _run(args, pg)
    finally:
        if server is not None:
            server.stop()


def _pg_opener(database: Callable[[str], str]) -> PgOpener:
    """Opens site ``bench-NAME-PID`` in ``database(NAME)``; its size is what the database's tables grew by."""
    import psycopg

    from agent.history.postgres.store import PostgresHistoryStore

    def tables_b(url: str) -> int:
        with psycopg.connect(url) as conn:
            row = conn.execute(
                "SELECT coalesce(sum(pg_total_relation_size(c.oid)), 0) FROM pg_class c JOIN pg_namespace n "
                "ON n.oid = c.relnamespace WHERE n.nspname = 'public' AND c.relkind = 'r'"
            ).fetchone()
            return int(row[0]) if row else 0

    urls: dict[str, str] = {}

    def open_store(name: str, readonly: bool = False) -> tuple[Any, Callable[[], int]]:
        url = urls.setdefault(name, database(name))
        store = PostgresHistoryStore(url, site=f"bench-{name}-{os.getpid()}", readonly=readonly)
        before = tables_b(url)
        return store, lambda: tables_b(url) - before

    return open_store


def _run(args: argparse.Namespace, pg: PgOpener | None) -> None:
    kind = "PostgreSQL" if pg is not None else "SQLite"
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        w = bench_writes(directory, args.devices, args.minutes, args.batch, pg)
        bytes_per_poll = w.bytes_per_poll
        print(f"backend: {kind}")
        print(
            f"writes: {args.devices} devices x {args.minutes} polls in {w.elapsed_s:.1f} s, "
            f"{w.polls / max(w.transactions - (args.minutes - 1), 1):.0f} polls per transaction: "
            f"{w.polls / w.elapsed_s:,.0f} polls/s, {w.transactions / w.elapsed_s:,.0f} transactions/s, "
            f"{w.rows / w.elapsed_s:,.0f} rows/s, {w.cpu_s / w.polls * 1e3:.3f} ms process CPU per poll "
            f"(a 1,000-device site at 1-min polls needs {1000 / 60:.0f} polls/s)"
        )
        polls_per_day = 1000 * 1440
        raw_gb = bytes_per_poll * polls_per_day * 35 / 1e9
        year_gb = bytes_per_poll * polls_per_day * 365 / 1e9
        # rollups kept for years: 1,000 devices x (8,760 hourly + 365 daily) rows, site 525,600 + 35,040 + ...
        print(
            f"size: {bytes_per_poll:,.0f} bytes per device-poll measured (6 readings + energy + rollups, "
            f"{kind} pages incl. indexes); EXTRAPOLATED to 1,000 devices at 1-min polls: "
            f"{raw_gb:.1f} GB for the default 35 days of raw rows, {year_gb:.1f} GB if a whole year "
            "of raw rows were kept"
        )
        if args.skip_year:
            return
        import_s, table_s, count = bench_monthly_table(directory, pg)
        print(
            f"year at 15 min: import {count} intervals in {import_s:.2f} s; annual report data "
            f"(monthly PUE table, gaps, daily PUE vs temperature) in {table_s * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
