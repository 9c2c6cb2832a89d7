"""``pue-agent discover``: only the addresses it is given, each device's profile, role and key readings.

End to end against several snmpsim responders on loopback (one port each, each answering its own
community), one silent port, and a device no profile detects.
"""

from __future__ import annotations

import asyncio
import subprocess
import sys
from collections.abc import Iterator
from contextlib import ExitStack
from pathlib import Path

import pytest
import yaml
from cliutil import assert_bad_input
from recordings import DEVICES
from snmpsim_server import free_udp_port, snmpsim

from agent.app.discover import DiscoveredDevice, parse_addresses, probe_standard_mibs, render_devices
from agent.config.site import load_config
from agent.devices.snmp.seam import FakeSnmpClient, SnmpTarget, V2cAuth
from agent.errors import UsageError

PUE_AGENT = [sys.executable, "-m", "agent.app.cli"]
KNOWN = ("apc_ap8853", "janitza_generic", "sentry4_switched8i")

#: a device of a vendor no profile knows: system group and one vendor table
UNKNOWN = """1.3.6.1.2.1.1.1.0|4|Acme PowerBox 9000 fw 1.2
1.3.6.1.2.1.1.2.0|6|1.3.6.1.4.1.99999.1.2
1.3.6.1.2.1.1.5.0|4|acme-1
1.3.6.1.4.1.99999.2.1.0|2|2301
"""


def test_parse_addresses() -> None:
    assert parse_addresses(["10.0.0.5", "10.0.0.6:1161", "10.0.0.5"]) == [("10.0.0.5", 161), ("10.0.0.6", 1161)]
    block = parse_addresses(["192.0.2.0/24"], default_port=16100)
    assert len(block) == 254 and block[0] == ("192.0.2.1", 16100) and block[-1] == ("192.0.2.254", 16100)
    assert len(parse_addresses(["198.18.0.0/22"])) == 1022
    with pytest.raises(UsageError, match="--allow-large"):
        parse_addresses(["198.18.0.0/21"])
    assert len(parse_addresses(["198.18.0.0/21"], allow_large=True)) == 2046
    with pytest.raises(UsageError, match="not an address"):
        parse_addresses(["10.0.0.1;rm"])
    with pytest.raises(UsageError, match="port"):
        parse_addresses(["10.0.0.1:70000"])


def test_standard_mibs_answering_are_named() -> None:
    target = SnmpTarget("fake", 161, V2cAuth("x"))
    ups = FakeSnmpClient({"1.3.6.1.2.1.33.1.1.1.0": ("octets", b"Acme")})
    assert asyncio.run(probe_standard_mibs(ups, target)) == ["UPS-MIB (RFC 1628)"]
    sensors = FakeSnmpClient({"1.3.6.1.2.1.99.1.1.1.1.1001": ("integer", 8)})
    assert asyncio.run(probe_standard_mibs(sensors, target)) == ["ENTITY-SENSOR-MIB (RFC 3433)"]
    assert asyncio.run(probe_standard_mibs(FakeSnmpClient({}), target)) == []


def test_devices_section_comments_what_it_could_not_add() -> None:
    devices = [
        DiscoveredDevice("10.0.0.5", 161, "community", "1.3.6.1.4.1.318.1.3.4.6", "APC", "apc-rpdu2", "pdu"),
        DiscoveredDevice("10.0.0.6", 161, "community", "1.3.6.1.4.1.99999.1", "Acme"),
        DiscoveredDevice("10.0.0.7", 161, problem="no answer (timeout)"),
    ]
    text = render_devices(devices)
    entries = yaml.safe_load(text)["devices"]
    assert entries == [
        {
            "name": "pdu-10-0-0-5",
            "address": "10.0.0.5",
            "port": 161,
            "credentials": "community",
            "profile": "apc-rpdu2",
            "role": "pdu",
        }
    ]
    assert "# 10.0.0.6:161: answered (sysObjectID 1.3.6.1.4.1.99999.1) but no profile detects it" in text
    assert "pue-agent profile draft --address 10.0.0.6:161 --community COMMUNITY" in text
    assert "# 10.0.0.7:161: no answer (timeout) (not added)" in text


def _run(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run([*PUE_AGENT, *args], capture_output=True, text=True, timeout=300)


def test_refuses_what_it_was_not_told() -> None:
    assert_bad_input(_run("discover", "--community", "public"), "never scans")
    assert_bad_input(_run("discover", "10.0.0.0/16", "--community", "public"), "--allow-large")
    assert_bad_input(_run("discover", "10.0.0.1"), "--community")


@pytest.fixture(scope="module")
def site(tmp_path_factory: pytest.TempPathFactory) -> Iterator[dict[str, int]]:
    """One snmpsim per device, on its own port: name -> port (plus a silent port)."""
    tmp = tmp_path_factory.mktemp("discover")
    unknown = tmp / "acme_unknown.snmprec"
    unknown.write_text(UNKNOWN, encoding="utf-8")
    with ExitStack() as stack:
        ports = {name: stack.enter_context(snmpsim([DEVICES / f"{name}.snmprec"])) for name in KNOWN}
        ports["acme_unknown"] = stack.enter_context(snmpsim([unknown]))
        ports["silent"] = free_udp_port()
        yield ports


@pytest.mark.e2e
def test_discover_reports_profiles_roles_readings_and_writes_a_devices_section(
    site: dict[str, int], tmp_path: Path
) -> None:
    address_file = tmp_path / "addresses.txt"
    address_file.write_text(
        f"# the meter and the unknown box\n127.0.0.1:{site['janitza_generic']}\n127.0.0.1:{site['acme_unknown']}\n",
        encoding="utf-8",
    )
    out = tmp_path / "devices.yaml"
    communities = [arg for name in (*KNOWN, "acme_unknown") for arg in ("--community", name)]
    proc = _run(
        "discover",
        f"127.0.0.1:{site['apc_ap8853']}",
        f"127.0.0.1:{site['sentry4_switched8i']}",
        f"127.0.0.1:{site['silent']}",
        "--from-file",
        str(address_file),
        *communities,
        "--timeout",
        "1",
        "--retries",
        "1",
        "--concurrency",
        "3",
        "--out",
        str(out),
    )
    assert proc.returncode == 0, proc.stderr[-3000:]
    lines = {line.split()[0]: line for line in proc.stdout.splitlines() if line.startswith("127.0.0.1:")}
    apc = lines[f"127.0.0.1:{site['apc_ap8853']}"].split()
    assert apc[1:5] == ["apc-rpdu2", "pdu", "1140", "3512.8"], apc
    meter = lines[f"127.0.0.1:{site['janitza_generic']}"].split()
    assert meter[1:5] == ["janitza-umg", "utility_meter", "136678", "11698878.8"], meter
    pdu = lines[f"127.0.0.1:{site['sentry4_switched8i']}"]
    assert pdu.split()[1:4] == ["servertech-sentry4", "pdu", "1662"], pdu
    assert "ambient_temp_c{sensor=1,unit=5}=23.9" in pdu
    assert lines[f"127.0.0.1:{site['silent']}"].split()[1:3] == ["(no", "answer)"]
    assert f"127.0.0.1:{site['silent']}: no answer (" in proc.stdout
    assert lines[f"127.0.0.1:{site['acme_unknown']}"].split()[1] == "(none)"
    assert (
        f"127.0.0.1:{site['acme_unknown']}: no profile: sysObjectID 1.3.6.1.4.1.99999.1.2, sysDescr "
        "'Acme PowerBox 9000 fw 1.2'; standard MIBs answering: none"
    ) in proc.stdout
    assert f"draft one: pue-agent profile draft --address 127.0.0.1:{site['acme_unknown']}" in proc.stdout
    assert "discover: 5/5" in proc.stderr  # progress (plain lines without rich)
    for secret in KNOWN:
        assert secret not in out.read_text(encoding="utf-8")  # credentials by name only

    # the section, with credentials and a topology around it, is a config the loader accepts
    section = yaml.safe_load(out.read_text(encoding="utf-8"))["devices"]
    assert [(d["profile"], d["role"], d["credentials"]) for d in section] == [
        ("apc-rpdu2", "pdu", "community-1"),
        ("servertech-sentry4", "pdu", "community-3"),
        ("janitza-umg", "utility_meter", "community-2"),
    ]
    names = {d["profile"]: d["name"] for d in section}
    config = tmp_path / "site.yaml"
    credentials = "\n".join(f"  community-{i}: {{version: 2c, community: {name}}}" for i, name in enumerate(KNOWN, 1))
    config.write_text(
        f"credentials:\n{credentials}\n{out.read_text(encoding='utf-8')}"
        f"topology:\n  it_category: 2\n  facility: [{{device: {names['janitza-umg']}}}]\n"
        f"  it: [{{device: {names['apc-rpdu2']}}}, {{device: {names['servertech-sentry4']}}}]\n",
        encoding="utf-8",
    )
    cfg, _profiles = load_config(config)
    assert [d.port for d in cfg.devices] == [site["apc_ap8853"], site["sentry4_switched8i"], site["janitza_generic"]]

    assert_bad_input(
        _run(
            "discover",
            f"127.0.0.1:{site['silent']}",
            "--community",
            "x",
            "--timeout",
            "0.2",
            "--retries",
            "0",
            "--out",
            str(out),
        ),
        "exists",
        "--force",
    )


@pytest.mark.e2e
def test_read_of_an_undetected_device_says_what_answered_and_how_to_draft(site: dict[str, int]) -> None:
    port = site["acme_unknown"]
    proc = _run("read", f"udp://127.0.0.1:{port}", "--community", "acme_unknown", "--timeout", "2")
    assert_bad_input(
        proc,
        f"no profile detects the device at udp://127.0.0.1:{port}",
        "sysObjectID 1.3.6.1.4.1.99999.1.2",
        "Acme PowerBox 9000",
    )
    assert "standard MIBs that answered: none" in proc.stderr
    assert f"pue-agent profile draft --address udp://127.0.0.1:{port} --out " in proc.stderr


def test_draft_takes_the_address_form_the_no_profile_error_suggests() -> None:
    from agent.app.onboard_cli import _host_port

    assert _host_port("udp://10.0.0.5:1161") == ("10.0.0.5", 1161)
    assert _host_port("10.0.0.5") == ("10.0.0.5", 161)
