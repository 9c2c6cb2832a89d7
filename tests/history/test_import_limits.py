"""``pue-agent import`` through the real CLI on a real SQLite file: implausible values, bad bytes,
all-or-nothing in batches, bounded memory; and no export or report ever shows inf/nan."""

from __future__ import annotations

import math
import os
import sqlite3
import subprocess
import sys
from pathlib import Path

import pytest

from agent.errors import HistoryQueryError
from agent.history.export import EXPORT_COLUMNS, format_row
from agent.history.records import SiteInterval
from agent.history.store import SqliteHistoryStore

EXE = str(Path(sys.executable).with_name("pue-agent"))
T0 = 1_767_225_600  # 2026-01-01T00:00:00Z
HEADER = "timestamp,interval_s,facility_power_w,it_power_w,cooling_power_w,pue,renewable_energy_kwh\n"


def _cli(*args: str | Path) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, *map(str, args)], capture_output=True, text=True, check=False, timeout=600)


def _dump(db: Path) -> list[str]:
    with sqlite3.connect(db) as conn:
        return list(conn.iterdump())


@pytest.fixture
def db(tmp_path: Path) -> Path:
    """A history database holding one day of hourly data from an earlier import."""
    path = tmp_path / "history.sqlite"
    with SqliteHistoryStore(path) as store:
        store.import_site_intervals(
            SiteInterval(
                T0 - 86400.0 + 3600.0 * h, 3600.0, 3600.0, 1.5e5 * 3600, 1e5 * 3600, 0.0, 0.0, "imported", 1, "import"
            )
            for h in range(24)
        )
    return path


def _rows(n: int, start_s: int = T0) -> str:
    return "".join(
        f"{format_row(start_s + 3600 * k, 3600.0, 3600.0, 1.5e5 * 3600, 1e5 * 3600, 0.0, 0.0, {}, None, (), ())[0]},"
        "3600,150000,100000,30000,1.5,\n"
        for k in range(n)
    )


@pytest.mark.parametrize(
    ("bad_row", "where", "says"),
    [
        # 1e308 W x 3600 s is inf J: stored energy Inf, export "inf", report "inf kWh"
        ("3600,1e308,100000,30000,,", ":4:3: facility_power_w:", "1e308 is outside [0, 1e+10]"),
        # a denormal IT power makes the PUE 1.5e305
        ("3600,150000,1e-300,30000,,", ":4:4: it_power_w:", "at least 1 W"),
        ("3600,150000000,1000,30000,,", ":4:3: facility_power_w:", "PUE 1.5e+05"),
        ("3600,150000,100000,1e308,,", ":4:5: cooling_power_w:", "is outside"),
        ("3600,150000,100000,30000,1.5,1e308", ":4:7: renewable_energy_kwh:", "is outside"),
        ("3600,150000,100000,30000,nan,", ":4:6: pue:", "not a finite number"),
    ],
)
def test_implausible_values_are_refused_with_line_and_column(
    db: Path, tmp_path: Path, bad_row: str, where: str, says: str
) -> None:
    csv_path = tmp_path / "bad.csv"
    csv_path.write_text(HEADER + _rows(2) + f"2026-01-01T02:00:00Z,{bad_row}\n" + _rows(2, T0 + 3 * 3600))
    before = _dump(db)
    done = _cli("import", "--db", db, "--history", csv_path)
    assert done.returncode == 2, done.stdout + done.stderr
    lines = done.stderr.splitlines()
    assert len(lines) == 1 and "Traceback" not in done.stderr, done.stderr
    assert f"{csv_path}{where}" in lines[0] and says in lines[0] and "nothing imported" in lines[0], lines[0]
    assert _dump(db) == before


def test_a_bad_byte_is_reported_on_its_own_line(db: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "latin1.csv"
    good = (HEADER + _rows(2)).encode()
    bad = b"2026-01-01T02:00:00Z,3600,150000,100000,30000,1.5,caf\xe9\n"  # Latin-1, byte 54
    csv_path.write_bytes(good + bad + _rows(2, T0 + 3 * 3600).encode())
    before = _dump(db)
    done = _cli("import", "--db", db, "--history", csv_path)
    assert done.returncode == 2
    assert done.stderr.splitlines() == [
        f"pue-agent import: {csv_path}:4:54: row: not UTF-8 text (byte 0xe9) (nothing imported)"
    ], done.stderr
    assert _dump(db) == before


def test_an_error_after_many_batches_rolls_everything_back(db: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "long.csv"
    n = 5000  # more than two store batches are written before the bad row
    csv_path.write_text(
        HEADER + _rows(n) + f"{format_row(T0 + 3600 * n, 3600, 0, 0, 0, 0, 0, {}, None, (), ())[0]},"
        "3600,abc,100000,,,\n"
    )
    before = _dump(db)
    done = _cli("import", "--db", db, "--history", csv_path)
    assert done.returncode == 2
    assert f"{csv_path}:{n + 2}:3: facility_power_w: not a number: 'abc'" in done.stderr
    assert _dump(db) == before
    # the same rows without the bad one: all of them, no progress line on a non-terminal stderr
    csv_path.write_text(HEADER + _rows(n))
    done = _cli("import", "--db", db, "--history", csv_path)
    assert done.returncode == 0 and done.stderr == "", done.stderr
    with SqliteHistoryStore(db, readonly=True) as store:
        assert store.count("site_interval") == 24 + n


def test_an_overlap_names_the_line_and_changes_nothing(db: Path, tmp_path: Path) -> None:
    csv_path = tmp_path / "overlap.csv"
    csv_path.write_text(HEADER + _rows(3, T0 - 2 * 3600))
    before = _dump(db)
    done = _cli("import", "--db", db, "--history", csv_path, "--progress")
    assert done.returncode == 2
    assert f"{csv_path}:2:1: timestamp: interval starting 2025-12-31T22:00:00Z overlaps stored data" in done.stderr
    assert "import: " in done.stderr  # the progress line was asked for
    assert _dump(db) == before


def _peak_rss_kb(*args: str | Path) -> int:
    with subprocess.Popen([EXE, *map(str, args)], stdout=subprocess.DEVNULL, stderr=subprocess.PIPE) as proc:
        _pid, status, usage = os.wait4(proc.pid, 0)
        assert os.waitstatus_to_exitcode(status) == 0, proc.stderr.read() if proc.stderr else ""
        proc.returncode = 0
    return int(usage.ru_maxrss)


def _export_rows(path: Path, n: int, first: int = 0) -> None:
    conditions = {"outdoor_dry_bulb_c": 12.5, "outdoor_wet_bulb_c": 9.0, "supply_air_setpoint_c": 22.0}
    with path.open("w") as fh:
        fh.write(",".join(EXPORT_COLUMNS) + "\n")
        for k in range(first, first + n):
            row = format_row(
                T0 + 60 * k, 60.0, 60.0, 1.3e6 * 60, 1e6 * 60, 60.0, 2.5e5 * 60, conditions, 25.0, ("counter",), (1,)
            )
            fh.write(",".join(row) + "\n")


@pytest.mark.slow
def test_import_memory_does_not_grow_with_the_file(tmp_path: Path) -> None:
    small, large = tmp_path / "small.csv", tmp_path / "large.csv"
    _export_rows(small, 10_000)
    _export_rows(large, 200_000)
    small_kb = _peak_rss_kb("import", "--db", tmp_path / "small.sqlite", "--history", small)
    large_kb = _peak_rss_kb("import", "--db", tmp_path / "large.sqlite", "--history", large)
    # the old importer held every parsed row (about 550 bytes each): 190,000 more rows took ~100 MB more
    assert large_kb - small_kb < 30 * 1024, (small_kb, large_kb)


def test_the_store_refuses_non_finite_amounts(tmp_path: Path) -> None:
    with SqliteHistoryStore(tmp_path / "h.sqlite") as store:
        for bad in (math.inf, math.nan, -1.0):
            with pytest.raises(HistoryQueryError, match="facility_j"):
                store.record_site_interval(SiteInterval(T0, 60.0, 60.0, bad, 6e6, 0.0, 0.0, "counter"))
        with pytest.raises(HistoryQueryError, match="renewable_j"):
            store.import_site_intervals(
                [SiteInterval(T0, 60.0, 60.0, 9e6, 6e6, 0.0, 0.0, "imported", terms={"renewable_j": (60.0, math.inf)})]
            )
        # an unknown condition is stored as unknown, not as nan/inf
        store.record_site_interval(
            SiteInterval(T0, 60.0, 60.0, 9e6, 6e6, 0.0, 0.0, "counter", conditions={"outdoor_dry_bulb_c": math.inf})
        )
        assert store.site_intervals(T0, T0 + 60)[0].conditions == {}
        assert store.count("site_interval") == 1


def test_export_and_report_never_show_inf_from_an_old_import(db: Path, tmp_path: Path) -> None:
    with sqlite3.connect(db) as conn:  # what the unchecked importer stored for a 1e308 W row
        conn.execute("UPDATE site_interval SET facility_j = 9e999 WHERE start_s = ?", (T0 - 3600,))
        conn.execute("UPDATE site_rollup SET facility_j = 9e999 WHERE start_s >= ?", (T0 - 86400,))
    out = tmp_path / "out.csv"
    done = _cli("export", "--db", db, "--from", "2025-12-31", "--to", "2025-12-31", "--resolution", "1h", "--out", out)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stderr
    assert "non-finite" in done.stderr and not out.exists()
    report = tmp_path / "r.html"
    done = _cli("report", "--db", db, "--period", "2025-12-31..2025-12-31", "--out", report)
    assert done.returncode == 2 and len(done.stderr.splitlines()) == 1, done.stdout + done.stderr
    assert "inf" not in done.stdout.lower() and "non-finite" in done.stderr and not report.exists()
