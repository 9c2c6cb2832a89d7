"""Robustness bench: the closed loop of ``bench/closed_loop.py`` with imperfect sensors and an ageing plant.

Run: ``.venv/bin/python bench/robustness.py [--site guiyang] [--design modern-ups] [--days 365]
[--scenarios clean,noise,...]``; ``--days 3`` is a smoke run.

The same year, hall and exploration history as the closed-loop bench, one scenario per fault and all of
them combined:

- ``noise``: every rack inlet reading N(0, 0.3 K), every power reading (IT, facility, cooling) N(0, 1 %),
  drawn independently per reading, in the training history and in operation (the history keeps only the
  hottest inlet, so it gets one draw);
- ``outdoor-bias``: the outdoor dry- and wet-bulb readings +1 K in operation only (a sensor that drifted
  after the model was trained: the model cannot have learned it);
- ``missing-polls``: 10 % of the hourly polls lost at random, in the history (rows dropped) and in
  operation (the recommender gets ``data_ok`` False and holds, as the controller does on stale data);
- ``chiller-ageing``: the chillers' COP falls linearly by 20 % a year (``SiteDesign.chiller_cop_factor``,
  stepped weekly) while the model stays the one trained on the new plant; baseline and oracle run on the
  same aged plant (the oracle re-optimised week by week), so capture compares like with like;
- ``combined``: all four.

In operation the agent also runs the controller's inlet guard (:mod:`agent.control.controller`): a
measured hottest inlet above the limit reverts to the last known-good setpoints (those that held through
a healthy hour) and holds the recommendation that hour. Violations (minutes above 27 C) count the twin's
true inlets, not the readings.

Baseline and oracle here are stepped with :class:`twin.site.SitePlant` (hourly, like the agent) for every
scenario, so the clean row can differ from ``closed_loop.py``'s (which uses ``twin.simulate``) in the
fourth decimal.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # many tiny predictions: threads cost more than they give

import argparse
import copy
import sys
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass, replace
from pathlib import Path

import numpy as np

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

from agent.control.engine import Conditions, Setpoints
from bench.closed_loop import (
    FAN_MIN_SPEED,
    REALISED_HEADER,
    START_EPOCH_S,
    STEP_S,
    RealisedTally,
    _exploration,
    _Run,
    recommender_for,
)
from models.cooling import fit_cooling_model
from twin.controllers import BASELINE_CRAH_MIN_FAN_SPEED, oracle_schedule
from twin.design import INLET_LIMIT_C, Controls, SiteDesign
from twin.site import SitePlant

HOURS_PER_WEEK = 168
SECONDS_PER_YEAR = 365.0 * 86400.0


@dataclass(frozen=True)
class Faults:
    """What is wrong with the sensors and the plant in one scenario."""

    inlet_noise_c: float = 0.0  # standard deviation of each rack inlet reading [K]
    power_noise_fraction: float = 0.0  # standard deviation of each power reading, relative [-]
    outdoor_bias_c: float = 0.0  # added to the outdoor dry- and wet-bulb readings in operation [K]
    missing_fraction: float = 0.0  # share of polls lost [-]
    chiller_cop_loss_per_year: float = 0.0  # COP lost per year of operation, linear [-]


NOISE = Faults(inlet_noise_c=0.3, power_noise_fraction=0.01)
SCENARIOS: dict[str, Faults] = {
    "clean": Faults(),
    "noise": NOISE,
    "outdoor-bias": Faults(outdoor_bias_c=1.0),
    "missing-polls": Faults(missing_fraction=0.1),
    "chiller-ageing": Faults(chiller_cop_loss_per_year=0.2),
    "combined": Faults(0.3, 0.01, 1.0, 0.1, 0.2),
}


@dataclass(frozen=True)
class ScenarioResult:
    name: str
    agent_pue: float
    baseline_pue: float
    oracle_pue: float
    minutes_above_limit: float
    max_inlet_c: float
    changes: int
    held_back_hours: int
    guard_reverts: int
    realised: RealisedTally
    seconds: float

    @property
    def captured(self) -> float:
        return (self.baseline_pue - self.agent_pue) / (self.baseline_pue - self.oracle_pue)


def aged_design(design: SiteDesign, faults: Faults, hour: int, start_day: float = 0.0) -> SiteDesign:
    """The plant's design in the week of ``hour`` of a run from ``start_day``: new on 1 January, COP factor at the
    week's middle (1 when not ageing)."""
    if faults.chiller_cop_loss_per_year == 0.0:
        return design
    week_mid_s = start_day * 86400.0 + (hour // HOURS_PER_WEEK + 0.5) * HOURS_PER_WEEK * STEP_S
    return replace(design, chiller_cop_factor=1.0 - faults.chiller_cop_loss_per_year * week_mid_s / SECONDS_PER_YEAR)


def references(run: _Run, faults: Faults, start_day: float = 0.0) -> tuple[float, float]:
    """Baseline and oracle annual PUE on the (possibly ageing) plant, stepped hourly like the agent."""
    pues = []
    for controller in ("baseline", "oracle"):
        plant = SitePlant(run.design, run.bounds)
        facility = it = 0.0
        for week_start in range(0, run.n, HOURS_PER_WEEK):
            hours = range(week_start, min(week_start + HOURS_PER_WEEK, run.n))
            plant.design = aged_design(run.design, faults, week_start, start_day)
            if controller == "oracle":
                s = oracle_schedule(
                    plant.design,
                    run.bounds,
                    run.utilisation[hours.start : hours.stop],
                    run.outdoor.wet_bulb_c[hours.start : hours.stop],
                    run.outdoor.pressure_pa[hours.start : hours.stop],
                )
                controls = [
                    Controls(
                        float(s.supply_air_setpoint_c[k]),
                        float(s.chw_supply_setpoint_c[k]),
                        bool(s.economizer_enabled[k]),
                        float(s.crah_min_fan_speed[k]),
                    )
                    for k in range(len(hours))
                ]
            else:
                controls = [Controls(18.0, 7.0, False, BASELINE_CRAH_MIN_FAN_SPEED)] * len(hours)
            for i, c in zip(hours, controls, strict=True):
                r = plant.step(run.conditions(i), c, STEP_S)
                facility += r.facility_power_w
                it += r.it_power_w
        pues.append(facility / it)
    return pues[0], pues[1]


def faulty_history(history: dict[str, np.ndarray], faults: Faults, rng: np.random.Generator) -> dict[str, np.ndarray]:
    """The exploration history as the faulty sensors recorded it (noise, lost rows; no bias, no ageing)."""
    n = history["facility"].size
    inputs = history["inputs"].copy()
    p = faults.power_noise_fraction
    inputs[:, 0] *= 1.0 + p * rng.standard_normal(n)
    kept = rng.random(n) >= faults.missing_fraction
    return {
        "inputs": inputs[kept],
        "cooling": (history["cooling"] * (1.0 + p * rng.standard_normal(n)))[kept],
        "facility": (history["facility"] * (1.0 + p * rng.standard_normal(n)))[kept],
        "inlet": (history["inlet"] + faults.inlet_noise_c * rng.standard_normal(n))[kept],
    }


def run_scenario(
    name: str,
    faults: Faults,
    site: str,
    design: str,
    days: float,
    history: dict[str, np.ndarray],
    min_savings_fraction: float = 0.004,
    seed: int = 7,
    start_day: float = 0.0,
) -> ScenarioResult:
    """One year (or ``days`` from ``start_day``) of the agent steering the twin through faulty sensors."""
    started = time.perf_counter()
    rng = np.random.default_rng(seed)
    run = _Run(site, days, design, start_day)
    seen = faulty_history(history, faults, rng)
    model = fit_cooling_model(seen["inputs"], seen["cooling"], seen["facility"], seen["inlet"], random_state=0)
    recommender = recommender_for(run, model, min_savings_fraction)
    plant = SitePlant(run.design, run.bounds)
    p = faults.power_noise_fraction

    def power(w: float) -> float:
        return w * (1.0 + p * float(rng.standard_normal()))

    current = known_good = Setpoints(18.0, 7.0, False)
    last_it_w = float(seen["inputs"][0, 0])
    last_inlet_c = -np.inf  # hottest inlet as read at the last poll
    facility = it = minutes_above = 0.0
    max_inlet = -np.inf
    held = changes = reverts = 0
    tally = RealisedTally()
    before: tuple[tuple[float, float, float], float] | None = None
    for i in range(run.n):
        if i % HOURS_PER_WEEK == 0:
            plant.design = aged_design(run.design, faults, i, start_day)
        cond = run.conditions(i)
        now_s = START_EPOCH_S + i * STEP_S
        polled = rng.random() >= faults.missing_fraction
        seen_conditions = Conditions(
            last_it_w, cond.outdoor_dry_bulb_c + faults.outdoor_bias_c, cond.outdoor_wet_bulb_c + faults.outdoor_bias_c
        )
        old = current
        if polled and last_inlet_c > INLET_LIMIT_C and current != known_good:
            current, reverted = known_good, True  # the controller's guard: revert, recommend nothing this hour
            reverts += 1
            held += 1
        else:
            last_facility_w = before[1] if before is not None else None  # measured at the setpoints in force
            rec = recommender.recommend(
                now_s, seen_conditions, current, data_ok=polled, measured_facility_power_w=last_facility_w
            )
            held += rec.held_back_reason is not None
            current, reverted = rec.setpoints, False
        changed = current != old
        changes += changed and not reverted
        counterfactual = copy.copy(plant) if changed else None
        r = plant.step(
            cond,
            Controls(
                current.supply_air_setpoint_c, current.chw_supply_setpoint_c, current.economizer_enabled, FAN_MIN_SPEED
            ),
            STEP_S,
        )
        current = Setpoints(
            r.controls.supply_air_setpoint_c, r.controls.chw_supply_setpoint_c, r.controls.economizer_enabled
        )
        if changed:
            recommender.applied(now_s, current)
        measured = (
            (
                power(r.it_power_w),
                r.outdoor_dry_bulb_c + faults.outdoor_bias_c,
                r.outdoor_wet_bulb_c + faults.outdoor_bias_c,
            ),
            power(r.facility_power_w),
        )
        if counterfactual is not None and before is not None and not reverted:
            at_old = counterfactual.step(
                cond,
                Controls(old.supply_air_setpoint_c, old.chw_supply_setpoint_c, old.economizer_enabled, FAN_MIN_SPEED),
                STEP_S,
            )
            tally.add(model, old, current, before, measured, at_old.facility_power_w - r.facility_power_w, now_s)
        readings = np.asarray(r.rack_inlet_c) + faults.inlet_noise_c * rng.standard_normal(len(r.rack_inlet_c))
        last_inlet_c = float(readings.max())
        if last_inlet_c <= INLET_LIMIT_C:
            known_good = current  # held through a healthy hour
        before = measured
        last_it_w = measured[0][0]
        facility += r.facility_power_w
        it += r.it_power_w
        max_inlet = max(max_inlet, r.max_inlet_c)
        if r.max_inlet_c > INLET_LIMIT_C + 1e-9:
            minutes_above += STEP_S / 60.0
    return ScenarioResult(
        name=name,
        agent_pue=facility / it,
        baseline_pue=float("nan"),  # filled in by the caller: the references run in parallel
        oracle_pue=float("nan"),
        minutes_above_limit=minutes_above,
        max_inlet_c=float(max_inlet),
        changes=changes,
        held_back_hours=held,
        guard_reverts=reverts,
        realised=tally,
        seconds=time.perf_counter() - started,
    )


def main(argv: list[str] | None = None) -> list[ScenarioResult]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", default="guiyang")
    parser.add_argument("--design", default="modern-ups")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument(
        "--start-day", type=float, default=0.0, help="day of the year the run (and its exploration history) starts"
    )
    parser.add_argument("--scenarios", default=",".join(SCENARIOS), help=f"comma-separated: {', '.join(SCENARIOS)}")
    parser.add_argument("--workers", type=int, default=min(2, os.cpu_count() or 1))
    parser.add_argument("--min-savings-fraction", type=float, default=0.004)
    args = parser.parse_args(argv)
    names = [s.strip() for s in args.scenarios.split(",") if s.strip()]
    unknown = sorted(set(names) - set(SCENARIOS))
    if unknown or not names:
        parser.error(f"--scenarios: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(SCENARIOS)}")
    started = time.perf_counter()
    print(
        f"robustness, {args.site} {args.design}, {args.days:g} days from day {args.start_day:g} at "
        f"{STEP_S / 60:g}-min steps (exploration history over the same days)",
        flush=True,
    )
    run = _Run(args.site, args.days, args.design, args.start_day)
    jobs = [(n, SCENARIOS[n]) for n in names]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        refs = {
            ageing: pool.submit(
                references, run, Faults(chiller_cop_loss_per_year=0.2 if ageing else 0.0), args.start_day
            )
            for ageing in {f.chiller_cop_loss_per_year > 0 for _, f in jobs}
        }
        history = _exploration(run, 1)
        scenario_runs = [
            pool.submit(
                run_scenario,
                n,
                f,
                args.site,
                args.design,
                args.days,
                history,
                args.min_savings_fraction,
                start_day=args.start_day,
            )
            for n, f in jobs
        ]
        print(
            f"{'scenario':15s} {'baseline':>8s} {'oracle':>7s} {'agent':>7s} {'captured':>9s} {'min>27C':>8s} "
            f"{'max inlet':>9s} {'changes':>7s} {'held h':>7s} {'reverts':>7s} {REALISED_HEADER} {'s':>5s}",
            flush=True,
        )
        results = []
        for (_, f), done in zip(jobs, scenario_runs, strict=True):  # each row as it finishes (a year is long)
            baseline, oracle = refs[f.chiller_cop_loss_per_year > 0].result()
            r = replace(done.result(), baseline_pue=baseline, oracle_pue=oracle)
            results.append(r)
            print(
                f"{r.name:15s} {r.baseline_pue:8.4f} {r.oracle_pue:7.4f} {r.agent_pue:7.4f} {100 * r.captured:8.1f}% "
                f"{r.minutes_above_limit:8.0f} {r.max_inlet_c:9.2f} {r.changes:7d} {r.held_back_hours:7d} "
                f"{r.guard_reverts:7d} {r.realised.errors()} {r.seconds:5.0f}",
                flush=True,
            )
    print(
        "captured = (baseline - agent) / (baseline - oracle), energy PUE, all on the same (aged) plant; min>27C and "
        "max inlet: the twin's true hottest inlet; reverts: the inlet guard acting on a measured inlet above 27 C"
    )
    print(f"total {time.perf_counter() - started:.0f} s")
    return results


if __name__ == "__main__":
    main()
