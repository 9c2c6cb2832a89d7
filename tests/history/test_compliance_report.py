"""Compliance and carbon in period reports: the grade only on a 12-month RM2 period, interim labels, targets
as references tested with <=, and CUE/tCO2 with PV, diesel and green certificates against the twin's truth."""

from __future__ import annotations

from collections.abc import Iterator
from datetime import date
from pathlib import Path

import numpy as np
import pytest

from agent.app.cli import main
from agent.config.emission import load_emission_factor, load_fuel_factor
from agent.config.site import CarbonConfig, DieselEntry, GreenElectricity
from agent.errors import HistoryQueryError
from agent.history.records import SiteInterval, SiteRollup
from agent.history.store import SqliteHistoryStore
from agent.reports.compliance import TEXT
from agent.reports.report import PeriodReport, period_report
from agent.reports.text import method_statement, summary_lines
from twin.simulate import simulate
from twin.weather import load_site_weather

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0
YEAR_H = 365 * 24


def _hours(
    n: int, pue: float, it_w: float = 500_000.0, pv_w: float = 0.0, skip: frozenset[int] = frozenset()
) -> Iterator[SiteInterval]:
    """Hourly intervals from T0 with a constant PUE (and PV consumed on site), ``skip`` hours missing."""
    for i in range(n):
        if i in skip:
            continue
        it_j = it_w * HOUR
        terms = {"renewable_j": (HOUR, pv_w * HOUR)} if pv_w else {}
        yield SiteInterval(T0 + i * HOUR, HOUR, HOUR, pue * it_j, it_j, 0.0, 0.0, "imported", 1, terms=terms)


class RollupStore:
    """The hourly rollups the store would return for ``_hours`` (a year of SQLite imports takes ~25 s)."""

    def __init__(self, intervals: Iterator[SiteInterval]) -> None:
        self.rollups = [
            SiteRollup(
                int(i.start_s),
                3600,
                i.duration_s,
                i.covered_s,
                i.facility_j,
                i.it_j,
                0.0,
                0.0,
                frozenset({i.method}),
                frozenset({1}),
                frozenset({i.source}),
                {},
                None,
                dict(i.terms),
            )
            for i in intervals
        ]

    def site_rollups(self, resolution_s: int, start_s: float, end_s: float) -> list[SiteRollup]:
        assert resolution_s == 3600
        return [r for r in self.rollups if start_s <= r.start_s < end_s]


@pytest.fixture(scope="module")
def year_db() -> RollupStore:
    """A whole 2026 (UTC) at PUE 1.24, IT category 1."""
    return RollupStore(_hours(YEAR_H, 1.24))


def _report(store: object, start_s: float, end_s: float, **kw: object) -> PeriodReport:
    factor = kw.pop("factor", load_emission_factor("cn-mee-2022-guizhou"))
    return period_report(store, start_s, end_s, factor, **kw)  # type: ignore[arg-type]


def test_a_12_month_rm2_period_is_graded_and_tested_against_targets_with_le(year_db: RollupStore) -> None:
    report = _report(year_db, T0, T0 + YEAR_H * HOUR)
    assert report.compliance.annual and report.compliance.whole_months == 12
    assert report.grade == 2  # 1.20 < 1.24 <= 1.30
    lines = summary_lines(report)
    assert lines[1].startswith("PUE1 over 12 months (2026-01-01 00:00 to 2027-01-01 00:00 UTC): 1.240 - annual figure")
    text = "\n".join(lines)
    assert "GB 40879-2021: grade 2 (RM2 1.240 <= 1.30; 12 months, coverage 100.00%)" in text
    assert "PUE <= 1.25 (NDRC, MIIT, NEA, NDA - Special action plan" in text and "annual 1.240 is within it" in text
    assert "PUE <= 1.20 (" in text and "annual 1.240 is above it" in text
    assert "Earlier target (superseded 2024-07-23)" in text
    assert TEXT["no_renewable"] in text  # no PV meter in this data: said, not silently assumed
    # Chinese titles live in the tables' *_zh fields: the English report's lines render in any PDF font
    assert all(line.isascii() for line in lines + method_statement(report))
    assert ": met" not in text and "not met\n" not in text and "not met," not in text


@pytest.mark.parametrize("months", [1, 7, 11])
def test_a_shorter_period_is_an_interim_figure_without_grade(year_db: RollupStore, months: int) -> None:
    ends = {1: "2026-02-01", 7: "2026-08-01", 11: "2026-12-01"}
    end_s = float(np.datetime64(ends[months]).astype("datetime64[s]").astype(int))
    report = _report(year_db, T0, end_s)
    assert not report.compliance.annual and report.grade is None
    text = "\n".join(summary_lines(report))
    span = "1 month" if months == 1 else f"{months} months"
    assert f"PUE1 over {span} (" in text and f"1.240 - interim figure ({span}), no grade" in text
    assert f"GB 40879-2021: no grade - the grade applies to a 12-month RM2; this period covers {span}" in text
    assert "grade 2 (RM2" not in text and "within it" not in text and "above it" not in text
    assert "Reference: new and expanded large and hyperscale data centres" in text


def test_a_year_not_on_month_boundaries_is_not_graded(year_db: RollupStore) -> None:
    report = _report(year_db, T0 + 14 * 24 * HOUR, T0 + YEAR_H * HOUR)
    assert report.grade is None and not report.compliance.annual
    assert "interim figure (351 days), no grade" in summary_lines(report)[1]


@pytest.mark.parametrize(("pue", "grade"), [(1.20, 1), (1.30, 2), (1.50, 3), (1.51, 0)])
def test_grade_limits_are_inclusive(pue: float, grade: int) -> None:
    report = _report(RollupStore(_hours(YEAR_H, pue)), T0, T0 + YEAR_H * HOUR)
    assert report.grade == grade
    text = "\n".join(summary_lines(report))
    if grade == 0:
        assert "above the grade 3 limit value (1.510 > 1.50; 12 months, coverage 100.00%)" in text
    if pue == 1.20:
        assert "PUE <= 1.20 (" in text and "annual 1.200 is within it" in text


def test_no_factor_no_carbon_figure(year_db: RollupStore) -> None:
    report = _report(year_db, T0, T0 + 31 * 24 * HOUR, factor=None)
    assert report.emissions_t is None and report.cue_kg_per_kwh is None
    assert TEXT["no_factor"] in summary_lines(report)
    assert "Carbon: no emission factor configured (there is no default factor)." in method_statement(report)


def test_method_statement_cites_the_current_iso_edition(year_db: RollupStore) -> None:
    lines = method_statement(_report(year_db, T0, T0 + 31 * 24 * HOUR))
    assert lines[0] == "PUE = E_DC / E_IT, both over the same covered time (ISO/IEC 30134-2:2026; replaces " + (
        "ISO/IEC 30134-2:2016 and its Amd 1:2018 (2016 edition withdrawn, stage 95.99 completed 2026-02-12))."
    )
    assert "category 1: IT energy at the UPS output." in lines
    assert not any("30134-2:2016," in line for line in lines)


# --- carbon against the twin's truth -------------------------------------------------------------
@pytest.fixture(scope="module")
def twin_days(tmp_path_factory: pytest.TempPathFactory) -> Iterator[tuple[SqliteHistoryStore, dict[str, float]]]:
    """Three Guiyang days of the twin (hourly, with rooftop PV) stored as intervals; the truth in kWh."""
    result = simulate(load_site_weather("guiyang"), days=3, step_s=HOUR, controller="baseline")
    assert result.start_epoch_s[0] == T0
    store = SqliteHistoryStore(tmp_path_factory.mktemp("twin") / "h.sqlite")
    store.import_site_intervals(
        SiteInterval(
            float(t),
            HOUR,
            HOUR,
            fac * HOUR,
            it * HOUR,
            0.0,
            0.0,
            "imported",
            1,
            terms={"renewable_j": (HOUR, pv * HOUR)},
        )
        for t, fac, it, pv in zip(
            result.start_epoch_s, result.facility_power_w, result.it_power_w, result.pv_power_w, strict=True
        )
    )
    truth = {
        "facility_kwh": float(result.facility_power_w.sum()) / 1000.0,  # hourly W -> kWh
        "it_kwh": float(result.it_power_w.sum()) / 1000.0,
        "pv_kwh": float(result.pv_power_w.sum()) / 1000.0,
    }
    assert truth["pv_kwh"] > 100.0  # the twin's PV produced during those days
    yield store, truth
    store.close()


def _carbon(route: str, factor: str) -> CarbonConfig:
    return CarbonConfig(
        emission_factor=factor,
        route=route,  # type: ignore[arg-type]
        fuel_factor="us-epa-40cfr98-distillate-no2",
        diesel=(
            DieselEntry(start=date(2026, 1, 2), end=date(2026, 1, 3), litres=200.0),
            DieselEntry(start=date(2026, 1, 20), end=date(2026, 1, 21), litres=999.0),  # outside: ignored
        ),
        green_electricity=(
            GreenElectricity(
                kind="certificate", start=date(2026, 1, 1), end=date(2026, 1, 4), kwh=5_000.0, ids=("GEC-1", "GEC-2")
            ),
            GreenElectricity(
                kind="green_power_trade", start=date(2025, 12, 31), end=date(2026, 1, 2), kwh=7_000.0, ids=("GPT-9",)
            ),
        ),
    )


def test_market_route_cue_and_tco2_match_the_twin_truth(twin_days: tuple[SqliteHistoryStore, dict[str, float]]) -> None:
    store, truth = twin_days
    report = _report(
        store,
        T0,
        T0 + 3 * 24 * HOUR,
        factor=load_emission_factor("cn-mee-2023-national-excl-market-nonfossil"),
        carbon=_carbon("market", "cn-mee-2023-national-excl-market-nonfossil"),
    )
    diesel_kg = 200.0 * load_fuel_factor("us-epa-40cfr98-distillate-no2").kg_co2_per_litre()
    expected_kg = (truth["facility_kwh"] - truth["pv_kwh"] - 5_000.0) * 0.6096 + diesel_kg
    a = report.carbon.account
    assert a is not None
    assert a.total_t_co2 == pytest.approx(expected_kg / 1000.0, rel=1e-9)
    assert report.cue_kg_per_kwh == pytest.approx(expected_kg / truth["it_kwh"], rel=1e-9)
    assert a.ref == pytest.approx((truth["pv_kwh"] + 5_000.0) / truth["facility_kwh"], rel=1e-9)
    text = "\n".join(summary_lines(report))
    assert "Diesel: 200 L x 2.6963 kgCO2/L" in text and TEXT["no_renewable"] not in text
    assert "5,000 kWh deducted before the residual factor" in text
    assert "Not counted (green GPT-9, 2025-12-31 to 2026-01-02): it straddles the report period" in text


def test_location_route_with_the_guizhou_factor_charges_grid_electricity_only(
    twin_days: tuple[SqliteHistoryStore, dict[str, float]],
) -> None:
    store, truth = twin_days
    report = _report(store, T0, T0 + 3 * 24 * HOUR, carbon=_carbon("location", "cn-mee-2022-guizhou"))
    diesel_kg = 200.0 * load_fuel_factor("us-epa-40cfr98-distillate-no2").kg_co2_per_litre()
    expected_kg = (truth["facility_kwh"] - truth["pv_kwh"]) * 0.4989 + diesel_kg  # certificates not deducted
    assert report.emissions_t == pytest.approx(expected_kg / 1000.0, rel=1e-9)
    # the old statement (all facility energy, PV included, x factor; CUE = CEF x PUE) is not what is reported
    assert report.emissions_t != pytest.approx(truth["facility_kwh"] * 0.4989 / 1000.0, rel=1e-3)
    assert report.cue_kg_per_kwh != pytest.approx(0.4989 * truth["facility_kwh"] / truth["it_kwh"], rel=1e-3)
    assert "location-based" in "\n".join(summary_lines(report))


def test_a_factor_of_another_route_is_refused(twin_days: tuple[SqliteHistoryStore, dict[str, float]]) -> None:
    store, _ = twin_days
    with pytest.raises(
        HistoryQueryError, match="cn-mee-2022-guizhou is a location factor; the configured route is market"
    ):
        _report(store, T0, T0 + 24 * HOUR, carbon=_carbon("market", "cn-mee-2023-national-excl-market-nonfossil"))


def test_gaps_scale_energies_to_the_period_and_say_so(tmp_path: Path) -> None:
    with SqliteHistoryStore(tmp_path / "h.sqlite") as store:
        store.import_site_intervals(_hours(24 * 10, 1.3, pv_w=50_000.0, skip=frozenset(range(5))))
        report = _report(store, T0, T0 + 10 * 24 * HOUR)
    assert report.total.coverage_ratio < 1.0
    coverage = (240 - 5) / 240
    covered_grid_kwh = 235 * (1.3 * 500.0 - 50.0)
    assert report.emissions_t == pytest.approx(covered_grid_kwh / coverage * 0.4989 / 1000.0)
    assert f"Energies scaled from {coverage:.2%} covered time to the whole period" in "\n".join(summary_lines(report))


def test_cli_report_states_interim_and_no_factor(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    db = tmp_path / "copy.sqlite"
    with SqliteHistoryStore(db) as store:
        store.import_site_intervals(_hours(31 * 24, 1.24))
    assert main(["report", "--db", str(db), "--period", "2026-01", "--out", str(tmp_path / "r.html")]) == 0
    out = capsys.readouterr().out
    assert (
        "PUE1 over 1 month (2026-01-01 00:00 to 2026-02-01 00:00 UTC): 1.240 - interim figure (1 month), no grade"
        in out
    )
    assert TEXT["no_factor"] in out
