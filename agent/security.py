"""Securing the metrics/API endpoint: TLS (optionally with client certificates) and basic auth.

The settings follow Prometheus's ``web.config`` files (exporter-toolkit), so one file can serve
Prometheus, node_exporter and pue-agent alike; they are read from the site config's ``web`` section
or from a separate file (``pue-agent run --web-config FILE``)::

    tls_server_config:
      cert_file: /etc/pue-agent/tls/server.crt
      key_file: /etc/pue-agent/tls/server.key
      client_ca_file: /etc/pue-agent/tls/clients-ca.crt     # optional
      client_auth_type: RequireAndVerifyClientCert          # or VerifyClientCertIfGiven, NoClientCert
      min_version: TLS12
    basic_auth_users:                                       # user: bcrypt hash (htpasswd -nBC 12 user)
      prometheus: $2b$12$...

Basic auth is a WSGI wrapper around :class:`agent.http.HttpServer`'s app (its ``wrap`` hook);
TLS is handshaken without blocking by the server's reading loop, within the request deadline, so a
slow or failed handshake holds no thread (see :mod:`agent.http`). Hashes are ``SecretStr`` (masked
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
from pathlib import Path
from typing import Any, Literal

import bcrypt
from prometheus_client.registry import CollectorRegistry
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.errors import ConfigError
from agent.http import ApiHandlers, HttpLimits, HttpServer, StartResponse, WsgiApp
from agent.strict_yaml import YamlFileError, read_yaml

__all__ = [
    "BasicAuth",
    "TlsHttpServer",
    "TlsServerConfig",
    "WebConfig",
    "load_web_config",
    "make_http_server",
    "resolve_web_paths",
    "server_ssl_context",
]

log = logging.getLogger(__name__)

#: Prometheus's client_auth_type values that Python's ssl module can honour
ClientAuthType = Literal["NoClientCert", "VerifyClientCertIfGiven", "RequireAndVerifyClientCert"]
_VERIFY_MODE = {
    "NoClientCert": ssl.CERT_NONE,
    "VerifyClientCertIfGiven": ssl.CERT_OPTIONAL,
    "RequireAndVerifyClientCert": ssl.CERT_REQUIRED,
}
_TLS_VERSIONS = {"TLS12": ssl.TLSVersion.TLSv1_2, "TLS13": ssl.TLSVersion.TLSv1_3}
_BCRYPT_PREFIXES = ("$2a$", "$2b$", "$2y$")
_BCRYPT_MAX_PASSWORD_BYTES = 72


class _Strict(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class TlsServerConfig(_Strict):
    """``tls_server_config`` of a Prometheus web config. Relative paths: relative to the config file."""

    cert_file: Path
    key_file: Path
    client_ca_file: Path | None = None
    client_auth_type: ClientAuthType = "NoClientCert"
    min_version: Literal["TLS12", "TLS13"] = "TLS12"

    @model_validator(mode="after")
    def _ca_for_client_auth(self) -> TlsServerConfig:
        if self.client_auth_type != "NoClientCert" and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        return self


class WebConfig(_Strict):
    """The endpoint's TLS and basic-auth settings (Prometheus ``web.config`` keys)."""

    tls_server_config: TlsServerConfig | None = None
    basic_auth_users: dict[str, SecretStr] = Field(default_factory=dict)

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, hashed in users.items():
            if not name or ":" in name:
                raise ValueError(f"basic_auth_users: bad user name {name!r}")
            value = hashed.get_secret_value()
            if not value.startswith(_BCRYPT_PREFIXES) or len(value) != 60:
                # the value itself is never echoed: it may be a plain password pasted by mistake
                raise ValueError(f"basic_auth_users.{name}: not a bcrypt hash ($2b$...; "
                                 "make one with `htpasswd -nBC 12 USER`)")
        return users


def resolve_web_paths(web: WebConfig, base_dir: Path) -> WebConfig:
    """Make the TLS file paths absolute, relative to ``base_dir`` (the config file's folder)."""
    tls = web.tls_server_config
    if tls is None:
        return web

    def absolute(p: Path | None) -> Path | None:
        return None if p is None or p.is_absolute() else base_dir / p

    updates = {k: absolute(getattr(tls, k)) for k in ("cert_file", "key_file", "client_ca_file")}
    tls = tls.model_copy(update={k: v for k, v in updates.items() if v is not None})
    return web.model_copy(update={"tls_server_config": tls})


def server_ssl_context(tls: TlsServerConfig) -> ssl.SSLContext:
    """The server-side SSL context; raises :class:`ConfigError` naming the file that is wrong."""
    ctx = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    ctx.minimum_version = _TLS_VERSIONS[tls.min_version]
    try:
        ctx.load_cert_chain(tls.cert_file, tls.key_file)
    except (OSError, ssl.SSLError) as err:
        raise ConfigError([f"web.tls_server_config.cert_file/key_file: cannot load {tls.cert_file} / "
                           f"{tls.key_file}: {getattr(err, 'strerror', None) or err}"]) from None
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError([f"web.tls_server_config.client_ca_file: cannot load {tls.client_ca_file}: "
                               f"{getattr(err, 'strerror', None) or err}"]) from None
    ctx.verify_mode = _VERIFY_MODE[tls.client_auth_type]
    return ctx


def load_web_config(path: Path) -> WebConfig:
    """Read a Prometheus-style web config file; raises :class:`ConfigError` with file, path and reason."""
    where = str(path)
    try:
        data = read_yaml(path)
    except YamlFileError as err:
        raise ConfigError([str(err)]) from None
    if data is None:
        data = {}
    if not isinstance(data, dict):
        raise ConfigError([f"{where}: <top>: a web config must be a YAML mapping"])
    try:
        web = WebConfig.model_validate(data)
    except ValidationError as err:
        raise ConfigError([
            f"{where}: {'.'.join(str(p) for p in e['loc']) or '<top>'}: "
            + ("unknown key (not allowed here)" if e["type"] == "extra_forbidden"
               else str(e["msg"]).removeprefix("Value error, "))
            for e in err.errors()
        ]) from None
    return resolve_web_paths(web, path.parent)


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
        token = hmac.new(self._cache_key, user.encode() + b"\0" + password + b"\0" + (hashed or b""),
                         hashlib.sha256).digest()
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
        start_response("401 Unauthorized", [
            ("Content-Type", "text/plain"), ("Content-Length", str(len(body))),
            ("WWW-Authenticate", f'Basic realm="{self._realm}", charset="UTF-8"'),
        ])
        return [body]


class TlsHttpServer(HttpServer):
    """:class:`~agent.http.HttpServer` served over TLS; the handshake counts against the request deadline."""

    def __init__(self, registry: CollectorRegistry, api: ApiHandlers, ssl_context: ssl.SSLContext,
                 wrap: Callable[[WsgiApp], WsgiApp] | None = None, limits: HttpLimits | None = None) -> None:
        super().__init__(registry, api, wrap, limits=limits, ssl_context=ssl_context)


def make_http_server(registry: CollectorRegistry, api: ApiHandlers, web: WebConfig | None,
                     limits: HttpLimits | None = None) -> HttpServer:
    """The endpoint as ``web`` asks: plain HTTP, HTTPS, with or without basic auth."""
    wrap: Callable[[WsgiApp], WsgiApp] | None = None
    if web is not None and web.basic_auth_users:
        users = web.basic_auth_users
        wrap = lambda app: BasicAuth(app, users)  # noqa: E731
    if web is not None and web.tls_server_config is not None:
        return TlsHttpServer(registry, api, server_ssl_context(web.tls_server_config), wrap, limits)
    return HttpServer(registry, api, wrap, limits=limits)
