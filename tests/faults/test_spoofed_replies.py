"""Issue 19 defect 10: an SNMP answer counts only when it comes from the address and port the request
went to. A spoofer next to the device answers every request first, from another source port of the same
host, with the right request-id and community; the spoofed value must never be read, on either path
``pue-agent run`` takes (the fast path for v2c and v3 authPriv/AES, pysnmp for v1 and the rest)."""

from __future__ import annotations

import asyncio
import socket
import sys
from collections.abc import Callable
from pathlib import Path

import pytest

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, V2cAuth, V3Auth
from agent.errors import SnmpTimeoutError
from twin.serve.responder import SimulatedAgent

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port
from rawsnmp import SpoofingResponder, integer, oid, serve_with_spoofer, tlv
from snmpproxy import Fault, start_proxy

pytestmark = pytest.mark.e2e

POWER_OID = "1.3.6.1.4.1.99999.1.1.0"
TABLE = "1.3.6.1.4.1.99999.2.1"
GENUINE_W, SPOOFED_W = 1200, 2147483647

#: (SNMP version, fast path on): v2c fast path, v2c through pysnmp (PUE_AGENT_SNMP_FAST=0), v1 (always pysnmp)
PATHS = [("2c", True), ("2c", False), ("1", True)]


def _mib(value: int) -> dict[str, bytes]:
    return {POWER_OID: integer(value), **{f"{TABLE}.{row}": integer(value // 2 + row) for row in (1, 2, 3)}}


async def _read(
    version: str, fast: bool, host: str, genuine_delay_s: float | None
) -> tuple[list[int | None], SpoofingResponder, int]:
    responder = SpoofingResponder("public", _mib(GENUINE_W), _mib(SPOOFED_W), genuine_delay_s)
    port = free_port(socket.SOCK_DGRAM)
    transports = await serve_with_spoofer("127.0.0.1", port, responder)
    client = PysnmpClient(fast_path=fast)
    target = SnmpTarget(host, port, V2cAuth("public", version=version), timeout_s=1.0, retries=0)  # type: ignore[arg-type]
    try:
        values = [v.value for v in await client.get(target, [POWER_OID])]  # type: ignore[misc]
        if version != "1":
            walked = await client.walk(target, [TABLE])
            values += [v.value for v in walked[TABLE]]  # type: ignore[misc]
        return values, responder, getattr(client, "foreign_answers", 0)
    finally:
        await client.close()
        for transport in transports:
            transport.close()


@pytest.mark.parametrize(("version", "fast"), PATHS)
@pytest.mark.parametrize("host", ["127.0.0.1", "localhost"])
def test_spoofed_answer_before_the_device_is_dropped(version: str, fast: bool, host: str) -> None:
    values, responder, dropped = asyncio.run(_read(version, fast, host, genuine_delay_s=0.05))
    assert responder.spoofed >= 1
    expected = [GENUINE_W] if version == "1" else [GENUINE_W, *(GENUINE_W // 2 + row for row in (1, 2, 3))]
    assert values == expected, f"a spoofed answer from another source port was read: {values}"
    assert dropped >= responder.spoofed, "dropped answers are counted"


@pytest.mark.parametrize(("version", "fast"), PATHS)
def test_only_a_spoofer_answering_is_a_timeout(version: str, fast: bool) -> None:
    with pytest.raises(SnmpTimeoutError, match="no response"):
        asyncio.run(_read(version, fast, "127.0.0.1", genuine_delay_s=None))


V3_USER = ("pue-ro", "sha256", "spoof-test-auth-01", "aes128", "spoof-test-priv-01")


def _v3_forger(user: tuple[str, str, str, str, str]) -> Callable[[bytes], bytes | None]:
    """Re-encrypts and re-authenticates the device's own v3 Response with every value set to SPOOFED_W, as a
    spoofer holding the keys would (or the device's second interface): a valid v3 answer from the wrong port."""
    name, auth_protocol, auth_key, priv_protocol, priv_key = user
    salt = iter(range(1, 1 << 30))

    def forge(data: bytes) -> bytes | None:
        header = snmp_wire.decode_v3_header(data)
        if not header.flags & snmp_wire.FLAG_PRIV:
            return None  # engine discovery: left alone
        keys = snmp_wire.usm_keys(auth_protocol, auth_key.encode(), priv_protocol, priv_key.encode(), header.engine_id)
        scoped = snmp_wire.decode_scoped_pdu(data, header, keys)
        if scoped.tag != snmp_wire.RESPONSE_TAG:
            return None
        binds = b"".join(tlv(0x30, oid(name) + integer(SPOOFED_W)) for name, _kind, _value in scoped.var_binds)
        pdu = tlv(0xA2, integer(scoped.request_id) + integer(0) + integer(0) + tlv(0x30, binds))
        return snmp_wire.encode_v3_request(
            keys,
            header.msg_id,
            header.engine_id,
            header.boots,
            header.time_s,
            name.encode(),
            b"",
            next(salt).to_bytes(8, "big"),
            pdu,
        )

    return forge


@pytest.mark.parametrize("fast", [True, False], ids=["fast-path", "pysnmp"])
def test_spoofed_v3_answer_from_another_port_is_dropped(fast: bool) -> None:
    """SNMPv3 authPriv (SHA-256/AES-128, the fast path of ``pue-agent run``; pysnmp with the fast path off): an
    authentic answer carrying the request's msgID counts only from the device's address and port."""

    async def main() -> tuple[list[int | None], int, int]:
        device = SimulatedAgent("127.0.0.1", free_port(socket.SOCK_DGRAM), v3_user=V3_USER)
        device.mib.set(POWER_OID, "integer", GENUINE_W)
        device.start()
        proxy, port = await start_proxy(
            ("127.0.0.1", device.port), Fault("spoof", forge=_v3_forger(V3_USER), delay_s=0.05, active=True)
        )
        client = PysnmpClient(fast_path=fast)
        target = SnmpTarget("127.0.0.1", port, V3Auth(*V3_USER), timeout_s=1.5, retries=0)
        try:
            values = [v.value for v in await client.get(target, [POWER_OID])]  # type: ignore[misc]
            values += [v.value for v in await client.get(target, [POWER_OID])]  # type: ignore[misc]
            return values, proxy.tampered, getattr(client, "foreign_answers", 0)
        finally:
            await client.close()
            proxy.close()
            device.close()

    values, tampered, dropped = asyncio.run(main())
    assert tampered >= 2
    assert values == [GENUINE_W, GENUINE_W], f"a spoofed v3 answer from another source port was read: {values}"
    assert dropped >= 2
