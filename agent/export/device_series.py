"""Each device's /metrics lines, rendered when its poll completes and joined at scrape time (issue 17).

:class:`DeviceSeries` is an agent observer: :meth:`~DeviceSeries.on_snapshot` renders the polled device's lines in
the event loop right after its poll. A scrape (an HTTP thread) checks each device's freshness and joins the
cached text; the snapshot a fragment was built from is its key, so a scrape that finds a snapshot it has no
fragment for renders that device itself: the text is never older than the state.

Rendering is cheap because a device's label sets repeat from poll to poll: the text before the value
(``pue_device_active_power_watts{device="pdu-r01",line="1",role="pdu",zone="hall-1"} ``) is cached by device,
quantity, reading labels and the family's label names; a poll formats only the values.
"""

from __future__ import annotations

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


class _Readings:
    """One device's samples of one quantity: its own label names, and its text rendered for the family's."""

    __slots__ = ("device", "names", "quantity", "rendered", "samples")

    def __init__(self, device: str, quantity: str, names: frozenset[str], samples: list[tuple[Labels, float]]) -> None:
        self.device = device
        self.quantity = quantity
        self.names = names
        self.samples = samples
        #: (the family's label names, the text for them), replaced as one (scrapes may run in parallel)
        self.rendered: tuple[frozenset[str], str] = (frozenset(), "")


class _Fragment:
    """Everything one device contributes to /metrics for one snapshot."""

    __slots__ = ("duration", "last_ok_s", "last_success", "readings", "snapshot", "unreadable")

    def __init__(
        self,
        snapshot: DeviceSnapshot,
        last_ok_s: float | None,
        readings: list[_Readings],
        last_success: str,
        duration: str,
        unreadable: str,
    ) -> None:
        self.snapshot = snapshot
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
        #: the label names of each quantity's family at the last scrape: fragments are rendered for them
        self._family_names: dict[str, frozenset[str]] = {}
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
        self.renders = 0

    # -- observer ---------------------------------------------------------------------------------------
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        self.fragment(snapshot.device)

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
        if snap.ok and self._exported:
            grouped: dict[str, list[tuple[Labels, float]]] = {}
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
                grouped.setdefault(quantity, []).append((reading.labels, value))
            for quantity, samples in grouped.items():
                names = _BASE_NAMES.union(k for labels, _ in samples for k, _ in labels)
                rows = _Readings(device, quantity, names, samples)
                # rendered for the family's label names at the last scrape: they seldom change
                self._text(device, rows, names | self._family_names.get(quantity, names))
                readings.append(rows)
        last = self._state.last_success_s.get(device)
        prefix = self._health_prefix[device]
        return _Fragment(
            snap,
            last if snap.ok else None,
            readings,
            f"{prefix[0]}{float_text(last)}\n" if last is not None else "",
            f"{prefix[1]}{float_text(snap.duration_s)}\n",
            f"{prefix[2]}{float_text(len(snap.problems))}\n" if snap.ok else "",
        )

    def _text(self, device: str, rows: _Readings, family_names: frozenset[str]) -> str:
        """The device's samples of one quantity for a family with these label names ("" where it has none)."""
        rendered = rows.rendered
        if rendered[0] == family_names:
            return rendered[1]
        prefixes = self._prefixes
        if len(prefixes) > self._prefix_limit:
            prefixes.clear()
        parts: list[str] = []
        for labels, value in rows.samples:
            key = (device, rows.quantity, labels, family_names)
            prefix = prefixes.get(key)
            if prefix is None:
                merged = {**self._base[device], **dict(labels)}
                inner = ",".join(f'{n}="{escape_value(merged.get(n, ""))}"' for n in sorted(family_names))
                prefix = prefixes[key] = f"{self._metric[rows.quantity]}{{{inner}}} "
            parts.append(f"{prefix}{float_text(value)}\n")
        text = "".join(parts)
        rows.rendered = (family_names, text)
        return text

    # -- scrape -----------------------------------------------------------------------------------------
    def _current(self) -> list[tuple[str, _Fragment | None]]:
        """Each configured device with its fragment (rendered here only for a snapshot not yet seen)."""
        snapshots, fragments = self._state.snapshots, self._fragments
        out: list[tuple[str, _Fragment | None]] = []
        for name in self._device_names:
            fragment = fragments.get(name)
            if fragment is None or fragment.snapshot is not snapshots.get(name):
                fragment = self.fragment(name)
            out.append((name, fragment))
        return out

    def _is_fresh(self, fragment: _Fragment | None, now_s: float) -> bool:
        # AgentState.fresh, from the fragment's own snapshot: a success no older than stale_after
        return (
            fragment is not None
            and fragment.last_ok_s is not None
            and now_s - fragment.last_ok_s <= self._stale_after_s
        )

    def readings_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-quantity device families (DeviceReadingsCollector), fresh devices only."""
        if not self._exported:
            return ""
        per_quantity: dict[str, list[_Readings]] = {}
        for _name, fragment in self._current():
            if fragment is None or not self._is_fresh(fragment, now_s):
                continue
            for rows in fragment.readings:
                family = per_quantity.get(rows.quantity)
                if family is None:
                    per_quantity[rows.quantity] = [rows]
                else:
                    family.append(rows)
        out: list[str] = []
        for quantity in sorted(per_quantity):
            rows_list = per_quantity[quantity]
            names = frozenset().union(*{r.names for r in rows_list})
            self._family_names[quantity] = names
            q = GLOSSARY[quantity]
            out.append(family_header(q.metric.removesuffix("_total"), q.kind, f"{q.help} (cached)", openmetrics)[0])
            for rows in rows_list:
                rendered = rows.rendered
                # the family gained or lost a label since this device was rendered: padded again
                out.append(rendered[1] if rendered[0] == names else self._text(rows.device, rows, names))
        return "".join(out)

    def health_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-device health families of AgentHealthCollector: up, last success, duration, unreadable."""
        up: list[str] = []
        last: list[str] = []
        duration: list[str] = []
        unreadable: list[str] = []
        for name, fragment in self._current():
            up.append(self._up[name][1 if self._is_fresh(fragment, now_s) else 0])
            if fragment is None:
                last_s = self._state.last_success_s.get(name)
                if last_s is not None:  # not reachable through the poller; kept equal to the collector
                    last.append(f"{self._health_prefix[name][0]}{float_text(last_s)}\n")
                continue
            last.append(fragment.last_success)
            duration.append(fragment.duration)
            unreadable.append(fragment.unreadable)
        families = (
            ("pue_device_up", "1 if the device's last poll succeeded and is fresh", up),
            ("pue_device_last_success_timestamp_seconds", "When the device was last polled successfully", last),
            ("pue_device_poll_duration_seconds", "Duration of the device's last poll", duration),
            (
                "pue_device_unreadable_objects",
                "Profile objects the device did not answer sensibly at the last poll",
                unreadable,
            ),
        )
        return "".join(
            family_header(name, "gauge", doc, openmetrics)[0] + "".join(lines) for name, doc, lines in families
        )
