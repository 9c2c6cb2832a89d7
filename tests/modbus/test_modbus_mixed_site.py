"""The mixed-protocol twin (meters on Modbus TCP, plant on BACnet/IP, the rest SNMP) against the SNMP-only twin.

Both sites are the twin's Guiyang hall stepped on one fake clock, served over real sockets on loopback
(pymodbus for the meters of ``configs/twin-site-mixed.yaml``, bacpypes3 for its chiller-plant controller,
SNMPv3 for the rest), and read by the agent's
poller and accountant through the one device seam. The PUE, the energies and the REF must agree to the
meters' resolution: the protocol changes nothing in the method.
"""

from __future__ import annotations

import asyncio
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config.site import SiteConfig, load_config
from agent.devices.bacnet.adapter import BacnetDevices
from agent.devices.modbus.adapter import ModbusDevices
from agent.devices.profiles import ProfileRegistry
from agent.devices.reader import ByProtocol
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.client import PysnmpClient
from agent.site.poller import AgentState, Poller, SiteAccountant, SiteState
from twin.demo import DEMO_START
from twin.live import TwinLiveSite

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
#: the devices the PUE, its sub-boundaries and the REF need (the PDUs, CRAHs and the outdoor sensor are left out)
KEEP = ("meter-main", "meter-pv", "ups-a", "ups-b", "chiller-plant")
CYCLES = 18
STEP_S = 5.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _on_loopback(cfg: SiteConfig) -> SiteConfig:
    base = free_udp_range(len(KEEP))
    gateway = free_port()
    devices = []
    for i, name in enumerate(KEEP):
        dev = cfg.device(name)
        port = gateway if dev.unit_id is not None else base + i
        devices.append(dev.model_copy(update={"port": port, "timeout_s": 2.0, "retries": 1}))
    return cfg.model_copy(update={"devices": tuple(devices), "pue_window_s": 60.0, "poll_interval_s": STEP_S})


async def _run(cfg: SiteConfig, profiles: ProfileRegistry) -> list[SiteState]:
    clock = Clock(1_800_000_000.0)
    site = TwinLiveSite(cfg, profiles, speed=60.0, start=DEMO_START, clock=clock)
    site.start()
    await site.ready()
    snmp = SnmpDevices(cfg, PysnmpClient())
    devices = ByProtocol({"snmp": snmp, "modbus": ModbusDevices(), "bacnet": BacnetDevices()}, profiles)
    state = AgentState()
    poller = Poller(cfg, profiles, devices, state, clock)
    accountant = SiteAccountant(cfg, state, clock)
    states = []
    try:
        for _ in range(CYCLES):
            site.update()
            for dev in cfg.devices:
                snap = await poller.poll(dev.name)
                assert snap.ok, (dev.name, snap.error)
            states.append(accountant.tick())
            clock.t += STEP_S
    finally:
        await devices.close()
        site.stop()
        await asyncio.sleep(0.05)
    return states


def test_the_mixed_protocol_site_gives_the_snmp_sites_pue_and_energies() -> None:
    snmp_cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    mixed_cfg, _ = load_config(ROOT / "configs" / "twin-site-mixed.yaml", profiles)
    keep = lambda cfg: cfg.model_copy(update={"devices": tuple(cfg.device(n) for n in KEEP)})  # noqa: E731
    snmp_cfg, mixed_cfg = _on_loopback(keep(snmp_cfg)), _on_loopback(keep(mixed_cfg))
    assert {profiles[d.profile].protocol for d in mixed_cfg.devices} == {"snmp", "modbus", "bacnet"}
    assert {profiles[d.profile].protocol for d in snmp_cfg.devices} == {"snmp"}

    async def both() -> tuple[list[SiteState], list[SiteState]]:
        return await _run(snmp_cfg, profiles), await _run(mixed_cfg, profiles)

    snmp, mixed = asyncio.run(both())
    live = [(a.live.value, b.live.value) for a, b in zip(snmp, mixed, strict=True)]
    assert all(a is not None for a, _ in live), live
    for a, b in live:
        assert b == pytest.approx(a, rel=1e-4)  # both meters read the same power: W integers, float32 W or kW
    interval = [(a.interval.value, b.interval.value) for a, b in zip(snmp, mixed, strict=True)]
    valid = [(a, b) for a, b in interval if a is not None and b is not None]
    assert len(valid) >= CYCLES // 3, interval
    assert [a is None for a, _ in interval] == [b is None for _, b in interval]  # valid at the same ticks
    for a, b in valid:
        # energy registers: 0.1 kWh (JANITZA-MIB wh3) against float32 Wh (its step 64 Wh at 1 GWh)
        assert b == pytest.approx(a, rel=1e-2)
    last_snmp, last_mixed = snmp[-1], mixed[-1]
    assert last_mixed.facility_energy_j == pytest.approx(last_snmp.facility_energy_j, rel=1e-2)
    assert last_mixed.it_energy_j == pytest.approx(last_snmp.it_energy_j, rel=1e-6)  # the same SNMP UPSes
    totals: dict[str, Any] = dict(last_snmp.boundary_totals)
    for name, value in last_mixed.boundary_totals:
        # the PV meter (REF): JANITZA-MIB wh3 counts 0.1 kWh (360 kJ), the PM5300 Wh: two steps of the coarser
        assert value == pytest.approx(totals[name], abs=2 * 360_000.0), name


def test_the_mixed_config_is_the_twin_config_but_for_its_meters() -> None:
    """configs/twin-site-mixed.yaml follows twin-site.yaml: only the two meters, the plant and the name differ."""
    snmp_cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    mixed_cfg, _ = load_config(ROOT / "configs" / "twin-site-mixed.yaml", profiles)

    def rest(cfg: SiteConfig) -> dict[str, Any]:
        devices = tuple(
            d for d in cfg.devices if d.name not in ("meter-main", "meter-pv", "chiller-plant") and d.role != "server"
        )
        site = cfg.site.model_copy(update={"name": "hall"})
        credentials = {n: c for n, c in cfg.credentials.items() if n != "bmc-ro"}
        return cfg.model_copy(update={"devices": devices, "site": site, "credentials": credentials}).model_dump()

    assert rest(mixed_cfg) == rest(snmp_cfg)
    servers = [d for d in mixed_cfg.devices if d.role == "server"]
    assert [d.name for d in mixed_cfg.devices if d not in servers] == [d.name for d in snmp_cfg.devices]
    assert {profiles[d.profile].protocol for d in servers} == {"redfish"} and len(servers) == 4
    assert mixed_cfg.topology == snmp_cfg.topology  # the servers are read, not a boundary: IT stays category 1
    meters = {d.name: d for d in mixed_cfg.devices if d.name in ("meter-main", "meter-pv")}
    assert {profiles[d.profile].protocol for d in meters.values()} == {"modbus"}
    assert {(d.address, d.port) for d in meters.values()} == {("127.0.0.1", 16250)}  # one gateway, two units
    plant, snmp_plant = mixed_cfg.device("chiller-plant"), snmp_cfg.device("chiller-plant")
    assert profiles[plant.profile].protocol == "bacnet" and plant.bacnet is not None and plant.bacnet.writes
    # the same quantities, bounds and writables as the SNMP gateway it stands in for
    bacnet_objects = {o.quantity: o.writable for o in profiles[plant.profile].objects}
    snmp_objects = {o.quantity: o.writable for o in profiles[snmp_plant.profile].objects}
    assert bacnet_objects == snmp_objects
