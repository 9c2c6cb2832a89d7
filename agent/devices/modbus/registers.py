"""Modbus register maps, pure: the batching plan of a profile, and decoding registers into numbers.

No I/O and no Modbus library: :mod:`agent.devices.modbus.client` sends the plan's requests.

Batching rules (:func:`plan_reads`): objects are grouped by table (holding, input); within a table they are
sorted by address and joined into one request while the request stays within ``max_span_registers`` (at
most 125, Modbus's limit for one read) and the unused registers between two objects are at most
``max_gap_registers`` (0 by default: many meters refuse a read that touches an undefined register with
exception 2, so a profile allows a gap only where its register map says the whole range answers).
Overlapping objects (a 32-bit value and its low word) share a request.
"""

from __future__ import annotations

import struct
from collections.abc import Sequence
from dataclasses import dataclass

from agent.devices.profiles import ModbusRegister, ModbusSettings, ProfileObject
from agent.errors import DecodeError

__all__ = ["FUNCTION_CODES", "ReadRequest", "decode_registers", "plan_reads"]

#: the Modbus function code reading each register table
FUNCTION_CODES = {"holding": 3, "input": 4}

_FORMATS = {
    "int16": ">h",
    "uint16": ">H",
    "int32": ">i",
    "uint32": ">I",
    "float32": ">f",
    "int64": ">q",
    "uint64": ">Q",
}


@dataclass(frozen=True, slots=True)
class ReadRequest:
    """One read: ``count`` registers of ``function`` ("holding"/"input") from ``address``, and the objects in it."""

    function: str
    address: int
    count: int
    objects: tuple[ProfileObject, ...]


def _register(obj: ProfileObject) -> ModbusRegister:
    assert obj.modbus is not None, f"{obj.quantity}: not a Modbus object"
    return obj.modbus


def plan_reads(objects: Sequence[ProfileObject], settings: ModbusSettings) -> tuple[ReadRequest, ...]:
    """The fewest reads covering every object, within the profile's span and gap limits (module docstring)."""
    requests: list[ReadRequest] = []
    for function in ("holding", "input"):
        mine = sorted((o for o in objects if _register(o).function == function), key=lambda o: _register(o).address)
        start = end = -1  # the current request covers registers [start, end)
        members: list[ProfileObject] = []
        for obj in mine:
            reg = _register(obj)
            first, last = reg.address, reg.address + reg.words
            joins = (
                members
                and first - end <= settings.max_gap_registers
                and max(end, last) - start <= settings.max_span_registers
            )
            if joins:
                end = max(end, last)
                members.append(obj)
                continue
            if members:
                requests.append(ReadRequest(function, start, end - start, tuple(members)))
            start, end, members = first, last, [obj]
        if members:
            requests.append(ReadRequest(function, start, end - start, tuple(members)))
    return tuple(requests)


def decode_registers(reg: ModbusRegister, words: Sequence[int]) -> float:
    """The number held in ``words`` (the object's registers, in wire order) by its data type and orders.

    Raises
    ------
    DecodeError
        the wrong number of registers, or a register outside 0..65535.
    """
    if len(words) != reg.words:
        raise DecodeError(f"register {reg.address}: {reg.data_type} needs {reg.words} registers, got {len(words)}")
    if any(not 0 <= w <= 0xFFFF for w in words):
        raise DecodeError(f"register {reg.address}: a register value outside 0..65535: {list(words)}")
    ordered = list(words) if reg.word_order == "big" else list(reversed(words))
    data = b"".join(w.to_bytes(2, "big" if reg.byte_order == "big" else "little") for w in ordered)
    return float(struct.unpack(_FORMATS[reg.data_type], data)[0])
