"""The agent's HTTP endpoint: ``/metrics`` (Prometheus exposition) and a small JSON API.

- ``GET /metrics``: the agent's collectors (agent.export.exposition: per-device text cached at each poll,
  the same negotiation as prometheus-client's WSGI app: OpenMetrics, gzip, ``name[]``);
- ``GET /api/v1/recommendation``: the latest recommendation, with model version, confidence and
  the reason when held back;
- ``POST /api/v1/recommendation/approve`` ``{"id": N, "approved_by": "name"}``: approve a pending
  recommendation (mode ``approve``); audited;
- ``POST /api/v1/recommendation/reject`` ``{"id": N, "rejected_by": "name"}``: withdraw it (logged);
- ``GET /api/v1/actions``: the setpoint action log (newest last);
- ``GET /api/v1/status``: live PUE with its validity, devices up/down, the recommendation, last actions;
- ``GET /``: the operator's page (:mod:`agent.app.web_page`), with Approve/Reject forms.

Behind basic auth the authenticated user is who approved or rejected (``REMOTE_USER``), whatever the body
says.

The server binds to 127.0.0.1 by default. It never accepts SNMP targets over HTTP (an exporter that
does lets anyone make it probe arbitrary hosts and leak communities).

Hostile or broken clients cannot tie it up (:class:`HttpLimits`): one thread reads every request in
full (TLS handshake, headers, a body of at most 64 KiB with a valid ``Content-Length``) without
blocking, within ``request_timeout_s`` of the connection, and only then hands it to one of at most
``max_handlers`` handler threads; so slow-header connections hold no thread and Prometheus's scrape
is still served beside them. Bad framing is answered 400/408/411/413/431 before any body is read,
more concurrent requests than handlers get 503, and errors are one line of JSON, never a traceback.

One module (over 400 lines): the guarded server (framing, limits, handler threads) and the routes are one request
path; splitting them would expose its internals.
"""

from __future__ import annotations

import io
import json
import logging
import re
import selectors
import socket
import ssl
import sys
import threading
import time
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any
from wsgiref.simple_server import WSGIRequestHandler, WSGIServer

from prometheus_client import make_wsgi_app
from prometheus_client.registry import CollectorRegistry

from agent.app.web_page import WebPage
from agent.export.exposition import ExpositionRegistry, metrics_app

__all__ = ["ApiHandlers", "HttpLimits", "HttpServer"]

log = logging.getLogger(__name__)

StartResponse = Callable[..., Any]
WsgiApp = Callable[[dict[str, Any], StartResponse], Iterable[bytes]]

#: the blank line that ends a request's headers (bare LF is tolerated, as http.server does)
_HEAD_END = re.compile(rb"\r?\n\r?\n")


@dataclass(frozen=True)
class HttpLimits:
    """How much of the server any one client may hold."""

    #: from accept to the whole request read (TLS handshake, headers, body); also each socket write [s]
    request_timeout_s: float = 10.0
    #: requests handled at once (one thread each); beyond it the answer is 503
    max_handlers: int = 16
    #: connections still sending their request; beyond it the oldest is closed
    max_pending: int = 512
    max_header_bytes: int = 16384
    max_body_bytes: int = 65536


class ApiHandlers:
    """What the JSON API serves; the recommender sets these callables (thread-safe by contract)."""

    def __init__(self) -> None:
        self.recommendation: Callable[[], dict[str, Any]] | None = None
        self.approve: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.reject: Callable[[dict[str, Any]], dict[str, Any]] | None = None
        self.actions: Callable[[], list[dict[str, Any]]] | None = None
        self.status: Callable[[], dict[str, Any]] | None = None


class _Refused(Exception):
    """A request refused before it reaches the app: the HTTP status line and a reason for the client."""

    def __init__(self, status: str, reason: str) -> None:
        super().__init__(reason)
        self.status = status
        self.reason = reason


def _error_body(status: str, reason: str) -> tuple[list[tuple[str, str]], bytes]:
    data = json.dumps({"error": reason}).encode() + b"\n"
    return [("Content-Type", "application/json"), ("Content-Length", str(len(data)))], data


def _framing(head: bytes, max_body_bytes: int) -> tuple[int, bool]:
    """The body length a request head announces, and whether it expects ``100 Continue``.

    Raises :class:`_Refused` for a transfer-encoded body, a missing, repeated, signed, non-decimal or
    over-large ``Content-Length`` (so a bad header can never lift the body cap).
    """
    lengths: list[bytes] = []
    expect_continue = False
    for line in head.split(b"\n")[1:]:
        name, _, value = line.partition(b":")
        name, value = name.strip().lower(), value.strip()
        if name == b"transfer-encoding":
            raise _Refused(
                "411 Length Required", "transfer-encoded (chunked) bodies are not accepted: send Content-Length"
            )
        if name == b"content-length":
            lengths.append(value)
        elif name == b"expect":
            expect_continue = value.lower() == b"100-continue"
    if not lengths:
        return 0, False
    if len(lengths) > 1 or not lengths[0].isdigit():
        raise _Refused("400 Bad Request", "Content-Length must be one non-negative decimal integer")
    if len(lengths[0]) > 18 or int(lengths[0]) > max_body_bytes:
        raise _Refused("413 Content Too Large", f"request body over {max_body_bytes} bytes")
    size = int(lengths[0])
    return size, expect_continue and size > 0


@dataclass(eq=False)
class _Pending:
    """A connection whose request is still arriving."""

    sock: socket.socket
    addr: Any
    deadline: float
    handshaking: bool
    buf: bytearray = field(default_factory=bytearray)
    #: bytes of the whole request (head and body), once the head is in
    size: int | None = None


class _Handler(WSGIRequestHandler):
    """Answers one request that the server has already read in full: it never waits for the client."""

    server: _GuardedServer

    def __init__(self, request: socket.socket, client_address: Any, server: _GuardedServer, data: bytes = b"") -> None:
        self._data = data
        super().__init__(request, client_address, server)

    def setup(self) -> None:
        super().setup()
        self.rfile.close()
        self.rfile = io.BytesIO(self._data)

    def log_message(self, format: str, *args: Any) -> None:
        log.debug("http: " + format, *args)


class _GuardedServer(WSGIServer):
    """WSGI server whose one loop thread accepts connections and reads requests without blocking.

    ``serve_forever``/``shutdown`` keep socketserver's contract; each complete request is answered
    on a daemon thread of its own, at most ``limits.max_handlers`` at once.
    """

    def __init__(self, address: tuple[str, int], limits: HttpLimits, ssl_context: ssl.SSLContext | None) -> None:
        self.limits = limits
        self.ssl_context = ssl_context
        self._pending: dict[socket.socket, _Pending] = {}  # oldest first
        self._handlers = threading.BoundedSemaphore(limits.max_handlers)
        self._stopping = threading.Event()
        self._wake_r, self._wake_w = socket.socketpair()
        self._wake_r.setblocking(False)
        self._selector = selectors.DefaultSelector()
        super().__init__(address, _Handler)
        self.socket.setblocking(False)

    def serve_forever(self, poll_interval: float = 0.5) -> None:
        self._selector.register(self.socket, selectors.EVENT_READ)
        self._selector.register(self._wake_r, selectors.EVENT_READ)
        try:
            while not self._stopping.is_set():
                now = time.monotonic()
                self._expire(now)
                oldest = next(iter(self._pending.values()), None)
                timeout = poll_interval if oldest is None else max(0.0, oldest.deadline - now)
                for key, _ in self._selector.select(timeout):
                    if key.fileobj is self.socket:
                        self._accept()
                    elif key.fileobj is self._wake_r:
                        self._wake_r.recv(64)
                    elif key.fileobj in self._pending:  # not dropped earlier in this round
                        pending = self._pending[key.fileobj]
                        try:
                            self._advance(pending)
                        except Exception:  # a bug must cost one connection, never the endpoint
                            log.exception("http: reading a request from %s failed", pending.addr)
                            self._drop(pending)
        finally:
            for pending in list(self._pending.values()):
                self._drop(pending)
            self._selector.close()

    def shutdown(self) -> None:
        self._stopping.set()
        self._wake_w.send(b"x")

    def server_close(self) -> None:
        super().server_close()
        self._wake_r.close()
        self._wake_w.close()

    def _accept(self) -> None:
        for _ in range(64):
            try:
                conn, addr = self.socket.accept()
            except (BlockingIOError, InterruptedError):
                return
            except OSError as err:  # EMFILE and the like: the backlog keeps them for the next round
                log.warning("http: cannot accept a connection: %s", err)
                return
            conn.setblocking(False)
            if len(self._pending) >= self.limits.max_pending:
                oldest = next(iter(self._pending.values()))
                log.debug(
                    "http: %d connections still sending; dropping the oldest, from %s", len(self._pending), oldest.addr
                )
                self._drop(oldest)
            if self.ssl_context is not None:
                conn = self.ssl_context.wrap_socket(conn, server_side=True, do_handshake_on_connect=False)
            pending = _Pending(
                conn, addr, time.monotonic() + self.limits.request_timeout_s, handshaking=self.ssl_context is not None
            )
            self._pending[conn] = pending
            self._selector.register(conn, selectors.EVENT_READ, pending)

    def _advance(self, pending: _Pending) -> None:
        sock = pending.sock
        try:
            if pending.handshaking:
                assert isinstance(sock, ssl.SSLSocket)
                sock.do_handshake()
                pending.handshaking = False
            while True:
                chunk = sock.recv(65536)
                if not chunk:
                    self._drop(pending)  # the client gave up
                    return
                pending.buf += chunk
                if self._complete(pending):
                    return
        except ssl.SSLWantReadError:
            self._selector.modify(sock, selectors.EVENT_READ, pending)
        except ssl.SSLWantWriteError:
            self._selector.modify(sock, selectors.EVENT_WRITE, pending)
        except (BlockingIOError, InterruptedError):
            pass
        except _Refused as refused:
            log.debug("http: refused a request from %s: %s %s", pending.addr, refused.status, refused.reason)
            self._answer_and_close(pending, refused.status, refused.reason)
        except OSError as err:  # resets, failed TLS handshakes (plain HTTP, untrusted client certificate)
            log.debug("http: connection from %s failed: %s", pending.addr, err)
            self._drop(pending)

    def _complete(self, pending: _Pending) -> bool:
        """Dispatch the request once it is all in; False while more is to come."""
        limits = self.limits
        if pending.size is None:
            end = _HEAD_END.search(pending.buf)
            if end is None or end.end() > limits.max_header_bytes:
                if end is None and len(pending.buf) <= limits.max_header_bytes:
                    return False
                raise _Refused(
                    "431 Request Header Fields Too Large", f"request headers over {limits.max_header_bytes} bytes"
                )
            body_bytes, expect_continue = _framing(bytes(pending.buf[: end.start()]), limits.max_body_bytes)
            pending.size = end.end() + body_bytes
            if expect_continue and len(pending.buf) < pending.size:
                pending.sock.send(b"HTTP/1.1 100 Continue\r\n\r\n")
        if len(pending.buf) < pending.size:
            return False
        self._forget(pending)
        if not self._handlers.acquire(blocking=False):
            log.debug("http: %d requests in progress; 503 to %s", self.limits.max_handlers, pending.addr)
            self._answer_and_close(pending, "503 Service Unavailable", "too many requests in progress; retry")
            return True
        data = bytes(pending.buf[: pending.size])
        pending.sock.setblocking(True)
        pending.sock.settimeout(limits.request_timeout_s)
        try:
            threading.Thread(
                target=self._handle, args=(pending.sock, pending.addr, data), name="pue-agent-http-request", daemon=True
            ).start()
        except RuntimeError as err:  # no thread to be had
            log.warning("http: cannot start a handler thread: %s", err)
            self._handlers.release()
            self._close(pending.sock)
        return True

    def _handle(self, sock: socket.socket, addr: Any, data: bytes) -> None:
        try:
            _Handler(sock, addr, self, data)
        except OSError as err:  # the client reset, or did not take the answer in time
            log.debug("http: answering %s failed: %s", addr, err)
        finally:
            self._handlers.release()
            self._close(sock)

    def _expire(self, now: float) -> None:
        for pending in list(self._pending.values()):  # oldest first: all share one timeout
            if pending.deadline > now:
                return
            log.debug("http: request from %s not complete within %.1f s", pending.addr, self.limits.request_timeout_s)
            if pending.handshaking:
                self._drop(pending)
            else:
                self._answer_and_close(
                    pending, "408 Request Timeout", f"request not complete within {self.limits.request_timeout_s:g} s"
                )

    def _answer_and_close(self, pending: _Pending, status: str, reason: str) -> None:
        headers, body = _error_body(status, reason)
        head = "".join(f"{k}: {v}\r\n" for k, v in [*headers, ("Connection", "close")])
        try:  # a best effort: the socket is non-blocking and the answer is small
            pending.sock.send(f"HTTP/1.1 {status}\r\n{head}\r\n".encode() + body)
        except OSError as err:
            log.debug("http: cannot answer %s: %s", pending.addr, err)
        self._drop(pending)

    def _forget(self, pending: _Pending) -> None:
        if self._pending.pop(pending.sock, None) is not None:
            self._selector.unregister(pending.sock)

    def _drop(self, pending: _Pending) -> None:
        self._forget(pending)
        self._close(pending.sock)

    @staticmethod
    def _close(sock: socket.socket) -> None:
        try:
            sock.shutdown(socket.SHUT_RDWR)
        except OSError:
            pass  # already reset by the client
        sock.close()


def _json(start_response: StartResponse, status: str, body: Any) -> list[bytes]:
    data = json.dumps(body, indent=2, default=str).encode()
    start_response(status, [("Content-Type", "application/json"), ("Content-Length", str(len(data)))])
    return [data]


def _error(start_response: StartResponse, status: str, reason: str, exc_info: Any = None) -> list[bytes]:
    headers, body = _error_body(status, reason)
    start_response(status, headers, exc_info)
    return [body]


def _refuse_constant(name: str) -> Any:
    raise ValueError(f"{name} is not a number")


def _json_object(raw: bytes) -> dict[str, Any]:
    """A request body as a JSON object; ValueError (never the body itself) when it is not one."""
    try:
        payload = json.loads(raw or b"{}", parse_constant=_refuse_constant)
    except RecursionError:
        raise ValueError("nested too deeply") from None
    if not isinstance(payload, dict):
        raise ValueError("the body must be a JSON object")
    return payload


class HttpServer:
    """One WSGI server for metrics and the API; ``wrap`` adds auth (see agent.app.security).

    ``ssl_context`` serves it over TLS (see :func:`agent.app.security.make_http_server`).
    """

    def __init__(
        self,
        registry: CollectorRegistry,
        api: ApiHandlers,
        wrap: Callable[[WsgiApp], WsgiApp] | None = None,
        *,
        limits: HttpLimits | None = None,
        ssl_context: ssl.SSLContext | None = None,
    ) -> None:
        self._metrics = metrics_app(registry) if isinstance(registry, ExpositionRegistry) else make_wsgi_app(registry)
        self.api = api
        self._page = WebPage(api)
        self.limits = limits or HttpLimits()
        self._ssl_context = ssl_context
        app: WsgiApp = self._route
        self._app = self._guard(wrap(app) if wrap is not None else app)
        self._server: _GuardedServer | None = None
        self._thread: threading.Thread | None = None

    @staticmethod
    def _guard(app: WsgiApp) -> WsgiApp:
        """A 500 with one line of JSON for any error of the app; the traceback goes to the log only."""

        def guarded(environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
            try:
                return list(app(environ, start_response))
            except Exception as err:  # a bug: answered and logged, the server carries on
                log.error(
                    "http: %s %s failed: %s",
                    environ.get("REQUEST_METHOD"),
                    environ.get("PATH_INFO"),
                    err,
                    exc_info=True,
                )
                return _error(
                    start_response, "500 Internal Server Error", "internal error (see the agent's log)", sys.exc_info()
                )

        return guarded

    def _route(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        path = environ.get("PATH_INFO", "/")
        method = environ.get("REQUEST_METHOD", "GET")
        if path == "/metrics":
            return self._metrics(environ, start_response)
        if path in WebPage.PATHS:
            return self._page(environ, start_response)
        if path == "/api/v1/recommendation" and method == "GET":
            if self.api.recommendation is None:
                return _error(start_response, "404 Not Found", "the recommender is not enabled")
            return _json(start_response, "200 OK", self.api.recommendation())
        if path == "/api/v1/actions" and method == "GET":
            return _json(start_response, "200 OK", self.api.actions() if self.api.actions else [])
        if path == "/api/v1/status" and method == "GET":
            return _json(start_response, "200 OK", self.api.status() if self.api.status else {})
        decisions = {"/api/v1/recommendation/approve": "approve", "/api/v1/recommendation/reject": "reject"}
        if path in decisions and method == "POST":
            decide = self.api.approve if decisions[path] == "approve" else self.api.reject
            if decide is None:
                return _error(start_response, "404 Not Found", "the recommender is not enabled")
            length = str(environ.get("CONTENT_LENGTH") or "0")
            if not (length.isascii() and length.isdigit()) or int(length) > self.limits.max_body_bytes:
                return _error(
                    start_response, "413 Content Too Large", f"Content-Length must be 0 to {self.limits.max_body_bytes}"
                )
            try:
                payload = _json_object(environ["wsgi.input"].read(int(length)))
            except ValueError as err:
                log.info("http: bad %s body from %s: %s", decisions[path], environ.get("REMOTE_ADDR"), err)
                return _error(start_response, "400 Bad Request", f"bad request body: {err}")
            if environ.get("REMOTE_USER"):  # authenticated: the audit log names the user, not what the body claims
                payload["approved_by" if decisions[path] == "approve" else "rejected_by"] = environ["REMOTE_USER"]
            result = decide(payload)
            status = "200 OK" if result.get("ok") else "409 Conflict"
            return _json(start_response, status, result)
        return _error(start_response, "404 Not Found", f"no route {method} {path}")

    def start(self, address: str, port: int) -> tuple[str, int]:
        server = _GuardedServer((address, port), self.limits, self._ssl_context)
        server.set_app(self._app)
        self._server = server
        name = "pue-agent-http" if self._ssl_context is None else "pue-agent-https"
        self._thread = threading.Thread(target=server.serve_forever, name=name, daemon=True)
        self._thread.start()
        host, bound = server.server_address[:2]
        return str(host), int(bound)

    def stop(self) -> None:
        if self._server is not None:
            self._server.shutdown()
            if self._thread is not None:
                self._thread.join(10)
            self._server.server_close()
            self._server = None
