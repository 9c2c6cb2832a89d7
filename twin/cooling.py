"""Cooling physics: CRAH fans, chillers (EnergyPlus EIR curves), cooling towers (fans and make-up
water), water-side economizer, and heat recovered from the chilled-water return for reuse.

All temperatures in C, powers in W, flows in kg/s or m3/s as named.

One module (over 400 lines): component curves of one plant (chillers, towers, economizer, fans, pumps), each a few
pure functions with its references.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from importlib import resources

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "CP_AIR_J_PER_KG_K",
    "CP_WATER_J_PER_KG_K",
    "DEFAULT_CHILLER",
    "LATENT_HEAT_VAPORISATION_J_PER_KG",
    "ChillerCurves",
    "air_density_kg_m3",
    "airflow_m3_s",
    "chiller_available_capacity_w",
    "chiller_power_w",
    "economizer_mode",
    "fan_power_w",
    "free_cooling_fraction",
    "load_chiller_curves",
    "pump_power_w",
    "reused_heat_w",
    "tower_leaving_water_c",
    "tower_makeup_water_m3_per_s",
]

CP_AIR_J_PER_KG_K = 1006.0
CP_WATER_J_PER_KG_K = 4186.0
WATER_DENSITY_KG_M3 = 998.0
DRY_AIR_GAS_CONSTANT_J_PER_KG_K = 287.055
#: Latent heat of vaporisation of water near 30 C, a cooling tower's typical water temperature
#: (2.43 MJ/kg at 30 C, 2.45 at 20 C; IAPWS steam tables).
LATENT_HEAT_VAPORISATION_J_PER_KG = 2.43e6

#: Water-cooled centrifugal chiller (constant speed, inlet vanes) from EnergyPlus ``Chillers.idf``.
DEFAULT_CHILLER = "ElectricEIRChiller McQuay WSC 816kW/6.74COP/Vanes"


@dataclass(frozen=True)
class ChillerCurves:
    """One EnergyPlus ``Chiller:Electric:EIR`` curve set.

    ``capft`` and ``eirft`` are biquadratic coefficients in (leaving chilled water x, entering
    condenser water y) [C]; ``eirfplr`` quadratic in part-load ratio; ranges where they were fitted.
    """

    name: str
    reference_cop: float
    reference_capacity_w: float
    capft: tuple[float, ...]
    eirft: tuple[float, ...]
    eirfplr: tuple[float, float, float]
    chw_range_c: tuple[float, float]
    condenser_range_c: tuple[float, float]
    plr_range: tuple[float, float]


def load_chiller_curves(name: str = DEFAULT_CHILLER) -> ChillerCurves:
    """Chiller curve set from the package data (a subset of EnergyPlus ``Chillers.idf``).

    Parameters
    ----------
    name : str
        Curve set name as in EnergyPlus.

    Returns
    -------
    ChillerCurves
        Reference capacity is parsed from the name (``...816kW...``) when present, else 1 MW.

    References
    ----------
    EnergyPlus ``datasets/Chillers.idf`` (CoolTools project and manufacturers' data).
    """
    raw = json.loads((resources.files("twin") / "data" / "chiller_eir_curves.json").read_text("utf-8"))
    matches = [c for c in raw if c["name"] == name]
    if not matches:
        raise KeyError(f"unknown chiller curve set {name!r}")
    c = matches[0]
    capacity_w = 1.0e6
    for token in c["name"].replace("/", " ").split():
        if token.endswith("kW") and token[:-2].isdigit():
            capacity_w = float(token[:-2]) * 1e3
    rng = c["EIRFT_range"]
    return ChillerCurves(
        name=c["name"],
        reference_cop=float(c["refCOP"]),
        reference_capacity_w=capacity_w,
        capft=tuple(float(v) for v in c["CAPFT"]),
        eirft=tuple(float(v) for v in c["EIRFT"]),
        eirfplr=(float(c["EIRFPLR"][0]), float(c["EIRFPLR"][1]), float(c["EIRFPLR"][2])),
        chw_range_c=(float(rng[0]), float(rng[1])),
        condenser_range_c=(float(rng[2]), float(rng[3])),
        plr_range=(float(c["EIRFPLR"][3]), float(c["EIRFPLR"][4])),
    )


def _biquadratic(
    coefficients: tuple[float, ...], x: NDArray[np.float64], y: NDArray[np.float64]
) -> NDArray[np.float64]:
    c1, c2, c3, c4, c5, c6 = coefficients
    return c1 + c2 * x + c3 * x * x + c4 * y + c5 * y * y + c6 * x * y


def chiller_available_capacity_w(
    curves: ChillerCurves,
    chw_leaving_c: ArrayLike,
    condenser_entering_c: ArrayLike,
    capacity_w: float | None = None,
) -> NDArray[np.float64]:
    """Available cooling capacity of one chiller, ``capacity * CAPFT(x, y)`` (inputs clamped).

    Parameters
    ----------
    curves : ChillerCurves
        Curve set.
    chw_leaving_c : array_like
        Leaving chilled-water temperature [C].
    condenser_entering_c : array_like
        Entering condenser-water temperature [C].
    capacity_w : float, optional
        Reference capacity [W]; default the curve set's.

    Returns
    -------
    numpy.ndarray
        Available capacity [W].

    References
    ----------
    EnergyPlus Engineering Reference, Chiller:Electric:EIR.
    """
    capacity = curves.reference_capacity_w if capacity_w is None else capacity_w
    x = np.clip(np.asarray(chw_leaving_c, dtype=float), *curves.chw_range_c)
    y = np.clip(np.asarray(condenser_entering_c, dtype=float), *curves.condenser_range_c)
    return capacity * _biquadratic(curves.capft, x, y)


def chiller_power_w(
    curves: ChillerCurves,
    load_w: ArrayLike,
    chw_leaving_c: ArrayLike,
    condenser_entering_c: ArrayLike,
    n_running: ArrayLike,
    capacity_w: float | None = None,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Electric power of identical chillers sharing a load equally (EnergyPlus EIR model).

    ``available = capacity * CAPFT(x, y)``, ``PLR = load / (n * available)``,
    ``power = n * available / COPref * EIRFT(x, y) * EIRFPLR(max(PLR, PLRmin)) * cycling`` with
    ``cycling = min(PLR / PLRmin, 1)`` (the chiller cycles below its minimum unloading ratio).
    Inputs are clamped to the curves' fitted ranges (x, y and PLR), so the quadratics are never
    extrapolated: above the fitted chilled-water maximum the COP is that at the maximum
    (conservative). Load beyond capacity is returned as unmet.

    Parameters
    ----------
    curves : ChillerCurves
        Curve set.
    load_w : array_like
        Cooling load on the running chillers [W].
    chw_leaving_c : array_like
        Leaving chilled-water temperature (setpoint) [C].
    condenser_entering_c : array_like
        Entering condenser-water temperature [C].
    n_running : array_like
        Number of running chillers (0 allowed: power 0).
    capacity_w : float, optional
        Reference capacity per chiller [W]; default the curve set's.

    Returns
    -------
    power_w : numpy.ndarray
        Total electric power [W].
    plr : numpy.ndarray
        Part-load ratio per running chiller [-], unclamped (0 when none run).
    unmet_load_w : numpy.ndarray
        Load above the running chillers' available capacity [W].

    References
    ----------
    EnergyPlus Engineering Reference, "Electric Chiller Model Based on Condenser Entering
    Temperature" (Chiller:Electric:EIR).
    """
    capacity = curves.reference_capacity_w if capacity_w is None else capacity_w
    load = np.asarray(load_w, dtype=float)
    n = np.asarray(n_running, dtype=float)
    x = np.clip(np.asarray(chw_leaving_c, dtype=float), *curves.chw_range_c)
    y = np.clip(np.asarray(condenser_entering_c, dtype=float), *curves.condenser_range_c)
    available_w = capacity * _biquadratic(curves.capft, x, y)
    total_available_w = n * available_w
    with np.errstate(divide="ignore", invalid="ignore"):
        plr = np.where(total_available_w > 0.0, load / np.where(total_available_w > 0, total_available_w, 1.0), 0.0)
    plr_min, plr_max = curves.plr_range
    plr_for_curve = np.clip(plr, plr_min, min(plr_max, 1.0))
    a, b, c = curves.eirfplr
    eirfplr = a + b * plr_for_curve + c * plr_for_curve**2
    cycling = np.minimum(plr / plr_min, 1.0) if plr_min > 0.0 else np.ones_like(plr)
    power = total_available_w / curves.reference_cop * _biquadratic(curves.eirft, x, y) * eirfplr * cycling
    unmet = np.maximum(load - total_available_w, 0.0)
    return np.where(n > 0, power, 0.0), plr, unmet


def tower_leaving_water_c(wet_bulb_c: ArrayLike, approach_k: float = 4.0) -> NDArray[np.float64]:
    """Cooling-tower leaving water temperature = outdoor wet-bulb + approach.

    Parameters
    ----------
    wet_bulb_c : array_like
        Outdoor wet-bulb temperature at station pressure [C].
    approach_k : float
        Tower approach [K], typically 2.8-6.7 K; held constant (tower fans modulate to keep it).

    Returns
    -------
    numpy.ndarray
        Leaving water temperature [C].

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 40, "Cooling Towers".
    """
    return np.asarray(wet_bulb_c, dtype=float) + approach_k


def tower_makeup_water_m3_per_s(
    heat_rejected_w: ArrayLike,
    cycles_of_concentration: float = 4.0,
    latent_heat_j_per_kg: float = LATENT_HEAT_VAPORISATION_J_PER_KG,
) -> NDArray[np.float64]:
    """Make-up water of evaporative cooling towers: evaporation plus blowdown, drift neglected.

    ``evaporation = heat / latent heat`` (all rejected heat taken as latent, the usual rule of
    thumb; in cold dry air part leaves as sensible heat, so this errs high), ``blowdown =
    evaporation / (cycles - 1)``, so ``make-up = evaporation x cycles / (cycles - 1)``. Drift from
    towers with modern eliminators is 0.0005-0.002 % of the circulating flow, negligible here.

    Parameters
    ----------
    heat_rejected_w : array_like
        Heat rejected at the towers [W] (negative values count as 0).
    cycles_of_concentration : float
        Dissolved solids in the basin over those in the make-up [-], > 1; typically 3-6, set by
        the make-up water's quality and the treatment programme.
    latent_heat_j_per_kg : float
        Latent heat of vaporisation [J/kg].

    Returns
    -------
    numpy.ndarray
        Make-up water volume flow [m3/s].

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 40, "Cooling Towers" (evaporation,
    blowdown and cycles of concentration); The Green Grid White Paper 35, "Water Usage
    Effectiveness (WUE)" (2011).
    """
    if cycles_of_concentration <= 1.0:
        raise ValueError("cycles_of_concentration must be > 1")
    evaporation_kg_s = np.maximum(np.asarray(heat_rejected_w, dtype=float), 0.0) / latent_heat_j_per_kg
    makeup_kg_s = evaporation_kg_s * cycles_of_concentration / (cycles_of_concentration - 1.0)
    return np.asarray(makeup_kg_s / WATER_DENSITY_KG_M3, dtype=np.float64)


def reused_heat_w(
    available_heat_w: ArrayLike, outdoor_dry_bulb_c: ArrayLike, ua_w_per_k: float, base_c: float = 15.0
) -> NDArray[np.float64]:
    """Heat taken from the chilled-water return by a heating customer (degree-hour demand).

    The customer's buildings need ``UA x max(0, base - outdoor dry-bulb)`` (the balance-point,
    or degree-hour, method), capped at the heat the chilled-water loop carries. The heat pumps that
    lift the 12-20 C return water to heating temperature belong to the customer, outside the data
    centre's boundary: their electricity is not facility power, and the heat counted here is what
    crosses the boundary (the heat meter on the customer's side of the exchanger), not what the
    heat pumps deliver.

    Parameters
    ----------
    available_heat_w : array_like
        Heat carried by the chilled-water loop [W].
    outdoor_dry_bulb_c : array_like
        Outdoor dry-bulb [C].
    ua_w_per_k : float
        Heat-loss coefficient of the heated buildings, envelope plus ventilation [W/K].
    base_c : float
        Balance-point temperature below which they need heat [C].

    Returns
    -------
    numpy.ndarray
        Heat delivered for reuse [W].

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 19, "Energy Estimating and Modeling Methods"
    (balance-point temperature and degree-day methods); ISO/IEC 30134-6:2021 (energy reuse factor)
    and The Green Grid White Paper 29 (ERE), for where reused energy is measured.
    """
    demand_w = ua_w_per_k * np.maximum(base_c - np.asarray(outdoor_dry_bulb_c, dtype=float), 0.0)
    available = np.maximum(np.asarray(available_heat_w, dtype=float), 0.0)
    return np.asarray(np.minimum(demand_w, available), dtype=np.float64)


def free_cooling_fraction(
    available_water_c: ArrayLike, chw_supply_c: ArrayLike, chw_return_c: ArrayLike
) -> NDArray[np.float64]:
    """Fraction of the chilled-water load a water-side economizer can carry.

    Full (1) when the water available from the heat exchanger is at or below the chilled-water
    supply setpoint; partial ``(T_return - T_available) / (T_return - T_supply)`` between supply
    and return; 0 above the return temperature (chillers carry the rest).

    Parameters
    ----------
    available_water_c : array_like
        Wet-bulb + tower approach + heat-exchanger approach [C].
    chw_supply_c, chw_return_c : array_like
        Chilled-water supply setpoint and return temperature [C].

    Returns
    -------
    numpy.ndarray
        Fraction [-] in 0-1.

    References
    ----------
    ASHRAE Standard 90.1-2019, section 6.5.1.2 (water economizers); Modelica Buildings library,
    ``Buildings.Applications.DataCenters.ChillerCooled`` (integrated water-side economizer).
    """
    available = np.asarray(available_water_c, dtype=float)
    supply = np.asarray(chw_supply_c, dtype=float)
    ret = np.asarray(chw_return_c, dtype=float)
    span = np.maximum(ret - supply, 1e-9)
    return np.asarray(np.clip((ret - available) / span, 0.0, 1.0), dtype=np.float64)


def economizer_mode(
    enabled: NDArray[np.bool_],
    available_water_c: NDArray[np.float64],
    chw_return_c: NDArray[np.float64],
    step_s: float,
    deadband_k: float = 1.0,
    min_dwell_s: float = 1200.0,
    initial_active: bool = False,
    initial_dwell_s: float = float("inf"),
) -> tuple[NDArray[np.bool_], bool, float]:
    """Economizer on/off state with a deadband and a minimum dwell time (a sequential scan).

    Switches on when enabled and ``available <= return - deadband`` (worthwhile free cooling),
    off when disabled or ``available >= return`` (none possible); between the two it holds. A
    change is allowed only after ``min_dwell_s`` in the current mode, except that disabling the
    economizer takes effect at once (an operator command).

    Parameters
    ----------
    enabled : numpy.ndarray of bool
        Economizer enable command per step.
    available_water_c : numpy.ndarray
        Water temperature the heat exchanger can deliver [C].
    chw_return_c : numpy.ndarray
        Chilled-water return temperature [C].
    step_s : float
        Step length [s].
    deadband_k : float
        Switch-on margin below the return temperature [K].
    min_dwell_s : float
        Minimum time in a mode before a change [s] (20 min in the Modelica Buildings library).
    initial_active : bool
        Mode before the first step.
    initial_dwell_s : float
        Time already spent in that mode [s].

    Returns
    -------
    active : numpy.ndarray of bool
        Mode per step.
    final_active : bool
        Mode after the last step.
    final_dwell_s : float
        Time in that mode after the last step [s].

    References
    ----------
    Modelica Buildings library, ``Buildings.Applications.DataCenters.ChillerCooled.Controls``
    (``CoolingMode``: deadbands and 20-minute minimum dwell between modes).
    """
    want_on = (enabled & (available_water_c <= chw_return_c - deadband_k)).tolist()
    want_off = ((~enabled) | (available_water_c >= chw_return_c)).tolist()
    forced_off = (~enabled).tolist()
    active_list = [False] * len(want_on)
    active = initial_active
    dwell_s = initial_dwell_s
    for i in range(len(want_on)):
        if active:
            if forced_off[i] or (want_off[i] and dwell_s >= min_dwell_s):
                active = False
                dwell_s = 0.0
        elif want_on[i] and dwell_s >= min_dwell_s:
            active = True
            dwell_s = 0.0
        active_list[i] = active
        dwell_s += step_s
    return np.asarray(active_list, dtype=bool), active, dwell_s


def air_density_kg_m3(pressure_pa: ArrayLike, air_temp_c: ArrayLike) -> NDArray[np.float64]:
    """Dry-air density from the ideal gas law [kg/m3] (about 1.0 at 880 hPa and 30 C).

    Parameters
    ----------
    pressure_pa : array_like
        Station pressure [Pa].
    air_temp_c : array_like
        Air temperature [C].

    Returns
    -------
    numpy.ndarray
        Density [kg/m3].

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1.
    """
    return np.asarray(pressure_pa, dtype=float) / (
        DRY_AIR_GAS_CONSTANT_J_PER_KG_K * (np.asarray(air_temp_c, dtype=float) + 273.15)
    )


def airflow_m3_s(heat_w: ArrayLike, delta_t_k: ArrayLike, density_kg_m3: ArrayLike) -> NDArray[np.float64]:
    """Air volume flow needed to carry a heat load at a given air temperature rise.

    Parameters
    ----------
    heat_w : array_like
        Sensible heat [W].
    delta_t_k : array_like
        Return minus supply air temperature [K].
    density_kg_m3 : array_like
        Air density [kg/m3].

    Returns
    -------
    numpy.ndarray
        Volume flow [m3/s] = heat / (rho * cp * delta_T).

    References
    ----------
    ASHRAE Handbook - Fundamentals (2017), chapter 1 (sensible heat of moist air).
    """
    flow = np.asarray(heat_w, dtype=float) / (
        np.asarray(density_kg_m3, dtype=float) * CP_AIR_J_PER_KG_K * np.asarray(delta_t_k, dtype=float)
    )
    return np.asarray(flow, dtype=np.float64)


def fan_power_w(speed_fraction: ArrayLike, rated_power_w: float) -> NDArray[np.float64]:
    """Fan power by the affinity law, proportional to speed cubed.

    Parameters
    ----------
    speed_fraction : array_like
        Speed as a fraction of rated [-].
    rated_power_w : float
        Power at rated speed [W].

    Returns
    -------
    numpy.ndarray
        Power [W].

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 21, "Fans" (fan laws).
    """
    return rated_power_w * np.asarray(speed_fraction, dtype=float) ** 3


def pump_power_w(mass_flow_kg_s: ArrayLike, head_pa: float, efficiency: float) -> NDArray[np.float64]:
    """Pump shaft-to-wire power for a water flow against a pressure rise.

    Parameters
    ----------
    mass_flow_kg_s : array_like
        Water mass flow [kg/s].
    head_pa : float
        Pressure rise [Pa].
    efficiency : float
        Wire-to-water efficiency [-].

    Returns
    -------
    numpy.ndarray
        Electric power [W] = flow / rho * head / efficiency.

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 44, "Centrifugal Pumps".
    """
    return np.asarray(mass_flow_kg_s, dtype=float) / WATER_DENSITY_KG_M3 * head_pa / efficiency
