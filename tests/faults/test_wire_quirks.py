"""ServerTech Sentry4 firmware answers GETBULK with zero-length INTEGERs (``02 00``), a known
snmp_exporter issue. Served here by a raw UDP responder, read through the real adapter."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from agent.devices.profiles import load_profiles
from agent.devices.readings import DeviceReadout, read_device
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, V2cAuth

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port
from rawsnmp import RawSnmpResponder, integer, serve

pytestmark = pytest.mark.e2e
ZERO_LENGTH_INTEGER = b"\x02\x00"


def _read(cord1_power: bytes | None = None) -> tuple[DeviceReadout, RawSnmpResponder]:
    profile = load_profiles()["servertech-sentry4"]
    mib: dict[str, bytes] = {}
    for obj in profile.objects:
        labels = {p.label: "1" for p in obj.index if p.label}
        for cord in ("1", "2"):
            mib[obj.instance_oid({**labels, "cord": cord} if "cord" in labels else labels)] = integer(2300)
    power = next(o for o in profile.objects if o.quantity == "active_power_w")
    mib[power.instance_oid({"unit": "1", "cord": "2"})] = ZERO_LENGTH_INTEGER
    if cord1_power is not None:
        mib[power.instance_oid({"unit": "1", "cord": "1"})] = cord1_power
    responder = RawSnmpResponder("public", mib)

    async def main() -> DeviceReadout:
        port = free_port(socket.SOCK_DGRAM)
        transport = await serve("127.0.0.1", port, responder)
        client = PysnmpClient()
        try:
            return await read_device(client, SnmpTarget("127.0.0.1", port, V2cAuth("public"), 1.0, 0), profile)
        finally:
            await client.close()
            transport.close()

    return asyncio.run(main()), responder


def test_zero_length_integer_does_not_break_the_read() -> None:
    readout, responder = _read()
    # the profile keeps GETBULK short for this firmware, and the rest of the table is read
    assert responder.max_repetitions_seen and max(responder.max_repetitions_seen) <= 4
    powers = {r.label_dict["cord"]: r.value for r in readout.readings if r.quantity == "active_power_w"}
    assert powers.get("1") == 2300.0


def test_zero_length_integer_is_a_problem_not_zero_watts() -> None:
    """pyasn1 alone decodes ``02 00`` as 0 (X.690 8.3.1 needs one content octet): the cord would read
    0 W and IT power be silently understated. The adapter marks it malformed: a per-object problem."""
    readout, _ = _read()
    powers = {r.label_dict["cord"]: r.value for r in readout.readings if r.quantity == "active_power_w"}
    assert "2" not in powers, powers
    assert powers.get("1") == 2300.0
    power_oid = next(o for o in load_profiles()["servertech-sentry4"].objects if o.quantity == "active_power_w")
    bad = [p for p in readout.problems if p.startswith(power_oid.instance_oid({"unit": "1", "cord": "2"}))]
    assert bad and "malformed" in bad[0], readout.problems


def test_a_real_zero_still_reads_zero_watts() -> None:
    """``02 01 00`` is a well-formed 0: an idle cord at 0 W must not become a problem."""
    readout, _ = _read(cord1_power=integer(0))
    powers = {r.label_dict["cord"]: r.value for r in readout.readings if r.quantity == "active_power_w"}
    assert powers.get("1") == 0.0, (powers, readout.problems)
    assert "2" not in powers
