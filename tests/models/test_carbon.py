"""CUE, tCO2 and REF (models/carbon.py): hand-computed answers on both routes, with PV, diesel and green electricity."""

from __future__ import annotations

import pytest

from models.carbon import carbon_account, fuel_kg_co2, grid_electricity_kwh

#: a month: 1,000 MWh consumed, 800 MWh IT, 100 MWh of it from rooftop PV, 300 MWh of green certificates,
#: 2,000 L of generator diesel at 2.6963 kgCO2/L (US EPA 40 CFR 98 Table C-1, No. 2 distillate)
FACILITY, IT, PV, GREEN, DIESEL_KG = 1_000_000.0, 800_000.0, 100_000.0, 300_000.0, 2_000.0 * 2.6963


def test_location_route_never_charges_pv_and_adds_fuel() -> None:
    a = carbon_account(
        facility_kwh=FACILITY,
        it_kwh=IT,
        grid_factor_kg_per_kwh=0.4989,  # MEE/NBS 2022 Guizhou
        route="location",
        onsite_renewable_kwh=PV,
        contracted_green_kwh=GREEN,
        fuel_co2_kg=DIESEL_KG,
    )
    # grid 900 MWh x 0.4989 = 449.01 t; diesel 5.3926 t; certificates change nothing on this route
    assert a.grid_kwh == pytest.approx(900_000.0) and a.charged_grid_kwh == pytest.approx(900_000.0)
    assert a.grid_t_co2 == pytest.approx(449.01)
    assert a.fuel_t_co2 == pytest.approx(5.3926)
    assert a.total_t_co2 == pytest.approx(454.4026)
    assert a.cue_kg_per_kwh == pytest.approx(454_402.6 / 800_000.0)
    # REF counts on-site renewable and certificates on both routes (ISO/IEC 30134-3)
    assert a.ref == pytest.approx(0.4)


def test_market_route_deducts_green_electricity_before_the_residual_factor() -> None:
    a = carbon_account(
        facility_kwh=FACILITY,
        it_kwh=IT,
        grid_factor_kg_per_kwh=0.6096,  # MEE/NBS 2023 national, excluding market-traded non-fossil
        route="market",
        onsite_renewable_kwh=PV,
        contracted_green_kwh=GREEN,
        fuel_co2_kg=DIESEL_KG,
    )
    # (1,000 - 100 - 300) MWh x 0.6096 = 365.76 t, + 5.3926 t diesel; CUE per the formula
    assert a.charged_grid_kwh == pytest.approx(600_000.0)
    assert a.total_t_co2 == pytest.approx(371.1526)
    assert a.cue_kg_per_kwh == pytest.approx(((FACILITY - PV - GREEN) * 0.6096 + DIESEL_KG) / IT)
    assert a.green_applied_kwh == GREEN and a.green_unused_kwh == 0.0


def test_green_electricity_beyond_the_grid_electricity_is_not_counted() -> None:
    a = carbon_account(
        facility_kwh=FACILITY,
        it_kwh=IT,
        grid_factor_kg_per_kwh=0.6096,
        route="market",
        onsite_renewable_kwh=PV,
        contracted_green_kwh=950_000.0,
    )
    assert a.green_applied_kwh == pytest.approx(900_000.0) and a.green_unused_kwh == pytest.approx(50_000.0)
    assert a.grid_t_co2 == 0.0 and a.ref == pytest.approx(1.0)


def test_generator_electricity_is_not_grid_electricity() -> None:
    a = carbon_account(
        facility_kwh=FACILITY,
        it_kwh=IT,
        grid_factor_kg_per_kwh=0.5306,
        route="location",
        onsite_generator_kwh=20_000.0,
        fuel_co2_kg=DIESEL_KG,
    )
    assert a.grid_kwh == pytest.approx(980_000.0)
    assert a.total_t_co2 == pytest.approx(980_000.0 * 0.5306 / 1000 + 5.3926)


def test_exported_pv_is_not_consumption() -> None:
    """A renewable meter counting generation including export would exceed consumption: refused."""
    with pytest.raises(ValueError, match="exported electricity is not consumption"):
        grid_electricity_kwh(100.0, 130.0)
    assert grid_electricity_kwh(100.0, 130.0 - 30.0) == 0.0  # generation less export


def test_bad_inputs() -> None:
    with pytest.raises(ValueError, match="route"):
        carbon_account(facility_kwh=1.0, it_kwh=1.0, grid_factor_kg_per_kwh=0.5, route="residual")  # type: ignore[arg-type]
    with pytest.raises(ValueError, match="must not be negative"):
        fuel_kg_co2(-1.0, 2.7)
    no_it = carbon_account(facility_kwh=0.0, it_kwh=0.0, grid_factor_kg_per_kwh=0.5, route="location")
    assert no_it.cue_kg_per_kwh is None and no_it.ref is None
