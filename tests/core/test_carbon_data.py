"""The shipped factor and target tables pinned to published values, and the carbon config's checks."""

from __future__ import annotations

from pathlib import Path

import pytest

from agent.config.emission import (
    factor_table_version,
    known_factors,
    known_fuel_factors,
    load_emission_factor,
    load_fuel_factor,
)
from agent.config.site import load_config
from agent.config.standards import load_standards
from agent.errors import ConfigError, HistoryQueryError

ROOT = Path(__file__).resolve().parents[2]

#: MEE/NBS national factors [kgCO2/kWh]: average (location), excluding market-traded non-fossil (market), fossil
NATIONAL = {
    2021: (0.5568, 0.5942, 0.8426),
    2022: (0.5366, 0.5856, 0.8325),
    2023: (0.5306, 0.6096, 0.8273),
}
#: MEE/NBS regional averages: north, northeast, east, central, northwest, southern, southwest
REGIONS = ("north", "northeast", "east", "central", "northwest", "southern", "southwest")
REGIONAL = {
    2021: (0.7120, 0.6012, 0.5992, 0.5354, 0.5951, 0.4326, 0.2113),
    2022: (0.6776, 0.5564, 0.5617, 0.5395, 0.5857, 0.3869, 0.2268),
    2023: (0.6361, 0.5122, 0.5500, 0.5271, 0.5543, 0.4042, 0.2472),
}


@pytest.mark.parametrize("year", sorted(NATIONAL))
def test_national_factors_are_the_published_values(year: int) -> None:
    average, residual, fossil = NATIONAL[year]
    rows = (
        load_emission_factor(f"cn-mee-{year}-national"),
        load_emission_factor(f"cn-mee-{year}-national-excl-market-nonfossil"),
        load_emission_factor(f"cn-mee-{year}-national-fossil"),
    )
    assert [r.kg_co2_per_kwh for r in rows] == [average, residual, fossil]
    assert [r.route for r in rows] == ["location", "market", "fossil"]
    assert all(r.year == year and r.scope == "national" and "MEE" in r.source and r.checked for r in rows)


@pytest.mark.parametrize("year", sorted(REGIONAL))
def test_every_regional_grid_of_every_year_ships(year: int) -> None:
    values = tuple(load_emission_factor(f"cn-mee-{year}-{region}").kg_co2_per_kwh for region in REGIONS)
    assert values == REGIONAL[year]
    # the year-on-year changes the 2023 announcement states hold for these rows (to 0.1 point: the
    # announcement computes them from unrounded factors; northeast is -7.94 % from the rounded ones, "8.0 %")
    if year == 2023:
        changes = [100 * (a / b - 1) for a, b in zip(REGIONAL[2023], REGIONAL[2022], strict=True)]
        assert changes == pytest.approx([-6.1, -8.0, -2.1, -2.3, -5.4, 4.5, 9.0], abs=0.1)


def test_guizhou_provincial_factor_and_how_far_it_is_from_the_southern_grid() -> None:
    guizhou = {y: load_emission_factor(f"cn-mee-{y}-guizhou") for y in (2021, 2022)}
    assert (guizhou[2021].kg_co2_per_kwh, guizhou[2022].kg_co2_per_kwh) == (0.5182, 0.4989)
    assert guizhou[2022].scope == "provincial" and guizhou[2022].route == "location"
    southern = load_emission_factor("cn-mee-2022-southern").kg_co2_per_kwh
    assert guizhou[2022].kg_co2_per_kwh / southern == pytest.approx(1.289, abs=1e-3)  # +29 % in 2022
    # all 30 provinces the 2021 and 2022 annexes list (Tibet has no published factor)
    for year in (2021, 2022):
        assert (
            len([k for k in known_factors() if load_emission_factor(k).scope == "provincial" and str(year) in k]) == 30
        )


def test_every_row_names_its_publication_and_how_it_was_checked() -> None:
    assert factor_table_version() == "2026-12-03"
    for key in known_factors():
        row = load_emission_factor(key)
        assert (
            row.publication_date
            and row.source
            and row.checked
            in (
                "two-reports",
                "report+delta",
                "table+delta",
                "one-report",
                "one-table",
            )
        ), key
    assert load_emission_factor("cn-mee-2022-hebei").checked == "two-reports"  # top five in a second report
    assert known_factors(route="market") == [f"cn-mee-{y}-national-excl-market-nonfossil" for y in (2021, 2022, 2023)]
    with pytest.raises(HistoryQueryError, match="unknown emission factor 'cn-mee-2031-national'"):
        load_emission_factor("cn-mee-2031-national")


def test_diesel_factors_from_their_published_values() -> None:
    ipcc = load_fuel_factor("ipcc-2006-diesel")  # 74,100 kgCO2/TJ on NCV, 43.0 TJ/Gg
    assert ipcc.kg_co2_per_kwh_fuel == pytest.approx(0.26676)
    assert ipcc.kg_co2_per_kg == pytest.approx(3.1863)
    assert ipcc.kg_co2_per_litre(0.84) == pytest.approx(3.1863 * 0.84)
    with pytest.raises(ValueError, match="diesel_density_kg_per_l"):
        ipcc.kg_co2_per_litre()
    epa = load_fuel_factor("us-epa-40cfr98-distillate-no2")  # 73.96 kgCO2/mmBtu, 0.138 mmBtu/gallon (HHV)
    assert epa.kg_co2_per_litre() == pytest.approx(10.20648 / 3.785411784)
    assert epa.kg_co2_per_kwh_fuel == pytest.approx(0.25236, abs=1e-5)
    assert known_fuel_factors() == ["ipcc-2006-diesel", "us-epa-40cfr98-distillate-no2"]


def test_standards_cited_and_grade_limits() -> None:
    st = load_standards()
    assert st.pue_cite == "ISO/IEC 30134-2:2026" and "2016" in st.pue_replaces
    assert st.grade.cite == "GB 40879-2021" and st.grade.limits == (1.20, 1.30, 1.50)
    assert st.grade.period_months == 12 and st.grade.comparison == "<="


def _config(tmp_path: Path, carbon: str) -> Path:
    text = (ROOT / "configs" / "demo-site.yaml").read_text(encoding="utf-8")
    path = tmp_path / "site.yaml"
    path.write_text(text + carbon, encoding="utf-8")
    return path


@pytest.mark.parametrize(
    ("carbon", "message"),
    [
        ("carbon: {route: location}\n", r"carbon\.emission_factor: required key is missing"),
        (
            "carbon: {emission_factor: cn-mee-2022-guizhou, route: market}\n",
            r"carbon\.emission_factor: 'cn-mee-2022-guizhou' is a location factor; route 'market' needs one of: "
            r"cn-mee-2021-national-excl-market-nonfossil",
        ),
        (
            "carbon: {emission_factor: cn-mee-2023-national-fossil}\n",
            r"'cn-mee-2023-national-fossil' is a fossil factor",
        ),
        (
            "carbon:\n  emission_factor: cn-mee-2022-guizhou\n"
            "  diesel: [{start: 2026-01-01, end: 2026-02-01, litres: 100}]\n",
            r"carbon\.fuel_factor: required with carbon\.diesel entries",
        ),
        (
            "carbon:\n  emission_factor: cn-mee-2022-guizhou\n  fuel_factor: ipcc-2006-diesel\n"
            "  diesel: [{start: 2026-01-01, end: 2026-02-01, litres: 100}]\n",
            r"carbon\.diesel_density_kg_per_l: required",
        ),
        (
            "carbon:\n  emission_factor: cn-mee-2022-guizhou\n  green_electricity:\n"
            "    - {kind: certificate, start: 2026-01-01, end: 2026-02-01, kwh: 1000, ids: [GEC-1]}\n"
            "    - {kind: certificate, start: 2026-02-01, end: 2026-03-01, kwh: 1000, ids: [GEC-1]}\n",
            r"id 'GEC-1' is listed more than once",
        ),
        (
            "carbon:\n  emission_factor: cn-mee-2022-guizhou\n  green_electricity:\n"
            "    - {kind: certificate, start: 2026-02-01, end: 2026-01-01, kwh: 1000, ids: [GEC-1]}\n",
            r"carbon\.green_electricity\[0\]: end 2026-01-01 must be after start 2026-02-01",
        ),
        (
            "carbon:\n  emission_factor: cn-mee-2022-guizhou\n  green_electricity:\n"
            "    - {kind: certificate, start: 2026-01-01, end: 2026-02-01, kwh: 1000, ids: []}\n",
            r"carbon\.green_electricity\[0\]\.ids",
        ),
    ],
)
def test_carbon_config_errors_name_the_key(tmp_path: Path, carbon: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message):
        load_config(_config(tmp_path, carbon))


def test_a_complete_carbon_config_loads(tmp_path: Path) -> None:
    cfg, _ = load_config(
        _config(
            tmp_path,
            "carbon:\n  emission_factor: cn-mee-2023-national-excl-market-nonfossil\n  route: market\n"
            "  fuel_factor: ipcc-2006-diesel\n  diesel_density_kg_per_l: 0.84\n"
            "  diesel: [{start: 2026-01-01, end: 2026-02-01, litres: 100, generated_kwh: 300}]\n"
            "  green_electricity:\n"
            "    - {kind: green_power_trade, start: 2026-01-01, end: 2026-02-01, kwh: 5000, ids: [GZ-2026-01-7]}\n",
        )
    )
    assert cfg.carbon is not None and cfg.carbon.route == "market" and cfg.carbon.diesel[0].litres == 100
