"""Redfish end to end on loopback: the agent's adapter against real HTTPS servers (the twin's BMCs), a test CA.

One module (over 400 lines): every case shares the one rack of TLS BMCs this module starts.

One rack of three BMCs serves the whole module (each its own TLS listener): reads match what they serve,
over session and basic auth, with certificate verification on by default; 401, 404, 500, a malformed body,
a missing or null property, a timeout, a refused connection and an untrusted certificate each give the
server a clear error kind, ``up`` 0, and an invalid PUE (IT at category 3 from the servers), never a wrong
one; the BMC password is in no log line, metric or config dump.
"""

from __future__ import annotations

import asyncio
import logging
import sys
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import pytest
from prometheus_client import generate_latest
from pydantic import SecretStr

from agent.config.site import DeviceConfig, SiteConfig, dump_config, load_config
from agent.devices.profiles import Profile, ProfileObject, load_profiles
from agent.devices.reader import ByProtocol
from agent.devices.readings import DeviceReadout, Reading
from agent.devices.redfish.adapter import RedfishDevices, redfish_target
from agent.errors import RedfishAuthError, RedfishProtocolError, RedfishTlsError
from agent.export.collectors import build_registry
from agent.site.poller import AgentState, Poller, SiteAccountant, SiteState
from twin.serve.pki import BmcTls, make_test_pki
from twin.serve.redfish import SimulatedBmc

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port

pytestmark = pytest.mark.e2e

REGISTRY = load_profiles()
HOST = "127.0.0.1"
USER = "pue-reader"
PASSWORD = "Bmc-S3cret-7f3a9c"  # must never appear in logs, metrics or dumps
SERVERS = {"srv-a": 400.0, "srv-b": 500.0, "srv-c": 600.0}  # W
FACILITY_W = 2250.0  # PUE 1.5 over the servers' 1 500 W


@dataclass
class Rack:
    tls: BmcTls
    bmcs: dict[str, SimulatedBmc]

    def reset(self) -> None:
        for bmc in self.bmcs.values():
            bmc.fault = None


@pytest.fixture(scope="module")
def rack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Rack]:
    tls = make_test_pki(tmp_path_factory.mktemp("pki"))
    bmcs = {name: SimulatedBmc(HOST, 0, USER, PASSWORD, tls) for name in SERVERS}
    for bmc in bmcs.values():
        bmc.slow_s = 2.0
        bmc.start()
    yield Rack(tls, bmcs)
    for bmc in bmcs.values():
        bmc.stop()


def _site(rack: Rack, *, srv_c_credentials: str = "bmc-session", srv_c_port: int | None = None) -> SiteConfig:
    """A facility meter and three servers (IT at category 3); srv-c's credentials and port vary."""
    port = {name: bmc.port for name, bmc in rack.bmcs.items()}
    if srv_c_port is not None:
        port["srv-c"] = srv_c_port
    bmc = f"user: {USER}, password: {PASSWORD}"
    text = f"""
site: {{name: redfish-e2e}}
poll_interval_s: 10
pue_window_s: 60
credentials:
  meter-ro: {{version: "2c", community: meter-community-e2e}}
  bmc-session: {{protocol: redfish, {bmc}, auth: session, ca_file: ca.pem}}
  bmc-basic: {{protocol: redfish, {bmc}, auth: basic, ca_file: ca.pem}}
  bmc-no-ca: {{protocol: redfish, {bmc}}}
devices:
  - {{name: meter, address: {HOST}, port: 1161, credentials: meter-ro, profile: janitza-umg, role: utility_meter}}
  - {{name: srv-a, address: {HOST}, port: {port["srv-a"]}, credentials: bmc-session, profile: redfish-server-power,
     role: server, timeout_s: 0.3, retries: 1}}
  - {{name: srv-b, address: {HOST}, port: {port["srv-b"]}, credentials: bmc-basic,
     profile: redfish-server-environment, role: server, timeout_s: 0.3, retries: 1}}
  - {{name: srv-c, address: {HOST}, port: {port["srv-c"]}, credentials: {srv_c_credentials},
     profile: redfish-server-power, role: server, timeout_s: 0.3, retries: 1}}
topology:
  it_category: 3
  facility: [{{device: meter}}]
  it: [{{device: srv-a}}, {{device: srv-b}}, {{device: srv-c}}]
"""
    path = rack.tls.ca_file.parent / "site.yaml"  # ca_file: ca.pem is relative to the config's folder
    path.write_text(text)
    cfg, _ = load_config(path, REGISTRY)
    return cfg


class FacilityMeter:
    """The facility meter's adapter (SNMP in the config): fixed readings, no UDP needed here."""

    def __init__(self) -> None:
        self.energy_j = 3.6e9

    async def read(self, device: DeviceConfig, profile: Profile) -> DeviceReadout:
        self.energy_j += FACILITY_W * 10.0
        return DeviceReadout((Reading("active_power_w", FACILITY_W), Reading("energy_j", self.energy_j)))

    async def read_setpoint(self, device: DeviceConfig, obj: ProfileObject) -> float | None:
        return None

    async def write_setpoint(self, device: DeviceConfig, obj: ProfileObject, raw: int) -> None:
        raise AssertionError("no writes here")

    async def close(self) -> None:
        return None


class Clock:
    def __init__(self, t: float = 1_000_000.0) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _publish(rack: Rack, cycle: int) -> None:
    for name, watts in SERVERS.items():
        rack.bmcs[name].power_w = watts
        rack.bmcs[name].energy_kwh = 100.0 + watts * 10.0 * cycle / 3.6e6


def test_reads_match_what_the_bmcs_serve_over_session_and_basic_auth(rack: Rack) -> None:
    rack.reset()
    cfg = _site(rack)
    _publish(rack, 0)
    before = {name: (b.logins, b.logouts) for name, b in rack.bmcs.items()}

    async def main() -> dict[str, DeviceReadout]:
        adapter = RedfishDevices(cfg)
        try:
            out = {}
            for name in ("srv-a", "srv-b"):
                dev = cfg.device(name)
                out[name] = await adapter.read(dev, REGISTRY[dev.profile])
                out[name] = await adapter.read(dev, REGISTRY[dev.profile])  # the second read reuses the session
            return out
        finally:
            await adapter.close()

    got = asyncio.run(main())
    a = {r.quantity: r.value for r in got["srv-a"].readings}
    b = {r.quantity: r.value for r in got["srv-b"].readings}
    assert a == {"active_power_w": 400.0}
    assert b == {"active_power_w": 500.0, "energy_j": pytest.approx(100.0 * 3.6e6)}
    assert got["srv-a"].problems == got["srv-b"].problems == ()
    # session auth: one login for two reads, deleted on close; basic auth: no session at all
    assert rack.bmcs["srv-a"].logins - before["srv-a"][0] == 1
    assert rack.bmcs["srv-a"].logouts - before["srv-a"][1] == 1
    assert rack.bmcs["srv-a"].sessions == {}
    assert rack.bmcs["srv-b"].logins == before["srv-b"][0]


def test_certificate_verification_is_on_by_default(rack: Rack) -> None:
    """The same BMC without the CA in the config: a clear TLS error, never a silent unverified read."""
    rack.reset()
    cfg = _site(rack, srv_c_credentials="bmc-no-ca")
    assert redfish_target(cfg, cfg.device("srv-c")).verify

    async def main() -> None:
        adapter = RedfishDevices(cfg)
        try:
            await adapter.read(cfg.device("srv-c"), REGISTRY["redfish-server-power"])
        finally:
            await adapter.close()

    with pytest.raises(RedfishTlsError, match=r"certificate verification failed.*ca_file"):
        asyncio.run(main())


def test_verify_false_must_be_explicit_and_is_warned_about(rack: Rack, caplog: pytest.LogCaptureFixture) -> None:
    rack.reset()
    cfg = _site(rack, srv_c_credentials="bmc-no-ca")
    cred = cfg.credentials["bmc-no-ca"].model_copy(update={"verify": False})
    cfg = cfg.model_copy(update={"credentials": {**cfg.credentials, "bmc-no-ca": cred}})

    async def main() -> DeviceReadout:
        adapter = RedfishDevices(cfg)
        try:
            return await adapter.read(cfg.device("srv-c"), REGISTRY["redfish-server-power"])
        finally:
            await adapter.close()

    with caplog.at_level(logging.WARNING, logger="agent.devices.redfish.client"):
        readout = asyncio.run(main())
    assert [r.value for r in readout.readings] == [600.0]
    assert any("verification is OFF" in r.getMessage() for r in caplog.records), caplog.text


FAULTS = [
    ("401", "auth", "refused the account"),
    ("404", "protocol", "404 Not Found"),
    ("500", "protocol", "HTTP 500: The request failed due to an internal service error"),
    ("malformed", "protocol", "the answer is not JSON"),
    ("missing", "protocol", "/PowerControl/0/PowerConsumedWatts is absent"),
    ("null", "protocol", "/PowerControl/0/PowerConsumedWatts is null (no reading)"),
    ("slow", "timeout", "no answer within 0.3 s x 2 tries"),
    ("refused", "timeout", "cannot connect"),
    ("untrusted", "protocol", "certificate verification failed"),
]


@pytest.mark.parametrize(("fault", "kind", "message"), FAULTS, ids=[f[0] for f in FAULTS])
def test_a_failed_server_makes_it_down_and_the_pue_invalid_never_wrong(
    rack: Rack, fault: str, kind: str, message: str
) -> None:
    rack.reset()
    good = _site(rack)
    bad = {
        "refused": lambda: _site(rack, srv_c_port=free_port()),
        "untrusted": lambda: _site(rack, srv_c_credentials="bmc-no-ca"),
    }.get(fault, lambda: good)()
    records: list[logging.LogRecord] = []
    handler = _Collect(records)
    logging.getLogger().addHandler(handler)
    old_level = logging.getLogger().level
    logging.getLogger().setLevel(logging.DEBUG)

    async def main() -> tuple[list[SiteState], dict[str, Any], str]:
        clock, state = Clock(), AgentState()
        adapter = RedfishDevices(good)
        devices = ByProtocol({"snmp": FacilityMeter(), "redfish": adapter}, REGISTRY)
        poller = Poller(good, REGISTRY, devices, state, clock)
        accountant = SiteAccountant(good, state, clock)
        states, snaps = [], {}
        try:
            for cycle in range(4):
                _publish(rack, cycle)
                if cycle == 3:  # srv-c goes bad
                    if fault in ("refused", "untrusted"):
                        adapter = RedfishDevices(bad)
                        devices = ByProtocol({"snmp": FacilityMeter(), "redfish": adapter}, REGISTRY)
                        poller = Poller(bad, REGISTRY, devices, state, clock)
                    else:
                        rack.bmcs["srv-c"].fault = fault
                snaps = {name: await poller.poll(name) for name in ("meter", *SERVERS)}
                states.append(accountant.tick())
                clock.t += 10.0
            text = generate_latest(build_registry(good, state, clock)).decode()
        finally:
            rack.reset()
            await devices.close()
        return states, snaps, text

    try:
        states, snaps, text = asyncio.run(main())
    finally:
        logging.getLogger().removeHandler(handler)
        logging.getLogger().setLevel(old_level)
    assert states[2].live.value == pytest.approx(1.5)  # 2 250 W over the servers' 1 500 W
    srv_c = snaps["srv-c"]
    assert not srv_c.ok and srv_c.error_kind == kind, (srv_c.error_kind, srv_c.error)
    assert message in (srv_c.error or ""), srv_c.error
    assert snaps["srv-a"].ok and snaps["srv-b"].ok  # the other servers still read
    assert states[3].live.value is None and states[3].live.reason  # invalid, with its reason: never 2 250 / 900
    up = [line for line in text.splitlines() if line.startswith("pue_device_up{") and 'device="srv-c"' in line]
    assert up and up[0].endswith(" 0.0"), up
    errors = [line for line in text.splitlines() if line.startswith("pue_device_poll_errors_total{")]
    assert any(f'kind="{kind}"' in line and 'device="srv-c"' in line for line in errors), errors
    # the BMC password: in no log line (the agent's, urllib3's), no metric, no error, no dump
    logged = "\n".join(f"{r.name} {r.getMessage()}" for r in records)
    assert any("srv-c" in r.getMessage() and "poll failed" in r.getMessage() for r in records), logged
    for where in (logged, text, srv_c.error or "", dump_config(good), repr(redfish_target(good, good.device("srv-a")))):
        assert PASSWORD not in where


class _Collect(logging.Handler):
    """Every record of every logger at DEBUG and above (urllib3's included), from any thread."""

    def __init__(self, records: list[logging.LogRecord]) -> None:
        super().__init__(logging.DEBUG)
        self.records = records

    def emit(self, record: logging.LogRecord) -> None:
        self.records.append(record)


def test_a_session_the_bmc_dropped_is_opened_again_once(rack: Rack) -> None:
    rack.reset()
    cfg = _site(rack)
    bmc = rack.bmcs["srv-a"]

    async def main() -> list[float]:
        adapter = RedfishDevices(cfg)
        try:
            dev = cfg.device("srv-a")
            first = await adapter.read(dev, REGISTRY[dev.profile])
            bmc.sessions.clear()  # the BMC was reset, or an operator deleted our session
            second = await adapter.read(dev, REGISTRY[dev.profile])
            return [first.readings[0].value, second.readings[0].value]
        finally:
            await adapter.close()

    logins = bmc.logins
    assert asyncio.run(main()) == [400.0, 400.0]
    assert bmc.logins - logins == 2


def test_config_refuses_snmp_credentials_on_a_redfish_server_and_the_reverse(rack: Rack, tmp_path: Path) -> None:
    from agent.errors import ConfigError

    text = (rack.tls.ca_file.parent / "site.yaml").read_text()
    swapped = text.replace("credentials: bmc-basic", "credentials: meter-ro").replace(
        "credentials: meter-ro, profile: janitza-umg", "credentials: bmc-basic, profile: janitza-umg"
    )
    path = tmp_path / "bad.yaml"
    path.write_text(swapped.replace("ca_file: ca.pem", f"ca_file: {rack.tls.ca_file}"))
    with pytest.raises(ConfigError) as err:
        load_config(path, REGISTRY)
    problems = "\n".join(err.value.problems)
    assert "(srv-b).credentials: 'meter-ro' are SNMP credentials" in problems
    assert "(meter).credentials: 'bmc-basic' are Redfish credentials" in problems
    assert PASSWORD not in problems


def test_auth_error_kind_without_a_site(rack: Rack) -> None:
    """A wrong password over basic auth: RedfishAuthError on the first request."""
    rack.reset()
    cfg = _site(rack)
    cred = cfg.credentials["bmc-basic"].model_copy(update={"password": SecretStr("wrong-password")})
    cfg = cfg.model_copy(update={"credentials": {**cfg.credentials, "bmc-basic": cred}})

    async def main() -> None:
        adapter = RedfishDevices(cfg)
        try:
            await adapter.read(cfg.device("srv-b"), REGISTRY["redfish-server-environment"])
        finally:
            await adapter.close()

    with pytest.raises(RedfishAuthError, match="401"):
        asyncio.run(main())


def test_pue_agent_read_reads_a_bmc_by_url(
    rack: Rack, monkeypatch: pytest.MonkeyPatch, capsys: pytest.CaptureFixture[str]
) -> None:
    """`pue-agent read https://HOST:PORT --profile NAME --bmc-user USER --ca-file CA`, password from the environment."""
    import json

    from agent.app.cli import main

    rack.reset()
    _publish(rack, 0)
    url = f"https://{HOST}:{rack.bmcs['srv-b'].port}"
    common = ["read", url, "--profile", "redfish-server-environment", "--bmc-user", USER]
    assert main([*common, "--ca-file", str(rack.tls.ca_file)]) == 2  # no password in the environment
    assert "PUE_BMC_PASSWORD" in capsys.readouterr().err
    monkeypatch.setenv("PUE_BMC_PASSWORD", PASSWORD)
    assert main([*common, "--ca-file", str(rack.tls.ca_file), "--bmc-auth", "basic", "--format", "json"]) == 0
    out = capsys.readouterr().out
    power = [r["value"] for r in json.loads(out)["readings"] if r["quantity"] == "active_power_w"]
    assert power == [500.0]
    assert main(common) == 1  # verification on: the test CA is not among the system's
    err = capsys.readouterr().err
    assert "certificate verification failed" in err
    assert PASSWORD not in out + err
    assert main(["read", url, "--profile", "janitza-umg", "--bmc-user", USER]) == 2  # an SNMP profile


def test_power_supplies_are_read_one_by_one_and_summed_by_the_topology(rack: Rack) -> None:
    """redfish-server-psu: PowerSubsystem -> PowerSupplies -> each member's Metrics, one reading per supply."""
    rack.reset()
    cfg = _site(rack)
    dev = cfg.device("srv-a")
    _publish(rack, 0)
    bmc = rack.bmcs["srv-a"]

    async def main() -> tuple[DeviceReadout, int]:
        adapter = RedfishDevices(cfg)
        try:
            await adapter.read(dev, REGISTRY["redfish-server-psu"])  # resolves the links once
            gets = bmc.requests.get("GET", 0)
            readout = await adapter.read(dev, REGISTRY["redfish-server-psu"])
            return readout, bmc.requests.get("GET", 0) - gets
        finally:
            await adapter.close()

    readout, gets = asyncio.run(main())
    assert {r.labels: r.value for r in readout.readings} == {(("psu", "PSU1"),): 200.0, (("psu", "PSU2"),): 200.0}
    assert gets == 2  # one GET per supply's Metrics, the links kept
    bmc.fault = "null"
    try:
        with pytest.raises(RedfishProtocolError, match=r"PSU\d/Metrics: /InputPowerWatts/Reading is null"):
            asyncio.run(main())
    finally:
        rack.reset()
