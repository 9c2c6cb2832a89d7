"""A minimal BER codec for the SNMPv2c hot loop: GET/GETBULK requests out, Response PDUs in.

Written from X.690 (BER: definite lengths, INTEGER 8.3, OCTET STRING 8.7, NULL 8.8, OBJECT IDENTIFIER
8.19) and RFC 3416 (PDU layouts, application types, exceptions). Pure Python, no pysnmp or pyasn1:
only :mod:`agent.devices.snmp.fastpath`, :mod:`agent.devices.snmp.client` and
:mod:`agent.devices.snmp.pysnmp_path` import it, and the tests check it byte for byte against pysnmp.

A request is a :class:`RequestTemplate`: everything but the request-id is encoded once, so a poll is
a few byte concatenations. :func:`decode_response` returns plain ``(oid, kind, value)`` triples with
the same kinds and values as the pysnmp path (``agent.devices.snmp.pysnmp_path._convert``), including
``malformed`` for a zero-length INTEGER (``02 00``, ServerTech Sentry4 firmware). Anything structurally wrong raises
:class:`agent.errors.SnmpProtocolError` naming what and where; nothing else escapes.

One module (over 400 lines): one BER codec, v2c and v3 (USM authentication and AES privacy) over the same encoders;
its tests check it byte for byte against pysnmp.
"""

from __future__ import annotations

import hashlib
import hmac
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

#: (numeric OID without leading dot, kind as in ``agent.devices.snmp.seam.ValueKind``, value)
WireValue = tuple[str, str, int | bytes | str | None]

#: unsigned application types (RFC 2578 / RFC 3416): tag -> (kind, exclusive upper bound)
_UNSIGNED = {
    0x41: ("counter32", 1 << 32),
    0x42: ("gauge32", 1 << 32),
    0x43: ("timeticks", 1 << 32),
    0x46: ("counter64", 1 << 64),
}
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

    def __init__(
        self,
        community: bytes,
        oids: Sequence[str],
        tag: int = GET_TAG,
        non_repeaters: int = 0,
        max_repetitions: int = 0,
    ) -> None:
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
        raise SnmpProtocolError(f"truncated {what} at byte {pos}: {length} content bytes announced, {end - pos} left")
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


def _decode_pdu(data: bytes, pos: int, end: int, tags: tuple[int, ...]) -> tuple[int, int, int, int, list[WireValue]]:
    """(tag, request-id, error-status, error-index, var-binds) of the PDU at ``pos`` (RFC 3416 3)."""
    pdu_tag, pos, pdu_end = _header(data, pos, end, "PDU")
    if pdu_tag not in tags:
        expected = " or ".join(f"0x{t:02x}" for t in tags)
        raise SnmpProtocolError(f"PDU: expected Response ({expected}), got tag 0x{pdu_tag:02x}")
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
        # The common shape first, without a call per TLV: a var-bind SEQUENCE, its OID and its value, all three
        # with short-form lengths and exactly nested. Anything else (long forms, truncation, stray bytes) takes
        # the checked path below, which names the defect.
        if pos + 4 <= list_end and data[pos] == 0x30 and data[pos + 2] == 0x06:
            bind_len, oid_len = data[pos + 1], data[pos + 3]
            oid_end = pos + 4 + oid_len
            bind_end = pos + 2 + bind_len
            if bind_len < 0x80 and oid_len < 0x80 and oid_end + 2 <= bind_end <= list_end:
                value_len = data[oid_end + 1]
                if value_len < 0x80 and oid_end + 2 + value_len == bind_end:
                    oid = _oid_text(data[pos + 4 : oid_end])
                    var_binds.append(_value(data[oid_end], data[oid_end + 2 : bind_end], oid))
                    pos = bind_end
                    continue
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
    return pdu_tag, request_id, error_status, error_index, var_binds


def _envelope(data: bytes) -> tuple[int, int, int]:
    """The message SEQUENCE and its msgVersion: (version, position after it, end of the message).

    Bytes after the message are ignored, as pysnmp does.
    """
    tag, pos, end = _header(data, 0, len(data), "message")
    if tag != 0x30:
        raise SnmpProtocolError(f"message: expected SEQUENCE (0x30), got tag 0x{tag:02x}")
    version, pos = _expect_integer(data, pos, end, "msgVersion")
    return version, pos, end


def decode_response(data: bytes) -> Response:
    """Decode an SNMPv2c Response message; raise :class:`SnmpProtocolError` naming any defect."""
    version, pos, end = _envelope(data)
    if version != SNMP_V2C:
        raise SnmpProtocolError(f"msgVersion {version}, not SNMPv2c")
    tag, start, pos = _header(data, pos, end, "community")
    if tag != 0x04:
        raise SnmpProtocolError(f"community: expected OCTET STRING (0x04), got tag 0x{tag:02x}")
    community = data[start:pos]
    _tag, request_id, error_status, error_index, var_binds = _decode_pdu(data, pos, end, (RESPONSE_TAG,))
    return Response(request_id, error_status, error_index, community, var_binds)


def message_id(data: bytes) -> tuple[int, int]:
    """(msgVersion, the id an answer is matched by) of any SNMP message, request or answer: the msgID
    for SNMPv3, the PDU's request-id for v1 and v2c. Raises SnmpProtocolError if unreadable."""
    version, pos, end = _envelope(data)
    if version == SNMP_V3:
        return version, decode_v3_header(data).msg_id
    _tag, _start, pos = _header(data, pos, end, "community")
    _tag, pos, pdu_end = _header(data, pos, end, "PDU")
    request_id, _pos = _expect_integer(data, pos, pdu_end, "request-id")
    return version, request_id


# --- SNMPv3 USM authPriv (RFC 3412 message, RFC 3414 USM, RFC 7860 SHA-2, RFC 3826 AES) ---------------
SNMP_V3 = 3
USM_MODEL = 3
MSG_MAX_SIZE = 65507  # what pysnmp's engine announces
FLAG_AUTH, FLAG_PRIV, FLAG_REPORTABLE = 0x01, 0x02, 0x04
REPORT_TAG = 0xA8

#: auth protocol -> (hash, HMAC truncation in octets): RFC 3414 6.3/7.3 (12) and RFC 7860 4.2.2
AUTH_HASHES: dict[str, tuple[str, int]] = {
    "md5": ("md5", 12),
    "sha": ("sha1", 12),
    "sha224": ("sha224", 16),
    "sha256": ("sha256", 24),
    "sha384": ("sha384", 32),
    "sha512": ("sha512", 48),
}
#: AES-CFB key sizes in octets (RFC 3826; 192/256 as the draft-blumenthal-aes-usm profiles)
AES_KEY_BYTES = {"aes128": 16, "aes192": 24, "aes256": 32}
#: usmStats counters a Report names (RFC 3414 5), with the text pysnmp's indication carries
USM_REPORTS = {
    "1.3.6.1.6.3.15.1.1.1.0": "Unsupported SNMP security level",
    "1.3.6.1.6.3.15.1.1.2.0": "SNMP message timing parameters not in windows of trust",
    "1.3.6.1.6.3.15.1.1.3.0": "Unknown USM user",
    "1.3.6.1.6.3.15.1.1.4.0": "Unknown SNMP engine ID encountered",
    "1.3.6.1.6.3.15.1.1.5.0": "Wrong SNMP PDU digest",
    "1.3.6.1.6.3.15.1.1.6.0": "Ciphering services not available or ciphertext is broken",
}
NOT_IN_TIME_WINDOW = "1.3.6.1.6.3.15.1.1.2.0"
UNKNOWN_ENGINE_ID = "1.3.6.1.6.3.15.1.1.4.0"


def password_to_key(password: bytes, auth_protocol: str) -> bytes:
    """RFC 3414 A.2: hash one megabyte of the repeated password (RFC 7860 4.2.2 for SHA-2)."""
    if not password:
        raise SnmpProtocolError("empty USM password")
    megabyte = 1 << 20
    return hashlib.new(AUTH_HASHES[auth_protocol][0], (password * (megabyte // len(password) + 1))[:megabyte]).digest()


def localize_key(key: bytes, engine_id: bytes, auth_protocol: str) -> bytes:
    """RFC 3414 A.2: Kul = H(Ku || snmpEngineID || Ku)."""
    return hashlib.new(AUTH_HASHES[auth_protocol][0], key + engine_id + key).digest()


class UsmKeys(NamedTuple):
    """Localized keys of one user at one authoritative engine."""

    auth_protocol: str
    auth_key: bytes
    priv_key: bytes  # already cut to the AES key size

    def __repr__(self) -> str:
        return f"UsmKeys(auth_protocol={self.auth_protocol!r}, keys=<secret>)"


def usm_keys(
    auth_protocol: str, auth_password: bytes, priv_protocol: str, priv_password: bytes, engine_id: bytes
) -> UsmKeys:
    """Localized auth and AES privacy keys (the privacy password is localized with the auth hash)."""
    size = AES_KEY_BYTES[priv_protocol]
    priv = localize_key(password_to_key(priv_password, auth_protocol), engine_id, auth_protocol)
    if len(priv) < size:
        raise SnmpProtocolError(f"{priv_protocol} needs key extension after {auth_protocol}; not on the fast path")
    auth = localize_key(password_to_key(auth_password, auth_protocol), engine_id, auth_protocol)
    return UsmKeys(auth_protocol, auth, priv[:size])


def _aes_cfb(key: bytes, boots: int, time_s: int, salt: bytes, data: bytes, encrypt: bool) -> bytes:
    """RFC 3826 3.1.2.1: IV = boots (4) || time (4) || salt (8); AES in CFB-128 mode."""
    # loaded at the first v3 message (a few microseconds after that), not by every `pue-agent read` over v2c
    from cryptography.hazmat.decrepit.ciphers.modes import CFB
    from cryptography.hazmat.primitives.ciphers import Cipher, algorithms

    iv = boots.to_bytes(4, "big") + time_s.to_bytes(4, "big") + salt
    cipher = Cipher(algorithms.AES(key), CFB(iv))
    work = cipher.encryptor() if encrypt else cipher.decryptor()
    return work.update(data) + work.finalize()


def encode_v3_request(
    keys: UsmKeys | None,
    msg_id: int,
    engine_id: bytes,
    boots: int,
    time_s: int,
    user: bytes,
    context_name: bytes,
    salt: bytes,
    pdu: bytes,
) -> bytes:
    """A whole SNMPv3 message: authPriv with ``keys``, or the noAuthNoPriv discovery probe without."""
    scoped = _tlv(0x30, _tlv(0x04, engine_id) + _tlv(0x04, context_name) + pdu)
    if keys is None:
        flags, auth_len, priv_params, data = FLAG_REPORTABLE, 0, b"", scoped
    else:
        flags, auth_len, priv_params = FLAG_AUTH | FLAG_PRIV | FLAG_REPORTABLE, AUTH_HASHES[keys.auth_protocol][1], salt
        data = _tlv(0x04, _aes_cfb(keys.priv_key, boots, time_s, salt, scoped, encrypt=True))
    header = _tlv(0x30, _integer(msg_id) + _integer(MSG_MAX_SIZE) + _tlv(0x04, bytes((flags,))) + _integer(USM_MODEL))
    before_auth = _tlv(0x04, engine_id) + _integer(boots) + _integer(time_s) + _tlv(0x04, user)
    auth_params = _tlv(0x04, bytes(auth_len))
    security = _tlv(0x04, _tlv(0x30, before_auth + auth_params + _tlv(0x04, priv_params)))
    body = _integer(SNMP_V3) + header + security + data
    message = b"\x30" + _length(len(body)) + body
    if keys is None:
        return message
    # RFC 3414 6.3.1: HMAC over the message with zeroed auth parameters, then put in their place
    usm_body_len = len(before_auth) + len(auth_params) + 2 + len(priv_params)
    usm_header = 1 + len(_length(usm_body_len))
    security_header = 1 + len(_length(usm_header + usm_body_len))
    offset = 1 + len(_length(len(body))) + 3 + len(header) + security_header + usm_header + len(before_auth) + 2
    digest = hmac.new(keys.auth_key, message, AUTH_HASHES[keys.auth_protocol][0]).digest()[:auth_len]
    return message[:offset] + digest + message[offset + auth_len :]


def encode_pdu(
    tag: int, request_id: int, oids: Sequence[str], non_repeaters: int = 0, max_repetitions: int = 0
) -> bytes:
    """A GET/GETBULK PDU (RFC 3416 3) with NULL values."""
    first, second = (non_repeaters, max_repetitions) if tag == GETBULK_TAG else (0, 0)
    var_binds = b"".join(_tlv(0x30, encode_oid(oid) + b"\x05\x00") for oid in oids)
    return _tlv(tag, _integer(request_id) + _integer(first) + _integer(second) + _tlv(0x30, var_binds))


class V3Header(NamedTuple):
    """The clear-text part of an SNMPv3 message: enough to match it to a request and authenticate it."""

    msg_id: int
    flags: int
    engine_id: bytes
    boots: int
    time_s: int
    user: bytes
    auth_params: bytes
    auth_offset: int  # where auth_params sit in the message
    priv_params: bytes
    data_start: int
    data_end: int


def message_version(data: bytes) -> int:
    """msgVersion of a datagram (0 v1, 1 v2c, 3 v3); raises SnmpProtocolError if unreadable."""
    return _envelope(data)[0]


def decode_v3_header(data: bytes) -> V3Header:
    """Parse version, msgGlobalData and the USM security parameters of an SNMPv3 message."""
    version, pos, end = _envelope(data)
    if version != SNMP_V3:
        raise SnmpProtocolError(f"msgVersion {version}, not SNMPv3")
    tag, pos, header_end = _header(data, pos, end, "msgGlobalData")
    if tag != 0x30:
        raise SnmpProtocolError(f"msgGlobalData: expected SEQUENCE, got tag 0x{tag:02x}")
    msg_id, pos = _expect_integer(data, pos, header_end, "msgID")
    _max_size, pos = _expect_integer(data, pos, header_end, "msgMaxSize")
    flags_bytes, pos = _expect_octets(data, pos, header_end, "msgFlags")
    if len(flags_bytes) != 1:
        raise SnmpProtocolError(f"msgFlags of {len(flags_bytes)} octets, not 1")
    model, pos = _expect_integer(data, pos, header_end, "msgSecurityModel")
    if model != USM_MODEL or pos != header_end:
        raise SnmpProtocolError(f"msgSecurityModel {model}, not USM (3)")
    tag, pos, params_end = _header(data, header_end, end, "msgSecurityParameters")
    if tag != 0x04:
        raise SnmpProtocolError(f"msgSecurityParameters: expected OCTET STRING, got tag 0x{tag:02x}")
    tag, spos, usm_end = _header(data, pos, params_end, "UsmSecurityParameters")
    if tag != 0x30 or usm_end != params_end:
        raise SnmpProtocolError("UsmSecurityParameters: expected one SEQUENCE")
    engine_id, spos = _expect_octets(data, spos, usm_end, "msgAuthoritativeEngineID")
    boots, spos = _expect_integer(data, spos, usm_end, "msgAuthoritativeEngineBoots")
    time_s, spos = _expect_integer(data, spos, usm_end, "msgAuthoritativeEngineTime")
    user, spos = _expect_octets(data, spos, usm_end, "msgUserName")
    tag, auth_offset, auth_end = _header(data, spos, usm_end, "msgAuthenticationParameters")
    if tag != 0x04:
        raise SnmpProtocolError(f"msgAuthenticationParameters: expected OCTET STRING, got tag 0x{tag:02x}")
    priv_params, spos = _expect_octets(data, auth_end, usm_end, "msgPrivacyParameters")
    if spos != usm_end:
        raise SnmpProtocolError("UsmSecurityParameters: stray bytes")
    if not (0 <= boots < _INT32_LIMIT and 0 <= time_s < _INT32_LIMIT):
        raise SnmpProtocolError(f"engine boots/time out of range: {boots}/{time_s}")
    return V3Header(
        msg_id,
        flags_bytes[0],
        engine_id,
        boots,
        time_s,
        user,
        data[auth_offset:auth_end],
        auth_offset,
        priv_params,
        params_end,
        end,
    )


def _expect_octets(data: bytes, pos: int, end: int, what: str) -> tuple[bytes, int]:
    tag, start, stop = _header(data, pos, end, what)
    if tag != 0x04:
        raise SnmpProtocolError(f"{what}: expected OCTET STRING (0x04), got tag 0x{tag:02x}")
    return data[start:stop], stop


def authenticate(data: bytes, header: V3Header, keys: UsmKeys) -> bool:
    """RFC 3414 7.3.2: the HMAC over the message with zeroed auth parameters matches them."""
    size = AUTH_HASHES[keys.auth_protocol][1]
    if len(header.auth_params) != size:
        return False
    blank = data[: header.auth_offset] + bytes(size) + data[header.auth_offset + size :]
    digest = hmac.new(keys.auth_key, blank, AUTH_HASHES[keys.auth_protocol][0]).digest()[:size]
    return hmac.compare_digest(digest, header.auth_params)


class ScopedPdu(NamedTuple):
    """A decrypted scoped PDU: Response (0xa2) or Report (0xa8)."""

    tag: int
    context_engine_id: bytes
    request_id: int
    error_status: int
    error_index: int
    var_binds: list[WireValue]


def decode_scoped_pdu(data: bytes, header: V3Header, keys: UsmKeys | None) -> ScopedPdu:
    """Decrypt (when msgFlags say priv) and decode msgData; raises SnmpProtocolError on any defect."""
    if header.flags & FLAG_PRIV:
        if keys is None:
            raise SnmpProtocolError("encrypted scoped PDU without privacy keys")
        encrypted, pos = _expect_octets(data, header.data_start, header.data_end, "encryptedPDU")
        if len(header.priv_params) != 8:
            raise SnmpProtocolError(f"msgPrivacyParameters of {len(header.priv_params)} octets, not 8")
        plain = _aes_cfb(keys.priv_key, header.boots, header.time_s, header.priv_params, encrypted, encrypt=False)
        start, end = 0, len(plain)
    else:
        plain, start, end = data, header.data_start, header.data_end
    tag, pos, scoped_end = _header(plain, start, end, "scopedPDU")
    if tag != 0x30:
        raise SnmpProtocolError(f"scopedPDU: expected SEQUENCE, got tag 0x{tag:02x} (wrong privacy key?)")
    context_engine_id, pos = _expect_octets(plain, pos, scoped_end, "contextEngineID")
    _context_name, pos = _expect_octets(plain, pos, scoped_end, "contextName")
    pdu_tag, request_id, error_status, error_index, var_binds = _decode_pdu(
        plain, pos, scoped_end, (RESPONSE_TAG, REPORT_TAG)
    )
    return ScopedPdu(pdu_tag, context_engine_id, request_id, error_status, error_index, var_binds)
