"""The audit report on a small twin period: register, bills, sub-systems, provenance, and Chinese that renders.

The twin's energy balance is the truth: facility = IT + PDU and UPS losses + lighting + CRAH fans +
chillers + towers + pumps, so the metered sub-systems leave no remainder; the bills are reconciled
against the twin's grid import (facility - PV) of the same Beijing-time days.
"""

from __future__ import annotations

import csv
import dataclasses
import os
import shutil
import subprocess
from datetime import UTC, date, datetime
from pathlib import Path

import numpy as np
import pytest

from agent.app.cli import main
from agent.config.site import SiteConfig, load_config
from agent.errors import HistoryStoreError
from agent.history.store import SqliteHistoryStore
from agent.reports import fonts
from agent.reports.audit import audit_context, audit_findings, rollup_sha256
from agent.reports.i18n import tr
from agent.reports.periods import parse_period, zone
from agent.reports.render import title_sample
from agent.reports.report import load_emission_factor, period_report
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather

ROOT = Path(__file__).resolve().parents[2]
TWIN_CONFIG = ROOT / "configs" / "twin-site.yaml"
SHANGHAI = zone("Asia/Shanghai")
needs_poppler = pytest.mark.skipif(  # `make test` installs them; under CI (CI=true) a missing tool fails
    (shutil.which("pdftoppm") is None or shutil.which("pdffonts") is None) and not os.environ.get("CI"),
    reason="needs pdftoppm/pdffonts/pdftotext (Debian poppler-utils)",
)


@pytest.fixture(scope="module")
def twin_month(tmp_path_factory: pytest.TempPathFactory) -> tuple[Path, Path]:
    """40 days of the twin from 2026-01-01 00:00 Beijing time, hourly, with its sub-meters; imported."""
    result = simulate(
        load_site_weather("guiyang"),
        days=40,
        step_s=3600.0,
        controller="baseline",
        start=datetime(2025, 12, 31, 16, tzinfo=UTC),
    )
    folder = tmp_path_factory.mktemp("twin-month")
    csv_path, db = folder / "twin.csv", folder / "twin.sqlite"
    write_site_history(result, csv_path, submeters=True)
    assert main(["import", "--db", str(db), "--history", str(csv_path), "--it-category", "1"]) == 0
    return csv_path, db


@pytest.fixture(scope="module")
def cfg() -> SiteConfig:
    return load_config(TWIN_CONFIG)[0]


def _january(db: Path, cfg: SiteConfig):  # type: ignore[no-untyped-def]
    store = SqliteHistoryStore(db, readonly=True)
    report = period_report(
        store, *parse_period("2026-01", SHANGHAI), load_emission_factor("cn-mee-2023-national"), tz=SHANGHAI
    )
    return store, report


def test_findings_on_the_twin_truth(twin_month: tuple[Path, Path], cfg: SiteConfig) -> None:
    csv_path, db = twin_month
    store, report = _january(db, cfg)
    with store:
        ctx = audit_context(cfg, str(TWIN_CONFIG), TWIN_CONFIG.read_bytes())
        findings = audit_findings(store, report, ctx)
        # meter-pv's calibration is due 2026-09-30: in date for January; a due date inside January is flagged
        assert [m.id for m, past in findings.register if past] == []
        meters = tuple(
            dataclasses.replace(m, calibration_due=date(2026, 1, 15)) if m.id == "M-02" else m for m in ctx.meters
        )
        late = audit_findings(store, report, dataclasses.replace(ctx, meters=meters))
        assert [m.id for m, past in late.register if past] == ["M-02"] and late.overdue == 1
        rows = {m.id: m for m, _ in findings.register}
        assert rows["M-01"].boundaries == ("facility",) and rows["M-01"].units == ("hall-1",)
        assert rows["M-03"].boundaries == ("distribution", "it")  # ups-a: IT output and distribution input
        assert rows["M-05"].boundaries == ("cooling", "reuse", "water")
        assert rows["UTIL-01"].device is None and rows["UTIL-01"].boundaries == ("facility",)

    # the January bill against the twin's grid import over the Beijing-time January
    with csv_path.open() as fh:
        table = list(csv.DictReader(fh))
    lo, hi = parse_period("2026-01", SHANGHAI)
    january = [r for r in table if lo <= datetime.fromisoformat(r["timestamp"].replace("Z", "+00:00")).timestamp() < hi]
    assert len(january) == 31 * 24
    grid_kwh = sum(float(r["energy_type_grid_electricity_energy_kwh"]) for r in january)
    (bill,) = findings.bills
    assert bill.bill.number == "GZ-2026-01" and bill.basis == "tag" and bill.coverage_ratio == pytest.approx(1.0)
    assert bill.metered_kwh == pytest.approx(grid_kwh, rel=1e-9)
    assert bill.difference_kwh == pytest.approx(grid_kwh - 880950)
    assert findings.bills_outside == 11

    # sub-systems: the twin's balance leaves nothing unmetered; shares are of the facility energy
    tags = {(t.kind, t.name): t for t in findings.tags}
    assert {name for kind, name in tags if kind == "subsystem"} == {
        "chillers",
        "cooling_towers",
        "pumps",
        "crah_fans",
        "lighting",
        "ups_losses",
        "pdu_losses",
    }
    facility_kwh = report.total.facility_kwh
    assert findings.unmetered_remainder_kwh is not None
    assert abs(findings.unmetered_remainder_kwh) < 1e-6 * facility_kwh
    chillers = tags[("subsystem", "chillers")]
    assert chillers.coverage_ratio == pytest.approx(1.0)
    assert chillers.share == pytest.approx(chillers.kwh / facility_kwh, rel=1e-9)
    truth_chillers = sum(float(r["subsystem_chillers_energy_kwh"]) for r in january)
    assert chillers.kwh == pytest.approx(truth_chillers, rel=1e-9)
    types = tags[("energy_type", "grid_electricity")].kwh + tags[("energy_type", "onsite_renewable")].kwh
    assert types == pytest.approx(facility_kwh, rel=1e-9) == tags[("unit", "hall-1")].kwh


def test_provenance_hash_names_the_rows(twin_month: tuple[Path, Path], cfg: SiteConfig) -> None:
    _, db = twin_month
    with SqliteHistoryStore(db, readonly=True) as store:
        rollups = store.site_rollups(3600, *parse_period("2026-01", SHANGHAI))
        again = store.site_rollups(3600, *parse_period("2026-01", SHANGHAI))
        _, report = _january(db, cfg)
        findings = audit_findings(store, report, audit_context(cfg))
    assert rollup_sha256(rollups) == rollup_sha256(again) == findings.rows_sha256 and findings.rows_used == 744
    changed = [*rollups]
    changed[100] = dataclasses.replace(changed[100], it_j=changed[100].it_j + 1.0)
    assert rollup_sha256(changed) != findings.rows_sha256
    terms = dict(rollups[5].terms)
    terms["subsystem:chillers:energy_j"] = (terms["subsystem:chillers:energy_j"][0], 0.0)
    assert (
        rollup_sha256([*rollups[:5], dataclasses.replace(rollups[5], terms=terms), *rollups[6:]])
        != findings.rows_sha256
    )
    assert findings.report_number == f"GA-H1-PUE-20260101-20260131-{findings.rows_sha256[:8].upper()}"


def _band(png: Path) -> np.ndarray:
    """The cover title's band (13-18 % from the top of the page), grey levels."""
    import matplotlib.image

    pixels = matplotlib.image.imread(str(png))[..., :3].mean(axis=2)
    height = pixels.shape[0]
    return np.asarray(pixels[int(0.13 * height) : int(0.18 * height)])


def _raster(pdf: Path, prefix: Path) -> Path:
    subprocess.run(["pdftoppm", "-r", "60", "-png", "-f", "1", "-l", "1", str(pdf), str(prefix)], check=True)
    (page,) = prefix.parent.glob(prefix.name + "-*.png")
    return page


def _tofu_differs(lang: str, text: str, tmp_path: Path) -> float:
    """Mean grey difference between ``text`` and as many private-use characters (missing everywhere: boxes)."""
    title_sample(text, lang, tmp_path / f"{lang}-text.pdf")
    with pytest.warns(UserWarning, match="missing from font"):
        title_sample("\ue000" * len(text), lang, tmp_path / f"{lang}-tofu.pdf")
    real = _band(_raster(tmp_path / f"{lang}-text.pdf", tmp_path / f"{lang}-text"))
    tofu = _band(_raster(tmp_path / f"{lang}-tofu.pdf", tmp_path / f"{lang}-tofu"))
    return float(np.abs(real - tofu).mean())


@needs_poppler
@pytest.mark.e2e
def test_zh_and_en_reports_render_their_text(
    twin_month: tuple[Path, Path], tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    _, db = twin_month
    for lang in ("zh", "en"):
        out = tmp_path / f"report-{lang}.pdf"
        args = ["report", "--db", str(db), "--config", str(TWIN_CONFIG), "--period", "2026-01"]
        assert main([*args, "--lang", lang, "--out", str(out)]) == 0, capsys.readouterr().err
        # the CJK font is embedded as a CID TrueType font (both languages: the site's names are Chinese)
        listing = subprocess.run(["pdffonts", str(out)], check=True, capture_output=True, text=True).stdout
        assert "WenQuanYi" in listing and "CID TrueType" in listing, listing
        text = subprocess.run(["pdftotext", str(out), "-"], check=True, capture_output=True, text=True).stdout
        first = subprocess.run(
            ["pdftotext", "-l", "1", str(out), "-"], check=True, capture_output=True, text=True
        ).stdout
        for key in ("cover.title", "cover.report_number", "cover.preparer", "cover.reviewer", "cover.signature"):
            assert tr(lang, key) in first, (lang, key)
        assert "GA-H1-PUE-20260101-20260131-" in first and "示例数据中心运营有限公司" in first
        for key in ("summary", "method", "register", "bills", "monthly", "breakdown", "carbon", "gaps", "provenance"):
            assert tr(lang, f"section.{key}") in text, (lang, key)
        assert tr(lang, "subsystem.chillers") in text and "GZ-2026-01" in text
        # the cover's title, rasterised, is the title as set with the report's fonts ...
        cover = _band(_raster(out, tmp_path / f"cover-{lang}"))
        title_sample(tr(lang, "cover.title"), lang, tmp_path / f"title-{lang}.pdf")
        assert np.abs(cover - _band(_raster(tmp_path / f"title-{lang}.pdf", tmp_path / f"title-{lang}"))).mean() < 1e-3
    # ... and Chinese set with those fonts is not the missing-glyph box
    zh, en = (
        _tofu_differs("zh", tr("zh", "cover.title"), tmp_path),
        _tofu_differs("en", "示例数据中心运营有限公司", tmp_path),
    )
    assert zh > 0.02 and en > 0.02, (zh, en)


@needs_poppler
def test_the_glyph_check_fails_with_a_font_without_chinese(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """With DejaVu Sans (no CJK glyphs) slipped past the guard, Chinese is boxes: the check above would fail."""
    dejavu = Path(__import__("matplotlib").get_data_path()) / "fonts" / "ttf" / "DejaVuSans.ttf"
    monkeypatch.setattr(fonts, "cjk_font", lambda: dejavu)
    with pytest.warns(UserWarning, match="missing from font"):
        difference = _tofu_differs("zh", tr("zh", "cover.title"), tmp_path)
    assert difference < 0.002
    # the guard itself: such a font is refused with the reason, and so is no font at all
    monkeypatch.undo()
    monkeypatch.setenv(fonts.CJK_FONT_ENV, str(dejavu))
    with pytest.raises(HistoryStoreError, match="no glyphs for"):
        fonts.cjk_font()
    monkeypatch.delenv(fonts.CJK_FONT_ENV)
    monkeypatch.setattr(fonts, "CJK_FONT_CANDIDATES", (tmp_path / "none.ttc",))
    with pytest.raises(HistoryStoreError, match="make system-deps"):
        fonts.cjk_font()


def test_export_has_the_tag_columns_and_round_trips(twin_month: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = twin_month
    first, second, copy = tmp_path / "a.csv", tmp_path / "b.csv", tmp_path / "copy.sqlite"
    common = ["--from", "2026-01-01", "--to", "2026-01-10", "--resolution", "1h"]
    assert main(["export", "--db", str(db), *common, "--out", str(first)]) == 0
    header = first.read_text().splitlines()[0].split(",")
    for column in ("subsystem_chillers_energy_kwh", "subsystem_chillers_coverage", "unit_hall-1_energy_kwh"):
        assert column in header
    assert main(["import", "--db", str(copy), "--history", str(first)]) == 0
    assert main(["export", "--db", str(copy), *common, "--out", str(second)]) == 0
    assert first.read_bytes() == second.read_bytes()
    bad = tmp_path / "bad.csv"
    bad.write_text(first.read_text().replace("subsystem_chillers_coverage", "subsystem_chillerz_coverag"))
    assert main(["import", "--db", str(tmp_path / "bad.sqlite"), "--history", str(bad)]) == 2


def test_history_without_tags_reports_the_fallback(
    twin_month: tuple[Path, Path], cfg: SiteConfig, tmp_path: Path
) -> None:
    """History imported without tag columns (an older export, a BMS file): no breakdown, and the bills are
    reconciled against facility minus on-site renewable, stated as such."""
    csv_path, _ = twin_month
    with csv_path.open() as fh:
        rows = list(csv.reader(fh))
    keep = [i for i, name in enumerate(rows[0]) if not name.startswith(("subsystem_", "unit_", "energy_type_"))]
    plain = tmp_path / "plain.csv"
    with plain.open("w", newline="") as fh:
        csv.writer(fh, lineterminator="\n").writerows([[row[i] for i in keep] for row in rows])
    db = tmp_path / "plain.sqlite"
    assert main(["import", "--db", str(db), "--history", str(plain), "--it-category", "1"]) == 0
    store, report = _january(db, cfg)
    with store:
        findings = audit_findings(store, report, audit_context(cfg))
    assert findings.tags == () and findings.unmetered_remainder_kwh is None
    (bill,) = findings.bills
    renewable_kwh = report.total.renewable_kwh
    assert renewable_kwh is not None and renewable_kwh > 0  # the twin's PV, in the renewable columns
    assert bill.basis == "fallback"
    assert bill.metered_kwh == pytest.approx(report.total.facility_kwh - renewable_kwh, rel=1e-9)


def test_savings_statement_in_chinese(twin_month: tuple[Path, Path], tmp_path: Path) -> None:
    _, db = twin_month
    out = tmp_path / "s.html"
    args = ["report", "--db", str(db), "--baseline", "2026-01-01..2026-01-24", "--compare", "2026-01-25..2026-02-05"]
    assert main([*args, "--timezone", "Asia/Shanghai", "--lang", "zh", "--out", str(out)]) == 0
    text = out.read_text(encoding="utf-8")
    assert "<html lang='zh'>" in text and tr("zh", "savings.title") in text
    for key in ("savings.adjustments_none", "savings.it_regressor", "savings.method"):
        assert tr("zh", key, rate=0.0).split("{")[0][:12] in text, key
    assert "避免能耗:" in text and "置信度" in text and "Avoided energy" not in text
