"""The history writer: an :class:`~agent.runtime.AgentObserver` that records polls and site ticks.

Each poll and each site tick is one small transaction. A disk problem never reaches the agent loop:
it is logged once (and once more when writing works again), the failed poll or interval is simply
missing from the history (a gap, never a wrong number), and polling goes on.

Energy stays monotonic across agent restarts: the first time a device quantity is seen after a
start, the writer continues from the last stored total. When the device's own counter kept counting
while the agent was down, that energy is kept; otherwise (an integrated total, or a counter that
reset meanwhile) nothing is counted for the downtime, which the site intervals show as a gap.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Iterable

import psychrolib

from agent.config import SiteConfig, Topology, TopologyTerm
from agent.errors import HistoryError
from agent.history.store import DeviceEnergyRow, HistoryStore, ReadingRow, SiteInterval
from agent.poller import AgentState, SiteState
from agent.readings import DeviceSnapshot

__all__ = ["HistoryWriter"]

log = logging.getLogger(__name__)
psychrolib.SetUnitSystem(psychrolib.SI)
_STANDARD_PRESSURE_PA = 101_325.0

#: a device cannot plausibly have drawn more than this while the agent was down [W]
_MAX_POWER_W = 50e6

#: condition columns of the site interval and the glossary quantities they are taken from
_CONDITION_SOURCES = {
    "outdoor_dry_bulb_c": "outdoor_temp_c",
    "supply_air_setpoint_c": "supply_air_setpoint_c",
    "chw_supply_setpoint_c": "chw_supply_setpoint_c",
    "economizer_enabled": "economizer_enabled",
    "_outdoor_rh_ratio": "relative_humidity_ratio",
    "_outdoor_pressure_pa": "air_pressure_pa",
}
#: humidity and pressure count as outdoor only from environment sensors that also read outdoor air
_OUTDOOR_ONLY = {"relative_humidity_ratio", "air_pressure_pa"}


class HistoryWriter:
    """Writes what the agent produces into a :class:`HistoryStore`.

    Parameters
    ----------
    store : where to write
    cfg : the site config (topology, stale threshold, ``history.raw_retention_days``)
    purge_every_s : how often raw rows older than the retention are deleted [s]

    Attributes
    ----------
    write_errors : number of writes that failed (exported by the agent-health collector if wired)
    healthy : False while writes are failing
    """

    def __init__(self, store: HistoryStore, cfg: SiteConfig, *, purge_every_s: float = 3600.0) -> None:
        self.store = store
        self._cfg = cfg
        retention_days = cfg.history.raw_retention_days if cfg.history is not None else 35.0
        self._retention_s = retention_days * 86400.0
        self._purge_every_s = purge_every_s
        self._last_purge_s: float | None = None
        self._offsets: dict[tuple[str, str], float] = {}
        self._last_stored: dict[tuple[str, str], float] = {}
        self._previous: dict[str, dict[str, _Energy | None]] | None = None
        self._previous_tick_s: float | None = None
        self.write_errors = 0
        self.healthy = True
        # the energy quantities the poller keeps per device (its topology terms): a poll looks up its own
        # instead of scanning every device's
        energy_quantities: dict[str, set[str]] = {}
        topo = cfg.topology
        for term in topo.all_terms():
            energy_quantities.setdefault(term.device, set()).add(term.energy_quantity)
        self._energy_quantities = {d: tuple(sorted(q)) for d, q in energy_quantities.items()}

    # --- AgentObserver -----------------------------------------------------------------------
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        self._guarded(f"poll of {snapshot.device}", lambda: self._write_snapshot(snapshot, state))

    def on_site(self, site: SiteState, state: AgentState) -> None:
        interval = self._next_interval(site, state)
        if interval is not None:
            self._guarded("site interval", lambda: self.store.record_site_interval(interval))
        if self._last_purge_s is None:
            self._last_purge_s = site.timestamp_s
        elif site.timestamp_s - self._last_purge_s >= self._purge_every_s:
            self._last_purge_s = site.timestamp_s
            self._guarded("purge", lambda: self._purge(site.timestamp_s - self._retention_s))

    # --- internals ---------------------------------------------------------------------------
    def _guarded(self, what: str, write: Callable[[], object]) -> None:
        try:
            write()
        except HistoryError as err:
            self.write_errors += 1
            if self.healthy:
                log.error(
                    "history: cannot record %s, polling goes on without history until it works: %s", what, err
                )
            self.healthy = False
            return
        if not self.healthy:
            log.info("history: writing again after %d failed write(s)", self.write_errors)
            self.healthy = True

    def _purge(self, before_s: float) -> None:
        deleted = self.store.purge_raw(before_s)
        if deleted:
            log.debug("history: purged %d raw rows", deleted)

    def _write_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        readings = [
            ReadingRow(snapshot.device, r.quantity, _labels(r.labels), snapshot.timestamp_s, r.value)
            for r in snapshot.readings
        ]
        energy = []
        device = snapshot.device
        for quantity in self._energy_quantities.get(device, ()):
            total = state.energy.get((device, quantity))
            if total is None or total.last_timestamp_s != snapshot.timestamp_s:
                continue
            stored = self._monotonic(device, quantity, total.total_j, total.method, snapshot.timestamp_s)
            energy.append(
                DeviceEnergyRow(device, quantity, snapshot.timestamp_s, stored, total.total_j, total.method)
            )
        self.store.record_poll(
            snapshot.device,
            snapshot.timestamp_s,
            snapshot.ok,
            snapshot.duration_s,
            snapshot.error_kind,
            readings,
            energy,
        )
        for row in energy:
            self._last_stored[(row.device, row.quantity)] = row.total_j

    def _monotonic(
        self, device: str, quantity: str, agent_total_j: float, method: str, now_s: float
    ) -> float:
        key = (device, quantity)
        if key not in self._offsets:
            last = self.store.last_device_energy(device, quantity)
            if last is None:
                self._offsets[key] = 0.0
            else:
                kept_counting = (
                    method == "counter"
                    and last.method == "counter"
                    and agent_total_j >= last.agent_total_j
                    and agent_total_j - last.agent_total_j
                    <= _MAX_POWER_W * max(now_s - last.timestamp_s, 1.0)
                )
                self._offsets[key] = last.total_j - (last.agent_total_j if kept_counting else agent_total_j)
                self._last_stored[key] = last.total_j
        stored = agent_total_j + self._offsets[key]
        previous = self._last_stored.get(key)
        if previous is not None and stored < previous:
            # the agent's own total went down (a counter re-seen from scratch): never store a decrease
            self._offsets[key] += previous - stored
            stored = previous
        return stored

    def _boundary(
        self, terms: Iterable[TopologyTerm], state: AgentState, now_s: float
    ) -> dict[str, _Energy | None]:
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        out: dict[str, _Energy | None] = {}
        for term in terms:
            energy = state.energy.get((term.device, term.energy_quantity))
            fresh = state.fresh(term.device, now_s, stale_after)
            out[f"{term.device}\0{term.energy_quantity}"] = (
                (energy.total_j, energy.suspect_polls) if energy is not None and fresh and not energy.partial else None
            )
        return out

    def _next_interval(self, site: SiteState, state: AgentState) -> SiteInterval | None:
        topo = self._cfg.topology
        now = site.timestamp_s
        current = {name: self._boundary(terms, state, now) for name, terms in _boundaries(topo)}
        previous, previous_s = self._previous, self._previous_tick_s
        self._previous, self._previous_tick_s = current, now
        if previous is None or previous_s is None or now <= previous_s:
            return None
        duration = now - previous_s
        deltas = {name: _delta(previous[name], current[name]) for name in current}
        complete = deltas["facility"] is not None and deltas["it"] is not None
        cooling_ok = complete and bool(topo.cooling) and deltas["cooling"] is not None
        methods = sorted(
            {
                state.energy[(t.device, t.energy_quantity)].method
                for t in (*topo.facility, *topo.it)
                if (t.device, t.energy_quantity) in state.energy
            }
        )
        terms: dict[str, tuple[float, float]] = {}
        for name, _terms in topo.optional_boundaries():
            ok = complete and deltas[name] is not None
            terms[_RATIO_TERMS[name]] = (duration, deltas[name] or 0.0) if ok else (0.0, 0.0)
        for zone in topo.zones:
            it_d, overhead_d = deltas[f"zone:{zone}:it"], deltas[f"zone:{zone}:overhead"]
            ok = it_d is not None and overhead_d is not None
            terms[f"zone:{zone}:it_j"] = (duration, it_d or 0.0) if ok else (0.0, 0.0)
            terms[f"zone:{zone}:overhead_j"] = (duration, overhead_d or 0.0) if ok else (0.0, 0.0)
        conditions, max_inlet = _conditions(
            state, now, self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        )
        return SiteInterval(
            start_s=previous_s,
            duration_s=duration,
            covered_s=duration if complete else 0.0,
            facility_j=(deltas["facility"] or 0.0) if complete else 0.0,
            it_j=(deltas["it"] or 0.0) if complete else 0.0,
            cooling_covered_s=duration if cooling_ok else 0.0,
            cooling_j=(deltas["cooling"] or 0.0) if cooling_ok else 0.0,
            method="+".join(methods) or "integrated",
            it_category=topo.it_category,
            source="agent",
            conditions=conditions,
            max_inlet_c=max_inlet,
            terms=terms,
        )

    def close(self) -> None:
        self._guarded("close", self.store.close)


#: optional boundaries measured against the facility/IT covered time, and their stored term names
_RATIO_TERMS = {"distribution": "distribution_j", "renewable": "renewable_j", "reuse": "reused_heat_j",
                "water": "water_m3"}


def _boundaries(topo: Topology) -> list[tuple[str, tuple[TopologyTerm, ...]]]:
    """Every boundary of the topology by name: facility, it, cooling, the ratio terms, each zone's two."""
    out: list[tuple[str, tuple[TopologyTerm, ...]]] = [
        ("facility", topo.facility), ("it", topo.it), ("cooling", topo.cooling), *topo.optional_boundaries()]
    for zone, spec in topo.zones.items():
        out += [(f"zone:{zone}:it", spec.it), (f"zone:{zone}:overhead", spec.overhead)]
    return out


#: a term's energy total [J or m3] and the number of suspect polls behind it (``DeviceEnergy.suspect_polls``)
_Energy = tuple[float, int]


def _delta(before: dict[str, _Energy | None], now: dict[str, _Energy | None]) -> float | None:
    """Sum of per-term increases, or None if any term is missing at either end, went down, or had a suspect
    poll in between (a partial read or a counter glitch: its energy over the interval is not known)."""
    total = 0.0
    for key, value in now.items():
        old = before.get(key)
        if value is None or old is None or value[0] < old[0] or value[1] != old[1]:
            return None
        total += value[0] - old[0]
    return total


def _conditions(
    state: AgentState, now_s: float, stale_after_s: float
) -> tuple[dict[str, float], float | None]:
    values: dict[str, list[float]] = {}
    inlets: list[float] = []
    wanted = {q: column for column, q in _CONDITION_SOURCES.items()}
    for device, snap in state.snapshots.items():
        if not state.fresh(device, now_s, stale_after_s):
            continue
        outdoor = any(r.quantity == "outdoor_temp_c" for r in snap.readings)
        for reading in snap.readings:
            if reading.quantity in _OUTDOOR_ONLY and not outdoor:
                continue
            if reading.quantity in wanted:
                values.setdefault(wanted[reading.quantity], []).append(reading.value)
            elif reading.quantity == "rack_inlet_temp_c":
                inlets.append(reading.value)
    conditions = {column: math.fsum(v) / len(v) for column, v in values.items() if v}
    rh = conditions.pop("_outdoor_rh_ratio", None)
    pressure = conditions.pop("_outdoor_pressure_pa", None) or _STANDARD_PRESSURE_PA
    dry = conditions.get("outdoor_dry_bulb_c")
    if rh is not None:
        conditions["outdoor_rh_percent"] = 100.0 * rh
        if dry is not None:
            # wet-bulb at the station pressure (Guiyang ~880 hPa), via psychrolib
            conditions["outdoor_wet_bulb_c"] = float(
                psychrolib.GetTWetBulbFromRelHum(dry, min(max(rh, 0.01), 1.0), pressure))
    return conditions, max(inlets) if inlets else None


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels)
