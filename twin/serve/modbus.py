"""Simulated Modbus TCP meters: a real pymodbus server serving a profile's register map from the twin's truth.

A :class:`ModbusGateway` is one pymodbus TCP server on (host, port); every simulated device configured at
that address is one unit id behind it, as RTU meters behind a Modbus TCP gateway are (a single meter
with its own Ethernet port is a gateway with one unit). Its registers are written from canonical values
through the profile (the inverse of the agent's decoding), encoded by pymodbus's own converter, so that a
word-order mistake in the agent's codec shows as a wrong reading, not as two mirrored mistakes.

A request for a unit id the gateway does not have is answered with exception 11 (gateway target device
failed to respond), as real gateways do; a stopped unit answers the same while another unit keeps the
gateway up; with every unit stopped the gateway closes its port.
"""

from __future__ import annotations

import asyncio
import functools
import logging
import socket
from collections.abc import Mapping
from typing import Any

from pymodbus.client.mixin import ModbusClientMixin
from pymodbus.constants import ExcCodes
from pymodbus.server import ModbusTcpServer
from pymodbus.simulator import DataType, SimData, SimDevice

from agent.devices.profiles import Profile, ProfileObject
from agent.devices.quantities import GLOSSARY

__all__ = ["ModbusGateway", "ModbusProfiledDevice", "ModbusUnit", "encode_object", "gateway_for"]

# pymodbus logs every refused request at ERROR; a simulated gateway refusing a wrong unit id is expected
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)

_TYPES = {
    "int16": ModbusClientMixin.DATATYPE.INT16,
    "uint16": ModbusClientMixin.DATATYPE.UINT16,
    "int32": ModbusClientMixin.DATATYPE.INT32,
    "uint32": ModbusClientMixin.DATATYPE.UINT32,
    "int64": ModbusClientMixin.DATATYPE.INT64,
    "uint64": ModbusClientMixin.DATATYPE.UINT64,
    "float32": ModbusClientMixin.DATATYPE.FLOAT32,
}

_RANGES = {
    "int16": (-(2**15), 2**15 - 1),
    "uint16": (0, 2**16 - 1),
    "int32": (-(2**31), 2**31 - 1),
    "uint32": (0, 2**32 - 1),
    "int64": (-(2**63), 2**63 - 1),
    "uint64": (0, 2**64 - 1),
}


def encode_object(obj: ProfileObject, value: float) -> list[int]:
    """The registers (wire order) holding canonical ``value`` for one Modbus profile object."""
    reg = obj.modbus
    assert reg is not None
    raw = (value - obj.offset) / obj.scale
    number: int | float
    if reg.data_type == "float32":
        number = raw
    else:
        number = round(raw)
        modulus = obj.wrap_modulus_raw()
        if GLOSSARY[obj.quantity].kind == "counter" and modulus:
            number %= modulus
        lo, hi = _RANGES[reg.data_type]
        number = min(max(number, lo), hi)
    words = ModbusClientMixin.convert_to_registers(number, _TYPES[reg.data_type], word_order=reg.word_order)
    if reg.byte_order == "little":
        words = [((w & 0xFF) << 8) | (w >> 8) for w in words]
    return words


class ModbusUnit:
    """One unit id's register image (holding and input tables) and whether it answers."""

    def __init__(self, unit_id: int, profile: Profile) -> None:
        self.unit_id = unit_id
        self.profile = profile
        self.answering = False
        #: read requests this unit answered or refused (tests count the agent's batching with it)
        self.requests = 0
        #: function -> (first address, registers): the map from its lowest to its highest register
        self.tables: dict[str, tuple[int, list[int]]] = {}
        for function in ("holding", "input"):
            regs = [o.modbus for o in profile.objects if o.modbus is not None and o.modbus.function == function]
            if regs:
                lo = min(r.address for r in regs)
                hi = max(r.address + r.words for r in regs)
                self.tables[function] = (lo, [0] * (hi - lo))

    def write(self, obj: ProfileObject, value: float) -> None:
        reg = obj.modbus
        assert reg is not None
        start, words = self.tables[reg.function]
        offset = reg.address - start
        words[offset : offset + reg.words] = encode_object(obj, value)

    def sim_device(self) -> SimDevice:
        blocks: list[list[SimData]] = [[SimData(0, datatype=DataType.BITS)], [SimData(0, datatype=DataType.BITS)]]
        for function in ("holding", "input"):
            start, words = self.tables.get(function, (0, [0]))
            blocks.append([SimData(start, count=len(words), values=0, datatype=DataType.REGISTERS)])
        return SimDevice(
            self.unit_id,
            simdata=(blocks[0], blocks[1], blocks[2], blocks[3]),
            action=functools.partial(_serve, self),
        )


async def _serve(
    unit: ModbusUnit,
    function_code: int,
    start_address: int,
    address: int,
    count: int,
    current_registers: list[int],
    set_values: Any,
) -> ExcCodes | None:
    """pymodbus's per-request hook: answer from the unit's image (or as a gateway whose unit is off-line)."""
    unit.requests += 1
    if not unit.answering:
        return ExcCodes.GATEWAY_NO_RESPONSE
    if set_values is not None:
        return ExcCodes.ILLEGAL_FUNCTION  # a meter's map is read-only here
    function = {3: "holding", 4: "input"}.get(function_code)
    if function is None or function not in unit.tables:
        return ExcCodes.ILLEGAL_ADDRESS
    _start, words = unit.tables[function]
    current_registers[: len(words)] = words
    return None


async def _no_such_unit(*_request: Any) -> ExcCodes:
    """A unit id the gateway does not know: "gateway target device failed to respond", as gateways answer."""
    return ExcCodes.GATEWAY_NO_RESPONSE


class ModbusGateway:
    """One pymodbus TCP server on (host, port) for every simulated unit configured at that address."""

    def __init__(self, host: str, port: int) -> None:
        self.host = host
        self.port = port
        self.units: dict[int, ModbusUnit] = {}
        self._server: ModbusTcpServer | None = None
        self._starting: asyncio.Task[None] | None = None

    def add(self, unit: ModbusUnit) -> None:
        if unit.unit_id == 0:
            raise ValueError(f"{self.host}:{self.port}: unit id 0 is the broadcast address, not a device's")
        if unit.unit_id in self.units:
            raise ValueError(f"{self.host}:{self.port}: unit id {unit.unit_id} configured twice")
        if self._server is not None:
            raise RuntimeError("units are added before the gateway starts")
        self.units[unit.unit_id] = unit

    async def _listen(self) -> None:
        # unit id 0 stands for every unit id not configured: the gateway has no path to it (exception 11)
        nobody = SimDevice(0, simdata=SimData(0, count=65536, datatype=DataType.REGISTERS), action=_no_such_unit)
        devices = [nobody, *(u.sim_device() for u in self.units.values())]
        server = ModbusTcpServer(devices, address=(self.host, self.port))
        try:
            await server.serve_forever(background=True)
        except RuntimeError as err:  # pymodbus keeps the socket's reason to itself: bind once to learn it
            with socket.socket() as probe:
                probe.bind((self.host, self.port))  # raises the OSError (EADDRINUSE, EADDRNOTAVAIL) behind it
            raise OSError(f"cannot listen ({err})") from err
        self._server = server

    def ensure_running(self) -> None:
        """Start listening (from inside the running event loop; :meth:`ready` awaits it)."""
        if self._server is None and self._starting is None:
            self._starting = asyncio.get_running_loop().create_task(self._listen())

    async def ready(self) -> None:
        if self._starting is not None:
            await self._starting

    def stop_if_idle(self) -> None:
        if any(u.answering for u in self.units.values()):
            return
        server, self._server, self._starting = self._server, None, None
        if server is None:
            return
        try:
            asyncio.get_running_loop().create_task(server.shutdown())  # type: ignore[no-untyped-call]
        except RuntimeError:  # stopped after its event loop ended: close the socket now
            server.close()


class _UnitHandle:
    """What :class:`~twin.serve.device.SimulatedSite` calls ``agent``: start and stop answering."""

    def __init__(self, gateway: ModbusGateway, unit: ModbusUnit) -> None:
        self.gateway = gateway
        self.unit = unit

    @property
    def running(self) -> bool:
        return self.unit.answering

    def start(self) -> int:
        self.unit.answering = True
        self.gateway.ensure_running()
        return self.gateway.port

    def stop(self) -> None:
        self.unit.answering = False
        self.gateway.stop_if_idle()

    def close(self) -> None:
        self.stop()

    async def ready(self) -> None:
        await self.gateway.ready()


class ModbusProfiledDevice:
    """A simulated Modbus meter: the :class:`~twin.serve.device.ProfiledDevice` interface over a unit."""

    def __init__(self, name: str, profile: Profile, gateway: ModbusGateway, unit_id: int) -> None:
        self.name = name
        self.profile = profile
        self.unit = ModbusUnit(unit_id, profile)
        gateway.add(self.unit)
        self.agent = _UnitHandle(gateway, self.unit)

    def publish(
        self,
        values: Mapping[tuple[str, tuple[tuple[str, str], ...]], float],
        uptime_s: float,
        defaults: Mapping[str, float] | None = None,
    ) -> None:
        """Write canonical values ``{(quantity, labels): value}`` into the registers via the profile.

        An object's labels are fixed by the profile (Modbus has no tables): the value whose labels are
        those; a phase value missing from ``values`` gets the matching total's third, then ``defaults``.
        """
        for obj in self.profile.objects:
            labels = tuple(sorted(obj.labels.items()))
            value = values.get((obj.quantity, labels))
            if value is None and defaults is not None:
                value = defaults.get(obj.quantity)
            if value is not None:
                self.unit.write(obj, value)

    def setpoint(self, quantity: str) -> float | None:
        return None  # a meter has no setpoints


def gateway_for(gateways: dict[tuple[str, int], ModbusGateway], host: str, port: int) -> ModbusGateway:
    """The gateway at (host, port), created on first use: devices sharing an address are its units."""
    key = (host, port)
    if key not in gateways:
        gateways[key] = ModbusGateway(host, port)
    return gateways[key]
