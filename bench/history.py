"""History store benchmark: write throughput, bytes per device-poll (per table), a 1,000-device year, monthly PUE table.

Usage: ``.venv/bin/python bench/history.py [--devices 10] [--minutes 2940] [--skip-before]``.

1. Writes: ``--devices`` synthetic devices polled once a minute for ``--minutes``, each poll one transaction
   as :class:`~agent.history.writer.HistoryWriter` does it (poll row, 6 readings, one energy row, device
   rollups), plus one site interval per minute; once with packed hours (the default) and once with every
   raw row kept in the row tables (``pack=False``: no blocks, as schema v2 kept them; since schema v4 a poll's
   readings are in its ``polls`` row, not a ``readings`` row each, so these rows are smaller than v2's were).
   The devices are PDUs as their SNMP agents report them (``number * scale``, the way profiles decode):
   power 2-8 kW to 1 W (a random walk of 20 W per minute plus 10 W of noise), voltage to 0.1 V, current to
   0.01 A, power factor to 0.01, frequency to 0.01 Hz, apparent power to 1 VA, an energy counter in 0.1 kWh;
   polls start up to a few ms late (exponential, mean 2 ms) and take 8-40 ms (plus 3 ms of jitter); 1 %
   time out. The bytes depend on this noise: a device whose readings move more costs more.
2. Size: every table's pages and used bytes (SQLite's ``dbstat``), with its indexes, after a WAL checkpoint.
   EXTRAPOLATED (and labelled so) to 1,000 devices at 1-minute polls for a year from used bytes over a
   stated page fill (a sample of minutes leaves pages part-empty that a year fills): packed bytes per
   device-poll x 525,600 x 1,000, one open hour of hot rows, device rollups per row (8,760 hourly + 365
   daily per device), site rows per minute.
3. Monthly PUE table: a twin year at 15-minute steps imported, then the annual report's monthly table
   computed from the store.
"""

from __future__ import annotations

import argparse
import math
import random
import sqlite3
import tempfile
import time
from dataclasses import dataclass
from pathlib import Path

from agent.history.records import DeviceEnergyRow, ReadingRow, SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.reports.report import load_emission_factor, period_report
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
YEAR_POLLS = 1000 * 525_600  # 1,000 devices polled every minute for 365 days
GROUPS = {
    "polls": "hot rows (open hour)",
    "readings": "hot rows (open hour)",
    "device_energy": "hot rows (open hour)",
    "raw_block": "packed blocks",
    "raw_name": "names",
    "device_rollup": "device rollups",
    "site_interval": "site intervals + rollups",
    "site_rollup": "site intervals + rollups",
    "site_term_interval": "site intervals + rollups",
    "site_term_rollup": "site intervals + rollups",
}


@dataclass
class _Pdu:
    name: str
    rng: random.Random
    power_w: float
    voltage_v: float
    counter: int  # 0.1 kWh
    carry_j: float
    base_s: float
    phase_s: float

    def poll(self, minute: int) -> tuple[float, bool, float, list[ReadingRow], list[DeviceEnergyRow]]:
        rng = self.rng
        t = T0 + 60.0 * minute + self.phase_s + rng.expovariate(1 / 0.002)
        duration = self.base_s + rng.expovariate(1 / 0.003)
        self.power_w = min(max(self.power_w + rng.gauss(0, 20), 500.0), 9000.0)
        self.voltage_v = min(max(self.voltage_v + rng.gauss(0, 0.3), 220.0), 240.0)
        self.carry_j += self.power_w * 60.0
        self.counter += int(self.carry_j // 360_000)
        self.carry_j %= 360_000
        if rng.random() < 0.01:
            return t, False, 2.0, [], []
        p = round(self.power_w + rng.gauss(0, 10))
        v = round(self.voltage_v * 10 + rng.gauss(0, 1))
        pf = round(95 + rng.gauss(0, 0.5))
        values = {
            "active_power_w": p * 1.0,
            "voltage_v": v * 0.1,
            "current_a": round(p / (v * 0.1) / (pf * 0.01) * 100) * 0.01,
            "power_factor": pf * 0.01,
            "frequency_hz": round(5000 + rng.gauss(0, 2)) * 0.01,
            "apparent_power_va": round(p / (pf * 0.01)) * 1.0,
        }
        readings = [ReadingRow(self.name, q, "", t, value) for q, value in values.items()]
        total = self.counter * 360_000.0
        return t, True, duration, readings, [DeviceEnergyRow(self.name, "energy_j", t, total, total, "counter")]


def _fleet(devices: int) -> list[_Pdu]:
    out = []
    for d in range(devices):
        rng = random.Random(d)
        out.append(
            _Pdu(
                f"pdu-{d:04d}",
                rng,
                rng.uniform(2000, 8000),
                rng.uniform(225, 235),
                rng.randint(0, 10**6),
                0.0,
                rng.uniform(0.008, 0.040),
                round(rng.uniform(0, 59), 3),
            )
        )
    return out


def bench_writes(path: Path, devices: int, minutes: int, pack: bool) -> tuple[float, float, int]:
    """(poll transactions per second, seconds, rows written)."""
    store = SqliteHistoryStore(path, pack=pack)
    fleet = _fleet(devices)
    rows = 0
    started = time.perf_counter()
    for minute in range(minutes):
        for pdu in fleet:
            t, ok, duration, readings, energy = pdu.poll(minute)
            store.record_poll(pdu.name, t, ok, duration, None if ok else "timeout", readings, energy)
            rows += 1 + len(readings) + len(energy)
        if minute:
            t = T0 + 60.0 * minute
            store.record_site_interval(
                SiteInterval(t - 60.0, 60.0, 60.0, 7.5e6 * 60, 5e6 * 60, 60.0, 2e6 * 60, "counter", 1)
            )
    elapsed = time.perf_counter() - started
    store.close()
    return devices * minutes / elapsed, elapsed, rows


def table_bytes(path: Path) -> dict[str, tuple[int, int]]:
    """Pages and used bytes (pages less their unused space) of each table with its indexes (``dbstat``),
    after folding the WAL into the file."""
    db = sqlite3.connect(path)
    db.execute("PRAGMA wal_checkpoint(TRUNCATE)")
    owner = dict(db.execute("SELECT name, tbl_name FROM sqlite_master WHERE type IN ('table', 'index')"))
    out: dict[str, tuple[int, int]] = {}
    for name, size, unused in db.execute("SELECT name, sum(pgsize), sum(unused) FROM dbstat GROUP BY name"):
        table = owner.get(name, name)
        pages, used = out.get(table, (0, 0))
        out[table] = (pages + int(size), used + int(size) - int(unused))
    db.close()
    return out


#: fill of a year's pages: blocks are appended (a page is full but for the part no further block fits in);
#: rollup and site tables (a page or two in the sample) take keys out of order and split pages, conservatively
#: 2/3 full; the raw row tables are counted by their pages as measured
FILL = {"packed blocks": 0.97}
ROW_FILL = 2 / 3


def _rows(path: Path, table: str) -> int:
    db = sqlite3.connect(path)
    count = int(db.execute(f"SELECT count(*) FROM {table}").fetchone()[0])
    db.close()
    return count


def _spans(path: Path) -> dict[int, tuple[int, int, int]]:
    """span -> (blocks, payload bytes, polls) of the packed blocks."""
    db = sqlite3.connect(path)
    rows = db.execute("SELECT span_s, count(*), sum(length(data)), sum(polls) FROM raw_block GROUP BY span_s")
    out = {int(span): (int(n), int(size), int(polls)) for span, n, size, polls in rows}
    db.close()
    return out


def _hot_polls(path: Path) -> tuple[int, int]:
    db = sqlite3.connect(path)
    hot = int(db.execute("SELECT count(*) FROM polls").fetchone()[0])
    packed = int(db.execute("SELECT coalesce(sum(polls), 0) FROM raw_block").fetchone()[0])
    db.close()
    return hot, packed


def report_size(label: str, path: Path, devices: int, minutes: int) -> float:
    """Print the per-table breakdown and the extrapolated year; returns the year [GB]."""
    sizes = table_bytes(path)
    polls = devices * minutes
    hot, packed = _hot_polls(path)
    total = sum(pages for pages, _used in sizes.values())
    page = sqlite3.connect(path).execute("PRAGMA page_size").fetchone()[0]
    print(
        f"\n{label}, {page} B pages: {total / polls:,.1f} bytes of pages per device-poll in the sample "
        f"({total / 1e6:.2f} MB, {polls} polls; a small sample leaves many pages part-empty)"
    )
    groups: dict[str, int] = {}
    for table, (pages, used) in sorted(sizes.items(), key=lambda kv: -kv[1][1]):
        print(f"  {table:<20} {pages / 1e6:8.3f} MB pages {used / 1e6:8.3f} MB used  {used / polls:7.2f} B/device-poll")
        group = GROUPS.get(table, "schema")
        # the row tables of raw rows fill MBs in the sample: their pages as they are
        kept = pages if group == "hot rows (open hour)" else round(used / FILL.get(group, ROW_FILL))
        groups[group] = groups.get(group, 0) + kept
    hot_bytes = groups.get("hot rows (open hour)", 0)
    per_hot = hot_bytes / max(hot, 1)
    per_packed = groups.get("packed blocks", 0) / packed if packed else 0.0
    spans = _spans(path)
    if 86400 in spans:
        # a year is day blocks but for the last day or two: their payload per poll, plus each block's row
        # and index entry (measured over all blocks), over the page fill
        blocks = sum(n for n, _b, _p in spans.values())
        payload = sum(b for _n, b, _p in spans.values())
        overhead = max(sizes.get("raw_block", (0, 0))[1] - payload, 0) / blocks
        n, day_bytes, day_polls = spans[86400]
        per_packed = (day_bytes / day_polls + overhead / 1440) / FILL["packed blocks"]
    for span, (n, payload_b, count) in sorted(spans.items()):
        print(f"  {n} blocks of {span} s: {payload_b / count:.2f} B of payload per poll ({count} polls)")
    year = {
        # a year of polls packed, or (before) a year of row tables
        "raw readings, polls, device energy": (per_packed if packed else per_hot) * YEAR_POLLS,
        # one open hour stays in the row tables (pages of the hours packed before are reused)
        "open hour, hot": (per_hot * 1000 * 60) if packed else 0.0,
        # an hourly and a daily row per device: bytes per row measured, rows of a year counted
        "device rollups": groups.get("device rollups", 0) / max(_rows(path, "device_rollup"), 1) * 1000 * (8760 + 365),
        "names (devices, quantities)": groups.get("names", 0) * 1000 / devices,
        "site intervals + rollups (one site)": groups.get("site intervals + rollups", 0) / minutes * 525_600,
    }
    per_poll_year = sum(year.values()) / YEAR_POLLS
    print(
        f"  EXTRAPOLATED to 1,000 devices at 1-min polls for a year: {sum(year.values()) / 1e9:.2f} GB "
        f"({per_poll_year:.1f} B per device-poll all-in; a packed poll {per_packed:.1f} B, a hot row-table poll "
        f"{per_hot:.0f} B; used bytes / fill {FILL['packed blocks']} for blocks, {ROW_FILL:.2f} for rollups):"
    )
    for what, size in year.items():
        print(f"    {what:<38} {size / 1e9:7.2f} GB")
    return sum(year.values()) / 1e9


def bench_monthly_table(directory: Path) -> tuple[float, float, int]:
    result = simulate(load_site_weather("guiyang"), days=365, step_s=900.0)
    csv_path = directory / "twin.csv"
    write_site_history(result, csv_path)
    from agent.history.importer import import_history

    store = SqliteHistoryStore(directory / "year.sqlite")
    started = time.perf_counter()
    count = import_history(store, csv_path, it_category=1)
    import_s = time.perf_counter() - started
    started, cpu = time.perf_counter(), time.process_time()
    report = period_report(store, T0, T0 + 365 * 86400.0, load_emission_factor("cn-mee-2023-southern"))
    table_s = time.perf_counter() - started
    print(f"annual report data {table_s * 1e3:.0f} ms wall, {(time.process_time() - cpu) * 1e3:.0f} ms CPU")
    assert len(report.months) == 12 and report.total.pue is not None
    store.close()
    return import_s, table_s, count


def bench_raw_read(path: Path, devices: int) -> tuple[float, int]:
    """Seconds to read every raw row of every device back (blocks decoded, hot rows merged)."""
    store = SqliteHistoryStore(path, readonly=True)
    started = time.perf_counter()
    rows = 0
    for device in store.raw_devices()[:devices]:
        block = store.raw_rows(device, 0, math.inf)
        rows += sum(block.counts)
    elapsed = time.perf_counter() - started
    store.close()
    return elapsed, rows


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--devices", type=int, default=10)
    parser.add_argument(
        "--minutes",
        type=int,
        default=2940,
        help="at least 61 (an hour closes and is packed); 2,940 (49 h): every device has merged its first day",
    )
    parser.add_argument("--skip-before", action="store_true", help="do not measure the unpacked row tables")
    args = parser.parse_args()
    with tempfile.TemporaryDirectory() as tmp:
        directory = Path(tmp)
        runs = [("packed hours", True)] + ([] if args.skip_before else [("unpacked rows (pack=False)", False)])
        years = {}
        for label, pack in runs:
            path = directory / f"writes-{pack}.sqlite"
            polls_s, elapsed, rows = bench_writes(path, args.devices, args.minutes, pack)
            print(
                f"\nwrites, {label}: {args.devices} devices x {args.minutes} polls in {elapsed:.1f} s: "
                f"{rows / elapsed:,.0f} rows/s, {polls_s:,.0f} poll transactions/s "
                f"(a 1,000-device site at 1-min polls needs {1000 / 60:.0f} polls/s)"
            )
            years[label] = report_size(label, path, args.devices, args.minutes)
            read_s, read_rows = bench_raw_read(path, args.devices)
            print(f"  raw read-back: {read_rows:,} rows of {args.devices} devices in {read_s:.2f} s")
        if len(years) == 2:
            after, before = years.values()
            print(f"\nyear for 1,000 devices at 1-min polls: {before:.1f} GB before, {after:.2f} GB after")
        import_s, table_s, count = bench_monthly_table(directory)
        print(
            f"\nyear at 15 min: import {count} intervals in {import_s:.2f} s; annual report data "
            f"(monthly PUE table, gaps, daily PUE vs temperature) in {table_s * 1e3:.0f} ms"
        )


if __name__ == "__main__":
    main()
