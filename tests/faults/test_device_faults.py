"""Fault injection end to end: one agent polls the demo site (7 healthy simulated devices) plus one
victim device per fault, all over real UDP on loopback, for a few poll intervals.

One module (over 400 lines): every test reads the one shared fault run (module fixture), which takes most of the time.

For every fault: the healthy devices keep their schedule; the failure is exported
(``pue_device_up``, ``pue_device_poll_errors_total{kind}``, ``pue_device_unreadable_objects``) and
logged once, not once per poll; the site PUE is invalid (naming the victim) rather than wrong;
nothing the history store holds is lost.
"""

from __future__ import annotations

import asyncio
import itertools
import logging
import math
import re
import statistics
import sys
from collections import Counter
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

from agent.app.runtime import Agent
from agent.config.site import DeviceConfig, TopologyTerm, V2cCredentials, load_config
from agent.devices.profiles import Profile, ProfileRegistry
from agent.devices.readings import DeviceSnapshot
from agent.history import HistoryWriter, SqliteHistoryStore
from agent.site.poller import AgentState, SiteState
from twin.serve.device import ProfiledDevice, plausible_defaults
from twin.serve.responder import SimulatedAgent
from twin.serve.site import MinimalSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
sys.path.append(str(Path(__file__).resolve().parent))
from logutil import ListHandler  # noqa: E402
from netutil import free_port, free_udp_range, sample, scrape  # noqa: E402
from rawsnmp import RawSnmpResponder, integer, octets, oid, serve  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent
INTERVAL_S = 1.0
RUN_S = 7.0

#: every fault this suite injects (one victim device each); asserted below so the count is recorded
FAULT_KINDS = [
    "timeout",  # nothing answers on the device's port
    "wrong-community",  # v2c community the device does not know: silence
    "wrong-v3-key",  # SNMPv3 user known, auth key wrong: USM report wrongDigest
    "garbage",  # junk bytes instead of an SNMP message
    "truncated",  # a valid response cut in half (truncated BER)
    "wrong-request-id",  # a well-formed response to a request never sent
    "wrong-type",  # OCTET STRING where the profile expects INTEGER
    "no-such",  # noSuchObject / noSuchInstance for the profile's objects
    "out-of-range",  # negative power, 600 C battery
    "counter-wrap",  # an energy counter wrapping at its modulus
    "counter-reset",  # an energy counter going back to zero
    "flapping",  # a device that keeps dropping off and coming back
    "zero-length-integer",  # ServerTech: INTEGER with no content octets (02 00) in GETBULK
    "clock-jump",  # the wall clock jumping forward and back (tests/faults/test_clock.py)
    "history-read-only",  # the history database turning read-only (test_history_faults.py)
    "history-disk-full",  # the disk under the history database filling up (test_history_faults.py)
]

#: victims whose power must be missing from the site sum (the PUE names them as missing data)
IN_TOPOLOGY = [
    "timeout",
    "wrong-community",
    "wrong-v3-key",
    "garbage",
    "truncated",
    "wrong-request-id",
    "wrong-type",
    "no-such",
    "out-of-range",
]
#: how each failing victim's error is exported
ERROR_KIND = {
    "timeout": "timeout",
    "wrong-community": "timeout",
    "wrong-v3-key": "auth",
    "garbage": "timeout",
    "truncated": "timeout",
    "wrong-request-id": "timeout",
}
#: victims that answer, but with objects the profile cannot use
UNREADABLE = ["wrong-type", "no-such", "out-of-range"]

V3_RO = ("pue-demo", "sha256", "demo-auth-key-0001", "aes128", "demo-priv-key-0001")


def test_fault_kinds_recorded() -> None:
    assert len(FAULT_KINDS) == len(set(FAULT_KINDS)) == 16
    print(f"\nfault kinds covered: {len(FAULT_KINDS)}: {', '.join(FAULT_KINDS)}")


@dataclass
class Run:
    """What one fault run observed."""

    scrapes: list[str] = field(default_factory=list)
    snapshots: list[DeviceSnapshot] = field(default_factory=list)
    scrape_spans: list[tuple[int, int]] = field(default_factory=list)  # len(snapshots) before/after each scrape
    records: list[logging.LogRecord] = field(default_factory=list)
    state: AgentState | None = None
    stored_polls: dict[str, int] = field(default_factory=dict)
    site_pue: list[float | None] = field(default_factory=list)
    truth: list[float] = field(default_factory=list)

    def ok_polls(self, device: str) -> list[DeviceSnapshot]:
        return [s for s in self.snapshots if s.device == device and s.ok]

    def polls(self, device: str) -> list[DeviceSnapshot]:
        return [s for s in self.snapshots if s.device == device]

    def warnings(self, device: str) -> list[str]:
        return [
            r.getMessage()
            for r in self.records
            if r.levelno >= logging.WARNING and r.getMessage().startswith(f"device {device}:")
        ]


class _Recorder:
    def __init__(self, run: Run) -> None:
        self.run = run

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        self.run.snapshots.append(snapshot)

    def on_site(self, site: SiteState, state: AgentState) -> None:
        self.run.site_pue.append(site.live.value)


def _profiled(
    name: str,
    profile: Profile,
    port: int,
    community: str = "public",
    v3: tuple[str, str, str, str, str] | None = None,
    power_w: float = 20_000.0,
) -> ProfiledDevice:
    device = ProfiledDevice(name, profile, SimulatedAgent("127.0.0.1", port, community, v3))
    device.publish({}, 0.0, plausible_defaults(power_w))
    return device


def _oids_of(device: ProfiledDevice, quantity: str) -> list[tuple[int, ...]]:
    """The instances ``publish`` wrote for ``quantity`` (every index label "1")."""
    keys = []
    for obj in device.profile.objects:
        if obj.quantity == quantity:
            labels = {p.label: "1" for p in obj.index if p.label is not None}
            keys.append(tuple(int(p) for p in obj.instance_oid({**obj.labels, **labels}).split(".")))
    return [k for k in keys if k in device.agent.mib.values]


def _build(profiles: ProfileRegistry, base: int) -> tuple[list[DeviceConfig], dict[str, Any], list[Callable[[], Any]]]:
    """Victim devices, their simulated/raw responders (by name) and per-tick mutators."""
    devices: list[DeviceConfig] = []
    responders: dict[str, Any] = {}
    tickers: list[Callable[[], Any]] = []

    def dev(name: str, port: int, profile: str, credentials: str, role: str = "ups", timeout_s: float = 0.3) -> None:
        devices.append(
            DeviceConfig(
                name=name,
                address="127.0.0.1",
                port=port,
                credentials=credentials,
                profile=profile,
                role=role,
                zone="faults",
                timeout_s=timeout_s,
                retries=0,
            )
        )

    ups, pdu, raritan = profiles["rfc1628-ups"], profiles["apc-rpdu2"], profiles["raritan-pdu2"]
    port = iter(range(base, base + 100))
    dev("timeout", next(port), "rfc1628-ups", "demo-v3")
    p = next(port)
    dev("wrong-community", p, "apc-rpdu2", "wrong-v2c", role="pdu")
    responders["wrong-community"] = _profiled("wrong-community", pdu, p, community="demo-community-ro")
    p = next(port)
    dev("wrong-v3-key", p, "rfc1628-ups", "demo-v3")
    responders["wrong-v3-key"] = _profiled("wrong-v3-key", ups, p, v3=(*V3_RO[:2], "another-auth-key-9", *V3_RO[3:]))
    good_v2c_mib = _profiled("template", pdu, next(port)).agent.mib
    raw_mib = {".".join(map(str, k)): _encode(kind, value) for k, (kind, value) in good_v2c_mib.values.items()}
    for name in ("garbage", "truncated", "wrong-request-id"):
        p = next(port)
        dev(name, p, "apc-rpdu2", "demo-v2c", role="pdu")
        responders[name] = RawSnmpResponder("demo-community-ro", raw_mib, name.replace("-", "_"))  # type: ignore[arg-type]
    for name in ("wrong-type", "no-such", "out-of-range", "flapping"):
        p = next(port)
        # the bad-value victims answer: like the healthy devices they get 0.9 s, so one slow SNMPv3 round on a
        # busy machine is not a second fault logged (seen in a full run: out-of-range timed out once at 0.3 s)
        dev(name, p, "rfc1628-ups", "demo-v3", timeout_s=0.3 if name == "flapping" else 0.9)
        responders[name] = _profiled(name, ups, p, v3=V3_RO)
    mib = responders["wrong-type"].agent.mib
    for key in _oids_of(responders["wrong-type"], "active_power_w"):
        mib.values[key] = ("octets", b"19000")  # an OCTET STRING where UPS-MIB has an INTEGER
    mib = responders["no-such"].agent.mib
    for key in _oids_of(responders["no-such"], "active_power_w") + _oids_of(responders["no-such"], "battery_temp_c"):
        del mib.values[key]
        mib._order.remove(key)
    mib = responders["out-of-range"].agent.mib
    for key in _oids_of(responders["out-of-range"], "active_power_w"):
        mib.values[key] = ("integer", -5000)  # negative power
    for key in _oids_of(responders["out-of-range"], "battery_temp_c"):
        mib.values[key] = ("integer", 600)  # 600 C

    # energy counters: Raritan's Gauge32 Wh register wraps at 2^32; APC's 0.1 kWh register resets
    p = next(port)
    # the counter devices answer well: like the healthy ones they get 0.9 s, so a busy machine's slow round
    # is not a poll failure (the test expects none); the fault is in their registers, not their replies
    dev("counter-wrap", p, "raritan-pdu2", "demo-v2c", role="pdu", timeout_s=0.9)
    wrap = responders["counter-wrap"] = _profiled("counter-wrap", raritan, p, community="demo-community-ro")
    p = next(port)
    dev("counter-reset", p, "apc-rpdu2", "demo-v2c", role="pdu", timeout_s=0.9)
    reset = responders["counter-reset"] = _profiled("counter-reset", pdu, p, community="demo-community-ro")
    inlet = (("inlet", "1"), ("pdu", "1"))
    wrap.publish({("active_power_w", inlet): 5_000.0, ("energy_j", inlet): 3.6e9}, 0.0, plausible_defaults(5_000.0))
    wrap_keys = _oids_of(wrap, "energy_j")
    # PX3 firmware reports energy in whole Wh (decimal digits 0), so the register wraps at 2^32 Wh
    energy_obj = next(o for o in raritan.objects if o.quantity == "energy_j")
    assert energy_obj.decimals_column is not None and wrap_keys
    suffix = wrap_keys[0][len(energy_obj.column.split(".")) if energy_obj.column else 0 :]
    wrap.agent.mib.set(".".join(map(str, (*map(int, energy_obj.decimals_column.split(".")), *suffix))), "gauge32", 0)
    reset.publish({("active_power_w", (("pdu", "1"),)): 5_000.0, ("energy_j", (("pdu", "1"),)): 1.8e10}, 0.0)
    reset_keys = _oids_of(reset, "energy_j")
    assert reset_keys
    step = {"n": 0}

    def advance_counters() -> None:
        n = step["n"] = step["n"] + 1
        # counting no faster than the profiles' ceiling power allows (raritan-pdu2 300 kW, apc-rpdu2 100 kW):
        # a faster register is a glitch, not counted
        for k in wrap_keys:  # 2^32 - 30 Wh, +5 Wh per 0.5 s tick (36 kW): wraps after 6 ticks
            wrap.agent.mib.values[k] = ("gauge32", (2**32 - 30 + 5 * n) % 2**32)
        for k in reset_keys:  # 0.1 kWh units, one step per 4 s (90 kW); a reset (power cycle, operator) after 6 ticks
            reset.agent.mib.values[k] = ("integer", 50_000 + n // 8 if n < 6 else (n - 6) // 8)

    tickers.append(advance_counters)
    flap = responders["flapping"].agent

    def flap_device() -> None:
        # down for 1.5 s out of every 3 s (ticks are 0.5 s)
        if (step["n"] // 3) % 2 == 1:
            flap.stop()
        elif not flap.running:
            flap.start()

    tickers.append(flap_device)
    return devices, responders, tickers


def _encode(kind: str, value: Any) -> bytes:
    from rawsnmp import unsigned

    if kind == "integer":
        return integer(int(value))
    if kind == "octets":
        return octets(bytes(value))
    if kind == "oid":
        return oid(str(value))
    tag = {"gauge32": 0x42, "counter32": 0x41, "counter64": 0x46, "timeticks": 0x43}[kind]
    return unsigned(int(value), tag)


@pytest.fixture(scope="module")
def fault_run(tmp_path_factory: pytest.TempPathFactory) -> Run:
    cfg, profiles = load_config(ROOT / "configs" / "demo-site.yaml")
    base = free_udp_range(len(cfg.devices) + 20)
    # healthy devices answer at once; 0.9 s (under the 1 s interval) only keeps a busy machine's first round,
    # with every engine starting together, from timing out (0.3 s did under load, on old and new code alike)
    healthy = tuple(
        d.model_copy(update={"port": base + i, "timeout_s": 0.9, "retries": 0}) for i, d in enumerate(cfg.devices)
    )
    victims, responders, tickers = _build(profiles, base + len(cfg.devices))
    creds = dict(cfg.credentials)
    creds["wrong-v2c"] = V2cCredentials(version="2c", community="not-the-community")  # type: ignore[arg-type]
    it = (*cfg.topology.it, *(TopologyTerm(device=v) for v in IN_TOPOLOGY))
    cfg = cfg.model_copy(
        update={
            "devices": (*healthy, *victims),
            "poll_interval_s": INTERVAL_S,
            "credentials": creds,
            "topology": cfg.topology.model_copy(update={"it": it}),
            "listen": cfg.listen.model_copy(update={"port": free_port()}),
        }
    )
    history = tmp_path_factory.mktemp("faults") / "history.sqlite"
    run = Run()
    handler = ListHandler(run.records)
    logging.getLogger("agent").addHandler(handler)
    logging.getLogger("agent").setLevel(logging.INFO)

    async def scenario() -> None:
        site = MinimalSite(cfg.model_copy(update={"devices": healthy}), profiles)
        async with site.serving(tick_s=0.2):
            transports = []
            for name, responder in responders.items():
                if isinstance(responder, RawSnmpResponder):
                    port = cfg.device(name).port
                    transports.append(await serve("127.0.0.1", port, responder))
                else:
                    responder.agent.start()
            writer = HistoryWriter(SqliteHistoryStore(history), cfg)
            agent = Agent(cfg, profiles, observers=[writer, _Recorder(run)])
            host, port = agent.start_http()
            agent.start_scheduler()
            loop = asyncio.get_running_loop()
            start = loop.time()
            try:
                while loop.time() - start < RUN_S:
                    for tick in tickers:
                        tick()
                    seen = len(run.snapshots)
                    run.scrapes.append(await asyncio.to_thread(scrape, f"http://{host}:{port}/metrics"))
                    run.scrape_spans.append((seen, len(run.snapshots)))
                    run.truth.append(site.truth.pue)
                    await asyncio.sleep(0.5)
            finally:
                await agent.stop()
                writer.close()
                for t in transports:
                    t.close()
                for responder in responders.values():
                    if not isinstance(responder, RawSnmpResponder):
                        responder.agent.close()
        run.state = agent.state

    try:
        asyncio.run(scenario())
    finally:
        logging.getLogger("agent").removeHandler(handler)
    with SqliteHistoryStore(history, readonly=True) as store:
        run.stored_polls = store.poll_counts(0, math.inf, ok_only=True)
    return run


HEALTHY = ["meter-main", "ups-a", "ups-b", "pdu-r01", "pdu-r02", "pdu-r03", "pdu-r04"]


def test_healthy_devices_keep_their_schedule(fault_run: Run) -> None:
    last = fault_run.scrapes[-1]
    for device in HEALTHY:
        polls = fault_run.ok_polls(device)
        assert len(polls) >= RUN_S / INTERVAL_S - 2, (device, len(polls))
        assert len(fault_run.polls(device)) == len(polls), f"{device} had failures"
        gaps = [b.timestamp_s - a.timestamp_s for a, b in itertools.pairwise(polls)]
        # after the first round (engines and v3 discovery for every device start at once), a victim's
        # timeout never delays a healthy device's poll: one held up behind a victim's 0.9 s timeout would be late
        # at every round. A busy machine may start one poll late (a CI run with the other core loaded had gaps
        # of 1.79 and then 0.21 s: the device keeps its phase), so the gaps are judged by their median and by
        # how many are late, not by the largest
        assert statistics.median(gaps[1:]) == pytest.approx(INTERVAL_S, abs=0.15), (device, gaps)
        assert sum(g >= INTERVAL_S + 0.5 for g in gaps[1:]) <= 2, (device, gaps)
        assert sample(last, "pue_device_up", device=device) == 1.0
        assert sample(last, "pue_device_active_power_watts", device=device) is not None


@pytest.mark.parametrize("victim", list(ERROR_KIND))
def test_unreachable_victim_is_down_with_error_kind_and_logged_once(fault_run: Run, victim: str) -> None:
    last = fault_run.scrapes[-1]
    kind = ERROR_KIND[victim]
    assert sample(last, "pue_device_up", device=victim) == 0.0
    assert sample(last, "pue_device_poll_errors_total", device=victim, kind=kind) >= 3
    assert sample(last, "pue_device_active_power_watts", device=victim) is None  # no zeros for missing data
    assert {s.error_kind for s in fault_run.polls(victim)} == {kind}
    warnings = fault_run.warnings(victim)
    assert len(warnings) == 1, warnings
    assert "poll failed" in warnings[0] and f"({kind})" in warnings[0]


@pytest.mark.parametrize("victim", UNREADABLE)
def test_bad_values_are_unreadable_objects_not_numbers(fault_run: Run, victim: str) -> None:
    last = fault_run.scrapes[-1]
    assert sample(last, "pue_device_up", device=victim) == 1.0  # it answers: only some objects are bad
    assert sample(last, "pue_device_unreadable_objects", device=victim) >= 1
    assert sample(last, "pue_device_active_power_watts", device=victim) is None
    battery = sample(last, "pue_device_battery_temperature_celsius", device=victim)
    assert battery is None if victim in ("no-such", "out-of-range") else battery == 24.0
    warnings = fault_run.warnings(victim)
    assert len(warnings) == 1 and "unreadable" in warnings[0], warnings


def test_site_pue_is_invalid_and_names_every_victim(fault_run: Run) -> None:
    assert all(value is None for value in fault_run.site_pue[2:])
    last = fault_run.scrapes[-1]
    assert sample(last, "pue_site_realtime_pue") is None
    assert sample(last, "pue_site_pue_valid", kind="realtime") == 0.0
    from prometheus_client.parser import text_string_to_metric_families

    reasons = [
        s.labels["reason"]
        for f in text_string_to_metric_families(last)
        for s in f.samples
        if s.name == "pue_site_pue_invalid_info" and s.labels["kind"] == "realtime"
    ]
    assert len(reasons) == 1 and reasons[0].startswith("missing data from: ")
    # a victim that answers with unusable objects is named with the object: "wrong-type (active_power_w ...)"
    named = re.sub(r" \([^()]*\)", "", reasons[0].removeprefix("missing data from: ")).split(", ")
    assert set(named) == set(IN_TOPOLOGY)
    for victim in UNREADABLE:
        assert f"{victim} (active_power_w " in reasons[0] or f"{victim} (1.3.6.1.2.1.33.1.4.4.1.4." in reasons[0]
    assert sample(last, "pue_site_power_watts", boundary="it") is None
    assert sample(last, "pue_site_coverage_ratio", boundary="it") == pytest.approx(2 / (2 + len(IN_TOPOLOGY)))


def test_counters_wrap_and_reset_without_losing_energy(fault_run: Run) -> None:
    for victim, event in (("counter-wrap", "wrap"), ("counter-reset", "reset")):
        totals = [sample(t, "pue_device_energy_joules_total", device=victim) for t in fault_run.scrapes]
        totals = [t for t in totals if t is not None]
        assert len(totals) >= 4 and all(b >= a for a, b in itertools.pairwise(totals)), (victim, totals)
        assert sample(fault_run.scrapes[-1], "pue_device_counter_events_total", device=victim, event=event) == 1
        events = [
            r.getMessage()
            for r in fault_run.records
            if r.getMessage().startswith(f"device {victim}:") and event in r.getMessage()
        ]
        assert len(events) == 1, events
        assert sample(fault_run.scrapes[-1], "pue_device_up", device=victim) == 1.0
    # the wrap keeps the energy across it: 500 Wh per simulator tick, never a jump of 2^32 Wh
    wrap_totals = [sample(t, "pue_device_energy_joules_total", device="counter-wrap") for t in fault_run.scrapes]
    wrap_totals = [t for t in wrap_totals if t is not None]
    assert wrap_totals[-1] - wrap_totals[0] < 500 * 3600 * 2 * (RUN_S / 0.5)


def test_flapping_device_is_logged_per_state_change_not_per_poll(fault_run: Run) -> None:
    polls = fault_run.polls("flapping")
    changes = sum(1 for a, b in itertools.pairwise(polls) if a.ok != b.ok)
    failures = sum(1 for p in polls if not p.ok)
    assert failures >= 2 and changes >= 2, [p.ok for p in polls]
    down = [m for m in fault_run.warnings("flapping") if "poll failed" in m]
    back = [r.getMessage() for r in fault_run.records if r.getMessage().startswith("device flapping: polling again")]
    went_down = sum(1 for a, b in itertools.pairwise(polls) if a.ok and not b.ok)
    went_down += 0 if polls[0].ok else 1  # a first poll that fails is a change too (from unknown)
    assert len(down) == went_down, [p.ok for p in polls]
    assert len(back) == sum(1 for a, b in itertools.pairwise(polls) if not a.ok and b.ok)
    # the last scrape counts the failures of the polls done before it; one finishing during it may be in or out
    seen, after = fault_run.scrape_spans[-1]
    counted = sample(fault_run.scrapes[-1], "pue_device_poll_errors_total", device="flapping", kind="timeout")
    before = sum(1 for p in fault_run.snapshots[:seen] if p.device == "flapping" and not p.ok)
    during = sum(1 for p in fault_run.snapshots[:after] if p.device == "flapping" and not p.ok)
    assert counted is not None and before <= counted <= during, (counted, before, during, failures)


def test_nothing_stored_is_lost(fault_run: Run) -> None:
    for device in [*HEALTHY, "counter-wrap", "counter-reset", "wrong-type", "no-such", "out-of-range"]:
        assert fault_run.stored_polls.get(device, 0) == len(fault_run.ok_polls(device)), device
    for victim in ERROR_KIND:
        assert fault_run.stored_polls.get(victim, 0) == 0


def test_every_fault_is_logged_at_most_once_per_state_change(fault_run: Run) -> None:
    per_device = Counter(r.getMessage().split(":")[0] for r in fault_run.records if r.levelno >= logging.WARNING)
    polls = Counter(s.device for s in fault_run.snapshots)
    for device, count in per_device.items():
        name = device.removeprefix("device ")
        if name != "flapping" and name in polls:
            assert count == 1, (device, count, polls[name])
