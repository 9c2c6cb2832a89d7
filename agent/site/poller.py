"""Polling devices and keeping the agent's state: snapshots, monotonic counters, site energy.

One in-flight poll per device (the scheduler guarantees it); every poll replaces the device's
immutable :class:`~agent.devices.readings.DeviceSnapshot`. Failures are logged once per change of state,
not once per poll.

One module (over 400 lines): the poller and the site accountant share the agent's state (snapshots, monotonic
counters, site intervals) and its helpers.
"""

from __future__ import annotations

import dataclasses
import logging
import math
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, tzinfo
from zoneinfo import ZoneInfo

from agent.config.site import Remap, SiteConfig, TopologyTerm
from agent.devices.profiles import ProfileRegistry
from agent.devices.quantities import GLOSSARY
from agent.devices.reader import DeviceReader
from agent.devices.readings import DeviceSnapshot, Labels, Reading, Unreadable
from agent.errors import (
    DecodeError,
    DeviceAuthError,
    DeviceError,
    DeviceExceptionError,
    DeviceGatewayError,
    DeviceTimeoutError,
)
from agent.site.energy_span import Baselines, contributor_deltas
from agent.site.tariff import TariffMeter
from models.counters import SUSPECT_EVENTS, CounterEvent, CounterState, advance
from models.pue import BoundarySum, PueResult, energy_pue, live_pue, sum_boundary

__all__ = ["AgentState", "Poller", "SiteAccountant", "SiteState"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]

#: no single meter plausibly measures more than this: a larger counter jump is a glitch [W] (used where the
#: profile gives no ceiling for the counter's power)
_MAX_POWER_W = 1e9

#: the interval PUE is withheld while less than this share of its window has complete data [-]: a window after a
#: long gap (a held counter, a device down) holds a few intervals, where one count of a coarse energy register is
#: a large part of the energy (issue 19: 5 s of a 60 s window gave 1.69 against a true 1.41, marked valid)
MIN_WINDOW_COVERAGE = 0.5


@dataclass
class DeviceEnergy:
    """The agent's monotonic view of one device's energy for one quantity.

    ``suspect_polls`` counts the polls whose energy since the poll before could not be counted exactly: a
    poll with a row of the quantity unreadable, a counter glitch or implausible jump (``partial``), and the
    poll after it (its step spans the bad one: a held counter counts the whole hold there). An interval
    across which it changed is not valid, nor one that starts or ends while the last poll is ``partial``.
    ``problem`` says what went wrong at the last of them.
    """

    total_j: float
    method: str  # "counter" or "integrated"
    last_timestamp_s: float
    suspect_polls: int = 0
    problem: str | None = None
    partial: bool = False


@dataclass(frozen=True, slots=True)
class SiteState:
    """Everything the PUE collector exports, computed at one site tick."""

    timestamp_s: float
    facility_w: BoundarySum
    it_w: BoundarySum
    cooling_w: BoundarySum | None
    live: PueResult
    interval: PueResult
    window_coverage_ratio: float
    facility_energy_j: float
    it_energy_j: float
    cooling_energy_j: float
    energy_methods: tuple[tuple[str, str], ...]
    #: optional boundaries configured (``renewable``, ``reuse`` [J], ``water`` [m3]): totals over the
    #: intervals complete for facility, IT and that boundary
    boundary_totals: tuple[tuple[str, float], ...] = ()
    #: with a ``tariff``: facility energy cost [CNY] by period over the complete intervals, and the period now
    energy_cost_cny: tuple[tuple[str, float], ...] = ()
    tariff_period: str | None = None


@dataclass
class AgentState:
    """Mutable container of immutable snapshots; collectors read it, pollers replace entries."""

    snapshots: dict[str, DeviceSnapshot] = field(default_factory=dict)
    last_success_s: dict[str, float] = field(default_factory=dict)
    counters: dict[tuple[str, str, Labels], CounterState] = field(default_factory=dict)
    counter_events: dict[tuple[str, str], int] = field(default_factory=dict)
    energy: dict[tuple[str, str], DeviceEnergy] = field(default_factory=dict)
    poll_errors: dict[tuple[str, str], int] = field(default_factory=dict)
    polls_skipped: dict[str, int] = field(default_factory=dict)
    site: SiteState | None = None

    def frozen(self) -> AgentState:
        """A copy of the state as it is now, for work off the event loop (the site tick at a large site).

        Dict copies only: the entries are immutable or replaced whole at each poll (snapshots, counter states,
        device energy), and a poll updates its entries without yielding to the loop, so a copy taken in the loop
        never holds half a poll.
        """
        return AgentState(
            dict(self.snapshots),
            dict(self.last_success_s),
            dict(self.counters),
            dict(self.counter_events),
            dict(self.energy),
            dict(self.poll_errors),
            dict(self.polls_skipped),
            self.site,
        )

    def fresh(self, device: str, now_s: float, stale_after_s: float) -> bool:
        last = self.last_success_s.get(device)
        snap = self.snapshots.get(device)
        return last is not None and snap is not None and snap.ok and now_s - last <= stale_after_s


def _error_kind(err: Exception) -> str:
    if isinstance(err, DeviceTimeoutError):
        return "timeout"
    if isinstance(err, DeviceAuthError):
        return "auth"
    if isinstance(err, DecodeError):
        return "decode"
    if isinstance(err, DeviceGatewayError):
        return "gateway"
    if isinstance(err, DeviceExceptionError):
        return "exception"
    return "protocol"


class Poller:
    """Polls one device at a time through its profile and folds the result into :class:`AgentState`."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        reader: DeviceReader,
        state: AgentState,
        clock: Clock = time.time,
    ) -> None:
        self._cfg = cfg
        self._profiles = profiles
        self._reader = reader
        self._state = state
        self._clock = clock
        self._energy_terms = self._collect_energy_terms()
        # (device, energy quantity) -> its counters' keys in state.counters (one per label set), so that a
        # poll sums its own counters without scanning every device's
        self._counter_keys: dict[tuple[str, str], set[tuple[str, str, Labels]]] = {}
        # counters held at their high-water mark (a glitch or implausible jump): logged once per hold
        self._held: set[tuple[str, str, Labels]] = set()

    def _collect_energy_terms(self) -> dict[str, set[tuple[str, str]]]:
        terms: dict[str, set[tuple[str, str]]] = {}
        topo = self._cfg.topology
        for term in topo.all_terms():
            terms.setdefault(term.device, set()).add((term.power_quantity, term.energy_quantity))
        return terms

    async def poll(self, device: str) -> DeviceSnapshot:
        dev = self._cfg.device(device)
        profile = self._profiles[dev.profile]
        started = time.perf_counter()
        now = self._clock()
        try:
            readout = await self._reader.read(dev, profile)
        except DeviceError as err:
            snap = DeviceSnapshot(
                device, now, time.perf_counter() - started, False, error=str(err), error_kind=_error_kind(err)
            )
            self._record_failure(snap)
            return snap
        readings, unreadable = readout.readings, readout.unreadable
        if dev.remap:
            readings, unreadable = _remap(readings, dev.remap), _remap_unreadable(unreadable, dev.remap)
        snap = DeviceSnapshot(
            device, now, time.perf_counter() - started, True, readings, readout.problems, unreadable=unreadable
        )
        self._record_success(snap)
        return snap

    def _record_failure(self, snap: DeviceSnapshot) -> None:
        previous = self._state.snapshots.get(snap.device)
        if previous is None or previous.ok or previous.error_kind != snap.error_kind:
            log.warning("device %s: poll failed (%s): %s", snap.device, snap.error_kind, snap.error)
        key = (snap.device, snap.error_kind or "unknown")
        self._state.poll_errors[key] = self._state.poll_errors.get(key, 0) + 1
        self._state.snapshots[snap.device] = snap

    def _record_success(self, snap: DeviceSnapshot) -> None:
        previous = self._state.snapshots.get(snap.device)
        if previous is not None and not previous.ok:
            log.info("device %s: polling again after %s", snap.device, previous.error_kind)
        if snap.problems and (previous is None or _problem_keys(previous) != _problem_keys(snap)):
            log.warning(
                "device %s: %d object(s) unreadable: %s", snap.device, len(snap.problems), "; ".join(snap.problems[:3])
            )
        last_ok = self._state.last_success_s.get(snap.device)
        prev_snapshot = previous if previous is not None and previous.ok else None
        suspect: dict[str, str] = {}
        for reading in snap.readings:
            if reading.counter_modulus is not None or _is_counter(reading):
                why = self._advance_counter(snap, reading)
                if why is not None:
                    suspect.setdefault(reading.quantity, why)
        self._integrate_energy(snap, prev_snapshot, last_ok, suspect)
        self._state.snapshots[snap.device] = snap
        self._state.last_success_s[snap.device] = snap.timestamp_s

    def _advance_counter(self, snap: DeviceSnapshot, reading: Reading) -> str | None:
        """Fold one counter reading in; returns why its energy since the last poll is not known, if it is not."""
        key = (snap.device, reading.quantity, reading.labels)
        before = self._state.counters.get(key)
        max_rate = reading.counter_max_rate if reading.counter_max_rate is not None else _MAX_POWER_W
        state, event, _delta = advance(
            before,
            reading.value,
            at_s=snap.timestamp_s,
            modulus_j=reading.counter_modulus,
            cap_j=reading.counter_cap,
            max_rate=max_rate,
            resolution_j=reading.counter_resolution,
        )
        self._state.counters[key] = state
        self._counter_keys.setdefault((snap.device, reading.quantity), set()).add(key)
        held = key in self._held
        if event in SUSPECT_EVENTS and before is not None:
            counter = f"{reading.quantity} {dict(reading.labels)}"
            if event is CounterEvent.GLITCH:
                why = (
                    f"{counter}: stepped back from {before.last_value_j:.6g} to {reading.value:.6g}, not to zero: "
                    "a glitch, not counted"
                )
            elif event is CounterEvent.IMPLAUSIBLE:
                why = (
                    f"{counter}: jumped by {reading.value - before.last_value_j:.6g}, more than {max_rate:g}/s "
                    "allows: not counted"
                )
            else:
                why = f"{counter}: held too long, counting again from {reading.value:.6g}"
            if not held or event is CounterEvent.REBASED:
                self._count_event(snap.device, event)
                log.warning("device %s: %s", snap.device, why)
            if event is CounterEvent.REBASED:
                self._held.discard(key)
            else:
                self._held.add(key)
            return why
        if held:
            self._held.discard(key)
            log.info("device %s: %s counter %s counting again", snap.device, reading.quantity, dict(reading.labels))
        if event not in (CounterEvent.FIRST, CounterEvent.INCREASE):
            self._count_event(snap.device, event)
            log.info("device %s: %s counter %s %s", snap.device, reading.quantity, dict(reading.labels), event.value)
        return None

    def _count_event(self, device: str, event: CounterEvent) -> None:
        ev_key = (device, event.value)
        self._state.counter_events[ev_key] = self._state.counter_events.get(ev_key, 0) + 1

    def _integrate_energy(
        self, snap: DeviceSnapshot, previous: DeviceSnapshot | None, last_ok: float | None, suspect: dict[str, str]
    ) -> None:
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        for power_q, energy_q in self._energy_terms.get(snap.device, ()):
            key = (snap.device, energy_q)
            current = self._state.energy.get(key)
            counter_totals = [self._state.counters[k].total_j for k in self._counter_keys.get(key, ())]
            if counter_totals:
                why = suspect.get(energy_q) or snap.problem(energy_q)
                self._state.energy[key] = _energy(current, math.fsum(counter_totals), "counter", snap.timestamp_s, why)
                continue
            # a partial power (a row unreadable) integrates to a wrong energy: nothing is added across it
            why = snap.problem(power_q)
            power_now = None if why else snap.total(power_q)
            power_before = None if previous is None or previous.problem(power_q) else previous.total(power_q)
            if current is None:
                self._state.energy[key] = DeviceEnergy(0.0, "integrated", snap.timestamp_s)
                continue
            dt = snap.timestamp_s - current.last_timestamp_s
            if power_now is not None and power_before is not None and last_ok is not None and 0 < dt <= stale_after:
                added = 0.5 * (power_now + power_before) * dt  # trapezoid [J]
                self._state.energy[key] = _energy(current, current.total_j + added, "integrated", snap.timestamp_s, why)
            elif why is None:  # nothing integrated since a failed or too old poll: lost, so the step is suspect
                lost = f"{power_q}: no energy integrated across a failed or late poll"
                self._state.energy[key] = DeviceEnergy(
                    current.total_j, "integrated", snap.timestamp_s, current.suspect_polls + 1, lost
                )
            else:
                self._state.energy[key] = _energy(current, current.total_j, "integrated", snap.timestamp_s, why)


def _energy(
    current: DeviceEnergy | None, total_j: float, method: str, timestamp_s: float, problem: str | None
) -> DeviceEnergy:
    """The next energy of a device quantity; a ``problem`` now, or at the poll before, makes this poll suspect."""
    if current is None:
        return DeviceEnergy(total_j, method, timestamp_s, int(problem is not None), problem, problem is not None)
    if problem is None and not current.partial:
        return DeviceEnergy(total_j, method, timestamp_s, current.suspect_polls, current.problem)
    return DeviceEnergy(
        total_j, method, timestamp_s, current.suspect_polls + 1, problem or current.problem, problem is not None
    )


def _sum_terms(terms: tuple[TopologyTerm, ...], deltas: dict[str, float | None]) -> float | None:
    """Sum of one boundary's per-device deltas (one device may appear in several terms), None if any is missing."""
    total = 0.0
    for term in terms:
        delta = deltas.get(term.device)
        if delta is None:
            return None
        total += delta
    return total


def _zone(name: str) -> tzinfo:
    return UTC if name == "UTC" else ZoneInfo(name)


def _problem_keys(snap: DeviceSnapshot) -> set[str]:
    """Which objects had problems (the OID or quantity before the first colon), not the values in the text,
    so a value drifting while out of range is logged once, not at every poll."""
    return {p.split(":", 1)[0] for p in snap.problems}


def _remapped(quantity: str, labels: Labels, rules: tuple[Remap, ...]) -> str:
    for rule in rules:
        label_map = dict(labels)
        if quantity == rule.quantity and all(label_map.get(k) == v for k, v in rule.match.items()):
            return rule.to
    return quantity


def _remap(readings: tuple[Reading, ...], rules: tuple[Remap, ...]) -> tuple[Reading, ...]:
    return tuple(dataclasses.replace(r, quantity=_remapped(r.quantity, r.labels, rules)) for r in readings)


def _remap_unreadable(unreadable: tuple[Unreadable, ...], rules: tuple[Remap, ...]) -> tuple[Unreadable, ...]:
    return tuple(dataclasses.replace(u, quantity=_remapped(u.quantity, u.labels, rules)) for u in unreadable)


_COUNTER_QUANTITIES = frozenset(name for name, q in GLOSSARY.items() if q.kind == "counter")


def _is_counter(reading: Reading) -> bool:
    return reading.quantity in _COUNTER_QUANTITIES


@dataclass(frozen=True, slots=True)
class _Interval:
    end_s: float
    duration_s: float
    complete: bool
    facility_j: float
    it_j: float


class SiteAccountant:
    """At each site tick: live PUE from powers, energy deltas per boundary, interval PUE.

    An interval counts toward energy PUE only when every facility and IT contributor was fresh at
    both of its ends; otherwise it is a gap (the window's coverage drops, nothing is summed). The interval
    PUE is withheld while the window's coverage is below ``min_coverage``.
    """

    def __init__(
        self, cfg: SiteConfig, state: AgentState, clock: Clock = time.time, min_coverage: float = MIN_WINDOW_COVERAGE
    ) -> None:
        self._cfg = cfg
        self._min_coverage = min_coverage
        self._state = state
        self._clock = clock
        self._plausible = (cfg.plausible_pue.min, cfg.plausible_pue.max)
        self._last_energy: Baselines = {}
        self._last_tick_s: float | None = None
        self._first_tick_s: float | None = None
        self._window: deque[_Interval] = deque()
        self._totals = {"facility": 0.0, "it": 0.0, "cooling": 0.0}
        self._optional = cfg.topology.optional_boundaries()
        self._optional_totals = {name: 0.0 for name, _terms in self._optional}
        self._optional_last: dict[str, Baselines] = {name: {} for name, _t in self._optional}
        self._tariff = TariffMeter(cfg.tariff, _zone(cfg.site.timezone)) if cfg.tariff is not None else None
        self._methods_seen: set[tuple[str, str]] = set()
        self._methods: tuple[tuple[str, str], ...] = ()

    def _power(self, state: AgentState, terms: tuple[TopologyTerm, ...], now: float, stale_after: float) -> BoundarySum:
        """A boundary's power; a contributor with an unreadable row of its quantity is missing, not summed
        over the rows that decoded."""
        values: dict[str, float | None] = {}
        why: dict[str, str] = {}
        for term in terms:
            snap = state.snapshots.get(term.device)
            fresh = state.fresh(term.device, now, stale_after)
            problem = snap.problem(term.power_quantity) if fresh and snap is not None else None
            if problem is not None:
                why[term.device] = problem
            whole = fresh and snap is not None and problem is None
            values[term.device] = snap.total(term.power_quantity) if whole and snap is not None else None
        return sum_boundary(values, [t.device for t in terms], why)

    def _energy_deltas(
        self,
        state: AgentState,
        terms: tuple[TopologyTerm, ...],
        now: float,
        stale_after: float,
        last: Baselines | None = None,
    ) -> tuple[dict[str, float | None], dict[str, str]]:
        """Each term's energy since the previous tick (:func:`agent.site.energy_span.contributor_deltas`)."""
        interval_s = None if self._last_tick_s is None else now - self._last_tick_s
        return contributor_deltas(
            state, terms, now, stale_after, self._last_energy if last is None else last, interval_s
        )

    def tick(self, view: AgentState | None = None, now: float | None = None) -> SiteState:
        """The site state now, from the agent's state or from ``view`` (:meth:`AgentState.frozen`, taken at
        ``now``: the tick may then run off the event loop while polls go on)."""
        state = self._state if view is None else view
        now = self._clock() if now is None else now
        topo = self._cfg.topology
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        facility_w = self._power(state, topo.facility, now, stale_after)
        it_w = self._power(state, topo.it, now, stale_after)
        cooling_w = self._power(state, topo.cooling, now, stale_after) if topo.cooling else None
        live = live_pue(facility_w, it_w, self._plausible)

        fac_d, fac_why = self._energy_deltas(state, topo.facility, now, stale_after)
        it_d, it_why = self._energy_deltas(state, topo.it, now, stale_after)
        cool_d = self._energy_deltas(state, topo.cooling, now, stale_after)[0] if topo.cooling else {}
        optional_d = {
            name: (terms, self._energy_deltas(state, terms, now, stale_after, self._optional_last[name])[0])
            for name, terms in self._optional
        }
        fac_e = sum_boundary(fac_d, [t.device for t in topo.facility], fac_why)
        it_e = sum_boundary(it_d, [t.device for t in topo.it], it_why)
        if self._last_tick_s is not None and not 0 < now - self._last_tick_s <= stale_after:
            # the wall clock jumped (or the agent stalled): energy deltas no longer match the
            # interval's length, so the interval is a gap and the PUE window starts again
            log.warning(
                "site tick %.0f s after the previous one (clock jump or stall): PUE window restarted",
                now - self._last_tick_s,
            )
            self._window.clear()
            self._first_tick_s = None
            self._last_tick_s = None
        if self._last_tick_s is not None:
            duration = now - self._last_tick_s
            complete = fac_e.complete and it_e.complete
            self._window.append(_Interval(now, duration, complete, fac_e.value or 0.0, it_e.value or 0.0))
            if complete:
                self._totals["facility"] += fac_e.value or 0.0
                self._totals["it"] += it_e.value or 0.0
                if self._tariff is not None:
                    self._tariff.add(now - duration, now, fac_e.value or 0.0)
                cool = sum_boundary(cool_d, [t.device for t in topo.cooling]) if topo.cooling else None
                if cool is not None and cool.complete:
                    self._totals["cooling"] += cool.value or 0.0
                for name, (terms, deltas) in optional_d.items():
                    extra = _sum_terms(terms, deltas)
                    if extra is not None:
                        self._optional_totals[name] += extra
        self._last_tick_s = now
        if self._first_tick_s is None:
            self._first_tick_s = now
        while self._window and self._window[0].end_s <= now - self._cfg.pue_window_s:
            self._window.popleft()
        interval, coverage = self._interval_pue(fac_e, it_e)
        current = {(d, e.method) for (d, _q), e in list(state.energy.items())}
        if current != self._methods_seen:  # sorted only when a device's method changed (10,000 at a large site)
            self._methods_seen, self._methods = current, tuple(sorted(current))
        methods = self._methods
        site = SiteState(
            now,
            facility_w,
            it_w,
            cooling_w,
            live,
            interval,
            coverage,
            self._totals["facility"],
            self._totals["it"],
            self._totals["cooling"],
            methods,
            tuple(self._optional_totals.items()),
            tuple(self._tariff.cost_cny.items()) if self._tariff is not None else (),
            self._tariff.period_at(now) if self._tariff is not None else None,
        )
        state.site = site
        self._state.site = site
        return site

    def _interval_pue(self, fac_now: BoundarySum, it_now: BoundarySum) -> tuple[PueResult, float]:
        total_s = math.fsum(i.duration_s for i in self._window)
        covered = [i for i in self._window if i.complete]
        coverage = math.fsum(i.duration_s for i in covered) / total_s if total_s > 0 else 0.0
        if (
            not self._window
            or self._first_tick_s is None
            or (self._window[-1].end_s - self._first_tick_s < self._cfg.pue_window_s - 1e-6)
        ):
            return PueResult(None, f"warming up: the {self._cfg.pue_window_s:g} s window is not yet full"), coverage
        if not self._window[-1].complete:
            return energy_pue(fac_now, it_now, self._plausible), coverage
        if coverage < self._min_coverage:
            # a fixed reason (it is a label of pue_site_pue_invalid_info): the coverage itself is exported on its own
            return PueResult(
                None,
                f"window coverage below {100 * self._min_coverage:g} %: too little of the "
                f"{self._cfg.pue_window_s:g} s window has complete data",
            ), coverage
        fac = BoundarySum(math.fsum(i.facility_j for i in covered), len(covered), ())
        it = BoundarySum(math.fsum(i.it_j for i in covered), len(covered), ())
        return energy_pue(fac, it, self._plausible), coverage
