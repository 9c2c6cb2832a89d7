"""IT at category 3 from the servers' BMCs: ``configs/servers-redfish-site.yaml`` served by the twin, read by the agent.

The twin's minimal site on a fake clock: the utility meter and the UPS over real SNMPv3 on loopback, four
servers over real HTTPS (Redfish, session auth, a test CA): one read through Chassis Power, one through its
power supplies (PowerSubsystem, two readings summed), two through EnvironmentMetrics (their energy from the
BMC's kWh counter). The IT boundary is the sum of the servers'
input powers; the agent's PUE must be the twin's facility over the servers' power, and its IT energy theirs.
"""

from __future__ import annotations

import asyncio
import itertools
import sys
from pathlib import Path

import pytest

from agent.config.site import RedfishCredentials, SiteConfig, load_config
from agent.devices.profiles import ProfileRegistry
from agent.devices.reader import ByProtocol
from agent.devices.redfish.adapter import RedfishDevices
from agent.devices.snmp.adapter import SnmpDevices
from agent.devices.snmp.client import PysnmpClient
from agent.site.poller import AgentState, Poller, SiteAccountant, SiteState
from twin.serve.pki import BmcTls, make_test_pki
from twin.serve.site import MinimalSite, SiteTruth

sys.path.append(str(Path(__file__).resolve().parents[1]))
from netutil import free_port, free_udp_range

pytestmark = pytest.mark.e2e

ROOT = Path(__file__).resolve().parents[2]
CYCLES = 6
STEP_S = 10.0


class Clock:
    def __init__(self, t: float) -> None:
        self.t = t

    def __call__(self) -> float:
        return self.t


def _on_loopback(cfg: SiteConfig, profiles: ProfileRegistry, tls: BmcTls) -> SiteConfig:
    base = free_udp_range(len(cfg.devices))
    devices = []
    for i, dev in enumerate(cfg.devices):
        port = base + i if profiles[dev.profile].protocol == "snmp" else free_port()
        devices.append(dev.model_copy(update={"port": port, "timeout_s": 2.0, "retries": 1}))
    cred = cfg.credentials["bmc-ro"]
    assert isinstance(cred, RedfishCredentials) and cred.verify and cred.ca_file is not None
    assert cred.ca_file == ROOT / "configs" / "bmc-ca.pem"  # relative to the config file
    credentials = {**cfg.credentials, "bmc-ro": cred.model_copy(update={"ca_file": tls.ca_file})}
    return cfg.model_copy(update={"devices": tuple(devices), "credentials": credentials})


def test_the_it_boundary_is_the_sum_of_the_servers_input_power_read_over_redfish(tmp_path: Path) -> None:
    cfg, profiles = load_config(ROOT / "configs" / "servers-redfish-site.yaml")
    assert cfg.topology.it_category == 3
    it = {t.device for t in cfg.topology.it}
    assert {profiles[cfg.device(d).profile].protocol for d in it} == {"redfish"}
    tls = make_test_pki(tmp_path / "pki")
    cfg = _on_loopback(cfg, profiles, tls)

    async def main() -> tuple[list[SiteState], list[SiteTruth]]:
        clock = Clock(1_800_000_000.0)
        # one UPS carrying 3 kW: four servers of about 700 W each (the profiles' ceilings are a server's)
        site = MinimalSite(cfg, profiles, it_per_ups_w=3_000.0, clock=clock, redfish_tls=tls)
        site.start()
        await site.ready()
        devices = ByProtocol({"snmp": SnmpDevices(cfg, PysnmpClient()), "redfish": RedfishDevices(cfg)}, profiles)
        state = AgentState()
        poller = Poller(cfg, profiles, devices, state, clock)
        accountant = SiteAccountant(cfg, state, clock)
        states, truths = [], []
        try:
            for _ in range(CYCLES):
                truths.append(site.update())
                for dev in cfg.devices:
                    snap = await poller.poll(dev.name)
                    assert snap.ok, (dev.name, snap.error)
                states.append(accountant.tick())
                clock.t += STEP_S
        finally:
            await devices.close()
            site.stop()
        logins = sum(s.bmc.logins for s in site.redfish_devices.values())
        logouts = sum(s.bmc.logouts for s in site.redfish_devices.values())
        assert logins == logouts == 4  # one session per BMC for the whole run, deleted at the end
        return states, truths

    states, truths = asyncio.run(main())
    for state, truth in zip(states, truths, strict=True):
        assert truth.servers_w > 0
        assert state.live.value == pytest.approx(truth.facility_w / truth.servers_w, rel=1e-4)
        assert state.live.value != pytest.approx(truth.pue, rel=1e-3)  # not category 1 (UPS output)
    # IT energy: the BMCs' own kWh counters (EnvironmentMetrics) and integrated power (Chassis Power), summed;
    # the twin's servers' energy over the run, to the counters' 0.001 kWh (the interval PUE is left out: the
    # SNMP utility meter counts 0.1 kWh, 10 % of one interval's facility energy here)
    methods = dict(states[-1].energy_methods)
    assert {methods[d] for d in ("srv-r01-u14", "srv-r01-u16")} == {"counter"}
    assert {methods[d] for d in ("srv-r01-u10", "srv-r01-u12")} == {"integrated"}  # Power, PowerSubsystem
    # the twin's counters add power x step at each step's end, the agent integrates power from one poll to the
    # next: the sum lies between the left and right sums of the servers' power
    left = sum(a.servers_w * STEP_S for a, _ in itertools.pairwise(truths))
    right = sum(b.servers_w * STEP_S for _, b in itertools.pairwise(truths))
    assert min(left, right) * (1 - 1e-4) <= states[-1].it_energy_j <= max(left, right) * (1 + 1e-4)
