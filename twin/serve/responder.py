"""A real SNMP command responder (pysnmp agent side) for one simulated device.

The device's MIB is a dict ``OID -> (kind, raw value)`` that the simulation updates in place;
GET, GETNEXT, GETBULK and SET are answered from it over UDP, SNMPv2c and SNMPv3 (USM). A SET is
accepted only on objects registered as writable, within their raw bounds; anything else gets the
error-status a real unit gives (notWritable, wrongType, wrongValue).
"""

from __future__ import annotations

import bisect
import socket
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from pysnmp.carrier.asyncio.dgram import udp
from pysnmp.entity import config, engine
from pysnmp.entity.rfc3413 import cmdrsp, context
from pysnmp.proto import rfc1902, rfc1905
from pysnmp.smi import error as smi_error
from pysnmp.smi import instrum

from agent.devices.snmp.pysnmp_path import AUTH_PROTOCOLS, PRIV_PROTOCOLS

__all__ = ["SimulatedAgent", "WritableRange"]

_ENCODERS: dict[str, Callable[[Any], Any]] = {
    "integer": rfc1902.Integer32,
    "gauge32": rfc1902.Gauge32,
    "counter32": rfc1902.Counter32,
    "counter64": rfc1902.Counter64,
    "timeticks": rfc1902.TimeTicks,
    "octets": rfc1902.OctetString,
    "oid": rfc1902.ObjectName,
}


@dataclass(frozen=True, slots=True)
class WritableRange:
    raw_min: int
    raw_max: int
    on_set: Callable[[str, int], None] | None = None


def _key(oid: str) -> tuple[int, ...]:
    return tuple(int(p) for p in oid.split("."))


class _Mib(instrum.AbstractMibInstrumController):  # type: ignore[misc]
    def __init__(self) -> None:
        self.values: dict[tuple[int, ...], tuple[str, Any]] = {}
        self.writable: dict[tuple[int, ...], WritableRange] = {}
        self.write_security_names: set[str] = set()
        self._order: list[tuple[int, ...]] = []

    def set(self, oid: str, kind: str, value: Any) -> None:
        key = _key(oid)
        if key not in self.values:
            bisect.insort(self._order, key)
        self.values[key] = (kind, value)

    def _encode(self, key: tuple[int, ...]) -> Any:
        kind, value = self.values[key]
        return _ENCODERS[kind](value)

    def read_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        out = []
        for name, _val in var_binds:
            key = tuple(name)
            if key in self.values:
                out.append((name, self._encode(key)))
            elif any(k[: len(key)] == key for k in self._order[bisect.bisect_left(self._order, key) :][:1]):
                out.append((name, rfc1905.noSuchInstance))
            else:
                out.append((name, rfc1905.noSuchObject))
        return out

    def read_next_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        out = []
        for name, _val in var_binds:
            key = tuple(name)
            i = bisect.bisect_right(self._order, key)
            if i < len(self._order):
                nxt = self._order[i]
                out.append((rfc1902.ObjectName(nxt), self._encode(nxt)))
            else:
                out.append((name, rfc1905.endOfMibView))
        return out

    def write_variables(self, *var_binds: Any, **ctx: Any) -> list[tuple[Any, Any]]:
        # validate everything first (SET is all-or-nothing), then apply
        exec_ctx = ctx["snmpEngine"].observer.get_execution_context("rfc3412.receiveMessage:request")
        security_name = str(exec_ctx["securityName"])
        for idx, (name, val) in enumerate(var_binds):
            key = tuple(name)
            # read-only credentials get noAccess, as on a well-configured real device
            if security_name not in self.write_security_names:
                raise smi_error.NoAccessError(name=name, idx=idx)
            rng = self.writable.get(key)
            if rng is None:
                raise smi_error.NotWritableError(name=name, idx=idx)
            if not isinstance(val, rfc1902.Integer32 | rfc1902.Integer):
                raise smi_error.WrongTypeError(name=name, idx=idx)
            if not rng.raw_min <= int(val) <= rng.raw_max:
                raise smi_error.WrongValueError(name=name, idx=idx)
        out = []
        for name, val in var_binds:
            key = tuple(name)
            kind, _old = self.values.get(key, ("integer", 0))
            self.values[key] = (kind, int(val))
            if key not in self._order:
                bisect.insort(self._order, key)
            rng = self.writable[key]
            if rng.on_set is not None:
                rng.on_set(".".join(map(str, key)), int(val))
            out.append((name, self._encode(key)))
        return out


class SimulatedAgent:
    """One simulated device: its own SNMP engine and UDP port on loopback."""

    def __init__(
        self, host: str, port: int, community: str = "public", v3_user: tuple[str, str, str, str, str] | None = None
    ) -> None:
        """``v3_user`` = (user, auth_protocol, auth_key, priv_protocol, priv_key) in agent names."""
        self.host = host
        self.port = port
        self.community = community
        self.v3_user = v3_user
        self.mib = _Mib()
        #: a separate community (or v3 user, same tuple shape as ``v3_user``) that may SET; the read
        #: credentials are read-only, as on a well-configured real device
        self.write_community: str | None = None
        self.v3_write_user: tuple[str, str, str, str, str] | None = None
        self._engine: engine.SnmpEngine | None = None
        self._transport_open = False
        self._sock: socket.socket | None = None

    @property
    def running(self) -> bool:
        return self._transport_open

    def start(self) -> int:
        """Open the UDP endpoint (call from inside the running event loop); return the port.

        The SNMP engine (and so its snmpEngineID and USM state) survives stop/start, as a real
        device's does across a network outage.
        """
        if self._engine is None:
            self._engine = self._build_engine()
        if not self._transport_open:
            # bound here, not in pysnmp's background task: a port another program holds raises now, by name,
            # instead of a device that silently never answers
            sock = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
            try:
                sock.bind((self.host, self.port))
            except OSError:
                sock.close()
                raise
            sock.setblocking(False)
            self.port = sock.getsockname()[1]
            self._sock = sock  # closed in stop(): pysnmp's bind task may be cancelled before it owns the socket
            transport = udp.UdpTransport().open_server_mode(sock=sock)
            config.add_transport(self._engine, udp.DOMAIN_NAME, transport)
            self._transport_open = True
        return self.port

    def _build_engine(self) -> engine.SnmpEngine:
        snmp_engine = engine.SnmpEngine()
        config.add_v1_system(snmp_engine, "sim-read", self.community)
        config.add_vacm_user(snmp_engine, 2, "sim-read", "noAuthNoPriv", (1, 3, 6))
        if self.write_community is not None:
            config.add_v1_system(snmp_engine, "sim-write", self.write_community)
            self.mib.write_security_names.add("sim-write")
            config.add_vacm_user(snmp_engine, 2, "sim-write", "noAuthNoPriv", (1, 3, 6), (1, 3, 6))
        for user_tuple, writable in ((self.v3_user, False), (self.v3_write_user, True)):
            if user_tuple is None:
                continue
            user, auth_p, auth_k, priv_p, priv_k = user_tuple
            config.add_v3_user(snmp_engine, user, AUTH_PROTOCOLS[auth_p], auth_k, PRIV_PROTOCOLS[priv_p], priv_k)
            if writable:
                config.add_vacm_user(snmp_engine, 3, user, "authPriv", (1, 3, 6), (1, 3, 6))
                self.mib.write_security_names.add(user)
            else:
                config.add_vacm_user(snmp_engine, 3, user, "authPriv", (1, 3, 6))
        snmp_context = context.SnmpContext(snmp_engine)
        snmp_context.unregister_context_name(rfc1902.OctetString(""))
        snmp_context.register_context_name(rfc1902.OctetString(""), self.mib)
        cmdrsp.GetCommandResponder(snmp_engine, snmp_context)
        cmdrsp.NextCommandResponder(snmp_engine, snmp_context)
        cmdrsp.BulkCommandResponder(snmp_engine, snmp_context)
        cmdrsp.SetCommandResponder(snmp_engine, snmp_context)
        return snmp_engine

    def stop(self) -> None:
        """Close the UDP endpoint: the device stops answering (as if unplugged)."""
        if self._engine is not None and self._transport_open:
            transport = config.get_transport(self._engine, udp.DOMAIN_NAME)
            config.delete_transport(self._engine, udp.DOMAIN_NAME)
            if transport is not None:
                transport.close_transport()
            if self._sock is not None:
                self._sock.close()
                self._sock = None
            self._transport_open = False

    def close(self) -> None:
        """Stop answering and release the engine."""
        self.stop()
        if self._engine is not None:
            self._engine.close_dispatcher()
            self._engine = None
