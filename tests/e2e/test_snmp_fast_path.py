"""The v2c fast path end to end: over real UDP responders it reads exactly what the pysnmp path reads,
and fails the same way (same exception types, same error-status messages)."""

from __future__ import annotations

import asyncio
import os
import shutil
import socket
import subprocess
import sys
import time
from collections.abc import Awaitable, Callable, Iterator
from pathlib import Path
from typing import TypeVar

import pytest

from agent.devices.profiles import ProfileRegistry, load_profiles
from agent.devices.readings import DeviceReadout, read_device
from agent.devices.snmp.client import PysnmpClient
from agent.devices.snmp.detect import detect_profile
from agent.devices.snmp.fastpath import FAST_PATH_ENV
from agent.devices.snmp.seam import SnmpTarget, SnmpValue, V2cAuth, V3Auth
from agent.errors import SnmpAuthError, SnmpError, SnmpProtocolError, SnmpTimeoutError

TESTS = Path(__file__).resolve().parents[1]
sys.path.append(str(TESTS))
sys.path.append(str(TESTS / "faults"))
from netutil import free_port  # noqa: E402
from rawsnmp import RawSnmpResponder, integer, octets, serve, tlv, unsigned  # noqa: E402
from snmpsim_server import FIXTURES, snmpsim  # noqa: E402

pytestmark = pytest.mark.e2e
RECORDINGS = sorted(FIXTURES.glob("*.snmprec"))
T = TypeVar("T")


@pytest.fixture(scope="module")
def snmpsim_port() -> Iterator[int]:
    with snmpsim(RECORDINGS) as port:
        yield port


def _both(work: Callable[[PysnmpClient], Awaitable[T]]) -> tuple[T, T]:
    """Run ``work`` with the fast path on, then off, each on its own client and event loop."""

    async def run(fast: bool) -> T:
        client = PysnmpClient(fast_path=fast)
        try:
            result = await work(client)
            assert (client._fast_endpoint is not None) == fast  # the path under test was taken
            return result
        finally:
            await client.close()

    return asyncio.run(run(True)), asyncio.run(run(False))


def test_every_recording_reads_identically_on_both_paths(snmpsim_port: int) -> None:
    registry: ProfileRegistry = load_profiles()

    async def work(client: PysnmpClient) -> dict[str, tuple[str, DeviceReadout, list[SnmpValue]]]:
        # four devices at a time: snmpsim is one Python process, and with every recording's requests
        # in flight at once a busy machine (or a second pytest worker) left some unanswered for 3 x 5 s
        in_flight = asyncio.Semaphore(4)

        async def one(name: str) -> tuple[str, tuple[str, DeviceReadout, list[SnmpValue]]]:
            target = SnmpTarget("127.0.0.1", snmpsim_port, V2cAuth(name), timeout_s=10.0, retries=2)
            async with in_flight:
                profile = await detect_profile(client, target, registry)
                readout = await read_device(client, target, profile)
                system = await client.get(
                    target, ["1.3.6.1.2.1.1.1.0", "1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.3.0", "1.3.6.1.2.1.1.99.0"]
                )
            return name, (profile.name, readout, system)

        return dict(await asyncio.gather(*(one(p.stem) for p in RECORDINGS)))

    fast, slow = _both(work)
    assert fast == slow
    assert all(readout.readings for _name, readout, _system in fast.values())


def test_walks_of_every_recording_are_identical(snmpsim_port: int) -> None:
    """Whole subtrees, including OCTET STRING, OID, TimeTicks, Counter and end-of-MIB answers."""

    async def work(client: PysnmpClient) -> dict[str, dict[str, list[SnmpValue]]]:
        out = {}
        for path in RECORDINGS:
            target = SnmpTarget("127.0.0.1", snmpsim_port, V2cAuth(path.stem), timeout_s=10.0, retries=2)
            out[path.stem] = await client.walk(target, ["1.3.6.1.2.1", "1.3.6.1.4.1", "1.3.6.1.6"], 10)
        return out

    fast, slow = _both(work)
    assert fast == slow
    assert sum(len(v) for by_col in fast.values() for v in by_col.values()) > 500


def _raw(mib: dict[str, bytes], mode: str, work: Callable[[PysnmpClient, SnmpTarget], Awaitable[T]], fast: bool) -> T:
    responder = RawSnmpResponder("public", mib, mode)  # type: ignore[arg-type]

    async def main() -> T:
        port = free_port(socket.SOCK_DGRAM)
        transport = await serve("127.0.0.1", port, responder)
        client = PysnmpClient(fast_path=fast)
        try:
            return await work(client, SnmpTarget("127.0.0.1", port, V2cAuth("public"), 0.3, 1))
        finally:
            await client.close()
            transport.close()

    return asyncio.run(main())


MIB = {
    "1.3.6.1.4.1.9.1.1": integer(-7),
    "1.3.6.1.4.1.9.1.2": b"\x02\x00",  # ServerTech Sentry4: zero-length INTEGER
    "1.3.6.1.4.1.9.1.3": unsigned(2**64 - 1, 0x46),
    "1.3.6.1.4.1.9.1.4": octets(b"\x00\xff binary"),
    "1.3.6.1.4.1.9.1.5": tlv(0x40, bytes([10, 0, 0, 1])),
    "1.3.6.1.4.1.9.1.6": b"\x05\x00",
    "1.3.6.1.4.1.9.2.1": unsigned(4294967295, 0x42),
}


@pytest.mark.parametrize("fast", [True, False])
def test_raw_values_and_zero_length_integer(fast: bool) -> None:
    async def work(client: PysnmpClient, target: SnmpTarget) -> tuple[list[SnmpValue], dict[str, list[SnmpValue]]]:
        return (
            await client.get(target, [*MIB, "1.3.6.1.4.1.9.9.9"]),
            await client.walk(target, ["1.3.6.1.4.1.9.1", "1.3.6.1.4.1.9.2"], 3),
        )

    got = _raw(MIB, "serve", work, fast)
    expected = _raw(MIB, "serve", work, not fast)
    assert got == expected
    assert got[0][1] == SnmpValue("1.3.6.1.4.1.9.1.2", "malformed", None)
    assert got[0][-1].kind == "no_such_object"


@pytest.mark.parametrize("mode", ["garbage", "truncated", "wrong_request_id"])
def test_bad_answers_time_out_on_both_paths(mode: str) -> None:
    async def work(client: PysnmpClient, target: SnmpTarget) -> None:
        await client.get(target, ["1.3.6.1.4.1.9.1.1"])

    for fast in (True, False):
        with pytest.raises(SnmpTimeoutError):
            _raw(MIB, mode, work, fast)


def test_wrong_community_times_out_on_both_paths() -> None:
    async def work(client: PysnmpClient, target: SnmpTarget) -> None:
        await client.walk(SnmpTarget(target.host, target.port, V2cAuth("nope"), 0.3, 0), ["1.3.6.1.4.1.9"])

    for fast in (True, False):
        with pytest.raises(SnmpTimeoutError):
            _raw(MIB, "serve", work, fast)


def test_error_status_message_is_the_same_on_both_paths() -> None:
    class ErrorResponder(RawSnmpResponder):
        def answer(self, data: bytes) -> bytes | None:
            reply = super().answer(data)
            assert reply is not None
            return reply.replace(integer(0) + integer(0) + b"\x30", integer(2) + integer(1) + b"\x30", 1)

    messages = []
    for fast in (True, False):
        responder = ErrorResponder("public", MIB)

        async def main(fast: bool = fast, responder: RawSnmpResponder = responder) -> None:
            port = free_port(socket.SOCK_DGRAM)
            transport = await serve("127.0.0.1", port, responder)
            client = PysnmpClient(fast_path=fast)
            try:
                await client.get(SnmpTarget("127.0.0.1", port, V2cAuth("public"), 0.5, 0), ["1.3.6.1.4.1.9.1.1"])
            finally:
                await client.close()
                transport.close()

        with pytest.raises(SnmpProtocolError) as info:
            asyncio.run(main())
        messages.append(str(info.value).split(": ", 1)[1])
    assert messages[0] == messages[1] == "GET error-status noSuchName at index 1"


def test_switch_reads_the_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setenv(FAST_PATH_ENV, "0")
    assert PysnmpClient().fast_path is False
    monkeypatch.setenv(FAST_PATH_ENV, "1")
    assert PysnmpClient().fast_path is True
    assert PysnmpClient(fast_path=False).fast_path is False


def test_one_client_across_event_loops_and_close_with_requests_in_flight() -> None:
    """The CLI and tests reuse a client across ``asyncio.run`` calls: each loop gets its own socket, and
    closing with a request in flight fails it with an SnmpError instead of hanging."""
    client = PysnmpClient(fast_path=True)
    responder = RawSnmpResponder("public", MIB)

    async def read_once() -> list[SnmpValue]:
        port = free_port(socket.SOCK_DGRAM)
        transport = await serve("127.0.0.1", port, responder)
        try:
            return await client.get(SnmpTarget("127.0.0.1", port, V2cAuth("public"), 0.5, 0), ["1.3.6.1.4.1.9.1.1"])
        finally:
            transport.close()

    assert asyncio.run(read_once()) == asyncio.run(read_once()) == [SnmpValue("1.3.6.1.4.1.9.1.1", "integer", -7)]

    async def close_in_flight() -> None:
        silent = free_port(socket.SOCK_DGRAM)
        request = asyncio.ensure_future(
            client.get(SnmpTarget("127.0.0.1", silent, V2cAuth("public"), 5.0, 0), ["1.3.6.1.4.1.9.1.1"])
        )
        await asyncio.sleep(0.1)
        await client.close()
        with pytest.raises(SnmpProtocolError, match="closed"):
            await asyncio.wait_for(request, 2.0)

    asyncio.run(close_in_flight())


# --- SNMPv3 authPriv (snmpsim selects the recording by context name) ----------------------------
V3 = ("pue-fast", "fast-auth-key-01", "fast-priv-key-01")


@pytest.fixture(scope="module")
def snmpsim_v3_port() -> Iterator[int]:
    with snmpsim(RECORDINGS, v3_user=V3[0], v3_auth_key=V3[1], v3_priv_key=V3[2]) as port:
        yield port


def _v3(
    port: int, context: str, *, auth_key: str = V3[1], priv_key: str = V3[2], user: str = V3[0], timeout_s: float = 5.0
) -> SnmpTarget:
    return SnmpTarget("127.0.0.1", port, V3Auth(user, "sha256", auth_key, "aes128", priv_key, context), timeout_s, 1)


def test_v3_authpriv_reads_identically_on_both_paths(snmpsim_v3_port: int) -> None:
    registry = load_profiles()

    async def work(client: PysnmpClient) -> dict[str, tuple[str, DeviceReadout, dict[str, list[SnmpValue]]]]:
        async def one(name: str) -> tuple[str, tuple[str, DeviceReadout, dict[str, list[SnmpValue]]]]:
            target = _v3(snmpsim_v3_port, name)
            profile = await detect_profile(client, target, registry)
            walked = await client.walk(target, ["1.3.6.1.2.1.1", "1.3.6.1.2.1.2"], 7)
            return name, (profile.name, await read_device(client, target, profile), walked)

        return dict(await asyncio.gather(*(one(p.stem) for p in RECORDINGS)))

    fast, slow = _both(work)
    assert fast == slow
    assert all(readout.readings for _name, readout, _walked in fast.values())


@pytest.mark.parametrize(
    ("change", "error"),
    [
        ({"auth_key": "another-auth-key"}, SnmpAuthError),  # wrongDigest report
        ({"priv_key": "another-priv-key"}, SnmpAuthError),  # decryptionError report
        ({"user": "nobody"}, SnmpAuthError),  # unknownUserName report
    ],
)
def test_v3_refusals_raise_the_same_errors_on_both_paths(
    snmpsim_v3_port: int, change: dict[str, str], error: type[Exception]
) -> None:
    target = _v3(snmpsim_v3_port, RECORDINGS[0].stem, **change)  # type: ignore[arg-type]
    kinds = []
    for fast in (True, False):

        async def work(fast: bool = fast) -> None:
            client = PysnmpClient(fast_path=fast)
            try:
                await client.get(target, ["1.3.6.1.2.1.1.1.0"])
            finally:
                await client.close()

        with pytest.raises(SnmpError) as info:
            asyncio.run(work())
        kinds.append(type(info.value))
    assert kinds[0] is kinds[1] is error, kinds


def test_v3_silence_times_out_on_the_fast_path() -> None:
    async def work() -> None:
        client = PysnmpClient(fast_path=True)
        try:
            await client.get(_v3(free_port(socket.SOCK_DGRAM), "x", timeout_s=0.3), ["1.3.6.1.2.1.1.1.0"])
        finally:
            await client.close()

    with pytest.raises(SnmpTimeoutError):
        asyncio.run(work())


def test_v3_resynchronises_time_once(snmpsim_v3_port: int) -> None:
    """RFC 3414 4: an authentic notInTimeWindow report carries the engine's boots and time (resync, retry
    once)."""
    target = _v3(snmpsim_v3_port, RECORDINGS[0].stem)

    async def work() -> tuple[list[SnmpValue], list[SnmpValue], int]:
        client = PysnmpClient(fast_path=True)
        try:
            first = await client.get(target, ["1.3.6.1.2.1.1.2.0"])
            (peer,) = client._v3_peers.values()
            true_time_s = peer.time_s
            peer.time_s += 10_000  # far outside the 150 s window
            second = await client.get(target, ["1.3.6.1.2.1.1.2.0"])
            return first, second, peer.time_s - true_time_s
        finally:
            await client.close()

    first, second, drift_s = asyncio.run(work())
    assert first == second and first[0].kind == "oid"
    assert drift_s < 150


@pytest.fixture(scope="module")
def snmpd_v3_port(tmp_path_factory: pytest.TempPathFactory) -> Iterator[int]:
    """net-snmp's snmpd as a second, independent SNMPv3 agent (engine ID, reports, time window)."""
    snmpd = shutil.which("snmpd") or "/usr/sbin/snmpd"
    assert Path(snmpd).exists(), "net-snmp's snmpd missing: `make test` installs Debian's snmpd package"
    workdir = tmp_path_factory.mktemp("snmpd")
    port = free_port(socket.SOCK_DGRAM)
    conf = workdir / "snmpd.conf"
    conf.write_text(
        f"agentaddress udp:127.0.0.1:{port}\ncreateUser {V3[0]} SHA-256 {V3[1]} AES {V3[2]}\nrouser {V3[0]} priv\n"
    )
    proc = subprocess.Popen(
        [snmpd, "-f", "-Lf", str(workdir / "log"), "-C", "-c", str(conf), "-p", str(workdir / "pid")],
        env=dict(os.environ, SNMP_PERSISTENT_DIR=str(workdir), MIBS=""),
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
    )
    try:
        time.sleep(1.0)
        assert proc.poll() is None, (workdir / "log").read_text()
        yield port
    finally:
        proc.terminate()
        proc.wait(timeout=10)


def test_v3_against_netsnmp_rediscovers_a_changed_engine(snmpd_v3_port: int) -> None:
    """An unknownEngineID report (the agent's engine changed under us) means discover again, once."""
    target = _v3(snmpd_v3_port, "")

    async def work(client: PysnmpClient) -> list[list[SnmpValue]]:
        first = await client.get(target, ["1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.99.0"])
        if client.fast_path:
            (peer,) = client._v3_peers.values()
            real_engine_id, peer.engine_id = peer.engine_id, b"\x80\x00\x1f\x88\x04stale-engine"
        second = await client.get(target, ["1.3.6.1.2.1.1.2.0", "1.3.6.1.2.1.1.99.0"])
        if client.fast_path:
            assert [p.engine_id for p in client._v3_peers.values()] == [real_engine_id]
        return [first, second]

    fast, slow = _both(work)
    assert fast == slow and fast[0] == fast[1] and fast[0][1].missing


def test_v3_unknown_user_against_netsnmp_is_an_auth_error_on_both_paths(snmpd_v3_port: int) -> None:
    async def work(client: PysnmpClient) -> None:
        await client.get(_v3(snmpd_v3_port, "", user="nobody", timeout_s=1.0), ["1.3.6.1.2.1.1.2.0"])

    for fast in (True, False):

        async def run(fast: bool = fast) -> None:
            client = PysnmpClient(fast_path=fast)
            try:
                await work(client)
            finally:
                await client.close()

        with pytest.raises(SnmpAuthError):
            asyncio.run(run())
