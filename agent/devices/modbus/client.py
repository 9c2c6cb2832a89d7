"""The Modbus TCP client behind the seam: register reads over pymodbus, its errors translated in one place.

:class:`ModbusClient` is the narrow Protocol the adapter uses (``read``, ``close``); :class:`PymodbusClient`
keeps one TCP connection per gateway (host, port, timeout, retries) and sends every unit id behind it
over that connection, one request at a time, as a Modbus TCP/RTU gateway expects. pymodbus's errors become
:class:`~agent.errors.ModbusError` kinds here and nowhere else:

- no answer within ``timeout_s`` x (1 + ``retries``), a refused or reset connection: ModbusTimeoutError
  (the connection is dropped, so that a late answer is never taken for the next request's);
- exception 10 or 11 (a gateway with no path to the unit id, or whose RTU device did not answer: a
  wrong unit id): ModbusGatewayError;
- any other exception code (2 illegal data address, 4 device failure, ...): ModbusExceptionError;
- an answer for another unit id or transaction, or with the wrong number of registers: ModbusProtocolError.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Protocol

from pymodbus.client import AsyncModbusTcpClient
from pymodbus.exceptions import ConnectionException, ModbusException, ModbusIOException
from pymodbus.pdu import ExceptionResponse

from agent.errors import (
    ModbusExceptionError,
    ModbusGatewayError,
    ModbusProtocolError,
    ModbusTimeoutError,
)

__all__ = ["EXCEPTION_NAMES", "ModbusClient", "ModbusTarget", "PymodbusClient"]

#: Modbus exception codes (Modbus Application Protocol Specification V1.1b3, section 7)
EXCEPTION_NAMES = {
    1: "illegal function",
    2: "illegal data address",
    3: "illegal data value",
    4: "server device failure",
    5: "acknowledge",
    6: "server device busy",
    8: "memory parity error",
    10: "gateway path unavailable",
    11: "gateway target device failed to respond",
}

_GATEWAY_CODES = frozenset({10, 11})

# pymodbus logs every failure at ERROR on its own logger; the agent logs each device's failure once
logging.getLogger("pymodbus").setLevel(logging.CRITICAL)


@dataclass(frozen=True, slots=True)
class ModbusTarget:
    """Where one Modbus device answers: a TCP address and the unit id (behind a gateway: the RTU address)."""

    host: str
    port: int = 502
    unit_id: int = 1
    timeout_s: float = 2.0
    retries: int = 1

    def __str__(self) -> str:
        return f"modbus://{self.host}:{self.port}/unit {self.unit_id}"


class ModbusClient(Protocol):
    """The narrow seam the Modbus adapter goes through."""

    async def read(self, target: ModbusTarget, function: str, address: int, count: int) -> list[int]:
        """Read ``count`` registers of ``function`` ("holding"/"input") from ``address``; raise ModbusError."""
        ...

    async def close(self) -> None: ...


class PymodbusClient:
    """:class:`ModbusClient` over pymodbus's asyncio TCP client: one connection per gateway, reused."""

    def __init__(self) -> None:
        self._connections: dict[tuple[str, int, float, int], AsyncModbusTcpClient] = {}
        self._opening: dict[tuple[str, int, float, int], asyncio.Lock] = {}
        #: requests sent (for benchmarks and tests counting the batching)
        self.requests = 0

    async def _connection(self, target: ModbusTarget) -> AsyncModbusTcpClient:
        key = (target.host, target.port, target.timeout_s, target.retries)
        lock = self._opening.setdefault(key, asyncio.Lock())
        async with lock:
            client = self._connections.get(key)
            if client is not None and client.connected:
                return client
            if client is not None:
                client.close()
            client = AsyncModbusTcpClient(
                target.host,
                port=target.port,
                timeout=target.timeout_s,
                retries=target.retries,
                reconnect_delay=0,  # no reconnecting in the background: the next poll connects again
            )
            try:
                connected = await client.connect()
            except (OSError, ModbusException) as err:
                client.close()
                raise ModbusTimeoutError(f"{target}: cannot connect: {err}") from err
            if not connected:
                client.close()
                raise ModbusTimeoutError(f"{target}: cannot connect (connection refused or timed out)")
            self._connections[key] = client
            return client

    def _drop(self, target: ModbusTarget) -> None:
        client = self._connections.pop((target.host, target.port, target.timeout_s, target.retries), None)
        if client is not None:
            client.close()

    async def read(self, target: ModbusTarget, function: str, address: int, count: int) -> list[int]:
        what = f"{target}: read {count} {function} register(s) at {address}"
        key = (target.host, target.port, target.timeout_s, target.retries)
        for attempt in (1, 2):
            client = await self._connection(target)
            call = client.read_holding_registers if function == "holding" else client.read_input_registers
            self.requests += 1
            try:
                response = await call(address, count=count, device_id=target.unit_id)
            except (ConnectionException, OSError) as err:
                if attempt == 1 and self._connections.get(key) is not client:
                    continue  # another unit's timeout dropped the shared connection under this request
                self._drop(target)
                raise ModbusTimeoutError(f"{what}: connection lost: {err}") from err
            except ModbusIOException as err:
                self._drop(target)
                if "No response" in str(err):
                    raise ModbusTimeoutError(
                        f"{what}: no answer within {target.timeout_s:g} s x {1 + target.retries} tries"
                    ) from err
                raise ModbusProtocolError(f"{what}: {err}") from err
            except ModbusException as err:
                self._drop(target)
                raise ModbusProtocolError(f"{what}: {err}") from err
            return _registers(target, what, response, count)
        raise AssertionError("unreachable: the second attempt returns or raises")

    async def close(self) -> None:
        for client in self._connections.values():
            client.close()
        self._connections.clear()


def _registers(target: ModbusTarget, what: str, response: Any, count: int) -> list[int]:
    """The registers of an answer, or its exception code as a ModbusError kind."""
    if isinstance(response, ExceptionResponse) or response.isError():
        code = int(getattr(response, "exception_code", 0))
        name = EXCEPTION_NAMES.get(code, "unknown exception")
        if code in _GATEWAY_CODES:
            raise ModbusGatewayError(
                f"{what}: exception {code} ({name}): is unit id {target.unit_id} right, and is the device "
                "behind the gateway on-line?",
                code,
            )
        raise ModbusExceptionError(f"{what}: exception {code} ({name})", code)
    registers = list(response.registers)
    if len(registers) < count:
        raise ModbusProtocolError(f"{what}: the device answered {len(registers)} register(s)")
    return registers[:count]


class FakeModbusClient:
    """A canned :class:`ModbusClient` for unit tests: serves ``{(unit, function, address): word}``."""

    def __init__(self, words: dict[tuple[int, str, int], int]) -> None:
        self.words = dict(words)
        self.reads: list[tuple[int, str, int, int]] = []

    async def read(self, target: ModbusTarget, function: str, address: int, count: int) -> list[int]:
        self.reads.append((target.unit_id, function, address, count))
        out: list[int] = []
        for a in range(address, address + count):
            if (target.unit_id, function, a) not in self.words:
                raise ModbusExceptionError(f"{target}: exception 2 (illegal data address) at {a}", 2)
            out.append(self.words[(target.unit_id, function, a)])
        return out

    async def close(self) -> None:
        return None

    def reads_sent(self) -> Sequence[tuple[int, str, int, int]]:
        return tuple(self.reads)
