"""The SNMP fast path: GET/GETBULK over v2c and v3 authPriv/AES on the wire codec, without pysnmp.

:mod:`agent.devices.snmp.wire` encodes requests (v2c from pre-encoded templates) and decodes answers to the
same values as the pysnmp path, over one UDP socket per event loop (request-id / msgID matching, same
timeout/retries and errors; v3 engine discovery, cached localized keys, time resync once). :class:`FastPath`
is the base of :class:`agent.devices.snmp.client.PysnmpClient`, which decides per request which path serves it.

One module (over 400 lines): the socket, request matching and v3 engine state are one state machine per event loop;
the codec is wire.py.
"""

from __future__ import annotations

import asyncio
import functools
import hashlib
import ipaddress
import logging
import os
import random
import socket
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from typing import Any, TypeVar, cast

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.seam import SnmpTarget, V2cAuth, V3Auth
from agent.errors import SnmpAuthError, SnmpProtocolError, SnmpTimeoutError

__all__ = [
    "FAST_PATH_ENV",
    "MAX_REMEMBERED",
    "Address",
    "FastPath",
    "ForeignAnswers",
    "fast_path_default",
    "source_address",
]

FAST_PATH_ENV = "PUE_AGENT_SNMP_FAST"


def fast_path_default() -> bool:
    """Whether the v2c fast path is on unless a client says otherwise (``PUE_AGENT_SNMP_FAST=0`` turns it off)."""
    return os.environ.get(FAST_PATH_ENV, "1").strip().lower() not in ("0", "false", "no", "off")


log = logging.getLogger(__name__)

T = TypeVar("T")
Address = tuple[str, int]
_REQUEST_ID_LIMIT = 1 << 31
MAX_REMEMBERED = 4096
#: targets whose route is remembered (more than a site has devices; all forgotten beyond)
_MAX_ROUTES = 1 << 16
_FAST_RCVBUF_BYTES = 4 * 2**20


def source_address(address: tuple[Any, ...]) -> Address:
    """A UDP peer as (canonical IP text, port): an IPv4-mapped IPv6 address is its IPv4 address, IPv6 is
    compressed; scope and flow info are left out. Text that is not an IP address is kept as it is.

    Memoised (every request and every answer asks, and parsing the address was ~5 % of a poll's CPU at
    10,000 devices)."""
    return _canonical_address(address[0], address[1])


@functools.lru_cache(maxsize=4 * MAX_REMEMBERED)
def _canonical_address(raw_host: Any, raw_port: Any) -> Address:
    host, port = str(raw_host), int(raw_port)
    try:
        ip = ipaddress.ip_address(host.split("%", 1)[0])
    except ValueError:
        return host, port
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return str(ip), port


_EXPIRED = object()  # what a request's future holds when its timeout passed first


def _expire(future: asyncio.Future[object]) -> None:
    if not future.done():
        future.set_result(_EXPIRED)


class ForeignAnswers:
    """Counts answers dropped because they came from another address or port than their request went to."""

    def __init__(self) -> None:
        self.count = 0
        self.last: dict[Address, Address] = {}  # request's address -> last foreign source answering it

    def drop(self, expected: Address, source: Address, path: str) -> None:
        self.count += 1
        if len(self.last) >= MAX_REMEMBERED:
            self.last.clear()
        self.last[expected] = source
        log.debug(
            "SNMP answer for %s:%d from %s:%d dropped (%s): not the address the request went to",
            *expected,
            *source,
            path,
        )


class _FastEndpoint(asyncio.DatagramProtocol):
    """One unconnected UDP socket per event loop for the fast path.

    v2c answers are decoded as they arrive and handed to the request waiting for their request-id;
    v3 answers go by msgID, undecrypted, to their request, which authenticates them. An answer counts
    only from the address and port its request was sent to; anything else (another source, late,
    duplicate, another manager's, undecodable) is dropped, as pysnmp drops it, and the request then
    times out. The last decode error per source address is kept so that the timeout can say why.
    """

    def __init__(self, sock: socket.socket, foreign: ForeignAnswers) -> None:
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
        if len(self.undecodable) >= MAX_REMEMBERED:
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


async def _close_when_cancelled(endpoint: _FastEndpoint) -> None:
    """Hold the endpoint until cancelled: ``asyncio.run`` cancels it when its loop ends, closing the socket
    of a client that was not closed in that loop."""
    try:
        await asyncio.get_running_loop().create_future()
    finally:
        if endpoint.transport is not None:
            endpoint.transport.close()


class FastPath:
    """The fast path's state and requests, one UDP socket per event loop; ``fast_path`` False turns it off
    (default: :func:`fast_path_default`)."""

    def __init__(self, fast_path: bool | None = None) -> None:
        self.fast_path = fast_path_default() if fast_path is None else fast_path
        self._fast_loop: asyncio.AbstractEventLoop | None = None
        self._fast_endpoint: _FastEndpoint | None = None
        self._fast_opening: asyncio.Task[_FastEndpoint] | None = None
        self._fast_addresses: dict[str, str | None] = {}
        #: id(target) -> (target, its route or None): :meth:`_fast_route`
        self._routes: dict[int, tuple[SnmpTarget, tuple[bytes | _V3Route, tuple[str, int]] | None]] = {}
        self._templates: dict[tuple[bytes, tuple[str, ...], int, int, int], snmp_wire.RequestTemplate] = {}
        self._request_id = random.randrange(_REQUEST_ID_LIMIT)
        self._salt = random.randrange(1 << 64)  # RFC 3826 3.1.2.1: a 64-bit counter from a random start
        self._fast_credentials_cache: dict[V2cAuth | V3Auth, bytes | _V3Route | None] = {}
        self._v3_peers: dict[tuple[tuple[str, int], _V3Route], _V3Peer] = {}
        self._usm_keys: dict[tuple[bytes, _V3Route], snmp_wire.UsmKeys] = {}
        self._foreign = ForeignAnswers()

    @property
    def foreign_answers(self) -> int:
        """Answers dropped (either path) because they came from another address or port than the request went to."""
        return self._foreign.count

    async def _fast_route(self, target: SnmpTarget) -> tuple[bytes | _V3Route, tuple[str, int]] | None:
        """(community octets or v3 credentials, IPv4 address) when the fast path serves this target."""
        if not self.fast_path:
            return None
        # by the target object (a device keeps its own): an int key and an identity check, where hashing and
        # comparing the frozen dataclasses field by field in Python took a tenth of a poll's loop time (issue 17)
        known = self._routes.get(id(target))
        if known is not None and known[0] is target:
            return known[1]
        route: tuple[bytes | _V3Route, tuple[str, int]] | None = None
        credentials = self._fast_credentials(target.auth)
        if credentials is not None:
            if target.host not in self._fast_addresses:
                self._fast_addresses[target.host] = await self._resolve_ipv4(target.host)
            host = self._fast_addresses[target.host]
            route = None if host is None else (credentials, (host, target.port))
        if len(self._routes) >= _MAX_ROUTES:
            self._routes.clear()
        self._routes[id(target)] = (target, route)  # the entry keeps the target alive: its id is not reused
        return route

    def _fast_credentials(self, auth: V2cAuth | V3Auth) -> bytes | _V3Route | None:
        """v2c and v3 authPriv with AES and a digest long enough for the AES key; None: pysnmp's case."""
        if auth in self._fast_credentials_cache:
            return self._fast_credentials_cache[auth]
        credentials: bytes | _V3Route | None = None
        try:  # pyasn1's OCTET STRING codec is ISO 8859-1: anything else stays with pysnmp
            if isinstance(auth, V2cAuth):
                credentials = auth.community.encode("iso-8859-1") if auth.version == "2c" else None
            elif (
                auth.priv_protocol in snmp_wire.AES_KEY_BYTES
                and auth.auth_protocol in snmp_wire.AUTH_HASHES
                and auth.auth_key
                and auth.priv_key
                and hashlib.new(snmp_wire.AUTH_HASHES[auth.auth_protocol][0]).digest_size
                >= snmp_wire.AES_KEY_BYTES[auth.priv_protocol]
            ):
                credentials = _V3Route(
                    auth.user.encode("iso-8859-1"),
                    auth.auth_protocol,
                    auth.auth_key.encode("iso-8859-1"),
                    auth.priv_protocol,
                    auth.priv_key.encode("iso-8859-1"),
                    auth.context.encode("iso-8859-1"),
                )
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
            infos = await asyncio.get_running_loop().getaddrinfo(
                host, None, family=socket.AF_INET, type=socket.SOCK_DGRAM
            )
        except OSError:
            return None  # pysnmp reports it, as before
        return str(infos[0][4][0]) if infos else None

    async def _endpoint(self) -> _FastEndpoint:
        loop = asyncio.get_running_loop()
        endpoint = self._fast_endpoint
        if endpoint is not None and self._fast_loop is loop and endpoint.transport is not None:
            return endpoint
        opening = self._fast_opening
        stale = (
            opening is not None
            and opening.done()
            and (opening.cancelled() or opening.exception() is not None or opening.result().transport is None)
        )
        if self._fast_loop is not loop or opening is None or stale:
            self._close_fast_endpoint()
            self._fast_loop = loop
            opening = self._fast_opening = loop.create_task(self._open_endpoint(self._foreign))
        assert opening is not None
        endpoint = self._fast_endpoint = await opening
        return endpoint

    @staticmethod
    async def _open_endpoint(foreign: ForeignAnswers) -> _FastEndpoint:
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

    def _template(
        self, community: bytes, oids: Sequence[str], tag: int, repetitions: int, non_repeaters: int = 0
    ) -> snmp_wire.RequestTemplate:
        key = (community, tuple(oids), tag, repetitions, non_repeaters)
        template = self._templates.get(key)
        if template is None:
            if len(self._templates) >= MAX_REMEMBERED:
                self._templates.clear()
            template = snmp_wire.RequestTemplate(community, oids, tag, non_repeaters, repetitions)
            self._templates[key] = template
        return template

    def _next_id(self, endpoint: _FastEndpoint) -> int:
        request_id = self._request_id = (self._request_id + 1) % _REQUEST_ID_LIMIT
        while request_id in endpoint.pending:
            request_id = self._request_id = (self._request_id + 1) % _REQUEST_ID_LIMIT
        return request_id

    async def _exchange(
        self,
        target: SnmpTarget,
        address: tuple[str, int],
        endpoint: _FastEndpoint,
        wait_id: int,
        message: bytes,
        accept: Callable[[Any], T | None],
    ) -> T:
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
                # a plain timer rather than asyncio.timeout_at: one handle per request, no context object
                timer = loop.call_at(deadline, _expire, future)
                try:
                    answer = await future
                finally:
                    timer.cancel()
                    endpoint.pending.pop(wait_id, None)
                if answer is _EXPIRED:
                    break
                accepted = accept(answer)
                if accepted is not None:
                    return accepted
        garbled = endpoint.undecodable.pop(address, None)
        why = f"; it sent an undecodable answer: {garbled}" if garbled else ""
        foreign = self._foreign.last.pop(expected, None)
        if foreign is not None and self._foreign.count > foreign_before:
            why += f"; answers from {foreign[0]}:{foreign[1]}, not the device's address and port, were dropped"
        raise SnmpTimeoutError(
            f"{target.host}:{target.port}: no response (No SNMP response received before timeout, fast path{why})"
        )

    async def _fast_request(
        self,
        target: SnmpTarget,
        route: tuple[bytes | _V3Route, tuple[str, int]],
        tag: int,
        oids: Sequence[str],
        repetitions: int,
        non_repeaters: int = 0,
    ) -> tuple[int, int, list[snmp_wire.WireValue]]:
        """One GET/GETBULK on the fast path: (error-status, error-index, var-binds)."""
        credentials, address = route
        endpoint = await self._endpoint()
        if isinstance(credentials, _V3Route):
            return await self._v3_request(target, credentials, address, endpoint, tag, oids, repetitions, non_repeaters)
        request_id = self._next_id(endpoint)
        message = self._template(credentials, oids, tag, repetitions, non_repeaters).encode(request_id)

        def accept(answer: object) -> snmp_wire.Response | None:
            ok = isinstance(answer, snmp_wire.Response) and answer.community == credentials
            return answer if ok else None  # type: ignore[return-value]

        response = await self._exchange(target, address, endpoint, request_id, message, accept)
        return response.error_status, response.error_index, response.var_binds

    async def _v3_peer(
        self,
        target: SnmpTarget,
        route: _V3Route,
        address: tuple[str, int],
        endpoint: _FastEndpoint,
        refresh: bool = False,
    ) -> _V3Peer:
        """The engine behind ``address``: discovered with an empty-engineID probe (RFC 3414 4), keys cached."""
        key = (address, route)
        peer = self._v3_peers.get(key)
        if peer is not None and not refresh:
            return peer
        msg_id = self._next_id(endpoint)
        probe = snmp_wire.encode_v3_request(
            None, msg_id, b"", 0, 0, b"", b"", b"", snmp_wire.encode_pdu(snmp_wire.GET_TAG, self._next_id(endpoint), [])
        )

        def accept(answer: object) -> snmp_wire.V3Header | None:
            if isinstance(answer, snmp_wire.Response):
                return None  # a v2c answer that happens to carry this id
            header = cast(tuple[bytes, snmp_wire.V3Header], answer)[1]
            return header if header.engine_id else None

        header = await self._exchange(target, address, endpoint, msg_id, probe, accept)
        keys_key = (header.engine_id, route)
        keys = self._usm_keys.get(keys_key)
        if keys is None:
            keys = snmp_wire.usm_keys(
                route.auth_protocol, route.auth_key, route.priv_protocol, route.priv_key, header.engine_id
            )
            self._usm_keys[keys_key] = keys
        peer = _V3Peer(header.engine_id, header.boots, header.time_s, asyncio.get_running_loop().time(), keys)
        self._v3_peers[key] = peer
        return peer

    async def _v3_request(
        self,
        target: SnmpTarget,
        route: _V3Route,
        address: tuple[str, int],
        endpoint: _FastEndpoint,
        tag: int,
        oids: Sequence[str],
        repetitions: int,
        non_repeaters: int = 0,
    ) -> tuple[int, int, list[snmp_wire.WireValue]]:
        loop = asyncio.get_running_loop()
        peer = await self._v3_peer(target, route, address, endpoint)
        for resync in (False, True):
            msg_id, request_id = self._next_id(endpoint), self._next_id(endpoint)
            self._salt = (self._salt + 1) % (1 << 64)
            boots, time_s = peer.now(loop.time())
            message = snmp_wire.encode_v3_request(
                peer.keys,
                msg_id,
                peer.engine_id,
                boots,
                time_s,
                route.user,
                route.context,
                self._salt.to_bytes(8, "big"),
                snmp_wire.encode_pdu(tag, request_id, oids, non_repeaters, repetitions),
            )

            def accept(
                answer: object, request_id: int = request_id, peer: _V3Peer = peer
            ) -> snmp_wire.ScopedPdu | None:
                if isinstance(answer, snmp_wire.Response):
                    return None  # a v2c answer that happens to carry this id
                data, header = cast(tuple[bytes, snmp_wire.V3Header], answer)
                authentic = bool(header.flags & snmp_wire.FLAG_AUTH)
                if authentic and (
                    header.user != route.user
                    or header.engine_id != peer.engine_id
                    or not snmp_wire.authenticate(data, header, peer.keys)
                ):
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
