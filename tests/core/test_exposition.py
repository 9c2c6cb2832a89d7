"""/metrics from cached per-device text (agent.export.exposition) against prometheus-client's own rendering.

The fast path must give the same bytes as ``generate_latest`` (text 0.0.4) and OpenMetrics' ``generate_latest``
for a site with many devices, label values needing escaping, NaN and infinite values, failed and stale devices,
heterogeneous label sets; a scrape must not re-render devices whose poll it has already seen, and must not hold
up polls while it runs.
"""

from __future__ import annotations

import asyncio
import gzip
import math
import threading
import urllib.request
from collections.abc import Iterator
from pathlib import Path

import pytest
from prometheus_client import generate_latest
from prometheus_client.core import GaugeMetricFamily, Metric
from prometheus_client.registry import Collector
from prometheus_client.utils import floatToGoString

from agent.app.http import ApiHandlers, HttpServer
from agent.app.runtime import Agent
from agent.config.site import ExporterConfig, SiteConfig, load_config
from agent.devices.readings import DeviceSnapshot, Reading
from agent.devices.snmp.seam import FakeSnmpClient
from agent.export.collectors import build_registry
from agent.export.device_series import DeviceSeries
from agent.export.exposition import ExpositionRegistry, float_text, openmetrics_latest
from agent.site.poller import AgentState, DeviceEnergy, SiteAccountant
from models.counters import advance

ROOT = Path(__file__).resolve().parents[2]
N = 240
NOW = 1_000_000.0
#: label values prometheus-client escapes (backslash, quote, newline) and plain UTF-8
AWKWARD = ('say "hi"', "back\\slash", "two\nlines", "机柜 A-01", "")
VALUES = (0.1, 19000.0, 1.26e10, 123456789.0, math.nan, math.inf, -math.inf, -0.0, 3)


class Clock:
    def __init__(self, t: float = NOW) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _site(n: int = N, device_metrics: str = "all") -> tuple[SiteConfig, AgentState, Clock]:
    cfg, _profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    templates = cfg.devices
    devices = tuple(
        templates[i % len(templates)].model_copy(update={"name": f"dev-{i:04d}", "zone": f"hall-{i % 3}"})
        for i in range(n)
    )
    cfg = cfg.model_copy(
        update={
            "devices": devices,
            "poll_interval_s": 10.0,
            "exporter": ExporterConfig(device_metrics=device_metrics),  # type: ignore[arg-type]
        }
    )
    # the demo topology names demo devices; the fake site sums its own first devices
    topo = cfg.topology
    facility = tuple(t.model_copy(update={"device": f"dev-{i:04d}"}) for i, t in enumerate(topo.facility[:1]))
    it = tuple(t.model_copy(update={"device": f"dev-{i + 1:04d}"}) for i, t in enumerate(topo.it))
    cfg = cfg.model_copy(update={"topology": topo.model_copy(update={"facility": facility, "it": it})})
    clock = Clock()
    state = AgentState()
    for i, dev in enumerate(devices):
        _poll(cfg, state, dev.name, i, NOW - 1.0)
    return cfg, state, clock


def _poll(
    cfg: SiteConfig, state: AgentState, device: str, i: int, at_s: float, extra: tuple[Reading, ...] = ()
) -> None:
    """What the poller leaves in the state after one poll of ``device`` (i picks its shape)."""
    if i % 7 == 3:  # a failed poll: only health series
        state.snapshots[device] = DeviceSnapshot(device, at_s, 5.0, False, error="timeout", error_kind="timeout")
        state.poll_errors[(device, "timeout")] = state.poll_errors.get((device, "timeout"), 0) + 1
        return
    value = VALUES[i % len(VALUES)]
    readings = [Reading("active_power_w", value)]
    if i % 2:  # per-line readings: the family gains a "line" label, others get line=""
        readings += [Reading("phase_active_power_w", 100.0 + i, (("line", str(k)),)) for k in (1, 2, 3)]
    if i % 5 == 1:
        readings.append(Reading("supply_air_temp_c", 21.5, (("sensor", AWKWARD[(i // 5) % len(AWKWARD)]),)))
    if i % 5 == 2:  # the same family without the label: sensor="" on these
        readings.append(Reading("supply_air_temp_c", 22.5))
    readings.append(Reading("energy_j", 1e9 + i * 3.6e6))
    if i % 13 == 0:  # a counter the collector has no state for yet: skipped
        readings.append(Reading("outlet_energy_j", 5.0, (("outlet", "1"),)))
    readings.extend(extra)
    for r in readings:
        if r.quantity == "energy_j":
            key = (device, r.quantity, r.labels)
            state.counters[key] = advance(state.counters.get(key), r.value, at_s=at_s)[0]
    problems = ("1.3.6.1.2.1.33.1.4.4.1.4.2: out of range",) if i % 4 == 0 else ()
    state.snapshots[device] = DeviceSnapshot(device, at_s, 0.01 * (i % 9), True, tuple(readings), problems)
    stale = i % 11 == 5
    state.last_success_s[device] = at_s - (1000.0 if stale else 0.0)
    # energy by device counter or by integrated power: the energy-method info family
    state.energy[(device, "energy_j")] = DeviceEnergy(1e6 * i, "counter" if i % 3 else "integrated", at_s)
    if i % 17 == 0:
        state.polls_skipped[device] = 2
        state.counter_events[(device, "wrap")] = 1


def _same(registry: ExpositionRegistry) -> str:
    slow = generate_latest(registry)
    assert registry.exposition(False) == slow
    assert registry.exposition(True) == openmetrics_latest(registry)
    return slow.decode()


def test_fast_exposition_equals_prometheus_client() -> None:
    cfg, state, clock = _site()
    SiteAccountant(cfg, state, clock).tick()
    registry = build_registry(cfg, state, clock)
    text = _same(registry)
    # the site is representative: escaping, padding, NaN/Inf, failures, staleness all show
    assert r'sensor="say \"hi\""' in text and r'sensor="back\\slash"' in text and r'sensor="two\nlines"' in text
    assert ',sensor="",zone=' in text and "NaN" in text and "+Inf" in text and "-Inf" in text
    assert 'pue_device_poll_errors_total{device="dev-0003",kind="timeout"} 1.0' in text
    # the energy-method info family is rendered apart from the other site families: one line per device
    assert 'pue_site_energy_method_info{device="dev-0001",method=' in text
    assert 'pue_device_up{device="dev-0005",profile=' in text and "pue_device_active_power_watts" in text
    assert 'device="dev-0005",role=' not in text  # stale: health only
    assert "pue_device_outlet_energy_joules" not in text  # no counter state: not exported


def test_fast_exposition_follows_polls_staleness_and_label_changes() -> None:
    cfg, state, clock = _site()
    series = DeviceSeries(cfg, state)
    registry = build_registry(cfg, state, clock, series)
    _same(registry)
    # new polls (one gains a label no device had: every line of the family is padded again), time passes
    clock.t += 5.0
    _poll(cfg, state, "dev-0002", 2, clock.t, (Reading("active_power_w", 7.0, (("feed", "B"),)),))
    _poll(cfg, state, "dev-0003", 4, clock.t)  # failed before, answers now
    _poll(cfg, state, "dev-0004", 3, clock.t)  # answered before, fails now
    text = _same(registry)
    assert 'pue_device_active_power_watts{device="dev-0000",feed="",role=' in text
    # the device with the new label goes stale: the label leaves the family again
    clock.t += 25.0
    for i, dev in enumerate(cfg.devices):
        if dev.name != "dev-0002":
            _poll(cfg, state, dev.name, i, clock.t)
    assert 'feed=""' not in _same(registry)
    SiteAccountant(cfg, state, clock).tick()
    _same(registry)


def test_polls_told_to_the_series_keep_text_and_label_sets_right_as_a_device_changes_shape() -> None:
    """Polls of the same shape as the one before only format their values (their layout is kept); a poll of a new
    shape (a label the family did not have, then gone again) goes through the members of the families."""
    cfg, state, clock = _site(40)
    series = DeviceSeries(cfg, state)
    registry = build_registry(cfg, state, clock, series)
    _same(registry)
    feed = (Reading("active_power_w", 7.0, (("feed", "B"),)),)
    renders = series.renders
    for k, extra in enumerate(((), (), feed, feed, (), ())):
        clock.t += 1.0
        inlet = (Reading("rack_inlet_temp_c", 20.0 + k),)  # a value that changes from poll to poll
        for i, dev in enumerate(cfg.devices):
            _poll(cfg, state, dev.name, i, clock.t, inlet + extra if dev.name == "dev-0002" else inlet)
            series.on_snapshot(state.snapshots[dev.name], state)
        text = _same(registry)  # the values of this round, from polls rendered as they came
        inlets = {line.rpartition(" ")[2] for line in text.splitlines() if line.startswith("pue_device_rack_inlet")}
        assert inlets == {str(20.0 + k)}
        assert ('feed="B"' in text) == bool(extra) and ('feed=""' in text) == bool(extra)
    assert series.renders == renders + 6 * len(cfg.devices)  # once per poll, none again at the scrapes


@pytest.mark.parametrize("which", ["energy", "none"])
def test_device_metrics_filter(which: str) -> None:
    cfg, state, clock = _site(60, which)
    registry = build_registry(cfg, state, clock)
    text = _same(registry)
    families = {line.split()[2] for line in text.splitlines() if line.startswith("# TYPE pue_device_")}
    health = {
        "pue_device_up",
        "pue_device_last_success_timestamp_seconds",
        "pue_device_poll_duration_seconds",
        "pue_device_unreadable_objects",
        "pue_device_poll_errors_total",
        "pue_device_polls_skipped_total",
        "pue_device_counter_events_total",
    }
    readings = families - health
    assert health <= families
    assert readings == ({"pue_device_energy_joules_total"} if which == "energy" else set())
    assert "pue_device_active_power_watts" in _same(build_registry(*_site(60, "all")))


def test_a_scrape_renders_no_device_whose_poll_it_has_seen() -> None:
    cfg, state, clock = _site()
    series = DeviceSeries(cfg, state)
    registry = build_registry(cfg, state, clock, series)
    for dev in cfg.devices:  # the agent calls this as each poll completes
        series.on_snapshot(state.snapshots[dev.name], state)
    rendered = series.renders
    assert rendered == N
    registry.exposition(False)
    registry.exposition(True)
    assert series.renders == rendered  # the scrapes joined cached text only
    _poll(cfg, state, "dev-0010", 10, NOW)  # a poll the observer has not been told of (a race): rendered once
    registry.exposition(False)
    registry.exposition(False)
    assert series.renders == rendered + 1


class _Held(Collector):
    """A collector that holds the scrape until released, telling when it is inside."""

    def __init__(self) -> None:
        self.inside = threading.Event()
        self.release = threading.Event()

    def describe(self) -> list[Metric]:
        return []  # registering must not run collect()

    def collect(self) -> Iterator[Metric]:
        self.inside.set()
        assert self.release.wait(60)
        yield GaugeMetricFamily("test_held", "held")


def _get(url: str, headers: dict[str, str] | None = None) -> tuple[bytes, dict[str, str]]:
    with urllib.request.urlopen(urllib.request.Request(url, headers=headers or {}), timeout=60) as resp:
        return resp.read(), dict(resp.headers)


def test_metrics_endpoint_negotiates_like_prometheus_client() -> None:
    cfg, state, clock = _site(40)
    SiteAccountant(cfg, state, clock).tick()
    registry = build_registry(cfg, state, clock)
    server = HttpServer(registry, ApiHandlers())
    host, port = server.start("127.0.0.1", 0)
    url = f"http://{host}:{port}/metrics"
    try:
        body, headers = _get(url)
        assert body == generate_latest(registry) and headers["Content-Type"].startswith("text/plain; version=0.0.4")
        prometheus = (
            "application/openmetrics-text;version=1.0.0,application/openmetrics-text;version=0.0.1;q=0.75,"
            "text/plain;version=0.0.4;q=0.5,*/*;q=0.1"
        )
        body, headers = _get(url, {"Accept": prometheus, "Accept-Encoding": "gzip"})
        assert headers["Content-Encoding"] == "gzip"
        assert headers["Content-Type"].startswith("application/openmetrics-text; version=1.0.0")
        assert gzip.decompress(body) == openmetrics_latest(registry)
        body, _ = _get(url + "?name[]=pue_device_up")  # prometheus-client's own filtering still answers
        assert body.startswith(b"# HELP pue_device_up ") and b"pue_site_" not in body
    finally:
        server.stop()


def test_a_scrape_in_progress_does_not_hold_up_polls() -> None:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    cfg = cfg.model_copy(update={"devices": cfg.devices[:3]})
    client = FakeSnmpClient({"1.3.6.1.2.1.33.1.4.4.1.4.1": ("integer", 30_000)})
    agent = Agent(cfg, profiles, client=client)
    held = _Held()
    agent.registry.register(held)  # after the device collectors: the scrape has read them, then waits here
    server = HttpServer(agent.registry, ApiHandlers())
    host, port = server.start("127.0.0.1", 0)
    bodies: list[bytes] = []
    scrape = threading.Thread(target=lambda: bodies.append(_get(f"http://{host}:{port}/metrics")[0]))
    try:
        scrape.start()
        assert held.inside.wait(60)
        # the scrape is in progress on another thread: every device is polled and the site ticks regardless
        asyncio.run(asyncio.wait_for(agent.poll_all_once(), 60))
        assert set(agent.state.snapshots) == {d.name for d in cfg.devices}
        assert not scrape.is_alive() or not bodies  # still held: nothing waited for it
        held.release.set()
        scrape.join(60)
        assert bodies and b"test_held" in bodies[0]
        after, _ = _get(f"http://{host}:{port}/metrics")
        assert b'pue_device_up{device="ups-a",profile="rfc1628-ups",role="ups",zone="hall-1"} 1.0' in after
    finally:
        held.release.set()
        server.stop()


def test_the_agent_renders_each_poll_once_and_scrapes_equal_prometheus_client() -> None:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    client = FakeSnmpClient({"1.3.6.1.2.1.33.1.4.4.1.4.1": ("integer", 30_000)})
    agent = Agent(cfg, profiles, client=client)
    asyncio.run(agent.poll_all_once())
    assert agent.series.renders == len(cfg.devices)  # rendered as each poll completed, by the observer
    text = _same(agent.registry)
    assert agent.series.renders == len(cfg.devices)  # the scrapes rendered nothing
    assert 'pue_device_up{device="ups-a",profile="rfc1628-ups",role="ups",zone="hall-1"} 1.0' in text


def test_polls_without_scrapes_keep_no_old_fragment_alive() -> None:
    """Each poll queues the device's staleness check for the next scrape; a site nobody scrapes must not pile up
    the fragments (and snapshots) of old polls behind those checks (it did: +150 MB at 10,000 devices)."""
    import gc

    from agent.export.device_series import _Fragment

    n = 50
    cfg, state, clock = _site(n)
    series = DeviceSeries(cfg, state)
    for _round in range(30):
        clock.t += 1.0
        for i, dev in enumerate(cfg.devices):
            _poll(cfg, state, dev.name, i, clock.t)
            series.on_snapshot(state.snapshots[dev.name], state)
    gc.collect()
    alive = sum(isinstance(o, _Fragment) for o in gc.get_objects())
    assert alive <= 2 * n, f"{alive} fragments alive for {n} devices"
    assert len(series._expiry) <= 4 * n + 1024
    _same(build_registry(cfg, state, clock, series))  # and a scrape after all that equals prometheus-client's


def test_polls_with_a_clock_that_stands_still_do_not_pile_up_the_staleness_heap() -> None:
    """Polls whose last success does not move (a frozen clock) each queue the same staleness check; dropping the
    replaced ones must drop the repeats too, or the heap stays over its bound and every poll walks all of it."""
    n = 20
    cfg, state, clock = _site(n)
    series = DeviceSeries(cfg, state)
    for _round in range(300):
        for i, dev in enumerate(cfg.devices):
            _poll(cfg, state, dev.name, i, clock.t)
            series.on_snapshot(state.snapshots[dev.name], state)
    assert len(series._expiry) <= 4 * n + 1024
    _same(build_registry(cfg, state, clock, series))


def test_a_poll_never_waits_for_a_scrape_holding_the_parts() -> None:
    """on_snapshot runs in the event loop: while a scrape holds the parts it queues the fragment, it does not
    block (a blocking lock there stalled every poll for the length of a scrape at 10,000 devices)."""
    cfg, state, clock = _site(30)
    series = DeviceSeries(cfg, state)
    registry = build_registry(cfg, state, clock, series)
    _same(registry)
    done = threading.Event()
    with series._lock:  # a scrape in progress
        clock.t += 1.0
        _poll(cfg, state, "dev-0001", 1, clock.t, (Reading("active_power_w", 4321.0, (("feed", "B"),)),))
        polled = threading.Thread(target=lambda: (series.on_snapshot(state.snapshots["dev-0001"], state), done.set()))
        polled.start()
        assert done.wait(30), "on_snapshot waited for the scrape's lock"
        assert series._pending  # queued for the scrape (or the next poll) to put in
    polled.join(30)
    text = _same(registry)
    assert 'feed="B"' in text and " 4321.0\n" in text
    assert not series._pending


@pytest.mark.parametrize(
    "value",
    [
        0.0,
        -0.0,
        1.0,
        -1.0,
        0.1,
        1e-7,
        5e-324,
        123456.7,
        999999.9,
        999999.9999999999,
        1e6,
        1000000.5,
        1234567.0,
        1.7808e9,
        1780800000.123,
        1e15,
        1e16,
        1.2e22,
        -1e6,
        -1234567.0,
        -1e22,
        3,
        0,
        -7,
        10**7,
        math.inf,
        -math.inf,
        math.nan,
        1.7976931348623157e308,
    ],
)
def test_float_text_is_prometheus_clients(value: float) -> None:
    assert float_text(value) == floatToGoString(value)
