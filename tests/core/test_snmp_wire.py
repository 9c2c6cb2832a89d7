"""The v2c fast path (agent/devices/snmp/wire.py) against pysnmp's own encoding and decoding, byte for byte.

Requests: snmp_wire's pre-encoded GET/GETBULK equal pysnmp's message for hypothesis-drawn OIDs,
request-ids, communities and max-repetitions. Responses: pysnmp-encoded Response PDUs with every value
kind decode to the SnmpValues the pysnmp path (``agent.devices.snmp.pysnmp_path._convert``) gives. Garbage and truncated
datagrams raise SnmpProtocolError and nothing else.
"""

from __future__ import annotations

import sys
from pathlib import Path

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import decoder, encoder
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.pysnmp_path import _convert
from agent.devices.snmp.seam import SnmpValue
from agent.errors import SnmpProtocolError

sys.path.append(str(Path(__file__).resolve().parents[1] / "faults"))
import rawsnmp as raw

FAST = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])

arcs = st.integers(0, 2**32 - 1) | st.integers(0, 2**70)  # large arcs: multi-byte sub-identifiers


@st.composite
def oids(draw: st.DrawFn) -> str:
    first = draw(st.integers(0, 2))
    second = draw(st.integers(0, 39) if first < 2 else arcs)
    return ".".join(map(str, [first, second, *draw(st.lists(arcs, max_size=20))]))


request_ids = st.integers(0, 2**31 - 1)
communities = st.binary(max_size=40)
u32 = st.integers(0, 2**32 - 1) | st.sampled_from([0, 1, 2**31 - 1, 2**31, 2**32 - 1])
u64 = st.integers(0, 2**64 - 1) | st.sampled_from([0, 2**63 - 1, 2**63, 2**64 - 1])
i32 = st.integers(-(2**31), 2**31 - 1) | st.sampled_from([-(2**31), -1, 0, 2**31 - 1])

#: every value kind a Response can carry, as pysnmp objects
values = st.one_of(
    i32.map(v2c.Integer32),
    st.binary(max_size=300).map(v2c.OctetString),
    u32.map(v2c.Counter32),
    u32.map(v2c.Gauge32),
    u32.map(v2c.TimeTicks),
    u64.map(v2c.Counter64),
    st.binary(min_size=4, max_size=4).map(v2c.IpAddress),
    oids().map(v2c.ObjectIdentifier),
    st.builds(v2c.Null),
    st.binary(max_size=20).map(v2c.Opaque),
    st.sampled_from([0, 1, 2]).map(lambda i: (rfc1905.noSuchObject, rfc1905.noSuchInstance, rfc1905.endOfMibView)[i]),
)


def _pysnmp_request(community: bytes, names: list[str], request_id: int, bulk_repetitions: int | None) -> bytes:
    api = v2c.apiBulkPDU if bulk_repetitions is not None else v2c.apiPDU
    pdu = v2c.GetBulkRequestPDU() if bulk_repetitions is not None else v2c.GetRequestPDU()
    api.set_defaults(pdu)
    api.set_request_id(pdu, request_id)
    if bulk_repetitions is not None:
        v2c.apiBulkPDU.set_non_repeaters(pdu, 0)
        v2c.apiBulkPDU.set_max_repetitions(pdu, bulk_repetitions)
    api.set_varbinds(pdu, [(v2c.ObjectIdentifier(n), v2c.Null()) for n in names])
    return _message(community, pdu)


def _message(community: bytes, pdu: object) -> bytes:
    msg = v2c.Message()
    v2c.apiMessage.set_defaults(msg)
    v2c.apiMessage.set_community(msg, community)
    v2c.apiMessage.set_pdu(msg, pdu)
    return bytes(encoder.encode(msg))


def _pysnmp_response(
    community: bytes, request_id: int, var_binds: list[tuple[str, object]], error_status: int = 0, error_index: int = 0
) -> bytes:
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, request_id)
    v2c.apiPDU.set_error_status(pdu, error_status)
    v2c.apiPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(n), v) for n, v in var_binds])
    pdu["error-index"] = error_index  # set_error_index refuses an index past the var-binds; devices don't
    return _message(community, pdu)


def _pysnmp_decode(data: bytes) -> tuple[int, int, int, bytes, list[SnmpValue]]:
    """What the pysnmp path makes of a datagram: pyasn1 with pysnmp's v2c Message spec, then _convert."""
    msg, _rest = decoder.decode(data, asn1Spec=v2c.Message())
    pdu = v2c.apiMessage.get_pdu(msg)
    return (
        int(v2c.apiPDU.get_request_id(pdu)),
        int(v2c.apiPDU.get_error_status(pdu)),
        int(pdu["error-index"]),
        bytes(v2c.apiMessage.get_community(msg)),
        [_convert(n, v) for n, v in v2c.apiPDU.get_varbinds(pdu)],
    )


def _wire_decode(data: bytes) -> tuple[int, int, int, bytes, list[SnmpValue]]:
    r = snmp_wire.decode_response(data)
    return (r.request_id, r.error_status, r.error_index, r.community, [SnmpValue(o, k, v) for o, k, v in r.var_binds])  # type: ignore[arg-type]


# --- requests --------------------------------------------------------------------------------
@FAST
@given(communities, st.lists(oids(), min_size=1, max_size=30), request_ids)
def test_get_request_is_byte_identical_to_pysnmp(community: bytes, names: list[str], request_id: int) -> None:
    template = snmp_wire.RequestTemplate(community, names, snmp_wire.GET_TAG)
    assert template.encode(request_id) == _pysnmp_request(community, names, request_id, None)


@FAST
@given(
    communities, st.lists(oids(), min_size=1, max_size=30), request_ids, st.integers(0, 2**31 - 1) | st.integers(0, 300)
)
def test_getbulk_request_is_byte_identical_to_pysnmp(
    community: bytes, names: list[str], request_id: int, repetitions: int
) -> None:
    template = snmp_wire.RequestTemplate(community, names, snmp_wire.GETBULK_TAG, 0, repetitions)
    assert template.encode(request_id) == _pysnmp_request(community, names, request_id, repetitions)


def test_one_template_serves_every_request_id() -> None:
    template = snmp_wire.RequestTemplate(b"public", ["1.3.6.1.2.1.1.2.0"])
    for request_id in (0, 127, 128, 255, 256, 2**23, 2**31 - 1):
        assert template.encode(request_id) == _pysnmp_request(b"public", ["1.3.6.1.2.1.1.2.0"], request_id, None)


@pytest.mark.parametrize("bad", ["", "1", "3.1", "1.40", "1.3.x", "1.-3"])
def test_invalid_oids_are_refused_before_the_wire(bad: str) -> None:
    with pytest.raises(SnmpProtocolError):
        snmp_wire.encode_oid(bad)


# --- responses -------------------------------------------------------------------------------
@FAST
@given(
    communities, request_ids, st.lists(st.tuples(oids(), values), max_size=40), st.integers(0, 18), st.integers(0, 40)
)
def test_response_decodes_like_the_pysnmp_path(
    community: bytes, request_id: int, var_binds: list[tuple[str, object]], error_status: int, error_index: int
) -> None:
    data = _pysnmp_response(community, request_id, var_binds, error_status, error_index)
    assert _wire_decode(data) == _pysnmp_decode(data)


@pytest.mark.parametrize("tag", [0x02, 0x41, 0x42, 0x43, 0x46])
def test_zero_length_integers_are_malformed_on_both_paths(tag: int) -> None:
    """ServerTech Sentry4 sends ``02 00``; the adapter marks it malformed instead of reading 0."""
    name = "1.3.6.1.4.1.1718.3.2.2.1.3.1.1"
    for value, kind in ((bytes([tag, 0]), "malformed"), (bytes([tag, 1, 0]), None)):
        var_bind = raw.tlv(0x30, raw.oid(name) + value)
        pdu = raw.tlv(0xA2, raw.integer(9) + raw.integer(0) + raw.integer(0) + raw.tlv(0x30, var_bind))
        data = raw.tlv(0x30, raw.integer(1) + raw.octets(b"public") + pdu)
        expected = _pysnmp_decode(data)
        assert _wire_decode(data) == expected
        assert expected[4][0].kind == (kind or expected[4][0].kind)
        assert kind or expected[4][0].value == 0


@FAST
@given(st.binary(max_size=200))
def test_garbage_raises_only_the_protocol_error(data: bytes) -> None:
    try:
        snmp_wire.decode_response(data)
    except SnmpProtocolError as err:
        assert str(err)


@FAST
@given(communities, request_ids, st.lists(st.tuples(oids(), values), min_size=1, max_size=10), st.data())
def test_truncated_and_mutated_answers(
    community: bytes, request_id: int, var_binds: list[tuple[str, object]], data: st.DataObject
) -> None:
    """Every strict prefix is an error; a mutated message either fails with SnmpProtocolError or
    decodes to exactly what pysnmp makes of it."""
    message = _pysnmp_response(community, request_id, var_binds)
    cut = data.draw(st.integers(0, len(message) - 1))
    with pytest.raises(SnmpProtocolError):
        snmp_wire.decode_response(message[:cut])
    mutated = bytearray(message)
    for _ in range(data.draw(st.integers(1, 3))):
        mutated[data.draw(st.integers(0, len(mutated) - 1))] = data.draw(st.integers(0, 255))
    try:
        ours = _wire_decode(bytes(mutated))
    except SnmpProtocolError:
        return
    assert ours == _pysnmp_decode(bytes(mutated))


@pytest.mark.parametrize(
    ("data", "words"),
    [
        (b"", "truncated message"),
        (b"\x30\x03\x02\x01\x00", "msgVersion 0"),
        (b"\x30\x80", "indefinite length"),
        (bytes.fromhex("300b020101040170a003020101"), "expected Response"),
        (bytes.fromhex("3010020101040170a2080201010201000201"), "truncated error-index"),
    ],
)
def test_errors_name_what_is_wrong(data: bytes, words: str) -> None:
    with pytest.raises(SnmpProtocolError, match=words):
        snmp_wire.decode_response(data)
