"""Batch simulation of the hall over days to years, vectorised over time.

The chain: weather and utilisation sampled at each interval's midpoint, a controller's setpoint
schedule, the air side in chunks (bounded memory at 1-minute steps), a sequential economizer scan
(deadband, 20-minute dwell), then the water side and the flows across the boundary (PV, heat
reuse, tower water). Each step is a steady state representing the average over its interval.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import UTC, datetime

import numpy as np
from numpy.typing import NDArray

from models import metrics
from twin import controllers, cooling, it_load
from twin.balance import air_side, boundary_flows, chw_loop_state, water_side
from twin.design import INLET_LIMIT_C, ControlBounds, SiteDesign
from twin.weather import SECONDS_PER_YEAR, HourlyWeather, _local_seconds_of_year, weather_at

__all__ = ["SimulationResult", "SimulationSummary", "simulate", "summarize"]

_CHUNK_STEPS = 1 << 15


@dataclass(frozen=True)
class SimulationResult:
    """Per-step arrays, shape ``(n_steps,)``; powers are interval averages [W].

    ``facility_power_w`` is the total consumption, grid import plus ``pv_power_w``.
    """

    start_epoch_s: NDArray[np.float64]
    interval_s: float
    facility_power_w: NDArray[np.float64]
    it_power_w: NDArray[np.float64]
    ups_loss_w: NDArray[np.float64]
    pdu_loss_w: NDArray[np.float64]
    lighting_other_w: NDArray[np.float64]
    cooling_power_w: NDArray[np.float64]
    crah_fan_power_w: NDArray[np.float64]
    chiller_power_w: NDArray[np.float64]
    tower_fan_power_w: NDArray[np.float64]
    pump_power_w: NDArray[np.float64]
    outdoor_dry_bulb_c: NDArray[np.float64]
    outdoor_wet_bulb_c: NDArray[np.float64]
    outdoor_rh_percent: NDArray[np.float64]
    supply_air_setpoint_c: NDArray[np.float64]
    supply_air_c: NDArray[np.float64]
    chw_supply_setpoint_c: NDArray[np.float64]
    economizer_enabled: NDArray[np.bool_]
    economizer_active: NDArray[np.bool_]
    free_cooling_fraction: NDArray[np.float64]
    max_inlet_c: NDArray[np.float64]
    unmet_load_w: NDArray[np.float64]
    pv_power_w: NDArray[np.float64]
    reused_heat_power_w: NDArray[np.float64]
    water_flow_m3_per_s: NDArray[np.float64]

    def __len__(self) -> int:
        return int(self.facility_power_w.size)

    @property
    def pue(self) -> NDArray[np.float64]:
        """Per-interval PUE from interval energies (facility / IT) [-]."""
        return self.facility_power_w / self.it_power_w


@dataclass(frozen=True)
class SimulationSummary:
    """Energy-based figures over the whole run.

    ``pv_energy_kwh`` is on-site renewable energy consumed (all of it: PV never exceeds the
    facility's consumption), ``reused_heat_kwh`` heat delivered for reuse, ``water_m3`` tower
    make-up water.
    """

    days: float
    pue: float
    facility_energy_kwh: float
    it_energy_kwh: float
    cooling_energy_kwh: float
    full_free_cooling_hours: float
    partial_free_cooling_hours: float
    minutes_inlet_above_limit: float
    max_inlet_c: float
    pv_energy_kwh: float
    reused_heat_kwh: float
    water_m3: float

    @property
    def ref(self) -> float:
        """Renewable energy factor [-] (:func:`models.metrics.ref`)."""
        return metrics.ref(self.pv_energy_kwh, self.facility_energy_kwh)

    @property
    def erf(self) -> float:
        """Energy reuse factor [-] (:func:`models.metrics.erf`)."""
        return metrics.erf(self.reused_heat_kwh, self.facility_energy_kwh)

    @property
    def ere(self) -> float:
        """Energy reuse effectiveness [-] (:func:`models.metrics.ere`)."""
        return metrics.ere(self.facility_energy_kwh, self.reused_heat_kwh, self.it_energy_kwh)

    @property
    def wue_l_per_kwh(self) -> float:
        """Water usage effectiveness [L/kWh_IT] (:func:`models.metrics.wue`)."""
        return metrics.wue(1e3 * self.water_m3, self.it_energy_kwh)


def utilisation_at(utc_epoch_s: NDArray[np.float64], utc_offset_h: float) -> NDArray[np.float64]:
    seconds_of_year = _local_seconds_of_year(utc_epoch_s, utc_offset_h)
    columns = []
    for name in ("google", "alibaba"):
        trace = it_load.load_utilisation_trace(name)
        sample_s = np.arange(trace.size) * 3600.0
        columns.append(np.interp(seconds_of_year, sample_s, trace, period=SECONDS_PER_YEAR))
    return np.stack(columns, axis=1)


def simulate(
    weather: HourlyWeather,
    days: float = 365.0,
    step_s: float = 900.0,
    controller: str = "baseline",
    start: datetime | None = None,
    design: SiteDesign | None = None,
    bounds: ControlBounds | None = None,
    explore_c: float = 0.0,
    seed: int = 0,
    progress: Callable[[int, int], None] | None = None,
) -> SimulationResult:
    """Simulate the hall under one controller.

    Parameters
    ----------
    weather : HourlyWeather
        Typical year of outdoor conditions.
    days : float
        Length of the run [d].
    step_s : float
        Step length [s]; each step is the average over its interval.
    controller : str
        ``baseline`` or ``oracle``.
    start : datetime.datetime, optional
        Start instant, UTC (default 2026-01-01T00:00:00Z).
    design : SiteDesign, optional
        Hall design (default :class:`SiteDesign`).
    bounds : ControlBounds, optional
        Setpoint bounds (default :class:`ControlBounds`).
    explore_c : float
        Amplitude of bounded random setpoint variation [K]; 0 for none.
    seed : int
        Seed of the exploration.
    progress : callable, optional
        Called with (steps done, steps in all) before each chunk of steps.

    Returns
    -------
    SimulationResult

    References
    ----------
    ISO/IEC 30134-2:2026 (PUE from energies over the same period).
    """
    if days <= 0 or step_s <= 0:
        raise ValueError("days and step_s must be positive")
    if controller not in controllers.CONTROLLERS:
        raise ValueError(f"unknown controller {controller!r}; choose from {controllers.CONTROLLERS}")
    design = design if design is not None else SiteDesign()
    bounds = bounds if bounds is not None else ControlBounds()
    start = start if start is not None else datetime(2026, 1, 1, tzinfo=UTC)
    if start.tzinfo is None:
        start = start.replace(tzinfo=UTC)
    n_steps = round(days * 86400.0 / step_s)
    start_epoch_s = np.asarray(start.timestamp() + np.arange(n_steps) * step_s, dtype=np.float64)
    mid_epoch_s = np.asarray(start_epoch_s + 0.5 * step_s, dtype=np.float64)
    outdoor = weather_at(weather, mid_epoch_s)
    traces = utilisation_at(mid_epoch_s, weather.utc_offset_h)

    supply_sp = np.empty(n_steps)
    lever_parts: dict[str, list[NDArray[np.float64]]] = {}
    chw_sp = np.empty(n_steps)
    enabled = np.empty(n_steps, dtype=bool)
    fan_min = np.empty(n_steps)
    fields: dict[str, NDArray[np.float64]] = {
        k: np.empty(n_steps) for k in ("it", "pdu", "ups", "light", "crah", "load", "max_inlet", "supply")
    }
    for lo in range(0, n_steps, _CHUNK_STEPS):
        hi = min(lo + _CHUNK_STEPS, n_steps)
        if progress is not None:
            progress(lo, n_steps)
        utilisation = it_load.rack_utilisation(traces[lo:hi], design.rack_trace_index, design.rack_utilisation_gain)
        if controller == "oracle":
            schedule = controllers.oracle_schedule(
                design, bounds, utilisation, outdoor.wet_bulb_c[lo:hi], outdoor.pressure_pa[lo:hi]
            )
        else:
            schedule = controllers.baseline_schedule(hi - lo)
        if explore_c > 0.0:
            schedule = controllers.explore_schedule(schedule, explore_c, step_s, design, bounds, seed=seed + lo)
        supply_sp[lo:hi] = schedule.supply_air_setpoint_c
        chw_sp[lo:hi] = schedule.chw_supply_setpoint_c
        enabled[lo:hi] = schedule.economizer_enabled
        fan_min[lo:hi] = schedule.crah_min_fan_speed
        for name, values in schedule.levers().items():
            lever_parts.setdefault(name, []).append(values)
        air = air_side(
            design,
            utilisation,
            outdoor.pressure_pa[lo:hi],
            schedule.supply_air_setpoint_c,
            schedule.chw_supply_setpoint_c,
            schedule.crah_min_fan_speed,
        )
        fields["it"][lo:hi] = air.it_power_w
        fields["pdu"][lo:hi] = air.pdu_loss_w
        fields["ups"][lo:hi] = air.ups_loss_w.sum(axis=1)
        fields["light"][lo:hi] = air.lighting_other_w
        fields["crah"][lo:hi] = air.crah_fan_total_w
        fields["load"][lo:hi] = air.chw_load_w
        fields["max_inlet"][lo:hi] = air.max_inlet_c
        fields["supply"][lo:hi] = air.supply_air_c

    levers = {name: np.concatenate(parts) for name, parts in lever_parts.items()}
    _, chw_return, available = chw_loop_state(design, fields["load"], chw_sp, outdoor.wet_bulb_c)
    active, _, _ = cooling.economizer_mode(
        enabled, available, chw_return, step_s, design.economizer_deadband_k, design.economizer_min_dwell_s
    )
    water = water_side(design, fields["load"], chw_sp, outdoor.wet_bulb_c, active, **levers)
    cooling_power = fields["crah"] + water.plant_power_w
    facility = fields["it"] + fields["pdu"] + fields["ups"] + fields["light"] + cooling_power
    flows = boundary_flows(
        design, facility, fields["load"], water.heat_rejected_w, outdoor.dry_bulb_c, outdoor.ghi_w_per_m2
    )
    return SimulationResult(
        start_epoch_s=start_epoch_s,
        interval_s=float(step_s),
        facility_power_w=facility,
        it_power_w=fields["it"],
        ups_loss_w=fields["ups"],
        pdu_loss_w=fields["pdu"],
        lighting_other_w=fields["light"],
        cooling_power_w=cooling_power,
        crah_fan_power_w=fields["crah"],
        chiller_power_w=water.chiller_power_w,
        tower_fan_power_w=water.tower_fan_power_w,
        pump_power_w=water.pump_power_w,
        outdoor_dry_bulb_c=outdoor.dry_bulb_c,
        outdoor_wet_bulb_c=outdoor.wet_bulb_c,
        outdoor_rh_percent=outdoor.rh_percent,
        supply_air_setpoint_c=supply_sp,
        supply_air_c=fields["supply"],
        chw_supply_setpoint_c=chw_sp,
        economizer_enabled=enabled,
        economizer_active=active,
        free_cooling_fraction=water.free_cooling_fraction,
        max_inlet_c=fields["max_inlet"],
        unmet_load_w=water.unmet_load_w,
        pv_power_w=flows.pv_power_w,
        reused_heat_power_w=flows.reused_heat_power_w,
        water_flow_m3_per_s=flows.water_flow_m3_per_s,
    )


def summarize(result: SimulationResult) -> SimulationSummary:
    """Energy PUE (sum facility energy / sum IT energy) and plant figures over a run.

    Parameters
    ----------
    result : SimulationResult

    Returns
    -------
    SimulationSummary
        Free-cooling hours: full = fraction 1, partial = 0 < fraction < 1.

    References
    ----------
    ISO/IEC 30134-2:2026; The Green Grid, "PUE: A Comprehensive Examination of the Metric" (2012);
    ISO/IEC 30134-3, -6 and -9 (REF, ERF, WUE).
    """
    hours = result.interval_s / 3600.0
    facility_kwh = float(result.facility_power_w.sum() * hours / 1e3)
    it_kwh = float(result.it_power_w.sum() * hours / 1e3)
    fraction = result.free_cooling_fraction
    return SimulationSummary(
        days=len(result) * result.interval_s / 86400.0,
        pue=facility_kwh / it_kwh,
        facility_energy_kwh=facility_kwh,
        it_energy_kwh=it_kwh,
        cooling_energy_kwh=float(result.cooling_power_w.sum() * hours / 1e3),
        full_free_cooling_hours=float(np.count_nonzero(fraction >= 1.0) * hours),
        partial_free_cooling_hours=float(np.count_nonzero((fraction > 0.0) & (fraction < 1.0)) * hours),
        minutes_inlet_above_limit=float(np.count_nonzero(result.max_inlet_c > INLET_LIMIT_C + 1e-9) * hours * 60.0),
        max_inlet_c=float(result.max_inlet_c.max()),
        pv_energy_kwh=float(result.pv_power_w.sum() * hours / 1e3),
        reused_heat_kwh=float(result.reused_heat_power_w.sum() * hours / 1e3),
        water_m3=float(result.water_flow_m3_per_s.sum() * result.interval_s),
    )
