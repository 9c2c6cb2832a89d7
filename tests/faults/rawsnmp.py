"""A hand-rolled SNMPv2c responder on a raw UDP socket, for answers no well-behaved agent gives.

It decodes just enough BER to read a GET/GETNEXT/GETBULK request, serves a sorted MIB of
``OID -> encoded value TLV`` (so a value can be any bytes, e.g. a zero-length INTEGER ``02 00``),
and can instead answer with junk or with a truncated message.
"""

from __future__ import annotations

import asyncio
import bisect
import random
from collections.abc import Callable
from typing import Literal

Mode = Literal["serve", "garbage", "truncated", "wrong_request_id"]


def _len(n: int) -> bytes:
    if n < 0x80:
        return bytes([n])
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes([0x80 | len(body)]) + body


def tlv(tag: int, body: bytes) -> bytes:
    return bytes([tag]) + _len(len(body)) + body


def integer(value: int, tag: int = 0x02) -> bytes:
    size = max(1, (value.bit_length() + 8) // 8)
    return tlv(tag, value.to_bytes(size, "big", signed=True))


def unsigned(value: int, tag: int) -> bytes:  # Gauge32 0x42, Counter32 0x41, Counter64 0x46, TimeTicks 0x43
    body = value.to_bytes(max(1, (value.bit_length() + 7) // 8), "big")
    if body[0] & 0x80:
        body = b"\0" + body
    return tlv(tag, body)


def octets(value: bytes) -> bytes:
    return tlv(0x04, value)


def oid(text: str) -> bytes:
    parts = [int(p) for p in text.split(".")]
    out = bytearray([40 * parts[0] + parts[1]])
    for sub in parts[2:]:
        chunk = [sub & 0x7F]
        sub >>= 7
        while sub:
            chunk.append(0x80 | (sub & 0x7F))
            sub >>= 7
        out += bytes(reversed(chunk))
    return tlv(0x06, bytes(out))


NO_SUCH_OBJECT = b"\x80\x00"
END_OF_MIB_VIEW = b"\x82\x00"


def _read(data: bytes, pos: int) -> tuple[int, bytes, int]:
    tag = data[pos]
    n = data[pos + 1]
    pos += 2
    if n & 0x80:
        k = n & 0x7F
        n = int.from_bytes(data[pos : pos + k], "big")
        pos += k
    return tag, data[pos : pos + n], pos + n


def _items(data: bytes) -> list[tuple[int, bytes]]:
    out, pos = [], 0
    while pos < len(data):
        tag, body, pos = _read(data, pos)
        out.append((tag, body))
    return out


def _oid_text(body: bytes) -> str:
    parts = [body[0] // 40, body[0] % 40]
    value = 0
    for b in body[1:]:
        value = (value << 7) | (b & 0x7F)
        if not b & 0x80:
            parts.append(value)
            value = 0
    return ".".join(map(str, parts))


def _key(text: str) -> tuple[int, ...]:
    return tuple(int(p) for p in text.split("."))


class RawSnmpResponder(asyncio.DatagramProtocol):
    """Answers SNMPv2c requests for ``community`` from ``mib`` (OID text -> encoded value TLV)."""

    def __init__(
        self, community: str, mib: dict[str, bytes], mode: Mode = "serve", rng: random.Random | None = None
    ) -> None:
        self.community = community.encode()
        self.mib = mib
        self.mode = mode
        self.requests = 0
        self.max_repetitions_seen: list[int] = []
        self._rng = rng or random.Random(1)
        self._transport: asyncio.DatagramTransport | None = None
        self.on_request: Callable[[int], None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self._transport = transport  # type: ignore[assignment]

    def _next(self, name: str) -> tuple[str, bytes]:
        order = sorted(self.mib, key=_key)
        keys = [_key(o) for o in order]
        i = bisect.bisect_right(keys, _key(name))
        return (order[i], self.mib[order[i]]) if i < len(order) else (name, END_OF_MIB_VIEW)

    def answer(self, data: bytes) -> bytes | None:
        _tag, message, _ = _read(data, 0)
        (_, version), (_, community), (pdu_tag, pdu) = _items(message)
        if community != self.community:
            return None  # as a real agent does: silence, and the manager times out
        (_, req_id), (_, a), (_, b), (_, vbl) = _items(pdu)
        names = [_oid_text(_items(vb)[0][1]) for _t, vb in _items(vbl)]
        out: list[tuple[str, bytes]] = []
        if pdu_tag == 0xA0:  # GET
            out = [(n, self.mib.get(n, NO_SUCH_OBJECT)) for n in names]
        elif pdu_tag == 0xA1:  # GETNEXT
            out = [self._next(n) for n in names]
        elif pdu_tag == 0xA5:  # GETBULK: a = non-repeaters, b = max-repetitions
            non_rep, reps = int.from_bytes(a, "big"), int.from_bytes(b, "big")
            self.max_repetitions_seen.append(reps)
            out = [self._next(n) for n in names[:non_rep]]
            cursor = names[non_rep:]
            for _ in range(max(reps, 1)):
                row = [self._next(n) for n in cursor]
                out += row
                cursor = [n for n, _v in row]
        else:
            return None
        if self.mode == "wrong_request_id":
            req_id = (int.from_bytes(req_id, "big") + 1).to_bytes(4, "big")
        varbinds = b"".join(tlv(0x30, oid(n) + v) for n, v in out)
        response = tlv(0xA2, tlv(0x02, req_id) + integer(0) + integer(0) + tlv(0x30, varbinds))
        return tlv(0x30, tlv(0x02, version) + octets(community) + response)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.requests += 1
        assert self._transport is not None
        if self.mode == "garbage":
            self._transport.sendto(bytes(self._rng.getrandbits(8) for _ in range(self._rng.randint(1, 200))), addr)
            return
        try:
            reply = self.answer(data)
        except (IndexError, ValueError):
            return
        if reply is None:
            return
        if self.mode == "truncated":
            reply = reply[: len(reply) // 2]
        self._transport.sendto(reply, addr)


async def serve(host: str, port: int, responder: RawSnmpResponder) -> asyncio.DatagramTransport:
    loop = asyncio.get_running_loop()
    transport, _ = await loop.create_datagram_endpoint(lambda: responder, local_addr=(host, port))
    return transport  # type: ignore[return-value]


class SpoofingResponder(RawSnmpResponder):
    """A device with a spoofer next to it: every request is first answered from another source port
    (right request-id and community, values from ``spoof_mib``), then by the device itself from its own
    port ``genuine_delay_s`` later, or never when ``genuine_delay_s`` is None."""

    def __init__(
        self, community: str, mib: dict[str, bytes], spoof_mib: dict[str, bytes], genuine_delay_s: float | None = 0.05
    ) -> None:
        super().__init__(community, mib)
        self.spoof_mib = spoof_mib
        self.genuine_delay_s = genuine_delay_s
        self.spoofed = 0
        self.spoof_transport: asyncio.DatagramTransport | None = None

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:  # type: ignore[override]
        self.requests += 1
        assert self._transport is not None and self.spoof_transport is not None
        try:
            genuine = self.answer(data)
            self.mib, real = self.spoof_mib, self.mib
            try:
                forged = self.answer(data)
            finally:
                self.mib = real
        except (IndexError, ValueError):
            return
        if genuine is None or forged is None:
            return
        self.spoof_transport.sendto(forged, addr)
        self.spoofed += 1
        if self.genuine_delay_s is not None:
            asyncio.get_running_loop().call_later(self.genuine_delay_s, self._transport.sendto, genuine, addr)


async def serve_with_spoofer(host: str, port: int, responder: SpoofingResponder) -> list[asyncio.DatagramTransport]:
    """The device on ``port``, its spoofer on an ephemeral port of the same host."""
    loop = asyncio.get_running_loop()
    device = await serve(host, port, responder)
    spoofer, _ = await loop.create_datagram_endpoint(asyncio.DatagramProtocol, local_addr=(host, 0))
    responder.spoof_transport = spoofer
    return [device, spoofer]
