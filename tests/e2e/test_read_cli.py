"""`pue-agent read` against real responders: snmpsim serving a recording (v2c and v3 authPriv),
cross-checked with net-snmp's snmpget as an independent peer."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

sys.path.append(str(Path(__file__).resolve().parents[1]))
from snmpsim_server import FIXTURES, snmpsim

pytestmark = pytest.mark.e2e
EXE = str(Path(sys.executable).with_name("pue-agent"))
V3 = ("pue-test", "auth-key-0123456", "priv-key-0123456")


def _read(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([EXE, "read", *args], capture_output=True, text=True, timeout=60)


@pytest.fixture(scope="module")
def port():  # type: ignore[no-untyped-def]
    with snmpsim(
        [FIXTURES / "apc_ap8853.snmprec", FIXTURES / "generex-ups_cs121.snmprec"],
        v3_user=V3[0],
        v3_auth_key=V3[1],
        v3_priv_key=V3[2],
    ) as p:
        yield p


def test_read_detects_profile_and_prints_canonical_json(port: int) -> None:
    proc = _read(f"udp://127.0.0.1:{port}", "--community", "apc_ap8853", "--format", "json")
    assert proc.returncode == 0, proc.stderr
    out = json.loads(proc.stdout)
    assert out["profile"] == "apc-rpdu2"
    values = {(r["quantity"], tuple(sorted(r["labels"].items()))): (r["value"], r["unit"]) for r in out["readings"]}
    # LibreNMS: rPDU2DeviceStatusPower 114 (0.01 kW) -> 1140 W; energy 35128 (0.1 kWh) -> 3512.8 kWh
    assert values[("active_power_w", (("pdu", "1"),))] == (1140.0, "W")
    assert values[("energy_j", (("pdu", "1"),))][0] == pytest.approx(3512.8 * 3.6e6)


def test_read_over_snmpv3_authpriv_matches_v2c_and_netsnmp(port: int) -> None:
    proc = _read(
        f"udp://127.0.0.1:{port}",
        "--v3-user",
        V3[0],
        "--auth-protocol",
        "sha256",
        "--auth-key",
        V3[1],
        "--priv-protocol",
        "aes128",
        "--priv-key",
        V3[2],
        "--v3-context",
        "generex-ups_cs121",
        "--format",
        "table",
    )
    # snmpsim selects the recording of a v3 request by its context name
    assert proc.returncode == 0, proc.stderr
    assert "profile: rfc1628-ups" in proc.stdout
    assert V3[1] not in proc.stdout + proc.stderr and V3[2] not in proc.stdout + proc.stderr
    v2c = _read(f"udp://127.0.0.1:{port}", "--community", "generex-ups_cs121", "--format", "table")
    assert v2c.returncode == 0, v2c.stderr
    assert v2c.stdout == proc.stdout
    line = next(ln for ln in v2c.stdout.splitlines() if ln.startswith("active_power_w") and "line=1" in ln)
    assert float(line.split()[1]) == 19000.0
    snmpget = shutil.which("snmpget")
    assert snmpget, "net-snmp's snmpget missing: `make test` installs Debian's snmp package"
    peer = subprocess.run(
        [snmpget, "-v2c", "-c", "generex-ups_cs121", "-Oqv", f"127.0.0.1:{port}", "1.3.6.1.2.1.33.1.4.4.1.4.1"],
        capture_output=True,
        text=True,
        timeout=30,
    )
    assert peer.stdout.strip() == "19000"


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["tcp://127.0.0.1:161", "--community", "x"], "udp://HOST:PORT"),
        (["udp://127.0.0.1:161"], "--community"),
        (["udp://127.0.0.1:161", "--v3-user", "u"], "--auth-protocol"),
    ],
)
def test_bad_arguments_exit_2_with_a_reason(args: list[str], message: str) -> None:
    proc = _read(*args)
    assert proc.returncode == 2 and message in proc.stderr


def test_unreachable_device_exits_1_naming_it() -> None:
    proc = _read(
        "udp://127.0.0.1:9", "--community", "public", "--profile", "apc-rpdu2", "--timeout", "0.3", "--retries", "0"
    )
    assert proc.returncode == 1 and "127.0.0.1:9" in proc.stderr and "no response" in proc.stderr
