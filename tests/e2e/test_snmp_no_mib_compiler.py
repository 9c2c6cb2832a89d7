"""The pysnmp path (SET, and GETs the fast path does not serve) must never build pysmi's MIB compiler.

pysnmp builds one the first time it resolves a var-bind unless its MIB view already has a compiler:
a LALR parser costing ~0.8-1.4 s of CPU on the event loop (measured with an event-loop lag probe: the
first SET stalled the loop 0.77 s, and polls with a 0.5 s timeout in flight at that moment timed out,
reverting the guarded writes in CI), and a compiler that may try to download MIBs. pue-agent names
numeric OIDs only, so the adapter gives the engine a compiler that compiles nothing.
"""

from __future__ import annotations

import asyncio
import socket
import sys
from pathlib import Path

import pytest

from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.seam import SnmpTarget, V2cAuth
from agent.errors import SnmpTimeoutError

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

pytestmark = pytest.mark.e2e


def test_first_pysnmp_get_and_set_never_build_a_mib_compiler(monkeypatch: pytest.MonkeyPatch) -> None:
    import pysnmp.smi.compiler

    built: list[str] = []

    class Tripwire:
        def __init__(self, *args: object, **kwargs: object) -> None:
            built.append("MibCompiler")
            raise AssertionError("pysnmp built a MIB compiler")

    monkeypatch.setattr(pysnmp.smi.compiler, "MibCompiler", Tripwire)
    silent = SnmpTarget("127.0.0.1", free_port(socket.SOCK_DGRAM), V2cAuth("private"), 0.2, 0)

    async def main() -> list[str]:
        client = PysnmpClient(fast_path=False)
        outcomes = []
        try:
            for op in (client.get(silent, ["1.3.6.1.2.1.1.1.0"]), client.set(silent, "1.3.6.1.2.1.1.5.0", 1)):
                try:
                    await op
                except SnmpTimeoutError:
                    outcomes.append("timeout")  # what a silent port gives once the request went out
        finally:
            await client.close()
        return outcomes

    assert asyncio.run(main()) == ["timeout", "timeout"]
    assert built == []
