"""Named credentials devices refer to: SNMP v1/v2c communities, SNMPv3 USM users, Redfish BMC accounts.

Secrets are ``SecretStr``: they print as ``**********`` and the config dump never reveals them.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any, Literal

from pydantic import Discriminator, Field, SecretStr, Tag, model_validator

from agent.config.base import StrictModel


class V2cCredentials(StrictModel):
    """SNMP v1/v2c credentials: a community string."""

    version: Literal["1", "2c"] = Field(description="SNMP version")
    community: SecretStr = Field(description="community string (read-only for reads)")


class V3Credentials(StrictModel):
    """SNMPv3 USM credentials. Protocols are always explicit: pysnmp would default to MD5/DES."""

    version: Literal["3"] = Field(description="SNMP version")
    user: str = Field(description="USM user name")
    security_level: Literal["authPriv", "authNoPriv"] = Field(
        default="authPriv", description="authPriv: authenticated and encrypted; authNoPriv: authenticated only"
    )
    auth_protocol: Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"] = Field(
        description="authentication protocol (always explicit)"
    )
    auth_key: SecretStr = Field(min_length=8, description="authentication pass phrase")
    priv_protocol: Literal["des", "3des", "aes128", "aes192", "aes256"] | None = Field(
        default=None, description="privacy (encryption) protocol, required with authPriv"
    )
    priv_key: SecretStr | None = Field(
        default=None, min_length=8, description="privacy pass phrase, required with authPriv"
    )
    context: str = Field(default="", description="SNMPv3 context name (most devices: empty)")

    @model_validator(mode="after")
    def _priv(self) -> V3Credentials:
        if self.security_level == "authPriv" and (self.priv_protocol is None or self.priv_key is None):
            raise ValueError("authPriv needs both priv_protocol and priv_key")
        if self.security_level == "authNoPriv" and (self.priv_protocol or self.priv_key):
            raise ValueError("authNoPriv takes no priv_protocol/priv_key")
        return self


class RedfishCredentials(StrictModel):
    """A Redfish (HTTPS) account on servers' BMCs, and how their certificates are trusted.

    Certificate verification is on unless ``verify: false`` is written (the agent then warns at every
    start); ``ca_file`` names the CA bundle that signed the BMCs' certificates (relative to the config file).
    """

    protocol: Literal["redfish"] = Field(description="Redfish over HTTPS (a BMC account, not SNMP)")
    user: str = Field(min_length=1, description="BMC user name (a read-only role is enough)")
    password: SecretStr = Field(min_length=1, description="BMC password")
    auth: Literal["session", "basic"] = Field(
        default="session",
        description="session: POST SessionService/Sessions once, then X-Auth-Token (deleted on close); basic: "
        "HTTP basic auth on every request",
    )
    ca_file: Path | None = Field(default=None, description="CA bundle (PEM) trusted for the BMCs' certificates")
    verify: bool = Field(
        default=True, description="verify the BMC's certificate and host name; false only explicitly (warned)"
    )


def credentials_tag(value: Any) -> str | None:
    """Which kind of credentials an entry is: its ``version`` (SNMP) or ``protocol: redfish``."""
    if isinstance(value, dict):
        tag = value.get("protocol", value.get("version"))
    else:
        tag = getattr(value, "protocol", None) or getattr(value, "version", None)
    return {"1": "v2c", "2c": "v2c"}.get(tag, tag) if isinstance(tag, str) else None


Credentials = Annotated[
    Annotated[V2cCredentials, Tag("v2c")]
    | Annotated[V3Credentials, Tag("3")]
    | Annotated[RedfishCredentials, Tag("redfish")],
    Discriminator(
        credentials_tag,
        custom_error_type="credentials_kind",
        custom_error_message="credentials need version '1', '2c' or '3' (SNMP) or protocol: redfish",
    ),
]
