"""The metrics/API endpoint against hostile clients, over real sockets on 127.0.0.1: slow-header
(slowloris) connections, bad ``Content-Length``, chunked and oversized bodies, deeply nested JSON and
over-long basic-auth passwords (issue 19, defect 6)."""

from __future__ import annotations

import base64
import json
import socket
import ssl
import sys
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import bcrypt
import pytest
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import CollectorRegistry
from pydantic import SecretStr

from agent.app.http import ApiHandlers, HttpLimits
from agent.app.security import make_http_server
from agent.config.web import TlsServerConfig, WebConfig

sys.path.append(str(Path(__file__).resolve().parent))
from certs import Pki, make_pki

USER, PASSWORD = "prometheus", "correct horse battery staple"
HASH = bcrypt.hashpw(PASSWORD.encode(), bcrypt.gensalt(rounds=4)).decode()
#: the short request deadline the tests configure [s]; every wait below is a generous multiple of it
TIMEOUT_S = 1.5
PATHS = [
    "/",
    "/metrics",
    "/api/v1/recommendation",
    "/api/v1/actions",
    "/api/v1/recommendation/approve",
    "/no/such/path",
]


class _One:
    def collect(self):  # type: ignore[no-untyped-def]
        g = GaugeMetricFamily("pue_test_value", "test")
        g.add_metric([], 42.0)
        yield g


def _api() -> ApiHandlers:
    api = ApiHandlers()
    api.recommendation = lambda: {"id": 1}
    api.approve = lambda payload: {"ok": True, "payload": payload}
    api.actions = list
    return api


def _serve(web: WebConfig | None = None, api: ApiHandlers | None = None, **limits: Any) -> Iterator[tuple[str, int]]:
    registry = CollectorRegistry(auto_describe=False)
    registry.register(_One())  # type: ignore[arg-type]
    server = make_http_server(registry, api or _api(), web, HttpLimits(**{"request_timeout_s": TIMEOUT_S, **limits}))
    addr = server.start("127.0.0.1", 0)
    try:
        yield addr
    finally:
        server.stop()


@pytest.fixture
def addr() -> Iterator[tuple[str, int]]:
    yield from _serve()


@pytest.fixture(scope="module")
def pki(tmp_path_factory: pytest.TempPathFactory) -> Pki:
    return make_pki(tmp_path_factory.mktemp("pki"))


def _exchange(
    addr: tuple[str, int], raw: bytes, *, timeout_s: float = 10.0, ctx: ssl.SSLContext | None = None
) -> tuple[int, dict[str, str], bytes]:
    """Send ``raw`` as is and read the whole answer: (status, headers, body)."""
    sock = socket.create_connection(addr, timeout=timeout_s)
    with sock if ctx is None else ctx.wrap_socket(sock, server_hostname=addr[0]) as conn:
        conn.sendall(raw)
        data = b""
        while chunk := conn.recv(65536):
            data += chunk
    head, _, body = data.partition(b"\r\n\r\n")
    lines = head.decode("latin-1").split("\r\n")
    headers = dict(line.split(": ", 1) for line in lines[1:] if ": " in line)
    return int(lines[0].split()[1]), headers, body


def _get(
    addr: tuple[str, int],
    path: str = "/metrics",
    *,
    ctx: ssl.SSLContext | None = None,
    auth: str | None = None,
    timeout_s: float = 10.0,
) -> tuple[int, bytes]:
    extra = f"Authorization: Basic {auth}\r\n" if auth else ""
    raw = f"GET {path} HTTP/1.1\r\nHost: x\r\n{extra}Connection: close\r\n\r\n".encode()
    status, _, body = _exchange(addr, raw, ctx=ctx, timeout_s=timeout_s)
    return status, body


def _post(
    addr: tuple[str, int], body: bytes, path: str = "/api/v1/recommendation/approve", headers: str | None = None
) -> tuple[int, dict[str, str], bytes]:
    if headers is None:
        headers = f"Content-Type: application/json\r\nContent-Length: {len(body)}\r\n"
    raw = f"POST {path} HTTP/1.1\r\nHost: x\r\n{headers}Connection: close\r\n\r\n".encode() + body
    return _exchange(addr, raw)


def _slow_headers(addr: tuple[str, int], n: int) -> list[socket.socket]:
    """``n`` connections that send half a request line and then nothing (slowloris)."""
    socks = []
    for _ in range(n):
        sock = socket.create_connection(addr, timeout=10)
        sock.sendall(b"GET /metrics HTTP/1.1\r\nHost: x\r\nX-Slow: ")
        socks.append(sock)
    return socks


def _closed_by_server(sock: socket.socket, deadline: float) -> bool:
    """True once the server closed ``sock`` (EOF, or a response and then EOF, or a reset)."""
    sock.settimeout(max(0.01, deadline - time.monotonic()))
    try:
        while sock.recv(4096):
            pass
    except TimeoutError:
        return False
    except ConnectionResetError:
        return True
    return True


def _rss_bytes() -> int:
    with open("/proc/self/statm") as f:
        return int(f.read().split()[1]) * 4096


def _json_error(body: bytes) -> str:
    text = body.decode()
    assert text.count("\n") <= 1 and "Traceback" not in text, text
    return str(json.loads(text)["error"])


def test_slow_header_connections_hold_no_handler_and_are_closed() -> None:
    timeout_s = 4.0  # long enough to tell "served beside them" from "served once they timed out"
    for addr in _serve(request_timeout_s=timeout_s):
        socks = _slow_headers(addr, 60)
        try:
            # Prometheus's scrape is served while all 60 are held open (the handler cap is far below 60)
            started = time.monotonic()
            status, body = _get(addr, timeout_s=10)
            assert status == 200 and b"pue_test_value 42.0" in body
            assert time.monotonic() - started < timeout_s, "answered only after the slow connections timed out"
            for path in PATHS[:4]:
                assert _get(addr, path)[0] == 200
            # and the server hangs up on every slow connection after its request deadline
            deadline = time.monotonic() + timeout_s + 20
            still_open = [s for s in socks if not _closed_by_server(s, deadline)]
            assert not still_open, f"{len(still_open)} of 60 slow connections still open after {timeout_s + 20} s"
        finally:
            for s in socks:
                s.close()
        assert _get(addr)[0] == 200


def test_slow_body_is_closed_after_the_deadline(addr: tuple[str, int]) -> None:
    with socket.create_connection(addr, timeout=10) as sock:
        sock.sendall(b"POST /api/v1/recommendation/approve HTTP/1.1\r\nHost: x\r\nContent-Length: 100\r\n\r\n{")
        assert _closed_by_server(sock, time.monotonic() + TIMEOUT_S + 20)


def test_tls_handshake_never_sent_is_closed_and_metrics_still_served(pki: Pki) -> None:
    web = WebConfig(tls_server_config=TlsServerConfig(cert_file=pki.server_cert, key_file=pki.server_key))
    ctx = ssl.create_default_context(cafile=str(pki.ca_cert))
    for addr in _serve(web):
        silent = [socket.create_connection(addr, timeout=10) for _ in range(40)]
        try:
            assert _get(addr, ctx=ctx)[0] == 200
            deadline = time.monotonic() + TIMEOUT_S + 20
            assert all(_closed_by_server(s, deadline) for s in silent)
        finally:
            for s in silent:
                s.close()


def test_handler_threads_are_capped_and_excess_gets_503() -> None:
    release = threading.Event()
    entered = threading.Semaphore(0)

    def slow_recommendation() -> dict[str, Any]:
        entered.release()
        release.wait(30)
        return {"id": 1}

    api = _api()
    api.recommendation = slow_recommendation
    for addr in _serve(api=api, max_handlers=2):
        results: list[int] = []

        def ask(addr: tuple[str, int] = addr, results: list[int] = results) -> None:
            results.append(_get(addr, "/api/v1/recommendation")[0])

        threads = [threading.Thread(target=ask) for _ in range(2)]
        for t in threads:
            t.start()
        assert entered.acquire(timeout=10) and entered.acquire(timeout=10)
        # both handlers are busy: the next requests are refused at once, not queued without bound
        status, body = _get(addr)
        assert status == 503, body
        release.set()
        for t in threads:
            t.join(10)
        assert results == [200, 200]
        assert _get(addr)[0] == 200


@pytest.mark.parametrize("path", PATHS)
@pytest.mark.parametrize(
    ("length", "status"),
    [("-1", 400), ("abc", 400), ("1e3", 400), (" ", 400), (str(10**12), 413), ("65537", 413), ("5, 6", 400)],
)
def test_bad_content_length_is_refused_before_the_body(
    addr: tuple[str, int], path: str, length: str, status: int
) -> None:
    sock = socket.create_connection(addr, timeout=10)
    with sock:
        sock.sendall(f"POST {path} HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode())
        # answered without waiting for any body
        head = sock.recv(65536)
    assert head.startswith(f"HTTP/1.0 {status} ".encode()) or head.startswith(f"HTTP/1.1 {status} ".encode()), head


@pytest.mark.parametrize("length", ["-1", "abc", str(10**12)])
def test_streaming_after_bad_content_length_does_not_grow_memory(addr: tuple[str, int], length: str) -> None:
    before = _rss_bytes()
    sock = socket.create_connection(addr, timeout=10)
    with sock:
        sock.sendall(
            f"POST /api/v1/recommendation/approve HTTP/1.1\r\nHost: x\r\nContent-Length: {length}\r\n\r\n".encode()
        )
        chunk, sent = b"[" * (1 << 20), 0
        try:
            while sent < 200 << 20:  # 200 MB
                sock.sendall(chunk)
                sent += len(chunk)
        except OSError:
            pass  # the server hung up: what we want
        sock.settimeout(5)
        try:
            head = sock.recv(65536)
        except OSError:
            head = b""
    grown_mb = (_rss_bytes() - before) / 1e6
    assert grown_mb < 40, f"RSS grew {grown_mb:.0f} MB after {sent / 1e6:.0f} MB sent ({head[:40]!r})"
    assert sent < 200 << 20, "the server read the whole 200 MB body"
    assert _get(addr)[0] == 200


def test_chunked_body_is_refused(addr: tuple[str, int]) -> None:
    status, _, body = _post(addr, b"2\r\n{}\r\n0\r\n\r\n", headers="Transfer-Encoding: chunked\r\n")
    assert status == 411 and "Content-Length" in _json_error(body)


def test_huge_headers_are_refused(addr: tuple[str, int]) -> None:
    status, _, _ = _exchange(addr, b"GET /metrics HTTP/1.1\r\nX-Big: " + b"a" * 100_000 + b"\r\n\r\n")
    assert status == 431


@pytest.mark.parametrize(
    "body",
    [b"[" * 30_000, b'{"a":' * 12_000, b"\xff\xfe{}", b"{", b"[]", b"1e999999", b'{"id": 1, "id": ' + b"[" * 5000],
)
def test_bad_json_is_a_one_line_400(addr: tuple[str, int], body: bytes, caplog: pytest.LogCaptureFixture) -> None:
    status, headers, answer = _post(addr, body)
    assert status == 400, answer[:200]
    assert headers["Content-Type"] == "application/json"
    assert _json_error(answer).startswith("bad request body")
    assert body[:20].decode("latin-1") not in caplog.text or len(body) < 4  # the body is not logged
    assert _get(addr)[0] == 200


def test_json_nested_100k_deep_is_refused(addr: tuple[str, int]) -> None:
    status, _, answer = _post(addr, b"[" * 100_000)
    assert status == 413  # over the 64 KiB body cap: refused before it is read
    assert "65536" in _json_error(answer)


def test_good_approve_still_works(addr: tuple[str, int]) -> None:
    status, _, answer = _post(addr, b'{"id": 3, "approved_by": "ops"}')
    assert status == 200 and json.loads(answer)["payload"] == {"id": 3, "approved_by": "ops"}
    # Expect: 100-continue is answered, so curl does not wait a second before sending the body
    raw = (
        b"POST /api/v1/recommendation/approve HTTP/1.1\r\nHost: x\r\nContent-Length: 9\r\nExpect: 100-continue\r\n\r\n"
    )
    with socket.create_connection(addr, timeout=10) as sock:
        sock.sendall(raw)
        assert sock.recv(4096).startswith(b"HTTP/1.1 100 Continue")
        sock.sendall(b'{"id": 4}')
        assert b" 200 OK" in sock.recv(65536)


@pytest.mark.parametrize("password", [b"p" * 100, b"p" * 73, PASSWORD.encode() + b"x" * 60, b"a\0b"])
def test_long_basic_auth_password_is_401(password: bytes) -> None:
    for addr in _serve(WebConfig(basic_auth_users={USER: SecretStr(HASH)})):
        for user in (USER, "nobody"):
            auth = base64.b64encode(user.encode() + b":" + password).decode()
            status, body = _get(addr, auth=auth)
            assert status == 401, body
        assert _get(addr, auth=base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode())[0] == 200


def test_stop_closes_held_connections_and_the_port() -> None:
    registry = CollectorRegistry(auto_describe=False)
    server = make_http_server(registry, _api(), None, HttpLimits(request_timeout_s=60))
    addr = server.start("127.0.0.1", 0)
    socks = _slow_headers(addr, 10)
    try:
        started = time.monotonic()
        server.stop()
        assert time.monotonic() - started < 5
        deadline = time.monotonic() + 10
        assert all(_closed_by_server(s, deadline) for s in socks)
        with pytest.raises(ConnectionRefusedError):
            socket.create_connection(addr, timeout=5).close()
    finally:
        for s in socks:
            s.close()
    assert all(t.daemon for t in threading.enumerate() if t.name.startswith("pue-agent-http"))


def test_run_honours_listen_limits_against_slow_clients(tmp_path: Path) -> None:
    """The real CLI: ``listen.request_timeout_s`` and ``listen.max_handlers`` from the site config."""
    import subprocess

    import yaml

    sys.path.append(str(Path(__file__).resolve().parents[1]))
    from netutil import free_port

    root = Path(__file__).resolve().parents[2]
    data = yaml.safe_load((root / "configs" / "demo-site.yaml").read_text())
    data["listen"] = {"address": "127.0.0.1", "port": free_port(), "request_timeout_s": 1, "max_handlers": 4}
    config = tmp_path / "site.yaml"
    config.write_text(yaml.safe_dump(data))
    addr = ("127.0.0.1", data["listen"]["port"])
    agent = subprocess.Popen(
        [str(root / ".venv" / "bin" / "pue-agent"), "run", "--config", str(config)],
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 60
        while True:
            try:
                assert _get(addr)[0] == 200
                break
            except OSError:
                assert agent.poll() is None and time.monotonic() < deadline, "the agent did not serve /metrics"
                time.sleep(0.2)
        socks = _slow_headers(addr, 60)
        try:
            status, body = _get(addr, timeout_s=10)
            assert status == 200 and b"pue_device_up" in body
            for sock in socks[:5]:  # told why, after the configured 1 s
                sock.settimeout(20)
                assert sock.recv(4096).startswith(b"HTTP/1.1 408 ")
            deadline = time.monotonic() + 20
            assert all(_closed_by_server(s, deadline) for s in socks)
        finally:
            for s in socks:
                s.close()
        assert _get(addr)[0] == 200
    finally:
        agent.terminate()
        _, stderr = agent.communicate(timeout=30)
    assert "Traceback" not in stderr
