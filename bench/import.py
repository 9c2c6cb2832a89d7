"""History import benchmark: rows/s and peak RSS of ``pue-agent import`` on a CSV of a given size.

Usage: ``.venv/bin/python bench/import.py [--size-mb 1024] [--resolution-s 60] [--dir DIR] [--keep]``.

1. Writes a CSV of about ``--size-mb`` MB in exactly the format ``pue-agent export`` writes: the
   header is :data:`~agent.history.export.EXPORT_COLUMNS` and every row comes from the exporter's own
   :func:`~agent.history.export.format_row` (all boundaries filled: cooling, conditions, renewable,
   reused heat, water), one row per ``--resolution-s`` from 2026-01-01.
2. Runs the real CLI (``pue-agent import --db fresh.sqlite --history file.csv``) as a child process
   and reads its peak RSS from ``getrusage(RUSAGE_CHILDREN).ru_maxrss``.
3. Prints rows, seconds, rows/s, MB/s, the import's CPU time (rows per CPU-second stays comparable on
   a busy machine) and its peak RSS (goal: under 300 MB at any size).

The files go to a temporary directory (removed afterwards unless ``--keep``); the database and its
WAL need about as much free disk as the CSV again.
"""

from __future__ import annotations

import argparse
import csv
import math
import os
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from agent.history.export import EXPORT_COLUMNS, TERM_COLUMNS, format_row

T0 = 1_767_225_600  # 2026-01-01T00:00:00Z


def write_csv(path: Path, size_bytes: int, resolution_s: int) -> int:
    """Write export-format rows until the file holds ``size_bytes``; returns the number of rows."""
    rows = 0
    with path.open("w", newline="", encoding="utf-8") as handle:
        writer = csv.writer(handle, lineterminator="\n")
        writer.writerow(EXPORT_COLUMNS)
        while handle.tell() < size_bytes:
            batch = []
            for _ in range(2000):
                start_s = T0 + rows * resolution_s
                day = 2 * math.pi * (rows * resolution_s % 86400) / 86400
                it_w = 800_000.0 + 150_000.0 * math.sin(day)
                cooling_w = 180_000.0 + 60_000.0 * math.sin(day - 0.5)
                facility_w = it_w + cooling_w + 45_000.0
                outdoor_c = 18.0 + 8.0 * math.sin(day - 1.0)
                conditions = {
                    "outdoor_dry_bulb_c": outdoor_c,
                    "outdoor_wet_bulb_c": outdoor_c - 4.0,
                    "outdoor_rh_percent": 60.0,
                    "supply_air_setpoint_c": 22.0,
                    "chw_supply_setpoint_c": 12.0,
                    "economizer_enabled": float(outdoor_c < 15.0),
                }
                t = float(resolution_s)
                terms = {
                    name: (t, per_s * t)
                    for (name, *_), per_s in zip(TERM_COLUMNS, (it_w * 1.02, 50_000.0, 30_000.0, 0.002), strict=True)
                }
                batch.append(
                    format_row(
                        start_s,
                        t,
                        t,
                        facility_w * t,
                        it_w * t,
                        t,
                        cooling_w * t,
                        conditions,
                        26.5,
                        ("counter",),
                        (1,),
                        terms,
                    )
                )
                rows += 1
            writer.writerows(batch)
    return rows


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--size-mb", type=float, default=1024.0, help="CSV size [MB] (default 1024)")
    parser.add_argument("--resolution-s", type=int, choices=[60, 900, 3600, 86400], default=60)
    parser.add_argument("--dir", type=Path, help="where to write the CSV and the database (default: a temp dir)")
    parser.add_argument("--keep", action="store_true", help="keep the CSV and database")
    args = parser.parse_args()
    workdir = Path(tempfile.mkdtemp(prefix="bench-import-", dir=args.dir))
    csv_path, db = workdir / "history.csv", workdir / "history.sqlite"
    started = time.perf_counter()
    rows = write_csv(csv_path, int(args.size_mb * 1e6), args.resolution_s)
    size_mb = csv_path.stat().st_size / 1e6
    print(f"wrote {rows:,} rows, {size_mb:,.1f} MB in {time.perf_counter() - started:.1f} s: {csv_path}")
    cli = Path(sys.executable).with_name("pue-agent")
    started = time.perf_counter()
    done = subprocess.run(
        [str(cli), "import", "--db", str(db), "--history", str(csv_path), "--no-progress"],
        capture_output=True,
        text=True,
        check=False,
    )
    elapsed = time.perf_counter() - started
    usage = resource.getrusage(resource.RUSAGE_CHILDREN)  # the import is the only child
    peak_mb = usage.ru_maxrss / 1024  # Linux: kB
    cpu_s = usage.ru_utime + usage.ru_stime
    print(done.stdout.strip())
    if done.returncode != 0:
        print(f"import failed (exit {done.returncode}): {done.stderr.strip()[-2000:]}", file=sys.stderr)
        return 1
    db_mb = sum(p.stat().st_size for p in workdir.glob("history.sqlite*")) / 1e6
    print(
        f"import: {rows:,} rows in {elapsed:.1f} s = {rows / elapsed:,.0f} rows/s, {size_mb / elapsed:.2f} MB/s; "
        f"CPU {cpu_s:.1f} s = {rows / cpu_s:,.0f} rows per CPU-second; peak RSS {peak_mb:.0f} MB (goal < 300 MB); "
        f"database {db_mb:,.0f} MB"
    )
    if not args.keep:
        for path in workdir.iterdir():
            path.unlink()
        os.rmdir(workdir)
    return 0 if peak_mb < 300 else 1


if __name__ == "__main__":
    sys.exit(main())
