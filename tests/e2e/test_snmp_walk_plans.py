"""The SNMP client's per-poll shortcuts (issue 17), over a real UDP responder: walk plans (an answer shaped like one
already checked is split without checking each var-bind again) and fast-path routes remembered per target."""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from agent.devices.snmp import fastpath
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, SnmpValue, V2cAuth

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
sys.path.append(str(TESTS / "faults"))
from netutil import free_port  # noqa: E402
from rawsnmp import RawSnmpResponder, integer, serve  # noqa: E402

pytestmark = pytest.mark.e2e


def test_a_walk_plan_splits_only_answers_of_the_same_shape() -> None:
    """A walk answered in one request leaves a plan (which value goes to which column) for the next answer with
    the same OIDs and kinds (issue 17: the per-var-bind checks cost a tenth of a poll); new values go through it,
    and an answer of another shape (a row more, a row fewer, an object gone) is checked and split afresh."""
    table = "1.3.6.1.4.1.9.3"
    columns = [f"{table}.1.{c}" for c in (1, 2)]
    mib = {f"{table}.1.{c}.{row}": integer(10 * c + row) for c in (1, 2) for row in (1, 2)}
    mib["1.3.6.1.4.1.9.4.0"] = integer(99)  # beyond the table: each column's walk ends on it
    responder = RawSnmpResponder("public", mib)

    def values(answer: dict[str, list[SnmpValue]]) -> dict[str, list[tuple[str, object]]]:
        return {col: [(v.oid, v.value) for v in vs] for col, vs in answer.items()}

    async def main() -> list[dict[str, list[tuple[str, object]]]]:
        port = free_port(socket.SOCK_DGRAM)
        transport = await serve("127.0.0.1", port, responder)
        client = PysnmpClient(fast_path=True)
        target = SnmpTarget("127.0.0.1", port, V2cAuth("public"), 0.5, 1)
        seen = []
        try:
            seen.append(values(await client.walk(target, columns, 5)))  # sizes the table: 2 rows + 1
            seen.append(values(await client.walk(target, columns, 5)))  # leaves the plan for 2 rows + 1
            plans = dict(client._walk_plans)
            mib[f"{table}.1.1.1"] = integer(-5)  # new values, same shape: through the plan
            seen.append(values(await client.walk(target, columns, 5)))
            assert client._walk_plans == plans
            mib[f"{table}.1.1.3"] = integer(13)  # a row more in one column: checked afresh
            mib[f"{table}.1.2.3"] = integer(23)
            seen.append(values(await client.walk(target, columns, 5)))
            del mib[f"{table}.1.2.1"]  # an object gone from the second column
            seen.append(values(await client.walk(target, columns, 5)))
            return seen
        finally:
            await client.close()
            transport.close()

    first, again, changed, grown, shrunk = asyncio.run(main())
    assert first == again == {columns[0]: [(f"{table}.1.1.1", 11), (f"{table}.1.1.2", 12)],
                              columns[1]: [(f"{table}.1.2.1", 21), (f"{table}.1.2.2", 22)]}  # fmt: skip
    assert changed[columns[0]][0] == (f"{table}.1.1.1", -5)
    assert [oid for oid, _ in grown[columns[0]]] == [f"{table}.1.1.{r}" for r in (1, 2, 3)]
    assert [oid for oid, _ in grown[columns[1]]] == [f"{table}.1.2.{r}" for r in (1, 2, 3)]
    assert [oid for oid, _ in shrunk[columns[1]]] == [f"{table}.1.2.{r}" for r in (2, 3)]
    assert [oid for oid, _ in shrunk[columns[0]]] == [f"{table}.1.1.{r}" for r in (1, 2, 3)]


def test_routes_are_remembered_per_target_object() -> None:
    """_fast_route remembers each target object's route (issue 17); a target with other credentials at the same
    address gets its own, and the table is bounded."""

    async def main() -> None:
        client = PysnmpClient(fast_path=True)
        try:
            a = SnmpTarget("127.0.0.1", 161, V2cAuth("public"))
            b = SnmpTarget("127.0.0.1", 161, V2cAuth("private"))
            v1 = SnmpTarget("127.0.0.1", 161, V2cAuth("public", version="1"))
            assert await client._fast_route(a) == (b"public", ("127.0.0.1", 161))
            assert await client._fast_route(a) is await client._fast_route(a)
            assert await client._fast_route(b) == (b"private", ("127.0.0.1", 161))
            assert await client._fast_route(v1) is None  # SNMPv1 stays with pysnmp
            for port in range(fastpath._MAX_ROUTES + 1):
                await client._fast_route(SnmpTarget("127.0.0.1", port, V2cAuth("public")))
            assert len(client._routes) <= fastpath._MAX_ROUTES
        finally:
            await client.close()

    asyncio.run(main())
