"""Variable-speed chilled-water plant (design ``modern-vs``): pumps on a differential-pressure setpoint, tower fans
on a condenser-water setpoint, chillers and towers staged by count.

Part-load curves, each a pure function vectorised over steps:

* chilled-water pumps (variable primary, one per running chiller, flow following the load at the design
  delta-T): head = max(DP setpoint, DP the remotest coil needs) + plant friction, both friction terms
  proportional to flow squared (system curve), so with the setpoint at the remote coil's need pump power
  falls with the cube of speed (affinity laws); wire-to-water efficiency falls at low speed (motor and
  drive part-load losses);
* cooling towers: the approach a tower reaches grows with the heat per tower and falls with its airflow
  (approach = design approach x heat fraction x speed^-n, n about 0.6-0.8 for counterflow towers); fans
  modulate to hold the condenser-water setpoint, between their minimum speed and full speed, fan power
  proportional to speed cubed; more towers running share the heat, so each runs slower;
* chillers: the EnergyPlus EIR curves (:func:`twin.cooling.chiller_power_w`); the number running is a
  lever, never fewer than the load needs at full capacity (the plant's own staging safety).

The lower DP setpoint is bounded by physics, not by a trade-off: below what the remotest coil needs the
loop's valve-position reset holds that need (ASHRAE Guideline 36 trim-and-respond), so a lower setpoint
saves pump power until that floor.

References
----------
ASHRAE Handbook - HVAC Systems and Equipment (2020), chapters 40 "Cooling Towers" and 44 "Centrifugal
Pumps" (affinity laws, system curves); ASHRAE Guideline 36-2021 (DP and condenser-water resets);
Braun, Klein, Mitchell, "Effectiveness models for cooling towers and cooling coils", ASHRAE Trans. 95 (1989).
"""

from __future__ import annotations

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin import cooling
from twin.balance import WaterSide, chw_loop_state
from twin.design import SiteDesign

__all__ = ["staged_chillers", "tower_state", "variable_speed_pump_power_w", "water_side_variable_speed"]


def variable_speed_pump_power_w(
    flow_kg_s: ArrayLike,
    n_pumps: ArrayLike,
    design_flow_per_pump_kg_s: float,
    dp_setpoint_pa: ArrayLike,
    dp_remote_design_pa: float,
    friction_design_pa: float,
    efficiency: float,
    part_load_efficiency_loss: float = 0.3,
) -> NDArray[np.float64]:
    """Electric power of identical variable-speed pumps sharing a flow on a DP setpoint.

    ``x = flow / (n x design flow)`` is each pump's speed (affinity: flow ~ speed);
    ``head = max(DP setpoint, DP_remote x x^2) + friction x x^2``;
    ``efficiency(x) = efficiency x (1 - loss x (1 - x)^2)``; power = flow / rho x head / efficiency(x).

    Parameters
    ----------
    flow_kg_s : array_like
        Total water flow [kg/s].
    n_pumps : array_like
        Pumps running (>= 1 where flow > 0).
    design_flow_per_pump_kg_s : float
        Flow per pump at design [kg/s].
    dp_setpoint_pa : array_like
        Loop differential-pressure setpoint [Pa].
    dp_remote_design_pa : float
        DP the remotest coil needs at design flow [Pa].
    friction_design_pa : float
        Plant-side friction at design flow [Pa].
    efficiency : float
        Wire-to-water efficiency at design [-].
    part_load_efficiency_loss : float
        Fractional efficiency loss at zero speed of the quadratic part-load curve [-] (0: constant).

    Returns
    -------
    numpy.ndarray
        Power [W].
    """
    flow = np.asarray(flow_kg_s, dtype=float)
    n = np.maximum(np.asarray(n_pumps, dtype=float), 1.0)
    x = np.clip(flow / (n * design_flow_per_pump_kg_s), 0.0, 1.5)
    head = np.maximum(np.asarray(dp_setpoint_pa, dtype=float), dp_remote_design_pa * x * x) + friction_design_pa * x * x
    eff = efficiency * (1.0 - part_load_efficiency_loss * (1.0 - np.minimum(x, 1.0)) ** 2)
    return np.asarray(flow / cooling.WATER_DENSITY_KG_M3 * head / eff, dtype=np.float64)


def tower_state(
    heat_rejected_w: ArrayLike,
    wet_bulb_c: ArrayLike,
    condenser_water_setpoint_c: ArrayLike,
    n_towers: ArrayLike,
    design_heat_per_tower_w: float,
    design_approach_k: float,
    min_fan_speed: float,
    airflow_exponent: float = 0.7,
) -> tuple[NDArray[np.float64], NDArray[np.float64]]:
    """Fan speed and leaving water of towers holding a condenser-water setpoint.

    Approach at speed ``s`` and heat fraction ``h`` (heat per tower / design): ``A = A_design x h x
    s^-n``. The fans run at the speed whose approach meets ``setpoint - wet-bulb``, within
    ``[min_fan_speed, 1]``; at full speed the water leaves as cold as the towers can make it, at the
    minimum speed colder than the setpoint.

    Returns
    -------
    speed : numpy.ndarray
        Fan speed of each running tower [-].
    leaving_c : numpy.ndarray
        Tower leaving water [C].
    """
    heat = np.maximum(np.asarray(heat_rejected_w, dtype=float), 0.0)
    n = np.maximum(np.asarray(n_towers, dtype=float), 1.0)
    h = heat / (n * design_heat_per_tower_w)
    wet_bulb = np.asarray(wet_bulb_c, dtype=float)
    wanted = np.maximum(np.asarray(condenser_water_setpoint_c, dtype=float) - wet_bulb, 1e-3)
    speed = np.clip((design_approach_k * h / wanted) ** (1.0 / airflow_exponent), min_fan_speed, 1.0)
    leaving = wet_bulb + design_approach_k * h * speed**-airflow_exponent
    return np.asarray(speed, dtype=np.float64), np.asarray(leaving, dtype=np.float64)


def staged_chillers(
    chiller_load_w: ArrayLike,
    available_per_chiller_w: ArrayLike,
    n_chillers: int,
    requested: ArrayLike,
) -> NDArray[np.float64]:
    """Chillers running: the requested count, never fewer than full capacity needs, none without load.

    Parameters
    ----------
    chiller_load_w : array_like
        Load on the chillers [W].
    available_per_chiller_w : array_like
        Available capacity of one chiller at the conditions [W].
    n_chillers : int
        Chillers installed.
    requested : array_like
        Requested number running [-].
    """
    load = np.asarray(chiller_load_w, dtype=float)
    needed = np.ceil(load / np.asarray(available_per_chiller_w, dtype=float) - 1e-9)
    n = np.clip(np.maximum(np.round(np.asarray(requested, dtype=float)), needed), 1, n_chillers)
    return np.asarray(np.where(load > 1.0, n, 0.0), dtype=np.float64)


def water_side_variable_speed(
    design: SiteDesign,
    chw_load_w: NDArray[np.float64],
    chw_supply_setpoint_c: ArrayLike,
    wet_bulb_c: ArrayLike,
    economizer_active: ArrayLike,
    condenser_water_setpoint_c: ArrayLike | None,
    chw_pump_dp_setpoint_pa: ArrayLike | None,
    chillers_running: ArrayLike | None,
    towers_running: ArrayLike | None,
) -> WaterSide:
    """:func:`water_side` of a variable-speed plant (:mod:`twin.vs_plant`); inputs broadcast together."""
    shape = np.broadcast_shapes(
        np.shape(chw_load_w),
        *(
            np.shape(v)
            for v in (condenser_water_setpoint_c, chw_pump_dp_setpoint_pa, chillers_running, towers_running)
            if v is not None
        ),
    )
    load = np.broadcast_to(chw_load_w, shape)
    chw_supply = np.broadcast_to(np.asarray(chw_supply_setpoint_c, float), shape)
    active = np.broadcast_to(np.asarray(economizer_active, bool), shape)
    wet_bulb = np.broadcast_to(np.asarray(wet_bulb_c, float), shape)
    n_load, chw_return, _ = chw_loop_state(design, load, chw_supply, wet_bulb)
    # variable primary holds the design delta-T (chw_loop_state's return): flow follows the load
    chw_flow = load / (cooling.CP_WATER_J_PER_KG_K * design.chw_design_delta_t_k)
    n_towers = np.broadcast_to(
        np.clip(design.n_towers if towers_running is None else np.asarray(towers_running, float), 1, design.n_towers),
        shape,
    )
    # economizer: the tower fans modulate to make the water the heat exchanger needs for full free cooling
    # (chilled-water supply - HX approach), up to full speed; their approach is set by the heat each carries
    econ_speed, econ_leaving = tower_state(
        load,
        wet_bulb,
        chw_supply - design.hx_approach_k,
        n_towers,
        design.tower_design_heat_w,
        design.tower_approach_k,
        design.tower_min_fan_speed,
        design.tower_airflow_exponent,
    )
    econ_available = econ_leaving + design.hx_approach_k
    free_fraction = np.where(active, cooling.free_cooling_fraction(econ_available, chw_supply, chw_return), 0.0)
    chiller_load = load * (1.0 - free_fraction)

    curves = design.chiller_curves
    fixed_leaving = cooling.tower_leaving_water_c(wet_bulb, design.tower_approach_k)
    available_fixed = cooling.chiller_available_capacity_w(
        curves, chw_supply, np.maximum(fixed_leaving, design.condenser_water_min_c), design.chiller_capacity_w
    )
    auto = np.ceil(chiller_load / (design.chiller_staging_plr * available_fixed))
    requested = auto if chillers_running is None else np.asarray(chillers_running, float)
    n_chillers = staged_chillers(chiller_load, available_fixed, design.n_chillers, requested)
    # heat to reject before the chillers' work is known: the load plus a design-COP estimate (one fixed point)
    rejected_guess = load + chiller_load / design.chiller_curves.reference_cop
    if condenser_water_setpoint_c is None:
        speed = np.clip(rejected_guess / (n_towers * design.tower_design_heat_w), design.tower_min_fan_speed, 1.0)
        leaving = fixed_leaving
    else:
        speed, leaving = tower_state(
            rejected_guess,
            wet_bulb,
            condenser_water_setpoint_c,
            n_towers,
            design.tower_design_heat_w,
            design.tower_approach_k,
            design.tower_min_fan_speed,
            design.tower_airflow_exponent,
        )
    speed = np.where(active, econ_speed, speed)
    leaving = np.where(active, econ_leaving, leaving)
    condenser_entering = np.maximum(leaving, design.condenser_water_min_c)
    chiller_power, plr, unmet = cooling.chiller_power_w(
        curves, chiller_load, chw_supply, condenser_entering, n_chillers, design.chiller_capacity_w
    )
    rejected = load + chiller_power
    tower_fan = n_towers * cooling.fan_power_w(speed, design.tower_rated_fan_power_w)
    dp = design.chw_pump_dp_design_pa if chw_pump_dp_setpoint_pa is None else chw_pump_dp_setpoint_pa
    n_chw_pumps = np.maximum(n_chillers, n_load * active)
    chw_pumps = variable_speed_pump_power_w(
        chw_flow,
        n_chw_pumps,
        design.chw_design_flow_kg_s,
        dp,
        design.chw_dp_remote_design_pa,
        design.chw_pump_head_pa - design.chw_pump_dp_design_pa,
        design.pump_efficiency,
        design.pump_part_load_efficiency_loss,
    )
    n_cw_pumps = np.maximum(n_chillers, n_load * active)
    cw_pumps = n_cw_pumps * cooling.pump_power_w(
        design.cw_design_flow_kg_s, design.cw_pump_head_pa, design.pump_efficiency
    )
    pumps = chw_pumps + cw_pumps
    return WaterSide(
        free_cooling_fraction=free_fraction,
        chiller_load_w=chiller_load,
        chiller_power_w=chiller_power,
        n_chillers_running=n_chillers,
        chiller_plr=plr,
        unmet_load_w=unmet,
        tower_leaving_c=leaving,
        condenser_entering_c=condenser_entering,
        tower_fan_power_w=tower_fan,
        pump_power_w=pumps,
        chw_return_c=chw_return,
        plant_power_w=chiller_power + tower_fan + pumps,
        heat_rejected_w=rejected,
    )
