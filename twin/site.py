"""One simulated data hall: design data, control bounds, and the power balance.

:func:`evaluate_site` is the vectorised core (any number of steps); :class:`SitePlant` wraps it for
one step at a time (live mode), carrying only the economizer mode and its dwell timer between calls.
The chain, per step:

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

import math
from dataclasses import dataclass, field
from functools import cached_property

import numpy as np
from numpy.typing import ArrayLike, NDArray

from twin import cooling, it_load, power_chain, solar

__all__ = [
    "DESIGNS",
    "INLET_LIMIT_C",
    "AirSide",
    "BoundaryFlows",
    "ControlBounds",
    "Controls",
    "SiteConditions",
    "SiteDesign",
    "SitePlant",
    "StepResult",
    "WaterSide",
    "air_side",
    "boundary_flows",
    "chw_loop_state",
    "water_side",
]

#: ASHRAE TC 9.9 recommended upper inlet dry-bulb for classes A1-A4 [C].
INLET_LIMIT_C = 27.0


@dataclass(frozen=True)
class ControlBounds:
    """Ranges a real unit accepts for each writable setpoint (data, not code).

    Supply air 16-25 C (CRAH controllers; ASHRAE recommends 18-27 C at the IT inlet, which sits
    2-5 K above supply); chilled-water supply 5-18 C (centrifugal chillers' leaving-water range,
    raised for free cooling); CRAH minimum fan speed 30-100 % (EC fan controllers).
    """

    supply_air_min_c: float = 16.0
    supply_air_max_c: float = 25.0
    chw_supply_min_c: float = 5.0
    chw_supply_max_c: float = 18.0
    crah_min_fan_speed_min: float = 0.3
    crah_min_fan_speed_max: float = 1.0

    def clamp(self, controls: Controls) -> Controls:
        """Return ``controls`` clamped into these bounds."""
        return Controls(
            supply_air_setpoint_c=min(
                max(controls.supply_air_setpoint_c, self.supply_air_min_c), self.supply_air_max_c
            ),
            chw_supply_setpoint_c=min(
                max(controls.chw_supply_setpoint_c, self.chw_supply_min_c), self.chw_supply_max_c
            ),
            economizer_enabled=controls.economizer_enabled,
            crah_min_fan_speed=min(
                max(controls.crah_min_fan_speed, self.crah_min_fan_speed_min), self.crah_min_fan_speed_max
            ),
        )


@dataclass(frozen=True)
class Controls:
    """Setpoints applied to the plant."""

    supply_air_setpoint_c: float = 18.0
    chw_supply_setpoint_c: float = 7.0
    economizer_enabled: bool = False
    crah_min_fan_speed: float = 0.6


@dataclass(frozen=True)
class SiteDesign:
    """Design data of the simulated hall; defaults describe a legacy ~0.85 MW (1.1 MW peak) IT hall.

    Typical values cite standards.md: UPS+distribution losses 0.05-0.08 of IT, lighting and misc
    about 0.01, tower approach 2.8-6.7 K, heat-exchanger approach 1.7-2.8 K, rack supply approach
    2-5 K, economizer dwell 20 min.

    Boundary flows: tower cycles of concentration typically 3-6 (ASHRAE HVAC Systems and
    Equipment, chapter 40). Heat reuse: ``heat_reuse_ua_w_per_k`` is the heated buildings'
    heat-loss coefficient, about 1-2 W/K per m2 of office floor, so 10 kW/K is roughly
    5,000-10,000 m2 and takes 100-150 kW (about 12-18 % of the IT heat) in a 0 to 5 C Guiyang
    winter hour (0 W/K: no heat customer); ``heat_reuse_base_c`` is their balance point, 12-18 C
    (China's heating degree-days use 18 C; offices with internal gains balance nearer 15 C).
    Rooftop PV: ``pv_rated_power_w`` is the DC nameplate (kWp; 0: no PV), 150 kWp being about
    750 m2 of 20 %-efficient modules on the hall's roof, small against the ~1 MW IT load;
    temperature coefficient -0.0035 to -0.0047 /K for crystalline silicon; derate 0.86 is
    PVWatts v5's 14 % default losses (NREL/TP-6A20-62641).
    """

    # IT: 40 racks, 12 kW idle, 28 kW peak (about 0.85 MW at the traces' mean utilisation).
    n_racks: int = 40
    rack_idle_power_w: float = 12.0e3
    rack_peak_power_w: float = 28.0e3
    rack_utilisation_gain_spread: float = 0.3
    rack_supply_approach_min_k: float = 2.0
    rack_supply_approach_max_k: float = 4.0
    hot_spot_racks: tuple[int, ...] = (0, 19, 39)
    hot_spot_extra_k: float = 1.5
    server_fan_share: float = 0.05
    server_fan_reference_c: float = 25.0
    server_fan_speed_gain_per_k: float = 0.08
    # Power chain: 2N UPS, each able to carry the whole hall.
    n_ups: int = 2
    ups_rated_power_w: float = 1.2e6
    ups_no_load_loss_fraction: float = 0.015
    ups_proportional_loss_fraction: float = 0.015
    ups_square_loss_fraction: float = 0.015
    pdu_no_load_loss_w: float = 50.0
    pdu_proportional_loss_fraction: float = 0.012
    lighting_other_power_w: float = 12.0e3
    # CRAH units: ~30,000 cfm each, specific fan power about 0.8 kW per m3/s at full speed.
    n_crah: int = 8
    crah_rated_airflow_m3_s: float = 14.0
    crah_rated_fan_power_w: float = 11.0e3
    air_delta_t_design_k: float = 12.0
    return_air_max_c: float = 35.0
    crah_coil_approach_k: float = 5.0
    # Chilled-water plant.
    n_chillers: int = 2
    chiller_curve_name: str = cooling.DEFAULT_CHILLER
    chiller_capacity_w: float = 816.0e3
    chiller_staging_plr: float = 0.9
    condenser_water_min_c: float = 18.0
    chw_design_delta_t_k: float = 5.5
    chw_pump_head_pa: float = 250.0e3
    cw_design_delta_t_k: float = 5.0
    cw_pump_head_pa: float = 200.0e3
    pump_efficiency: float = 0.7
    n_towers: int = 2
    tower_approach_k: float = 4.0
    tower_design_heat_w: float = 950.0e3
    tower_rated_fan_power_w: float = 11.0e3
    tower_min_fan_speed: float = 0.2
    hx_approach_k: float = 2.0
    economizer_deadband_k: float = 1.0
    economizer_min_dwell_s: float = 1200.0
    # Cooling-tower make-up water: evaporation + blowdown.
    tower_cycles_of_concentration: float = 4.0
    # Heat recovered from the chilled-water return for nearby offices (district heating).
    heat_reuse_ua_w_per_k: float = 10.0e3
    heat_reuse_base_c: float = 15.0
    # Rooftop PV on the site's own bus, behind the utility meter.
    pv_rated_power_w: float = 150.0e3
    pv_temp_coefficient_per_k: float = -0.004
    pv_derate: float = 0.86

    def __post_init__(self) -> None:
        for name in ("n_racks", "n_ups", "n_crah", "n_chillers", "n_towers"):
            if getattr(self, name) < 1:
                raise ValueError(f"SiteDesign.{name} must be >= 1")
        if self.tower_cycles_of_concentration <= 1.0:
            raise ValueError("SiteDesign.tower_cycles_of_concentration must be > 1")
        for name in ("heat_reuse_ua_w_per_k", "pv_rated_power_w"):
            if getattr(self, name) < 0:
                raise ValueError(f"SiteDesign.{name} must be >= 0")
        if not 0 < self.pv_derate <= 1:
            raise ValueError("SiteDesign.pv_derate must be in (0, 1]")
        if any(not 0 <= r < self.n_racks for r in self.hot_spot_racks):
            raise ValueError("SiteDesign.hot_spot_racks must index existing racks")

    @cached_property
    def rack_supply_approach_k(self) -> NDArray[np.float64]:
        """Inlet minus supply air per rack [K]: spread 2-4 K (golden-ratio sequence) plus hot spots."""
        spread = ((np.arange(self.n_racks) * 0.6180339887) % 1.0) * (
            self.rack_supply_approach_max_k - self.rack_supply_approach_min_k
        )
        approach = self.rack_supply_approach_min_k + spread
        approach[list(self.hot_spot_racks)] += self.hot_spot_extra_k
        return np.asarray(approach, dtype=np.float64)

    @cached_property
    def rack_trace_index(self) -> NDArray[np.int_]:
        """Tenant trace per rack: even racks follow trace 0, odd racks trace 1."""
        return np.arange(self.n_racks) % 2

    @cached_property
    def rack_utilisation_gain(self) -> NDArray[np.float64]:
        """Per-rack multiplier on its tenant's utilisation [-]."""
        gain = 1.0 + self.rack_utilisation_gain_spread * (((np.arange(self.n_racks) * 0.7548776662) % 1.0) - 0.5)
        return np.asarray(gain, dtype=np.float64)

    @cached_property
    def rack_crah(self) -> NDArray[np.int_]:
        """CRAH serving each rack (contiguous zones)."""
        return (np.arange(self.n_racks) * self.n_crah) // self.n_racks

    @cached_property
    def chiller_curves(self) -> cooling.ChillerCurves:
        """EIR curve set of the chillers."""
        return cooling.load_chiller_curves(self.chiller_curve_name)

    @property
    def max_safe_supply_air_c(self) -> float:
        """Highest supply air keeping every rack inlet at or below 27 C [C]."""
        return INLET_LIMIT_C - float(self.rack_supply_approach_k.max())

    @property
    def chw_design_flow_kg_s(self) -> float:
        """Chilled-water flow per chiller and pump [kg/s]."""
        return self.chiller_capacity_w / (cooling.CP_WATER_J_PER_KG_K * self.chw_design_delta_t_k)

    @property
    def cw_design_flow_kg_s(self) -> float:
        """Condenser-water flow per chiller and pump [kg/s] (heat rejected includes compressor work)."""
        rejected_w = self.chiller_capacity_w * (1.0 + 1.0 / self.chiller_curves.reference_cop)
        return rejected_w / (cooling.CP_WATER_J_PER_KG_K * self.cw_design_delta_t_k)


#: named designs of the hall for what-if runs (``bench/closed_loop.py --design``):
#: ``legacy`` is the default; ``modern-ups`` is the same hall with transformerless modular UPSes whose
#: no-load loss is 0.5 % of rating instead of 1.5 % (about 96.7 % efficient at the 2N system's ~35 %
#: load instead of 94.1 %, inside standards.md's 0.90-0.97 double-conversion range): a UPS retrofit or
#: a new build. Nothing else changes, so the difference is what the power chain alone allows.
DESIGNS: dict[str, SiteDesign] = {
    "legacy": SiteDesign(),
    "modern-ups": SiteDesign(ups_no_load_loss_fraction=0.005),
}


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
    rack_pdu_loss = power_chain.pdu_loss_w(
        rack_power, design.pdu_no_load_loss_w, design.pdu_proportional_loss_fraction
    )
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

    Returns
    -------
    WaterSide

    References
    ----------
    EnergyPlus Engineering Reference (Chiller:Electric:EIR); Modelica Buildings library,
    ``Buildings.Applications.DataCenters.ChillerCooled`` (integrated water-side economizer).
    """
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
        np.clip(
            np.ceil(chiller_load / (design.chiller_staging_plr * available_per_chiller)), 1, design.n_chillers
        ),
        0.0,
    )
    chiller_power, plr, unmet = cooling.chiller_power_w(
        curves, chiller_load, chw_supply, condenser_entering, n_running, design.chiller_capacity_w
    )
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
    ISO/IEC 30134-2:2016 (PUE boundary), 30134-3:2016 (REF), 30134-6:2021 (ERF), 30134-9:2022
    (WUE); The Green Grid White Papers 29 (ERE) and 35 (WUE).
    """
    facility, chw_load, rejected, dry_bulb, ghi = np.broadcast_arrays(
        *(np.asarray(v, dtype=float) for v in (
            facility_power_w, chw_load_w, heat_rejected_w, outdoor_dry_bulb_c, ghi_w_per_m2))
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


@dataclass(frozen=True)
class SiteConditions:
    """Exogenous inputs for one step: outdoor air, per-rack utilisation and sunlight (default dark)."""

    outdoor_dry_bulb_c: float
    outdoor_wet_bulb_c: float
    outdoor_rh_percent: float
    pressure_pa: float
    rack_utilisation: tuple[float, ...]
    ghi_w_per_m2: float = 0.0


@dataclass(frozen=True)
class StepResult:
    """Steady-state result of one step, per device where the live server needs it.

    ``facility_power_w`` is the total consumption (grid import + PV); the utility meter reads
    :attr:`grid_import_power_w`.
    """

    facility_power_w: float
    it_power_w: float
    ups_loss_w: float
    pdu_loss_w: float
    cooling_power_w: float
    lighting_other_w: float
    rack_inlet_c: tuple[float, ...]
    rack_power_w: tuple[float, ...]
    ups_output_power_w: tuple[float, ...]
    ups_loss_per_ups_w: tuple[float, ...]
    crah_fan_speed: tuple[float, ...]
    crah_fan_power_w: tuple[float, ...]
    supply_air_c: float
    chiller_power_w: float
    n_chillers_running: int
    tower_fan_power_w: float
    pump_power_w: float
    chw_supply_c: float
    chw_return_c: float
    condenser_water_c: float
    free_cooling_fraction: float
    economizer_active: bool
    outdoor_dry_bulb_c: float
    outdoor_wet_bulb_c: float
    outdoor_rh_percent: float
    pv_power_w: float
    reused_heat_power_w: float
    water_flow_m3_per_s: float
    controls: Controls = field(default_factory=Controls)

    @property
    def grid_import_power_w(self) -> float:
        """What the utility meter reads: facility consumption less on-site PV [W]."""
        return self.facility_power_w - self.pv_power_w

    @property
    def max_inlet_c(self) -> float:
        """Hottest rack inlet [C]."""
        return max(self.rack_inlet_c)

    @property
    def realtime_pue(self) -> float:
        """Real-time PUE (ratio of powers, not the annual energy PUE) [-]."""
        return self.facility_power_w / self.it_power_w


class SitePlant:
    """One hall stepped in time; holds only the economizer mode and its dwell timer.

    Parameters
    ----------
    design : SiteDesign
        Hall design.
    bounds : ControlBounds
        Setpoint bounds; controls are clamped into them before use.
    """

    def __init__(self, design: SiteDesign | None = None, bounds: ControlBounds | None = None) -> None:
        self.design = design if design is not None else SiteDesign()
        self.bounds = bounds if bounds is not None else ControlBounds()
        self._economizer_active = False
        self._economizer_dwell_s = math.inf

    def step(self, conditions: SiteConditions, controls: Controls, dt_s: float) -> StepResult:
        """Advance one step of ``dt_s`` seconds at steady state and return the power balance.

        Parameters
        ----------
        conditions : SiteConditions
            Outdoor air and rack utilisation (one value per rack).
        controls : Controls
            Requested setpoints (clamped to ``bounds``).
        dt_s : float
            Step length [s], used by the economizer dwell timer.

        Returns
        -------
        StepResult
        """
        design = self.design
        if len(conditions.rack_utilisation) != design.n_racks:
            raise ValueError(
                f"expected {design.n_racks} rack utilisations, got {len(conditions.rack_utilisation)}"
            )
        applied = self.bounds.clamp(controls)
        utilisation = np.asarray(conditions.rack_utilisation, float)[None, :]
        air = air_side(
            design,
            utilisation,
            conditions.pressure_pa,
            applied.supply_air_setpoint_c,
            applied.chw_supply_setpoint_c,
            applied.crah_min_fan_speed,
        )
        _, chw_return, available = chw_loop_state(
            design, air.chw_load_w, applied.chw_supply_setpoint_c, conditions.outdoor_wet_bulb_c
        )
        active, self._economizer_active, self._economizer_dwell_s = cooling.economizer_mode(
            np.array([applied.economizer_enabled]),
            np.atleast_1d(available),
            chw_return,
            dt_s,
            design.economizer_deadband_k,
            design.economizer_min_dwell_s,
            self._economizer_active,
            self._economizer_dwell_s,
        )
        water = water_side(
            design, air.chw_load_w, applied.chw_supply_setpoint_c, conditions.outdoor_wet_bulb_c, active
        )
        cooling_power = float(air.crah_fan_total_w[0] + water.plant_power_w[0])
        ups_loss = float(air.ups_loss_w[0].sum())
        facility = (
            float(air.it_power_w[0] + air.pdu_loss_w[0])
            + ups_loss
            + float(air.lighting_other_w[0])
            + cooling_power
        )
        flows = boundary_flows(
            design, facility, air.chw_load_w, water.heat_rejected_w, conditions.outdoor_dry_bulb_c,
            conditions.ghi_w_per_m2,
        )
        return StepResult(
            facility_power_w=facility,
            it_power_w=float(air.it_power_w[0]),
            ups_loss_w=ups_loss,
            pdu_loss_w=float(air.pdu_loss_w[0]),
            cooling_power_w=cooling_power,
            lighting_other_w=float(air.lighting_other_w[0]),
            rack_inlet_c=tuple(air.rack_inlet_c[0].tolist()),
            rack_power_w=tuple(air.rack_power_w[0].tolist()),
            ups_output_power_w=tuple(air.ups_output_w[0].tolist()),
            ups_loss_per_ups_w=tuple(air.ups_loss_w[0].tolist()),
            crah_fan_speed=tuple(air.crah_fan_speed[0].tolist()),
            crah_fan_power_w=tuple(air.crah_fan_power_w[0].tolist()),
            supply_air_c=float(air.supply_air_c[0]),
            chiller_power_w=float(water.chiller_power_w[0]),
            n_chillers_running=int(water.n_chillers_running[0]),
            tower_fan_power_w=float(water.tower_fan_power_w[0]),
            pump_power_w=float(water.pump_power_w[0]),
            chw_supply_c=applied.chw_supply_setpoint_c,
            chw_return_c=float(water.chw_return_c[0]),
            condenser_water_c=float(water.condenser_entering_c[0]),
            free_cooling_fraction=float(water.free_cooling_fraction[0]),
            economizer_active=bool(active[0]),
            outdoor_dry_bulb_c=conditions.outdoor_dry_bulb_c,
            outdoor_wet_bulb_c=conditions.outdoor_wet_bulb_c,
            outdoor_rh_percent=conditions.outdoor_rh_percent,
            pv_power_w=float(flows.pv_power_w[0]),
            reused_heat_power_w=float(flows.reused_heat_power_w[0]),
            water_flow_m3_per_s=float(flows.water_flow_m3_per_s[0]),
            controls=applied,
        )
