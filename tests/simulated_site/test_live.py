"""The twin in live mode over real SNMP: SETs change the plant, out-of-range SETs are refused, read-only
credentials cannot write, and its devices read through `pue-agent read` like the real recordings."""

from __future__ import annotations

import asyncio
import json
import sys
from datetime import UTC, datetime
from pathlib import Path

import pytest

from agent.config.site import load_config
from agent.devices.profiles import load_profiles
from agent.devices.readings import decode_objects, read_device
from agent.devices.snmp.adapter import target_for
from agent.devices.snmp.client import PysnmpClient
from agent.errors import SnmpError, SnmpSetRefusedError
from twin.live import TwinLiveSite

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
sys.path.append(str(TESTS / "profiles"))
from netutil import free_udp_range  # noqa: E402
from recordings import parse_snmprec, split_for_profile  # noqa: E402

pytestmark = pytest.mark.e2e
ROOT = TESTS.parent


def _twin_config():  # type: ignore[no-untyped-def]
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    base = free_udp_range(len(cfg.devices))
    devices = tuple(
        d.model_copy(update={"port": base + i, "timeout_s": 1.0, "retries": 1}) for i, d in enumerate(cfg.devices)
    )
    return cfg.model_copy(update={"devices": devices}), profiles


def _run(scenario, start=None):  # type: ignore[no-untyped-def]
    cfg, profiles = _twin_config()

    async def main():  # type: ignore[no-untyped-def]
        site = TwinLiveSite(cfg, profiles, speed=60.0, start=start)
        site.start()
        stop = asyncio.Event()
        task = asyncio.create_task(site.run(stop, tick_s=0.2))
        client = PysnmpClient()
        try:
            return await scenario(cfg, profiles, site, client)
        finally:
            await client.close()
            stop.set()
            await task
            site.stop()

    return asyncio.run(main())


def _reading(readout, quantity):  # type: ignore[no-untyped-def]
    return next(r.value for r in readout.readings if r.quantity == quantity)


def test_set_within_bounds_changes_what_the_agent_then_polls() -> None:
    async def scenario(cfg, profiles, site, client):  # type: ignore[no-untyped-def]
        plant = cfg.device("chiller-plant")
        profile = profiles["local-plant-gateway"]
        before = await read_device(client, target_for(cfg, plant), profile)
        assert _reading(before, "chw_supply_setpoint_c") == 7.0
        obj = profile.writable("chw_supply_setpoint_c")
        await client.set(target_for(cfg, plant, write=True), obj.oid, obj.encode(12.0))
        econ = profile.writable("economizer_enabled")
        await client.set(target_for(cfg, plant, write=True), econ.oid, econ.encode(1.0))
        await asyncio.sleep(0.5)
        after = await read_device(client, target_for(cfg, plant), profile)
        assert _reading(after, "chw_supply_setpoint_c") == 12.0
        assert _reading(after, "economizer_enabled") == 1.0
        assert site.truth.controls.chw_supply_setpoint_c == 12.0 and site.truth.controls.economizer_enabled
        assert _reading(after, "chw_supply_temp_c") == pytest.approx(12.0, abs=0.05)
        # the plant's physics responds: warmer chilled water and free cooling cut cooling power
        assert _reading(after, "cooling_power_w") < _reading(before, "cooling_power_w")

        crahs = [d for d in cfg.devices if d.role == "cooling_unit"]
        sp = profiles["liebert-gp-environmental"].writable("supply_air_setpoint_c")
        for dev in crahs:
            await client.set(target_for(cfg, dev, write=True), sp.oid, sp.encode(21.0))
        await asyncio.sleep(0.5)
        crah = await read_device(client, target_for(cfg, crahs[0]), profiles["liebert-gp-environmental"])
        assert _reading(crah, "supply_air_setpoint_c") == 21.0
        assert _reading(crah, "supply_air_temp_c") == pytest.approx(21.0, abs=0.5)
        assert site.truth.max_inlet_c > 23.0  # inlets follow the warmer supply air

    _run(scenario)


def test_out_of_range_set_is_refused_like_a_real_unit_and_read_credentials_cannot_write() -> None:
    async def scenario(cfg, profiles, site, client):  # type: ignore[no-untyped-def]
        plant = cfg.device("chiller-plant")
        obj = profiles["local-plant-gateway"].writable("chw_supply_setpoint_c")
        with pytest.raises(SnmpSetRefusedError, match="wrongValue"):
            await client.set(target_for(cfg, plant, write=True), obj.oid, obj.encode(25.0))
        with pytest.raises(SnmpError, match=r"noAccess|authorization"):
            await client.set(target_for(cfg, plant), obj.oid, obj.encode(10.0))  # read-only user
        await asyncio.sleep(0.3)
        assert site.truth.controls.chw_supply_setpoint_c == 7.0

    _run(scenario)


def test_utility_and_pv_meters_sum_to_facility_and_the_plant_serves_heat_and_water_meters() -> None:
    """A January noon in Guiyang: the sun is up and the offices want heat."""

    async def scenario(cfg, profiles, site, client):  # type: ignore[no-untyped-def]
        janitza, gateway = profiles["janitza-umg"], profiles["local-plant-gateway"]
        grid = await read_device(client, target_for(cfg, cfg.device("meter-main")), janitza)
        pv = await read_device(client, target_for(cfg, cfg.device("meter-pv")), janitza)
        plant = await read_device(client, target_for(cfg, cfg.device("chiller-plant")), gateway)
        truth = site.truth  # the twin may have stepped a few simulated seconds between the reads
        assert truth.pv_w > 10e3 and truth.reused_heat_w > 50e3
        assert _reading(pv, "active_power_w") == pytest.approx(truth.pv_w, rel=5e-3)
        assert _reading(grid, "active_power_w") == pytest.approx(truth.facility_w - truth.pv_w, rel=5e-3)
        assert _reading(grid, "active_power_w") + _reading(pv, "active_power_w") == pytest.approx(
            truth.facility_w, rel=5e-3
        )
        assert sum(r.value for r in pv.readings if r.quantity == "phase_active_power_w") == pytest.approx(
            _reading(pv, "active_power_w"), abs=3.0
        )
        assert _reading(pv, "energy_j") > 0.0
        assert _reading(plant, "reused_heat_power_w") == pytest.approx(truth.reused_heat_w, rel=5e-3)
        assert _reading(plant, "water_flow_m3_per_s") == pytest.approx(truth.water_flow_m3_per_s, rel=1e-2)
        assert _reading(plant, "reused_heat_energy_j") >= 1.8e12
        assert _reading(plant, "water_volume_m3") >= 4.2e4
        assert {"reused_heat_energy_j", "water_volume_m3"} <= {r.quantity for r in plant.readings if r.counter_modulus}
        truth_json = site.truth_json()
        assert {"pv_w", "reused_heat_w", "water_flow_m3_per_s"} <= set(truth_json)

    _run(scenario, start=datetime(2026, 1, 15, 4, 0, tzinfo=UTC))  # 12:00 Beijing time


RECORDED = {
    "meter-main": ("janitza_generic", "janitza-umg"),
    "pdu-row-a": ("raritan-pdu_px3", "raritan-pdu2"),
    "crah-1": ("liebert_weblbds", "liebert-gp-environmental"),
    "outdoor": ("gude-esb_7213-13", "gude-esb7213"),
}


def test_twin_devices_read_through_pue_agent_read_like_the_recordings() -> None:
    exe = str(Path(sys.executable).with_name("pue-agent"))
    registry = load_profiles()

    async def scenario(cfg, profiles, site, client):  # type: ignore[no-untyped-def]
        for device, (recording, profile_name) in RECORDED.items():
            dev = cfg.device(device)
            cred = cfg.credentials[dev.credentials]
            if cred.version == "3":
                auth = [
                    "--v3-user",
                    cred.user,
                    "--auth-protocol",
                    cred.auth_protocol,
                    "--auth-key",
                    cred.auth_key.get_secret_value(),
                    "--priv-protocol",
                    cred.priv_protocol,
                    "--priv-key",
                    cred.priv_key.get_secret_value(),
                ]
            else:
                auth = ["--community", cred.community.get_secret_value()]
            proc = await asyncio.create_subprocess_exec(
                exe,
                "read",
                f"udp://127.0.0.1:{dev.port}",
                *auth,
                "--format",
                "json",
                stdout=asyncio.subprocess.PIPE,
                stderr=asyncio.subprocess.PIPE,
            )
            out, err = await asyncio.wait_for(proc.communicate(), 60)
            assert proc.returncode == 0, err.decode()
            twin = json.loads(out)
            assert twin["profile"] == profile_name, f"{device} detected as {twin['profile']}"
            scalars, columns = split_for_profile(
                registry[profile_name], parse_snmprec(ROOT / "tests" / "fixtures" / "devices" / f"{recording}.snmprec")
            )
            real = decode_objects(registry[profile_name], scalars, columns)
            assert {r.quantity for r in real.readings} <= {r["quantity"] for r in twin["readings"]}, device

    _run(scenario)
