"""Each device's /metrics lines, rendered when its poll completes and joined at scrape time (issue 17).

:class:`DeviceSeries` is an agent observer: :meth:`~DeviceSeries.on_snapshot` renders the polled device's lines in
the event loop right after its poll and puts them into the parts a scrape joins: per family (quantity) a list with
each device's text at its position, and one list per health family. A scrape (an HTTP thread) then checks, at C
speed, for snapshots no observer was told of yet (rendered there: the text is never older than the state) and
for devices gone stale (a heap of last successes), and joins a few lists: at 10,000 devices a scrape no longer
walks every device's fragment in Python.

Rendering is cheap because a device's label sets repeat from poll to poll. A poll with the same quantities and
label sets, in the same order, as the device's poll before keeps that poll's label names and the text before each
value (``pue_device_active_power_watts{device="pdu-r01",line="1",role="pdu",zone="hall-1"} ``), and its fragment
the same ``layout``: it formats its values only, and installing it leaves the families' members as they were
(18 against 24-26 us a poll of a PDU, ``bench/pipeline.py --steps``, with ``float_text``). A poll of a new shape
computes them again (the text before a value is also cached by device, quantity, labels and family label names).

One module (over 400 lines): the fragments, the parts a scrape joins and their members are one structure under
one lock.
"""

from __future__ import annotations

import threading
from collections import Counter, deque
from heapq import heapify, heappop, heappush
from itertools import compress
from operator import is_not

from agent.config.site import SiteConfig
from agent.devices.quantities import GLOSSARY
from agent.devices.readings import DeviceSnapshot, Labels
from agent.export.exposition import escape_value, family_header, float_text, sample_line
from agent.site.poller import AgentState, SiteState

__all__ = ["DeviceSeries", "exported_quantity"]

_BASE_NAMES = frozenset(("device", "role", "zone"))


def exported_quantity(device_metrics: str, quantity: str) -> bool:
    """Whether ``exporter.device_metrics`` exports this quantity's per-device series."""
    if device_metrics == "all":
        return True
    if device_metrics == "energy":
        q = GLOSSARY[quantity]
        return q.kind == "counter" and q.unit == "J"
    return False


def _sample_name(quantity: str) -> str:
    q = GLOSSARY[quantity]
    base = q.metric.removesuffix("_total")
    return base + "_total" if q.kind == "counter" else base


_NO_NAMES: frozenset[str] = frozenset()


class _Readings:
    """One device's samples of one quantity: its own label names, and its text rendered for the family's."""

    __slots__ = ("device", "labels", "names", "prefixes", "quantity", "rendered", "values")

    def __init__(
        self, device: str, quantity: str, names: frozenset[str], labels: list[Labels], values: list[float]
    ) -> None:
        self.device = device
        self.quantity = quantity
        self.names = names
        #: each sample's labels (the same objects from poll to poll where the decoder caches a row's labels) and value
        self.labels = labels
        self.values = values
        #: (the family's label names, the text for them), replaced as one (scrapes may run in parallel)
        self.rendered: tuple[frozenset[str], str] = (_NO_NAMES, "")
        #: (the family's label names, each sample's text before its value for them)
        self.prefixes: tuple[frozenset[str], list[str]] = (_NO_NAMES, [])


class _Fragment:
    """Everything one device contributes to /metrics for one snapshot."""

    __slots__ = ("duration", "last_ok_s", "last_success", "layout", "readings", "snapshot", "unreadable")

    def __init__(
        self,
        snapshot: DeviceSnapshot,
        last_ok_s: float | None,
        readings: list[_Readings],
        last_success: str,
        duration: str,
        unreadable: str,
        layout: object,
    ) -> None:
        self.snapshot = snapshot
        #: shared by the device's consecutive fragments with the same quantities and label sets, in the same
        #: order (a new object when they change): installing one over another of the same layout leaves the
        #: families' members as they are
        self.layout = layout
        #: when the device last answered, if this snapshot is a success (freshness is decided at scrape time)
        self.last_ok_s = last_ok_s
        self.readings = readings
        self.last_success = last_success
        self.duration = duration
        self.unreadable = unreadable


class DeviceSeries:
    """Per-device exposition text, rebuilt when (and only when) a device's snapshot changes.

    ``renders`` counts fragments built (the tests count them).
    """

    def __init__(self, cfg: SiteConfig, state: AgentState) -> None:
        self._cfg = cfg
        self._state = state
        self._stale_after_s = cfg.poll_interval_s * cfg.stale_after_intervals
        self._device_metrics = cfg.exporter.device_metrics
        self._exported = {q for q in GLOSSARY if exported_quantity(self._device_metrics, q)}
        self._counters = {q.name for q in GLOSSARY.values() if q.kind == "counter"}
        self._metric = {q: _sample_name(q) for q in GLOSSARY}
        self._device_names = [dev.name for dev in cfg.devices]
        self._base = {dev.name: {"device": dev.name, "role": dev.role, "zone": dev.zone} for dev in cfg.devices}
        self._fragments: dict[str, _Fragment] = {}
        #: What a scrape joins, kept up to date as polls complete (and as devices go stale, at the scrape):
        #: per device position, its text in each family ("" where it has none) and its health lines. A scrape
        #: then joins a few lists of 10,000 strings instead of walking every device's fragment.
        self._lock = threading.Lock()
        self._pending: deque[tuple[int, _Fragment]] = deque()  # (position, fragment) rendered at a poll
        self._index = {name: i for i, name in enumerate(self._device_names)}
        n = len(self._device_names)
        self._installed: list[_Fragment | None] = [None] * n  # the fragment each device's parts come from
        self._installed_snaps: list[DeviceSnapshot | None] = [None] * n  # their snapshots
        self._fresh: list[bool] = [False] * n  # whether its readings are in (and its up is 1)
        #: (last success, position) of each device put in fresh, oldest first: a scrape finds the devices gone stale
        #: at its head (entries of fragments since replaced are skipped; no fragment is kept alive here)
        self._expiry: list[tuple[float, int]] = []
        self._parts: dict[str, list[str]] = {}  # quantity -> each device's samples of it
        self._members: dict[str, Counter[frozenset[str]]] = {}  # quantity -> its fresh devices' label names
        #: the label names each family's parts are rendered for (the union of its members' at the last scrape)
        self._rendered_for: dict[str, frozenset[str]] = {}
        self._headers: dict[tuple[str, bool], str] = {}
        #: (a device's label names, the family's as rendered) -> their union (the same object every poll)
        self._unions: dict[tuple[frozenset[str], frozenset[str] | None], frozenset[str]] = {}
        #: (device, quantity, reading labels, family label names) -> the sample's text before its value
        self._prefixes: dict[tuple[str, str, Labels, frozenset[str]], str] = {}
        self._prefix_limit = 64 * len(cfg.devices) + 4096  # label values that churn cannot grow it for ever
        self._up = {
            dev.name: tuple(
                sample_line(
                    "pue_device_up",
                    (("device", dev.name), ("profile", dev.profile), ("role", dev.role), ("zone", dev.zone)),
                    v,
                )
                for v in (0.0, 1.0)
            )
            for dev in cfg.devices
        }
        self._health_prefix = {
            name: tuple(
                f'{metric}{{device="{escape_value(name)}"}} '
                for metric in (
                    "pue_device_last_success_timestamp_seconds",
                    "pue_device_poll_duration_seconds",
                    "pue_device_unreadable_objects",
                )
            )
            for name in self._device_names
        }
        self._up_parts = [self._up[name][0] for name in self._device_names]
        self._last_parts = [""] * n
        self._duration_parts = [""] * n
        self._unreadable_parts = [""] * n
        self.renders = 0

    # -- observer ---------------------------------------------------------------------------------------
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        fragment = self.fragment(snapshot.device)
        if fragment is None:
            return
        self._pending.append((self._index[snapshot.device], fragment))
        # never wait for a scrape in the event loop: while one holds the parts, the fragment waits in
        # ``_pending`` (the scrape itself renders any snapshot it finds newer than the parts)
        if self._lock.acquire(blocking=False):
            try:
                self._drain()
            finally:
                self._lock.release()

    def _drain(self) -> None:
        """Put the fragments rendered at polls into the parts (the caller holds the lock); one a scrape already
        put in, or replaced by a later poll's, is skipped."""
        pending, fragments, installed, names = self._pending, self._fragments, self._installed, self._device_names
        while pending:
            i, fragment = pending.popleft()
            if fragment is fragments.get(names[i]) and fragment is not installed[i]:
                self._install(i, fragment, fragment.last_ok_s is not None)

    def on_site(self, site: SiteState, state: AgentState) -> None:
        pass

    # -- fragments --------------------------------------------------------------------------------------
    def fragment(self, device: str) -> _Fragment | None:
        """The device's fragment for its current snapshot (rendered now if the snapshot is new)."""
        snap = self._state.snapshots.get(device)
        if snap is None:
            return None
        cached = self._fragments.get(device)
        if cached is not None and cached.snapshot is snap:
            return cached
        fragment = self._render(device, snap)
        self._fragments[device] = fragment
        return fragment

    def _render(self, device: str, snap: DeviceSnapshot) -> _Fragment:
        self.renders += 1
        readings: list[_Readings] = []
        previous = self._fragments.get(device)
        layout = None if previous is None else previous.layout
        if snap.ok and self._exported:
            grouped: dict[str, tuple[list[Labels], list[float]]] = {}
            counters = self._state.counters
            for reading in snap.readings:
                quantity = reading.quantity
                if quantity not in self._exported:
                    continue
                value = reading.value
                if quantity in self._counters:
                    counter = counters.get((device, quantity, reading.labels))
                    if counter is None:
                        continue
                    value = counter.total_j
                group = grouped.get(quantity)
                if group is None:
                    group = grouped[quantity] = ([], [])
                group[0].append(reading.labels)
                group[1].append(value)
            # the label sets of the previous poll, in the same order: the same names and prefixes (a poll then
            # formats its values only)
            before = previous.readings if previous is not None else []
            same = len(before) == len(grouped)
            for k, (quantity, (labels, values)) in enumerate(grouped.items()):
                old = before[k] if same else None
                # (a list comparison: at C speed, and the labels are mostly the same objects as the poll before's)
                if old is not None and old.quantity == quantity and old.labels == labels:
                    rows = _Readings(device, quantity, old.names, old.labels, values)
                    rows.prefixes = old.prefixes
                else:
                    same = False
                    names = _BASE_NAMES.union(k for lb in labels for k, _ in lb)
                    rows = _Readings(device, quantity, names, labels, values)
                # rendered for the family's label names as the last scrape left them: they seldom change
                self._text(device, rows, self._family_names(quantity, rows.names))
                readings.append(rows)
            if not same or layout is None:
                layout = object()
        else:
            layout = object()  # nothing exported (or a failed poll): nothing to keep
        last = self._state.last_success_s.get(device)
        prefix = self._health_prefix[device]
        return _Fragment(
            snap,
            last if snap.ok else None,
            readings,
            f"{prefix[0]}{float_text(last)}\n" if last is not None else "",
            f"{prefix[1]}{float_text(snap.duration_s)}\n",
            f"{prefix[2]}{float_text(len(snap.problems))}\n" if snap.ok else "",
            layout,
        )

    def _family_names(self, quantity: str, names: frozenset[str]) -> frozenset[str]:
        """The label names to render a device's samples of ``quantity`` for: its own and the family's as the last
        scrape left them (the same object while neither changes)."""
        family = self._rendered_for.get(quantity)
        key = (names, family)
        union = self._unions.get(key)
        if union is None:
            if len(self._unions) > self._prefix_limit:
                self._unions.clear()
            union = self._unions[key] = names if family is None else names | family
        return union

    def _text(self, device: str, rows: _Readings, family_names: frozenset[str]) -> str:
        """The device's samples of one quantity for a family with these label names ("" where it has none)."""
        rendered = rows.rendered
        if rendered[0] is family_names or rendered[0] == family_names:
            return rendered[1]
        known = rows.prefixes
        if known[0] is family_names or known[0] == family_names:
            before = known[1]
        else:
            prefixes = self._prefixes
            if len(prefixes) > self._prefix_limit:
                prefixes.clear()
            before = []
            for labels in rows.labels:
                key = (device, rows.quantity, labels, family_names)
                prefix = prefixes.get(key)
                if prefix is None:
                    merged = {**self._base[device], **dict(labels)}
                    inner = ",".join(f'{n}="{escape_value(merged.get(n, ""))}"' for n in sorted(family_names))
                    prefix = prefixes[key] = f"{self._metric[rows.quantity]}{{{inner}}} "
                before.append(prefix)
            rows.prefixes = (family_names, before)
        values = rows.values
        text = "".join([f"{prefix}{float_text(value)}\n" for prefix, value in zip(before, values, strict=True)])
        rows.rendered = (family_names, text)
        return text

    # -- the parts a scrape joins ------------------------------------------------------------------------
    def _install(self, i: int, fragment: _Fragment | None, fresh: bool) -> None:
        """Put device ``i``'s lines for ``fragment`` into the parts (its readings only while ``fresh``); the
        caller holds the lock."""
        name = self._device_names[i]
        old = self._installed[i]
        if old is not None and fresh and self._fresh[i] and fragment is not None and fragment.layout is old.layout:
            # the same quantities and label sets as the fragment it replaces: only the text and times change
            self._installed[i] = fragment
            self._installed_snaps[i] = fragment.snapshot
            self._last_parts[i] = fragment.last_success
            self._duration_parts[i] = fragment.duration
            self._unreadable_parts[i] = fragment.unreadable
            assert fragment.last_ok_s is not None
            self._push_expiry(fragment.last_ok_s, i)
            parts = self._parts
            for rows in fragment.readings:
                parts[rows.quantity][i] = self._text(name, rows, self._family_names(rows.quantity, rows.names))
            return
        if old is not None and self._fresh[i]:
            for rows in old.readings:
                self._parts[rows.quantity][i] = ""
                members = self._members[rows.quantity]
                members[rows.names] -= 1
                if not members[rows.names]:
                    del members[rows.names]
        self._installed[i] = fragment
        self._installed_snaps[i] = None if fragment is None else fragment.snapshot
        self._fresh[i] = fresh
        self._up_parts[i] = self._up[name][1 if fresh else 0]
        if fragment is None:
            last_s = self._state.last_success_s.get(name)  # not reachable through the poller; kept equal
            self._last_parts[i] = f"{self._health_prefix[name][0]}{float_text(last_s)}\n" if last_s is not None else ""
            self._duration_parts[i] = self._unreadable_parts[i] = ""
            return
        self._last_parts[i] = fragment.last_success
        self._duration_parts[i] = fragment.duration
        self._unreadable_parts[i] = fragment.unreadable
        if not fresh:
            return
        assert fragment.last_ok_s is not None
        self._push_expiry(fragment.last_ok_s, i)
        n = len(self._device_names)
        for rows in fragment.readings:
            quantity = rows.quantity
            if quantity not in self._members:
                self._members[quantity] = Counter()
                self._parts[quantity] = [""] * n
            self._members[quantity][rows.names] += 1
            self._parts[quantity][i] = self._text(name, rows, self._family_names(quantity, rows.names))

    def _push_expiry(self, last_ok_s: float, i: int) -> None:
        heappush(self._expiry, (last_ok_s, i))
        if len(self._expiry) > 4 * len(self._device_names) + 1024:  # no scrape for a while: drop replaced ones
            # and repeats: snapshots with the same last success (a clock that did not move) would otherwise
            # all stay, and every later install would walk the whole heap again
            self._expiry = list({e for e in self._expiry if self._current_last(e[1]) == e[0]})
            heapify(self._expiry)

    def _current_last(self, i: int) -> float | None:
        fragment = self._installed[i]
        return None if fragment is None else fragment.last_ok_s

    def _sync(self, now_s: float) -> None:
        """Bring the parts up to the state at ``now_s``: fragments for snapshots no observer was told of yet (a
        poll that completed while this scrape ran), and devices gone stale since they were put in. The caller
        holds the lock.

        Both checks run at C speed: the snapshots against the installed ones with ``map``, and staleness from a
        heap of the fresh devices' last successes (oldest first), so a scrape does not walk 10,000 devices in
        Python.
        """
        names = self._device_names
        current = list(map(self._state.snapshots.get, names))
        for i in list(compress(range(len(names)), map(is_not, current, self._installed_snaps))):
            fragment = self.fragment(names[i])
            last = None if fragment is None else fragment.last_ok_s
            self._install(i, fragment, last is not None and now_s - last <= self._stale_after_s)
        heap, installed = self._expiry, self._installed
        while heap and now_s - heap[0][0] > self._stale_after_s:
            last, i = heappop(heap)
            fragment = installed[i]
            # the entry of the fragment still in (a newer one has a later last success and an entry of its own)
            if fragment is not None and fragment.last_ok_s == last and self._fresh[i]:
                self._install(i, fragment, False)

    def _families(self) -> list[str]:
        """The quantities with samples, sorted, each rendered for the label names of its members now (a device
        that brought a label, or took the last one away, pads the family again; the caller holds the lock)."""
        out = []
        for quantity in sorted(q for q, members in self._members.items() if members):
            names = frozenset().union(*self._members[quantity])
            if self._rendered_for.get(quantity) != names:
                self._rendered_for[quantity] = names
                parts = self._parts[quantity]
                for i, fragment in enumerate(self._installed):
                    if fragment is not None and self._fresh[i]:
                        for rows in fragment.readings:
                            if rows.quantity == quantity:
                                parts[i] = self._text(rows.device, rows, names)
            out.append(quantity)
        return out

    def _header(self, quantity: str, openmetrics: bool) -> str:
        key = (quantity, openmetrics)
        header = self._headers.get(key)
        if header is None:
            q = GLOSSARY[quantity]
            header = self._headers[key] = family_header(
                q.metric.removesuffix("_total"), q.kind, f"{q.help} (cached)", openmetrics
            )[0]
        return header

    # -- scrape -----------------------------------------------------------------------------------------
    def readings_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-quantity device families (DeviceReadingsCollector), fresh devices only."""
        if not self._exported:
            return ""
        with self._lock:
            self._drain()
            self._sync(now_s)
            return "".join(
                self._header(quantity, openmetrics) + "".join(self._parts[quantity]) for quantity in self._families()
            )

    def health_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-device health families of AgentHealthCollector: up, last success, duration, unreadable."""
        with self._lock:
            self._drain()
            self._sync(now_s)
            bodies = (
                "".join(self._up_parts),
                "".join(self._last_parts),
                "".join(self._duration_parts),
                "".join(self._unreadable_parts),
            )
        families = (
            ("pue_device_up", "1 if the device's last poll succeeded and is fresh"),
            ("pue_device_last_success_timestamp_seconds", "When the device was last polled successfully"),
            ("pue_device_poll_duration_seconds", "Duration of the device's last poll"),
            ("pue_device_unreadable_objects", "Profile objects the device did not answer sensibly at the last poll"),
        )
        return "".join(
            family_header(name, "gauge", doc, openmetrics)[0] + body
            for (name, doc), body in zip(families, bodies, strict=True)
        )
