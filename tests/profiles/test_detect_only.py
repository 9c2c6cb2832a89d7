"""Recordings with no temperature, humidity, power, energy, current or voltage sensor we read: detection only.

Each is detected by its family's profile (over the fake client and the trimmed fixture), and reading it
finds nothing, which ``read_device`` reports as an error rather than an empty success.
"""

from __future__ import annotations

import asyncio

import pytest
from recordings import FIXTURES, as_fake_data, parse_snmprec

from agent.devices.profiles import load_profiles
from agent.devices.readings import read_device
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth
from agent.errors import SnmpProtocolError

#: trimmed like the others (tests/fixtures/trim.py), kept apart: every file in devices/ must read something
DETECT_ONLY_DIR = FIXTURES / "detect_only"

#: recording -> (profile, why nothing is read)
DETECT_ONLY = {
    "apc_masterswitch2": ("apc-rpdu", "MasterSwitch v2 (AP92xx): outlet switching only, sPDU MIB"),
    "gude-epc_1104": ("gude-epc", "Expert Power Control 1104-1: switched outlets, no meter"),
    "hwg-wld_600415": ("hwgroup", "HWg-WLD water-leak detector: leak contacts only"),
    "hwg-wld_wld2": ("hwgroup", "WLD2: leak contacts only (shares the STE2 sysObjectID)"),
    "hwg-perseus": ("hwgroup", "Perseus: counters and binary states only in the recording"),
    "rittal-cmc-iii-pu_iot-interface": (
        "rittal-cmc-iii",
        "CMC III IoT interface: no CAN-bus device and no variable rows in the walk (LibreNMS: no sensors)",
    ),
}


def test_every_detect_only_fixture_is_listed() -> None:
    assert sorted(p.stem for p in DETECT_ONLY_DIR.glob("*.snmprec")) == sorted(DETECT_ONLY)


@pytest.mark.parametrize("name", sorted(DETECT_ONLY))
def test_detected_by_its_family_and_reads_nothing(name: str) -> None:
    registry = load_profiles()
    client = FakeSnmpClient(as_fake_data(parse_snmprec(DETECT_ONLY_DIR / f"{name}.snmprec")))  # type: ignore[arg-type]
    target = SnmpTarget("fake", 161, V2cAuth(name))

    async def run() -> str:
        profile = await detect_profile(client, target, registry)
        with pytest.raises(SnmpProtocolError, match="no object"):
            await read_device(client, target, profile)
        return profile.name

    assert asyncio.run(run()) == DETECT_ONLY[name][0]
