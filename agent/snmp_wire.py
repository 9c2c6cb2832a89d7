"""A minimal BER codec for the SNMPv2c hot loop: GET/GETBULK requests out, Response PDUs in.

Written from X.690 (BER: definite lengths, INTEGER 8.3, OCTET STRING 8.7, NULL 8.8, OBJECT IDENTIFIER
8.19) and RFC 3416 (PDU layouts, application types, exceptions). Pure Python, no pysnmp or pyasn1:
only :mod:`agent.snmp` imports it, and the tests check it byte for byte against pysnmp.

A request is a :class:`RequestTemplate`: everything but the request-id is encoded once, so a poll is
a few byte concatenations. :func:`decode_response` returns plain ``(oid, kind, value)`` triples with
the same kinds and values as the pysnmp path (``agent.snmp._convert``), including ``malformed`` for a
zero-length INTEGER (``02 00``, ServerTech Sentry4 firmware). Anything structurally wrong raises
:class:`agent.errors.SnmpProtocolError` naming what and where; nothing else escapes.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import NamedTuple

from agent.errors import SnmpProtocolError

__all__ = [
    "GETBULK_TAG",
    "GET_TAG",
    "RequestTemplate",
    "Response",
    "WireValue",
    "decode_response",
    "encode_oid",
]

GET_TAG = 0xA0
GETBULK_TAG = 0xA5
RESPONSE_TAG = 0xA2
SNMP_V2C = 1  # msgVersion on the wire for SNMPv2c (RFC 1901)
MAX_BINDINGS = 2147483647  # RFC 3416 max-bindings

#: (numeric OID without leading dot, kind as in ``agent.snmp.ValueKind``, value)
WireValue = tuple[str, str, int | bytes | str | None]

#: unsigned application types (RFC 2578 / RFC 3416): tag -> (kind, exclusive upper bound)
_UNSIGNED = {0x41: ("counter32", 1 << 32), 0x42: ("gauge32", 1 << 32), 0x43: ("timeticks", 1 << 32),
             0x46: ("counter64", 1 << 64)}
#: RFC 3416 exceptions in a Response var-bind (context-specific, primitive, NULL content)
_EXCEPTIONS = {0x80: "no_such_object", 0x81: "no_such_instance", 0x82: "end_of_mib_view"}
_INT32_MIN, _INT32_LIMIT = -(1 << 31), 1 << 31

_oid_text_cache: dict[bytes, str] = {}
_OID_CACHE_MAX = 65536


class Response(NamedTuple):
    """A decoded SNMPv2c Response PDU."""

    request_id: int
    error_status: int
    error_index: int
    community: bytes
    var_binds: list[WireValue]


def _length(n: int) -> bytes:
    if n < 0x80:
        return bytes((n,))
    body = n.to_bytes((n.bit_length() + 7) // 8, "big")
    return bytes((0x80 | len(body),)) + body


def _tlv(tag: int, body: bytes) -> bytes:
    return bytes((tag,)) + _length(len(body)) + body


def _integer(value: int) -> bytes:
    """INTEGER TLV, minimal two's complement (X.690 8.3.2)."""
    return _tlv(0x02, value.to_bytes(value.bit_length() // 8 + 1, "big", signed=True))


def encode_oid(oid: str) -> bytes:
    """OBJECT IDENTIFIER TLV for a dotted numeric OID (X.690 8.19)."""
    try:
        arcs = [int(part) for part in oid.strip(".").split(".")]
    except ValueError as err:
        raise SnmpProtocolError(f"not a numeric OID: {oid!r}") from err
    if len(arcs) < 2 or not 0 <= arcs[0] <= 2 or arcs[1] < 0 or (arcs[0] < 2 and arcs[1] > 39):
        raise SnmpProtocolError(f"not a valid OID (X.690 8.19.4): {oid!r}")
    body = bytearray()
    for arc in [40 * arcs[0] + arcs[1], *arcs[2:]]:
        if arc < 0:
            raise SnmpProtocolError(f"negative arc in OID {oid!r}")
        chunk = [arc & 0x7F]
        arc >>= 7
        while arc:
            chunk.append(0x80 | (arc & 0x7F))
            arc >>= 7
        body += bytes(reversed(chunk))
    return _tlv(0x06, bytes(body))


class RequestTemplate:
    """One v2c GET or GETBULK message for one community and OID list, pre-encoded but the request-id."""

    __slots__ = ("_after_id", "_tag", "_version_community")

    def __init__(self, community: bytes, oids: Sequence[str], tag: int = GET_TAG,
                 non_repeaters: int = 0, max_repetitions: int = 0) -> None:
        if tag not in (GET_TAG, GETBULK_TAG):
            raise ValueError(f"unsupported PDU tag 0x{tag:02x}")
        var_binds = b"".join(_tlv(0x30, encode_oid(oid) + b"\x05\x00") for oid in oids)
        self._tag = bytes((tag,))
        self._version_community = _integer(SNMP_V2C) + _tlv(0x04, community)
        # GET: error-status and error-index 0; GETBULK: non-repeaters and max-repetitions (RFC 3416 4.2.3)
        first, second = (non_repeaters, max_repetitions) if tag == GETBULK_TAG else (0, 0)
        self._after_id = _integer(first) + _integer(second) + _tlv(0x30, var_binds)

    def encode(self, request_id: int) -> bytes:
        """The whole message with this request-id."""
        pdu_body = _integer(request_id) + self._after_id
        message_body = self._version_community + self._tag + _length(len(pdu_body)) + pdu_body
        return b"\x30" + _length(len(message_body)) + message_body


def _header(data: bytes, pos: int, end: int, what: str) -> tuple[int, int, int]:
    """(tag, content start, content end) of the TLV at ``pos``; raises on truncation."""
    if pos + 2 > end:
        raise SnmpProtocolError(f"truncated {what} at byte {pos}: no tag and length")
    tag = data[pos]
    length = data[pos + 1]
    pos += 2
    if length & 0x80:
        count = length & 0x7F
        if count == 0:
            raise SnmpProtocolError(f"{what} at byte {pos - 2}: indefinite length not supported")
        if count > 4 or pos + count > end:
            raise SnmpProtocolError(f"{what} at byte {pos - 2}: bad or truncated long-form length")
        length = int.from_bytes(data[pos : pos + count], "big")
        pos += count
    if pos + length > end:
        raise SnmpProtocolError(f"truncated {what} at byte {pos}: {length} content bytes announced, "
                                f"{end - pos} left")
    return tag, pos, pos + length


def _expect_integer(data: bytes, pos: int, end: int, what: str) -> tuple[int, int]:
    tag, start, stop = _header(data, pos, end, what)
    if tag != 0x02:
        raise SnmpProtocolError(f"{what}: expected INTEGER (0x02), got tag 0x{tag:02x}")
    if start == stop:
        raise SnmpProtocolError(f"{what}: INTEGER with no content octets")
    return int.from_bytes(data[start:stop], "big", signed=True), stop


def _oid_text(body: bytes) -> str:
    text = _oid_text_cache.get(body)
    if text is not None:
        return text
    if not body:
        raise SnmpProtocolError("empty OBJECT IDENTIFIER")
    arcs: list[int] = []
    value = 0
    fresh = True
    for byte in body:
        if fresh and byte == 0x80:
            raise SnmpProtocolError("OBJECT IDENTIFIER sub-identifier starts with 0x80 (X.690 8.19.2)")
        value = (value << 7) | (byte & 0x7F)
        fresh = not byte & 0x80
        if fresh:
            arcs.append(value)
            value = 0
    if not fresh:
        raise SnmpProtocolError("OBJECT IDENTIFIER ends inside a sub-identifier")
    first = arcs[0]
    lead = (0, first) if first < 40 else (1, first - 40) if first < 80 else (2, first - 80)
    text = ".".join(map(str, (*lead, *arcs[1:])))
    if len(_oid_text_cache) >= _OID_CACHE_MAX:
        _oid_text_cache.clear()
    _oid_text_cache[body] = text
    return text


def _value(tag: int, content: bytes, oid: str) -> WireValue:
    if tag == 0x02:
        if not content:  # X.690 8.3.1 needs one content octet; ServerTech Sentry4 sends 02 00
            return (oid, "malformed", None)
        number = int.from_bytes(content, "big", signed=True)
        if not _INT32_MIN <= number < _INT32_LIMIT:
            raise SnmpProtocolError(f"{oid}: INTEGER {number} outside Integer32")
        return (oid, "integer", number)
    if tag == 0x04:
        return (oid, "octets", content)
    if tag == 0x44:  # Opaque: the adapter's pysnmp path has no kind for it and reports null
        return (oid, "null", None)
    unsigned = _UNSIGNED.get(tag)
    if unsigned is not None:
        kind, limit = unsigned
        if not content:
            return (oid, "malformed", None)
        number = int.from_bytes(content, "big", signed=True)
        if not 0 <= number < limit:
            raise SnmpProtocolError(f"{oid}: {kind} {number} out of range")
        return (oid, kind, number)
    if tag == 0x06:
        return (oid, "oid", _oid_text(content))
    if tag == 0x40:
        if len(content) != 4:
            raise SnmpProtocolError(f"{oid}: IpAddress of {len(content)} octets, not 4")
        return (oid, "ipaddress", ".".join(map(str, content)))
    exception = _EXCEPTIONS.get(tag)
    if exception is not None or tag == 0x05:
        if content:
            raise SnmpProtocolError(f"{oid}: NULL-like value (tag 0x{tag:02x}) with {len(content)} content octets")
        return (oid, exception or "null", None)
    raise SnmpProtocolError(f"{oid}: unknown value tag 0x{tag:02x}")


def decode_response(data: bytes) -> Response:
    """Decode an SNMPv2c Response message; raise :class:`SnmpProtocolError` naming any defect."""
    end = len(data)
    tag, pos, end = _header(data, 0, end, "message")  # bytes after the message are ignored, as pysnmp does
    if tag != 0x30:
        raise SnmpProtocolError(f"message: expected SEQUENCE (0x30), got tag 0x{tag:02x}")
    version, pos = _expect_integer(data, pos, end, "msgVersion")
    if version != SNMP_V2C:
        raise SnmpProtocolError(f"msgVersion {version}, not SNMPv2c")
    tag, start, pos = _header(data, pos, end, "community")
    if tag != 0x04:
        raise SnmpProtocolError(f"community: expected OCTET STRING (0x04), got tag 0x{tag:02x}")
    community = data[start:pos]
    tag, pos, pdu_end = _header(data, pos, end, "PDU")
    if tag != RESPONSE_TAG:
        raise SnmpProtocolError(f"PDU: expected Response (0xa2), got tag 0x{tag:02x}")
    request_id, pos = _expect_integer(data, pos, pdu_end, "request-id")
    if not _INT32_MIN <= request_id < _INT32_LIMIT:
        raise SnmpProtocolError(f"request-id {request_id} outside Integer32")
    error_status, pos = _expect_integer(data, pos, pdu_end, "error-status")
    error_index, pos = _expect_integer(data, pos, pdu_end, "error-index")
    if not 0 <= error_index <= MAX_BINDINGS:
        raise SnmpProtocolError(f"error-index {error_index} out of range")
    tag, pos, list_end = _header(data, pos, pdu_end, "variable-bindings")
    if tag != 0x30:
        raise SnmpProtocolError(f"variable-bindings: expected SEQUENCE (0x30), got tag 0x{tag:02x}")
    if list_end != pdu_end:
        raise SnmpProtocolError(f"PDU: {pdu_end - list_end} stray bytes after variable-bindings")
    var_binds: list[WireValue] = []
    while pos < list_end:
        tag, pos, bind_end = _header(data, pos, list_end, f"var-bind {len(var_binds) + 1}")
        if tag != 0x30:
            raise SnmpProtocolError(f"var-bind {len(var_binds) + 1}: expected SEQUENCE, got tag 0x{tag:02x}")
        tag, start, pos = _header(data, pos, bind_end, f"var-bind {len(var_binds) + 1} name")
        if tag != 0x06:
            raise SnmpProtocolError(f"var-bind {len(var_binds) + 1} name: expected OID, got tag 0x{tag:02x}")
        oid = _oid_text(data[start:pos])
        tag, start, pos = _header(data, pos, bind_end, f"{oid} value")
        if pos != bind_end:
            raise SnmpProtocolError(f"{oid}: {bind_end - pos} stray bytes after the value")
        var_binds.append(_value(tag, data[start:pos], oid))
    return Response(request_id, error_status, error_index, community, var_binds)
