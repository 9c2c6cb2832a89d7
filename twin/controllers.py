"""Setpoint schedules for the twin: site-rules baseline, search oracle, bounded exploration."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import NDArray

from twin.balance import air_side, chw_loop_state, water_side
from twin.catalog import CONTROLLERS
from twin.design import ControlBounds, SiteDesign

__all__ = [
    "BASELINE_CRAH_MIN_FAN_SPEED",
    "CONTROLLERS",
    "ControlSchedule",
    "baseline_schedule",
    "explore_schedule",
    "oracle_schedule",
]


#: Legacy halls run CRAH fans at constant speed (no VFD/EC fan control in use).
BASELINE_CRAH_MIN_FAN_SPEED = 1.0


@dataclass(frozen=True)
class ControlSchedule:
    """Setpoints per step (arrays of shape ``(n_steps,)``)."""

    supply_air_setpoint_c: NDArray[np.float64]
    chw_supply_setpoint_c: NDArray[np.float64]
    economizer_enabled: NDArray[np.bool_]
    crah_min_fan_speed: NDArray[np.float64]
    # levers of a variable-speed plant (twin.vs_plant); None: the design's own control
    condenser_water_setpoint_c: NDArray[np.float64] | None = None
    chw_pump_dp_setpoint_pa: NDArray[np.float64] | None = None
    chillers_running: NDArray[np.float64] | None = None
    towers_running: NDArray[np.float64] | None = None

    def __len__(self) -> int:
        return int(self.supply_air_setpoint_c.size)

    def levers(self) -> dict[str, NDArray[np.float64]]:
        """The variable-speed plant's levers this schedule sets, by :func:`twin.balance.water_side` keyword."""
        names = ("condenser_water_setpoint_c", "chw_pump_dp_setpoint_pa", "chillers_running", "towers_running")
        return {n: v for n in names if (v := getattr(self, n)) is not None}


def baseline_schedule(n_steps: int) -> ControlSchedule:
    """Legacy site rules: supply air 18 C, chilled water 7 C, economizer off, fans at constant speed.

    Parameters
    ----------
    n_steps : int
        Number of steps.

    Returns
    -------
    ControlSchedule
    """
    return ControlSchedule(
        supply_air_setpoint_c=np.full(n_steps, 18.0),
        chw_supply_setpoint_c=np.full(n_steps, 7.0),
        economizer_enabled=np.zeros(n_steps, dtype=bool),
        crah_min_fan_speed=np.full(n_steps, BASELINE_CRAH_MIN_FAN_SPEED),
    )


def oracle_schedule(
    design: SiteDesign,
    bounds: ControlBounds,
    rack_utilisation: NDArray[np.float64],
    wet_bulb_c: NDArray[np.float64],
    pressure_pa: NDArray[np.float64],
    grid_step_k: float = 0.5,
) -> ControlSchedule:
    """Per-step best setpoints by exhaustive grid search on the twin itself.

    Minimises facility power at each step over supply air (bounds, capped so the hottest rack
    inlet stays at or below 27 C), chilled-water supply (bounds, capped at supply air minus the
    CRAH coil approach so the coil can still make the supply air) and economizer on/off, with the
    CRAH minimum fan speed at its lower bound. The economizer dwell is ignored in the search (the
    simulation applies it afterwards). Vectorised over time: one air-side evaluation per supply
    value, one water-side evaluation per (supply, chilled water, economizer) combination.

    Parameters
    ----------
    design : SiteDesign
        Hall design.
    bounds : ControlBounds
        Setpoint bounds.
    rack_utilisation : numpy.ndarray
        Utilisation per rack, shape ``(n_steps, n_racks)`` [-].
    wet_bulb_c, pressure_pa : numpy.ndarray
        Outdoor wet-bulb [C] and station pressure [Pa] per step.
    grid_step_k : float
        Grid spacing for both temperatures [K].

    Returns
    -------
    ControlSchedule

    References
    ----------
    Lazic et al., "Data center cooling using model-predictive control", NeurIPS 2018 (optimising
    setpoints on a plant model under inlet constraints).
    """
    n_steps = rack_utilisation.shape[0]
    supply_max = min(bounds.supply_air_max_c, design.max_safe_supply_air_c)
    supply_grid = np.arange(bounds.supply_air_min_c, supply_max + 1e-9, grid_step_k)
    fan_speed = bounds.crah_min_fan_speed_min
    best_power = np.full(n_steps, np.inf)
    best_supply = np.full(n_steps, supply_grid[0])
    best_chw = np.full(n_steps, bounds.chw_supply_min_c)
    best_economizer = np.zeros(n_steps, dtype=bool)
    lever_grid = _oracle_lever_grid(design, bounds)
    best_levers = {name: np.full(n_steps, values[0]) for name, values in lever_grid.items()}
    for supply_c in supply_grid:
        chw_max = min(bounds.chw_supply_max_c, supply_c - design.crah_coil_approach_k)
        chw_grid = np.arange(bounds.chw_supply_min_c, chw_max + 1e-9, grid_step_k)
        if chw_grid.size == 0:
            continue
        air = air_side(design, rack_utilisation, pressure_pa, supply_c, chw_grid[0], fan_speed)
        hall_power = air.it_power_w + air.pdu_loss_w + air.ups_loss_w.sum(axis=1) + air.lighting_other_w
        hall_power = hall_power + air.crah_fan_total_w
        for chw_c in chw_grid:
            _, chw_return, available = chw_loop_state(design, air.chw_load_w, chw_c, wet_bulb_c)
            worthwhile = available <= chw_return - design.economizer_deadband_k
            for economizer in (False, True):
                if economizer and not worthwhile.any():
                    continue
                active = worthwhile if economizer else False
                if lever_grid:
                    plant = water_side(
                        design,
                        air.chw_load_w[:, None],
                        chw_c,
                        wet_bulb_c[:, None],
                        np.asarray(active)[..., None] if economizer else False,
                        **{name: values[None, :] for name, values in lever_grid.items()},
                    ).plant_power_w
                    pick = np.argmin(plant, axis=1)
                    total = hall_power + plant[np.arange(n_steps), pick]
                else:
                    total = hall_power + water_side(design, air.chw_load_w, chw_c, wet_bulb_c, active).plant_power_w
                better = total < best_power
                if lever_grid:
                    for name, values in lever_grid.items():
                        best_levers[name] = np.where(better, values[pick], best_levers[name])
                best_power = np.where(better, total, best_power)
                best_supply = np.where(better, supply_c, best_supply)
                best_chw = np.where(better, chw_c, best_chw)
                best_economizer = np.where(better, economizer, best_economizer)
    return ControlSchedule(
        supply_air_setpoint_c=best_supply,
        chw_supply_setpoint_c=best_chw,
        economizer_enabled=best_economizer.astype(bool),
        crah_min_fan_speed=np.full(n_steps, fan_speed),
        **best_levers,
    )


def _oracle_lever_grid(design: SiteDesign, bounds: ControlBounds) -> dict[str, NDArray[np.float64]]:
    """Lever combinations the oracle searches on a variable-speed plant (flattened grid), {} otherwise.

    Condenser water over its bounds at 1 K and every count of chillers, with all towers running and the DP
    setpoint at its lower bound: nothing but pump power depends on the DP setpoint and that never falls as it
    rises (:func:`twin.vs_plant.variable_speed_pump_power_w`); spreading the heat over every tower lowers
    fan power by the cube law except where the fans sit at their minimum speed, a case the oracle leaves
    out to keep its search to a few minutes a year (135 combinations took 408 s, these 45 a third).
    """
    if not design.variable_speed_plant:
        return {}
    cw = np.arange(bounds.condenser_water_min_c, bounds.condenser_water_max_c + 1e-9, 1.0)
    chillers = np.arange(1.0, design.n_chillers + 1.0)
    towers = np.array([float(design.n_towers)])
    grid = [g.ravel() for g in np.meshgrid(cw, chillers, towers, indexing="ij")]
    return {
        "condenser_water_setpoint_c": grid[0],
        "chw_pump_dp_setpoint_pa": np.full(grid[0].size, bounds.chw_pump_dp_min_pa),
        "chillers_running": grid[1],
        "towers_running": grid[2],
    }


def explore_schedule(
    schedule: ControlSchedule,
    amplitude_c: float,
    step_s: float,
    design: SiteDesign,
    bounds: ControlBounds,
    seed: int = 0,
    hold_s: float = 3600.0,
) -> ControlSchedule:
    """Add bounded random variation to the temperature setpoints (safe exploration).

    Offsets are uniform in ``[-amplitude_c, amplitude_c]``, drawn independently for supply air and
    chilled water and held for ``hold_s`` (piecewise constant, like the exploration of Lazic et al.).
    The result is clamped into ``bounds``, supply air to the highest value keeping every rack inlet
    at or below 27 C, and chilled water so the coil approach cannot push the supply air above it.

    Parameters
    ----------
    schedule : ControlSchedule
        Schedule to perturb.
    amplitude_c : float
        Maximum offset [K].
    step_s : float
        Step length [s].
    design : SiteDesign
        Hall design (rack approaches and coil approach).
    bounds : ControlBounds
        Setpoint bounds.
    seed : int
        Random seed.
    hold_s : float
        Time each offset is held [s].

    Returns
    -------
    ControlSchedule

    References
    ----------
    Lazic et al., NeurIPS 2018 (about 3 h of safe random exploration identified a usable model).
    """
    n_steps = len(schedule)
    rng = np.random.default_rng(seed)
    steps_per_hold = max(1, round(hold_s / step_s))
    n_holds = -(-n_steps // steps_per_hold)
    supply_offset = np.repeat(rng.uniform(-amplitude_c, amplitude_c, n_holds), steps_per_hold)[:n_steps]
    chw_offset = np.repeat(rng.uniform(-amplitude_c, amplitude_c, n_holds), steps_per_hold)[:n_steps]
    supply_max = min(bounds.supply_air_max_c, design.max_safe_supply_air_c)
    supply = np.clip(schedule.supply_air_setpoint_c + supply_offset, bounds.supply_air_min_c, supply_max)
    chw_max = min(bounds.chw_supply_max_c, supply_max - design.crah_coil_approach_k)
    chw = np.clip(schedule.chw_supply_setpoint_c + chw_offset, bounds.chw_supply_min_c, chw_max)
    return ControlSchedule(
        supply_air_setpoint_c=supply,
        chw_supply_setpoint_c=chw,
        economizer_enabled=schedule.economizer_enabled.copy(),
        crah_min_fan_speed=schedule.crah_min_fan_speed.copy(),
        **schedule.levers(),
    )
