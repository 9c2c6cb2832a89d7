"""The web section of the config: Prometheus-style ``web.config`` settings for the metrics/API endpoint.

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

The server that applies them is :mod:`agent.app.security`. Hashes are ``SecretStr`` (masked in dumps).
"""

from __future__ import annotations

import logging
import ssl
from pathlib import Path
from typing import Literal

from pydantic import (
    Field,
    SecretStr,
    ValidationError,
    field_validator,
    model_validator,
)

from agent.config.base import StrictModel
from agent.config.strict_yaml import YamlFileError, read_yaml
from agent.errors import ConfigError

__all__ = [
    "TlsServerConfig",
    "WebConfig",
    "load_web_config",
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


class TlsServerConfig(StrictModel):
    """``tls_server_config`` of a Prometheus web config. Relative paths: relative to the config file."""

    cert_file: Path = Field(description="server certificate (PEM)")
    key_file: Path = Field(description="its private key (PEM)")
    client_ca_file: Path | None = Field(default=None, description="CA that signs client certificates (mutual TLS)")
    client_auth_type: ClientAuthType = Field(default="NoClientCert", description="whether clients need a certificate")
    min_version: Literal["TLS12", "TLS13"] = Field(default="TLS12", description="oldest TLS version accepted")

    @model_validator(mode="after")
    def _ca_for_client_auth(self) -> TlsServerConfig:
        if self.client_auth_type != "NoClientCert" and self.client_ca_file is None:
            raise ValueError(f"client_auth_type {self.client_auth_type} needs client_ca_file")
        return self


class WebConfig(StrictModel):
    """The endpoint's TLS and basic-auth settings (Prometheus ``web.config`` keys)."""

    tls_server_config: TlsServerConfig | None = Field(default=None, description="serve HTTPS with these files")
    basic_auth_users: dict[str, SecretStr] = Field(
        default_factory=dict, description="user name to bcrypt hash (`htpasswd -nBC 12 USER`)"
    )

    @field_validator("basic_auth_users")
    @classmethod
    def _bcrypt_hashes(cls, users: dict[str, SecretStr]) -> dict[str, SecretStr]:
        for name, hashed in users.items():
            if not name or ":" in name:
                raise ValueError(f"basic_auth_users: bad user name {name!r}")
            value = hashed.get_secret_value()
            if not value.startswith(_BCRYPT_PREFIXES) or len(value) != 60:
                # the value itself is never echoed: it may be a plain password pasted by mistake
                raise ValueError(
                    f"basic_auth_users.{name}: not a bcrypt hash ($2b$...; make one with `htpasswd -nBC 12 USER`)"
                )
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
        raise ConfigError(
            [
                f"web.tls_server_config.cert_file/key_file: cannot load {tls.cert_file} / "
                f"{tls.key_file}: {getattr(err, 'strerror', None) or err}"
            ]
        ) from None
    if tls.client_ca_file is not None:
        try:
            ctx.load_verify_locations(cafile=tls.client_ca_file)
        except (OSError, ssl.SSLError) as err:
            raise ConfigError(
                [
                    f"web.tls_server_config.client_ca_file: cannot load {tls.client_ca_file}: "
                    f"{getattr(err, 'strerror', None) or err}"
                ]
            ) from None
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
        raise ConfigError(
            [
                f"{where}: {'.'.join(str(p) for p in e['loc']) or '<top>'}: "
                + (
                    "unknown key (not allowed here)"
                    if e["type"] == "extra_forbidden"
                    else str(e["msg"]).removeprefix("Value error, ")
                )
                for e in err.errors()
            ]
        ) from None
    return resolve_web_paths(web, path.parent)
