"""Safe exploratory history from the twin: what a site's model needs to learn from.

Setpoints vary at random around a schedule (by default mid-range: supply air 19 C, chilled water 11 C;
a site explores around where it runs), held for
three hours at a time, the economizer enabled at random in six-hour blocks, and every inlet kept at or
below 27 C by :func:`twin.controllers.explore_schedule` (Lazic et al. 2018: a few hours of safe
random exploration identify a controllable model). Used by the demo to train its model.
"""

from __future__ import annotations

import csv
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path

import numpy as np

from agent.history.site_csv import SITE_HISTORY_COLUMNS
from twin import it_load
from twin.controllers import ControlSchedule, explore_schedule
from twin.design import ControlBounds, Controls, SiteDesign
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant
from twin.weather import HourlyWeather, weather_at

__all__ = ["write_exploration_history"]


def write_exploration_history(
    weather: HourlyWeather,
    start: datetime,
    days: float,
    step_s: float,
    out: Path,
    *,
    centre_supply_air_c: float = 19.0,
    centre_chw_supply_c: float = 11.0,
    amplitude_c: float = 6.0,
    seed: int = 1,
    crah_min_fan_speed: float = 1.0,
    progress: Callable[[int, int], None] | None = None,
) -> int:
    """Simulate ``days`` of safe exploration and write the canonical site history CSV; return rows.

    ``progress`` is called with (steps done, steps in all) every simulated day.
    """
    design, bounds = SiteDesign(), ControlBounds()
    n = round(days * 86400.0 / step_s)
    mid = np.asarray(start.timestamp() + (np.arange(n) + 0.5) * step_s, dtype=np.float64)
    outdoor = weather_at(weather, mid)
    util = it_load.rack_utilisation(
        utilisation_at(mid, weather.utc_offset_h), design.rack_trace_index, design.rack_utilisation_gain
    )
    rng = np.random.default_rng(seed)
    block = max(1, round(6 * 3600 / step_s))
    centre = ControlSchedule(
        supply_air_setpoint_c=np.full(n, centre_supply_air_c),
        chw_supply_setpoint_c=np.full(n, centre_chw_supply_c),
        economizer_enabled=np.repeat(rng.random(-(-n // block)) < 0.5, block)[:n],
        crah_min_fan_speed=np.full(n, crah_min_fan_speed),
    )
    schedule = explore_schedule(centre, amplitude_c, step_s, design, bounds, seed=seed, hold_s=3 * 3600.0)
    plant = SitePlant(design, bounds)
    with out.open("w", newline="", encoding="utf-8") as fh:
        writer = csv.writer(fh, lineterminator="\n")
        writer.writerow(SITE_HISTORY_COLUMNS)
        per_day = max(1, round(86400.0 / step_s))
        for i in range(n):
            if progress is not None and i % per_day == 0:
                progress(i, n)
            conditions = SiteConditions(
                float(outdoor.dry_bulb_c[i]),
                float(outdoor.wet_bulb_c[i]),
                float(outdoor.rh_percent[i]),
                float(outdoor.pressure_pa[i]),
                tuple(util[i].tolist()),
            )
            controls = Controls(
                float(schedule.supply_air_setpoint_c[i]),
                float(schedule.chw_supply_setpoint_c[i]),
                bool(schedule.economizer_enabled[i]),
                crah_min_fan_speed,
            )
            r = plant.step(conditions, controls, step_s)
            stamp = (start + timedelta(seconds=i * step_s)).astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
            writer.writerow(
                [
                    stamp,
                    f"{step_s:g}",
                    f"{r.facility_power_w:.1f}",
                    f"{r.it_power_w:.1f}",
                    f"{r.cooling_power_w:.1f}",
                    f"{r.outdoor_dry_bulb_c:.2f}",
                    f"{r.outdoor_wet_bulb_c:.2f}",
                    f"{r.outdoor_rh_percent:.1f}",
                    f"{r.controls.supply_air_setpoint_c:.2f}",
                    f"{r.controls.chw_supply_setpoint_c:.2f}",
                    int(r.controls.economizer_enabled),
                    f"{r.max_inlet_c:.2f}",
                    f"{r.facility_power_w / r.it_power_w:.4f}",
                ]
            )
    return n
