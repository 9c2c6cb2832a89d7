"""A simulated SNMP device's UDP socket: bound when it starts (a taken port is an error there and then),
closed when it stops, so a stop and start in one event-loop turn answers again and leaks nothing."""

from __future__ import annotations

import asyncio
import gc
import socket
import warnings

import pytest

from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, V2cAuth
from twin.serve.responder import SimulatedAgent

pytestmark = pytest.mark.e2e
SYS_DESCR = "1.3.6.1.2.1.1.1.0"


async def _descr(port: int) -> object:
    client = PysnmpClient()
    try:
        target = SnmpTarget("127.0.0.1", port, V2cAuth("public"), timeout_s=2.0, retries=2)
        return (await client.get(target, [SYS_DESCR]))[0].value
    finally:
        await client.close()


def test_stop_then_start_in_one_turn_answers_again_and_leaks_no_socket() -> None:
    async def main() -> object:
        agent = SimulatedAgent("127.0.0.1", 0)
        agent.mib.set(SYS_DESCR, "octets", "twin")
        agent.start()
        agent.stop()  # before pysnmp's endpoint task ever ran
        agent.start()  # same port, same turn of the loop
        try:
            return await _descr(agent.port)
        finally:
            agent.close()

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always", ResourceWarning)
        answer = asyncio.run(main())
        gc.collect()
    assert answer in ("twin", b"twin")
    assert [w for w in caught if issubclass(w.category, ResourceWarning)] == []


def test_a_port_already_taken_raises_when_the_device_starts() -> None:
    async def main(port: int) -> None:
        SimulatedAgent("127.0.0.1", port).start()

    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as held:
        held.bind(("127.0.0.1", 0))
        with pytest.raises(OSError, match="in use"):
            asyncio.run(main(held.getsockname()[1]))
