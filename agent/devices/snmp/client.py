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
from collections.abc import Callable, Sequence
from functools import partial
from operator import itemgetter
from typing import TYPE_CHECKING

from agent.devices.snmp import wire as snmp_wire
from agent.devices.snmp.fastpath import MAX_REMEMBERED, FastPath
from agent.devices.snmp.seam import SnmpTarget, SnmpValue, oid_tuple
from agent.errors import SnmpProtocolError

if TYPE_CHECKING:
    from agent.devices.snmp.pysnmp_path import PysnmpSession

__all__ = ["PysnmpClient"]


#: the codec's ``(oid, kind, value)`` tuple as an :class:`SnmpValue`, at C speed (no Python ``__new__`` per var-bind)
_as_value: Callable[[snmp_wire.WireValue], SnmpValue] = partial(tuple.__new__, SnmpValue)
_oid_of, _kind_of = itemgetter(0), itemgetter(1)

#: walk plans remembered (:meth:`PysnmpClient._walk`); all are forgotten when there are more
_MAX_PLANS = 1024


def _from_wire(var_binds: list[snmp_wire.WireValue]) -> list[SnmpValue]:
    return list(map(_as_value, var_binds))


_Pick = Callable[[list[SnmpValue]], list[SnmpValue]]


def _picker(indices: Sequence[int]) -> _Pick:
    """A function taking the values at ``indices`` of an answer, as a list."""
    if not indices:
        return lambda _flat: []
    if len(indices) == 1:
        only = indices[0]
        return lambda flat: [flat[only]]
    getter = itemgetter(*indices)
    return lambda flat: list(getter(flat))


def _error_status_text(status: int) -> str:
    """The error-status as pysnmp prints it (``noSuchName``; the number when RFC 3416 names none)."""
    from agent.devices.snmp.pysnmp_path import error_status_text

    return error_status_text(status)


class _WalkState:
    """Where one walk stands: the last OID seen per unfinished column, its index part as integers, and the
    repetitions to ask for next (None: as many as the first request)."""

    __slots__ = ("cursor", "last_index", "repetitions")

    def __init__(self, columns: Sequence[str]) -> None:
        self.cursor = {c: c for c in columns}
        self.last_index: dict[str, tuple[int, ...]] = {c: () for c in columns}
        self.repetitions: int | None = None


def _take(
    target: SnmpTarget,
    state: _WalkState,
    pending: list[str],
    flat: list[SnmpValue],
    result: dict[str, list[SnmpValue]],
    taken: dict[str, list[int]] | None = None,
    offset: int = 0,
) -> bool:
    """Put one answer's values in their columns, checked (in the column's subtree, increasing; ``taken`` gets
    their positions in the answer): True when the walk is over (every column ended, or the answer was empty or
    short, which would spin)."""
    cursor, last_index = state.cursor, state.last_index
    done: set[str] = set()
    width = len(pending)
    for i, value in enumerate(flat):
        col = pending[i % width]
        if col in done:
            continue
        oid = value.oid
        if value.kind == "end_of_mib_view" or not oid.startswith(col + "."):
            done.add(col)
            continue
        # both share the column's prefix: comparing the index parts is enough (each parsed once)
        index = oid_tuple(oid[len(col) + 1 :])
        if index <= last_index[col]:
            raise SnmpProtocolError(f"{target.host}:{target.port}: OID not increasing at {oid}")
        last_index[col] = index
        result[col].append(value)
        if taken is not None:
            taken[col].append(offset + i)
        cursor[col] = oid
    for col in done:
        cursor.pop(col, None)
    return not flat or not cursor or len(flat) < width


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
        #: devices that answered a GETBULK with non-repeaters with an error-status: read with separate requests
        self._no_fold: set[tuple[str, int]] = set()
        #: (columns, riders, OIDs and kinds of a first answer) -> how to split it (:meth:`_walk`)
        self._walk_plans: dict[tuple[object, ...], tuple[list[tuple[str, _Pick]], int]] = {}
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

    async def _bulk(
        self, target: SnmpTarget, oids: Sequence[str], repetitions: int, non_repeaters: int = 0
    ) -> list[SnmpValue]:
        route = await self._fast_route(target)
        if non_repeaters and route is None:
            raise AssertionError("non-repeaters are sent on the fast path only")
        if route is not None:
            async with self._semaphore:
                status, _index, var_binds = await self._fast_request(
                    target, route, snmp_wire.GETBULK_TAG, oids, repetitions, non_repeaters
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

    async def get_and_walk(
        self, target: SnmpTarget, scalars: Sequence[str], columns: Sequence[str], max_repetitions: int = 25
    ) -> tuple[list[SnmpValue], dict[str, list[SnmpValue]]]:
        """:meth:`get` of ``scalars`` and :meth:`walk` of ``columns``, in one GETBULK where it can (a poll is then
        one datagram each way, not two).

        On the fast path, scalars whose OID ends in ``.0`` ride in the walk's first GETBULK as non-repeaters
        (RFC 3416 4.2.3): the GETNEXT of ``x`` is ``x.0`` when the device has the object. An answer with any
        other OID (the object is absent, or the agent orders its OIDs oddly) is asked again with a GET, so the
        values are exactly :meth:`get`'s. A device that refuses the combined request (an error-status) is read
        with separate requests from then on.
        """
        riders = [oid for oid in scalars if oid.endswith(".0")][: self._max_oids_per_get]
        if not riders or not columns or (target.host, target.port) in self._no_fold:
            return await self.get(target, scalars), await self.walk(target, columns, max_repetitions)
        if await self._fast_route(target) is None:
            return await self.get(target, scalars), await self.walk(target, columns, max_repetitions)
        try:
            result, answers = await self._walk(target, columns, max_repetitions, riders)
        except SnmpProtocolError as err:
            if "error-status" not in str(err):
                raise
            if len(self._no_fold) >= 4 * MAX_REMEMBERED:
                self._no_fold.clear()
            self._no_fold.add((target.host, target.port))
            return await self.get(target, scalars), await self.walk(target, columns, max_repetitions)
        wanted = set(riders)
        found = {value.oid: value for value in answers if value.oid in wanted and not value.missing}
        missing = [oid for oid in scalars if oid not in found]
        if missing:
            for value in await self.get(target, missing):
                found[value.oid] = value
        return [found[oid] for oid in scalars], result

    async def walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int = 25
    ) -> dict[str, list[SnmpValue]]:
        return (await self._walk(target, columns, max_repetitions, ()))[0]

    async def _walk(
        self, target: SnmpTarget, columns: Sequence[str], max_repetitions: int, riders: Sequence[str]
    ) -> tuple[dict[str, list[SnmpValue]], list[SnmpValue]]:
        """The walk, with ``riders`` (scalar ``x.0`` OIDs) asked as non-repeaters in its first request: (the
        columns, the riders' answers as they came: one per rider, or fewer if the answer was cut short).

        A walk answered in one request leaves a plan: which values of the answer went to which column. The
        next answer with the same OIDs and kinds in the same order (a device polled again, or another of the
        same model) is split by the plan: the checks below gave their verdict on exactly those OIDs already.
        """
        # Ask for as many repetitions as this table had rows last time (+1 to see its end), not a
        # fixed 25: every surplus var-bind costs decoding time (about 60 us each through pyasn1).
        size_key = (target.host, target.port, tuple(columns))
        repetitions = min(max_repetitions, self._rows_seen.get(size_key, max_repetitions) + 1)
        n_riders = len(riders)
        if n_riders:
            asked = [oid[:-2] for oid in riders]  # "x.0" -> "x": its GETNEXT is x.0
            first = await self._bulk(target, asked + list(columns), repetitions, n_riders)
        else:
            first = await self._bulk(target, list(columns), repetitions)
        shape = (size_key[2], n_riders, tuple(map(_oid_of, first)), tuple(map(_kind_of, first)))
        plan = self._walk_plans.get(shape)
        if plan is not None:
            picks, self._rows_seen[size_key] = plan
            return {col: pick(first) for col, pick in picks}, first[:n_riders]
        result, rider_answers, rest = self._split_walk(target, columns, max_repetitions, first, n_riders)
        if isinstance(rest, _WalkState):
            if rest.repetitions is None:  # only the riders answered: the columns at the same size
                rest.repetitions = repetitions
            await self._walk_on(target, rest, result, max_repetitions)
        rows = self._rows_seen[size_key] = max((len(v) for v in result.values()), default=0)
        if not isinstance(rest, _WalkState):
            if len(self._walk_plans) >= _MAX_PLANS:
                self._walk_plans.clear()
            self._walk_plans[shape] = ([(col, _picker(rest[col])) for col in columns], rows)
        return result, rider_answers

    def _split_walk(
        self,
        target: SnmpTarget,
        columns: Sequence[str],
        max_repetitions: int,
        first: list[SnmpValue],
        n_riders: int,
    ) -> tuple[dict[str, list[SnmpValue]], list[SnmpValue], _WalkState | dict[str, list[int]]]:
        """The first answer of a walk checked and split: (columns so far, riders' answers, and either the
        index in ``first`` of each column's values, when this answer ended every column, or where to go on)."""
        result: dict[str, list[SnmpValue]] = {c: [] for c in columns}
        state = _WalkState(columns)
        flat = first[n_riders:]
        if n_riders and not flat:
            return result, first[:n_riders], state  # the answer stopped after the scalars: ask the columns alone
        taken: dict[str, list[int]] = {c: [] for c in columns}
        if _take(target, state, list(columns), flat, result, taken, n_riders):
            return result, first[:n_riders], taken
        state.repetitions = max_repetitions  # a table that grew: continue at full size
        return result, first[:n_riders], state

    async def _walk_on(
        self, target: SnmpTarget, state: _WalkState, result: dict[str, list[SnmpValue]], max_repetitions: int
    ) -> None:
        """The rest of a walk whose first answer did not end every column (or held only the riders)."""
        while state.cursor:
            pending = list(state.cursor)
            flat = await self._bulk(target, [state.cursor[c] for c in pending], state.repetitions or max_repetitions)
            if _take(target, state, pending, flat, result):
                break
            state.repetitions = max_repetitions  # a table that grew: continue at full size

    async def set(self, target: SnmpTarget, oid: str, value: int) -> SnmpValue:
        return await self._pysnmp().set(target, oid, value)

    async def close(self) -> None:
        if self._session is not None:
            self._session.close()
        self._close_fast_endpoint()
