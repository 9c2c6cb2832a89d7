"""Issue 19 defect 10: an SNMP answer counts only when it comes from the address and port the request
went to. A spoofer next to the device answers every request first, from another source port of the same
host, with the right request-id and community; the spoofed value must never be read, on either path
``pue-agent run`` takes (the fast path for v2c and v3 authPriv/AES, pysnmp for v1 and the rest)."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from agent.errors import SnmpTimeoutError
from agent.snmp import PysnmpClient, SnmpTarget, V2cAuth

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port
from rawsnmp import SpoofingResponder, integer, serve_with_spoofer

pytestmark = pytest.mark.e2e

POWER_OID = "1.3.6.1.4.1.99999.1.1.0"
TABLE = "1.3.6.1.4.1.99999.2.1"
GENUINE_W, SPOOFED_W = 1200, 2147483647

#: (SNMP version, fast path on): v2c fast path, v2c through pysnmp (PUE_AGENT_SNMP_FAST=0), v1 (always pysnmp)
PATHS = [("2c", True), ("2c", False), ("1", True)]


def _mib(value: int) -> dict[str, bytes]:
    return {POWER_OID: integer(value), **{f"{TABLE}.{row}": integer(value // 2 + row) for row in (1, 2, 3)}}


async def _read(version: str, fast: bool, host: str, genuine_delay_s: float | None
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
