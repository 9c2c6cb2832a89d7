"""Closed-loop benchmark: the recommender steers the twin for a year, against baseline and oracle.

One module (over 400 lines): one bench run, from the exploration year and the fit through the hourly
agent loop and the realised-savings tally to the table; bench/robustness.py and bench/closed_loop_wire.py
import its pieces, so they stay side by side.

Run: ``.venv/bin/python bench/closed_loop.py [--sites guiyang,chengdu,chongqing] [--days 365]
[--design modern-ups,legacy] [--hourly DIR]`` (775 s on 2 cores for both halls and three cities).

Per site (in-process, no SNMP): the twin's :class:`twin.site.SitePlant` is stepped hourly.

1. Exploration: a year with safe random setpoint variation (the twin's
   :func:`twin.controllers.explore_schedule` around a mid-range schedule, economizer enable
   toggled at random in 6-hour blocks, CRAH minimum fan speed 0.3) is recorded as canonical site
   history columns. It uses the same typical weather year as the evaluation.
2. The cooling model is fitted on it (time-ordered hold-out validation printed).
3. Agent: each hour the :class:`agent.control.engine.Recommender` sees the outdoor air now, the
   IT power measured in the previous hour and the setpoints in force, and its recommendation is
   applied (CRAH minimum fan speed 0.3, as in the oracle).
4. Baseline and oracle come from :func:`twin.simulate.simulate` at the same hourly step; a
   second reference runs the baseline setpoints with the fans at 0.3 to separate the fan retrofit
   from the setpoint savings.

5. Realised savings: each applied change is evaluated as the controller does (models/realised.py over the hour
   before and the hour after) and against the twin's truth, the same hour stepped from the same state at the
   old setpoints (:class:`RealisedTally`).

Annual PUE is energy-based (sum facility / sum IT energy, ISO/IEC 30134-2).

``--design modern-vs`` (a variable-speed plant, twin/vs_plant.py) also explores and lets the agent set the plant's
levers (:data:`PLANT_LEVERS`: condenser-water and DP setpoints, chillers and towers running; models/levers.py); its
oracle searches condenser water and chiller counts with all towers running and the DP at its lower bound
(twin/controllers.py). Issue 16's target there: agent PUE <= 1.20, >= 98 % of the oracle's saving.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # many tiny predictions: threads cost more than they give

import argparse
import copy
import time
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

import numpy as np

from agent.control.engine import Conditions, Recommender, Setpoints
from models.cooling import CoolingModel, fit_cooling_model
from models.levers import LeverSpec
from models.optimiser import SetpointBounds
from models.realised import realised_saving
from twin import it_load
from twin.controllers import ControlSchedule, explore_schedule
from twin.design import DESIGNS, INLET_LIMIT_C, ControlBounds, Controls
from twin.simulate import simulate, summarize, utilisation_at
from twin.site import SiteConditions, SitePlant
from twin.weather import load_site_weather, weather_at

STEP_S = 3600.0
FAN_MIN_SPEED = 0.3
START_EPOCH_S = 1767225600.0  # 2026-01-01T00:00:00Z, the twin's default start

#: levers of a variable-speed plant (design modern-vs): (spec, values explored, value the agent starts at);
#: condenser water to the chillers' range, DP from a low reset to near design, every count of chillers/towers
PLANT_LEVERS: tuple[tuple[LeverSpec, tuple[float, ...], float], ...] = (
    (LeverSpec("condenser_water_setpoint_c", 18.0, 30.0, 1.0, 2.0), tuple(np.arange(18.0, 30.5, 1.0)), 24.0),
    (LeverSpec("chw_pump_dp_setpoint_pa", 30e3, 120e3, 10e3, 20e3), tuple(np.arange(30e3, 120.5e3, 10e3)), 100e3),
    (LeverSpec("chillers_running", 1.0, 3.0, 1.0, 1.0), (1.0, 2.0, 3.0), 3.0),
    (LeverSpec("towers_running", 1.0, 3.0, 1.0, 1.0), (1.0, 2.0, 3.0), 3.0),
)


def _lever_controls(levers: tuple[float, ...]) -> dict[str, float | int]:
    """Controls keywords of the twin for the bench's lever values (none on a constant-speed plant)."""
    if not levers:
        return {}
    cw, dp, chillers, towers = levers
    return {
        "condenser_water_setpoint_c": cw,
        "chw_pump_dp_setpoint_pa": dp,
        "chillers_running": round(chillers),
        "towers_running": round(towers),
    }


def _levers_of(controls: Controls) -> tuple[float, ...]:
    if controls.condenser_water_setpoint_c is None or controls.chw_pump_dp_setpoint_pa is None:
        return ()
    return (
        controls.condenser_water_setpoint_c,
        controls.chw_pump_dp_setpoint_pa,
        float(controls.chillers_running or 0),
        float(controls.towers_running or 0),
    )


@dataclass(frozen=True)
class SiteResult:
    site: str
    baseline_pue: float
    baseline_vfd_pue: float
    oracle_pue: float
    agent_pue: float
    agent_minutes_above_limit: float
    agent_max_inlet_c: float
    pue_mae: float
    inlet_mae_c: float
    held_back_hours: int
    changes: int
    seconds: float
    realised: RealisedTally | None = None
    hourly: dict[str, np.ndarray] | None = None  # per hour: agent, oracle and baseline (``--hourly``)


@dataclass
class RealisedTally:
    """Realised savings of the agent's applied changes (:func:`models.realised.realised_saving`) against the truth.

    Per change at hour i from S0 to S1: the hour before (i - 1, the plant at S0) and the hour after (i, at S1)
    as the agent measured them, as the controller's estimator sees them (realised_window_s 1 h); the truth is
    the twin itself stepped at S0 through hour i from the same state, minus the facility power at S1.
    Sums are over one-hour windows, so W summed = Wh.
    """

    n: int = 0
    predicted_wh: float = 0.0
    realised_wh: float = 0.0
    true_wh: float = 0.0
    within_2sigma: int = 0

    def add(
        self,
        model: CoolingModel,
        old: Setpoints,
        new: Setpoints,
        before: tuple[tuple[float, float, float], float],
        after: tuple[tuple[float, float, float], float],
        true_saving_w: float,
        now_s: float,
    ) -> None:
        """One change: ``before``/``after`` are ((IT [W], dry-bulb [C], wet-bulb [C]), facility [W]) as measured."""
        saving = realised_saving(
            model,
            (old.supply_air_setpoint_c, old.chw_supply_setpoint_c, old.economizer_enabled, *old.levers),
            (new.supply_air_setpoint_c, new.chw_supply_setpoint_c, new.economizer_enabled, *new.levers),
            [now_s],
            [after[0]],
            [after[1]],
            [now_s - STEP_S],
            [before[0]],
            [before[1]],
        )
        self.n += 1
        self.predicted_wh += saving.predicted_w
        self.realised_wh += saving.realised_w
        self.true_wh += true_saving_w
        self.within_2sigma += abs(saving.realised_w - true_saving_w) <= 2.0 * saving.std_w

    def errors(self) -> str:
        """Predicted and realised sums against the true sum [%], and the share of changes within 2 sigma."""
        if self.n == 0 or self.true_wh == 0.0:
            return f"{'-':>8s} {'-':>8s} {'-':>6s}"
        pred = 100.0 * (self.predicted_wh - self.true_wh) / abs(self.true_wh)
        real = 100.0 * (self.realised_wh - self.true_wh) / abs(self.true_wh)
        return f"{pred:+7.1f}% {real:+7.1f}% {100.0 * self.within_2sigma / self.n:5.0f}%"


REALISED_HEADER = f"{'pred err':>8s} {'real err':>8s} {'in 2s':>6s}"


class _Run:
    """Hourly stepping of one plant with exogenous inputs precomputed."""

    def __init__(self, site: str, days: float, design: str = "legacy", start_day: float = 0.0) -> None:
        self.weather = load_site_weather(site)
        self.design = DESIGNS[design]
        self.bounds = ControlBounds()
        n = round(days * 86400.0 / STEP_S)
        mid = START_EPOCH_S + start_day * 86400.0 + (np.arange(n) + 0.5) * STEP_S
        self.outdoor = weather_at(self.weather, mid)
        self.utilisation = it_load.rack_utilisation(
            utilisation_at(mid, self.weather.utc_offset_h),
            self.design.rack_trace_index,
            self.design.rack_utilisation_gain,
        )
        self.n = n

    def conditions(self, i: int) -> SiteConditions:
        o = self.outdoor
        return SiteConditions(
            float(o.dry_bulb_c[i]),
            float(o.wet_bulb_c[i]),
            float(o.rh_percent[i]),
            float(o.pressure_pa[i]),
            tuple(self.utilisation[i].tolist()),
        )


def _exploration(run: _Run, seed: int) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    blocks = -(-run.n // 6)
    centre = ControlSchedule(
        supply_air_setpoint_c=np.full(run.n, 19.0),
        chw_supply_setpoint_c=np.full(run.n, 11.0),
        economizer_enabled=np.repeat(rng.random(blocks) < 0.5, 6)[: run.n],
        crah_min_fan_speed=np.full(run.n, FAN_MIN_SPEED),
    )
    schedule = explore_schedule(centre, 6.0, STEP_S, run.design, run.bounds, seed=seed, hold_s=3 * 3600.0)
    plant = SitePlant(run.design, run.bounds)
    rows = []
    # a variable-speed plant also explores its levers, each drawn from its values and held 3 hours
    lever_draws = [
        np.repeat(rng.choice(np.asarray(values), -(-run.n // 3)), 3)[: run.n]
        for _, values, _ in (PLANT_LEVERS if run.design.variable_speed_plant else ())
    ]
    lever_rows = []
    for i in range(run.n):
        levers = tuple(float(d[i]) for d in lever_draws)
        controls = Controls(
            float(schedule.supply_air_setpoint_c[i]),
            float(schedule.chw_supply_setpoint_c[i]),
            bool(schedule.economizer_enabled[i]),
            FAN_MIN_SPEED,
            **_lever_controls(levers),  # type: ignore[arg-type]
        )
        r = plant.step(run.conditions(i), controls, STEP_S)
        c = r.controls
        rows.append(
            (
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
        )
        lever_rows.append(_levers_of(c))
    table = np.array(rows)
    inputs = np.column_stack((table[:, :6], np.array(lever_rows).reshape(run.n, -1)))
    return {"inputs": inputs, "cooling": table[:, 6], "facility": table[:, 7], "inlet": table[:, 8]}


def _fixed(run: _Run, controls: Controls) -> float:
    plant = SitePlant(run.design, run.bounds)
    facility = it = 0.0
    for i in range(run.n):
        r = plant.step(run.conditions(i), controls, STEP_S)
        facility += r.facility_power_w
        it += r.it_power_w
    return facility / it


def fit_for(
    run: _Run, history: dict[str, np.ndarray], regressor_params: dict[str, Any] | None = None
) -> tuple[CoolingModel, tuple[LeverSpec, ...]]:
    """The cooling model fitted on the exploration history, with the plant's levers where the design has them
    (``regressor_params``: the forests' settings, e.g. fewer iterations for a quick model in a test)."""
    specs = tuple(spec for spec, _, _ in PLANT_LEVERS) if run.design.variable_speed_plant else ()
    model = fit_cooling_model(
        history["inputs"],
        history["cooling"],
        history["facility"],
        history["inlet"],
        random_state=0,
        lever_columns=tuple(spec.name for spec in specs),
        lever_steps=tuple(spec.step for spec in specs),
        regressor_params=regressor_params,
    )
    return model, specs


def recommender_for(
    run: _Run, model: CoolingModel, min_savings_fraction: float, specs: tuple[LeverSpec, ...] = ()
) -> Recommender:
    """The agent's recommender as the bench runs it: the twin's bounds, hourly steps of at most 2 K."""
    return Recommender(
        model,
        SetpointBounds(
            run.bounds.supply_air_min_c,
            run.bounds.supply_air_max_c,
            run.bounds.chw_supply_min_c,
            run.bounds.chw_supply_max_c,
        ),
        inlet_limit_c=INLET_LIMIT_C,
        max_step_c=2.0,
        max_change_per_h_c=4.0,
        economizer_min_dwell_s=run.design.economizer_min_dwell_s,
        min_savings_fraction=min_savings_fraction,
        levers=specs,
    )


def run_site(
    site: str,
    days: float = 365.0,
    seed: int = 1,
    design: str = "legacy",
    min_savings_fraction: float = 0.004,
    measured_anchor: bool = True,
    start_day: float = 0.0,
) -> SiteResult:
    started = time.perf_counter()
    run = _Run(site, days, design, start_day)
    history = _exploration(run, seed)
    model, specs = fit_for(run, history)
    recommender = recommender_for(run, model, min_savings_fraction, specs)
    plant = SitePlant(run.design, run.bounds)
    start_levers = tuple(start for _, _, start in PLANT_LEVERS) if specs else ()
    current = Setpoints(18.0, 7.0, False, start_levers)  # start from the site rules
    last_it_w = float(history["inputs"][0, 0])
    last_facility_w: float | None = None  # measured at the setpoints in force
    facility = it = 0.0
    minutes_above = 0.0
    max_inlet = -np.inf
    held = changes = 0
    tally = RealisedTally()
    before: tuple[tuple[float, float, float], float] | None = None  # the last hour as measured
    hours: list[tuple[float, ...]] = []  # per hour: IT, facility, hottest inlet, setpoints in force, held back
    for i in range(run.n):
        cond = run.conditions(i)
        now_s = START_EPOCH_S + i * STEP_S
        rec = recommender.recommend(
            now_s,
            Conditions(last_it_w, cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c),
            current,
            data_ok=True,
            measured_facility_power_w=last_facility_w if measured_anchor else None,
        )
        held += rec.held_back_reason is not None
        changes += rec.changed
        old = current
        current = rec.setpoints
        counterfactual = copy.copy(plant) if rec.changed else None  # the plant's state is two immutable fields
        r = plant.step(
            cond,
            Controls(
                current.supply_air_setpoint_c,
                current.chw_supply_setpoint_c,
                current.economizer_enabled,
                FAN_MIN_SPEED,
                **_lever_controls(current.levers),  # type: ignore[arg-type]
            ),
            STEP_S,
        )
        current = Setpoints(
            r.controls.supply_air_setpoint_c,
            r.controls.chw_supply_setpoint_c,
            r.controls.economizer_enabled,
            _levers_of(r.controls),
        )
        if rec.changed:  # applied every step: the rate-limit and dwell clocks start now
            recommender.applied(now_s, current)
        measured = ((r.it_power_w, r.outdoor_dry_bulb_c, r.outdoor_wet_bulb_c), r.facility_power_w)
        # a lever design's change is predicted and counterfactually stepped with its lever values too
        if counterfactual is not None and before is not None:
            at_old = counterfactual.step(
                cond,
                Controls(
                    old.supply_air_setpoint_c,
                    old.chw_supply_setpoint_c,
                    old.economizer_enabled,
                    FAN_MIN_SPEED,
                    **_lever_controls(old.levers),  # type: ignore[arg-type]
                ),
                STEP_S,
            )
            tally.add(model, old, current, before, measured, at_old.facility_power_w - r.facility_power_w, now_s)
        before = measured
        hours.append(
            (
                r.it_power_w,
                r.facility_power_w,
                r.max_inlet_c,
                current.supply_air_setpoint_c,
                current.chw_supply_setpoint_c,
                float(current.economizer_enabled),
                float(rec.held_back_reason is not None),
                *current.levers,
            )
        )
        last_it_w = r.it_power_w
        last_facility_w = r.facility_power_w
        facility += r.facility_power_w
        it += r.it_power_w
        max_inlet = max(max_inlet, r.max_inlet_c)
        if r.max_inlet_c > INLET_LIMIT_C + 1e-9:
            minutes_above += STEP_S / 60.0
    start = datetime.fromtimestamp(START_EPOCH_S + start_day * 86400.0, UTC)
    baseline_run = simulate(
        run.weather, days=days, step_s=STEP_S, controller="baseline", design=run.design, start=start
    )
    oracle_run = simulate(run.weather, days=days, step_s=STEP_S, controller="oracle", design=run.design, start=start)
    baseline, oracle = summarize(baseline_run), summarize(oracle_run)
    agent_hours = np.array(hours)
    hourly = {
        "hour": np.arange(run.n, dtype=float) + 24.0 * start_day,
        "dry_bulb_c": run.outdoor.dry_bulb_c[: run.n],
        "wet_bulb_c": run.outdoor.wet_bulb_c[: run.n],
        "agent_it_w": agent_hours[:, 0],
        "agent_facility_w": agent_hours[:, 1],
        "agent_max_inlet_c": agent_hours[:, 2],
        "agent_supply_air_c": agent_hours[:, 3],
        "agent_chw_c": agent_hours[:, 4],
        "agent_economizer": agent_hours[:, 5],
        "agent_held": agent_hours[:, 6],
        **{f"agent_{spec.name}": agent_hours[:, 7 + k] for k, spec in enumerate(specs)},
        "oracle_it_w": oracle_run.it_power_w,
        "oracle_facility_w": oracle_run.facility_power_w,
        "oracle_supply_air_c": oracle_run.supply_air_setpoint_c,
        "oracle_chw_c": oracle_run.chw_supply_setpoint_c,
        "oracle_economizer": oracle_run.economizer_enabled.astype(float),
        "baseline_it_w": baseline_run.it_power_w,
        "baseline_facility_w": baseline_run.facility_power_w,
    }
    return SiteResult(
        site=site,
        baseline_pue=baseline.pue,
        baseline_vfd_pue=_fixed(run, Controls(18.0, 7.0, False, FAN_MIN_SPEED)),
        oracle_pue=oracle.pue,
        agent_pue=facility / it,
        agent_minutes_above_limit=minutes_above,
        agent_max_inlet_c=float(max_inlet),
        pue_mae=model.validation.pue_mae,
        inlet_mae_c=model.validation.max_inlet_mae_c,
        held_back_hours=held,
        changes=changes,
        seconds=time.perf_counter() - started,
        realised=tally,
        hourly=hourly,
    )


TARGET_PUE = 1.25  # issue 4, a modern hall
TARGET_PUE_LEVERS = 1.20  # issue 16, a modern hall with the plant levers (modern-vs) in Guiyang
TARGET_CAPTURED = 0.98  # issue 16 (issue 4 asked 90 %)


def _targets(r: SiteResult, captured: float, design: str = "") -> str:
    missed = []
    target_pue = TARGET_PUE_LEVERS if (design, r.site) == ("modern-vs", "guiyang") else TARGET_PUE
    if r.agent_pue > target_pue:
        missed.append(f"PUE > {target_pue}" + (" (oracle too)" if r.oracle_pue > target_pue else ""))
    if captured < TARGET_CAPTURED:
        missed.append(f"captured < {100 * TARGET_CAPTURED:g} %")
    if r.agent_minutes_above_limit > 0:
        missed.append("minutes above 27 C")
    return "all met" if not missed else "missed: " + ", ".join(missed)


def main(argv: list[str] | None = None) -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--sites", default="guiyang,chengdu,chongqing")
    parser.add_argument("--days", type=float, default=365.0)
    parser.add_argument("--workers", type=int, default=min(3, os.cpu_count() or 1))
    parser.add_argument(
        "--design",
        default="modern-ups,legacy",
        help="comma-separated halls (twin/design.py DESIGNS): modern-ups, legacy, modern-vs (variable-speed plant, "
        "whose condenser-water and DP setpoints and chiller and tower counts the agent also sets); default the "
        "first two",
    )
    parser.add_argument(
        "--min-savings-fraction",
        type=float,
        default=0.004,
        help="the recommender's least predicted saving for a change, as a fraction of facility power "
        "(the agent's default; damps back-and-forth moves)",
    )
    parser.add_argument(
        "--no-measured-anchor",
        action="store_true",
        help="do not give the recommender the measured facility power (its check of the model's current point, "
        "agent/control/engine.py rule 6): the behaviour before it",
    )
    parser.add_argument("--start-day", type=float, default=0.0, help="day of the year the run starts (short runs)")
    parser.add_argument(
        "--hourly",
        metavar="DIR",
        help="write DESIGN-SITE.csv per row into DIR: hour by hour the agent's, the oracle's and the baseline's IT "
        "and facility power and the setpoints in force (where a row loses the oracle's saving)",
    )
    args = parser.parse_args(argv)
    sites = [s.strip() for s in args.sites.split(",") if s.strip()]
    designs = [d.strip() for d in args.design.split(",") if d.strip()]
    unknown = sorted(set(designs) - set(DESIGNS))
    if unknown or not designs:
        parser.error(f"--design: unknown {', '.join(unknown) or '(none given)'}; known: {', '.join(sorted(DESIGNS))}")
    started = time.perf_counter()
    print(
        f"closed loop, in-process twin (SitePlant.step), {args.days:g} days at {STEP_S / 60:g}-min steps; "
        "baseline/oracle via simulate(); model trained on an exploration year of the same weather; "
        f"min_savings_fraction {args.min_savings_fraction:g}; "
        f"measured anchor {'off' if args.no_measured_anchor else 'on'}"
        + (f"; from day {args.start_day:g}" if args.start_day else "")
    )
    jobs = [(site, design) for design in designs for site in sites]
    with ProcessPoolExecutor(max_workers=args.workers) as pool:
        results = list(
            pool.map(
                run_site,
                [s for s, _ in jobs],
                [args.days] * len(jobs),
                [1] * len(jobs),
                [d for _, d in jobs],
                [args.min_savings_fraction] * len(jobs),
                [not args.no_measured_anchor] * len(jobs),
                [args.start_day] * len(jobs),
            )
        )
    print(
        f"{'design':10s} {'site':10s} {'baseline':>8s} {'base+VFD':>8s} {'oracle':>7s} {'agent':>7s} {'captured':>9s} "
        f"{'min>27C':>8s} {'max inlet':>9s} {'PUE MAE':>8s} {'inlet MAE':>9s} {'held h':>7s} {'changes':>7s} {'s':>5s}"
        f" {REALISED_HEADER}  targets"
    )
    for (_, design), r in zip(jobs, results, strict=True):
        captured = (r.baseline_pue - r.agent_pue) / (r.baseline_pue - r.oracle_pue)
        print(
            f"{design:10s} {r.site:10s} {r.baseline_pue:8.4f} {r.baseline_vfd_pue:8.4f} {r.oracle_pue:7.4f} "
            f"{r.agent_pue:7.4f} {100 * captured:8.1f}% {r.agent_minutes_above_limit:8.0f} {r.agent_max_inlet_c:9.2f} "
            f"{r.pue_mae:8.4f} {r.inlet_mae_c:9.3f} {r.held_back_hours:7d} {r.changes:7d} {r.seconds:5.0f}"
            f" {r.realised.errors() if r.realised else ''}  {_targets(r, captured, design)}"
        )
    print(
        f"targets (issues 4, 16): agent PUE <= {TARGET_PUE} ({TARGET_PUE_LEVERS} on modern-vs in Guiyang), "
        f"captured >= {100 * TARGET_CAPTURED:g} %, "
        "0 minutes above 27 C; a PUE miss where the oracle itself is above the target is the hall's, not the agent's"
    )
    print(
        "captured = (baseline - agent) / (baseline - oracle), annual energy PUE; base+VFD = baseline setpoints "
        "with CRAH fans at 0.3 minimum speed (the agent and the oracle run them so)"
    )
    print(
        "pred err / real err: the sum over the agent's changes of the model's predicted saving / of the realised "
        "saving (models/realised.py, the hour before and after each change) against the twin's true saving (the "
        "same hour stepped at the old setpoints); in 2s: changes whose realised saving is within 2 sigma of the truth"
    )
    if args.hourly:
        os.makedirs(args.hourly, exist_ok=True)
        for (_, design), r in zip(jobs, results, strict=True):
            if r.hourly is not None:
                path = os.path.join(args.hourly, f"{design}-{r.site}.csv")
                np.savetxt(
                    path,
                    np.column_stack(list(r.hourly.values())),
                    delimiter=",",
                    header=",".join(r.hourly),
                    comments="",
                    fmt="%.9g",
                )
                print(f"hourly: {path}")
    print(f"total {time.perf_counter() - started:.0f} s")


if __name__ == "__main__":
    main()
