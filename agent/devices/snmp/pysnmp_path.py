"""The pysnmp path of :class:`~agent.devices.snmp.client.PysnmpClient`: SET, and the GET/GETBULK the fast path
does not serve (v1, DES/3DES, authNoPriv, IPv6, non-Latin-1 credentials).

:mod:`agent.devices.snmp.client` imports this module only when the first such request comes: pysnmp's
high-level API takes about 0.4 s of CPU to import (pysmi, lark and requests come with it), which ``pue-agent
read`` over v2c or v3/AES, the demo and a site on the fast path never need to pay.

Implementation notes:
- one ``SnmpEngine`` per event loop, created lazily and reused for every target;
- numeric OIDs with ``lookupMib=False`` (no MIB resolution on the hot path), and the engine's MIB
  view never gets pysmi's compiler: pysnmp would otherwise build it (a LALR parser, ~1 s of CPU on the
  event loop, stalling every poll in flight) at the first pysnmp request, and could try to download
  MIBs from the internet; a pue-agent profile names numeric OIDs, so no MIB is ever compiled;
- SNMPv3 protocols are always explicit (pysnmp would silently default to MD5/DES).
"""

from __future__ import annotations

import asyncio
import os
from collections.abc import Callable, Sequence
from typing import Any

from pysnmp.error import PySnmpError
from pysnmp.hlapi.v3arch.asyncio import (
    CommunityData,
    ContextData,
    ObjectIdentity,
    ObjectType,
    SnmpEngine,
    UdpTransportTarget,
    UsmUserData,
    bulk_cmd,
    get_cmd,
    set_cmd,
    usm3DESEDEPrivProtocol,
    usmAesCfb128Protocol,
    usmAesCfb192Protocol,
    usmAesCfb256Protocol,
    usmDESPrivProtocol,
    usmHMAC128SHA224AuthProtocol,
    usmHMAC192SHA256AuthProtocol,
    usmHMAC256SHA384AuthProtocol,
    usmHMAC384SHA512AuthProtocol,
    usmHMACMD5AuthProtocol,
    usmHMACSHAAuthProtocol,
)
from pysnmp.proto import errind, rfc1902, rfc1905
from pysnmp.smi import builder as smi_builder
from pysnmp.smi import view as smi_view

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.fastpath import MAX_REMEMBERED, Address, ForeignAnswers, source_address
from agent.devices.snmp.seam import SnmpTarget, SnmpValue, V2cAuth, V3Auth, ValueKind
from agent.errors import SnmpAuthError, SnmpError, SnmpProtocolError, SnmpSetRefusedError, SnmpTimeoutError

__all__ = ["AUTH_PROTOCOLS", "PRIV_PROTOCOLS", "PysnmpSession", "error_status_text"]

#: pysnmp's protocol objects by the names config and command line accept (seam.AUTH_PROTOCOL_NAMES)
AUTH_PROTOCOLS = {
    "md5": usmHMACMD5AuthProtocol,
    "sha": usmHMACSHAAuthProtocol,
    "sha224": usmHMAC128SHA224AuthProtocol,
    "sha256": usmHMAC192SHA256AuthProtocol,
    "sha384": usmHMAC256SHA384AuthProtocol,
    "sha512": usmHMAC384SHA512AuthProtocol,
}
PRIV_PROTOCOLS = {
    "des": usmDESPrivProtocol,
    "3des": usm3DESEDEPrivProtocol,
    "aes128": usmAesCfb128Protocol,
    "aes192": usmAesCfb192Protocol,
    "aes256": usmAesCfb256Protocol,
}


_KIND_BY_CLASS: tuple[tuple[type, ValueKind], ...] = (
    (rfc1902.Counter64, "counter64"),
    (rfc1902.Counter32, "counter32"),
    (rfc1902.Gauge32, "gauge32"),  # Unsigned32 is the same class in pysnmp
    (rfc1902.TimeTicks, "timeticks"),
    (rfc1902.IpAddress, "ipaddress"),
    (rfc1902.Integer32, "integer"),
    (rfc1902.Integer, "integer"),
    (rfc1902.OctetString, "octets"),
    (rfc1902.univ.ObjectIdentifier, "oid"),
)


_ZERO_LENGTH_MARK = "_pue_agent_zero_length"


def _install_zero_length_integer_mark() -> None:
    """Mark INTEGERs that arrived with no content octets, so they are not read as 0.

    X.690 8.3.1 requires at least one content octet; ServerTech Sentry4 firmware sends ``02 00`` in
    GETBULK answers, and pyasn1 silently decodes that as 0 (a PDU cord at 0 W would understate IT
    power). Rejecting the whole message would lose every good var-bind in it, so the decoded object
    is only tagged here and :func:`_convert` turns it into a per-object ``malformed`` value.
    Wraps pyasn1's BER INTEGER payload decoder once per process; values are unchanged.
    """
    from pyasn1.codec.ber import decoder as ber_decoder

    cls = ber_decoder.IntegerPayloadDecoder
    original = cls.valueDecoder
    if getattr(original, "_pue_agent_wrapped", False):
        return

    def value_decoder(  # type: ignore[no-untyped-def]
        self,
        substrate,
        asn1Spec,
        tagSet=None,
        length=None,
        state=None,
        decodeFun=None,
        substrateFun=None,
        **options,
    ):
        for item in original(self, substrate, asn1Spec, tagSet, length, state, decodeFun, substrateFun, **options):
            if length == 0 and not isinstance(item, ber_decoder.SubstrateUnderrunError):
                setattr(item, _ZERO_LENGTH_MARK, True)
            yield item

    value_decoder._pue_agent_wrapped = True  # type: ignore[attr-defined]
    cls.valueDecoder = value_decoder


_install_zero_length_integer_mark()


def _convert(oid: object, val: object) -> SnmpValue:
    name = str(oid)
    if getattr(val, _ZERO_LENGTH_MARK, False):
        return SnmpValue(name, "malformed", None)
    if isinstance(val, rfc1905.NoSuchObject):
        return SnmpValue(name, "no_such_object", None)
    if isinstance(val, rfc1905.NoSuchInstance):
        return SnmpValue(name, "no_such_instance", None)
    if isinstance(val, rfc1905.EndOfMibView):
        return SnmpValue(name, "end_of_mib_view", None)
    for cls, kind in _KIND_BY_CLASS:
        if isinstance(val, cls):
            try:
                if kind == "octets":
                    return SnmpValue(name, kind, bytes(val))  # type: ignore[call-overload]
                if kind in ("oid", "ipaddress"):
                    return SnmpValue(name, kind, val.prettyPrint())  # type: ignore[attr-defined]
                return SnmpValue(name, kind, int(val))  # type: ignore[call-overload]
            except Exception as err:  # pyasn1 raises its own errors on empty/garbled values
                raise SnmpProtocolError(f"{name}: undecodable {kind} value: {err}") from err
    return SnmpValue(name, "null", None)


_AUTH_FAILURES = (
    "unknownusername",
    "wrongdigest",
    "unknownengineid",
    "unsupportedsecuritylevel",
    "authenticationfailure",
    "decryptionerror",
    "notintimewindow",
)
#: pysnmp's USM error indications; their text ("Wrong SNMP PDU digest") does not name the class
_AUTH_INDICATIONS: tuple[type, ...] = (
    errind.WrongDigest,
    errind.UnknownUserName,
    errind.UnknownSecurityName,
    errind.UnknownEngineID,
    errind.UnsupportedSecurityLevel,
    errind.AuthenticationFailure,
    errind.AuthenticationError,
    errind.DecryptionError,
    errind.NotInTimeWindow,
    errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol,
    errind.UnknownCommunityName,
)


def error_status_text(status: int) -> str:
    """The error-status as pysnmp prints it (``noSuchName``; the number when RFC 3416 names none)."""
    return str(rfc1905.errorStatus.clone(status).prettyPrint())


def _raise_indication(target: SnmpTarget, indication: object) -> None:
    text = str(indication)
    low = text.replace(" ", "").lower()
    if isinstance(indication, errind.RequestTimedOut) or "timeout" in low or "norespons" in low:
        raise SnmpTimeoutError(f"{target.host}:{target.port}: no response ({text})")
    if isinstance(indication, _AUTH_INDICATIONS) or any(word in low for word in _AUTH_FAILURES):
        raise SnmpAuthError(f"{target.host}:{target.port}: credentials refused ({text})")
    raise SnmpProtocolError(f"{target.host}:{target.port}: {text}")


class _NoMibCompiler:
    """Stands in for pysmi's MIB compiler in the engine's MIB view: compiles nothing, fetches nothing.

    pysnmp adds the real one (``add_mib_compiler(ifNotAdded=True)``) when it first resolves a var-bind,
    which costs ~1 s of CPU on the event loop and may reach for MIBs on the internet. With this one in
    place a MIB module that is not already installed as Python is simply "missing".
    """

    def compile(self, *mib_names: str, **_options: object) -> dict[str, str]:
        return {name: "missing" for name in mib_names}


def _engine_without_mib_compiler() -> SnmpEngine:
    engine = SnmpEngine()
    mib_builder = smi_builder.MibBuilder()
    # set_mib_compiler also adds its directory as a MIB source: give it pysnmp's own, already a source
    own_mibs = os.path.join(os.path.dirname(smi_builder.__file__), "mibs")
    mib_builder.set_mib_compiler(_NoMibCompiler(), own_mibs)
    # the var-bind processor looks its MIB view up here before creating one (pysnmp.hlapi.varbinds)
    engine.cache["mibViewController"] = smi_view.MibViewController(mib_builder)
    return engine


def _guard_sources(engine: SnmpEngine, foreign: ForeignAnswers) -> None:
    """Make ``engine`` drop answers from anywhere but the address and port their request went to.

    pysnmp matches a v1/v2c answer by request-id and community only. Every outgoing message's id (request-id,
    or msgID for v3) is noted here with its destination (an observer of both message processing models), and an
    incoming message carrying a noted id from another source is dropped before pysnmp's message processing
    sees it (which would consume the request's cache entry and so lose the device's own answer).
    """
    sent: dict[tuple[int, int], Address] = {}

    def on_send(_engine: object, _execpoint: str, variables: dict[str, Any], _ctx: object) -> None:
        try:
            key = snmp_wire.message_id(bytes(variables["wholeMsg"]))
        except SnmpProtocolError:
            return
        if len(sent) >= MAX_REMEMBERED:
            del sent[next(iter(sent))]  # the oldest: a request long timed out
        sent[key] = source_address(tuple(variables["transportAddress"]))

    engine.observer.register_observer(on_send, "rfc2576.prepareOutgoingMessage", "rfc3412.prepareOutgoingMessage")
    dispatcher = engine.message_dispatcher
    receive = dispatcher.receive_message

    def receive_from_destination(snmp_engine: SnmpEngine, domain: Any, address: Any, whole_msg: Any) -> Any:
        try:
            key = snmp_wire.message_id(bytes(whole_msg))
        except SnmpProtocolError:
            key = None  # pysnmp counts it (snmpInASNParseErrs) and drops it
        expected = sent.get(key) if key is not None else None
        if expected is not None and key is not None:
            source = source_address(tuple(address))
            if source != expected:
                foreign.drop(expected, source, "pysnmp")
                return b""
            del sent[key]
        return receive(snmp_engine, domain, address, whole_msg)

    dispatcher.receive_message = receive_from_destination


class PysnmpSession:
    """pysnmp's engine for the running event loop, with the transports, credentials and contexts it reuses.

    ``foreign`` counts answers dropped for coming from the wrong address (shared with the fast path);
    ``semaphore`` bounds the requests in flight across both paths.
    """

    def __init__(self, foreign: ForeignAnswers, semaphore: asyncio.Semaphore) -> None:
        self._foreign = foreign
        self._semaphore = semaphore
        self._engine: SnmpEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}
        self._auth: dict[object, CommunityData | UsmUserData] = {}
        self._contexts: dict[str, ContextData] = {"": ContextData()}

    def _engine_for_loop(self) -> SnmpEngine:
        loop = asyncio.get_running_loop()
        if self._engine is None or self._loop is not loop:
            self._engine = _engine_without_mib_compiler()
            _guard_sources(self._engine, self._foreign)
            self._loop = loop
            self._transports.clear()
        return self._engine

    async def _transport(self, target: SnmpTarget) -> UdpTransportTarget:
        key = (target.host, target.port, target.timeout_s, target.retries)
        transport = self._transports.get(key)
        if transport is None:
            try:
                transport = await UdpTransportTarget.create(
                    (target.host, target.port), timeout=target.timeout_s, retries=target.retries
                )
            except PySnmpError as err:  # a host name that does not resolve: the one place pysnmp looks it up
                why = str(err).rsplit(": ", 1)[-1]  # pysnmp's text ends with the resolver's reason
                raise SnmpProtocolError(f"{target.host}:{target.port}: cannot resolve the address ({why})") from err
            self._transports[key] = transport
        return transport

    def _context_for(self, auth: V2cAuth | V3Auth) -> ContextData:
        name = auth.context if isinstance(auth, V3Auth) else ""
        if name not in self._contexts:
            self._contexts[name] = ContextData(contextName=name)
        return self._contexts[name]

    def _auth_data(self, auth: V2cAuth | V3Auth) -> CommunityData | UsmUserData:
        cached = self._auth.get(auth)
        if cached is not None:
            return cached
        data: CommunityData | UsmUserData
        if isinstance(auth, V2cAuth):
            data = CommunityData(auth.community, mpModel=0 if auth.version == "1" else 1)
        else:
            data = UsmUserData(
                auth.user,
                authKey=auth.auth_key,
                privKey=auth.priv_key,
                authProtocol=AUTH_PROTOCOLS[auth.auth_protocol],
                privProtocol=PRIV_PROTOCOLS[auth.priv_protocol] if auth.priv_protocol else None,
            )
        self._auth[auth] = data
        return data

    async def _request(
        self, target: SnmpTarget, what: str, command: Callable[[SnmpEngine, Any, UdpTransportTarget, ContextData], Any]
    ) -> tuple[Any, Any, Any]:
        """One request through pysnmp's v3arch API: (error-status, error-index, var-binds).

        A transport or security failure (errorIndication) and any library exception become this
        adapter's errors; the error-status is left to the caller, which knows what it means there.
        """
        engine = self._engine_for_loop()
        transport = await self._transport(target)
        auth = self._auth_data(target.auth)
        async with self._semaphore:
            try:
                err_ind, err_status, err_index, var_binds = await command(
                    engine, auth, transport, self._context_for(target.auth)
                )
            except SnmpError:
                raise
            except Exception as err:
                raise SnmpProtocolError(f"{target.host}:{target.port}: {what} failed: {err}") from err
        if err_ind:
            _raise_indication(target, err_ind)
        return err_status, err_index, var_binds

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        err_status, err_index, var_binds = await self._request(
            target,
            "GET",
            lambda engine, auth, transport, ctx: get_cmd(
                engine, auth, transport, ctx, *(ObjectType(ObjectIdentity(o)) for o in oids), lookupMib=False
            ),
        )
        if err_status:
            raise SnmpProtocolError(
                f"{target.host}:{target.port}: GET error-status {err_status.prettyPrint()} at index {err_index}"
            )
        return [_convert(name, val) for name, val in var_binds]

    async def bulk(self, target: SnmpTarget, oids: Sequence[str], repetitions: int) -> list[SnmpValue]:
        err_status, _err_index, table = await self._request(
            target,
            "GETBULK",
            lambda engine, auth, transport, ctx: bulk_cmd(
                engine,
                auth,
                transport,
                ctx,
                0,
                repetitions,
                *(ObjectType(ObjectIdentity(o)) for o in oids),
                lookupMib=False,
            ),
        )
        if err_status:
            raise SnmpProtocolError(f"{target.host}:{target.port}: GETBULK error-status {err_status.prettyPrint()}")
        return [_convert(name, val) for name, val in table]

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        err_status, _err_index, var_binds = await self._request(
            target,
            "SET",
            lambda engine, auth, transport, ctx: set_cmd(
                engine, auth, transport, ctx, ObjectType(ObjectIdentity(oid), rfc1902.Integer32(value)), lookupMib=False
            ),
        )
        if err_status:
            raise SnmpSetRefusedError(
                f"{target.host}:{target.port}: SET {oid}={value} refused: {err_status.prettyPrint()}"
            )
        return _convert(*var_binds[0])

    def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
        self._engine = None
        self._transports.clear()
