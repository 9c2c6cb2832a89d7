"""Start snmpsim (a real SNMP responder) on loopback serving ``.snmprec`` recordings."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path

sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_port

FIXTURES = Path(__file__).resolve().parent / "fixtures" / "devices"


def free_udp_port() -> int:
    return free_port(socket.SOCK_DGRAM)  # outside the ephemeral range (netutil.free_port)


@contextmanager
def snmpsim(
    recordings: Sequence[Path],
    *,
    v3_user: str | None = None,
    v3_auth_key: str | None = None,
    v3_priv_key: str | None = None,
    ready_timeout_s: float = 300.0,
) -> Iterator[int]:
    """Serve each recording as community NAME (file stem) on 127.0.0.1:PORT; yield PORT.

    ``ready_timeout_s``: how long snmpsim may take to index the recordings before it answers. It is a
    deadline, not a wait (the first answer ends it; an exited snmpsim fails at once): indexing the 150
    recordings took 41 s at load 20, and 60 s was too little for it with two xdist workers at that load."""
    port = free_udp_port()
    with tempfile.TemporaryDirectory(prefix="snmpsim-") as tmp:
        data = Path(tmp) / "data"
        data.mkdir()
        for rec in recordings:
            shutil.copy(rec, data / rec.name)
        exe = Path(sys.executable).with_name("snmpsim-command-responder")
        cmd = [str(exe), f"--data-dir={data}", f"--cache-dir={tmp}/cache", f"--agent-udpv4-endpoint=127.0.0.1:{port}"]
        if v3_user:
            cmd += [
                f"--v3-user={v3_user}",
                f"--v3-auth-key={v3_auth_key}",
                "--v3-auth-proto=SHA256",
                f"--v3-priv-key={v3_priv_key}",
                "--v3-priv-proto=AES",
            ]
        env = dict(os.environ, SNMPSIM_ALLOW_ROOT="true")
        log_path = Path(tmp) / "snmpsim.log"
        # snmpsim logs every request to stderr: an undrained PIPE fills up (64 KiB) and the responder
        # blocks mid-test, so its log goes to a file.
        with log_path.open("wb") as log:
            proc = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=log, env=env)
        try:
            _wait_ready(port, recordings[0].stem, proc, log_path, ready_timeout_s)
            yield port
        finally:
            proc.terminate()
            try:
                proc.wait(timeout=5)
            except subprocess.TimeoutExpired:
                proc.kill()
                proc.wait()


def _wait_ready(
    port: int, community: str, proc: subprocess.Popen[bytes], log_path: Path, timeout_s: float = 60.0
) -> None:
    """Poll with a raw SNMPv2c GET of sysDescr until snmpsim answers (it indexes files first)."""
    request = _v2c_get_sysdescr(community)
    deadline = time.monotonic() + timeout_s
    with socket.socket(socket.AF_INET, socket.SOCK_DGRAM) as s:
        s.settimeout(0.5)
        while time.monotonic() < deadline:
            if proc.poll() is not None:
                err = log_path.read_text(encoding="utf-8", errors="replace")
                raise RuntimeError(f"snmpsim exited with {proc.returncode}: {err[-2000:]}")
            s.sendto(request, ("127.0.0.1", port))
            try:
                s.recvfrom(65535)
                return
            except TimeoutError:
                continue
    raise RuntimeError(f"snmpsim did not answer within {timeout_s:g} s")


def _v2c_get_sysdescr(community: str) -> bytes:
    # Hand-built BER: Message{version=1, community, GetRequest{id, 0, 0, [{1.3.6.1.2.1.1.1.0, NULL}]}}
    oid = bytes([0x06, 0x08, 0x2B, 6, 1, 2, 1, 1, 1, 0])
    varbind = bytes([0x30, len(oid) + 2]) + oid + b"\x05\x00"
    varbinds = bytes([0x30, len(varbind)]) + varbind
    pdu_body = b"\x02\x01\x01\x02\x01\x00\x02\x01\x00" + varbinds
    pdu = bytes([0xA0, len(pdu_body)]) + pdu_body
    comm = community.encode()
    body = b"\x02\x01\x01" + bytes([0x04, len(comm)]) + comm + pdu
    return bytes([0x30, len(body)]) + body
