"""The SNMP client: the :class:`~agent.devices.snmp.seam.SnmpClient` every device is read and written through.

Library errors become :mod:`agent.errors` exceptions here, with ``raise ... from err``. End-to-end tests use
:class:`PysnmpClient` against real responders.

Implementation notes (see shared reference "ecosystem"):
- the GET/GETBULK hot loop skips pysnmp for v2c and for v3 authPriv with AES (when the auth digest
  is at least the AES key long): :mod:`agent.devices.snmp.fastpath` (on the wire codec,
  :mod:`agent.devices.snmp.wire`). v1, DES/3DES, authNoPriv, IPv6, SET and non-Latin-1 credentials stay on
  pysnmp (:mod:`agent.devices.snmp.pysnmp_path`, imported at the first such request: pysnmp takes about
  0.4 s to import, which a `pue-agent read` over v2c never needs); ``PysnmpClient(fast_path=False)`` or
  ``PUE_AGENT_SNMP_FAST=0`` turns the fast path off;
- GETs batched (``max_oids_per_get``); table columns fetched together with GETBULK and each
  column stops at the edge of its own subtree.
"""

from __future__ import annotations

import asyncio
from collections.abc import Sequence
from typing import TYPE_CHECKING, cast

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.fastpath import FastPath
from agent.devices.snmp.seam import SnmpTarget, SnmpValue, ValueKind, oid_tuple
from agent.errors import SnmpProtocolError

if TYPE_CHECKING:
    from agent.devices.snmp.pysnmp_path import PysnmpSession

__all__ = ["PysnmpClient"]


def _from_wire(var_binds: list[snmp_wire.WireValue]) -> list[SnmpValue]:
    return [SnmpValue(oid, cast(ValueKind, kind), value) for oid, kind, value in var_binds]


def _error_status_text(status: int) -> str:
    """The error-status as pysnmp prints it (``noSuchName``; the number when RFC 3416 names none)."""
    from agent.devices.snmp.pysnmp_path import error_status_text

    return error_status_text(status)


class PysnmpClient(FastPath):
    """:class:`~agent.devices.snmp.seam.SnmpClient` on the fast path, else pysnmp 7's asyncio API (one engine per loop).

    GET and GETBULK over v2c and v3 authPriv/AES take the fast path (:mod:`agent.devices.snmp.fastpath`) unless
    ``fast_path`` is False (default: :func:`fast_path_default`); everything else goes through pysnmp
    (:mod:`agent.devices.snmp.pysnmp_path`), loaded at its first request.
    """

    def __init__(self, max_oids_per_get: int = 30, max_concurrency: int = 64, fast_path: bool | None = None) -> None:
        self._max_oids_per_get = max_oids_per_get
        self._semaphore = asyncio.Semaphore(max_concurrency)
        self._rows_seen: dict[tuple[str, int, tuple[str, ...]], int] = {}
        self._session: PysnmpSession | None = None
        super().__init__(fast_path)

    def _pysnmp(self) -> PysnmpSession:
        if self._session is None:
            from agent.devices.snmp.pysnmp_path import PysnmpSession

            self._session = PysnmpSession(self._foreign, self._semaphore)
        return self._session

    # --- one request, either path --------------------------------------------------------------
    async def _get_chunk(self, target: SnmpTarget, chunk: Sequence[str]) -> list[SnmpValue]:
        route = await self._fast_route(target)
        if route is not None:
            async with self._semaphore:
                status, index, var_binds = await self._fast_request(target, route, snmp_wire.GET_TAG, chunk, 0)
            if status:
                raise SnmpProtocolError(
                    f"{target.host}:{target.port}: GET error-status {_error_status_text(status)} at index {index}"
                )
            return _from_wire(var_binds)
        return await self._pysnmp().get(target, chunk)

    async def _bulk(self, target: SnmpTarget, oids: Sequence[str], repetitions: int) -> list[SnmpValue]:
        route = await self._fast_route(target)
        if route is not None:
            async with self._semaphore:
                status, _index, var_binds = await self._fast_request(
                    target, route, snmp_wire.GETBULK_TAG, oids, repetitions
                )
            if status:
                raise SnmpProtocolError(
                    f"{target.host}:{target.port}: GETBULK error-status {_error_status_text(status)}"
                )
            return _from_wire(var_binds)
        return await self._pysnmp().bulk(target, oids, repetitions)

    async def get(self, target: SnmpTarget, oids: Sequence[str]) -> list[SnmpValue]:
        out: list[SnmpValue] = []
        for start in range(0, len(oids), self._max_oids_per_get):
            out.extend(await self._get_chunk(target, oids[start : start + self._max_oids_per_get]))
        return out

    async def walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[SnmpValue]]:
        result: dict[str, list[SnmpValue]] = {c: [] for c in columns}
        cursor = {c: c for c in columns}  # last OID seen per unfinished column
        # Ask for as many repetitions as this table had rows last time (+1 to see its end), not a
        # fixed 25: every surplus var-bind costs decoding time (about 60 us each through pyasn1).
        size_key = (target.host, target.port, tuple(columns))
        repetitions = min(max_repetitions, self._rows_seen.get(size_key, max_repetitions) + 1)
        while cursor:
            pending = list(cursor)
            flat = await self._bulk(target, [cursor[c] for c in pending], repetitions)
            if not flat:
                break
            done: set[str] = set()
            width = len(pending)
            for i, value in enumerate(flat):
                col = pending[i % width]
                if col in done:
                    continue
                if value.kind == "end_of_mib_view" or not value.oid.startswith(col + "."):
                    done.add(col)
                    continue
                # both share the column's prefix: comparing the index parts is enough (and cheap)
                if oid_tuple(value.oid[len(col) + 1 :]) <= oid_tuple(cursor[col][len(col) + 1 :]):
                    raise SnmpProtocolError(f"{target.host}:{target.port}: OID not increasing at {value.oid}")
                result[col].append(value)
                cursor[col] = value.oid
            for col in done:
                cursor.pop(col, None)
            if len(flat) < width:  # truncated response: avoid spinning
                break
            repetitions = max_repetitions  # a table that grew: continue at full size
        self._rows_seen[size_key] = max((len(v) for v in result.values()), default=0)
        return result

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        return await self._pysnmp().set(target, oid, value)

    async def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._close_fast_endpoint()
