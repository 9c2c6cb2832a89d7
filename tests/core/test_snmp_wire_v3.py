"""The fast path's SNMPv3 USM pieces against pysnmp's own: key localization (RFC 3414 A.2, RFC 7860),
the whole authPriv request message (RFC 3412 layout, RFC 3826 AES-CFB, HMAC truncation) byte for byte,
and decoding of authenticated, encrypted responses and reports that pysnmp's modules produce."""

from __future__ import annotations

from hashlib import md5, sha1, sha224, sha256, sha384, sha512

import pysnmp.hlapi.v3arch.asyncio  # noqa: F401  (pysnmp's eso AES modules import in this order only)
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pyasn1.codec.ber import encoder
from pysnmp.proto import rfc1905
from pysnmp.proto.api import v2c
from pysnmp.proto.mpmod.rfc3412 import ScopedPDU, SNMPv3Message
from pysnmp.proto.secmod.eso.priv import aes192, aes256
from pysnmp.proto.secmod.rfc3414 import localkey
from pysnmp.proto.secmod.rfc3414.auth import hmacmd5, hmacsha
from pysnmp.proto.secmod.rfc3414.service import UsmSecurityParameters
from pysnmp.proto.secmod.rfc3826.priv import aes
from pysnmp.proto.secmod.rfc7860.auth import hmacsha2

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.pysnmp_path import _convert
from agent.devices.snmp.seam import SnmpValue
from agent.errors import SnmpProtocolError

FAST = settings(max_examples=60, deadline=None, suppress_health_check=[HealthCheck.too_slow])
HASHES = {"md5": md5, "sha": sha1, "sha224": sha224, "sha256": sha256, "sha384": sha384, "sha512": sha512}
AUTH_MODULES = {
    "md5": hmacmd5.HmacMd5(),
    "sha": hmacsha.HmacSha(),
    "sha224": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA224_SERVICE_ID),
    "sha256": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA256_SERVICE_ID),
    "sha384": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SAH384_SERVICE_ID),
    "sha512": hmacsha2.HmacSha2(hmacsha2.HmacSha2.SHA512_SERVICE_ID),
}
PRIV_MODULES = {"aes128": aes.Aes, "aes192": aes192.Aes192, "aes256": aes256.Aes256}
#: auth x priv pairs the fast path serves (the auth digest is long enough for the AES key)
PAIRS = [(a, p) for a in HASHES for p in PRIV_MODULES if HASHES[a]().digest_size >= snmp_wire.AES_KEY_BYTES[p]]
passwords = st.binary(min_size=1, max_size=40)
engine_ids = st.binary(min_size=5, max_size=32)


@settings(max_examples=12, deadline=None)
@given(st.sampled_from(sorted(HASHES)), passwords, engine_ids)
def test_keys_are_localized_as_pysnmp_does(auth: str, password: bytes, engine_id: bytes) -> None:
    ku = snmp_wire.password_to_key(password, auth)
    assert ku == bytes(localkey.hash_passphrase(password, HASHES[auth]))
    assert snmp_wire.localize_key(ku, engine_id, auth) == bytes(
        localkey.localize_key(ku, v2c.OctetString(engine_id), HASHES[auth])
    )


def _pysnmp_v3(
    auth: str,
    priv: str,
    keys: snmp_wire.UsmKeys,
    msg_id: int,
    engine_id: bytes,
    boots: int,
    time_s: int,
    user: bytes,
    salt_int: int,
    pdu: object,
    context: bytes = b"",
) -> bytes:
    """An authPriv message composed from pysnmp's own ASN.1 types, AES and HMAC modules."""
    scoped_pdu = ScopedPDU()
    scoped_pdu.setComponentByPosition(0, engine_id)
    scoped_pdu.setComponentByPosition(1, context)
    scoped_pdu.setComponentByPosition(2)
    scoped_pdu.getComponentByPosition(2).setComponentByType(pdu.tagSet, pdu)  # type: ignore[attr-defined]
    cipher = PRIV_MODULES[priv]()
    cipher.local_int = salt_int
    encrypted, salt = cipher.encrypt_data(
        v2c.OctetString(keys.priv_key), (boots, time_s, None), encoder.encode(scoped_pdu)
    )
    size = snmp_wire.AUTH_HASHES[auth][1]
    params = UsmSecurityParameters()
    for i, value in enumerate([engine_id, boots, time_s, user, b"\0" * size, bytes(salt)]):
        params.setComponentByPosition(i, value)
    msg = SNMPv3Message()
    msg.setComponentByPosition(0, 3)
    header = msg.setComponentByPosition(1).getComponentByPosition(1)
    for i, value in enumerate([msg_id, snmp_wire.MSG_MAX_SIZE, b"\x07", 3]):
        header.setComponentByPosition(i, value)
    msg.setComponentByPosition(2, encoder.encode(params))
    msg.setComponentByPosition(3).getComponentByPosition(3).setComponentByPosition(1, encrypted)
    return bytes(AUTH_MODULES[auth].authenticate_outgoing_message(v2c.OctetString(keys.auth_key), encoder.encode(msg)))


@FAST
@given(
    st.sampled_from(PAIRS),
    passwords,
    passwords,
    engine_ids,
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**64 - 1),
    st.lists(st.integers(0, 2**32).map(lambda n: f"1.3.6.1.4.1.{n}.1"), min_size=1, max_size=5),
    st.integers(0, 2**31 - 1),
    st.binary(min_size=1, max_size=20),
)
def test_authpriv_request_is_byte_identical_to_pysnmp(
    pair: tuple[str, str],
    auth_pw: bytes,
    priv_pw: bytes,
    engine_id: bytes,
    boots: int,
    time_s: int,
    msg_id: int,
    salt_int: int,
    names: list[str],
    request_id: int,
    user: bytes,
) -> None:
    auth, priv = pair
    keys = snmp_wire.usm_keys(auth, auth_pw, priv, priv_pw, engine_id)
    pdu = v2c.GetBulkRequestPDU()
    v2c.apiBulkPDU.set_defaults(pdu)
    v2c.apiBulkPDU.set_request_id(pdu, request_id)
    v2c.apiBulkPDU.set_max_repetitions(pdu, 25)
    v2c.apiBulkPDU.set_varbinds(pdu, [(v2c.ObjectIdentifier(n), v2c.Null()) for n in names])
    ours = snmp_wire.encode_v3_request(
        keys,
        msg_id,
        engine_id,
        boots,
        time_s,
        user,
        b"",
        salt_int.to_bytes(8, "big"),
        snmp_wire.encode_pdu(snmp_wire.GETBULK_TAG, request_id, names, 0, 25),
    )
    assert ours == _pysnmp_v3(auth, priv, keys, msg_id, engine_id, boots, time_s, user, salt_int, pdu)


@FAST
@given(
    st.sampled_from(PAIRS),
    engine_ids,
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**31 - 1),
    st.integers(0, 2**64 - 1),
    st.integers(-(2**31), 2**31 - 1),
    st.binary(max_size=100),
    st.integers(0, 2**64 - 1),
)
def test_authpriv_response_decodes_like_pysnmp(
    pair: tuple[str, str],
    engine_id: bytes,
    boots: int,
    time_s: int,
    salt_int: int,
    number: int,
    text: bytes,
    counter: int,
) -> None:
    auth, priv = pair
    keys = snmp_wire.usm_keys(auth, b"auth-password", priv, b"priv-password", engine_id)
    pdu = v2c.ResponsePDU()
    v2c.apiPDU.set_defaults(pdu)
    v2c.apiPDU.set_request_id(pdu, 4242)
    binds = [
        (v2c.ObjectIdentifier("1.3.6.1.4.1.1.1"), v2c.Integer32(number)),
        (v2c.ObjectIdentifier("1.3.6.1.4.1.1.2"), v2c.OctetString(text)),
        (v2c.ObjectIdentifier("1.3.6.1.4.1.1.3"), v2c.Counter64(counter)),
        (v2c.ObjectIdentifier("1.3.6.1.4.1.1.4"), rfc1905.noSuchInstance),
    ]
    v2c.apiPDU.set_varbinds(pdu, binds)
    data = _pysnmp_v3(auth, priv, keys, 77, engine_id, boots, time_s, b"user", salt_int, pdu)
    header = snmp_wire.decode_v3_header(data)
    assert (header.msg_id, header.engine_id, header.boots, header.time_s) == (77, engine_id, boots, time_s)
    assert snmp_wire.authenticate(data, header, keys)
    scoped = snmp_wire.decode_scoped_pdu(data, header, keys)
    assert (scoped.tag, scoped.request_id, scoped.error_status) == (0xA2, 4242, 0)
    assert [SnmpValue(o, k, v) for o, k, v in scoped.var_binds] == [_convert(n, v) for n, v in binds]  # type: ignore[arg-type]
    other = snmp_wire.usm_keys(auth, b"another-password", priv, b"priv-password", engine_id)
    assert not snmp_wire.authenticate(data, header, other)
    wrong_priv = snmp_wire.usm_keys(auth, b"auth-password", priv, b"another-password", engine_id)
    with pytest.raises(SnmpProtocolError):
        snmp_wire.decode_scoped_pdu(data, header, wrong_priv)


@FAST
@given(st.binary(max_size=300))
def test_v3_garbage_raises_only_the_protocol_error(data: bytes) -> None:
    keys = snmp_wire.usm_keys("sha256", b"a-password", "aes128", b"p-password", b"engine")
    try:
        header = snmp_wire.decode_v3_header(data)
        snmp_wire.authenticate(data, header, keys)
        snmp_wire.decode_scoped_pdu(data, header, keys)
    except SnmpProtocolError as err:
        assert str(err)
