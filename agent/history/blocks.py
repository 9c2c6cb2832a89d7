"""Packed raw blocks: one device's polls, readings and device energies over one UTC hour (or, merged, one
day) in one compressed blob.

Lossless: every float comes back bit-identical (timestamps, readings, energies), except a poll's
``duration_s``, which is kept to 0.1 ms (a diagnostic: an SNMP or Modbus round trip jitters by more).

Layout of a block (before zlib), all integers as LEB128 varints (signed ones zigzagged)::

    version | n times | times | n polls | poll columns | n series | series... | n energies | energies...

``times`` is the sorted union of every timestamp in the block (float64 bit patterns: for positive floats
of one binade they grow with the value, so their second differences are the poll jitter in ulps).
Each column (poll, reading series, energy quantity) says which of those times it has (a bitmap, or
"all"), then its values. A float column is stored as integers ``m`` when every value is ``m * 10**-k``
or ``m / 10**k`` exactly (what a device's scaled integer decodes to), else as the XOR of consecutive
bit patterns (Gorilla's idea); integer columns keep whichever of the values, their differences or their
second differences is shortest. Names (quantities, labels, error kinds, methods) are ids in the
``raw_name`` table, so a block holds no strings.

One module (over 400 lines): the block format's encoder and decoder, which must change together.
"""

from __future__ import annotations

import itertools
import math
import struct
import zlib
from collections.abc import Callable, Sequence
from dataclasses import dataclass

from agent.history.records import DeviceEnergyRow, PollRow, ReadingRow

__all__ = ["BLOCK_S", "BLOCK_VERSION", "RawBlock", "decode_block", "encode_block", "window_start"]

#: the span of a block as packed [s]: UTC hours (closed days are merged into day blocks)
BLOCK_S = 3600
BLOCK_VERSION = 1
_XOR = 255
_BITS = 254
_MUL = tuple(10.0**-k for k in range(10))  # 1.0, 0.1, 0.01, ...: ``number * scale`` as profiles decode
_DIV = tuple(float(10**k) for k in range(10))
_MAX_EXACT = 2**53


def window_start(timestamp_s: float) -> int:
    """Start of the block holding ``timestamp_s`` [s]."""
    return math.floor(timestamp_s / BLOCK_S) * BLOCK_S


@dataclass
class RawBlock:
    """The raw rows of one device in one window (any order; encoding sorts them)."""

    polls: list[PollRow]
    readings: list[ReadingRow]
    energy: list[DeviceEnergyRow]

    @property
    def counts(self) -> tuple[int, int, int]:
        return len(self.polls), len(self.readings), len(self.energy)


# --- varints -------------------------------------------------------------------------------------


def _put(out: bytearray, value: int) -> None:
    while value > 0x7F:
        out.append((value & 0x7F) | 0x80)
        value >>= 7
    out.append(value)


def _zz(value: int) -> int:
    return value * 2 if value >= 0 else -value * 2 - 1


def _unzz(value: int) -> int:
    return value >> 1 if not value & 1 else -((value + 1) >> 1)


class _Reader:
    def __init__(self, data: bytes) -> None:
        self.data = data
        self.pos = 0

    def get(self) -> int:
        data, pos, shift, value = self.data, self.pos, 0, 0
        while True:
            byte = data[pos]
            pos += 1
            value |= (byte & 0x7F) << shift
            if byte < 0x80:
                self.pos = pos
                return value
            shift += 7

    def ints(self, n: int) -> list[int]:
        order = self.get()
        if order == _SPARSE:
            values = [_unzz(self.get())] * n
            count = self.get()
            if count:
                for i, v in zip(self.ints(count), self.ints(count), strict=True):
                    values[i] = v
            return values
        k, size, gcd, base = self.get(), self.get(), self.get(), _unzz(self.get())
        data = self.data[self.pos : self.pos + size]
        self.pos += size
        values = [_unzz(u) * gcd for u in _unrice(data, k, n)]
        skip = 1 if order else 0
        return _undiff(values[:skip] + [v + base for v in values[skip:]], order)


def _diff(values: list[int], order: int) -> list[int]:
    """``order`` 1: the first value, then differences; 2: the first value, the first difference, then
    differences of differences."""
    if order == 0 or len(values) < 2:
        return values
    d = [b - a for a, b in itertools.pairwise(values)]
    if order == 1:
        return values[:1] + d
    return values[:1] + d[:1] + [b - a for a, b in itertools.pairwise(d)]


def _undiff(values: list[int], order: int) -> list[int]:
    if order == 0 or len(values) < 2:
        return values
    out = values[:1]
    step = 0
    for i, v in enumerate(values[1:]):
        step = v if order == 1 or i == 0 else step + v
        out.append(out[-1] + step)
    return out


def _mode(values: list[int]) -> int:
    counts: dict[int, int] = {}
    for v in values:
        counts[v] = counts.get(v, 0) + 1
    return max(counts, key=counts.__getitem__)


#: an integer column stored as its most common value and the exceptions (not an order of differences)
_SPARSE = 9
#: a quotient of this many or more is escaped: the escape's ones, 7 bits of length, the value's bits
_ESCAPE = 24


def _rice_bits(values: list[int], k: int) -> int:
    bits = 0
    for v in values:
        q = _zz(v) >> k
        bits += q + 1 + k if q < _ESCAPE else _ESCAPE + 7 + _zz(v).bit_length()
    return bits


def _rice_k(values: list[int]) -> tuple[int, int]:
    """The Rice parameter (bits kept below the unary quotient) that codes ``values`` shortest, and its bits."""
    median = sorted(_zz(v) for v in values)[len(values) // 2] if values else 0
    guess = max(median.bit_length() - 1, 0)
    return min(((k, _rice_bits(values, k)) for k in range(max(guess - 1, 0), guess + 3)), key=lambda kb: kb[1])


def _rice(values: list[int], k: int) -> bytes:
    """Rice codes of the zigzagged ``values``, most significant bit first."""
    acc = 0
    nbits = 0
    mask = (1 << k) - 1
    for v in values:
        u = _zz(v)
        q = u >> k
        if q < _ESCAPE:
            acc = (((acc << (q + 1)) | (((1 << q) - 1) << 1)) << k) | (u & mask)
            nbits += q + 1 + k
        else:
            length = u.bit_length()
            acc = (((acc << _ESCAPE) | ((1 << _ESCAPE) - 1)) << (7 + length)) | (length << length) | u
            nbits += _ESCAPE + 7 + length
    pad = -nbits % 8
    return (acc << pad).to_bytes((nbits + pad) // 8, "big")


def _unrice(data: bytes, k: int, n: int) -> list[int]:
    bits = format(int.from_bytes(data, "big"), f"0{len(data) * 8}b") if data else ""
    out: list[int] = []
    pos = 0
    for _ in range(n):
        zero = bits.find("0", pos, pos + _ESCAPE)
        if zero < 0:
            pos += _ESCAPE
            length = int(bits[pos : pos + 7], 2)
            pos += 7
            out.append(int(bits[pos : pos + length], 2) if length else 0)
            pos += length
            continue
        q = zero - pos
        pos = zero + 1
        out.append((q << k) | (int(bits[pos : pos + k], 2) if k else 0))
        pos += k
    return out


def _put_ints(out: bytearray, values: list[int]) -> None:
    """Integers as the shortest of themselves, their differences, their second differences; Rice-coded.
    A column mostly of one value (ok flags, error kinds, methods) is that value and its exceptions."""
    if values:
        common = _mode(values)
        exceptions = [i for i, v in enumerate(values) if v != common]
        if len(exceptions) * 8 <= len(values):
            _put(out, _SPARSE)
            _put(out, _zz(common))
            _put(out, len(exceptions))
            if exceptions:
                _put_ints(out, exceptions)
                _put_ints(out, [values[i] for i in exceptions])
            return
    # each order's values less their median (the first value of a difference column kept as it is): poll
    # times step by the interval, so their differences centre on it, not on 0
    candidates = []
    for order in range(3):
        column = _diff(values, order)
        skip = 1 if order else 0
        tail = sorted(column[skip:])
        base = tail[len(tail) // 2] if tail else 0
        candidates.append((order, base, column[:skip] + [v - base for v in column[skip:]]))
    order, base, column = min(candidates, key=lambda c: _rice_k(c[2])[1])
    # a common factor (a counter stepping by 0.1 kWh = 360,000 J) is taken out
    gcd = math.gcd(*column) or 1
    coded = [v // gcd for v in column] if gcd > 1 else column
    k = _rice_k(coded)[0]
    data = _rice(coded, k)
    _put(out, order)
    _put(out, k)
    _put(out, len(data))
    _put(out, gcd)
    _put(out, _zz(base))
    out += data


# --- float columns --------------------------------------------------------------------------------

_pack_d = struct.Struct("<d")
_pack_q = struct.Struct("<q")


def _bits(value: float) -> int:
    return int(_pack_q.unpack(_pack_d.pack(value))[0])


def _float(bits: int) -> float:
    return float(_pack_d.unpack(_pack_q.pack(bits))[0])


def _scaled(values: Sequence[float]) -> tuple[int, list[int]] | None:
    """(mode, integers) if every value is an integer times 10**-k or over 10**k, bit for bit."""
    if not all(math.isfinite(v) for v in values):
        return None
    for mode, apply in _SCALES:
        ints: list[int] = []
        for v in values:
            m = round(v / _MUL[mode % 10]) if mode < 10 else round(v * _DIV[mode - 10])
            if abs(m) >= _MAX_EXACT or _bits(apply(m)) != _bits(v):
                break
            ints.append(m)
        else:
            return mode, ints
    return None


def _scale_fn(mode: int) -> Callable[[int], float]:
    if mode < 10:
        scale = _MUL[mode]
        return lambda m: m * scale
    div = _DIV[mode - 10]
    return lambda m: m / div


# modes 0..9: m * 10**-k (0 is plain integers), 11..19: m / 10**k; integers first, then the coarsest scale
_SCALES: tuple[tuple[int, Callable[[int], float]], ...] = tuple(
    (mode, _scale_fn(mode)) for k in range(10) for mode in ((k,) if k == 0 else (k, 10 + k))
)


def _put_floats(out: bytearray, values: Sequence[float]) -> None:
    scaled = _scaled(values)
    if scaled is not None:
        _put(out, scaled[0])
        _put_ints(out, scaled[1])
        return
    # not scaled integers: the XOR of consecutive bit patterns, or the bit patterns as integers (timestamps,
    # totals growing steadily: their second differences are small), whichever is shorter
    xor = bytearray()
    _put(xor, _XOR)
    previous = 0
    for v in values:
        bits = _bits(v) & 0xFFFFFFFFFFFFFFFF
        x = bits ^ previous
        previous = bits
        if x == 0:
            _put(xor, 0)
            continue
        tz = (x & -x).bit_length() - 1
        _put(xor, tz + 1)
        _put(xor, x >> tz)
    ints = bytearray()
    _put(ints, _BITS)
    _put_ints(ints, [_bits(v) for v in values])
    out += xor if len(xor) <= len(ints) else ints


def _get_floats(reader: _Reader, n: int) -> list[float]:
    mode = reader.get()
    if mode == _BITS:
        return [_float(b) for b in reader.ints(n)]
    if mode != _XOR:
        return [_scale_fn(mode)(m) for m in reader.ints(n)]
    out: list[float] = []
    previous = 0
    for _ in range(n):
        tz = reader.get()
        x = 0 if tz == 0 else reader.get() << (tz - 1)
        previous ^= x
        out.append(_float(previous - (1 << 64) if previous >= 1 << 63 else previous))
    return out


def _put_mask(out: bytearray, times: Sequence[float], present: Sequence[float]) -> None:
    """Which of the block's times a column has: 0 for all, else 1 and the indices' differences."""
    if len(present) == len(times):
        _put(out, 0)
        return
    index = {t: i for i, t in enumerate(times)}
    _put(out, len(present) + 1)
    _put_ints(out, [index[t] for t in present])


def _get_mask(reader: _Reader, times: list[float]) -> list[float]:
    n = reader.get()
    if n == 0:
        return times
    return [times[i] for i in reader.ints(n - 1)]


# --- blocks -----------------------------------------------------------------------------------------


def encode_block(block: RawBlock, name_id: Callable[[str], int]) -> bytes:
    """One block as compressed bytes; ``name_id`` gives the id of a name (creating it if new)."""
    polls = sorted(block.polls, key=lambda p: p.timestamp_s)
    series: dict[tuple[str, str], list[ReadingRow]] = {}
    for r in sorted(block.readings, key=lambda r: r.timestamp_s):
        series.setdefault((r.quantity, r.labels), []).append(r)
    energies: dict[str, list[DeviceEnergyRow]] = {}
    for e in sorted(block.energy, key=lambda e: e.timestamp_s):
        energies.setdefault(e.quantity, []).append(e)
    times = sorted(
        {p.timestamp_s for p in polls} | {r.timestamp_s for r in block.readings} | {e.timestamp_s for e in block.energy}
    )
    out = bytearray()
    _put(out, BLOCK_VERSION)
    _put(out, len(times))
    if times:
        _put_floats(out, times)
    _put_mask(out, times, [p.timestamp_s for p in polls])
    if polls:
        _put_ints(out, [int(p.ok) for p in polls])
        _put_ints(out, [round(p.duration_s * 1e4) for p in polls])
        _put_ints(out, [0 if p.error_kind is None else name_id(p.error_kind) for p in polls])
    _put(out, len(series))
    for (quantity, labels), rows in series.items():
        _put(out, name_id(quantity))
        _put(out, name_id(labels))
        _put_mask(out, times, [r.timestamp_s for r in rows])
        _put_floats(out, [r.value for r in rows])
    _put(out, len(energies))
    for quantity, erows in energies.items():
        _put(out, name_id(quantity))
        _put_mask(out, times, [e.timestamp_s for e in erows])
        totals = [e.total_j for e in erows]
        _put_floats(out, totals)
        # the agent's own total is most often the stored total (offset 0): store the XOR of the two
        _put_ints(out, [_bits(e.agent_total_j) ^ _bits(t) for e, t in zip(erows, totals, strict=True)])
        _put_ints(out, [name_id(e.method) for e in erows])
    return zlib.compress(bytes(out), 9)


def decode_block(device: str, data: bytes, name: Callable[[int], str]) -> RawBlock:
    """The rows of one block; ``name`` gives the name of an id."""
    reader = _Reader(zlib.decompress(data))
    version = reader.get()
    if version != BLOCK_VERSION:
        raise ValueError(f"raw block version {version} is not known (this pue-agent knows {BLOCK_VERSION})")
    n = reader.get()
    times = _get_floats(reader, n) if n else []
    poll_times = _get_mask(reader, times)
    polls: list[PollRow] = []
    if poll_times:
        k = len(poll_times)
        oks, tenths, errors = reader.ints(k), reader.ints(k), reader.ints(k)
        polls = [
            PollRow(device, t, bool(ok), us / 1e4, None if err == 0 else name(err))
            for t, ok, us, err in zip(poll_times, oks, tenths, errors, strict=True)
        ]
    readings: list[ReadingRow] = []
    for _ in range(reader.get()):
        quantity, labels = name(reader.get()), name(reader.get())
        ts = _get_mask(reader, times)
        values = _get_floats(reader, len(ts))
        readings += [ReadingRow(device, quantity, labels, t, v) for t, v in zip(ts, values, strict=True)]
    energy: list[DeviceEnergyRow] = []
    for _ in range(reader.get()):
        quantity = name(reader.get())
        ts = _get_mask(reader, times)
        totals = _get_floats(reader, len(ts))
        xors = reader.ints(len(ts))
        methods = reader.ints(len(ts))
        energy += [
            DeviceEnergyRow(device, quantity, t, total, _float(_bits(total) ^ x), name(m))
            for t, total, x, m in zip(ts, totals, xors, methods, strict=True)
        ]
    return RawBlock(polls, readings, energy)
