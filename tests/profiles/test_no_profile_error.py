"""When no profile detects a device, ``pue-agent read`` says what answered and how to draft a profile.

Over UDP with snmpsim: a device with an unknown sysObjectID that answers only the ENTITY-MIB (no vendor
MIB, no UPS-MIB, no ENTITY-SENSOR-MIB table) must name its sysObjectID and sysDescr, which standard MIBs
answered, and the ``pue-agent profile draft --address ...`` command; exit status 2, no traceback.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from pathlib import Path

import pytest
from cliutil import assert_bad_input
from snmpsim_server import snmpsim

from agent.devices.profiles import Profile, ProfileRegistry
from agent.devices.snmp.detect import NoProfileError, detect_profile
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth

UNKNOWN = (
    "\n".join(
        [
            "1.3.6.1.2.1.1.1.0|4|Acme PowerBrick 3000 rev 7",
            "1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999.42.1",
            "1.3.6.1.2.1.1.3.0|67|123456",
            "1.3.6.1.2.1.47.1.1.1.1.2.1|4|Chassis",  # ENTITY-MIB::entPhysicalDescr
            "1.3.6.1.2.1.47.1.1.1.1.2.2|4|Power supply 1",
            "1.3.6.1.2.1.47.1.1.1.1.5.1|2|3",  # ENTITY-MIB::entPhysicalClass chassis(3)
            "1.3.6.1.2.1.47.1.1.1.1.5.2|2|6",  # powerSupply(6)
            "1.3.6.1.4.1.99999.42.2.1.0|2|2300",
        ]
    )
    + "\n"
)


@pytest.mark.e2e
def test_read_of_an_unknown_device_says_what_answered_and_how_to_draft(tmp_path: Path) -> None:
    recording = tmp_path / "acme_brick.snmprec"
    recording.write_text(UNKNOWN, encoding="utf-8")
    exe = Path(sys.executable).with_name("pue-agent")
    with snmpsim([recording]) as port:
        address = f"udp://127.0.0.1:{port}"
        proc = subprocess.run(
            [str(exe), "read", address, "--community", "acme_brick", "--timeout", "3"],
            capture_output=True,
            text=True,
            timeout=120,
            check=False,
        )
    assert_bad_input(
        proc, "no profile detects the device at " + address, "1.3.6.1.4.1.99999.42.1", "Acme PowerBrick 3000 rev 7"
    )
    assert_bad_input(
        proc,
        "standard MIBs that answered: ENTITY-MIB (1.3.6.1.2.1.47, 2 physical entities)",
        "silent: UPS-MIB (1.3.6.1.2.1.33), ENTITY-SENSOR-MIB (1.3.6.1.2.1.99)",
    )
    assert_bad_input(proc, f"pue-agent profile draft --address {address} --out ")
    assert "acme_brick" not in proc.stderr  # the community is a credential: never echoed


def test_every_standard_mib_is_reported() -> None:
    """UPS-MIB by its ident scalars, ENTITY-SENSOR-MIB by its rows; a registry with no fallback profiles."""
    vendor = Profile.model_validate(
        {
            "name": "vendor",
            "description": "v",
            "source": "t",
            "kind": "ups",
            "detect": {"sys_object_id_prefixes": ["1.3.6.1.4.1.318"]},
            "objects": [{"quantity": "voltage_v", "oid": "1.3.6.1.4.1.318.1.0", "type": "integer"}],
        }
    )
    client = FakeSnmpClient(
        {
            "1.3.6.1.2.1.1.1.0": ("octets", b"UPS\n  with a  multi-line descr"),
            "1.3.6.1.2.1.1.2.0": ("oid", "1.3.6.1.4.1.12345.1"),
            "1.3.6.1.2.1.33.1.1.1.0": ("octets", b"Acme"),
            "1.3.6.1.2.1.99.1.1.1.1.5": ("integer", 8),
            "1.3.6.1.2.1.99.1.1.1.1.6": ("integer", 6),
        }
    )
    with pytest.raises(NoProfileError) as caught:
        asyncio.run(detect_profile(client, SnmpTarget("ups.example", 161, V2cAuth("x")), ProfileRegistry([vendor])))
    err = caught.value
    assert err.sys_object_id == "1.3.6.1.4.1.12345.1"
    assert err.standard_mibs == {
        "UPS-MIB": "1.3.6.1.2.1.33",
        "ENTITY-SENSOR-MIB": "1.3.6.1.2.1.99, 2 sensors",
        "ENTITY-MIB": None,
    }
    text = str(err)
    assert "sysDescr 'UPS with a multi-line descr'" in text
    assert "silent: ENTITY-MIB (1.3.6.1.2.1.47)" in text
    assert "pue-agent profile draft --address udp://ups.example:161 --out " in text
    assert "known: vendor" in text


def test_a_configured_profile_that_reads_nothing_points_at_detection() -> None:
    """``run`` names each device's profile: when it reads nothing, the error says how to find the right one."""
    from agent.devices.readings import read_device
    from agent.errors import SnmpProtocolError

    vendor = Profile.model_validate(
        {
            "name": "vendor",
            "description": "v",
            "source": "t",
            "kind": "ups",
            "objects": [{"quantity": "voltage_v", "oid": "1.3.6.1.4.1.318.1.0", "type": "integer"}],
        }
    )
    client = FakeSnmpClient({"1.3.6.1.2.1.1.2.0": ("oid", "1.3.6.1.4.1.12345.1")})
    with pytest.raises(
        SnmpProtocolError,
        match=r"no object of profile 'vendor' could be read: .*"
        r"`pue-agent read udp://pdu\.example:1161` without --profile",
    ):
        asyncio.run(read_device(client, SnmpTarget("pdu.example", 1161, V2cAuth("x")), vendor))
