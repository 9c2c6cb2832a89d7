"""The SNMP seam: what every SNMP user in the agent sees, without any SNMP library.

:class:`SnmpClient` is a narrow Protocol (``get``, ``walk``, ``set``, ``close``) over plain Python values
(:class:`SnmpValue`), addressed by :class:`SnmpTarget`. The pysnmp implementation is
:class:`agent.devices.snmp.client.PysnmpClient`; tests use :class:`FakeSnmpClient`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from typing import Literal, NamedTuple, Protocol, get_args

from agent.errors import SnmpError

__all__ = [
    "AUTH_PROTOCOL_NAMES",
    "PRIV_PROTOCOL_NAMES",
    "AuthProtocol",
    "FakeSnmpClient",
    "PrivProtocol",
    "SnmpClient",
    "SnmpTarget",
    "SnmpValue",
    "V2cAuth",
    "V3Auth",
    "ValueKind",
    "oid_tuple",
]

#: SNMPv3 protocols by the names config and command line use; pysnmp's objects for them are in pysnmp_path.py
AuthProtocol = Literal["md5", "sha", "sha224", "sha256", "sha384", "sha512"]
PrivProtocol = Literal["des", "3des", "aes128", "aes192", "aes256"]
AUTH_PROTOCOL_NAMES: tuple[str, ...] = get_args(AuthProtocol)
PRIV_PROTOCOL_NAMES: tuple[str, ...] = get_args(PrivProtocol)

ValueKind = Literal[
    "integer",
    "gauge32",
    "counter32",
    "counter64",
    "timeticks",
    "octets",
    "oid",
    "ipaddress",
    "null",
    "no_such_object",
    "no_such_instance",
    "end_of_mib_view",
    "malformed",
]


class SnmpValue(NamedTuple):
    """One var-bind as plain Python: numeric OID (no leading dot), kind, value. A named tuple: the fast path
    makes one per var-bind straight from the wire codec's ``(oid, kind, value)`` tuples."""

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
        return (
            f"V3Auth(user={self.user!r}, auth_protocol={self.auth_protocol!r}, "
            f"priv_protocol={self.priv_protocol!r}, keys=<secret>)"
        )


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


def oid_tuple(oid: str) -> tuple[int, ...]:
    return tuple(map(int, oid.split("."))) if oid else ()


class FakeSnmpClient:
    """A canned :class:`SnmpClient` for unit tests: serves a dict of OID -> (kind, value)."""

    def __init__(self, data: dict[str, tuple[ValueKind, int | bytes | str]], *, fail: SnmpError | None = None):
        self.data = dict(data)
        self.fail = fail
        self.sets: list[tuple[str, int]] = []

    def _sorted(self) -> list[str]:
        return sorted(self.data, key=oid_tuple)

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        if self.fail:
            raise self.fail
        return [SnmpValue(o, *self.data[o]) if o in self.data else SnmpValue(o, "no_such_instance", None) for o in oids]

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
