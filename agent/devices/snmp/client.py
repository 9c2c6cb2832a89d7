"""The one SNMP adapter: the only module of the agent that imports pysnmp.

Everything else talks to devices through :class:`SnmpClient` (a narrow Protocol: ``get``,
``walk``, ``set``, ``close``) and sees plain Python values (:class:`SnmpValue`). Library errors
become :mod:`agent.errors` exceptions here, with ``raise ... from err``. Tests use
:class:`FakeSnmpClient`; end-to-end tests use :class:`PysnmpClient` against real responders.

Implementation notes (see shared reference "ecosystem"):
- one ``SnmpEngine`` per event loop, created lazily and reused for every target;
- numeric OIDs with ``lookupMib=False`` (no MIB resolution on the hot path), and the engine's MIB
  view never gets pysmi's compiler: pysnmp would otherwise build it (a LALR parser, ~1 s of CPU on the
  event loop, stalling every poll in flight) at the first pysnmp request, and could try to download
  MIBs from the internet; a pue-agent profile names numeric OIDs, so no MIB is ever compiled;
- GETs batched (``max_oids_per_get``); table columns fetched together with GETBULK and each
  column stops at the edge of its own subtree;
- SNMPv3 protocols are always explicit (pysnmp would silently default to MD5/DES);
- the GET/GETBULK hot loop skips pysnmp for v2c and for v3 authPriv with AES (when the auth digest
  is at least the AES key long): :mod:`agent.devices.snmp.wire` encodes requests (v2c from pre-encoded
  templates) and decodes answers to the same values, over one UDP socket per event loop (request-id /
  msgID matching, same timeout/retries and errors; v3 engine discovery, cached localized keys, time
  resync once). v1, DES/3DES, authNoPriv, IPv6, SET and non-Latin-1 credentials stay on pysnmp;
  ``PysnmpClient(fast_path=False)`` or ``PUE_AGENT_SNMP_FAST=0`` turns the fast path off.
"""

from __future__ import annotations

import asyncio
import hashlib
import ipaddress
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, Literal, Protocol, TypeVar, cast

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
from agent.errors import SnmpAuthError, SnmpError, SnmpProtocolError, SnmpSetRefusedError, SnmpTimeoutError

__all__ = [
    "AUTH_PROTOCOLS",
    "FAST_PATH_ENV",
    "PRIV_PROTOCOLS",
    "FakeSnmpClient",
    "PysnmpClient",
    "SnmpClient",
    "SnmpTarget",
    "SnmpValue",
    "V2cAuth",
    "V3Auth",
    "fast_path_default",
]

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

ValueKind = Literal[
    "integer", "gauge32", "counter32", "counter64", "timeticks", "octets", "oid", "ipaddress",
    "null", "no_such_object", "no_such_instance", "end_of_mib_view", "malformed",
]


@dataclass(frozen=True, slots=True)
class SnmpValue:
    """One var-bind as plain Python: numeric OID (no leading dot), kind, value."""

    oid: str
    kind: ValueKind
    value: int | bytes | str | None

    @property
    def missing(self) -> bool:
        return self.kind in ("no_such_object", "no_such_instance", "end_of_mib_view")


@dataclass(frozen=True, slots=True)
class V2cAuth:
    community: str
    version: Literal["1", "2c"] = "2c"

    def __repr__(self) -> str:  # never print the community
        return f"V2cAuth(version={self.version!r}, community=<secret>)"


@dataclass(frozen=True, slots=True)
class V3Auth:
    user: str
    auth_protocol: str
    auth_key: str
    priv_protocol: str | None
    priv_key: str | None
    context: str = ""

    def __repr__(self) -> str:
        return (f"V3Auth(user={self.user!r}, auth_protocol={self.auth_protocol!r}, "
                f"priv_protocol={self.priv_protocol!r}, keys=<secret>)")


@dataclass(frozen=True, slots=True)
class SnmpTarget:
    """Where and how to reach one device."""

    host: str
    port: int
    auth: V2cAuth | V3Auth
    timeout_s: float = 2.0
    retries: int = 1

    def __repr__(self) -> str:
        return f"SnmpTarget({self.host}:{self.port}, {self.auth!r})"


class SnmpClient(Protocol):
    """The narrow seam every SNMP user in the agent goes through."""

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        """GET the exact OIDs; one SnmpValue per OID, in order (missing ones flagged)."""
        ...

    async def walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[SnmpValue]]:
        """Walk each column's subtree (GETBULK, never leaving the subtree)."""
        ...

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        """SET one INTEGER object; return the value the device reports back."""
        ...

    async def close(self) -> None: ...


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

    def value_decoder(self, substrate, asn1Spec, tagSet=None, length=None,  # type: ignore[no-untyped-def]
                      state=None, decodeFun=None, substrateFun=None, **options):
        for item in original(self, substrate, asn1Spec, tagSet, length, state, decodeFun, substrateFun,
                             **options):
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


_AUTH_FAILURES = ("unknownusername", "wrongdigest", "unknownengineid", "unsupportedsecuritylevel",
                  "authenticationfailure", "decryptionerror", "notintimewindow")
#: pysnmp's USM error indications; their text ("Wrong SNMP PDU digest") does not name the class
_AUTH_INDICATIONS: tuple[type, ...] = (
    errind.WrongDigest, errind.UnknownUserName, errind.UnknownSecurityName, errind.UnknownEngineID,
    errind.UnsupportedSecurityLevel, errind.AuthenticationFailure, errind.AuthenticationError,
    errind.DecryptionError, errind.NotInTimeWindow, errind.UnsupportedAuthProtocol,
    errind.UnsupportedPrivProtocol, errind.UnknownCommunityName,
)


def _from_wire(var_binds: list[snmp_wire.WireValue]) -> list[SnmpValue]:
    return [SnmpValue(oid, cast(ValueKind, kind), value) for oid, kind, value in var_binds]


def _error_status_text(status: int) -> str:
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


FAST_PATH_ENV = "PUE_AGENT_SNMP_FAST"


def fast_path_default() -> bool:
    """Whether the v2c fast path is on unless a client says otherwise (``PUE_AGENT_SNMP_FAST=0`` turns it off)."""
    return os.environ.get(FAST_PATH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


log = logging.getLogger(__name__)

T = TypeVar("T")
Address = tuple[str, int]
_REQUEST_ID_LIMIT = 1 << 31
_MAX_REMEMBERED = 4096
_FAST_RCVBUF_BYTES = 4 * 2**20


def source_address(address: tuple[Any, ...]) -> Address:
    """A UDP peer as (canonical IP text, port): an IPv4-mapped IPv6 address is its IPv4 address, IPv6 is
    compressed; scope and flow info are left out. Text that is not an IP address is kept as it is."""
    host, port = str(address[0]), int(address[1])
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host, port
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), port


class _ForeignAnswers:
    """Counts answers dropped because they came from another address or port than their request went to."""

    def __init__(self) -> None:
        self.count = 0
        self.last: dict[Address, Address] = {}  # request's address -> last foreign source answering it

    def drop(self, expected: Address, source: Address, path: str) -> None:
        self.count += 1
        if len(self.last) >= _MAX_REMEMBERED:
            self.last.clear()
        self.last[expected] = source
        log.debug("SNMP answer for %s:%d from %s:%d dropped (%s): not the address the request went to",
                  *expected, *source, path)


class _FastEndpoint(asyncio.DatagramProtocol):
    """One unconnected UDP socket per event loop for the fast path.

    v2c answers are decoded as they arrive and handed to the request waiting for their request-id;
    v3 answers go by msgID, undecrypted, to their request, which authenticates them. An answer counts
    only from the address and port its request was sent to; anything else (another source, late,
    duplicate, another manager's, undecodable) is dropped, as pysnmp drops it, and the request then
    times out. The last decode error per source address is kept so that the timeout can say why.
    """

    def __init__(self, sock: socket.socket, foreign: _ForeignAnswers) -> None:
        self.sock = sock
        self.transport: asyncio.DatagramTransport | None = None
        #: request-id (v2c) or msgID (v3) -> (its waiting request, the address the request went to)
        self.pending: dict[int, tuple[asyncio.Future[object], Address]] = {}
        self.undecodable: dict[tuple[str, int], str] = {}
        self.foreign = foreign
        self.keeper: asyncio.Task[None] | None = None

    def connection_made(self, transport: asyncio.BaseTransport) -> None:
        self.transport = cast(asyncio.DatagramTransport, transport)

    def datagram_received(self, data: bytes, addr: tuple[str, int]) -> None:
        answer: object
        try:
            if snmp_wire.message_version(data) == snmp_wire.SNMP_V3:
                header = snmp_wire.decode_v3_header(data)
                key, answer = header.msg_id, (data, header)
            else:
                response = snmp_wire.decode_response(data)
                key, answer = response.request_id, response
        except SnmpProtocolError as err:
            self.note_undecodable(addr, str(err))
            return
        waiting = self.pending.get(key)
        if waiting is None:
            return
        future, expected = waiting
        source = source_address(addr)
        if source != expected:
            self.foreign.drop(expected, source, "fast path")
        elif not future.done():
            future.set_result(answer)

    def note_undecodable(self, addr: tuple[str, int], reason: str) -> None:
        if len(self.undecodable) >= _MAX_REMEMBERED:
            self.undecodable.clear()
        self.undecodable[addr[:2]] = reason

    def error_received(self, exc: Exception) -> None:
        """ICMP errors on an unconnected socket name no request; the request times out, as with pysnmp."""

    def connection_lost(self, exc: Exception | None) -> None:
        for future, _address in self.pending.values():
            if not future.done():
                future.set_exception(SnmpProtocolError("SNMP client closed with the request in flight"))
        self.transport = None


@dataclass
class _V3Peer:
    """What the fast path knows of one authoritative engine for one user (RFC 3414 2.3 timeliness)."""

    engine_id: bytes
    boots: int
    time_s: int
    synced_at_s: float  # event-loop clock when boots/time were learnt
    keys: snmp_wire.UsmKeys = field(repr=False)

    def now(self, clock_s: float) -> tuple[int, int]:
        return self.boots, max(0, min(self.time_s + int(clock_s - self.synced_at_s), _REQUEST_ID_LIMIT - 1))

    def learn(self, boots: int, time_s: int, clock_s: float) -> None:
        if (boots, time_s) > self.now(clock_s) or boots != self.boots:
            self.boots, self.time_s, self.synced_at_s = boots, time_s, clock_s


@dataclass(frozen=True)
class _V3Route:
    """A V3Auth the fast path serves, its credentials as octets."""

    user: bytes
    auth_protocol: str
    auth_key: bytes = field(repr=False)  # secrets never reach logs or tracebacks' reprs
    priv_protocol: str = ""
    priv_key: bytes = field(repr=False, default=b"")
    context: bytes = b""


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


def _guard_sources(engine: SnmpEngine, foreign: _ForeignAnswers) -> None:
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
        if len(sent) >= _MAX_REMEMBERED:
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


async def _close_when_cancelled(endpoint: _FastEndpoint) -> None:
    """Hold the endpoint until cancelled: ``asyncio.run`` cancels it when its loop ends, closing the socket
    of a client that was not closed in that loop."""
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        if endpoint.transport is not None:
            endpoint.transport.close()


class PysnmpClient:
    """:class:`SnmpClient` over pysnmp 7's asyncio high-level API, one engine per event loop.

    GET and GETBULK over v2c and v3 authPriv/AES take the fast path (:mod:`agent.devices.snmp.wire`) unless
    ``fast_path`` is False (default: :func:`fast_path_default`); everything else goes through pysnmp.
    """

    def __init__(self, max_oids_per_get: int = 30, max_concurrency: int = 64, fast_path: bool | None = None) -> None:
        self._max_oids_per_get = max_oids_per_get
        self._engine: SnmpEngine | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._transports: dict[tuple[str, int, float, int], UdpTransportTarget] = {}
        self._auth: dict[object, CommunityData | UsmUserData] = {}
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._contexts: dict[str, ContextData] = {"": ContextData()}
        self._rows_seen: dict[tuple[str, int, tuple[str, ...]], int] = {}
        self.fast_path = fast_path_default() if fast_path is None else fast_path
        self._fast_loop: asyncio.AbstractEventLoop | None = None
        self._fast_endpoint: _FastEndpoint | None = None
        self._fast_opening: asyncio.Task[_FastEndpoint] | None = None
        self._fast_addresses: dict[str, str | None] = {}
        self._templates: dict[tuple[bytes, tuple[str, ...], int, int], snmp_wire.RequestTemplate] = {}
        self._request_id = random.randrange(_REQUEST_ID_LIMIT)
        self._salt = random.randrange(1 << 64)  # RFC 3826 3.1.2.1: a 64-bit counter from a random start
        self._fast_credentials_cache: dict[V2cAuth | V3Auth, bytes | _V3Route | None] = {}
        self._v3_peers: dict[tuple[tuple[str, int], _V3Route], _V3Peer] = {}
        self._usm_keys: dict[tuple[bytes, _V3Route], snmp_wire.UsmKeys] = {}
        self._foreign = _ForeignAnswers()

    @property
    def foreign_answers(self) -> int:
        """Answers dropped (either path) because they came from another address or port than the request went to."""
        return self._foreign.count

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
            transport = await UdpTransportTarget.create(
                (target.host, target.port), timeout=target.timeout_s, retries=target.retries
            )
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

    # --- the fast path ---------------------------------------------------------------------------
    async def _fast_route(self, target: SnmpTarget) -> tuple[bytes | _V3Route, tuple[str, int]] | None:
        """(community octets or v3 credentials, IPv4 address) when the fast path serves this target."""
        if not self.fast_path:
            return None
        credentials = self._fast_credentials(target.auth)
        if credentials is None:
            return None
        if target.host not in self._fast_addresses:
            self._fast_addresses[target.host] = await self._resolve_ipv4(target.host)
        host = self._fast_addresses[target.host]
        return None if host is None else (credentials, (host, target.port))

    def _fast_credentials(self, auth: V2cAuth | V3Auth) -> bytes | _V3Route | None:
        """v2c and v3 authPriv with AES and a digest long enough for the AES key; None: pysnmp's case."""
        if auth in self._fast_credentials_cache:
            return self._fast_credentials_cache[auth]
        credentials: bytes | _V3Route | None = None
        try:  # pyasn1's OCTET STRING codec is ISO 8859-1: anything else stays with pysnmp
            if isinstance(auth, V2cAuth):
                credentials = auth.community.encode("iso-8859-1") if auth.version == "2c" else None
            elif (auth.priv_protocol in snmp_wire.AES_KEY_BYTES and auth.auth_protocol in snmp_wire.AUTH_HASHES
                  and auth.auth_key and auth.priv_key
                  and hashlib.new(snmp_wire.AUTH_HASHES[auth.auth_protocol][0]).digest_size
                  >= snmp_wire.AES_KEY_BYTES[auth.priv_protocol]):
                credentials = _V3Route(auth.user.encode("iso-8859-1"), auth.auth_protocol,
                                       auth.auth_key.encode("iso-8859-1"), auth.priv_protocol,
                                       auth.priv_key.encode("iso-8859-1"), auth.context.encode("iso-8859-1"))
        except UnicodeEncodeError:
            credentials = None
        self._fast_credentials_cache[auth] = credentials
        return credentials

    @staticmethod
    async def _resolve_ipv4(host: str) -> str | None:
        try:
            return str(ipaddress.IPv4Address(host))
        except ValueError:
            pass  # a name, or IPv6: resolve below
        try:
            infos = await asyncio.get_running_loop().getaddrinfo(host, None, family=socket.AF_INET,
                                                                  type=socket.SOCK_DGRAM)
        except OSError:
            return None  # pysnmp reports it, as before
        return str(infos[0][4][0]) if infos else None

    async def _endpoint(self) -> _FastEndpoint:
        loop = asyncio.get_running_loop()
        endpoint = self._fast_endpoint
        if endpoint is not None and self._fast_loop is loop and endpoint.transport is not None:
            return endpoint
        opening = self._fast_opening
        stale = opening is not None and opening.done() and (
            opening.cancelled() or opening.exception() is not None or opening.result().transport is None)
        if self._fast_loop is not loop or opening is None or stale:
            self._close_fast_endpoint()
            self._fast_loop = loop
            opening = self._fast_opening = loop.create_task(self._open_endpoint(self._foreign))
        assert opening is not None
        endpoint = self._fast_endpoint = await opening
        return endpoint

    @staticmethod
    async def _open_endpoint(foreign: _ForeignAnswers) -> _FastEndpoint:
        loop = asyncio.get_running_loop()
        sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        sock.setblocking(False)
        # every device's answers arrive on this one socket: a burst (a large site's start-up reads) must
        # not overflow the default ~208 KiB buffer while the loop is busy; the kernel caps this at rmem_max
        sock.setsockopt(socket.SOL_SOCKET, socket.SO_RCVBUF, _FAST_RCVBUF_BYTES)
        sock.bind(("0.0.0.0", 0))
        endpoint = _FastEndpoint(sock, foreign)
        await loop.create_datagram_endpoint(lambda: endpoint, sock=sock)
        endpoint.keeper = loop.create_task(_close_when_cancelled(endpoint), name="pue-agent snmp fast path socket")
        return endpoint

    def _close_fast_endpoint(self) -> None:
        endpoint, loop = self._fast_endpoint, self._fast_loop
        self._fast_endpoint = self._fast_opening = None
        if endpoint is None or loop is None or loop.is_closed():
            return  # asyncio.run's teardown cancelled the keeper, which closed the socket
        if endpoint.keeper is not None:
            endpoint.keeper.cancel()
        if endpoint.transport is not None:
            endpoint.transport.close()

    def _template(self, community: bytes, oids: Sequence[str], tag: int, repetitions: int) -> snmp_wire.RequestTemplate:
        key = (community, tuple(oids), tag, repetitions)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= _MAX_REMEMBERED:
                self._templates.clear()
            template = snmp_wire.RequestTemplate(community, oids, tag, 0, repetitions)
            self._templates[key] = template
        return template

    def _next_id(self, endpoint: _FastEndpoint) -> int:
        request_id = self._request_id = (self._request_id + 1) % _REQUEST_ID_LIMIT
        while request_id in endpoint.pending:
            request_id = self._request_id = (self._request_id + 1) % _REQUEST_ID_LIMIT
        return request_id

    async def _exchange(self, target: SnmpTarget, address: tuple[str, int], endpoint: _FastEndpoint,
                        wait_id: int, message: bytes, accept: Callable[[Any], T | None]) -> T:
        """Send, wait ``timeout_s``, resend ``retries`` times; the first answer ``accept`` takes wins."""
        loop = asyncio.get_running_loop()
        expected = source_address(address)
        foreign_before = self._foreign.count
        for _attempt in range(target.retries + 1):
            if endpoint.transport is None:
                raise SnmpProtocolError(f"{target.host}:{target.port}: SNMP client closed")
            endpoint.transport.sendto(message, address)
            deadline = loop.time() + target.timeout_s
            while True:
                future: asyncio.Future[object] = loop.create_future()
                endpoint.pending[wait_id] = (future, expected)
                try:
                    async with asyncio.timeout_at(deadline):
                        answer = await future
                except TimeoutError:
                    break
                finally:
                    endpoint.pending.pop(wait_id, None)
                accepted = accept(answer)
                if accepted is not None:
                    return accepted
        garbled = endpoint.undecodable.pop(address, None)
        why = f"; it sent an undecodable answer: {garbled}" if garbled else ""
        foreign = self._foreign.last.pop(expected, None)
        if foreign is not None and self._foreign.count > foreign_before:
            why += f"; answers from {foreign[0]}:{foreign[1]}, not the device's address and port, were dropped"
        raise SnmpTimeoutError(f"{target.host}:{target.port}: no response (No SNMP response received before "
                               f"timeout, fast path{why})")

    async def _fast_request(self, target: SnmpTarget, route: tuple[bytes | _V3Route, tuple[str, int]], tag: int,
                            oids: Sequence[str], repetitions: int) -> tuple[int, int, list[snmp_wire.WireValue]]:
        """One GET/GETBULK on the fast path: (error-status, error-index, var-binds)."""
        credentials, address = route
        endpoint = await self._endpoint()
        if isinstance(credentials, _V3Route):
            return await self._v3_request(target, credentials, address, endpoint, tag, oids, repetitions)
        request_id = self._next_id(endpoint)
        message = self._template(credentials, oids, tag, repetitions).encode(request_id)

        def accept(answer: object) -> snmp_wire.Response | None:
            ok = isinstance(answer, snmp_wire.Response) and answer.community == credentials
            return answer if ok else None  # type: ignore[return-value]

        response = await self._exchange(target, address, endpoint, request_id, message, accept)
        return response.error_status, response.error_index, response.var_binds

    async def _v3_peer(self, target: SnmpTarget, route: _V3Route, address: tuple[str, int],
                       endpoint: _FastEndpoint, refresh: bool = False) -> _V3Peer:
        """The engine behind ``address``: discovered with an empty-engineID probe (RFC 3414 4), keys cached."""
        key = (address, route)
        peer = self._v3_peers.get(key)
        if peer is not None and not refresh:
            return peer
        msg_id = self._next_id(endpoint)
        probe = snmp_wire.encode_v3_request(None, msg_id, b"", 0, 0, b"", b"", b"",
                                            snmp_wire.encode_pdu(snmp_wire.GET_TAG, self._next_id(endpoint), []))

        def accept(answer: object) -> snmp_wire.V3Header | None:
            if isinstance(answer, snmp_wire.Response):
                return None  # a v2c answer that happens to carry this id
            header = cast(tuple[bytes, snmp_wire.V3Header], answer)[1]
            return header if header.engine_id else None

        header = await self._exchange(target, address, endpoint, msg_id, probe, accept)
        keys_key = (header.engine_id, route)
        keys = self._usm_keys.get(keys_key)
        if keys is None:
            keys = snmp_wire.usm_keys(route.auth_protocol, route.auth_key, route.priv_protocol, route.priv_key,
                                      header.engine_id)
            self._usm_keys[keys_key] = keys
        peer = _V3Peer(header.engine_id, header.boots, header.time_s, asyncio.get_running_loop().time(), keys)
        self._v3_peers[key] = peer
        return peer

    async def _v3_request(self, target: SnmpTarget, route: _V3Route, address: tuple[str, int],
                          endpoint: _FastEndpoint, tag: int, oids: Sequence[str],
                          repetitions: int) -> tuple[int, int, list[snmp_wire.WireValue]]:
        loop = asyncio.get_running_loop()
        peer = await self._v3_peer(target, route, address, endpoint)
        for resync in (False, True):
            msg_id, request_id = self._next_id(endpoint), self._next_id(endpoint)
            self._salt = (self._salt + 1) % (1 << 64)
            boots, time_s = peer.now(loop.time())
            message = snmp_wire.encode_v3_request(
                peer.keys, msg_id, peer.engine_id, boots, time_s, route.user, route.context,
                self._salt.to_bytes(8, "big"), snmp_wire.encode_pdu(tag, request_id, oids, 0, repetitions))

            def accept(answer: object, request_id: int = request_id,
                       peer: _V3Peer = peer) -> snmp_wire.ScopedPdu | None:
                if isinstance(answer, snmp_wire.Response):
                    return None  # a v2c answer that happens to carry this id
                data, header = cast(tuple[bytes, snmp_wire.V3Header], answer)
                authentic = bool(header.flags & snmp_wire.FLAG_AUTH)
                if authentic and (header.user != route.user or header.engine_id != peer.engine_id
                                  or not snmp_wire.authenticate(data, header, peer.keys)):
                    return None  # RFC 3414 3.2: not ours or forged: dropped, as pysnmp does
                try:
                    scoped = snmp_wire.decode_scoped_pdu(data, header, peer.keys)
                except SnmpProtocolError as err:
                    endpoint.note_undecodable(address, str(err))
                    return None
                if scoped.tag == snmp_wire.REPORT_TAG:
                    if authentic:  # RFC 3414 3.2 7b: an authentic report's boots and time are the engine's
                        peer.boots, peer.time_s, peer.synced_at_s = header.boots, header.time_s, loop.time()
                    return scoped
                if not authentic or scoped.request_id != request_id:
                    return None
                peer.learn(header.boots, header.time_s, loop.time())
                return scoped

            scoped = await self._exchange(target, address, endpoint, msg_id, message, accept)
            if scoped.tag != snmp_wire.REPORT_TAG:
                return scoped.error_status, scoped.error_index, scoped.var_binds
            report = scoped.var_binds[0][0] if scoped.var_binds else ""
            if not resync and report == snmp_wire.NOT_IN_TIME_WINDOW:
                continue  # RFC 3414 4: the authenticated report carried the engine's boots and time
            if not resync and report == snmp_wire.UNKNOWN_ENGINE_ID:
                peer = await self._v3_peer(target, route, address, endpoint, refresh=True)  # the agent restarted
                continue
            text = snmp_wire.USM_REPORTS.get(report)
            if text is not None:
                raise SnmpAuthError(f"{target.host}:{target.port}: credentials refused ({text})")
            raise SnmpProtocolError(f"{target.host}:{target.port}: SNMP report {report or '(empty)'}")
        raise AssertionError("unreachable")  # the loop returns or raises on its second pass

    # --- one request, either path --------------------------------------------------------------
    async def _get_chunk(self, target: SnmpTarget, chunk: Sequence[str]) -> list[SnmpValue]:
        route = await self._fast_route(target)
        if route is not None:
            async with self._semaphore:
                status, index, var_binds = await self._fast_request(target, route, snmp_wire.GET_TAG, chunk, 0)
            if status:
                raise SnmpProtocolError(f"{target.host}:{target.port}: GET error-status "
                                        f"{_error_status_text(status)} at index {index}")
            return _from_wire(var_binds)
        err_status, err_index, var_binds = await self._pysnmp(
            target, "GET", lambda engine, auth, transport, ctx: get_cmd(
                engine, auth, transport, ctx, *(ObjectType(ObjectIdentity(o)) for o in chunk), lookupMib=False))
        if err_status:
            raise SnmpProtocolError(
                f"{target.host}:{target.port}: GET error-status {err_status.prettyPrint()} at index {err_index}"
            )
        return [_convert(name, val) for name, val in var_binds]

    async def _pysnmp(
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
                    engine, auth, transport, self._context_for(target.auth))
            except SnmpError:
                raise
            except Exception as err:
                raise SnmpProtocolError(f"{target.host}:{target.port}: {what} failed: {err}") from err
        if err_ind:
            _raise_indication(target, err_ind)
        return err_status, err_index, var_binds

    async def _bulk(self, target: SnmpTarget, oids: Sequence[str], repetitions: int) -> list[SnmpValue]:
        route = await self._fast_route(target)
        if route is not None:
            async with self._semaphore:
                status, _index, var_binds = await self._fast_request(target, route, snmp_wire.GETBULK_TAG, oids,
                                                                     repetitions)
            if status:
                raise SnmpProtocolError(f"{target.host}:{target.port}: GETBULK error-status "
                                        f"{_error_status_text(status)}")
            return _from_wire(var_binds)
        err_status, _err_index, table = await self._pysnmp(
            target, "GETBULK", lambda engine, auth, transport, ctx: bulk_cmd(
                engine, auth, transport, ctx, 0, repetitions, *(ObjectType(ObjectIdentity(o)) for o in oids),
                lookupMib=False))
        if err_status:
            raise SnmpProtocolError(
                f"{target.host}:{target.port}: GETBULK error-status {err_status.prettyPrint()}"
            )
        return [_convert(name, val) for name, val in table]

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        out: list[SnmpValue] = []
        for start in range(0, len(oids), self._max_oids_per_get):
            out.extend(await self._get_chunk(target, oids[start : start + self._max_oids_per_get]))
        return out

    async def walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[SnmpValue]]:
        result: dict[str, list[SnmpValue]] = {c: [] for c in columns}
        cursor = {c: c for c in columns}  # last OID seen per unfinished column
        # Ask for as many repetitions as this table had rows last time (+1 to see its end), not a
        # fixed 25: every surplus var-bind costs decoding time (about 60 us each through pyasn1).
        size_key = (target.host, target.port, tuple(columns))
        repetitions = min(max_repetitions, self._rows_seen.get(size_key, max_repetitions) + 1)
        while cursor:
            pending = list(cursor)
            flat = await self._bulk(target, [cursor[c] for c in pending], repetitions)
            if not flat:
                break
            done: set[str] = set()
            width = len(pending)
            for i, value in enumerate(flat):
                col = pending[i % width]
                if col in done:
                    continue
                if value.kind == "end_of_mib_view" or not value.oid.startswith(col + "."):
                    done.add(col)
                    continue
                # both share the column's prefix: comparing the index parts is enough (and cheap)
                if _oid_tuple(value.oid[len(col) + 1 :]) <= _oid_tuple(cursor[col][len(col) + 1 :]):
                    raise SnmpProtocolError(f"{target.host}:{target.port}: OID not increasing at {value.oid}")
                result[col].append(value)
                cursor[col] = value.oid
            for col in done:
                cursor.pop(col, None)
            if len(flat) < width:  # truncated response: avoid spinning
                break
            repetitions = max_repetitions  # a table that grew: continue at full size
        self._rows_seen[size_key] = max((len(v) for v in result.values()), default=0)
        return result

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        err_status, _err_index, var_binds = await self._pysnmp(
            target, "SET", lambda engine, auth, transport, ctx: set_cmd(
                engine, auth, transport, ctx, ObjectType(ObjectIdentity(oid), rfc1902.Integer32(value)),
                lookupMib=False))
        if err_status:
            raise SnmpSetRefusedError(
                f"{target.host}:{target.port}: SET {oid}={value} refused: {err_status.prettyPrint()}"
            )
        return _convert(*var_binds[0])

    async def close(self) -> None:
        if self._engine is not None:
            self._engine.close_dispatcher()
        self._engine = None
        self._transports.clear()
        self._close_fast_endpoint()


def _oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(map(int, oid.split("."))) if oid else ()


class FakeSnmpClient:
    """A canned :class:`SnmpClient` for unit tests: serves a dict of OID -> (kind, value)."""

    def __init__(self, data: dict[str, tuple[ValueKind, int | bytes | str]], *, fail: SnmpError | None = None):
        self.data = dict(data)
        self.fail = fail
        self.sets: list[tuple[str, int]] = []

    def _sorted(self) -> list[str]:
        return sorted(self.data, key=_oid_tuple)

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        if self.fail:
            raise self.fail
        return [
            SnmpValue(o, *self.data[o]) if o in self.data else SnmpValue(o, "no_such_instance", None)
            for o in oids
        ]

    async def walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[SnmpValue]]:
        if self.fail:
            raise self.fail
        keys = self._sorted()
        return {c: [SnmpValue(k, *self.data[k]) for k in keys if k.startswith(c + ".")] for c in columns}

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        if self.fail:
            raise self.fail
        self.sets.append((oid, value))
        self.data[oid] = ("integer", value)
        return SnmpValue(oid, "integer", value)

    async def close(self) -> None:
        return None
