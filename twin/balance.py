"""The power balance of one simulated hall, vectorised over any number of steps: the air side (IT, power chain,
CRAHs), the chilled-water loop and the water side (chillers, towers, pumps, economizer), and the flows crossing
the boundary (PV, reused heat, make-up water).

facility = UPS input (IT + PDU losses + UPS losses) + lighting/other + cooling, where
cooling = CRAH fans + chillers + tower fans + chilled- and condenser-water pumps, and the
chilled-water load is everything that turns into heat indoors (IT, PDU and UPS losses, lighting,
CRAH fan heat).

Three flows cross the boundary without changing that balance (:func:`boundary_flows`): rooftop PV
feeds the site's own bus behind the utility meter (utility meter = facility - PV; facility power
stays the total consumption, so PUE is unchanged), heat recovered from the chilled-water return is
delivered to a heating customer, and the cooling towers evaporate and blow down make-up water.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin import cooling, it_load, power_chain, solar
from twin.design import SiteDesign

__all__ = ["AirSide", "BoundaryFlows", "WaterSide", "air_side", "boundary_flows", "chw_loop_state", "water_side"]


@dataclass(frozen=True)
class AirSide:
    """Hall-side quantities per step; per-rack and per-CRAH arrays have a trailing device axis."""

    supply_air_c: NDArray[np.float64]
    rack_inlet_c: NDArray[np.float64]
    rack_power_w: NDArray[np.float64]
    it_power_w: NDArray[np.float64]
    pdu_loss_w: NDArray[np.float64]
    ups_output_w: NDArray[np.float64]
    ups_loss_w: NDArray[np.float64]
    crah_fan_speed: NDArray[np.float64]
    crah_fan_power_w: NDArray[np.float64]
    crah_fan_total_w: NDArray[np.float64]
    lighting_other_w: NDArray[np.float64]
    chw_load_w: NDArray[np.float64]
    max_inlet_c: NDArray[np.float64]


def air_side(
    design: SiteDesign,
    rack_utilisation: NDArray[np.float64],
    pressure_pa: ArrayLike,
    supply_air_setpoint_c: ArrayLike,
    chw_supply_setpoint_c: ArrayLike,
    crah_min_fan_speed: ArrayLike,
) -> AirSide:
    """Racks, power chain and CRAH fans for any number of steps.

    The CRAH coil cannot make air colder than the entering chilled water plus its approach, so the
    supply air is ``max(setpoint, chw_supply + coil_approach)``. Each rack inlet is supply air plus
    its recirculation approach; rack power rises with inlet through server fans. Each CRAH moves the
    air its zone's heat needs at ``delta_T = min(design, return_max - supply)``, never below its
    minimum speed.

    Parameters
    ----------
    design : SiteDesign
        Hall design.
    rack_utilisation : numpy.ndarray
        Utilisation per rack [-], shape ``(n_steps, n_racks)``.
    pressure_pa : array_like
        Station pressure [Pa], shape ``(n_steps,)`` or scalar.
    supply_air_setpoint_c, chw_supply_setpoint_c : array_like
        Setpoints [C], shape ``(n_steps,)`` or scalar.
    crah_min_fan_speed : array_like
        Minimum CRAH fan speed [-], shape ``(n_steps,)`` or scalar.

    Returns
    -------
    AirSide

    References
    ----------
    ASHRAE TC 9.9 (inlet envelope); The Green Grid White Paper 16 (UPS and PDU losses); fan laws
    (ASHRAE Handbook - HVAC Systems and Equipment, chapter 21).
    """
    n_steps = rack_utilisation.shape[0]
    pressure = np.broadcast_to(np.asarray(pressure_pa, float), (n_steps,))
    supply_air = np.maximum(
        np.broadcast_to(np.asarray(supply_air_setpoint_c, float), (n_steps,)),
        np.asarray(chw_supply_setpoint_c, float) + design.crah_coil_approach_k,
    )
    rack_inlet = supply_air[:, None] + design.rack_supply_approach_k[None, :]
    base_power = it_load.server_power_w(rack_utilisation, design.rack_idle_power_w, design.rack_peak_power_w)
    rack_power = base_power * it_load.server_fan_power_factor(
        rack_inlet, design.server_fan_share, design.server_fan_reference_c, design.server_fan_speed_gain_per_k
    )
    rack_pdu_loss = power_chain.pdu_loss_w(rack_power, design.pdu_no_load_loss_w, design.pdu_proportional_loss_fraction)
    it_power = rack_power.sum(axis=1)
    pdu_loss = rack_pdu_loss.sum(axis=1)
    ups_output = np.repeat(((it_power + pdu_loss) / design.n_ups)[:, None], design.n_ups, axis=1)
    ups_loss = power_chain.ups_loss_w(
        ups_output,
        design.ups_rated_power_w,
        design.ups_no_load_loss_fraction,
        design.ups_proportional_loss_fraction,
        design.ups_square_loss_fraction,
    )
    lighting = np.full(n_steps, design.lighting_other_power_w)

    zone_heat = np.zeros((n_steps, design.n_crah))
    np.add.at(zone_heat.T, design.rack_crah, (rack_power + rack_pdu_loss).T)
    zone_heat += (lighting / design.n_crah)[:, None]
    air_delta_t = np.clip(design.return_air_max_c - supply_air, 1.0, design.air_delta_t_design_k)
    density = cooling.air_density_kg_m3(pressure, supply_air)
    needed_airflow = cooling.airflow_m3_s(zone_heat, air_delta_t[:, None], density[:, None])
    min_speed = np.broadcast_to(np.asarray(crah_min_fan_speed, float), (n_steps,))[:, None]
    crah_speed = np.clip(needed_airflow / design.crah_rated_airflow_m3_s, min_speed, 1.0)
    crah_power = cooling.fan_power_w(crah_speed, design.crah_rated_fan_power_w)
    crah_total = crah_power.sum(axis=1)
    chw_load = it_power + pdu_loss + ups_loss.sum(axis=1) + lighting + crah_total
    return AirSide(
        supply_air_c=supply_air,
        rack_inlet_c=rack_inlet,
        rack_power_w=rack_power,
        it_power_w=it_power,
        pdu_loss_w=pdu_loss,
        ups_output_w=ups_output,
        ups_loss_w=ups_loss,
        crah_fan_speed=crah_speed,
        crah_fan_power_w=crah_power,
        crah_fan_total_w=crah_total,
        lighting_other_w=lighting,
        chw_load_w=chw_load,
        max_inlet_c=rack_inlet.max(axis=1),
    )


def chw_loop_state(
    design: SiteDesign,
    chw_load_w: NDArray[np.float64],
    chw_supply_setpoint_c: ArrayLike,
    wet_bulb_c: ArrayLike,
) -> tuple[NDArray[np.float64], NDArray[np.float64], NDArray[np.float64]]:
    """Pumps staged on load, chilled-water return, and water available from the economizer.

    Constant-speed primary pumps: one chilled- and one condenser-water pump per chiller's worth of
    load (at the staging part-load ratio), so the loop delta-T falls at part load.

    Parameters
    ----------
    design : SiteDesign
        Plant design.
    chw_load_w : numpy.ndarray
        Chilled-water load [W].
    chw_supply_setpoint_c : array_like
        Chilled-water supply setpoint [C].
    wet_bulb_c : array_like
        Outdoor wet-bulb [C].

    Returns
    -------
    n_pumps : numpy.ndarray
        Pump pairs running [-].
    chw_return_c : numpy.ndarray
        Chilled-water return [C].
    available_water_c : numpy.ndarray
        Wet-bulb + tower approach + heat-exchanger approach [C].

    References
    ----------
    ASHRAE Handbook - HVAC Systems and Equipment (2020), chapter 13, "Hydronic Heating and Cooling".
    """
    per_pump_w = design.chiller_capacity_w * design.chiller_staging_plr
    n_pumps = np.clip(np.ceil(chw_load_w / per_pump_w), 1, design.n_chillers)
    flow = n_pumps * design.chw_design_flow_kg_s
    chw_return = np.asarray(chw_supply_setpoint_c, float) + chw_load_w / (flow * cooling.CP_WATER_J_PER_KG_K)
    if design.variable_speed_plant:  # variable primary: flow follows the load at the design delta-T
        chw_return = np.asarray(chw_supply_setpoint_c, float) + np.full(
            np.shape(chw_load_w), design.chw_design_delta_t_k
        )
    available = cooling.tower_leaving_water_c(wet_bulb_c, design.tower_approach_k) + design.hx_approach_k
    return n_pumps, chw_return, available


@dataclass(frozen=True)
class WaterSide:
    """Plant quantities per step."""

    free_cooling_fraction: NDArray[np.float64]
    chiller_load_w: NDArray[np.float64]
    chiller_power_w: NDArray[np.float64]
    n_chillers_running: NDArray[np.float64]
    chiller_plr: NDArray[np.float64]
    unmet_load_w: NDArray[np.float64]
    tower_leaving_c: NDArray[np.float64]
    condenser_entering_c: NDArray[np.float64]
    tower_fan_power_w: NDArray[np.float64]
    pump_power_w: NDArray[np.float64]
    chw_return_c: NDArray[np.float64]
    plant_power_w: NDArray[np.float64]
    heat_rejected_w: NDArray[np.float64]


def water_side(
    design: SiteDesign,
    chw_load_w: NDArray[np.float64],
    chw_supply_setpoint_c: ArrayLike,
    wet_bulb_c: ArrayLike,
    economizer_active: ArrayLike,
    *,
    condenser_water_setpoint_c: ArrayLike | None = None,
    chw_pump_dp_setpoint_pa: ArrayLike | None = None,
    chillers_running: ArrayLike | None = None,
    towers_running: ArrayLike | None = None,
) -> WaterSide:
    """Chillers, towers, pumps and the water-side economizer for any number of steps.

    With the economizer active the towers run at full fan speed and the heat exchanger pre-cools
    the return water, carrying the free-cooling fraction; the chillers, in series after it, carry
    the rest. Chillers stage on at ``chiller_staging_plr`` of available capacity. Tower fans
    otherwise modulate with heat rejected (approach held constant, a simplification).

    Parameters
    ----------
    design : SiteDesign
        Plant design.
    chw_load_w : numpy.ndarray
        Chilled-water load [W].
    chw_supply_setpoint_c : array_like
        Chilled-water supply setpoint [C].
    wet_bulb_c : array_like
        Outdoor wet-bulb [C].
    economizer_active : array_like of bool
        Economizer mode per step (after deadband and dwell logic).
    condenser_water_setpoint_c, chw_pump_dp_setpoint_pa, chillers_running, towers_running : array_like, optional
        Levers of a variable-speed plant (:attr:`SiteDesign.variable_speed_plant`, :mod:`twin.vs_plant`),
        ignored by constant-speed designs; None: the design's own control.

    Returns
    -------
    WaterSide

    References
    ----------
    EnergyPlus Engineering Reference (Chiller:Electric:EIR); Modelica Buildings library,
    ``Buildings.Applications.DataCenters.ChillerCooled`` (integrated water-side economizer).
    """
    if design.variable_speed_plant:
        from twin.vs_plant import water_side_variable_speed  # imported here: vs_plant builds on this module

        return water_side_variable_speed(
            design,
            chw_load_w,
            chw_supply_setpoint_c,
            wet_bulb_c,
            economizer_active,
            condenser_water_setpoint_c,
            chw_pump_dp_setpoint_pa,
            chillers_running,
            towers_running,
        )
    chw_supply = np.broadcast_to(np.asarray(chw_supply_setpoint_c, float), chw_load_w.shape)
    active = np.broadcast_to(np.asarray(economizer_active, bool), chw_load_w.shape)
    wet_bulb_c = np.broadcast_to(np.asarray(wet_bulb_c, float), chw_load_w.shape)
    n_pumps, chw_return, available = chw_loop_state(design, chw_load_w, chw_supply, wet_bulb_c)
    free_fraction = np.where(active, cooling.free_cooling_fraction(available, chw_supply, chw_return), 0.0)
    chiller_load = chw_load_w * (1.0 - free_fraction)

    curves = design.chiller_curves
    tower_leaving = cooling.tower_leaving_water_c(wet_bulb_c, design.tower_approach_k)
    condenser_entering = np.maximum(tower_leaving, design.condenser_water_min_c)
    available_per_chiller = cooling.chiller_available_capacity_w(
        curves, chw_supply, condenser_entering, design.chiller_capacity_w
    )
    n_running = np.where(
        chiller_load > 1.0,
        np.clip(np.ceil(chiller_load / (design.chiller_staging_plr * available_per_chiller)), 1, design.n_chillers),
        0.0,
    )
    chiller_power, plr, unmet = cooling.chiller_power_w(
        curves, chiller_load, chw_supply, condenser_entering, n_running, design.chiller_capacity_w
    )
    chiller_power = chiller_power / design.chiller_cop_factor  # an aged plant (1 when new)
    rejected = chw_load_w + chiller_power
    tower_speed = np.where(
        active,
        1.0,
        np.clip(rejected / (design.n_towers * design.tower_design_heat_w), design.tower_min_fan_speed, 1.0),
    )
    tower_fan = design.n_towers * cooling.fan_power_w(tower_speed, design.tower_rated_fan_power_w)
    pumps = n_pumps * (
        cooling.pump_power_w(design.chw_design_flow_kg_s, design.chw_pump_head_pa, design.pump_efficiency)
        + cooling.pump_power_w(design.cw_design_flow_kg_s, design.cw_pump_head_pa, design.pump_efficiency)
    )
    return WaterSide(
        free_cooling_fraction=free_fraction,
        chiller_load_w=chiller_load,
        chiller_power_w=chiller_power,
        n_chillers_running=n_running,
        chiller_plr=plr,
        unmet_load_w=unmet,
        tower_leaving_c=tower_leaving,
        condenser_entering_c=condenser_entering,
        tower_fan_power_w=tower_fan,
        pump_power_w=pumps,
        chw_return_c=chw_return,
        plant_power_w=chiller_power + tower_fan + pumps,
        heat_rejected_w=rejected,
    )


@dataclass(frozen=True)
class BoundaryFlows:
    """Flows across the facility boundary that leave its electric balance unchanged, per step."""

    pv_power_w: NDArray[np.float64]
    grid_import_power_w: NDArray[np.float64]
    reused_heat_power_w: NDArray[np.float64]
    water_flow_m3_per_s: NDArray[np.float64]


def boundary_flows(
    design: SiteDesign,
    facility_power_w: ArrayLike,
    chw_load_w: ArrayLike,
    heat_rejected_w: ArrayLike,
    outdoor_dry_bulb_c: ArrayLike,
    ghi_w_per_m2: ArrayLike,
) -> BoundaryFlows:
    """Rooftop PV, heat delivered for reuse and cooling-tower make-up water for any number of steps.

    PV (:func:`twin.solar.pv_power_w`) feeds the site's bus behind the utility meter, so the
    utility meter reads ``facility - PV``; PV is capped at the facility's consumption (no export).
    Heat for reuse (:func:`twin.cooling.reused_heat_w`) comes from the chilled-water return,
    at most the loop's load. The towers reject the rest of the heat they would reject otherwise
    (chilled-water load plus compressor work, less the heat reused) and evaporate accordingly
    (:func:`twin.cooling.tower_makeup_water_m3_per_s`). A simplification: the plant's electric
    power is computed as if no heat were recovered (in reality the chillers and tower fans unload
    a little), so facility power, and PUE, do not depend on the heat customer.

    Parameters
    ----------
    design : SiteDesign
        Site design.
    facility_power_w : array_like
        Total facility consumption [W] (grid import + PV).
    chw_load_w : array_like
        Chilled-water load [W].
    heat_rejected_w : array_like
        Heat the plant rejects without reuse, chilled-water load + chiller power [W].
    outdoor_dry_bulb_c : array_like
        Outdoor dry-bulb [C].
    ghi_w_per_m2 : array_like
        Global horizontal irradiance [W/m2].

    Returns
    -------
    BoundaryFlows

    References
    ----------
    ISO/IEC 30134-2:2026 (PUE boundary), 30134-3:2016 (REF), 30134-6:2021 (ERF), 30134-9:2022
    (WUE); The Green Grid White Papers 29 (ERE) and 35 (WUE).
    """
    facility, chw_load, rejected, dry_bulb, ghi = np.broadcast_arrays(
        *(
            np.asarray(v, dtype=float)
            for v in (facility_power_w, chw_load_w, heat_rejected_w, outdoor_dry_bulb_c, ghi_w_per_m2)
        )
    )
    generated = solar.pv_power_w(
        ghi, dry_bulb, design.pv_rated_power_w, design.pv_temp_coefficient_per_k, design.pv_derate
    )
    pv = np.minimum(generated, facility)
    reused = cooling.reused_heat_w(chw_load, dry_bulb, design.heat_reuse_ua_w_per_k, design.heat_reuse_base_c)
    water = cooling.tower_makeup_water_m3_per_s(rejected - reused, design.tower_cycles_of_concentration)
    return BoundaryFlows(
        pv_power_w=np.asarray(pv, dtype=np.float64),
        grid_import_power_w=np.asarray(facility - pv, dtype=np.float64),
        reused_heat_power_w=reused,
        water_flow_m3_per_s=water,
    )
