"""Securing the metrics/API endpoint: TLS (optionally with client certificates) and basic auth.

The settings (Prometheus's ``web.config``) are read by :mod:`agent.config.web`.

Basic auth is a WSGI wrapper around :class:`agent.app.http.HttpServer`'s app (its ``wrap`` hook);
TLS is handshaken without blocking by the server's reading loop, within the request deadline, so a
slow or failed handshake holds no thread (see :mod:`agent.app.http`). Hashes are ``SecretStr`` (masked
in dumps); passwords are never logged.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import logging
import ssl
import threading
from collections.abc import Callable, Iterable
from typing import Any

import bcrypt
from prometheus_client.registry import CollectorRegistry
from pydantic import (
    SecretStr,
)

from agent.app.http import ApiHandlers, HttpLimits, HttpServer, StartResponse, WsgiApp
from agent.config.web import WebConfig, server_ssl_context

__all__ = ["BasicAuth", "TlsHttpServer", "make_http_server"]

log = logging.getLogger(__name__)
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_PASSWORD_BYTES = 72


class BasicAuth:
    """WSGI middleware: HTTP basic auth against bcrypt hashes (401 + ``WWW-Authenticate`` otherwise).

    bcrypt is deliberately slow (about 0.2 s at cost 12), so a successful check is cached under an
    HMAC of user, password and hash with a per-process key (as Prometheus's exporter-toolkit does);
    unknown users are checked against a dummy hash so that timing does not reveal valid names.
    """

    def __init__(self, app: WsgiApp, users: dict[str, SecretStr], realm: str = "pue-agent") -> None:
        self._app = app
        self._users = {name: h.get_secret_value().encode() for name, h in users.items()}
        self._realm = realm
        self._cache_key = bcrypt.gensalt()
        self._verified: set[bytes] = set()
        self._lock = threading.Lock()
        self._dummy = bcrypt.hashpw(b"pue-agent-dummy", bcrypt.gensalt(rounds=12))

    def _check(self, user: str, password: bytes) -> bool:
        hashed = self._users.get(user)
        token = hmac.new(
            self._cache_key, user.encode() + b"\0" + password + b"\0" + (hashed or b""), hashlib.sha256
        ).digest()
        with self._lock:
            if hashed is not None and token in self._verified:
                return True
        if len(password) > _BCRYPT_MAX_PASSWORD_BYTES:
            # bcrypt reads only 72 bytes (bcrypt 5 raises on more): such a password cannot be the one hashed;
            # the dummy check keeps the answer as slow as a real one
            bcrypt.checkpw(password[:_BCRYPT_MAX_PASSWORD_BYTES], self._dummy)
            return False
        try:
            ok = bcrypt.checkpw(password, hashed if hashed is not None else self._dummy) and hashed is not None
        except ValueError as err:  # a password or hash bcrypt refuses is no match, never a 500
            log.info("http: basic auth for user %r not checked: %s", user, err)
            return False
        if ok:
            with self._lock:
                self._verified.add(token)
        return ok

    def _credentials(self, environ: dict[str, Any]) -> tuple[str, bytes] | None:
        header = str(environ.get("HTTP_AUTHORIZATION", ""))
        scheme, _, encoded = header.partition(" ")
        if scheme.lower() != "basic" or not encoded:
            return None
        try:
            user, sep, password = base64.b64decode(encoded.strip(), validate=True).partition(b":")
        except (binascii.Error, ValueError):
            return None
        if not sep:
            return None
        try:
            return user.decode("utf-8"), password
        except UnicodeDecodeError:
            return None

    def __call__(self, environ: dict[str, Any], start_response: StartResponse) -> Iterable[bytes]:
        creds = self._credentials(environ)
        if creds is not None and self._check(*creds):
            environ["REMOTE_USER"] = creds[0]
            return self._app(environ, start_response)
        if creds is not None:
            log.info("http: basic auth failed for user %r from %s", creds[0], environ.get("REMOTE_ADDR"))
        body = b"401 Unauthorized\n"
        start_response(
            "401 Unauthorized",
            [
                ("Content-Type", "text/plain"),
                ("Content-Length", str(len(body))),
                ("WWW-Authenticate", f'Basic realm="{self._realm}", charset="UTF-8"'),
            ],
        )
        return [body]


class TlsHttpServer(HttpServer):
    """:class:`~agent.app.http.HttpServer` served over TLS; the handshake counts against the request deadline."""

    def __init__(
        self,
        registry: CollectorRegistry,
        api: ApiHandlers,
        ssl_context: ssl.SSLContext,
        wrap: Callable[[WsgiApp], WsgiApp] | None = None,
        limits: HttpLimits | None = None,
    ) -> None:
        super().__init__(registry, api, wrap, limits=limits, ssl_context=ssl_context)


def make_http_server(
    registry: CollectorRegistry, api: ApiHandlers, web: WebConfig | None, limits: HttpLimits | None = None
) -> HttpServer:
    """The endpoint as ``web`` asks: plain HTTP, HTTPS, with or without basic auth."""
    wrap: Callable[[WsgiApp], WsgiApp] | None = None
    if web is not None and web.basic_auth_users:
        users = web.basic_auth_users
        wrap = lambda app: BasicAuth(app, users)  # noqa: E731
    if web is not None and web.tls_server_config is not None:
        return TlsHttpServer(registry, api, server_ssl_context(web.tls_server_config), wrap, limits)
    return HttpServer(registry, api, wrap, limits=limits)
