"""Carbon of a data centre over a period: CUE, tCO2 and REF from energies and fuel (pure).

The electricity a data centre takes from the grid is its total consumption less what it generates on
site::

    E_grid = E_DC - E_renewable,onsite - E_generator,onsite

On-site renewable electricity is never charged a grid factor; PV fed into the grid is not consumption
and does not count as renewable energy used (give the consumed amount, generation less export). Two
routes charge the grid electricity (GHG Protocol Scope 2 Guidance, 2015):

* location-based: every grid kWh at a grid average factor (national, regional or provincial);
  contracted green electricity changes nothing on this route (it is reported, and counts for REF);
* market-based: contracted green electricity (green certificates 绿证, green-power trades 绿电交易)
  is deducted first, and the rest is charged the residual factor, which excludes market-traded
  non-fossil electricity (MEE/NBS publish it nationally: 0.6096 kgCO2/kWh for 2023).

Fuel burnt on site (generator diesel) adds its own CO2. Then::

    CUE = [(E_DC - E_renewable,onsite - E_green,contracted) x EF_grid + CO2_fuel] / E_IT   (market route)
    REF = (E_renewable,onsite + E_green,contracted) / E_DC

with contracted green electricity counted up to the grid electricity of the period (what exceeds it
is reported as unused, never carried into CUE or REF).

References
----------
The Green Grid, White Paper 32, "Carbon usage effectiveness (CUE)" (2010).
ISO/IEC 30134-3, Renewable energy factor (REF): renewable energy from on-site generation and from
certificates or contracts.
World Resources Institute, GHG Protocol Scope 2 Guidance (2015): location- and market-based methods.
MEE/NBS, 2021-2023 electricity CO2 emission factors (average; excluding market-traded non-fossil; fossil).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

__all__ = ["CarbonAccount", "carbon_account", "fuel_kg_co2", "grid_electricity_kwh"]

#: energies below this are rounding, not a topology error [kWh]
_TOLERANCE_KWH = 1e-6


def grid_electricity_kwh(facility_kwh: float, onsite_renewable_kwh: float, onsite_generator_kwh: float = 0.0) -> float:
    """Electricity taken from the grid [kWh]: E_DC less on-site renewable and generator electricity consumed.

    Raises
    ------
    ValueError
        a negative energy, or on-site generation above the total consumption (the renewable meter then
        counts exported electricity: give generation less export).
    """
    for name, value in (
        ("facility_kwh", facility_kwh),
        ("onsite_renewable_kwh", onsite_renewable_kwh),
        ("onsite_generator_kwh", onsite_generator_kwh),
    ):
        if value < 0:
            raise ValueError(f"{name} must not be negative ({value:g})")
    grid = facility_kwh - onsite_renewable_kwh - onsite_generator_kwh
    if grid < -_TOLERANCE_KWH:
        raise ValueError(
            f"on-site generation consumed ({onsite_renewable_kwh + onsite_generator_kwh:,.3f} kWh) exceeds the "
            f"total consumption ({facility_kwh:,.3f} kWh): exported electricity is not consumption"
        )
    return max(grid, 0.0)


def fuel_kg_co2(litres: float, kg_co2_per_litre: float) -> float:
    """CO2 of fuel burnt [kg] = volume [L] x factor [kgCO2/L]."""
    if litres < 0 or kg_co2_per_litre < 0:
        raise ValueError("litres and the factor must not be negative")
    return litres * kg_co2_per_litre


@dataclass(frozen=True)
class CarbonAccount:
    """The carbon of one period and how it was reached. Energies [kWh], masses [tCO2].

    ``green_applied_kwh`` is the contracted green electricity counted (at most the grid electricity):
    deducted before the grid factor on the market route only; REF counts it on both routes.
    """

    route: Literal["location", "market"]
    facility_kwh: float
    it_kwh: float
    onsite_renewable_kwh: float
    onsite_generator_kwh: float
    grid_kwh: float
    contracted_green_kwh: float
    green_applied_kwh: float
    green_unused_kwh: float
    charged_grid_kwh: float
    grid_factor_kg_per_kwh: float
    grid_t_co2: float
    fuel_t_co2: float
    total_t_co2: float
    cue_kg_per_kwh: float | None
    ref: float | None


def carbon_account(
    *,
    facility_kwh: float,
    it_kwh: float,
    grid_factor_kg_per_kwh: float,
    route: Literal["location", "market"],
    onsite_renewable_kwh: float = 0.0,
    onsite_generator_kwh: float = 0.0,
    contracted_green_kwh: float = 0.0,
    fuel_co2_kg: float = 0.0,
) -> CarbonAccount:
    """CUE, tCO2 and REF of a period on the location- or market-based route.

    Parameters
    ----------
    facility_kwh : E_DC, the data centre's total electricity consumption, on-site generation included [kWh]
    it_kwh : E_IT over the same time [kWh]
    grid_factor_kg_per_kwh : the grid factor of the route: an average (location) or a residual (market) [kgCO2/kWh]
    route : ``location`` or ``market``
    onsite_renewable_kwh : on-site renewable electricity consumed (generation less export) [kWh]
    onsite_generator_kwh : electricity from on-site fuel generators consumed, where metered [kWh]
    contracted_green_kwh : green certificates and green-power trades for the period [kWh]
    fuel_co2_kg : CO2 of the fuel burnt on site in the period [kg]

    Returns
    -------
    CarbonAccount
        CUE [kgCO2/kWh_IT] and REF [-] are None when E_IT (or E_DC) is not positive.

    References
    ----------
    The Green Grid WP 32 (2010); ISO/IEC 30134-3 (REF); GHG Protocol Scope 2 Guidance (2015).
    """
    if route not in ("location", "market"):
        raise ValueError(f"route must be 'location' or 'market', not {route!r}")
    if grid_factor_kg_per_kwh < 0 or contracted_green_kwh < 0 or fuel_co2_kg < 0 or it_kwh < 0:
        raise ValueError("factor, contracted green electricity, fuel CO2 and IT energy must not be negative")
    grid = grid_electricity_kwh(facility_kwh, onsite_renewable_kwh, onsite_generator_kwh)
    applied = min(contracted_green_kwh, grid)
    charged = grid - applied if route == "market" else grid
    grid_t = charged * grid_factor_kg_per_kwh / 1000.0
    fuel_t = fuel_co2_kg / 1000.0
    total_t = grid_t + fuel_t
    return CarbonAccount(
        route=route,
        facility_kwh=facility_kwh,
        it_kwh=it_kwh,
        onsite_renewable_kwh=onsite_renewable_kwh,
        onsite_generator_kwh=onsite_generator_kwh,
        grid_kwh=grid,
        contracted_green_kwh=contracted_green_kwh,
        green_applied_kwh=applied,
        green_unused_kwh=contracted_green_kwh - applied,
        charged_grid_kwh=charged,
        grid_factor_kg_per_kwh=grid_factor_kg_per_kwh,
        grid_t_co2=grid_t,
        fuel_t_co2=fuel_t,
        total_t_co2=total_t,
        cue_kg_per_kwh=1000.0 * total_t / it_kwh if it_kwh > 0 else None,
        ref=(onsite_renewable_kwh + applied) / facility_kwh if facility_kwh > 0 else None,
    )
