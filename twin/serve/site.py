"""A minimal simulated site (until the digital twin drives it): known ground-truth PUE.

Roles map to simple, deterministic physics of time:
- ``ups``: IT load at the UPS output, a slow sine around ``it_per_ups_w``; input = output + losses
  (no-load + proportional + square-law);
- ``pdu``: an equal share of the IT load, with a small PDU loss;
- ``cooling_unit``: temperatures and fan speed that follow the load;
- ``utility_meter``: facility = UPS inputs + cooling + lighting/other;
- ``server`` (Redfish BMCs): the IT load at the servers' inputs (IT at category 3), 97 % of the UPS output
  (3 % lost in PDUs and cords), shared unequally (weights 1, 1.1, 1.2, ...), with energy counters.
Energy counters integrate power exactly, so the truth PUE over any period is known.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass

from agent.config.site import SiteConfig
from agent.devices.profiles import ProfileRegistry
from twin.serve.device import SimulatedSite, plausible_defaults
from twin.serve.pki import BmcTls

__all__ = ["MinimalSite", "SiteTruth"]

#: the servers' input power over the UPS output: 3 % is lost in PDUs and power cords on the way
SERVER_SHARE = 0.97

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]


@dataclass(frozen=True, slots=True)
class SiteTruth:
    timestamp_s: float
    facility_w: float
    it_w: float
    cooling_w: float
    #: the servers' input power (IT at category 3), when the site has servers
    servers_w: float = 0.0

    @property
    def pue(self) -> float:
        return self.facility_w / self.it_w


class MinimalSite(SimulatedSite):
    """Serves every device of a site config over real SNMP on loopback with plausible, changing values."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        *,
        it_per_ups_w: float = 60_000.0,
        period_s: float = 900.0,
        clock: Callable[[], float] = time.time,
        redfish_tls: BmcTls | None = None,
    ) -> None:
        self.cfg = cfg
        self._clock = clock
        self._t0 = clock()
        self._it_per_ups_w = it_per_ups_w
        self._period_s = period_s
        self._energy_j: dict[str, float] = {}
        self._last_s: float | None = None
        self.add_devices(cfg, profiles, redfish_tls=redfish_tls)
        self._by_role: dict[str, list[str]] = {}
        for dev in cfg.devices:
            self._by_role.setdefault(dev.role, []).append(dev.name)
        self.truth = self._step(self._t0, 0.0)

    def _ups_output_w(self, index: int, t: float) -> float:
        phase = index * 0.7
        return self._it_per_ups_w * (1.0 + 0.08 * math.sin(2 * math.pi * t / self._period_s + phase))

    @staticmethod
    def _ups_input_w(output_w: float) -> float:
        # no-load + proportional + square-law losses (standards.md: UPS losses)
        return output_w + 1_500.0 + 0.02 * output_w + 1.5e-7 * output_w**2

    def _step(self, now: float, dt: float) -> SiteTruth:
        t = now - self._t0
        ups_names = self._by_role.get("ups", [])
        ups_out = {name: self._ups_output_w(i, t) for i, name in enumerate(ups_names)}
        it_w = math.fsum(ups_out.values())
        ups_in_w = math.fsum(self._ups_input_w(p) for p in ups_out.values())
        cooling_w = 0.22 * it_w * (1.0 + 0.05 * math.sin(2 * math.pi * t / (3 * self._period_s)))
        other_w = 0.012 * it_w + 1_000.0
        facility_w = ups_in_w + cooling_w + other_w
        values: dict[str, Values] = {}
        for name, p in ups_out.items():
            lines = 3
            values[name] = {}
            for line in range(1, lines + 1):
                lbl = (("line", str(line)),)
                values[name][("active_power_w", lbl)] = p / lines
                values[name][("load_ratio", lbl)] = p / lines / 40_000.0
                values[name][("voltage_v", (("line", str(line)), ("side", "output")))] = 230.0
                values[name][("current_a", (("line", str(line)), ("side", "output")))] = p / lines / 230.0
            values[name][("battery_temp_c", ())] = 24.0
        pdus = self._by_role.get("pdu", [])
        for name in pdus:
            p = it_w / max(len(pdus), 1) * 0.985
            self._energy_j[name] = self._energy_j.get(name, 3.6e9) + p * dt
            values[name] = {
                ("active_power_w", (("pdu", "1"),)): p,
                ("energy_j", (("pdu", "1"),)): self._energy_j[name],
                ("voltage_v", (("phase", "1"),)): 230.0,
                ("current_a", (("phase", "1"),)): p / 230.0,
            }
        for i, name in enumerate(self._by_role.get("cooling_unit", [])):
            load = it_w / max(len(ups_names), 1) / self._it_per_ups_w
            values[name] = {
                ("supply_air_temp_c", ()): 18.0 + 0.5 * i,
                ("return_air_temp_c", ()): 30.0 + 2.0 * load,
                ("rack_inlet_temp_c", ()): 20.5 + 1.0 * load + 0.5 * i,
                ("fan_speed_ratio", ()): 0.5 + 0.2 * load,
            }
        for name in self._by_role.get("utility_meter", []):
            self._energy_j[name] = self._energy_j.get(name, 3.6e11) + facility_w * dt
            values[name] = {("active_power_w", ()): facility_w, ("energy_j", ()): self._energy_j[name]}
        servers = self._by_role.get("server", [])
        weights = [1.0 + 0.1 * i for i in range(len(servers))]
        servers_w = SERVER_SHARE * it_w if servers else 0.0
        for name, weight in zip(servers, weights, strict=True):
            p = servers_w * weight / math.fsum(weights)
            self._energy_j[name] = self._energy_j.get(name, 3.6e8) + p * dt
            values[name] = {("active_power_w", ()): p, ("energy_j", ()): self._energy_j[name]}
        defaults = plausible_defaults(it_w / max(len(ups_names), 1))
        self.publish_all(values, t, defaults)
        return SiteTruth(now, facility_w, it_w, cooling_w, servers_w)

    def update(self) -> SiteTruth:
        now = self._clock()
        dt = 0.0 if self._last_s is None else now - self._last_s
        self._last_s = now
        self.truth = self._step(now, dt)
        return self.truth

    def truth_json(self) -> dict[str, float]:
        t = self.truth
        out = {"timestamp_s": t.timestamp_s, "pue": t.pue, "facility_w": t.facility_w, "it_w": t.it_w}
        if t.servers_w:
            out["servers_w"] = t.servers_w
        return out
