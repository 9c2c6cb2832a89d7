"""The history writer: an :class:`~agent.app.runtime.AgentObserver` that records polls and site ticks.

Each poll and each site tick is written by a thread of the writer's own (:mod:`agent.history.write_queue`:
polls in batches, one transaction each on SQLite): the agent loop only takes a copy of what it needs and
queues it, so polling keeps its schedule whatever the database does. A database busy with another connection
(an import, a backup) holds the writes back, in order, until it is free: nothing is lost unless more than
``max_pending`` wait, and then the newest are dropped and counted (``dropped``,
``pue_history_writes_dropped_total``). A disk problem never reaches the agent loop either: it is logged once
(and once more when writing works again), the failed poll or interval is simply missing from the history (a
gap, never a wrong number), and polling goes on. :meth:`HistoryWriter.close` writes what is still waiting
before it closes the store.

Energy stays monotonic across agent restarts: the first time a device quantity is seen after a
start, the writer continues from the last stored total. When the device's own counter kept counting
while the agent was down, that energy is kept; otherwise (an integrated total, or a counter that
reset meanwhile) nothing is counted for the downtime, which the site intervals show as a gap.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable, Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.config.retention import retention_s
from agent.config.site import SiteConfig, Topology, TopologyTerm
from agent.devices.readings import DeviceSnapshot
from agent.export import metric_names as m
from agent.history.levers import lever_terms
from agent.history.records import DeviceEnergyRow, HistoryStore, ReadingRow, SiteInterval
from agent.history.write_queue import QueuedWrites
from agent.site.conditions import SetpointRanges, site_conditions
from agent.site.energy_span import span_matches
from agent.site.poller import AgentState, SiteState

__all__ = ["HistoryCollector", "HistoryWriter"]

log = logging.getLogger(__name__)

#: a device cannot plausibly have drawn more than this while the agent was down [W]
_MAX_POWER_W = 50e6


class HistoryWriter(QueuedWrites):
    """Writes what the agent produces into a :class:`HistoryStore`.

    Parameters
    ----------
    store : where to write
    cfg : the site config (topology, stale threshold, ``history.raw_retention_days``)
    purge_every_s : how often raw rows older than the retention are deleted [s]
    max_pending : most writes (a poll or a site interval each) that may wait for the database
    retry_s : pause between attempts while the database is busy [s]
    linger_s : how long the writer thread, woken by a first write, waits for more before writing [s]

    Attributes
    ----------
    write_errors : writes that failed (read-only, disk full, ...), each a gap in the history
    dropped : writes dropped because ``max_pending`` were already waiting, or still waiting at close
    healthy : False while writes are failing
    pending : writes waiting for the database (a property)

    The counters are exported by :class:`HistoryCollector` (``pue-agent run`` registers it).
    """

    #: ``on_site`` (the site interval: O(devices)) runs on the agent's site-tick thread, over a copy of the state
    site_off_loop = True

    def __init__(
        self,
        store: HistoryStore,
        cfg: SiteConfig,
        *,
        purge_every_s: float = 3600.0,
        max_pending: int = 20_000,
        retry_s: float = 0.5,
        linger_s: float = 0.1,
        setpoint_ranges: SetpointRanges | None = None,
    ) -> None:
        self.store = store
        self._cfg = cfg
        #: what each device accepts for each setpoint: a read outside it is not logged (agent/site/conditions.py)
        self._ranges = setpoint_ranges
        self._retention_s, self._energy_retention_s = retention_s(cfg.history)
        self._purge_every_s = purge_every_s
        self._last_purge_s: float | None = None
        self._offsets: dict[tuple[str, str], float] = {}
        self._last_stored: dict[tuple[str, str], float] = {}
        #: while a batch is written: (map, key, value before it or None) for each change, oldest first
        self._journal: list[tuple[dict[tuple[str, str], float], tuple[str, str], float | None]] | None = None
        self._previous: dict[str, dict[str, _Energy | None]] | None = None
        self._previous_tick_s: float | None = None
        super().__init__(max_pending, retry_s, linger_s, batch=getattr(store, "batch", None))
        # the energy quantities the poller keeps per device (its topology terms): a poll looks up its own
        # instead of scanning every device's
        energy_quantities: dict[str, set[str]] = {}
        topo = cfg.topology
        for term in topo.all_terms():
            energy_quantities.setdefault(term.device, set()).add(term.energy_quantity)
        self._energy_quantities = {d: tuple(sorted(q)) for d, q in energy_quantities.items()}

    # --- AgentObserver -----------------------------------------------------------------------
    # Called in the event loop: take a copy of what the agent knows now (its state moves on while a
    # write waits) and queue the write; nothing here touches the database.
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        device = snapshot.device
        energy = []
        for quantity in self._energy_quantities.get(device, ()):
            total = state.energy.get((device, quantity))
            if total is not None and total.last_timestamp_s == snapshot.timestamp_s:
                energy.append((quantity, total.total_j, total.method))
        self._submit(f"poll of {device}", lambda: self._write_snapshot(snapshot, energy), batchable=True)

    def on_site(self, site: SiteState, state: AgentState) -> None:
        interval = self._next_interval(site, state)
        if interval is not None:
            self._submit("site interval", lambda: self.store.record_site_interval(interval))
        if self._last_purge_s is None:
            self._last_purge_s = site.timestamp_s
        elif site.timestamp_s - self._last_purge_s >= self._purge_every_s:
            self._last_purge_s = site.timestamp_s
            before_s = site.timestamp_s - self._retention_s
            self._submit("purge", lambda: self._purge(before_s))

    # --- internals ---------------------------------------------------------------------------

    def _kept(self) -> object:
        # an undo log of what the batch changes, not copies of both maps (at 10,000 devices the copies were
        # a tenth of the writer thread's CPU)
        self._journal = []
        return self._journal

    def _restore(self, kept: object) -> None:
        assert isinstance(kept, list)
        for table, key, old in reversed(kept):
            if old is None:
                table.pop(key, None)
            else:
                table[key] = old
        self._journal = None

    def _settled(self) -> None:
        self._journal = None

    def _put(self, table: dict[tuple[str, str], float], key: tuple[str, str], value: float) -> None:
        """``table[key] = value``, undone if the batch it is part of rolls back."""
        if self._journal is not None:
            self._journal.append((table, key, table.get(key)))
        table[key] = value

    def _close_store(self) -> None:
        self._guarded("close", self.store.close)

    def _purge(self, before_s: float) -> None:  # device energy and site intervals by their own retention
        deleted = self.store.purge_raw(before_s, before_s + self._retention_s - self._energy_retention_s)
        if deleted:
            log.debug("history: purged %d raw rows", deleted)

    def _write_snapshot(self, snapshot: DeviceSnapshot, totals: list[tuple[str, float, str]]) -> None:
        readings = [
            ReadingRow(snapshot.device, r.quantity, _labels(r.labels), snapshot.timestamp_s, r.value)
            for r in snapshot.readings
        ]
        energy = []
        device = snapshot.device
        for quantity, total_j, method in totals:
            stored = self._monotonic(device, quantity, total_j, method, snapshot.timestamp_s)
            energy.append(DeviceEnergyRow(device, quantity, snapshot.timestamp_s, stored, total_j, method))
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
            self._put(self._last_stored, (row.device, row.quantity), row.total_j)

    def _monotonic(self, device: str, quantity: str, agent_total_j: float, method: str, now_s: float) -> float:
        key = (device, quantity)
        if key not in self._offsets:
            last = self.store.last_device_energy(device, quantity)
            if last is None:
                self._put(self._offsets, key, 0.0)
            else:
                kept_counting = (
                    method == "counter"
                    and last.method == "counter"
                    and agent_total_j >= last.agent_total_j
                    and agent_total_j - last.agent_total_j <= _MAX_POWER_W * max(now_s - last.timestamp_s, 1.0)
                )
                self._put(self._offsets, key, last.total_j - (last.agent_total_j if kept_counting else agent_total_j))
                self._put(self._last_stored, key, last.total_j)
        stored = agent_total_j + self._offsets[key]
        previous = self._last_stored.get(key)
        if previous is not None and stored < previous:
            # the agent's own total went down (a counter re-seen from scratch): never store a decrease
            self._put(self._offsets, key, self._offsets[key] + previous - stored)
            stored = previous
        return stored

    def _boundary(self, terms: Iterable[TopologyTerm], state: AgentState, now_s: float) -> dict[str, _Energy | None]:
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        out: dict[str, _Energy | None] = {}
        for term in terms:
            energy = state.energy.get((term.device, term.energy_quantity))
            fresh = state.fresh(term.device, now_s, stale_after)
            out[f"{term.device}\0{term.energy_quantity}"] = (
                (energy.total_j, energy.suspect_polls, energy.last_timestamp_s)
                if energy is not None and fresh and not energy.partial
                else None
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
        deltas = {name: _delta(previous[name], current[name], duration) for name in current}
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
        stored = {n: _RATIO_TERMS.get(n, n) for n, _t in (*topo.optional_boundaries(), *topo.tag_boundaries())}
        for name, term in stored.items():
            ok = complete and deltas[name] is not None
            terms[term] = (duration, deltas[name] or 0.0) if ok else (0.0, 0.0)
        for zone in topo.zones:
            it_d, overhead_d = deltas[f"zone:{zone}:it"], deltas[f"zone:{zone}:overhead"]
            ok = it_d is not None and overhead_d is not None
            terms[f"zone:{zone}:it_j"] = (duration, it_d or 0.0) if ok else (0.0, 0.0)
            terms[f"zone:{zone}:overhead_j"] = (duration, overhead_d or 0.0) if ok else (0.0, 0.0)
        # the same conditions the cooling controller serves the model live (agent/site/conditions.py)
        cond = site_conditions(state, self._cfg, now, self._ranges)
        terms.update(lever_terms(cond.levers, duration))  # the levers read (docs/levers.md): term, not a column
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
            conditions=cond.history_columns(),
            max_inlet_c=cond.max_inlet_c,
            terms=terms,
        )


#: optional boundaries measured against the facility/IT covered time, and their stored term names
_RATIO_TERMS = {b.name: b.term for b in OPTIONAL_BOUNDARIES}


def _boundaries(topo: Topology) -> list[tuple[str, tuple[TopologyTerm, ...]]]:
    """Every boundary of the topology by name: facility, it, cooling, the ratio terms, each zone's two, each tag."""
    out: list[tuple[str, tuple[TopologyTerm, ...]]] = [
        ("facility", topo.facility),
        ("it", topo.it),
        ("cooling", topo.cooling),
        *topo.optional_boundaries(),
        *topo.tag_boundaries(),
    ]
    for zone, spec in topo.zones.items():
        out += [(f"zone:{zone}:it", spec.it), (f"zone:{zone}:overhead", spec.overhead)]
    return out


#: a term's energy total [J or m3], the number of suspect polls behind it (``DeviceEnergy.suspect_polls``) and
#: the time of the poll it is as of [s]
_Energy = tuple[float, int, float]


def _delta(before: dict[str, _Energy | None], now: dict[str, _Energy | None], duration_s: float) -> float | None:
    """Sum of per-term increases, or None if any term is missing at either end, went down, had a suspect
    poll in between (a partial read or a counter glitch), or its polls at the two ends are not one interval
    apart (a poll in flight, skipped or failed at a tick: agent/site/energy_span.py): its energy over the interval
    is not known."""
    total = 0.0
    for key, value in now.items():
        old = before.get(key)
        if value is None or old is None or value[0] < old[0] or value[1] != old[1]:
            return None
        if not span_matches(old[2], value[2], duration_s):
            return None
        total += value[0] - old[0]
    return total


def _labels(labels: tuple[tuple[str, str], ...]) -> str:
    return ",".join(f"{k}={v}" for k, v in labels)


class HistoryCollector(Collector):
    """The history writer's health.

    Sample::

        pue_history_pending_writes 0.0
        pue_history_write_errors_total 0.0
        pue_history_writes_dropped_total 0.0
    """

    def __init__(self, writer: HistoryWriter) -> None:
        self._writer = writer

    def collect(self) -> Iterator[Metric]:
        yield GaugeMetricFamily(
            m.HISTORY_PENDING_WRITES, "Writes waiting for the history database", value=self._writer.pending
        )
        yield CounterMetricFamily(
            m.HISTORY_WRITE_ERRORS,
            "History writes that failed (each a gap in the history)",
            value=self._writer.write_errors,
        )
        yield CounterMetricFamily(
            m.HISTORY_WRITES_DROPPED,
            "History writes dropped: too many already waiting for a busy database",
            value=self._writer.dropped,
        )
