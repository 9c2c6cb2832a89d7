"""The twin's SimulatedSite serves a site config's ``protocol: bacnet`` devices (twin/serve/device.py), and
the agent reads them through the poller: the facility meter's power is the twin's truth, the CRAH and the
plant controller answer every object of their profiles."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path
from typing import Any

import pytest

from agent.config.site import load_config
from agent.devices.bacnet.adapter import BacnetDevices
from agent.devices.profiles import DEFAULT_PROFILE_DIR, load_profiles
from agent.devices.reader import ByProtocol
from agent.site.poller import AgentState, Poller
from tests.bacnet.test_bacnet_e2e import METER_PROFILE
from twin.serve.site import MinimalSite

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

pytestmark = pytest.mark.e2e


def test_a_simulated_site_serves_its_bacnet_devices(tmp_path: Path) -> None:
    ports = [free_port(socket.SOCK_DGRAM) for _ in range(4)]  # four free UDP ports, each device its own
    (tmp_path / "profiles").mkdir()
    (tmp_path / "profiles" / "test-bacnet-meter.yaml").write_text(METER_PROFILE)
    registry = load_profiles([DEFAULT_PROFILE_DIR, tmp_path / "profiles"])
    site_yaml = tmp_path / "site.yaml"
    site_yaml.write_text(f"""
site: {{name: bacnet-twin}}
devices:
  - {{name: meter, address: 127.0.0.1, port: {ports[0]}, profile: test-bacnet-meter, role: utility_meter}}
  - {{name: it-meter, address: 127.0.0.1, port: {ports[3]}, profile: test-bacnet-meter, role: other_meter}}
  - {{name: crah-1, address: 127.0.0.1, port: {ports[1]}, profile: liebert-cw-intellislot-bacnet, role: cooling_unit}}
  - {{name: plant, address: 127.0.0.1, port: {ports[2]}, profile: carrier-19xrv-bacnet, role: chiller_plant,
     bacnet: {{writes: true}}}}
topology:
  it_category: 1
  facility: [{{device: meter}}]
  it: [{{device: it-meter}}]
""")
    cfg, _ = load_config(site_yaml, registry)

    async def main() -> tuple[Any, Any, Any]:
        site = MinimalSite(cfg, registry)
        async with site.serving(tick_s=60.0):
            adapter = BacnetDevices()
            poller = Poller(cfg, registry, ByProtocol({"bacnet": adapter}, registry), AgentState(), lambda: 0.0)
            try:
                meter = await poller.poll("meter")
                crah = await poller.poll("crah-1")
                plant = await poller.poll("plant")
            finally:
                await adapter.close()
            return site.truth, (meter, crah, plant), site.bacnet_devices

    truth, (meter, crah, plant), served = asyncio.run(main())
    assert meter.ok and crah.ok and plant.ok, (meter.error, crah.error, plant.error)
    power = {r.quantity: r.value for r in meter.readings}["active_power_w"]
    assert power == pytest.approx(truth.facility_w, rel=1e-6)
    assert {r.quantity for r in crah.readings} == {"return_air_temp_c", "return_air_setpoint_c"}
    assert set(served) == {"meter", "it-meter", "crah-1", "plant"}
