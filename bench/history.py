"""History store benchmark: write throughput, size of a 1,000-device year, monthly PUE table time.

Usage: ``.venv/bin/python bench/history.py [--devices 200] [--minutes 30]``.

1. Write throughput: ``--devices`` synthetic devices polled once a minute for ``--minutes``, each poll
   one transaction as :class:`~agent.history.writer.HistoryWriter` does it (poll row, 6 readings,
   one energy row, two device rollups), plus one site interval per minute.
2. Size: bytes per device-poll measured on that sample, extrapolated (and labelled so) to 1,000
   devices at 1-minute polls: 35 days of raw rows (the default retention) plus a year of rollups.
3. Monthly PUE table: a twin year at 15-minute steps imported, then the annual report's monthly
   table computed from the store.
"""

from __future__ import annotations

import argparse
import tempfile
import time
from pathlib import Path

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


def bench_writes(directory: Path, devices: int, minutes: int) -> tuple[float, float, float, float]:
    path = directory / "writes.sqlite"
    store = SqliteHistoryStore(path)
    totals = [0.0] * devices
    rows = 0
    started = time.perf_counter()
    for minute in range(minutes):
        t = T0 + 60.0 * minute
        for d in range(devices):
            name = f"pdu-{d:04d}"
            totals[d] += 5_000.0 * 60.0
            readings = [ReadingRow(name, q, "", t, 1000.0 + d) for q in QUANTITIES]
            energy = [DeviceEnergyRow(name, "energy_j", t, totals[d], totals[d], "counter")]
            store.record_poll(name, t, True, 0.01, None, readings, energy)
            rows += 1 + len(readings) + len(energy)
        if minute:
            store.record_site_interval(
                SiteInterval(t - 60.0, 60.0, 60.0, 7.5e6 * 60, 5e6 * 60, 60.0, 2e6 * 60, "counter", 1)
            )
    elapsed = time.perf_counter() - started
    store.close()
    polls = devices * minutes
    return rows / elapsed, polls / elapsed, _size(path) / polls, elapsed


def bench_monthly_table(directory: Path) -> tuple[float, float, int]:
    result = simulate(load_site_weather("guiyang"), days=365, step_s=900.0)
    csv_path = directory / "twin.csv"
    write_site_history(result, csv_path)
    from agent.history.importer import import_history

    store = SqliteHistoryStore(directory / "year.sqlite")
    started = time.perf_counter()
    count = import_history(store, csv_path, it_category=1)
    import_s = time.perf_counter() - started
    started = time.perf_counter()
    report = period_report(store, T0, T0 + 365 * 86400.0, load_emission_factor("cn-mee-2023-southern"))
    table_s = time.perf_counter() - started
    assert len(report.months) == 12 and report.total.pue is not None
    store.close()
    return import_s, table_s, count


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=200)
    parser.add_argument("--minutes", type=int, default=30)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        rows_s, polls_s, bytes_per_poll, elapsed = bench_writes(directory, args.devices, args.minutes)
        print(
            f"writes: {args.devices} devices x {args.minutes} polls in {elapsed:.1f} s: "
            f"{rows_s:,.0f} rows/s, {polls_s:,.0f} poll transactions/s "
            f"(a 1,000-device site at 1-min polls needs {1000 / 60:.0f} polls/s)"
        )
        polls_per_day = 1000 * 1440
        raw_gb = bytes_per_poll * polls_per_day * 35 / 1e9
        year_gb = bytes_per_poll * polls_per_day * 365 / 1e9
        # rollups kept for years: 1,000 devices x (8,760 hourly + 365 daily) rows, site 525,600 + 35,040 + ...
        print(
            f"size: {bytes_per_poll:,.0f} bytes per device-poll measured (6 readings + energy + rollups, "
            "SQLite pages incl. indexes); EXTRAPOLATED to 1,000 devices at 1-min polls: "
            f"{raw_gb:.1f} GB for the default 35 days of raw rows, {year_gb:.1f} GB if a whole year "
            "of raw rows were kept"
        )
        import_s, table_s, count = bench_monthly_table(directory)
        print(
            f"year at 15 min: import {count} intervals in {import_s:.2f} s; annual report data "
            f"(monthly PUE table, gaps, daily PUE vs temperature) in {table_s * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
