"""Exploration bench: days of planned exploration until the agent captures 90 % and 95 % of the oracle's saving.

Run: ``.venv/bin/python bench/exploration.py [--site guiyang] [--design legacy] [--days 30]
[--history-days 28] [--start-day 91] [--eval-days 7] [--eval-every 1]``.

In-process, hourly, like ``bench/closed_loop.py``:

1. History: ``--history-days`` before the start with FIXED setpoints (supply air 18 C, chilled water
   7 C, economizer off, CRAH minimum fan speed 0.3): the model fitted on it has one setpoint cell of
   support and the recommender refuses every change.
2. Exploration, day by day: each hour :class:`models.exploration.ExplorationPlanner` says where the
   plant should be (one setpoint per step, held, at safe hours: away from the warmest hours of the last
   week), the twin runs it and the row joins the history; every night the model is refitted on all rows,
   the planner told the new support and hold-out errors.
   Once the planner says the support and errors suffice, the recommender with the night's model steers
   the plant instead (as in the agent).
3. Evaluation after each ``--eval-every`` days: the recommender with that night's model steers a fresh
   plant over the next ``--eval-days`` (from the home setpoints); so does the oracle (the twin's own
   grid search) and the home setpoints held. Captured = (home - agent) / (home - oracle) facility energy.

Prints per evaluated day: lattice visited/covered, hold-out errors, capture, minutes above 27 C
(exploration and agent), then the first day at 90 % and 95 %.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # many tiny predictions: threads cost more than they give

import argparse
import time
from dataclasses import dataclass

import numpy as np

from agent.control.engine import Conditions, Recommender, Setpoints
from models.cooling import CoolingModel, fit_cooling_model
from models.exploration import ExplorationBox, ExplorationPlanner, ExplorationSettings, peak_hour, safe_hour
from models.optimiser import SetpointBounds
from twin import it_load
from twin.controllers import oracle_schedule
from twin.design import DESIGNS, INLET_LIMIT_C, ControlBounds, Controls
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant, StepResult
from twin.weather import load_site_weather, weather_at

STEP_S = 3600.0
FAN_MIN_SPEED = 0.3
START_EPOCH_S = 1767225600.0  # 2026-01-01T00:00:00Z, the twin's default start
HOME = (18.0, 7.0, False)


class _Year:
    """Exogenous inputs of a year, hourly."""

    def __init__(self, site: str, design: str) -> None:
        self.weather = load_site_weather(site)
        self.design = DESIGNS[design]
        self.bounds = ControlBounds()
        self.n = 365 * 24
        self.mid = START_EPOCH_S + (np.arange(self.n) + 0.5) * STEP_S
        self.outdoor = weather_at(self.weather, self.mid)
        self.utilisation = it_load.rack_utilisation(
            utilisation_at(self.mid, self.weather.utc_offset_h),
            self.design.rack_trace_index,
            self.design.rack_utilisation_gain,
        )
        self.local_hour = ((self.mid - 0.5 * STEP_S) / 3600.0 + self.weather.utc_offset_h) % 24.0

    def conditions(self, i: int) -> SiteConditions:
        o = self.outdoor
        return SiteConditions(
            float(o.dry_bulb_c[i]),
            float(o.wet_bulb_c[i]),
            float(o.rh_percent[i]),
            float(o.pressure_pa[i]),
            tuple(self.utilisation[i].tolist()),
        )


def _row(r: StepResult) -> tuple[float, ...]:
    c = r.controls
    return (
        r.it_power_w,
        r.outdoor_dry_bulb_c,
        r.outdoor_wet_bulb_c,
        c.supply_air_setpoint_c,
        c.chw_supply_setpoint_c,
        float(c.economizer_enabled),
        r.cooling_power_w,
        r.facility_power_w,
        r.max_inlet_c,
    )


def _fit(rows: list[tuple[float, ...]]) -> CoolingModel:
    table = np.array(rows)
    return fit_cooling_model(table[:, :6], table[:, 6], table[:, 7], table[:, 8], random_state=0)


@dataclass(frozen=True)
class Window:
    home_j: float
    oracle_j: float
    agent_j: float
    agent_minutes_above: float

    @property
    def captured(self) -> float:
        return (self.home_j - self.agent_j) / (self.home_j - self.oracle_j)


def _recommender(year: _Year, model: CoolingModel) -> Recommender:
    """The agent's recommender as bench/closed_loop.py runs it."""
    b = year.bounds
    return Recommender(
        model,
        SetpointBounds(b.supply_air_min_c, b.supply_air_max_c, b.chw_supply_min_c, b.chw_supply_max_c),
        inlet_limit_c=INLET_LIMIT_C,
        max_step_c=2.0,
        max_change_per_h_c=4.0,
        economizer_min_dwell_s=year.design.economizer_min_dwell_s,
        min_savings_fraction=0.004,
    )


def _evaluate(year: _Year, model: CoolingModel, start: int, hours: int) -> Window:
    span = range(start, start + hours)
    home_plant, oracle_plant, agent_plant = (SitePlant(year.design, year.bounds) for _ in range(3))
    rows = slice(start, start + hours)
    oracle = oracle_schedule(
        year.design,
        year.bounds,
        year.utilisation[rows],
        year.outdoor.wet_bulb_c[rows],
        year.outdoor.pressure_pa[rows],
    )
    recommender = _recommender(year, model)
    current = Setpoints(*HOME)
    home_j = oracle_j = agent_j = minutes = 0.0
    last_it_w: float | None = None
    for k, i in enumerate(span):
        cond = year.conditions(i)
        home_j += home_plant.step(cond, Controls(*HOME, FAN_MIN_SPEED), STEP_S).facility_power_w * STEP_S
        oracle_controls = Controls(
            float(oracle.supply_air_setpoint_c[k]),
            float(oracle.chw_supply_setpoint_c[k]),
            bool(oracle.economizer_enabled[k]),
            FAN_MIN_SPEED,
        )
        oracle_j += oracle_plant.step(cond, oracle_controls, STEP_S).facility_power_w * STEP_S
        now_s = START_EPOCH_S + i * STEP_S
        if last_it_w is not None:
            rec = recommender.recommend(
                now_s, Conditions(last_it_w, cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c), current, data_ok=True
            )
            current = rec.setpoints
            if rec.changed:
                recommender.applied(now_s, current)
        r = agent_plant.step(
            cond,
            Controls(
                current.supply_air_setpoint_c, current.chw_supply_setpoint_c, current.economizer_enabled, FAN_MIN_SPEED
            ),
            STEP_S,
        )
        last_it_w = r.it_power_w
        agent_j += r.facility_power_w * STEP_S
        minutes += STEP_S / 60.0 if r.max_inlet_c > INLET_LIMIT_C + 1e-9 else 0.0
    return Window(home_j, oracle_j, agent_j, minutes)


def run(args: argparse.Namespace) -> None:
    started = time.perf_counter()
    year = _Year(args.site, args.design)
    first = int(args.start_day * 24)
    history_start = first - int(args.history_days * 24)
    if history_start < 0 or first + int((args.days + args.eval_days) * 24) > year.n:
        raise SystemExit("history, exploration and evaluation must fit in the year")
    plant = SitePlant(year.design, year.bounds)
    rows = [
        _row(plant.step(year.conditions(i), Controls(*HOME, FAN_MIN_SPEED), STEP_S))
        for i in range(history_start, first)
    ]
    history = np.array(rows)
    rack_approach_k = float(np.max(history[:, 8] - history[:, 3]))
    b = year.bounds
    settings = ExplorationSettings(step_k=args.step_k, hold_h=args.hold_h, inlet_margin_k=args.margin_k, seed=args.seed)
    planner = ExplorationPlanner(
        HOME,
        ExplorationBox(
            b.supply_air_min_c, b.supply_air_max_c, b.chw_supply_min_c, b.chw_supply_max_c, 0.1, 0.1, rack_approach_k
        ),
        settings,
    )
    model = _fit(rows)
    print(
        f"exploration bench: {args.site} {args.design}, history {args.history_days:g} days at fixed setpoints "
        f"{HOME[0]:g}/{HOME[1]:g} C economizer off, exploration from day {args.start_day:g} for {args.days:g} days; "
        f"lattice {len(planner.targets)} points ({args.step_k:g} K, supply air <= {planner.supply_cap_c:.2f} C, "
        f"hold {args.hold_h:g} h, margin {args.margin_k:g} K); evaluation {args.eval_days:g} days after each night"
    )
    base = _evaluate(year, model, first, int(args.eval_days * 24))
    print(
        f"{'day':>3s} {'visited':>7s} {'support':>7s} {'inlet MAE':>9s} {'MAPE %':>6s} {'explore min>27':>14s} "
        f"{'captured':>8s} {'agent min>27':>12s} {'state':>9s} {'s':>5s}"
    )
    print(
        f"{0:3d} {0:7d} {0:6.0%} {model.validation.max_inlet_mae_c:9.3f} "
        f"{model.validation.facility_power_mape_percent:6.2f} {0:14.0f} {base.captured:8.1%} "
        f"{base.agent_minutes_above:12.0f} {'-':>9s} {time.perf_counter() - started:5.0f}"
    )
    current = HOME
    max_inlet = float(history[-1, 8])
    explore_minutes = 0.0
    reached: dict[float, int] = {}
    state = "-"
    for day in range(1, int(args.days) + 1):
        day_rows = range(first + (day - 1) * 24, first + day * 24)
        recent = np.array(rows[-7 * 24 :])
        recent_local = year.local_hour[len(rows) - len(recent) + history_start : len(rows) + history_start]
        warmest = peak_hour(recent_local, recent[:, 1])
        steer = _recommender(year, model) if planner.finished else None
        for i in day_rows:
            if steer is not None:  # exploration finished: the recommender steers, as in the agent
                cond = year.conditions(i)
                now_s = START_EPOCH_S + i * STEP_S
                rec = steer.recommend(
                    now_s,
                    Conditions(float(rows[-1][0]), cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c),
                    Setpoints(*current),
                    data_ok=True,
                )
                if rec.changed:
                    steer.applied(now_s, rec.setpoints)
                sp = rec.setpoints
                current = (sp.supply_air_setpoint_c, sp.chw_supply_setpoint_c, sp.economizer_enabled)
            else:
                step = planner.step(i * STEP_S, current, max_inlet, safe_hour(year.local_hour[i], settings, warmest))
                state = step.state
                current = step.setpoints
            r = plant.step(year.conditions(i), Controls(*current, FAN_MIN_SPEED), STEP_S)
            current = (
                r.controls.supply_air_setpoint_c,
                r.controls.chw_supply_setpoint_c,
                r.controls.economizer_enabled,
            )
            max_inlet = r.max_inlet_c
            explore_minutes += STEP_S / 60.0 if r.max_inlet_c > INLET_LIMIT_C + 1e-9 else 0.0
            rows.append(_row(r))
        model = _fit(rows)  # nightly retraining on everything so far
        support = planner.covered(model.support)
        v = model.validation
        planner.finish_if_good(support, v.max_inlet_mae_c, v.facility_power_mape_percent)
        if day % args.eval_every and day != int(args.days):
            continue
        w = _evaluate(year, model, first + day * 24, int(args.eval_days * 24))
        for goal in (0.90, 0.95):
            if w.captured >= goal and goal not in reached:
                reached[goal] = day
        print(
            f"{day:3d} {planner.visits:7d} {support:6.0%} {v.max_inlet_mae_c:9.3f} "
            f"{v.facility_power_mape_percent:6.2f} "
            f"{explore_minutes:14.0f} {w.captured:8.1%} {w.agent_minutes_above:12.0f} "
            f"{'finished' if planner.finished else state:>9s} {time.perf_counter() - started:5.0f}",
            flush=True,
        )
    for goal in (0.90, 0.95):
        day_text = f"day {reached[goal]}" if goal in reached else f"not within {args.days:g} days"
        print(f"{goal:.0%} of the oracle's saving over the next {args.eval_days:g} days: {day_text}")
    print(
        f"minutes above {INLET_LIMIT_C:g} C during exploration: {explore_minutes:.0f}; "
        f"total {time.perf_counter() - started:.0f} s"
    )


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", default="guiyang")
    parser.add_argument("--design", default="legacy", choices=sorted(DESIGNS))
    parser.add_argument("--days", type=float, default=30.0, help="days of exploration")
    parser.add_argument("--history-days", type=float, default=28.0, help="days of fixed-setpoint history before")
    parser.add_argument("--start-day", type=float, default=91.0, help="day of the year exploration starts")
    parser.add_argument("--eval-days", type=float, default=7.0, help="days each evaluation covers")
    parser.add_argument("--eval-every", type=int, default=1, help="evaluate after every n-th day")
    parser.add_argument("--step-k", type=float, default=1.0, help="lattice spacing [K]")
    parser.add_argument("--hold-h", type=float, default=2.0, help="hold at each new point [h]")
    parser.add_argument("--margin-k", type=float, default=1.0, help="inlet margin below 27 C [K]")
    parser.add_argument("--seed", type=int, default=0)
    run(parser.parse_args(argv))


if __name__ == "__main__":
    main()
