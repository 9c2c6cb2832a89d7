"""Recordings of PDUs that meter nothing (state-only switches): the right profile must still detect them.

They have no expectation file (``read`` has no reading to compare) and live in
``tests/fixtures/devices/detect_only/`` (out of the recordings every reading test walks); here each is
detected through :class:`FakeSnmpClient` from its trimmed fixture, and its read is expected to fail
with "no object ... could be read" rather than report numbers.
"""

from __future__ import annotations

import asyncio

import pytest
from recordings import DEVICES, as_fake_data, parse_snmprec

from agent.errors import SnmpProtocolError
from agent.profiles import load_profiles
from agent.readings import detect_profile, read_device
from agent.snmp import FakeSnmpClient, SnmpTarget, V2cAuth

#: recording -> the profile that must detect it (why it has no metering)
DETECT_ONLY = {
    "apc_masterswitch2": "apc-rpdu",   # MasterSwitch v2 (AP92xx): outlet switching only, sPDU MIB
    "gude-epc_1104": "gude-epc",       # Expert Power Control 1104-1: switched outlets, no meter
}


@pytest.mark.parametrize("name", sorted(DETECT_ONLY))
def test_detected_by_its_family_profile(name: str) -> None:
    registry = load_profiles()
    client = FakeSnmpClient(as_fake_data(parse_snmprec(DEVICES / "detect_only" / f"{name}.snmprec")))  # type: ignore[arg-type]
    target = SnmpTarget("fake", 161, V2cAuth(name))

    async def run() -> str:
        profile = await detect_profile(client, target, registry)
        with pytest.raises(SnmpProtocolError, match="no object"):
            await read_device(client, target, profile)
        return profile.name

    assert asyncio.run(run()) == DETECT_ONLY[name]
