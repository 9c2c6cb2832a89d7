"""Modbus TCP end to end on loopback: the agent's adapter against a real pymodbus server (the twin's gateway).

Reads match what the meter serves, in as few requests as the register map allows (counted by the server);
energy registers wrap and reset as SNMP counters do; exception codes, a wrong unit id, a stopped unit and a
silent server each give the device a clear error kind, ``up`` 0, and an invalid PUE, never a wrong one.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
import time
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path
from typing import Any

import pytest

from agent.config.site import SiteConfig, load_config
from agent.devices.modbus.adapter import ModbusDevices
from agent.devices.modbus.registers import plan_reads
from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.reader import ByProtocol
from agent.export.collectors import build_registry
from agent.site.poller import AgentState, Poller, SiteAccountant
from twin.serve.modbus import ModbusGateway, ModbusProfiledDevice

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

pytestmark = pytest.mark.e2e

REGISTRY = load_profiles()
HOST = "127.0.0.1"


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _meter_values(power_w: float, energy_j: float) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    values = {("active_power_w", ()): power_w, ("energy_j", ()): energy_j, ("apparent_power_va", ()): power_w / 0.97}
    for phase in ("L1", "L2", "L3"):
        values[("phase_active_power_w", (("phase", phase),))] = power_w / 3
        values[("current_a", (("phase", phase),))] = power_w / 3 / 230.0
        values[("voltage_v", (("phase", phase),))] = 230.0
    values[("frequency_hz", ())] = 50.0
    return values


@asynccontextmanager
async def _gateway(port: int, units: dict[int, str]) -> AsyncIterator[dict[int, ModbusProfiledDevice]]:
    """A real pymodbus TCP server on loopback with one simulated meter per unit id (profile name)."""
    gateway = ModbusGateway(HOST, port)
    meters = {unit: ModbusProfiledDevice(f"unit-{unit}", REGISTRY[name], gateway, unit) for unit, name in units.items()}
    for meter in meters.values():
        meter.agent.start()
    await gateway.ready()
    try:
        yield meters
    finally:
        for meter in meters.values():
            meter.agent.close()
        await asyncio.sleep(0.05)  # let the server's shutdown task run


@pytest.mark.parametrize("profile", ["janitza-umg96rm-modbus", "schneider-pm5300-modbus", "acrel-dtsd1352-modbus"])
def test_reads_match_what_the_meter_serves_in_as_few_requests_as_the_map_allows(tmp_path: Path, profile: str) -> None:
    cfg = _site(tmp_path, free_port(), meter_profile=profile)
    served = _meter_values(123_456.0, 3.6e9)  # 123.456 kW, 1 000 kWh

    async def main() -> tuple[Any, int, int]:
        port = modbus_port(cfg)
        async with _gateway(port, {1: profile, 2: "acrel-dtsd1352-modbus"}) as meters:
            meters[1].publish(served, 0.0)
            adapter = ModbusDevices()
            try:
                readout = await adapter.read(cfg.device("meter"), REGISTRY[profile])
                first = meters[1].unit.requests
                await adapter.read(cfg.device("meter"), REGISTRY[profile])
                return readout, first, meters[1].unit.requests - first
            finally:
                await adapter.close()

    readout, first, second = asyncio.run(main())
    assert readout.problems == ()
    got = {(r.quantity, r.labels): r.value for r in readout.readings}
    assert set(got) == {(o.quantity, tuple(sorted(o.labels.items()))) for o in REGISTRY[profile].objects}
    for key, value in got.items():
        # float32 keeps 24 bits; the integer registers half their step (1 W or VA, 0.1 V, 0.01 A, 0.01 kWh)
        assert value == pytest.approx(served[key], rel=1e-6, abs=0.51), key
    plan = plan_reads(REGISTRY[profile].objects, REGISTRY[profile].modbus_settings)
    assert first == second == len(plan) < len(REGISTRY[profile].objects)


def test_narrower_spans_cost_more_requests(tmp_path: Path) -> None:
    cfg = _site(tmp_path, free_port(), meter_profile="janitza-umg96rm-modbus")
    narrow = REGISTRY["janitza-umg96rm-modbus"].model_copy(
        update={
            "modbus": REGISTRY["janitza-umg96rm-modbus"].modbus_settings.model_copy(update={"max_gap_registers": 0})
        }
    )

    async def main() -> int:
        async with _gateway(modbus_port(cfg), {1: "janitza-umg96rm-modbus"}) as meters:
            meters[1].publish(_meter_values(1000.0, 3.6e9), 0.0)
            adapter = ModbusDevices()
            try:
                await adapter.read(cfg.device("meter"), narrow)
            finally:
                await adapter.close()
            return meters[1].unit.requests

    assert asyncio.run(main()) == len(plan_reads(narrow.objects, narrow.modbus_settings)) == 6


def modbus_port(cfg: SiteConfig) -> int:
    return cfg.device("meter").port


def _site(tmp_path: Path, gateway: int, *, meter_profile: str = "acrel-dtsd1352-modbus", **meter: Any) -> SiteConfig:
    """Facility meter unit 1 and IT meter unit 2 behind one gateway; ``meter`` overrides the facility meter."""
    fields = {"unit_id": 1, "port": gateway, "profile": meter_profile, **meter}
    text = f"""
site: {{name: modbus-e2e}}
poll_interval_s: 10
pue_window_s: 60
devices:
  - {{name: meter, address: {HOST}, port: {fields["port"]}, unit_id: {fields["unit_id"]}, profile: {fields["profile"]},
     role: utility_meter, timeout_s: 0.3, retries: 1}}
  - {{name: it-meter, address: {HOST}, port: {gateway}, unit_id: 2, profile: acrel-dtsd1352-modbus, role: other_meter,
     timeout_s: 0.3, retries: 1}}
topology:
  it_category: 2
  facility: [{{device: meter}}]
  it: [{{device: it-meter}}]
"""
    path = tmp_path / f"site-{len(list(tmp_path.iterdir()))}.yaml"
    path.write_text(text)
    cfg, _ = load_config(path, REGISTRY)
    return cfg


class _Site:
    """The agent's poller and accountant over the Modbus adapter, on a fake clock."""

    def __init__(self, cfg: SiteConfig, profiles: ProfileRegistry) -> None:
        self.clock = Clock()
        self.state = AgentState()
        self.adapter = ModbusDevices()
        self.devices = ByProtocol({"modbus": self.adapter}, profiles)
        self.poller = Poller(cfg, profiles, self.devices, self.state, self.clock)
        self.accountant = SiteAccountant(cfg, self.state, self.clock)
        self.cfg = cfg


def test_energy_registers_wrap_and_reset_like_snmp_counters(tmp_path: Path) -> None:
    cfg = _site(tmp_path, free_port())

    async def main() -> tuple[list[float], dict[tuple[str, str], int]]:
        async with _gateway(modbus_port(cfg), {1: "acrel-dtsd1352-modbus", 2: "acrel-dtsd1352-modbus"}) as meters:
            site = _Site(cfg, REGISTRY)
            totals = []
            step_j = 36_000.0  # one count: 0.01 kWh
            # raw counts: up to the uint32 wrap, past it, then a reset of the meter to 3 counts
            for raw in (2**32 - 10, 2**32 - 4, 2**32 + 5, 2**32 + 20, 3):
                meters[1].publish(_meter_values(5000.0, raw * step_j), 0.0)
                meters[2].publish(_meter_values(4000.0, raw * step_j), 0.0)
                snap = await site.poller.poll("meter")
                assert snap.ok, snap.error
                totals.append(site.state.counters[("meter", "energy_j", ())].total_j)
                site.clock.t += 10.0
            await site.adapter.close()
            return totals, site.state.counter_events

    totals, events = asyncio.run(main())
    steps = [round((b - a) / 36_000.0) for a, b in itertools.pairwise(totals)]
    assert steps == [6, 9, 15, 3]  # across the wrap: 15 counts, not -2^32; after the reset: the 3 counted since
    assert events[("meter", "wrap")] == 1
    assert events[("meter", "reset")] == 1


@pytest.mark.parametrize(
    ("fault", "kind", "message"),
    [
        ("exception", "exception", "exception 2 (illegal data address)"),
        ("wrong-unit", "gateway", "exception 11 (gateway target device failed to respond): is unit id 9 right"),
        ("unit-stopped", "gateway", "exception 11"),
        ("timeout", "timeout", "no answer within 0.3 s x 2 tries"),
        ("refused", "timeout", "cannot connect"),
    ],
)
def test_a_bad_answer_makes_the_device_down_and_the_pue_invalid_never_wrong(
    tmp_path: Path, fault: str, kind: str, message: str
) -> None:
    port = free_port()
    good = _site(tmp_path, port)
    silent_port, refused_port = free_port(), free_port()
    bad = {
        "exception": _site(tmp_path, port, meter_profile="schneider-pm5300-modbus"),  # registers the Acrel lacks
        "wrong-unit": _site(tmp_path, port, unit_id=9),
        "unit-stopped": good,
        "timeout": _site(tmp_path, port, port=silent_port),
        "refused": _site(tmp_path, port, port=refused_port),
    }[fault]

    async def silent(reader: asyncio.StreamReader, writer: asyncio.StreamWriter) -> None:
        await reader.read()  # accepts the request, never answers
        writer.close()

    async def main() -> tuple[Any, ...]:
        server = await asyncio.start_server(silent, HOST, silent_port)
        async with _gateway(port, {1: "acrel-dtsd1352-modbus", 2: "acrel-dtsd1352-modbus"}) as meters:
            site = _Site(good, REGISTRY)
            energy = {1: 3.6e9, 2: 3.0e9}
            states = []
            for cycle in range(4):
                for unit, power in ((1, 150_000.0), (2, 100_000.0)):
                    meters[unit].publish(_meter_values(power, energy[unit]), 0.0)
                    energy[unit] += power * 10.0
                if cycle == 3:  # the facility meter goes bad
                    if fault == "unit-stopped":
                        meters[1].agent.stop()
                    site.poller = Poller(bad, REGISTRY, site.devices, site.state, site.clock)
                started = time.perf_counter()
                snaps = [await site.poller.poll(name) for name in ("meter", "it-meter")]
                took = time.perf_counter() - started
                states.append(site.accountant.tick())
                site.clock.t += 10.0
            exposition = build_registry(good, site.state, site.clock)
            await site.adapter.close()
        server.close()
        await server.wait_closed()
        return states, snaps, took, exposition

    states, snaps, took, exposition = asyncio.run(main())
    assert states[2].live.value == pytest.approx(1.5, rel=1e-4)  # the meters work: PUE 150 kW / 100 kW
    assert states[2].interval.value is None or states[2].interval.value == pytest.approx(1.5, rel=1e-2)
    meter, it_meter = snaps
    assert not meter.ok and meter.error_kind == kind, (meter.error_kind, meter.error)
    assert message in (meter.error or "")
    assert it_meter.ok  # the other unit behind the same gateway still reads
    assert states[3].live.value is None and states[3].live.reason  # invalid, with the reason: never a number
    assert took < 3.0  # timeout 0.3 s x 2 tries, not pymodbus's default 3 s x 4
    from prometheus_client import generate_latest

    text = generate_latest(exposition).decode()
    assert 'pue_device_up{device="meter"' in text
    up = [line for line in text.splitlines() if line.startswith("pue_device_up{") and 'device="meter"' in line]
    assert up and up[0].endswith(" 0.0"), up
    errors = [line for line in text.splitlines() if line.startswith("pue_device_poll_errors_total{")]
    assert any(f'kind="{kind}"' in line and 'device="meter"' in line for line in errors), errors


def test_pue_agent_read_reads_a_modbus_meter_by_url(capsys: pytest.CaptureFixture[str]) -> None:
    """`pue-agent read modbus://HOST:PORT/UNIT --profile NAME` against meters served by another process."""
    import json
    import subprocess

    from agent.app.cli import main

    port = free_port()
    bench = Path(__file__).resolve().parents[2] / "bench" / "poll_modbus.py"
    server = subprocess.Popen(
        [sys.executable, str(bench), "--serve", str(port), "2", "2"], stdout=subprocess.PIPE, text=True
    )
    try:
        assert server.stdout is not None and server.stdout.readline().strip() == "ready"
        url = f"modbus://{HOST}:{port}/2"
        assert main(["read", url, "--profile", "janitza-umg96rm-modbus", "--format", "json"]) == 0
        out = json.loads(capsys.readouterr().out)
        power = [r["value"] for r in out["readings"] if r["quantity"] == "active_power_w"]
        assert power == [pytest.approx(250_000.0)]  # what bench/poll_modbus.py serves
        assert main(["read", f"modbus://{HOST}:{port}/7", "--profile", "janitza-umg96rm-modbus"]) == 1
        assert "exception 11" in capsys.readouterr().err
        assert main(["read", url, "--profile", "janitza-umg"]) == 2  # an SNMP profile: a usage error
        assert main(["read", url]) == 2  # no detection over Modbus: --profile is required
    finally:
        server.terminate()
        server.wait(timeout=10)
        if server.stdout is not None:
            server.stdout.close()
