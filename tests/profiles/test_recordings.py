"""Profiles against real device recordings (LibreNMS fixtures), compared with LibreNMS's own values.

Two layers: a static pass (no network: parse each ``.snmprec``, detect and read through
:class:`FakeSnmpClient`, and ``decode_objects`` on the raw lines) and an end-to-end pass (one snmpsim
process for the module serving every recording over UDP on loopback, read with :class:`PysnmpClient`).
Expected values live in ``tests/fixtures/expected/NAME.yaml`` (one per recording) with the reasons where we
differ.
"""

from __future__ import annotations

import asyncio
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from recordings import DEVICES, FIXTURES, as_fake_data, parse_snmprec, readings_by_oid, split_for_profile
from snmpsim_server import snmpsim

from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.readings import DeviceReadout, decode_objects, read_device
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth

EXPECTED: dict[str, dict[str, Any]] = {
    path.stem: yaml.safe_load(path.read_text(encoding="utf-8"))
    for path in sorted((FIXTURES / "expected").glob("*.yaml"))
}
RECORDINGS = sorted(EXPECTED)


@pytest.fixture(scope="module")
def registry() -> ProfileRegistry:
    return load_profiles()


def _recording(name: str) -> Path:
    return DEVICES / f"{name}.snmprec"


def _check_against_librenms(name: str, profile_name: str, readout: DeviceReadout, registry: ProfileRegistry) -> None:
    case = EXPECTED[name]
    by_oid = readings_by_oid(registry[profile_name], readout.readings, parse_snmprec(_recording(name)))
    for sensor in case["sensors"]:
        reading = by_oid.get(str(sensor["oid"]))
        assert reading is not None, f"{name}: nothing read from {sensor['oid']}"
        assert reading.quantity == sensor["quantity"], sensor["oid"]
        expected = sensor["librenms"] * sensor["to_si"]
        # abs_tol: only where LibreNMS rounds a converted value (degF -> degC to 0.01), with the reason
        tolerance = float(sensor.get("abs_tol", 1e-9))
        assert tolerance <= 0.005, f"{name}: abs_tol {tolerance} is more than rounding to 0.01"
        assert reading.value == pytest.approx(expected, rel=1e-9, abs=tolerance), sensor["oid"]
    assert len(readout.problems) == case.get("expected_problems", 0), readout.problems


#: profiles with no vendor device to record, and where they are tested instead
NO_RECORDING = {
    "local-plant-gateway": "pue-agent's own gateway register map (no vendor MIB); tests/simulated_site/test_live.py",
}


def _snmp_profiles(registry: ProfileRegistry) -> list[str]:
    """SNMP recordings test the SNMP profiles; Modbus profiles are tested over pymodbus (tests/modbus/)."""
    return [n for n in registry.names() if registry[n].protocol == "snmp"]


def test_every_shipped_profile_has_a_recording(registry: ProfileRegistry) -> None:
    covered = {case["profile"] for case in EXPECTED.values()}
    assert covered == set(_snmp_profiles(registry)) - set(NO_RECORDING)


@pytest.mark.parametrize("name", sorted(p.stem for p in DEVICES.glob("*.snmprec")))
def test_every_recording_line_parses_and_decodes(name: str, registry: ProfileRegistry) -> None:
    """Static: each ``OID|TAG|VALUE`` parses, and every profile decodes the raw var-binds without
    crashing (wrong-type or out-of-range values become problems, never exceptions)."""
    values = parse_snmprec(_recording(name))
    assert values
    for profile_name in _snmp_profiles(registry):
        profile = registry[profile_name]
        decode_objects(profile, *split_for_profile(profile, values))


@pytest.mark.parametrize("name", RECORDINGS)
def test_static_decode_matches_librenms(name: str, registry: ProfileRegistry) -> None:
    profile_name = EXPECTED[name]["profile"]
    profile = registry[profile_name]
    readout = decode_objects(profile, *split_for_profile(profile, parse_snmprec(_recording(name))))
    _check_against_librenms(name, profile_name, readout, registry)


@pytest.mark.parametrize("name", RECORDINGS)
def test_static_detect_and_read_through_fake_client(name: str, registry: ProfileRegistry) -> None:
    client = FakeSnmpClient(as_fake_data(parse_snmprec(_recording(name))))  # type: ignore[arg-type]
    target = SnmpTarget("fake", 161, V2cAuth(name))

    async def run() -> tuple[str, DeviceReadout]:
        profile = await detect_profile(client, target, registry)
        return profile.name, await read_device(client, target, profile)

    detected, readout = asyncio.run(run())
    assert detected == EXPECTED[name]["profile"]
    _check_against_librenms(name, detected, readout, registry)


# --- end to end: real UDP, real pysnmp, real responder ----------------------------------------


@pytest.fixture(scope="module")
def snmpsim_port() -> Iterator[int]:
    with snmpsim([_recording(name) for name in RECORDINGS]) as port:
        yield port


@pytest.fixture(scope="module")
def e2e_results(snmpsim_port: int, registry: ProfileRegistry) -> dict[str, tuple[str, DeviceReadout]]:
    """Detect and read every recording once, concurrently, over one engine."""

    async def run() -> dict[str, tuple[str, DeviceReadout]]:
        client = PysnmpClient()
        try:

            async def one(name: str) -> tuple[str, tuple[str, DeviceReadout]]:
                target = SnmpTarget("127.0.0.1", snmpsim_port, V2cAuth(name), timeout_s=5.0, retries=2)
                profile = await detect_profile(client, target, registry)
                return name, (profile.name, await read_device(client, target, profile))

            return dict(await asyncio.gather(*(one(name) for name in RECORDINGS)))
        finally:
            await client.close()

    return asyncio.run(run())


@pytest.mark.e2e
@pytest.mark.parametrize("name", RECORDINGS)
def test_e2e_detects_the_right_profile(name: str, e2e_results: dict[str, tuple[str, DeviceReadout]]) -> None:
    assert e2e_results[name][0] == EXPECTED[name]["profile"]


@pytest.mark.e2e
@pytest.mark.parametrize("name", RECORDINGS)
def test_e2e_readings_match_librenms(
    name: str, e2e_results: dict[str, tuple[str, DeviceReadout]], registry: ProfileRegistry
) -> None:
    profile_name, readout = e2e_results[name]
    _check_against_librenms(name, profile_name, readout, registry)


@pytest.mark.e2e
def test_e2e_equals_static_decode(e2e_results: dict[str, tuple[str, DeviceReadout]], registry: ProfileRegistry) -> None:
    """Over the wire (GET batches + GETBULK with each profile's max_repetitions) we read exactly what
    the recording holds: same readings, same labels, same values."""
    for name in RECORDINGS:
        profile = registry[EXPECTED[name]["profile"]]
        static = decode_objects(profile, *split_for_profile(profile, parse_snmprec(_recording(name))))
        assert sorted(e2e_results[name][1].readings, key=repr) == sorted(static.readings, key=repr), name
