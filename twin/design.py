"""The simulated hall's design data and control bounds (data, not code), and the named designs for what-if runs."""

from __future__ import annotations

from dataclasses import dataclass
from functools import cached_property

import numpy as np
from numpy.typing import NDArray

from twin import cooling

__all__ = ["DESIGNS", "INLET_LIMIT_C", "ControlBounds", "Controls", "SiteDesign"]

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
    # Levers of a variable-speed plant (design ``modern-vs``): condenser-water supply 18-32 C (chillers'
    # lowest entering condenser water to the towers' design), chilled-water loop DP 30-150 kPa.
    condenser_water_min_c: float = 18.0
    condenser_water_max_c: float = 32.0
    chw_pump_dp_min_pa: float = 30.0e3
    chw_pump_dp_max_pa: float = 150.0e3

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
            condenser_water_setpoint_c=_clamp_optional(
                controls.condenser_water_setpoint_c, self.condenser_water_min_c, self.condenser_water_max_c
            ),
            chw_pump_dp_setpoint_pa=_clamp_optional(
                controls.chw_pump_dp_setpoint_pa, self.chw_pump_dp_min_pa, self.chw_pump_dp_max_pa
            ),
            chillers_running=controls.chillers_running,
            towers_running=controls.towers_running,
        )


def _clamp_optional(value: float | None, lo: float, hi: float) -> float | None:
    return None if value is None else min(max(value, lo), hi)


@dataclass(frozen=True)
class Controls:
    """Setpoints applied to the plant."""

    supply_air_setpoint_c: float = 18.0
    chw_supply_setpoint_c: float = 7.0
    economizer_enabled: bool = False
    crah_min_fan_speed: float = 0.6
    # Levers of a variable-speed plant (ignored by constant-speed designs); None: the design's own control
    # (towers at fixed approach, DP at design, chillers and towers staged on load / all running).
    condenser_water_setpoint_c: float | None = None
    chw_pump_dp_setpoint_pa: float | None = None
    chillers_running: int | None = None
    towers_running: int | None = None


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
    # Chillers' COP relative to their curve (1 new; 0.8 after fouling and wear took 20 %): power / factor.
    chiller_cop_factor: float = 1.0
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
    # Variable-speed plant (``modern-vs``): False keeps constant-speed pumps staged on load and towers at a
    # fixed approach. DP the remotest coil needs at design flow, plant-side friction = pump head - design DP,
    # tower approach ~ airflow^-0.7 (twin/vs_plant.py).
    variable_speed_plant: bool = False
    chw_pump_dp_design_pa: float = 100.0e3
    chw_dp_remote_design_pa: float = 60.0e3
    tower_airflow_exponent: float = 0.7
    pump_part_load_efficiency_loss: float = 0.3
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
        if not 0 < self.chiller_cop_factor <= 1:
            raise ValueError("SiteDesign.chiller_cop_factor must be in (0, 1]")
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
#: ``modern-vs`` is the modern-ups hall with a variable-speed plant: three 544 kW chillers and three towers
#: (same installed capacity as two 816 kW), variable-primary chilled-water pumps on a DP setpoint and tower
#: fans on a condenser-water setpoint (twin/vs_plant.py); its extra levers are the condenser-water setpoint,
#: the DP setpoint and the number of chillers and towers running.
DESIGNS: dict[str, SiteDesign] = {
    "legacy": SiteDesign(),
    "modern-ups": SiteDesign(ups_no_load_loss_fraction=0.005),
    "modern-vs": SiteDesign(
        ups_no_load_loss_fraction=0.005,
        variable_speed_plant=True,
        n_chillers=3,
        chiller_capacity_w=544.0e3,
        n_towers=3,
        tower_design_heat_w=633.0e3,
        tower_rated_fan_power_w=7.3e3,
    ),
}
