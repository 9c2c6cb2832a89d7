"""A UDP proxy between the agent and one SNMPv2c device that misbehaves on purpose, for fault tests and
``bench/faults.py``.

The agent is pointed at the proxy's port; the proxy forwards every request to the device and hands the
device's answer back from its own port, or instead: garbles it, truncates it, changes its request-id, drops
it, delays it, rewrites values inside it (decoded and re-encoded with :mod:`agent.devices.snmp.wire` and the encoders
of :mod:`rawsnmp`), or answers first from another source port with rewritten values (a spoofer). Faults act
only while ``fault.active`` is True, so a run can warm up healthy. SNMPv3 authPriv answers cannot be rewritten
without the keys: proxied devices speak v2c.
"""

from __future__ import annotations

import asyncio
import random
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from typing import Literal

from rawsnmp import integer, octets, oid, tlv, unsigned

from agent.devices.snmp.wire import Response, WireValue, decode_response
from agent.errors import SnmpProtocolError

Address = tuple[str, int]
Kind = Literal["pass", "garble", "truncate", "wrong_request_id", "drop", "delay", "rewrite", "spoof"]
#: rewrites one var-bind (oid, kind, value) of an answer
Rewrite = Callable[[WireValue], WireValue]

_UNSIGNED_TAGS = {"counter32": 0x41, "gauge32": 0x42, "timeticks": 0x43, "counter64": 0x46}
_NULL_LIKE = {
    "null": b"\x05\x00",
    "no_such_object": b"\x80\x00",
    "no_such_instance": b"\x81\x00",
    "end_of_mib_view": b"\x82\x00",
    "malformed": b"\x02\x00",
}


def encode_value(kind: str, value: int | bytes | str | None) -> bytes:
    """The BER TLV of one var-bind value as :func:`agent.devices.snmp.wire.decode_response` reports it."""
    if kind in _NULL_LIKE:
        return _NULL_LIKE[kind]
    if kind == "integer":
        return integer(int(value))  # type: ignore[arg-type]
    if kind in _UNSIGNED_TAGS:
        return unsigned(int(value), _UNSIGNED_TAGS[kind])  # type: ignore[arg-type]
    if kind == "octets":
        return octets(bytes(value))  # type: ignore[arg-type]
    if kind == "oid":
        return oid(str(value))
    if kind == "ipaddress":
        return tlv(0x40, bytes(int(part) for part in str(value).split(".")))
    raise ValueError(f"cannot encode a {kind} value")


def encode_response(response: Response) -> bytes:
    """An SNMPv2c Response message (the inverse of :func:`agent.devices.snmp.wire.decode_response`)."""
    binds = b"".join(tlv(0x30, oid(name) + encode_value(kind, value)) for name, kind, value in response.var_binds)
    pdu = tlv(
        0xA2,
        integer(response.request_id)
        + integer(response.error_status)
        + integer(response.error_index)
        + tlv(0x30, binds),
    )
    return tlv(0x30, integer(1) + octets(response.community) + pdu)


def rewritten(data: bytes, rewrites: Mapping[str, Rewrite]) -> bytes:
    """``data`` with every var-bind whose OID is in ``rewrites`` replaced; unchanged if it does not decode."""
    response = decode_response(data)
    binds = [rewrites[vb[0]](vb) if vb[0] in rewrites else vb for vb in response.var_binds]
    return encode_response(response._replace(var_binds=binds))


@dataclass
class Fault:
    """What the proxy does to the device's answers while ``active``."""

    kind: Kind = "pass"
    rewrites: Mapping[str, Rewrite] = field(default_factory=dict)  # for "rewrite" and "spoof"
    #: rewrites applied to every answer, active or not: what the device itself shows (e.g. a young meter's register)
    always: Mapping[str, Rewrite] = field(default_factory=dict)
    delay_s: float = 0.0  # for "delay"; for "spoof": how long after the spoofed answer the device's own follows
    active: bool = False
    seed: int = 1
    #: for "spoof": makes the spoofed answer from the device's (default: its var-binds through ``rewrites``)
    forge: Callable[[bytes], bytes | None] | None = None


class _Upstream(asyncio.DatagramProtocol):
    def __init__(self, proxy: FaultProxy) -> None:
        self.proxy = proxy

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        self.proxy.from_device(data)


class FaultProxy(asyncio.DatagramProtocol):
    """Listens where the agent thinks the device is; see the module docstring."""

    def __init__(self, device: Address, fault: Fault) -> None:
        self.device = device
        self.fault = fault
        self.client: Address | None = None
        self.transport: asyncio.DatagramTransport | None = None
        self.upstream: asyncio.DatagramTransport | None = None
        self.spoofer: asyncio.DatagramTransport | None = None
        self.requests = 0
        self.answers = 0
        self.tampered = 0
        self._rng = random.Random(fault.seed)

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = transport  # type: ignore[assignment]

    def datagram_received(self, data: bytes, addr: Address) -> None:  # type: ignore[override]
        self.requests += 1
        self.client = addr
        if self.upstream is not None:
            self.upstream.sendto(data)

    def _send(self, data: bytes) -> None:
        if self.transport is not None and self.client is not None and not self.transport.is_closing():
            self.transport.sendto(data, self.client)

    def from_device(self, data: bytes) -> None:
        self.answers += 1
        fault = self.fault
        if fault.always:
            try:
                data = rewritten(data, fault.always)
            except SnmpProtocolError:
                pass  # the device's own answer did not decode: the fault below gets it as it is
        if not fault.active or fault.kind == "pass":
            self._send(data)
            return
        self.tampered += 1
        try:
            self._tamper(data)
        except SnmpProtocolError:  # the device's own answer did not decode: hand it on as it is
            self._send(data)

    def _tamper(self, data: bytes) -> None:
        fault = self.fault
        if fault.kind == "drop":
            return
        if fault.kind == "garble":  # keep the outer tag and length, scramble the rest
            cut = self._rng.randint(2, max(2, len(data) // 2))
            self._send(data[:cut] + bytes(self._rng.getrandbits(8) for _ in range(len(data) - cut)))
        elif fault.kind == "truncate":
            self._send(data[: len(data) // 2])
        elif fault.kind == "wrong_request_id":
            response = decode_response(data)
            self._send(encode_response(response._replace(request_id=(response.request_id + 1) % (1 << 31))))
        elif fault.kind == "delay":
            asyncio.get_running_loop().call_later(fault.delay_s, self._send, data)
        elif fault.kind == "rewrite":
            self._send(rewritten(data, fault.rewrites))
        elif fault.kind == "spoof":
            forged = fault.forge(data) if fault.forge is not None else rewritten(data, fault.rewrites)
            if self.spoofer is not None and self.client is not None and forged is not None:
                self.spoofer.sendto(forged, self.client)
            asyncio.get_running_loop().call_later(fault.delay_s, self._send, data)
        else:
            raise ValueError(f"unknown fault kind {fault.kind!r}")

    def close(self) -> None:
        for transport in (self.transport, self.upstream, self.spoofer):
            if transport is not None:
                transport.close()


async def start_proxy(device: Address, fault: Fault, host: str = "127.0.0.1") -> tuple[FaultProxy, int]:
    """A proxy for ``device`` listening on a free port of ``host``: (proxy, its port)."""
    loop = asyncio.get_running_loop()
    proxy = FaultProxy(device, fault)
    transport, _ = await loop.create_datagram_endpoint(lambda: proxy, local_addr=(host, 0))
    upstream, _ = await loop.create_datagram_endpoint(lambda: _Upstream(proxy), remote_addr=device)
    spoofer, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
    proxy.upstream, proxy.spoofer = upstream, spoofer
    return proxy, int(transport.get_extra_info("sockname")[1])
