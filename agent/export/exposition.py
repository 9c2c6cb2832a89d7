"""/metrics without rebuilding every device's series at each scrape (issue 17).

prometheus-client renders a scrape by asking every collector for fresh metric families and formatting each
sample: at 10,000 devices that is 8.5 MB of text built sample by sample in 1.8 s, holding the GIL while the
event loop waits to poll. Here the per-device lines are rendered once, when the device's poll completes
(:meth:`DeviceSeries.on_snapshot`; a scrape re-renders only a device whose snapshot it has not seen), and a
scrape checks each device's freshness and joins the cached text. Site-level families are rendered once per
site tick (:class:`TickCache`).

The text is byte for byte what prometheus-client's ``generate_latest`` (Prometheus text 0.0.4) and its
OpenMetrics ``generate_latest`` make of the same collectors (tests/core/test_exposition.py compares them):
sample lines are the same in both formats (no timestamps, exemplars or units here); only the ``# HELP``/``# TYPE``
headers and the final ``# EOF`` differ. Label names must be legacy Prometheus names (they are: quantities and
profile labels are snake_case), label values are escaped as prometheus-client does.
"""

from __future__ import annotations

import gzip
import threading
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import Any, Protocol, cast, runtime_checkable
from urllib.parse import parse_qs

from prometheus_client.exposition import choose_encoder, gzip_accepted, make_wsgi_app
from prometheus_client.exposition import generate_latest as text_latest
from prometheus_client.openmetrics import exposition as _openmetrics
from prometheus_client.registry import Collector, CollectorRegistry
from prometheus_client.utils import floatToGoString

from agent.config.site import SiteConfig
from agent.devices.quantities import GLOSSARY
from agent.devices.readings import DeviceSnapshot
from agent.site.poller import AgentState, SiteState

__all__ = [
    "DeviceSeries",
    "Exposable",
    "ExpositionRegistry",
    "TickCache",
    "family_header",
    "metrics_app",
    "sample_line",
]

_EOF = "# EOF\n"

#: prometheus-client's own float text (Go's: "+Inf", "NaN", "1.26e+10") and OpenMetrics renderer (untyped)
_float_text = cast(Callable[[float], str], floatToGoString)
openmetrics_latest = cast(Callable[[Collector], bytes], _openmetrics.generate_latest)


@runtime_checkable
class Exposable(Protocol):
    """A collector that renders its own exposition text (both formats), cheaper than its ``collect()``."""

    def exposition(self, openmetrics: bool) -> str: ...


def escape_value(value: str) -> str:
    """A label value as prometheus-client writes it."""
    return value.replace("\\", r"\\").replace("\n", r"\n").replace('"', r"\"")


def sample_line(name: str, labels: Iterable[tuple[str, str]], value: float) -> str:
    """One sample, labels sorted by name, as both of prometheus-client's formats write it."""
    pairs = sorted(labels)
    if not pairs:
        return f"{name} {_float_text(value)}\n"
    inner = ",".join(f'{k}="{escape_value(v)}"' for k, v in pairs)
    return f"{name}{{{inner}}} {_float_text(value)}\n"


def family_header(name: str, kind: str, documentation: str, openmetrics: bool) -> tuple[str, str]:
    """A family's ``# HELP``/``# TYPE`` lines and the name of its samples.

    ``name`` as given to prometheus-client's metric families (counters without ``_total``, info without
    ``_info``); ``kind`` is ``gauge``, ``counter`` or ``info``.
    """
    sample = name + "_total" if kind == "counter" else name + "_info" if kind == "info" else name
    if openmetrics:
        doc = escape_value(documentation)
        return f"# HELP {name} {doc}\n# TYPE {name} {kind}\n", sample
    doc = documentation.replace("\\", r"\\").replace("\n", r"\n")
    shown = "gauge" if kind == "info" else kind
    return f"# HELP {sample} {doc}\n# TYPE {sample} {shown}\n", sample


def render(collector: Collector, openmetrics: bool) -> str:
    """A collector's text through prometheus-client itself (without the OpenMetrics ``# EOF``)."""
    if openmetrics:
        return openmetrics_latest(collector).decode().removesuffix(_EOF)
    return text_latest(collector).decode()


class ExpositionRegistry(CollectorRegistry):
    """A registry that remembers its collectors in order and renders /metrics from them.

    A collector with ``exposition()`` renders its own text; any other goes through prometheus-client. Still
    a ``CollectorRegistry``: ``generate_latest(registry)`` gives the same bytes the slow way.
    """

    def __init__(self) -> None:
        super().__init__(auto_describe=True)
        self._ordered: list[Collector] = []
        self._order_lock = threading.Lock()

    def register(self, collector: Collector) -> None:
        super().register(collector)
        with self._order_lock:
            self._ordered.append(collector)

    def unregister(self, collector: Collector) -> None:
        super().unregister(collector)
        with self._order_lock:
            self._ordered.remove(collector)

    def exposition(self, openmetrics: bool) -> bytes:
        with self._order_lock:
            collectors = list(self._ordered)
        parts = [c.exposition(openmetrics) if isinstance(c, Exposable) else render(c, openmetrics) for c in collectors]
        if openmetrics:
            parts.append(_EOF)
        return "".join(parts).encode()


def _fast_format(accept: str | None) -> tuple[bool, str] | None:
    """(OpenMetrics?, content type) as prometheus-client would negotiate them, None for what it does otherwise.

    Escaping schemes (``escaping=`` in Accept) change only names outside the legacy character set: the agent
    has none, so every scheme gives the same text.
    """
    encoder, content_type = choose_encoder(accept or "")
    func = encoder.func if isinstance(encoder, partial) else encoder
    if func is text_latest:
        return False, content_type
    if func is openmetrics_latest:
        return True, content_type
    return None


#: gzip level of /metrics: 1 compresses repetitive exposition text to about the size level 9 does, several
#: times faster (prometheus-client uses 9); zlib releases the GIL while it compresses
GZIP_LEVEL = 1


def metrics_app(registry: ExpositionRegistry) -> Callable[[dict[str, Any], Callable[..., Any]], list[bytes]]:
    """prometheus-client's WSGI app, but a GET renders through :meth:`ExpositionRegistry.exposition`.

    Same negotiation: OpenMetrics when Accept asks for it, gzip when Accept-Encoding allows it; the rarer
    requests (``name[]`` filters, OPTIONS, other methods) go to prometheus-client's own app.
    """
    fallback = make_wsgi_app(registry)

    def app(environ: dict[str, Any], start_response: Callable[..., Any]) -> list[bytes]:
        fmt = _fast_format(environ.get("HTTP_ACCEPT"))
        if (
            environ.get("REQUEST_METHOD") != "GET"
            or environ.get("PATH_INFO") == "/favicon.ico"
            or "name[]" in parse_qs(environ.get("QUERY_STRING", ""))
            or fmt is None
        ):
            return fallback(environ, start_response)  # type: ignore[no-any-return]
        openmetrics, content_type = fmt
        output = registry.exposition(openmetrics)
        headers = [("Content-Type", content_type)]
        if gzip_accepted(environ.get("HTTP_ACCEPT_ENCODING") or ""):
            output = gzip.compress(output, compresslevel=GZIP_LEVEL)
            headers.append(("Content-Encoding", "gzip"))
        start_response("200 OK", headers)
        return [output]

    return app


class TickCache:
    """A collector's text, rendered once per value of ``key()`` (the site state, replaced at each tick)."""

    def __init__(self, collector: Collector, key: Callable[[], object]) -> None:
        self._collector = collector
        self._key = key
        self._cached: dict[bool, tuple[object, str]] = {}

    def exposition(self, openmetrics: bool) -> str:
        key = self._key()
        hit = self._cached.get(openmetrics)
        if hit is not None and hit[0] is key:
            return hit[1]
        text = render(self._collector, openmetrics)
        self._cached[openmetrics] = (key, text)
        return text


#: the per-device readings a site exports (``exporter.device_metrics``)
def exported_quantity(device_metrics: str, quantity: str) -> bool:
    if device_metrics == "all":
        return True
    if device_metrics == "energy":
        q = GLOSSARY[quantity]
        return q.kind == "counter" and q.unit == "J"
    return False


class _Readings:
    """One device's samples of one quantity: its own label names, and its text rendered for the family's."""

    __slots__ = ("names", "rendered", "samples")

    def __init__(self, names: frozenset[str], samples: list[tuple[dict[str, str], float]]) -> None:
        self.names = names
        self.samples = samples
        #: (the family's label names, the text for them), replaced as one (scrapes may run in parallel)
        self.rendered: tuple[frozenset[str], str] = (frozenset(), "")

    def text(self, family_names: frozenset[str], metric: str) -> str:
        """The text for a family with these label names (empty values where the device has none)."""
        rendered = self.rendered
        if rendered[0] == family_names:
            return rendered[1]
        text = "".join(
            sample_line(metric, [(n, labels.get(n, "")) for n in family_names], value) for labels, value in self.samples
        )
        self.rendered = (family_names, text)
        return text


class _Fragment:
    """Everything the device contributes to /metrics for one snapshot."""

    __slots__ = ("duration", "last_success", "readings", "snapshot", "unreadable")

    def __init__(
        self,
        snapshot: DeviceSnapshot,
        readings: dict[str, _Readings],
        last_success: str,
        duration: str,
        unreadable: str,
    ) -> None:
        self.snapshot = snapshot
        self.readings = readings
        self.last_success = last_success
        self.duration = duration
        self.unreadable = unreadable


class DeviceSeries:
    """Per-device exposition text, rebuilt when (and only when) a device's snapshot changes.

    An agent observer: :meth:`on_snapshot` renders the polled device's lines in the event loop right after its
    poll (a few tens of microseconds). A scrape (another thread) reads the fragments; the snapshot a fragment
    was built from is its key, so a scrape that finds a newer snapshot renders it itself: the text is never
    older than the state. ``renders`` counts fragments built (the tests count them).
    """

    def __init__(self, cfg: SiteConfig, state: AgentState) -> None:
        self._cfg = cfg
        self._state = state
        self._stale_after_s = cfg.poll_interval_s * cfg.stale_after_intervals
        self._device_metrics = cfg.exporter.device_metrics
        self._fragments: dict[str, _Fragment] = {}
        #: the label names of each quantity's family at the last scrape: fragments are rendered for them
        self._names: dict[str, frozenset[str]] = {}
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
        dev = self._cfg.device(device)
        readings: dict[str, _Readings] = {}
        if snap.ok and self._device_metrics != "none":
            grouped: dict[str, list[tuple[dict[str, str], float]]] = {}
            base = {"device": dev.name, "role": dev.role, "zone": dev.zone}
            for reading in snap.readings:
                if not exported_quantity(self._device_metrics, reading.quantity):
                    continue
                q = GLOSSARY[reading.quantity]
                value = reading.value
                if q.kind == "counter":
                    counter = self._state.counters.get((device, reading.quantity, reading.labels))
                    if counter is None:
                        continue
                    value = counter.total_j
                grouped.setdefault(reading.quantity, []).append(({**base, **dict(reading.labels)}, value))
            for quantity, samples in grouped.items():
                rows = _Readings(frozenset(k for labels, _ in samples for k in labels), samples)
                # rendered for the family's label names at the last scrape: they seldom change
                rows.text(rows.names | self._names.get(quantity, frozenset()), _sample_name(quantity))
                readings[quantity] = rows
        last = self._state.last_success_s.get(device)
        label = (("device", device),)
        return _Fragment(
            snap,
            readings,
            sample_line("pue_device_last_success_timestamp_seconds", label, last) if last is not None else "",
            sample_line("pue_device_poll_duration_seconds", label, snap.duration_s),
            sample_line("pue_device_unreadable_objects", label, len(snap.problems)) if snap.ok else "",
        )

    # -- scrape -----------------------------------------------------------------------------------------
    def readings_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-quantity device families (DeviceReadingsCollector), fresh devices only."""
        if self._device_metrics == "none":
            return ""
        per_quantity: dict[str, list[_Readings]] = {}
        for dev in self._cfg.devices:
            if not self._fresh(dev.name, now_s):
                continue
            fragment = self.fragment(dev.name)
            if fragment is None:
                continue
            for quantity, rows in fragment.readings.items():
                per_quantity.setdefault(quantity, []).append(rows)
        out: list[str] = []
        for quantity in sorted(per_quantity):
            rows_list = per_quantity[quantity]
            names = frozenset().union(*(r.names for r in rows_list))
            if self._names.get(quantity) != names:
                self._names[quantity] = names
            q = GLOSSARY[quantity]
            header, metric = family_header(q.metric.removesuffix("_total"), q.kind, f"{q.help} (cached)", openmetrics)
            out.append(header)
            for rows in rows_list:
                # the family gained or lost a label since this device was rendered: padded again
                out.append(rows.text(names, metric))
        return "".join(out)

    def health_text(self, now_s: float, openmetrics: bool) -> str:
        """The per-device health families of AgentHealthCollector: up, last success, duration, unreadable."""
        up: list[str] = []
        last: list[str] = []
        duration: list[str] = []
        unreadable: list[str] = []
        for dev in self._cfg.devices:
            up.append(self._up[dev.name][1 if self._fresh(dev.name, now_s) else 0])
            fragment = self.fragment(dev.name)
            if fragment is None:
                last_line = self._state.last_success_s.get(dev.name)
                if last_line is not None:  # not reachable through the poller; kept equal to the collector
                    last.append(
                        sample_line("pue_device_last_success_timestamp_seconds", (("device", dev.name),), last_line)
                    )
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

    def _fresh(self, device: str, now_s: float) -> bool:
        return self._state.fresh(device, now_s, self._stale_after_s)


def _sample_name(quantity: str) -> str:
    q = GLOSSARY[quantity]
    base = q.metric.removesuffix("_total")
    return base + "_total" if q.kind == "counter" else base


def counter_family(
    name: str,
    documentation: str,
    label_names: tuple[str, ...],
    rows: Mapping[Any, float],
    openmetrics: bool,
) -> str:
    """A small counter family from a dict (sorted by key), e.g. poll errors by device and kind."""
    header, sample = family_header(name, "counter", documentation, openmetrics)
    lines = [sample_line(sample, zip(label_names, key, strict=True), value) for key, value in sorted(rows.items())]
    return header + "".join(lines)
