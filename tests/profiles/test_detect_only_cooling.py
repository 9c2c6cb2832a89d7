"""Cooling-family recordings with nothing to read: detected by their family's profile, and reading them
finds nothing (an error, not an empty success). Same convention as tests/profiles/test_detect_only.py
(fleet-env), whose DETECT_ONLY map these entries join when both are merged.
"""

from __future__ import annotations

import asyncio

import pytest
from recordings import FIXTURES, as_fake_data, parse_snmprec

from agent.errors import SnmpProtocolError
from agent.profiles import load_profiles
from agent.readings import detect_profile, read_device
from agent.snmp import FakeSnmpClient, SnmpTarget, V2cAuth

DETECT_ONLY_DIR = FIXTURES / "detect_only"

#: recording -> (profile, why nothing is read)
DETECT_ONLY_COOLING = {
    "rittal-cmc-iii-pu_iot-interface": ("rittal-cmc-iii", "CMC III IoT interface: no CAN-bus device and no "
                                        "variable rows in the walk (LibreNMS: no sensors)"),
}


@pytest.mark.parametrize("name", sorted(DETECT_ONLY_COOLING))
def test_detected_by_its_family_and_reads_nothing(name: str) -> None:
    registry = load_profiles()
    client = FakeSnmpClient(as_fake_data(parse_snmprec(DETECT_ONLY_DIR / f"{name}.snmprec")))  # type: ignore[arg-type]
    target = SnmpTarget("fake", 161, V2cAuth(name))

    async def run() -> str:
        profile = await detect_profile(client, target, registry)
        with pytest.raises(SnmpProtocolError):
            await read_device(client, target, profile)
        return profile.name

    assert asyncio.run(run()) == DETECT_ONLY_COOLING[name][0]
