"""`pue-agent demo` on a port another program holds: a one-line error naming the device, port and protocol,
exit status 2, at once; not a traceback, not a device that silently never answers, not a hang."""

from __future__ import annotations

import os
import socket
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range

pytestmark = pytest.mark.e2e


@pytest.mark.parametrize(
    ("offset", "device", "kind"),
    [
        (0, "meter-main", socket.SOCK_STREAM),  # Modbus TCP (pymodbus hides why it cannot listen)
        (1, "ups-a", socket.SOCK_DGRAM),  # SNMP (pysnmp binds in a background task)
        (20, "chiller-plant", socket.SOCK_DGRAM),  # BACnet/IP (bacpypes3 retries a taken port forever)
        (22, "srv-a01-u10", socket.SOCK_STREAM),  # Redfish over HTTPS
    ],
)
def test_a_taken_port_stops_the_demo_with_the_device_and_port_named(
    tmp_path: Path, offset: int, device: str, kind: int
) -> None:
    base = free_udp_range(26)
    with socket.socket(socket.AF_INET, kind) as held:
        held.bind(("127.0.0.1", base + offset))
        if kind == socket.SOCK_STREAM:
            held.listen()
        done = subprocess.run(
            [
                str(Path(sys.executable).with_name("pue-agent")),
                "demo",
                "--site",
                "twin-mixed",
                "--duration",
                "30",
                "--base-port",
                str(base),
                "--listen-port",
                str(free_port()),
                "--history",
                str(tmp_path / "h.sqlite"),
            ],
            capture_output=True,
            text=True,
            timeout=180,  # a fresh machine trains the demo's model first
            env={**os.environ, "XDG_STATE_HOME": str(tmp_path / "state")},
        )
    assert done.returncode == 2, done.stdout + done.stderr
    assert f"127.0.0.1:{base + offset} for {device} (" in done.stderr, done.stderr
    assert "Address already in use; choose other ports (demo: --base-port)" in done.stderr, done.stderr
    assert "Traceback" not in done.stdout + done.stderr, done.stdout + done.stderr
    assert "metrics at" not in done.stdout  # the agent never started against a half-served site
