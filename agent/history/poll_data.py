"""A poll's readings in one value of its ``polls`` row (schema v4), instead of one ``readings`` row each.

The hot tables are keyed by device, so every row a poll inserts lands on a page of its own device: at 10,000
devices a poll's six readings dirtied about six 16 KiB pages, each written to the WAL at the next commit
(54 MB/s at 670 polls/s, docs/scale.md). In the poll's own row they add about 100 bytes to one page.

Format: one version byte (1), then per reading the ids (``raw_name``, as the packed blocks use) of its quantity
and of its labels text as two little-endian uint32, and its value as a little-endian float64: 16 bytes a reading.
"""

from __future__ import annotations

import struct
from collections.abc import Callable, Sequence

from agent.history.records import ReadingRow

__all__ = ["READING_BYTES", "decode_readings", "encode_readings"]

_VERSION = 1
_ITEM = struct.Struct("<IId")
#: bytes each reading takes (after the one version byte)
READING_BYTES = _ITEM.size


def encode_readings(readings: Sequence[ReadingRow], name_id: Callable[[str], int]) -> bytes:
    """The ``data`` value of a poll's row: its readings, names as ids from ``name_id``."""
    flat: list[float | int] = []
    for r in readings:
        flat += (name_id(r.quantity), name_id(r.labels), r.value)
    return bytes((_VERSION,)) + struct.pack(f"<{'IId' * len(readings)}", *flat)


def decode_readings(device: str, timestamp_s: float, data: bytes, name: Callable[[int], str]) -> list[ReadingRow]:
    """The readings of one poll row (``name`` maps an id back); one (quantity, labels) answered twice in a poll
    keeps the later value, as ``INSERT OR REPLACE`` into the ``readings`` table did."""
    if not data:
        return []
    if data[0] != _VERSION or (len(data) - 1) % READING_BYTES:
        raise ValueError(
            f"poll row of {device} at {timestamp_s}: readings data of {len(data)} bytes, version {data[0]}, "
            f"is not this version's format ({_VERSION}, {READING_BYTES} bytes a reading)"
        )
    out: dict[tuple[int, int], float] = {}
    for quantity, labels, value in _ITEM.iter_unpack(memoryview(data)[1:]):
        out[(quantity, labels)] = value
    return [ReadingRow(device, name(q), name(lab), timestamp_s, v) for (q, lab), v in out.items()]
