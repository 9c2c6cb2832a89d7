"""BACnet/IP end to end on loopback: the agent's adapter against real bacpypes3 devices (the twin's).

One module (over 400 lines): every case shares the one twin this module starts (starting one per file costs seconds).

One twin per module, on its own event loop in a thread: a Carrier 19XRV plant controller, a Liebert CW
CRAH and two power meters (a test profile), each a bacpypes3 device on its own UDP port. Reads match what
the devices serve, one ReadPropertyMultiple per device; a write goes at priority 8 and changes the plant's
setpoint, a revert relinquishes priority 8 (the relinquish-default comes back, the old value is never
written); an out-of-range write never reaches the wire; an unknown object, a silent device and a
reliability fault each give a clear error or an unreadable point, and an invalid PUE, never a wrong one.
"""

from __future__ import annotations

import asyncio
import json
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest

from agent.config.site import SiteConfig, load_config
from agent.control.actuator import SetpointActuator
from agent.devices.bacnet.adapter import BacnetDevices
from agent.devices.profiles import DEFAULT_PROFILE_DIR, ProfileRegistry, load_profiles
from agent.devices.reader import ByProtocol
from agent.errors import ConfigError, WriteGuardError
from agent.export.collectors import build_registry
from agent.site.poller import AgentState, Poller, SiteAccountant
from twin.serve.bacnet import BacnetServedDevice

pytestmark = pytest.mark.e2e

HOST = "127.0.0.1"

METER_PROFILE = """\
name: test-bacnet-meter
description: a power meter on a BACnet/IP controller (test profile)
source: test profile (tests/bacnet/test_bacnet_e2e.py)
kind: utility_meter
protocol: bacnet
objects:
  - quantity: active_power_w
    bacnet: {object_type: analog-input, instance: 1, units: kilowatts}   # AI 1 total active power (kW)
    scale: 1000
    valid_min: 0
    valid_max: 10000000
  - quantity: voltage_v
    bacnet: {object_type: analog-input, instance: 2, units: volts}   # AI 2 voltage (V)
    valid_min: 0
    valid_max: 1000
"""

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]

#: canonical values the devices serve
PLANT: Values = {("chw_supply_temp_c", ()): 7.0, ("chw_return_temp_c", ()): 12.5, ("chw_supply_setpoint_c", ()): 6.5}
CRAH: Values = {("return_air_temp_c", ()): 30.0, ("return_air_setpoint_c", ()): 27.0}


def _meter(power_w: float) -> Values:
    return {("active_power_w", ()): power_w, ("voltage_v", ()): 230.0}


class Twin:
    """The twin's BACnet devices on an event loop of their own (one per module), driven from the tests."""

    def __init__(self, registry: ProfileRegistry) -> None:
        self.loop = asyncio.new_event_loop()
        self.thread = threading.Thread(target=self.loop.run_forever, daemon=True)
        self.thread.start()
        self.setpoints: list[tuple[str, str, float]] = []
        self.devices: dict[str, BacnetServedDevice] = {}
        for instance, (name, profile) in enumerate(
            [
                ("plant", "carrier-19xrv-bacnet"),
                ("crah", "liebert-cw-intellislot-bacnet"),
                ("meter", "test-bacnet-meter"),
                ("it-meter", "test-bacnet-meter"),
            ],
            start=1001,
        ):
            device = BacnetServedDevice(name, registry[profile], HOST, 0, instance, self._on_setpoint(name))
            self.devices[name] = device
            self.call(device.start)
            self.call(device.ready)
        self.publish("plant", PLANT)
        self.publish("crah", CRAH)
        self.publish("meter", _meter(150_000.0))
        self.publish("it-meter", _meter(100_000.0))

    def _on_setpoint(self, name: str) -> Callable[[str, float], None]:
        return lambda quantity, value: self.setpoints.append((name, quantity, value))

    def call(self, fn: Callable[..., Any], *args: Any) -> Any:
        async def run() -> Any:
            result = fn(*args)
            return await result if asyncio.iscoroutine(result) else result

        return asyncio.run_coroutine_threadsafe(run(), self.loop).result(10)

    def publish(self, name: str, values: Values) -> None:
        self.call(self.devices[name].publish, values, 0.0)

    def requests(self, name: str, kind: str) -> int:
        app = self.devices[name].app
        assert app is not None
        return int(app.requests[kind])

    def port(self, name: str) -> int:
        return self.devices[name].port

    def close(self) -> None:
        for device in self.devices.values():
            self.call(device.close)
        self.loop.call_soon_threadsafe(self.loop.stop)
        self.thread.join(5)
        self.loop.close()


@pytest.fixture(scope="module")
def registry(tmp_path_factory: pytest.TempPathFactory) -> ProfileRegistry:
    extra = tmp_path_factory.mktemp("profiles")
    (extra / "test-bacnet-meter.yaml").write_text(METER_PROFILE)
    return load_profiles([DEFAULT_PROFILE_DIR, extra])


@pytest.fixture(scope="module")
def twin(registry: ProfileRegistry) -> Iterator[Twin]:
    served = Twin(registry)
    try:
        yield served
    finally:
        served.close()


def _site(
    tmp_path: Path,
    twin: Twin,
    registry: ProfileRegistry,
    *,
    plant: str = "",
    meter_port: int | None = None,
    meter_timeout_s: float = 5.0,
) -> SiteConfig:
    # generous timeouts (a loaded machine answers late); only the silent-device case waits for one

    text = f"""
site: {{name: bacnet-e2e}}
poll_interval_s: 10
pue_window_s: 60
devices:
  - {{name: meter, address: {HOST}, port: {meter_port or twin.port("meter")}, profile: test-bacnet-meter,
     role: utility_meter, timeout_s: {meter_timeout_s}, retries: 1}}
  - {{name: it-meter, address: {HOST}, port: {twin.port("it-meter")}, profile: test-bacnet-meter,
     role: other_meter, timeout_s: 5.0, retries: 1}}
  - {{name: plant, address: {HOST}, port: {twin.port("plant")}, profile: carrier-19xrv-bacnet, role: chiller_plant,
     timeout_s: 5.0, retries: 1{plant}}}
  - {{name: crah, address: {HOST}, port: {twin.port("crah")}, profile: liebert-cw-intellislot-bacnet,
     role: cooling_unit, timeout_s: 5.0, retries: 1}}
topology:
  it_category: 2
  facility: [{{device: meter}}]
  it: [{{device: it-meter}}]
"""
    path = tmp_path / f"site-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text)
    cfg, _ = load_config(path, registry)
    return cfg


def test_reads_match_what_the_devices_serve_one_request_per_device(
    tmp_path: Path, twin: Twin, registry: ProfileRegistry
) -> None:
    cfg = _site(tmp_path, twin, registry)

    async def main() -> dict[str, Any]:
        adapter = BacnetDevices()
        try:
            return {
                name: await adapter.read(cfg.device(name), registry[cfg.device(name).profile]) for name in twin.devices
            }
        finally:
            await adapter.close()

    before = {name: twin.requests(name, "ReadPropertyMultipleRequest") for name in twin.devices}
    readouts = asyncio.run(main())
    served: dict[str, Values] = {
        "plant": PLANT,
        "crah": CRAH,
        "meter": _meter(150_000.0),
        "it-meter": _meter(100_000.0),
    }
    for name, readout in readouts.items():
        assert readout.problems == (), name
        got = {(r.quantity, r.labels): r.value for r in readout.readings}
        assert got.keys() == served[name].keys(), name
        for key, value in got.items():
            # the plant serves degF as REAL: back to degC within float32's resolution
            assert value == pytest.approx(served[name][key], abs=1e-3), (name, key)
        assert twin.requests(name, "ReadPropertyMultipleRequest") - before[name] == 1, name  # one RPM per device


def _actuator(cfg: SiteConfig, registry: ProfileRegistry, log: Path) -> tuple[SetpointActuator, BacnetDevices]:
    adapter = BacnetDevices()
    return SetpointActuator(cfg, registry, ByProtocol({"bacnet": adapter}, registry), log), adapter


def test_a_write_goes_at_priority_8_and_a_revert_relinquishes_it(
    tmp_path: Path, twin: Twin, registry: ProfileRegistry
) -> None:
    cfg = _site(tmp_path, twin, registry, plant=", bacnet: {writes: true}")
    log = tmp_path / "actions.jsonl"
    plant = twin.devices["plant"]

    async def main() -> tuple[Any, Any, Any, Any, Any]:
        actuator, adapter = _actuator(cfg, registry, log)
        try:
            assert [d.name for d in actuator.targets("chw_supply_setpoint_c")] == ["plant"]
            assert actuator.targets("return_air_setpoint_c") == []  # the CRAH is not configured for writes
            applied = await actuator.write(cfg.device("plant"), "chw_supply_setpoint_c", 8.0, kind="apply", reason="t")
            during = (
                twin.call(plant.commanded_priority, "chw_supply_setpoint_c"),
                twin.call(plant.setpoint, "chw_supply_setpoint_c"),
            )
            # the value the plant ran at before (7.0 here) is recorded, never written back
            reverted = await actuator.write(
                cfg.device("plant"), "chw_supply_setpoint_c", 7.0, kind="revert", reason="r"
            )
            after = (
                twin.call(plant.commanded_priority, "chw_supply_setpoint_c"),
                twin.call(plant.setpoint, "chw_supply_setpoint_c"),
            )
            return applied, during, reverted, after, twin.requests("plant", "WritePropertyRequest")
        finally:
            await adapter.close()

    writes_before = twin.requests("plant", "WritePropertyRequest")
    twin.setpoints.clear()
    applied, during, reverted, after, writes_after = asyncio.run(main())
    assert applied.result == "ok" and applied.after == pytest.approx(8.0, abs=0.03), applied
    assert during[0] == 8 and during[1] == pytest.approx(8.0, abs=0.03)  # commanded at priority 8
    assert reverted.result == "ok", reverted
    assert after == (None, pytest.approx(6.5, abs=1e-3))  # relinquished: back to the relinquish-default
    assert reverted.after == pytest.approx(6.5, abs=1e-3) and reverted.requested == 7.0
    assert writes_after - writes_before == 2  # the write and the NULL: nothing else
    assert [q for _, q, _ in twin.setpoints] == ["chw_supply_setpoint_c"] * 2  # the plant followed both
    records = [json.loads(line) for line in log.read_text().splitlines()]
    assert [r["kind"] for r in records] == ["apply", "revert"]
    assert all("BACnet priority 8 (manual operator)" in r["reason"] for r in records)  # never silently
    assert "relinquished" in records[1]["reason"]


def test_an_out_of_range_write_is_refused_before_the_wire(
    tmp_path: Path, twin: Twin, registry: ProfileRegistry
) -> None:
    cfg = _site(tmp_path, twin, registry, plant=", bacnet: {writes: true}")

    async def main() -> None:
        actuator, adapter = _actuator(cfg, registry, None)  # type: ignore[arg-type]
        try:
            for value in (25.0, 2.0, float("nan")):
                with pytest.raises(WriteGuardError):
                    await actuator.write(cfg.device("plant"), "chw_supply_setpoint_c", value, kind="apply", reason="t")
        finally:
            await adapter.close()

    before = twin.requests("plant", "WritePropertyRequest"), twin.requests("plant", "ReadPropertyMultipleRequest")
    asyncio.run(main())
    after = twin.requests("plant", "WritePropertyRequest"), twin.requests("plant", "ReadPropertyMultipleRequest")
    assert after == before  # not even a read: the guard refused before any packet


@pytest.mark.parametrize(
    ("settings", "message"),
    [
        ("{writes: true, write_priority: 5}", "outranks manual operator"),
        ("{writes: true, write_priority: 1, allow_priority_above_manual_operator: true}", "life safety"),
        ("{writes: true, write_priority: 6, allow_priority_above_manual_operator: true}", "minimum on/off"),
    ],
)
def test_priorities_above_manual_operator_need_saying_and_life_safety_is_never_ours(
    tmp_path: Path, twin: Twin, registry: ProfileRegistry, settings: str, message: str
) -> None:
    with pytest.raises(ConfigError, match=message):
        _site(tmp_path, twin, registry, plant=f", bacnet: {settings}")
    with pytest.raises(ConfigError, match="speaks bacnet, which has no credentials"):  # BACnet has none
        _site(tmp_path, twin, registry, plant=", credentials: ro")
    cfg = _site(
        tmp_path,
        twin,
        registry,
        plant=", bacnet: {writes: true, write_priority: 5, allow_priority_above_manual_operator: true}",
    )
    settings_ok = cfg.device("plant").bacnet
    assert settings_ok is not None and settings_ok.write_priority == 5


class _Site:
    """The agent's poller and accountant over the BACnet adapter, on a fake clock."""

    def __init__(self, cfg: SiteConfig, profiles: ProfileRegistry) -> None:
        self.t = 1_000_000.0
        self.state = AgentState()
        self.adapter = BacnetDevices()
        self.devices = ByProtocol({"bacnet": self.adapter}, profiles)
        self.poller = Poller(cfg, profiles, self.devices, self.state, self.clock)
        self.accountant = SiteAccountant(cfg, self.state, self.clock)

    def clock(self) -> float:
        return self.t


@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        ("unknown-object", "exception", "error object: unknown-object"),
        ("silent", "timeout", "no answer within 0.3 s x 2 tries"),
        ("reliability", None, "reliability unreliable-other"),
    ],
)
def test_a_bad_answer_gives_a_clear_error_and_an_invalid_pue_never_a_wrong_one(
    tmp_path: Path, twin: Twin, registry: ProfileRegistry, fault: str, kind: str | None, message: str
) -> None:
    good = _site(tmp_path, twin, registry)
    # the CRAH's port speaks BACnet but has none of the meter's objects: every one is unknown-object
    bad = {
        "unknown-object": _site(tmp_path, twin, registry, meter_port=twin.port("crah")),
        "silent": _site(tmp_path, twin, registry, meter_timeout_s=0.3),
    }.get(fault, good)

    async def main() -> tuple[Any, ...]:
        site = _Site(good, registry)
        states = []
        try:
            for cycle in range(2):
                if cycle == 1:
                    site.poller = Poller(bad, registry, site.devices, site.state, site.clock)
                    if fault == "silent":
                        twin.call(twin.devices["meter"].stop)
                    if fault == "reliability":
                        twin.call(twin.devices["meter"].fault, "active_power_w")
                snaps = [await site.poller.poll(name) for name in ("meter", "it-meter")]
                states.append(site.accountant.tick())
                site.t += 10.0
        finally:
            twin.call(twin.devices["meter"].start)
            twin.call(twin.devices["meter"].fault, "active_power_w", "no-fault-detected")
            await site.adapter.close()
        return states, snaps, build_registry(good, site.state, site.clock)

    states, snaps, exposition = asyncio.run(main())
    assert states[0].live.value == pytest.approx(1.5, rel=1e-4)  # the meters work: 150 kW / 100 kW
    meter, it_meter = snaps
    assert it_meter.ok
    assert states[1].live.value is None and states[1].live.reason  # invalid, with the reason: never a number
    from prometheus_client import generate_latest

    text = generate_latest(exposition).decode()
    if kind is None:  # the device answers, the point is unreadable: up, with the problem named
        assert meter.ok
        assert any(message in p for p in meter.problems), meter.problems
        assert "active_power_w" not in {r.quantity for r in meter.readings}
        return
    assert not meter.ok and meter.error_kind == kind, (meter.error_kind, meter.error)
    assert message in (meter.error or "")
    up = [line for line in text.splitlines() if line.startswith("pue_device_up{") and 'device="meter"' in line]
    assert up and up[0].endswith(" 0.0"), up
    errors = [line for line in text.splitlines() if line.startswith("pue_device_poll_errors_total{")]
    assert any(f'kind="{kind}"' in line and 'device="meter"' in line for line in errors), errors


def test_discover_lists_the_objects_and_drafts_a_profile_that_loads(twin: Twin) -> None:
    import yaml

    from agent.devices.bacnet.discover import discover, draft_profile
    from agent.devices.profiles import Profile

    found = asyncio.run(discover(HOST, twin.port("meter"), timeout_s=2.0))
    assert [d.instance for d in found] == [1003]
    objects = {(t, i): units for t, i, _name, units in found[0].objects}
    assert objects == {("analog-input", 1): "kilowatts", ("analog-input", 2): "volts"}
    draft = Profile.model_validate(yaml.safe_load(draft_profile("draft-meter", found[0])))
    assert [(o.quantity, o.scale) for o in draft.objects] == [("active_power_w", 1000.0), ("voltage_v", 1.0)]
    plant = asyncio.run(discover(HOST, twin.port("plant"), timeout_s=2.0))
    assert {(t, i) for t, i, _n, _u in plant[0].objects} == {
        ("analog-value", 24),
        ("analog-value", 17),
        ("analog-value", 26),
    }


def test_pue_agent_read_reads_a_bacnet_device_by_url(twin: Twin, capsys: pytest.CaptureFixture[str]) -> None:
    from agent.app.cli import main

    url = f"bacnet://{HOST}:{twin.port('plant')}"
    assert main(["read", url, "--profile", "carrier-19xrv-bacnet", "--format", "json", "--timeout", "5"]) == 0
    out = json.loads(capsys.readouterr().out)
    got = {r["quantity"]: r["value"] for r in out["readings"]}
    assert got["chw_return_temp_c"] == pytest.approx(12.5, abs=1e-3)
    assert main(["read", url, "--profile", "janitza-umg"]) == 2  # an SNMP profile: a usage error
    assert main(["read", url]) == 2  # no detection over BACnet: --profile is required
