"""A poll of a profile with scalars and table columns is one GETBULK: the ``x.0`` scalars ride as non-repeaters.

Served by the raw responder (tests/faults/rawsnmp.py), which counts requests and implements non-repeaters as
RFC 3416 4.2.3 says. The values must be exactly those of a GET followed by a walk (the old two requests),
including a scalar the device does not have, and a device that refuses non-repeaters is read the old way.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from agent.devices.profiles import Profile, load_profiles
from agent.devices.readings import DeviceReadout, read_device
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, V2cAuth

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port
from rawsnmp import RawSnmpResponder, _items, integer, octets, serve, tlv
from rawsnmp import _read as _tlv_at

pytestmark = pytest.mark.e2e


class _TwoRequestClient:
    """The client as it was before the fold: read_device sees no get_and_walk, so it GETs, then walks."""

    def __init__(self, client: PysnmpClient) -> None:
        self.get = client.get
        self.walk = client.walk


class _NoNonRepeaters(RawSnmpResponder):
    """A device that answers a GETBULK with non-repeaters with genErr (some firmware gets them wrong)."""

    refused = 0

    def answer(self, data: bytes) -> bytes | None:
        _tag, message, _ = _tlv_at(data, 0)
        (_, version), (_, community), (pdu_tag, pdu) = _items(message)
        (_, request_id), (_, non_repeaters), _repetitions, (_, var_binds) = _items(pdu)
        if pdu_tag != 0xA5 or not int.from_bytes(non_repeaters, "big") or community != self.community:
            return super().answer(data)
        self.refused += 1
        response = tlv(0xA2, tlv(0x02, request_id) + integer(5) + integer(1) + tlv(0x30, var_binds))
        return tlv(0x30, tlv(0x02, version) + octets(community) + response)


def _ups_mib(profile: Profile, leave_out: str | None = None) -> dict[str, bytes]:
    mib: dict[str, bytes] = {}
    for i, obj in enumerate(profile.objects):
        if obj.oid is not None:
            if obj.oid != leave_out:
                mib[obj.oid] = integer(50 + i)
            continue
        for line in ("1", "2", "3"):
            mib[obj.instance_oid({"line": line})] = integer(100 * int(line) + i)
    mib["1.3.6.1.2.1.33.1.9.1.0"] = integer(230)  # an object after the UPS tables (upsConfigInputVoltage)
    return mib


def _read(responder: RawSnmpResponder, profile: Profile, *, fold: bool, polls: int = 1) -> list[DeviceReadout]:
    async def main() -> list[DeviceReadout]:
        port = free_port(socket.SOCK_DGRAM)
        transport = await serve("127.0.0.1", port, responder)
        client = PysnmpClient()
        reader = client if fold else _TwoRequestClient(client)
        target = SnmpTarget("127.0.0.1", port, V2cAuth("public"), 2.0, 0)
        try:
            return [await read_device(reader, target, profile) for _ in range(polls)]  # type: ignore[arg-type]
        finally:
            await client.close()
            transport.close()

    return asyncio.run(main())


def _values(readout: DeviceReadout) -> list[tuple[str, tuple[tuple[str, str], ...], float]]:
    return sorted((r.quantity, r.labels, r.value) for r in readout.readings)


@pytest.fixture(scope="module")
def ups() -> Profile:
    profile = load_profiles()["rfc1628-ups"]
    assert profile.scalar_oids and profile.columns and all(o.endswith(".0") for o in profile.scalar_oids)
    return profile


def test_scalars_and_columns_in_one_request_read_what_two_requests_read(ups: Profile) -> None:
    folded = RawSnmpResponder("public", _ups_mib(ups))
    separate = RawSnmpResponder("public", _ups_mib(ups))
    one = _read(folded, ups, fold=True, polls=3)
    two = _read(separate, ups, fold=False, polls=3)
    assert _values(one[-1]) == _values(two[-1]) and len(one[-1].readings) > len(ups.scalar_oids)
    assert one[-1].problems == two[-1].problems == ()
    assert separate.requests == 2 * 3  # a GET and a GETBULK per poll before
    assert folded.requests == 3  # one GETBULK per poll now


def test_a_scalar_the_device_lacks_is_asked_again_with_get_and_reported_the_same(ups: Profile) -> None:
    battery = next(o.oid for o in ups.objects if o.quantity == "battery_temp_c")
    assert battery is not None
    folded = RawSnmpResponder("public", _ups_mib(ups, leave_out=battery))
    separate = RawSnmpResponder("public", _ups_mib(ups, leave_out=battery))
    one = _read(folded, ups, fold=True)[0]
    two = _read(separate, ups, fold=False)[0]
    assert _values(one) == _values(two)
    assert one.problems == two.problems and any(battery in p for p in one.problems)
    assert folded.requests == 2  # the GETBULK answered the next object instead: a GET confirms it is absent


def test_a_device_refusing_non_repeaters_is_read_with_separate_requests(ups: Profile) -> None:
    refusing = _NoNonRepeaters("public", _ups_mib(ups))
    separate = RawSnmpResponder("public", _ups_mib(ups))
    polls = _read(refusing, ups, fold=True, polls=3)
    assert _values(polls[-1]) == _values(_read(separate, ups, fold=False)[0])
    assert refusing.refused == 1  # tried once, then remembered
    assert refusing.requests == 1 + 2 * 3
