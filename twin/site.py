"""One simulated data hall stepped in time (live mode): :class:`SitePlant` carries only the economizer mode and
its dwell timer between steps; the power balance is :mod:`twin.balance`, the design data :mod:`twin.design`.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

import numpy as np

from twin import cooling
from twin.balance import air_side, boundary_flows, chw_loop_state, water_side
from twin.design import ControlBounds, Controls, SiteDesign

__all__ = ["SiteConditions", "SitePlant", "StepResult"]


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
            raise ValueError(f"expected {design.n_racks} rack utilisations, got {len(conditions.rack_utilisation)}")
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
            design,
            air.chw_load_w,
            applied.chw_supply_setpoint_c,
            conditions.outdoor_wet_bulb_c,
            active,
            condenser_water_setpoint_c=applied.condenser_water_setpoint_c,
            chw_pump_dp_setpoint_pa=applied.chw_pump_dp_setpoint_pa,
            chillers_running=applied.chillers_running,
            towers_running=applied.towers_running,
        )
        cooling_power = float(air.crah_fan_total_w[0] + water.plant_power_w[0])
        ups_loss = float(air.ups_loss_w[0].sum())
        facility = (
            float(air.it_power_w[0] + air.pdu_loss_w[0]) + ups_loss + float(air.lighting_other_w[0]) + cooling_power
        )
        flows = boundary_flows(
            design,
            facility,
            air.chw_load_w,
            water.heat_rejected_w,
            conditions.outdoor_dry_bulb_c,
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
