"""Fault bench: every fault kind of issue 19 against the twin, a few minutes each, measured against the truth.

For each kind, a fresh twin site (configs/twin-site.yaml, 22 devices served over real SNMP on loopback, clock
at ``--speed``) and a fresh agent with a SQLite history run in one event loop. The fault's victim devices are
reached through a UDP proxy (tests/faults/snmpproxy.py) that garbles, truncates, drops, delays, re-ids,
rewrites or spoofs their answers; proxied devices speak SNMPv2c, as SNMPv3 authPriv answers cannot be
rewritten without the keys. After ``--warmup`` healthy seconds the fault is switched on for ``--minutes``,
and the bench prints per kind:

- ``wrong_min``: wall minutes (started) in which the agent showed a valid but wrong PUE: realtime PUE more than
  ``--tolerance`` (0.5 %) outside the range of the twin's true PUE over the agent's stale limit (the oldest
  reading it may use), or interval PUE more than that from the true energy ratio over the intervals of the PUE
  window the agent itself counted (those across which its facility and IT energy totals advanced; their share of
  the window is checked against the coverage the agent exports), beyond what the meters cannot resolve (one count
  of each facility energy counter per run of counted intervals, one twin tick at each end); ``wrong/valid`` site
  ticks, and the worst relative error beyond that, per figure;
- ``late``: polls of healthy devices (not the fault's victims) that started more than one interval after the
  previous one was due, or took longer than one interval; of ``polls``, and the worst lateness;
- ``lost_iv``: site intervals missing from the SQLite history (expected: one per site tick the agent made, plus
  ticks a stalled loop never made); ``lost_kwh``: facility energy the agent accounted that the history lacks.

The ``none`` kind is the control (no fault). Run: ``.venv/bin/python bench/faults.py --minutes 3``; a smoke run:
``--minutes 0.5 --kinds none,spoofed-source-port``.
"""

from __future__ import annotations

import argparse
import asyncio
import bisect
import collections
import logging
import math
import sqlite3
import sys
import tempfile
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.append(str(ROOT / "tests"))
sys.path.append(str(ROOT / "tests" / "faults"))

from netutil import free_port, on_loopback  # noqa: E402
from snmpproxy import Fault, start_proxy  # noqa: E402

from agent.app.runtime import Agent  # noqa: E402
from agent.config.site import SiteConfig, load_config  # noqa: E402
from agent.devices.profiles import ProfileRegistry  # noqa: E402
from agent.devices.readings import DeviceSnapshot  # noqa: E402
from agent.devices.snmp.wire import WireValue  # noqa: E402
from agent.history import HistoryWriter, SqliteHistoryStore  # noqa: E402
from agent.site.poller import AgentState, SiteState  # noqa: E402
from twin.live import TwinLiveSite  # noqa: E402

V2C_CREDENTIALS = "ro-v2c"
UPS_OUTPUT_POWER = "1.3.6.1.2.1.33.1.4.4.1.4"  # UPS-MIB::upsOutputPower.<line> (W), rfc1628-ups
METER_POWER = "1.3.6.1.4.1.34278.2.1.0"  # JANITZA-MIB::p3 (W), janitza-umg
METER_ENERGY = "1.3.6.1.4.1.34278.5.1.0"  # JANITZA-MIB::wh3 (0.1 kWh), janitza-umg
STEP_BACK_RAW = 3  # 0.3 kWh in wh3's 0.1 kWh
YOUNG_METER_RAW = 1086  # 108.6 kWh (391 MJ), the register the issue's probe stepped back
TWIN_TICK_S = 0.2  # the twin steps its plant and publishes new values this often


@dataclass(frozen=True)
class FaultKind:
    """One fault of the issue: what it does, to which devices (``victims``), or to the history database."""

    name: str
    issue: str  # where the issue names it
    victims: tuple[str, ...] = ()
    fault: Callable[[float], Fault] | None = None  # built from the devices' SNMP timeout x (retries + 1) [s]
    lock_history: bool = False


def _value(new: Callable[[int], int], kind: str | None = None) -> Callable[[WireValue], WireValue]:
    def rewrite(vb: WireValue) -> WireValue:
        name, old_kind, value = vb
        return (name, kind or old_kind, new(int(value)) if isinstance(value, int) else value)

    return rewrite


def _young_register(start_raw: int) -> Callable[[WireValue], WireValue]:
    """A counter register that read ``start_raw`` when first seen and counts on as the device's own: a meter
    installed recently (the twin's meters start at 1 GWh, where taking a step back for a reset would add an
    implausible 1 GWh in one poll and be refused anyway)."""
    offset: list[int] = []

    def shift(v: int) -> int:
        if not offset:
            offset.append(v - start_raw)
        return v - offset[0]

    return _value(shift)


def _no_such_object(vb: WireValue) -> WireValue:
    return (vb[0], "no_such_object", None)


KINDS: dict[str, FaultKind] = {
    k.name: k
    for k in (
        FaultKind("none", "control: no fault"),
        FaultKind("garbled-ber", "good news: garbage BER", ("ups-b",), lambda _w: Fault("garble")),
        FaultKind("truncated", "good news: truncated BER", ("ups-b",), lambda _w: Fault("truncate")),
        FaultKind("wrong-request-id", "good news: wrong request ids", ("ups-b",), lambda _w: Fault("wrong_request_id")),
        FaultKind("no-reply", "good news: no reply", ("ups-b",), lambda _w: Fault("drop")),
        FaultKind(
            "delayed",
            "delayed replies beyond the timeout",
            ("ups-b",),
            lambda wait_s: Fault("delay", delay_s=wait_s + 0.5),
        ),
        FaultKind(
            "no-such-object-row",
            "good news: noSuchObject (one UPS output row)",
            ("ups-b",),
            lambda _w: Fault("rewrite", {f"{UPS_OUTPUT_POWER}.3": _no_such_object}),
        ),
        FaultKind(
            "ups-row-minus-1",
            "defect 1: one UPS output line reads -1",
            ("ups-a",),
            lambda _w: Fault("rewrite", {f"{UPS_OUTPUT_POWER}.2": _value(lambda _v: -1)}),
        ),
        # on the PV meter (in facility): the utility meter counts 0.3 kWh in about a second, hiding the step
        FaultKind(
            "counter-step-back",
            "defect 2: energy counter 0.3 kWh back",
            ("meter-pv",),
            lambda _w: Fault(
                "rewrite",
                {METER_ENERGY: _value(lambda v: v - STEP_BACK_RAW)},
                always={METER_ENERGY: _young_register(YOUNG_METER_RAW)},
            ),
        ),
        FaultKind(
            "power-2147483647",
            "defect 3: a power reading of 2^31-1 W",
            ("meter-main",),
            lambda _w: Fault("rewrite", {METER_POWER: _value(lambda _v: 2147483647)}),
        ),
        FaultKind(
            "spoofed-source-port",
            "defect 10: spoofed answers from another port",
            ("ups-a",),
            lambda _w: Fault(
                "spoof",
                {f"{UPS_OUTPUT_POWER}.{line}": _value(lambda v: v * 5 // 4) for line in (1, 2, 3)},
                delay_s=0.05,
            ),
        ),
        FaultKind("history-locked", "defect 5: history database held by a concurrent writer", lock_history=True),
    )
}


@dataclass
class Truth:
    """The twin's truth sampled over time: (wall time, facility W, IT (UPS output) W)."""

    t: list[float] = field(default_factory=list)
    facility_w: list[float] = field(default_factory=list)
    it_w: list[float] = field(default_factory=list)

    def add(self, t: float, facility_w: float, it_w: float) -> None:
        self.t.append(t)
        self.facility_w.append(facility_w)
        self.it_w.append(it_w)

    def _span(self, t0: float, t1: float) -> range:
        return range(max(0, bisect.bisect_left(self.t, t0) - 1), bisect.bisect_right(self.t, t1))

    def pue_range(self, t0: float, t1: float) -> tuple[float, float] | None:
        values = [self.facility_w[i] / self.it_w[i] for i in self._span(t0, t1) if self.it_w[i] > 0]
        return (min(values), max(values)) if values else None

    def energy(self, t0: float, t1: float) -> tuple[float, float] | None:
        """Facility and IT energy between t0 and t1 [J] (step-wise: each sample holds until the next)."""
        idx = list(self._span(t0, t1))
        fac = it = 0.0
        for n, i in enumerate(idx):
            start = max(self.t[i], t0)
            end = min(self.t[idx[n + 1]] if n + 1 < len(idx) else t1, t1)
            if end > start:
                fac += self.facility_w[i] * (end - start)
                it += self.it_w[i] * (end - start)
        return (fac, it) if it > 0 and fac > 0 else None


@dataclass
class Result:
    kind: str
    valid_ticks: int = 0
    wrong_ticks: int = 0
    wrong_minutes: set[int] = field(default_factory=set)
    worst_realtime: float = 0.0
    worst_interval: float = 0.0
    examples: dict[str, str] = field(default_factory=dict)
    polls: int = 0
    late_polls: int = 0
    worst_late_s: float = 0.0
    site_ticks: int = 0
    lost_intervals: int = 0
    lost_kwh: float = 0.0
    invalid_reasons: set[str] = field(default_factory=set)
    #: ticks at which the window of counted intervals seen here did not match the agent's exported coverage
    coverage_mismatches: int = 0
    note: str = ""


class Meter:
    """An AgentObserver comparing what the agent shows with the twin's truth, and timing healthy polls."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        site: TwinLiveSite,
        truth: Truth,
        victims: tuple[str, ...],
        tolerance: float,
        result: Result,
        tick_s: float,
    ) -> None:
        self.interval_s = cfg.poll_interval_s
        self.stale_after_s = cfg.poll_interval_s * cfg.stale_after_intervals
        self.tick_s = tick_s
        self.counter_resolution_j = sum(
            obj.scale
            for term in cfg.topology.facility
            for obj in profiles[cfg.device(term.device).profile].objects
            if obj.quantity == term.energy_quantity
        )
        self.window_s = cfg.pue_window_s
        self.site = site
        self.truth = truth
        self.victims = set(victims)
        self.tolerance = tolerance
        self.result = result
        self.measuring_since: float | None = None
        self.last_start: dict[str, float] = {}
        self.first_state: SiteState | None = None
        #: the agent's recent site intervals as this meter sees them: (end, duration, counted by the agent)
        self.intervals: collections.deque[tuple[float, float, bool]] = collections.deque()
        self.previous_tick: tuple[float, float, float] | None = None  # (time, facility J, IT J) at the last tick
        self.last_state: SiteState | None = None

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        previous = self.last_start.get(snapshot.device)
        self.last_start[snapshot.device] = snapshot.timestamp_s
        if self.measuring_since is None or snapshot.device in self.victims or previous is None:
            return
        lateness = snapshot.timestamp_s - previous - self.interval_s
        self.result.polls += 1
        self.result.worst_late_s = max(self.result.worst_late_s, lateness, snapshot.duration_s - self.interval_s)
        if lateness > self.interval_s or snapshot.duration_s > self.interval_s:
            self.result.late_polls += 1

    def _truth_over_complete_intervals(self) -> tuple[float, float] | None:
        """The twin's facility and IT energy over the intervals of the window the agent counted [J]."""
        parts = [self.truth.energy(end - d, end) for end, d, complete in self.intervals if complete]
        known = [p for p in parts if p is not None]
        if not known:
            return None
        return math.fsum(f for f, _ in known), math.fsum(i for _, i in known)

    def on_site(self, site: SiteState, state: AgentState) -> None:
        now = site.timestamp_s
        self.truth.add(time.time(), self.site.truth.facility_w, self.site.truth.ups_output_w)
        # the agent's interval PUE sums the intervals it counted complete (facility and IT energy known across
        # them: a held counter or a partial read makes a gap while every power is there), and only those advance
        # its energy totals
        if self.previous_tick is not None:
            last_s, last_facility_j, last_it_j = self.previous_tick
            counted = site.facility_energy_j != last_facility_j or site.it_energy_j != last_it_j
            self.intervals.append((now, now - last_s, counted))
        self.previous_tick = (now, site.facility_energy_j, site.it_energy_j)
        while self.intervals and self.intervals[0][0] <= now - self.window_s:
            self.intervals.popleft()
        if self.measuring_since is None:
            return
        r = self.result
        window_s = sum(d for _end, d, _counted in self.intervals)
        seen = sum(d for _end, d, counted in self.intervals if counted) / window_s if window_s > 0 else 0.0
        if site.interval.valid and abs(seen - site.window_coverage_ratio) > 1e-6:
            r.coverage_mismatches += 1
        r.site_ticks += 1
        if self.first_state is None:
            self.first_state = site
        self.last_state = site
        wrong: list[str] = []
        checks = 0
        if site.live.valid and site.live.value is not None:
            checks += 1
            # the agent may use a reading as old as its stale limit: the truth over that span, and one twin tick
            span = self.truth.pue_range(now - self.stale_after_s - self.tick_s, now)
            if span is not None:
                low, high = span
                err = max(low / site.live.value - 1, site.live.value / high - 1, 0.0)
                if err > self.tolerance:
                    wrong.append("realtime")
                if err > r.worst_realtime:
                    r.worst_realtime = err
                    r.examples["realtime"] = f"realtime {site.live.value:.4f} vs true {low:.4f}-{high:.4f}"
        elif site.live.reason:
            r.invalid_reasons.add(site.live.reason.split(":")[0][:60])
        if site.interval.valid and site.interval.value is not None:
            checks += 1
            # the agent's interval PUE is over the intervals of its window it counted: the truth over the same ones
            energy = self._truth_over_complete_intervals()
            covered_s = sum(d for _end, d, complete in self.intervals if complete)
            runs = sum(
                1
                for i, (_e, _d, complete) in enumerate(self.intervals)
                if complete and (i == 0 or not self.intervals[i - 1][2])
            )
            if energy is not None and covered_s > 0:
                facility_j, it_j = energy
                true_ratio = facility_j / it_j
                # what the meters themselves cannot resolve: each run of counted intervals in the window can be
                # one count of each facility energy counter off, and the twin publishes its counters every tick_s:
                # facility and IT energy can each be up to one tick off at either end of a run (4 ticks in the ratio)
                allowance = max(runs, 1) * (self.counter_resolution_j / facility_j + 4 * self.tick_s / covered_s)
                err = max(0.0, abs(site.interval.value / true_ratio - 1) - allowance)
                if err > self.tolerance:
                    wrong.append("interval")
                if err > r.worst_interval:
                    r.worst_interval = err
                    r.examples["interval"] = (
                        f"interval {site.interval.value:.4f} vs true {true_ratio:.4f} "
                        f"± {100 * allowance:.1f} % meter resolution"
                    )
        if checks:
            r.valid_ticks += 1
        if wrong:
            r.wrong_ticks += 1
            r.wrong_minutes.add(int((now - self.measuring_since) // 60))


def _hold_exclusive(path: Path, hold_s: float, started: threading.Event) -> None:
    """A concurrent writer: BEGIN EXCLUSIVE on the history database for ``hold_s``."""
    con = sqlite3.connect(path, timeout=60.0, isolation_level=None)
    try:
        con.execute("BEGIN EXCLUSIVE")
        started.set()
        time.sleep(hold_s)
        con.execute("ROLLBACK")
    finally:
        started.set()
        con.close()


def _device_config(cfg: SiteConfig, victims: tuple[str, ...], ports: dict[str, int] | None = None) -> SiteConfig:
    """``cfg`` with the victims on SNMPv2c (and at the proxies' ports when given)."""
    devices = []
    for dev in cfg.devices:
        if dev.name in victims:
            update: dict[str, object] = {"credentials": V2C_CREDENTIALS}
            if ports is not None:
                update["port"] = ports[dev.name]
            dev = dev.model_copy(update=update)
        devices.append(dev)
    return cfg.model_copy(update={"devices": tuple(devices)})


def _lost(history: Path, since_s: float, until_s: float, interval_s: float, meter: Meter, result: Result) -> None:
    with sqlite3.connect(f"file:{history}?mode=ro", uri=True) as con:
        rows = con.execute(
            "SELECT start_s, duration_s, facility_j FROM site_interval WHERE start_s >= ? AND "
            "start_s < ? ORDER BY start_s",
            (since_s, until_s),
        ).fetchall()
    first, last = meter.first_state, meter.last_state
    if first is None or last is None:
        result.lost_intervals = max(0, round((until_s - since_s) / interval_s))
        return
    # one interval per tick after the first measured one, and one per interval a stalled loop never ticked
    expected = max(result.site_ticks - 1, round((last.timestamp_s - first.timestamp_s) / interval_s))
    stored = [row for row in rows if first.timestamp_s <= row[0] < last.timestamp_s]
    result.lost_intervals = max(0, expected - len(stored))
    accounted_j = last.facility_energy_j - first.facility_energy_j
    result.lost_kwh = (accounted_j - sum(row[2] for row in stored)) / 3.6e6


async def run_kind(
    kind: FaultKind,
    cfg0: SiteConfig,
    profiles: ProfileRegistry,
    minutes: float,
    warmup_s: float,
    speed: float,
    tolerance: float,
) -> Result:
    result = Result(kind.name)
    cfg = _device_config(cfg0, kind.victims)
    site = TwinLiveSite(cfg, profiles, speed=speed)
    truth = Truth()
    async with site.serving(tick_s=TWIN_TICK_S):
        proxies = []
        ports: dict[str, int] = {}
        for dev in cfg.devices:
            if dev.name in kind.victims and kind.fault is not None:
                proxy, ports[dev.name] = await start_proxy(
                    ("127.0.0.1", dev.port), kind.fault(dev.timeout_s * (dev.retries + 1))
                )
                proxies.append(proxy)
        agent_cfg = _device_config(cfg, kind.victims, ports) if ports else cfg
        history = Path(tempfile.mkdtemp(prefix="pue-faults-")) / "history.sqlite"
        writer = HistoryWriter(SqliteHistoryStore(history), agent_cfg)
        meter = Meter(agent_cfg, profiles, site, truth, kind.victims, tolerance, result, TWIN_TICK_S)
        agent = Agent(agent_cfg, profiles, observers=[writer, meter])
        sampler_stop = asyncio.Event()

        async def sample_truth() -> None:  # the truth between site ticks too (a stalled loop shows as a gap)
            while not sampler_stop.is_set():
                truth.add(time.time(), site.truth.facility_w, site.truth.ups_output_w)
                try:
                    await asyncio.wait_for(sampler_stop.wait(), 0.2)
                except TimeoutError:
                    pass

        sampler = asyncio.create_task(sample_truth())
        locker: threading.Thread | None = None
        agent.start_scheduler()
        try:
            await asyncio.sleep(warmup_s)
            since = time.time()
            meter.measuring_since = since
            for proxy in proxies:
                proxy.fault.active = True
            if kind.lock_history:
                hold_s = min(60.0, 0.8 * minutes * 60)
                started = threading.Event()
                locker = threading.Thread(target=_hold_exclusive, args=(history, hold_s, started), daemon=True)
                locker.start()
                await asyncio.to_thread(started.wait, 10.0)
                result.note = f"held {hold_s:.0f} s"
            await asyncio.sleep(minutes * 60)
            until = time.time()
        finally:
            await agent.stop()
            writer.close()
            sampler_stop.set()
            await sampler
            for proxy in proxies:
                proxy.close()
            if locker is not None:
                await asyncio.to_thread(locker.join, 120.0)
        tampered = sum(p.tampered for p in proxies)
        if proxies:
            result.note = f"{tampered} answers tampered"
        foreign = getattr(agent.client, "foreign_answers", None)
        if kind.name == "spoofed-source-port" and foreign is not None:
            result.note += f", {foreign} foreign dropped"
    _lost(history, since, until, agent_cfg.poll_interval_s, meter, result)
    if result.coverage_mismatches:
        result.note += f"; {result.coverage_mismatches} ticks' window coverage not the agent's"
    return result


def print_table(results: list[Result]) -> None:
    header = (
        f"{'kind':<21} {'wrong_min':>9} {'wrong/valid':>11} {'worst_rt':>9} {'worst_iv':>9} {'late':>5} "
        f"{'polls':>6} {'worst_late_s':>12} {'lost_iv':>7} {'lost_kwh':>8}  note; worst examples"
    )
    print(header)
    print("-" * len(header))
    for r in results:
        detail = "; ".join(
            [
                r.note,
                *(
                    r.examples[k]
                    for k in ("realtime", "interval")
                    if k in r.examples and max(r.worst_realtime if k == "realtime" else r.worst_interval, 0) > 0.005
                ),
            ]
        )
        print(
            f"{r.kind:<21} {len(r.wrong_minutes):>9} {f'{r.wrong_ticks}/{r.valid_ticks}':>11} "
            f"{_pct(r.worst_realtime):>9} {_pct(r.worst_interval):>9} {r.late_polls:>5} {r.polls:>6} "
            f"{r.worst_late_s:>12.2f} {r.lost_intervals:>7} {r.lost_kwh:>8.3f}  {detail.strip('; ')}",
            flush=True,
        )


def _pct(x: float) -> str:
    return f"{100 * x:.2f}%" if x < 100 else f"{x:.3g}x"


async def bench(
    kinds: list[str],
    minutes: float,
    speed: float,
    interval_s: float,
    timeout_s: float,
    window_s: float,
    warmup_s: float,
    tolerance: float,
) -> list[Result]:
    cfg0, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    results = []
    for name in kinds:
        cfg = on_loopback(cfg0, interval_s=interval_s, timeout_s=timeout_s, retries=1, pue_window_s=window_s)
        cfg = cfg.model_copy(update={"listen": cfg.listen.model_copy(update={"port": free_port()})})
        started = time.perf_counter()
        try:
            result = await run_kind(KINDS[name], cfg, profiles, minutes, warmup_s, speed, tolerance)
        except Exception as err:  # one kind's breakdown is reported in its row; the other kinds still run
            logging.getLogger("bench.faults").exception("fault kind %s: the bench itself failed", name)
            result = Result(name, note=f"BENCH FAILED: {type(err).__name__}: {err}")
        results.append(result)
        print(f"faults: {name}: {time.perf_counter() - started:.0f} s wall", file=sys.stderr, flush=True)
    return results


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--minutes", type=float, default=3.0, help="fault duration per kind [wall minutes]")
    parser.add_argument("--kinds", default="all", help=f"comma-separated, or all: {','.join(KINDS)}")
    parser.add_argument("--speed", type=float, default=60.0, help="twin's simulated seconds per wall second")
    parser.add_argument("--interval", type=float, default=1.0, help="poll interval [s]")
    parser.add_argument("--timeout", type=float, default=1.0, help="SNMP timeout per attempt [s] (1 retry)")
    parser.add_argument("--window", type=float, default=60.0, help="interval-PUE window [s]")
    parser.add_argument(
        "--warmup",
        type=float,
        default=None,
        help="healthy seconds before the fault "
        "(default: the window + 5 s, so interval PUE is valid when the fault starts)",
    )
    parser.add_argument("--tolerance", type=float, default=0.005, help="relative error counted as wrong")
    args = parser.parse_args(argv)
    kinds = list(KINDS) if args.kinds == "all" else [k.strip() for k in args.kinds.split(",") if k.strip()]
    unknown = [k for k in kinds if k not in KINDS]
    if unknown or not kinds or not math.isfinite(args.minutes) or args.minutes <= 0:
        what = f"unknown fault kind(s) {', '.join(unknown)}" if unknown else "nothing to run"
        if not math.isfinite(args.minutes) or args.minutes <= 0:
            what = f"--minutes must be a positive number, not {args.minutes}"
        print(f"bench/faults.py: {what}; kinds: {', '.join(KINDS)}", file=sys.stderr)
        return 2
    logging.basicConfig(level=logging.ERROR, format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    logging.getLogger("apscheduler").setLevel(logging.CRITICAL)  # polls cancelled at each kind's stop
    warmup_s = args.window + 5.0 if args.warmup is None else args.warmup
    print(
        f"fault bench: twin site (22 devices), poll every {args.interval:g} s, SNMP timeout {args.timeout:g} s "
        f"x 2 attempts, speed x{args.speed:g}, PUE window {args.window:g} s, warm-up {warmup_s:g} s, "
        f"{args.minutes:g} min per kind; wrong = more than {100 * args.tolerance:g} % from the twin's truth; "
        f"proxied devices speak SNMPv2c (SNMPv3 authPriv answers cannot be rewritten without the keys)",
        flush=True,
    )
    started = time.perf_counter()
    results = asyncio.run(
        bench(kinds, args.minutes, args.speed, args.interval, args.timeout, args.window, warmup_s, args.tolerance)
    )
    print_table(results)
    print(f"wall time {time.perf_counter() - started:.0f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
