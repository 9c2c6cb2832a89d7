"""Closed loop over the wire: the agent steers the twin through its real device path, a simulated hour per poll.

One module (over 400 lines): one bench run, from serving the twin and the simulated clock through the
three loops it compares to the table; the pieces only mean something together.

Run: ``.venv/bin/python bench/closed_loop_wire.py [--site guiyang] [--design legacy] [--start-day 90]
[--days 30] [--protocols snmp,bacnet]`` (``--days 7``: 11-12 min per protocol at load 17-24 on 2 cores, the fit of
the 365-day exploration year included; 2-2.5 s per poll cycle).

The same month is run three ways with the same fitted model (fitted once, as ``bench/closed_loop.py`` does, on an
exploration year of the same weather) and the same recommender rules:

1. **in-process**: ``bench/closed_loop.py``'s agent path (the :class:`~agent.control.engine.Recommender` called with
   the outdoor air of the hour being stepped, the previous hour's IT power and the setpoints in force; the
   recommendation applied to :class:`twin.site.SitePlant` as it is);
2. **decomposition** (in-process, to explain the wire's difference rather than tune it away): (a) the outdoor air the
   agent can know, the previous step's, wet bulb from the sensor's RH at its reported pressure, and IT power at the
   UPS outputs (the demo sites' category-1 boundary: PDU losses included); (b) the
   same and every setpoint rounded as the guarded write rounds it (the profiles' steps: supply air 1 K on the
   Liebert CRAHs, chilled water 0.1 K);
3. **over the wire**: the twin served as ``pue-agent demo`` serves it (``twin`` site: all SNMP; ``twin-mixed``:
   the plant controller on BACnet/IP, the meters on Modbus TCP, four servers on Redfish), and the agent's own
   :class:`~agent.app.runtime.Agent` (pollers, readings, site accounting, conditions, cooling controller in
   ``auto`` mode, guarded writes with read-back) polling it and writing setpoints back. Time is a simulated
   clock shared by the twin and the agent (``Agent(clock=...)``, ``TwinLiveSite(clock=..., speed=1)``): each cycle
   the agent polls every device and ticks the site at the top of hour i, its writes finish, then the twin steps
   hour i (conditions at mid-hour, as in-process) with whatever setpoints reached it. ``poll_interval_s`` is set
   to 3600 so that freshness and the PUE window count simulated hours; nothing in ``agent/`` knows about the twin.

Facility energy is the twin's truth (sum of facility power x 1 h) in every variant; the agent's own metered facility
energy (utility + PV meters, energy counters over the wire) is printed beside it as a cross-check.
"""

from __future__ import annotations

import os

os.environ.setdefault("OMP_NUM_THREADS", "1")  # many tiny predictions: threads cost more than they give

import argparse
import asyncio
import json
import logging
import math
import random
import socket
import tempfile
import time
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from closed_loop import FAN_MIN_SPEED, START_EPOCH_S, STEP_S, _exploration, _Run

from agent.app.runtime import Agent
from agent.config.site import RecommenderConfig, SiteConfig, load_config
from agent.control.actuator import plan_setpoint
from agent.control.engine import Conditions, Recommender, Setpoints
from agent.devices.profiles import ProfileRegistry
from models.cooling import CoolingModel, fit_cooling_model
from models.optimiser import SetpointBounds
from models.psychro import wet_bulb_c
from twin import it_load
from twin.demo import DEMO_CONFIGS, _bmc_pki
from twin.design import DESIGNS, INLET_LIMIT_C, ControlBounds, Controls, SiteDesign
from twin.live import TwinLiveSite
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant
from twin.weather import load_site_weather, weather_at

#: the demo site per protocol variant: all SNMP, or the plant controller on BACnet/IP (meters Modbus, servers Redfish)
SITES = {"snmp": "twin", "bacnet": "twin-mixed"}
#: the pressure the twin's outdoor sensor reports (twin/live.py publishes a constant), used for wet bulb as the agent is
SENSOR_PRESSURE_PA = 88_000.0
MIN_SAVINGS_FRACTION = 0.004
MAX_STEP_C = 2.0
MAX_CHANGE_PER_H_C = 4.0


def free_base_port(count: int) -> int:
    """First of ``count`` consecutive loopback ports free for UDP and TCP (random start: other benches and tests run
    beside this one, and a responder bound beside another on the same UDP port silently loses its packets)."""
    rng = random.Random()
    for _ in range(200):
        base = rng.randrange(30000, 60000 - count)
        socks: list[socket.socket] = []
        try:
            for port in range(base, base + count):
                for kind in (socket.SOCK_DGRAM, socket.SOCK_STREAM):
                    s = socket.socket(socket.AF_INET, kind)
                    socks.append(s)
                    s.bind(("127.0.0.1", port))
            return base
        except OSError:
            continue
        finally:
            for s in socks:
                s.close()
    raise RuntimeError("no free range of loopback ports")


class SimClock:
    """A clock the bench sets: the agent's and the twin's ``time.time``."""

    def __init__(self, now_s: float) -> None:
        self.now_s = now_s

    def __call__(self) -> float:
        return self.now_s


class Month:
    """Exogenous inputs of ``days`` from ``start_s`` at hourly steps (mid-hour), plus the hour before the start."""

    def __init__(self, site: str, design: str, start_s: float, days: float) -> None:
        self.site = site
        self.weather = load_site_weather(site)
        self.design_name = design
        self.design: SiteDesign = DESIGNS[design]
        self.bounds = ControlBounds()
        self.start_s = start_s
        self.n = round(days * 86400.0 / STEP_S)
        mid = start_s + (np.arange(-1, self.n, dtype=np.float64) + 0.5) * STEP_S  # index 0: the hour before the start
        self.outdoor = weather_at(self.weather, mid)
        self.utilisation = it_load.rack_utilisation(
            utilisation_at(mid, self.weather.utc_offset_h),
            self.design.rack_trace_index,
            self.design.rack_utilisation_gain,
        )

    def conditions(self, i: int) -> SiteConditions:
        """Hour ``i`` of the month (-1: the hour before it), as bench/closed_loop.py's ``_Run.conditions``."""
        o, k = self.outdoor, i + 1
        return SiteConditions(
            float(o.dry_bulb_c[k]),
            float(o.wet_bulb_c[k]),
            float(o.rh_percent[k]),
            float(o.pressure_pa[k]),
            tuple(self.utilisation[k].tolist()),
        )


def fit_model(site: str, design: str, days: float, seed: int = 1) -> tuple[CoolingModel, float]:
    """The cooling model as bench/closed_loop.py fits it: on an exploration run of ``days`` from 1 January."""
    started = time.perf_counter()
    history = _exploration(_Run(site, days, design), seed)
    model = fit_cooling_model(
        history["inputs"], history["cooling"], history["facility"], history["inlet"], random_state=0
    )
    return model, time.perf_counter() - started


def recommender(model: CoolingModel, month: Month) -> Recommender:
    """bench/closed_loop.py's recommender rules (a fresh one per run: it keeps rate-limit and dwell clocks)."""
    b = month.bounds
    return Recommender(
        model,
        SetpointBounds(b.supply_air_min_c, b.supply_air_max_c, b.chw_supply_min_c, b.chw_supply_max_c),
        inlet_limit_c=INLET_LIMIT_C,
        max_step_c=MAX_STEP_C,
        max_change_per_h_c=MAX_CHANGE_PER_H_C,
        economizer_min_dwell_s=month.design.economizer_min_dwell_s,
        min_savings_fraction=MIN_SAVINGS_FRACTION,
    )


@dataclass(frozen=True)
class LoopResult:
    name: str
    facility_j: float
    it_j: float
    changes: int
    writes: int
    max_inlet_c: float
    hours_above_limit: int
    seconds: float
    metered_facility_j: float | None = None
    #: reverts and failed or blocked writes (a poll lost under load makes the data stale, and the controller reverts)
    not_applied: int = 0
    #: the supply-air / chilled-water setpoints in force, hour by hour (for the comparison's explanation)
    supply_air_c: tuple[float, ...] = ()
    chw_c: tuple[float, ...] = ()
    economizer: tuple[bool, ...] = ()

    @property
    def pue(self) -> float:
        return self.facility_j / self.it_j


@dataclass(frozen=True)
class Steps:
    """How the guarded write rounds each setpoint (from the site's profiles), for the in-process decomposition."""

    cfg: SiteConfig
    profiles: ProfileRegistry

    def round(self, quantity: str, value: float) -> float:
        for dev in self.cfg.devices:
            obj = self.profiles[dev.profile].writable(quantity)
            if obj is not None and dev.writes_setpoints:
                return plan_setpoint(obj, value)[0]
        return value


def in_process(
    model: CoolingModel,
    month: Month,
    name: str,
    *,
    as_measured: bool = False,
    steps: Steps | None = None,
    trace: list[tuple[object, ...]] | None = None,
) -> LoopResult:
    """bench/closed_loop.py's agent path over the month; ``as_measured``: the previous step's outdoor air with wet bulb
    from RH at the sensor's pressure; ``steps``: setpoints rounded as the guarded write rounds them."""
    started = time.perf_counter()
    rec_engine = recommender(model, month)
    plant = SitePlant(month.design, month.bounds)
    current = Setpoints(18.0, 7.0, False)
    last_it_w = _it_before(month, as_measured)
    facility = it = 0.0
    changes = hours_above = 0
    max_inlet = -math.inf
    sa, chw, eco = [], [], []
    for i in range(month.n):
        cond = month.conditions(i)
        seen = month.conditions(i - 1) if as_measured else cond
        wet = (
            float(wet_bulb_c(seen.outdoor_dry_bulb_c, seen.outdoor_rh_percent, SENSOR_PRESSURE_PA))
            if as_measured
            else seen.outdoor_wet_bulb_c
        )
        now_s = month.start_s + i * STEP_S
        rec = rec_engine.recommend(now_s, Conditions(last_it_w, seen.outdoor_dry_bulb_c, wet), current, data_ok=True)
        if trace is not None:
            trace.append((i, last_it_w, seen.outdoor_dry_bulb_c, wet, current, rec.setpoints, rec.held_back_reason))
        target = rec.setpoints
        if steps is not None and rec.changed:
            target = Setpoints(
                steps.round("supply_air_setpoint_c", target.supply_air_setpoint_c),
                steps.round("chw_supply_setpoint_c", target.chw_supply_setpoint_c),
                target.economizer_enabled,
            )
        r = plant.step(
            cond,
            Controls(
                target.supply_air_setpoint_c, target.chw_supply_setpoint_c, target.economizer_enabled, FAN_MIN_SPEED
            ),
            STEP_S,
        )
        applied = Setpoints(
            r.controls.supply_air_setpoint_c, r.controls.chw_supply_setpoint_c, r.controls.economizer_enabled
        )
        if steps is None and rec.changed:  # as bench/closed_loop.py: every change, with the setpoints in force
            changes += 1
            rec_engine.applied(now_s, applied)
        elif steps is not None and rec.changed and applied != current:  # as the controller: what was written
            changes += 1
            rec_engine.applied(now_s, rec.setpoints)
        current = applied
        # as measured: IT at the UPS outputs (the demo sites' topology, category 1), which include the PDUs' losses
        last_it_w = r.it_power_w + r.pdu_loss_w if as_measured else r.it_power_w
        facility += r.facility_power_w * STEP_S
        it += r.it_power_w * STEP_S
        max_inlet = max(max_inlet, r.max_inlet_c)
        hours_above += r.max_inlet_c > INLET_LIMIT_C + 1e-9
        sa.append(applied.supply_air_setpoint_c)
        chw.append(applied.chw_supply_setpoint_c)
        eco.append(applied.economizer_enabled)
    return LoopResult(
        name,
        facility,
        it,
        changes,
        0,
        max_inlet,
        hours_above,
        time.perf_counter() - started,
        supply_air_c=tuple(sa),
        chw_c=tuple(chw),
        economizer=tuple(eco),
    )


def _it_before(month: Month, as_measured: bool = False) -> float:
    """IT power of the hour before the start (what the agent reads at its first poll)."""
    r = SitePlant(month.design, month.bounds).step(
        month.conditions(-1), Controls(18.0, 7.0, False, FAN_MIN_SPEED), STEP_S
    )
    return r.it_power_w + r.pdu_loss_w if as_measured else r.it_power_w


def wire_config(protocol: str, base_port: int, state: Path) -> tuple[SiteConfig, ProfileRegistry]:
    """The demo's site config for ``protocol``, on ``base_port``+i, polled every simulated hour, in auto mode."""
    cfg, profiles = load_config(DEMO_CONFIGS[SITES[protocol]])
    # a generous timeout: time is simulated, so a slow answer on a busy machine costs nothing, a lost one a revert
    devices = tuple(
        d.model_copy(update={"port": base_port + i, "timeout_s": 30.0, "retries": 1}) for i, d in enumerate(cfg.devices)
    )
    rcfg = RecommenderConfig(
        mode="auto",
        action_log=state / "actions.jsonl",
        inlet_limit_c=INLET_LIMIT_C,
        max_step_c=MAX_STEP_C,
        max_change_per_h_c=MAX_CHANGE_PER_H_C,
        min_savings_fraction=MIN_SAVINGS_FRACTION,
    )
    cfg = cfg.model_copy(
        update={"devices": devices, "poll_interval_s": STEP_S, "pue_window_s": STEP_S, "recommender": rcfg}
    )
    return cfg, profiles


async def over_wire(
    model: CoolingModel, month: Month, protocol: str, base_port: int, trace: list[tuple[object, ...]] | None = None
) -> LoopResult:
    """The agent (auto mode) steering the twin over ``protocol``'s demo site for the month; see the module docstring."""
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as tmp:
        state = Path(tmp)
        cfg, profiles = wire_config(protocol, base_port, state)
        cfg, tls = _bmc_pki(cfg, state / "bmc-pki")
        rec_engine = recommender(model, month)
        # economizer dwell as the twin's design (the recommender object carries it; the config's copy is for docs)
        clock = SimClock(month.start_s - 0.5 * STEP_S)
        site = TwinLiveSite(
            cfg,
            profiles,
            weather=month.site,
            speed=1.0,
            start=datetime.fromtimestamp(clock.now_s, UTC),
            design=month.design,
            clock=clock,
            redfish_tls=tls,
        )
        # the state bench/closed_loop.py starts from: the site rules, CRAH fans at 0.3 minimum speed
        site.controls = Controls(18.0, 7.0, False, FAN_MIN_SPEED)
        site.start()
        await site.ready()
        # published once the devices serve (a BACnet object written before its device starts reads 0 at the first
        # poll): a 1 s step at the hour before the start; the plant holds no other state
        site.update()
        agent = Agent(cfg, profiles, clock=clock, recommender=rec_engine)
        assert agent.controller is not None
        facility = it = 0.0
        hours_above = 0
        max_inlet = -math.inf
        sa, chw, eco = [], [], []
        metered_start: float | None = None
        try:
            for i in range(month.n):
                clock.now_s = month.start_s + i * STEP_S
                await agent.poll_all_once()  # reads what the twin published for hour i-1, ticks the site
                await agent.controller.wait_idle()  # the guarded writes of this tick, read back
                if trace is not None:
                    inputs, latest = agent.controller.latest_inputs, agent.controller.latest
                    c = inputs.get("conditions")
                    trace.append(
                        (
                            i,
                            None if c is None else c.it_power_w,
                            None if c is None else c.outdoor_dry_bulb_c,
                            None if c is None else c.outdoor_wet_bulb_c,
                            inputs.get("current"),
                            getattr(latest, "setpoints", None),
                            latest.get("held_back_reason")
                            if isinstance(latest, dict)
                            else getattr(latest, "held_back_reason", None),
                        )
                    )
                if i % 24 == 23:
                    print(f"    day {(i + 1) // 24}: {time.perf_counter() - started:.0f} s", flush=True)
                if i == 0 and agent.state.site is not None:
                    metered_start = agent.state.site.facility_energy_j
                clock.now_s = month.start_s + (i + 0.5) * STEP_S
                truth = site.update()  # hour i with the setpoints that reached the devices
                facility += truth.facility_w * STEP_S
                it += truth.it_w * STEP_S
                max_inlet = max(max_inlet, truth.max_inlet_c)
                hours_above += truth.max_inlet_c > INLET_LIMIT_C + 1e-9
                sa.append(truth.controls.supply_air_setpoint_c)
                chw.append(truth.controls.chw_supply_setpoint_c)
                eco.append(truth.controls.economizer_enabled)
            clock.now_s = month.start_s + month.n * STEP_S
            await agent.poll_all_once()  # the meters' counters at the end of the last hour
            await agent.controller.wait_idle()
            metered = (
                agent.state.site.facility_energy_j - metered_start
                if agent.state.site is not None and metered_start is not None
                else None
            )
        finally:
            await agent.stop()
            site.stop()
        log_path = cfg.recommender.action_log if cfg.recommender is not None else None
        actions = (
            [json.loads(line) for line in log_path.read_text().splitlines()]
            if log_path is not None and log_path.exists()
            else []
        )
    ok = [a for a in actions if a["kind"] == "apply" and a["result"] == "ok"]
    changes = len({a["timestamp_s"] for a in ok})
    not_ok = [a for a in actions if a["result"] != "ok" or a["kind"] != "apply"]
    if not_ok:
        logging.getLogger(__name__).warning(
            "%d actions not plain applies (reverts, errors): %s", len(not_ok), not_ok[:3]
        )
    return LoopResult(
        f"over the wire ({protocol}: demo site {SITES[protocol]})",
        facility,
        it,
        changes,
        len(ok),
        max_inlet,
        hours_above,
        time.perf_counter() - started,
        metered,
        not_applied=len(not_ok),
        supply_air_c=tuple(sa),
        chw_c=tuple(chw),
        economizer=tuple(eco),
    )


def _differences(a: LoopResult, b: LoopResult) -> str:
    """Hours whose setpoints differ between two runs, and by how much on average."""
    sa = np.abs(np.subtract(a.supply_air_c, b.supply_air_c))
    chw = np.abs(np.subtract(a.chw_c, b.chw_c))
    eco = np.not_equal(a.economizer, b.economizer)
    n = len(sa)
    return (
        f"supply air differs {np.count_nonzero(sa > 1e-6)}/{n} h (mean |d| {sa.mean():.2f} K), "
        f"chilled water {np.count_nonzero(chw > 1e-6)}/{n} h (mean |d| {chw.mean():.2f} K), "
        f"economizer {np.count_nonzero(eco)}/{n} h"
    )


def _line(r: LoopResult, ref: LoopResult) -> str:
    diff = 100.0 * (r.facility_j / ref.facility_j - 1.0)
    metered = (
        f"  metered by the agent {r.metered_facility_j / 3.6e9:9.1f} MWh"
        f" ({100.0 * (r.metered_facility_j / r.facility_j - 1.0):+.3f} % of truth)"
        if r.metered_facility_j is not None
        else ""
    )
    return (
        f"{r.name:48s} {r.facility_j / 3.6e9:9.2f} MWh {diff:+7.3f} % PUE {r.pue:.4f} changes {r.changes:4d} "
        f"writes {r.writes:5d} max inlet {r.max_inlet_c:5.2f} C h>27C {r.hours_above_limit:3d} {r.seconds:6.1f} s"
        + metered
        + (f"  {r.not_applied} reverts or failed writes" if r.not_applied else "")
    )


async def _main(args: argparse.Namespace) -> int:
    started = time.perf_counter()
    model, fit_s = fit_model(args.site, args.design, args.fit_days)
    start_s = START_EPOCH_S + args.start_day * 86400.0
    month = Month(args.site, args.design, start_s, args.days)
    print(
        f"closed loop over the wire: {args.site}, {args.design} hall, {args.days:g} days from "
        f"{datetime.fromtimestamp(start_s, UTC):%Y-%m-%d}, {month.n} hourly poll cycles; model fitted in {fit_s:.0f} s "
        f"on {args.fit_days:g} days of exploration (bench/closed_loop.py's); load {os.getloadavg()[0]:.1f}",
        flush=True,
    )
    ref = in_process(model, month, "in-process (bench/closed_loop.py agent path)")
    print(_line(ref, ref), flush=True)
    rounded: LoopResult | None = None
    if args.decomposition:
        steps_cfg, steps_profiles = load_config(DEMO_CONFIGS["twin"])  # the plant's steps are alike on both sites
        measured = in_process(model, month, "  in-process, inputs as the agent measures them", as_measured=True)
        print(_line(measured, ref), flush=True)
        rounded = in_process(
            model,
            month,
            "  ... and setpoints rounded to profile steps",
            as_measured=True,
            steps=Steps(steps_cfg, steps_profiles),
        )
        print(_line(rounded, ref), flush=True)
    worst = 0.0
    for protocol in [p.strip() for p in args.protocols.split(",") if p.strip()]:
        base_port = args.base_port if args.base_port is not None else free_base_port(40)
        wire = await over_wire(model, month, protocol, base_port)
        print(_line(wire, ref), flush=True)
        print(f"    vs in-process: {_differences(wire, ref)}", flush=True)
        if rounded is not None:
            print(f"    vs in-process as measured and rounded: {_differences(wire, rounded)}", flush=True)
        worst = max(worst, abs(wire.facility_j / ref.facility_j - 1.0))
    bound = 0.005
    print(
        f"largest wire vs in-process facility energy difference {100 * worst:.3f} % "
        f"({'within' if worst <= bound else 'OUTSIDE'} the {100 * bound:g} % bound); total "
        f"{time.perf_counter() - started:.0f} s"
    )
    return 0 if worst <= bound else 1


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--site", default="guiyang", help="weather: guiyang, chengdu, chongqing")
    parser.add_argument("--design", default="legacy", choices=sorted(DESIGNS))
    parser.add_argument("--start-day", type=float, default=90.0, help="first day of the month, days after 1 January")
    parser.add_argument("--days", type=float, default=30.0)
    parser.add_argument("--fit-days", type=float, default=365.0, help="exploration history the model is fitted on")
    parser.add_argument("--protocols", default="snmp,bacnet", help="snmp (twin site), bacnet (twin-mixed site)")
    parser.add_argument(
        "--base-port", type=int, default=None, help="first port of the simulated devices (default: a free range)"
    )
    parser.add_argument(
        "--no-decomposition",
        dest="decomposition",
        action="store_false",
        help="skip the two in-process runs that explain the difference (inputs as measured; rounded setpoints)",
    )
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    return asyncio.run(_main(args))


if __name__ == "__main__":
    raise SystemExit(main())


__all__ = ["LoopResult", "Month", "SimClock", "fit_model", "in_process", "over_wire", "recommender"]
