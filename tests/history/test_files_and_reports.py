"""Export/import round trips, import errors, CLI exit codes, rendered reports, savings vs the twin."""

from __future__ import annotations

import csv
import dataclasses
import shutil
import sqlite3
import subprocess
import sys
from datetime import datetime, timedelta
from pathlib import Path
from zoneinfo import ZoneInfo

import numpy as np
import pytest

import agent
from agent.app.cli import main
from agent.config.site import SiteConfig
from agent.history.export import EXPORT_COLUMNS, export_history
from agent.history.importer import import_history
from agent.history.store import SqliteHistoryStore
from agent.reports.periods import parse_period
from agent.reports.report import load_emission_factor, savings_report
from tests.history.conftest import make_site
from twin.history_csv import SITE_HISTORY_COLUMNS, write_site_history
from twin.simulate import SimulationResult, simulate
from twin.weather import load_site_weather

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


@pytest.fixture(scope="module")
def twin_year(
    tmp_path_factory: pytest.TempPathFactory,
) -> tuple[Path, SimulationResult, SimulationResult, int]:
    """A twin year at 60-min steps: baseline controller until July, oracle after; plus both full runs."""
    weather = load_site_weather("guiyang")
    base = simulate(weather, days=364, step_s=3600.0, controller="baseline")
    oracle = simulate(weather, days=364, step_s=3600.0, controller="oracle")
    change = 182 * 24
    arrays = {
        f.name: np.concatenate([getattr(base, f.name)[:change], getattr(oracle, f.name)[change:]])
        for f in dataclasses.fields(SimulationResult)
        if f.name != "interval_s"
    }
    mixed = SimulationResult(interval_s=3600.0, **arrays)
    path = tmp_path_factory.mktemp("twin") / "twin.csv"
    write_site_history(mixed, path)
    return path, base, oracle, change


@pytest.fixture(scope="module")
def twin_db(
    twin_year: tuple[Path, SimulationResult, SimulationResult, int], tmp_path_factory: pytest.TempPathFactory
) -> Path:
    db = tmp_path_factory.mktemp("db") / "twin.sqlite"
    assert main(["import", "--db", str(db), "--history", str(twin_year[0]), "--it-category", "1"]) == 0
    return db


def _read(path: Path) -> list[list[str]]:
    with path.open(newline="") as fh:
        return list(csv.reader(fh))


def test_twin_csv_import_export_keeps_the_canonical_columns(twin_year, twin_db: Path, tmp_path: Path) -> None:
    out = tmp_path / "out.csv"
    assert (
        main(
            [
                "export",
                "--db",
                str(twin_db),
                "--from",
                "2026-01-01",
                "--to",
                "2026-12-30",
                "--resolution",
                "1h",
                "--format",
                "csv",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    exported, original = _read(out), _read(twin_year[0])
    assert tuple(exported[0]) == EXPORT_COLUMNS and tuple(exported[0][:13]) == SITE_HISTORY_COLUMNS
    assert len(exported) == len(original)
    pue = SITE_HISTORY_COLUMNS.index("pue")
    for got, want in zip(exported[1:], original[1:], strict=True):
        assert got[:pue] == want[:pue]
        assert abs(float(got[pue]) - float(want[pue])) <= 1.5e-4  # ours: ratio of the rounded powers
        assert got[EXPORT_COLUMNS.index("coverage")] == "1.000000"


def test_export_import_export_is_byte_identical_with_gaps(
    cfg: SiteConfig, store: SqliteHistoryStore, tmp_path: Path
) -> None:
    site = make_site(cfg, store, modulus_j={"meter-main": 2e9})
    for k in range(3 * 60 + 1):
        site.step(T0 + 60.0 * k, 60.0, down=frozenset({"ups-a"}) if 70 <= k < 95 else frozenset())
    for resolution in (60, 900, 3600):
        first = tmp_path / f"first-{resolution}.csv"
        export_history(store, T0, T0 + 86400, resolution, first, "csv")
        other = SqliteHistoryStore(tmp_path / f"other-{resolution}.sqlite")
        import_history(other, first)
        second = tmp_path / f"second-{resolution}.csv"
        export_history(other, T0, T0 + 86400, resolution, second, "csv")
        other.close()
        assert first.read_bytes() == second.read_bytes()
    rows = _read(tmp_path / "first-900.csv")
    coverage = [float(r[EXPORT_COLUMNS.index("coverage")]) for r in rows[1:]]
    assert min(coverage) < 1.0 and rows[1][EXPORT_COLUMNS.index("energy_method")] == "counter"


def test_parquet_and_xlsx_exports(twin_db: Path, tmp_path: Path) -> None:
    import pyarrow.parquet as pq
    from openpyxl import load_workbook

    store = SqliteHistoryStore(twin_db, readonly=True)
    export_history(store, T0, T0 + 31 * 86400, 86400, tmp_path / "h.parquet", "parquet")
    export_history(store, T0, T0 + 31 * 86400, 86400, tmp_path / "h.xlsx", "xlsx")
    store.close()
    table = pq.read_table(tmp_path / "h.parquet")
    assert table.column_names == list(EXPORT_COLUMNS) and table.num_rows == 31
    sheet = load_workbook(tmp_path / "h.xlsx").active
    assert [c.value for c in sheet[1]] == list(EXPORT_COLUMNS) and sheet.max_row == 32


def test_xlsx_has_local_datetimes_units_and_a_frozen_header(twin_db: Path, tmp_path: Path) -> None:
    """Excel sees real date-times in the site's zone (not text, not UTC), numbers as numbers, a units sheet."""
    from openpyxl import load_workbook

    shanghai = ZoneInfo("Asia/Shanghai")
    store = SqliteHistoryStore(twin_db, readonly=True)
    out = tmp_path / "h.xlsx"
    meta = {"site": "guiyang-hall-1", "period": "2026-01"}
    export_history(store, T0, T0 + 2 * 86400, 3600, out, "xlsx", tz=shanghai, metadata=meta)
    store.close()
    book = load_workbook(out)
    assert book.sheetnames == ["history", "units"]
    sheet = book["history"]
    assert sheet.freeze_panes == "B2"
    first = sheet.cell(row=2, column=1)
    assert first.is_date and isinstance(first.value, datetime)
    assert first.value == datetime.fromtimestamp(T0, shanghai).replace(tzinfo=None)  # 08:00 local, not 00:00 UTC
    assert sheet.cell(row=3, column=1).value - first.value == timedelta(hours=1)
    header = [c.value for c in sheet[1]]
    for name in ("facility_power_w", "pue", "coverage"):
        cell = sheet.cell(row=2, column=header.index(name) + 1)
        assert cell.data_type == "n" and isinstance(cell.value, int | float), name  # 1.0 reads back as 1
    about = {row[0]: row[1] for row in book["units"].iter_rows(values_only=True) if row and row[0]}
    assert about["site"] == "guiyang-hall-1" and about["period"] == "2026-01"
    assert about["time zone"] == "Asia/Shanghai (UTC+08:00)"
    assert about["software"] == f"pue-agent {agent.__version__}"
    units = {row[0]: row[1] for row in book["units"].iter_rows(values_only=True) if row and len(row) > 2}
    assert {name for name in EXPORT_COLUMNS} <= set(units)
    assert units["facility_power_w"] == "W" and units["facility_energy_kwh"] == "kWh"


BAD_CSV = """timestamp,interval_s,facility_power_w,it_power_w,pue
2026-01-01T00:00:00Z,3600,150000,100000,1.5
2026-01-01T01:00:00Z,3600,abc,100000,
2026-01-01T02:00:00,3600,150000,100000,
2026-01-01T03:00:00Z,3600,90000,100000,
2026-01-01T04:00:00Z,3600,150000,100000,1.7
2026-01-01T05:00:00Z,-5,150000,100000,
"""


def test_import_errors_name_lines_and_columns_and_change_nothing(
    twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    bad = tmp_path / "bad.csv"
    bad.write_text(BAD_CSV)
    db = tmp_path / "h.sqlite"
    assert main(["import", "--db", str(db), "--history", str(bad)]) == 2
    err = capsys.readouterr().err
    for expected in (
        f"{bad}:3:3: facility_power_w: not a number: 'abc'",
        f"{bad}:4:1: timestamp:",
        "has no time zone",
        f"{bad}:5:3: facility_power_w:",
        "below it_power_w",
        f"{bad}:6:5: pue: 1.7 disagrees",
        f"{bad}:7:2: interval_s:",
        "nothing imported",
    ):
        assert expected in err
    with SqliteHistoryStore(db) as store:
        assert store.count("site_interval") == 0
    header = tmp_path / "header.csv"
    header.write_text("timestamp,interval_s,facility_kw,it_power_w\n")
    assert main(["import", "--db", str(db), "--history", str(header)]) == 2
    err = capsys.readouterr().err
    assert "unknown column(s) 'facility_kw'" in err and "facility_power_w" in err


def test_overlapping_import_is_refused_whole(twin_year, twin_db: Path, tmp_path: Path) -> None:
    db = tmp_path / "copy.sqlite"
    shutil.copy(twin_db, db)
    before = SqliteHistoryStore(db, readonly=True)
    n = before.count("site_interval")
    before.close()
    assert main(["import", "--db", str(db), "--history", str(twin_year[0])]) == 2
    with SqliteHistoryStore(db, readonly=True) as after:
        assert after.count("site_interval") == n


def test_cli_bad_inputs_exit_2(twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    assert main(["export", "--from", "2026-01-01", "--to", "2026-02-01", "--out", str(tmp_path / "x.csv")]) == 2
    assert "--db" in capsys.readouterr().err
    assert (
        main(
            [
                "export",
                "--db",
                str(tmp_path / "none.sqlite"),
                "--from",
                "2026-01-01",
                "--to",
                "2026-02-01",
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )
    assert "no such file" in capsys.readouterr().err
    assert main(["report", "--db", str(twin_db), "--period", "2026-13", "--out", str(tmp_path / "r.pdf")]) == 2
    assert "not a date" in capsys.readouterr().err
    assert (
        main(
            [
                "report",
                "--db",
                str(twin_db),
                "--period",
                "2026",
                "--out",
                str(tmp_path / "r.pdf"),
                "--emission-factor",
                "mars-2023",
            ]
        )
        == 2
    )
    assert "unknown emission factor 'mars-2023'" in capsys.readouterr().err
    assert main(["report", "--db", str(twin_db), "--period", "2026", "--out", str(tmp_path / "r.docx")]) == 2
    assert (
        main(
            [
                "export",
                "--db",
                str(twin_db),
                "--from",
                "2026-01-01",
                "--to",
                "2026-01-02",
                "--resolution",
                "15min",
                "--out",
                str(tmp_path / "x.csv"),
            ]
        )
        == 2
    )
    assert "coarser" in capsys.readouterr().err


def _csv_rows(path: Path) -> list[dict[str, str]]:
    with path.open(newline="") as f:
        return list(csv.DictReader(f))


def test_export_between_iso_times(twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """--from/--to take ISO times (the end excluded) as well as days (the last included)."""
    out = tmp_path / "x.csv"
    hours = ["--resolution", "1h", "--out", str(out)]
    assert (
        main(["export", "--db", str(twin_db), "--from", "2026-01-01T06:00Z", "--to", "2026-01-01T12:00Z", *hours]) == 0
    )
    assert [r["timestamp"] for r in _csv_rows(out)] == [f"2026-01-01T{h:02d}:00:00Z" for h in range(6, 12)]
    assert main(["export", "--db", str(twin_db), "--from", "2026-01-01", "--to", "2026-01-01T02:00Z", *hours]) == 0
    assert len(_csv_rows(out)) == 2
    assert main(["export", "--db", str(twin_db), "--from", "2026-01-02T00:00Z", "--to", "2026-01-01", *hours]) == 2
    assert "ends before it starts" in capsys.readouterr().err


def test_read_only_database_cli(twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "ro.sqlite"
    shutil.copy(twin_db, db)
    db.chmod(0o444)
    try:
        src = tmp_path / "one.csv"
        src.write_text("timestamp,interval_s,facility_power_w,it_power_w\n2030-01-01T00:00:00Z,3600,2,1\n")
        assert main(["import", "--db", str(db), "--history", str(src)]) == 2
        assert "read-only" in capsys.readouterr().err
        assert (
            main(
                [
                    "export",
                    "--db",
                    str(db),
                    "--from",
                    "2026-01-01",
                    "--to",
                    "2026-01-01",
                    "--resolution",
                    "1h",
                    "--out",
                    str(tmp_path / "ok.csv"),
                ]
            )
            == 0
        )
    finally:
        db.chmod(0o644)


EXE = Path(sys.executable).with_name("pue-agent")


def _on_read_only_mount(media: Path, *command: str) -> subprocess.CompletedProcess[str]:
    """``pue-agent command`` with ``media`` mounted read-only (a bind mount in a private mount namespace: the
    tests run as root, whom file modes do not stop, but a read-only mount stops everyone)."""
    script = (
        'mount --bind "$1" "$1" && mount -o remount,bind,ro "$1" && ! touch "$1/probe" 2>/dev/null || exit 97\n'
        'shift; exec "$@"'
    )
    run = subprocess.run(
        ["unshare", "--mount", "sh", "-c", script, "sh", str(media), str(EXE), *command],
        capture_output=True,
        text=True,
        timeout=120,
    )
    if run.returncode == 97 or "unshare failed" in run.stderr or "Operation not permitted" in run.stderr:
        pytest.skip(f"no private read-only mount here: {run.stderr.strip()[-300:]}")
    return run


def test_export_and_report_from_a_read_only_mount(twin_db: Path, tmp_path: Path) -> None:
    """An archive on read-only media: SQLite cannot create the WAL index next to the file, so the plain
    read-only open fails ("unable to open database file"); the store reads it as immutable instead, and
    export and report give exactly what they give from a writable copy."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) missing")
    media, writable = tmp_path / "media", tmp_path / "writable"
    media.mkdir()
    writable.mkdir()
    shutil.copy(twin_db, media / "h.sqlite")
    shutil.copy(twin_db, writable / "h.sqlite")
    out = {"media": tmp_path / "out-media", "writable": tmp_path / "out-writable"}
    for d in out.values():
        d.mkdir()
    results = {}
    for where, db in (("media", media / "h.sqlite"), ("writable", writable / "h.sqlite")):
        export = [
            "export",
            "--db",
            str(db),
            "--from",
            "2026-03-01",
            "--to",
            "2026-03-31",
            "--resolution",
            "1h",
            "--out",
            str(out[where] / "h.csv"),
        ]
        report = ["report", "--db", str(db), "--period", "2026-03", "--out", str(out[where] / "r.html")]
        runs = (
            [_on_read_only_mount(media, *export), _on_read_only_mount(media, *report)]
            if where == "media"
            else [subprocess.run([str(EXE), *c], capture_output=True, text=True, timeout=120) for c in (export, report)]
        )
        for run in runs:
            assert run.returncode == 0, run.stderr[-2000:]
        results[where] = [run.stdout.replace(str(out[where]), "OUT") for run in runs]
    assert results["media"] == results["writable"]
    assert (out["media"] / "h.csv").read_bytes() == (out["writable"] / "h.csv").read_bytes()
    assert (out["media"] / "h.csv").stat().st_size > 100_000  # a month at 1 h
    assert not list(media.glob("h.sqlite-*"))  # nothing written next to the archive


def test_a_read_only_copy_with_pending_wal_is_refused_not_read_short(twin_db: Path, tmp_path: Path) -> None:
    """Copied while an agent was writing it: the newest writes are still in the -wal file, which an immutable
    read would ignore; rather than a silently short export, exit 2 saying what to do."""
    if shutil.which("unshare") is None:
        pytest.skip("unshare (util-linux) missing")
    live, media = tmp_path / "live.sqlite", tmp_path / "media"
    media.mkdir()
    shutil.copy(twin_db, live)
    writer = sqlite3.connect(live)
    writer.execute("PRAGMA journal_mode=WAL")
    writer.execute("PRAGMA wal_autocheckpoint=0")
    writer.execute("INSERT OR REPLACE INTO meta VALUES ('note', 'written after the copy began')")
    writer.commit()
    for suffix in ("", "-wal"):
        shutil.copy(f"{live}{suffix}", media / f"h.sqlite{suffix}")
    writer.close()
    run = _on_read_only_mount(
        media,
        "export",
        "--db",
        str(media / "h.sqlite"),
        "--from",
        "2026-03-01",
        "--to",
        "2026-03-31",
        "--out",
        str(tmp_path / "h.csv"),
    )
    assert run.returncode == 2, run.stderr
    assert "h.sqlite-wal" in run.stderr and "read-only media" in run.stderr, run.stderr
    assert "Traceback" not in run.stderr


def test_periods() -> None:
    assert parse_period("2026") == (T0, 1_798_761_600.0)
    assert parse_period("2026-12") == (1_796_083_200.0, 1_798_761_600.0)
    assert parse_period("2026-01-01..2026-01-31") == (T0, T0 + 31 * 86400)


def _non_blank_share(png: Path) -> float:
    from PIL import Image

    pixels = np.asarray(Image.open(png).convert("L"), dtype=float)
    return float((pixels < 240).mean())


@pytest.mark.skipif(shutil.which("pdftoppm") is None, reason="needs pdftoppm (Debian poppler-utils)")
def test_annual_report_renders_with_charts(twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    out = tmp_path / "report.pdf"
    assert (
        main(
            [
                "report",
                "--db",
                str(twin_db),
                "--period",
                "2026",
                "--out",
                str(out),
                "--emission-factor",
                "cn-mee-2023-southern",
            ]
        )
        == 0
    )
    text = capsys.readouterr().out
    # a 12-month period: an annual figure with its category and a grade; the twin's IT is at the UPS output
    assert (
        "PUE1 over 12 months (2026-01-01 00:00 to 2027-01-01 00:00 UTC): 1.3" in text
        or "PUE1 over 12 months (2026-01-01 00:00 to 2027-01-01 00:00 UTC): 1.4" in text
    )
    assert "annual figure" in text and "GB 40879-2021: grade" in text
    assert "cn-mee-2023-southern" in text
    assert "Coverage: 99.73%" in text  # the twin ran 364 days: 31 Dec is a gap, stated, not hidden
    subprocess.run(["pdftoppm", "-r", "30", "-png", str(out), str(tmp_path / "page")], check=True)
    pages = sorted(tmp_path.glob("page-*.png"))
    assert len(pages) >= 5  # the cover, the sections (one page or more), three charts
    shares = [_non_blank_share(p) for p in pages]
    assert all(s > 0.03 for s in shares[-3:]), shares  # charts: bars, stacked bars, scatter
    cover = subprocess.run(["pdftotext", "-l", "1", str(out), "-"], check=True, capture_output=True, text=True).stdout
    assert "Data centre energy efficiency audit report" in cover and "Report number" in cover
    html_out = tmp_path / "report.html"
    assert main(["report", "--db", str(twin_db), "--period", "2026-03", "--out", str(html_out)]) == 0
    assert html_out.read_text().count("data:image/png;base64,") == 3


def test_verified_saving_matches_the_twin_truth(twin_year, twin_db: Path, tmp_path: Path) -> None:
    _, base, oracle, change = twin_year
    factor = load_emission_factor("cn-mee-2023-southern")
    store = SqliteHistoryStore(twin_db, readonly=True)
    report = savings_report(
        store, parse_period("2026-01-01..2026-07-01"), parse_period("2026-07-02..2026-12-30"), factor
    )
    store.close()
    # the twin's truth over the same days: the baseline controller's facility energy minus the oracle's,
    # with the extra IT energy the oracle's warmer air drew valued at the baseline's own PUE
    days = slice(change, change + report.savings.days * 24)  # 2 July is day 182, the first oracle day
    fac_saved = float((base.facility_power_w[days] - oracle.facility_power_w[days]).sum()) / 1e3
    extra_it = float((oracle.it_power_w[days] - base.it_power_w[days]).sum()) / 1e3
    baseline_pue = float(base.facility_power_w[days].sum() / base.it_power_w[days].sum())
    truth = fac_saved + extra_it * baseline_pue
    s = report.savings
    assert s.significant and report.excluded_days == 0
    assert abs(s.saved_kwh - truth) <= s.uncertainty_kwh, (s.saved_kwh, truth, s.uncertainty_kwh)
    assert report.saved_t_co2 == pytest.approx(s.saved_kwh * 0.4042 / 1000)
    out = tmp_path / "savings.pdf"
    assert (
        main(
            [
                "report",
                "--db",
                str(twin_db),
                "--baseline",
                "2026-01-01..2026-07-01",
                "--compare",
                "2026-07-02..2026-12-30",
                "--out",
                str(out),
            ]
        )
        == 0
    )
    assert out.stat().st_size > 10_000


def test_periods_in_the_site_time_zone(twin_db: Path, tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    """A Guizhou auditor's March is Beijing time: 2026-02-28T16:00Z to 2026-03-31T16:00Z, not the UTC month."""
    from zoneinfo import ZoneInfo

    from agent.reports.report import period_report

    shanghai = ZoneInfo("Asia/Shanghai")
    march_utc = parse_period("2026-03")
    march_cn = parse_period("2026-03", shanghai)
    assert march_cn == (march_utc[0] - 8 * 3600, march_utc[1] - 8 * 3600)
    explicit = parse_period("2026-03-01T12:00+00:00..2026-03-02", shanghai)  # an explicit offset wins
    assert explicit == (march_utc[0] + 12 * 3600, march_utc[0] + 2 * 86400 - 8 * 3600)
    factor = load_emission_factor("cn-mee-2023-southern")
    with SqliteHistoryStore(twin_db, readonly=True) as store:
        report = period_report(store, *parse_period("2026-03..2026-04", shanghai), factor, tz=shanghai)
        hours = store.site_rollups(3600, *march_cn)
        utc_report = period_report(store, *parse_period("2026-03..2026-04"), factor)
    assert [m for m, _ in report.months] == ["2026-03", "2026-04"]
    expected_kwh = sum(h.facility_j for h in hours) / 3.6e6
    assert report.months[0][1].facility_kwh == pytest.approx(expected_kwh, rel=1e-12)
    assert report.months[0][1].facility_kwh != pytest.approx(utc_report.months[0][1].facility_kwh, rel=1e-6)
    assert len(report.daily_pue) == len(utc_report.daily_pue) == 61  # complete local days, both ways
    # the CLI takes the zone from --timezone (or site.timezone) and says which zone the periods are in
    out = tmp_path / "march.html"
    args = ["report", "--db", str(twin_db), "--period", "2026-03", "--out", str(out)]
    assert main([*args, "--timezone", "Asia/Shanghai"]) == 0
    text = capsys.readouterr().out
    assert "2026-03-01 00:00 to 2026-04-01 00:00 Asia/Shanghai" in text
    assert "Periods are Asia/Shanghai calendar periods" in out.read_text()
    assert main([*args, "--timezone", "Asia/Guiyang"]) == 2
    assert "unknown time zone 'Asia/Guiyang'" in capsys.readouterr().err
    assert main([*args, "--timezone", "Asia/Kolkata"]) == 2  # +05:30: local days would split hourly rollups
    assert "not whole hours" in capsys.readouterr().err
    saving = savings_report(
        SqliteHistoryStore(twin_db, readonly=True),
        parse_period("2026-01-01..2026-07-01", shanghai),
        parse_period("2026-07-02..2026-12-30", shanghai),
        factor,
        tz=shanghai,
    )
    assert saving.timezone == "Asia/Shanghai"
    assert {int(s) % 86400 for s in saving.daily_start_s} == {16 * 3600}  # local midnights


def test_site_timezone_is_validated(tmp_path: Path) -> None:
    from agent.config.site import load_config
    from agent.errors import ConfigError

    text = (Path(__file__).resolve().parents[2] / "configs" / "demo-site.yaml").read_text()
    bad = tmp_path / "site.yaml"
    bad.write_text(text.replace("  pue_target: 1.3\n", "  pue_target: 1.3\n  timezone: Mars/Olympus\n", 1))
    with pytest.raises(ConfigError, match=r"site\.timezone.*unknown time zone 'Mars/Olympus'"):
        load_config(bad)
    bad.write_text(text.replace("  pue_target: 1.3\n", "  pue_target: 1.3\n  timezone: Asia/Shanghai\n", 1))
    assert load_config(bad)[0].site.timezone == "Asia/Shanghai"


def test_xlsx_from_the_cli_uses_the_site_zone_unless_timezone_overrides(twin_db: Path, tmp_path: Path) -> None:
    import yaml
    from openpyxl import load_workbook

    site = yaml.safe_load((Path(__file__).resolve().parents[2] / "configs" / "demo-site.yaml").read_text())
    site["site"]["timezone"] = "Asia/Shanghai"
    site["history"] = {"path": str(twin_db)}
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(site))
    first: dict[str, object] = {}
    zones = {"site zone": "Asia/Shanghai (UTC+08:00)", "override": "UTC (UTC+00:00)"}
    for label, extra in (("site zone", []), ("override", ["--timezone", "UTC"])):
        out = tmp_path / f"{label}.xlsx"
        args = ["export", "--config", str(config), "--from", "2026-01-02", "--to", "2026-01-02", "--resolution", "1h"]
        assert main([*args, *extra, "--out", str(out)]) == 0
        book = load_workbook(out)
        first[label] = book["history"].cell(row=2, column=1).value
        about = {row[0]: row[1] for row in book["units"].iter_rows(values_only=True) if row and row[0]}
        assert about["site"] == "demo-hall" and about["time zone"] == zones[label]
        assert book["history"].max_row == 1 + 24
    # the period 2026-01-02 is a local day: it starts at local midnight in either zone
    assert first == {"site zone": datetime(2026, 1, 2, 0, 0), "override": datetime(2026, 1, 2, 0, 0)}
