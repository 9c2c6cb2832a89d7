"""Where the agent serves (/metrics, the API and its page), what /metrics exports, where history is stored."""

from __future__ import annotations

import ipaddress
from pathlib import Path
from typing import Literal

from pydantic import Field, SecretStr, field_validator, model_validator

from agent.config.base import StrictModel
from agent.config.retention import ENERGY_RETENTION_HELP

#: 9100-9999 are taken in Prometheus's default-port list; 9116 is snmp_exporter. Ours: 10330.
DEFAULT_LISTEN_PORT = 10330


class Listen(StrictModel):
    """Where the agent serves /metrics, the API and its page."""

    address: str = Field(default="127.0.0.1", description="IP address to listen on (0.0.0.0: all)")
    port: int = Field(default=DEFAULT_LISTEN_PORT, ge=1, le=65535, description="TCP port")
    request_timeout_s: float = Field(
        default=10.0,
        gt=0,
        le=300,
        description="a client must send its whole request within this of connecting (slow ones are closed) [s]",
    )
    max_handlers: int = Field(
        default=16,
        ge=1,
        le=1024,
        description="requests answered at once; more get 503 (connections still sending hold no thread)",
    )

    @field_validator("address")
    @classmethod
    def _ip(cls, value: str) -> str:
        try:
            ipaddress.ip_address(value)
        except ValueError:
            raise ValueError(f"listen address must be an IP address: {value!r}") from None
        return value


class ExporterConfig(StrictModel):
    """What /metrics exports per device (docs/metrics.md)."""

    device_metrics: Literal["all", "energy", "none"] = Field(
        default="all",
        description="per-device readings on /metrics: all; energy (the energy counters only, "
        "*_energy_joules_total); none (sites that keep raw series elsewhere). Device health "
        "(pue_device_up, poll duration, errors) and the site series are always exported",
    )


class HistoryConfig(StrictModel):
    """The history store: the embedded SQLite file (WAL), or a shared PostgreSQL database (``url``, docs/history.md).
    Relative paths are relative to the config file."""

    path: Path = Field(default=Path("pue-history.sqlite"), description="SQLite database file (unused with url)")
    raw_retention_days: float = Field(
        default=35.0, gt=0, le=3650, description="keep raw readings and polls this long (docs/history.md#retention)"
    )
    energy_retention_days: float | None = Field(default=None, gt=0, description=ENERGY_RETENTION_HELP)
    url: SecretStr | None = Field(
        default=None,
        description="PostgreSQL instead of SQLite: postgresql://user@host:5432/dbname (a secret: a password may be in "
        "it; never printed)",
    )
    password: SecretStr | None = Field(default=None, description="PostgreSQL password when not in url (a secret)")
    password_env: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z_][A-Za-z0-9_]*$",
        description="environment variable holding the PostgreSQL password (instead of password)",
    )
    agent_id: str | None = Field(
        default=None,
        pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]{0,63}$",
        description="this agent's key in a shared PostgreSQL history (default: main, or shard-I-of-N with --shard)",
    )

    @model_validator(mode="after")
    def _postgres(self) -> HistoryConfig:
        if self.url is not None:
            text = self.url.get_secret_value()
            if not text.startswith(("postgresql://", "postgres://")):
                raise ValueError("url must start with postgresql:// (the SQLite file is path)")
        elif self.password is not None or self.password_env is not None:
            raise ValueError("password / password_env are for a PostgreSQL url; give url too")
        if self.password is not None and self.password_env is not None:
            raise ValueError("give password or password_env, not both")
        return self
