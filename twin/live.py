"""The digital twin in live mode: the plant stepped in (accelerated) real time and served over real
SNMP on loopback through the agent's own YAML profiles.

Roles in the site config map onto the twin's plant:

- ``utility_meter``: grid import, power and energy: facility consumption less the rooftop PV, which
  feeds the site's bus behind it (facility = utility meter + PV meter, ISO/IEC 30134-2);
- ``renewable_meter``: the rooftop PV's generation, power and energy, as a utility meter reports them;
- ``ups`` (in order): each UPS's output (3 lines) and input power;
- ``pdu`` (in order): a row PDU feeding ``racks_per_pdu`` racks; its external temperature probes are
  the racks' inlet sensors (sensor k = k-th rack of the row);
- ``cooling_unit`` (in order): CRAH units with a writable supply-air setpoint;
- ``chiller_plant``: chilled-water setpoint, economizer enable and CRAH minimum fan speed (writable),
  on a variable-speed plant (design ``modern-vs``) also its levers (condenser-water and pump-DP setpoints,
  chillers and towers requested; writable, :data:`VS_START_LEVERS` at start), plant temperatures, the
  mechanical sub-meter (all cooling electricity), the heat meter on heat
  delivered for reuse and the site water meter (cooling-tower make-up);
- ``environment_sensor``: outdoor dry-bulb, humidity, dew point and pressure.

A SET on a writable setpoint changes the plant from the next step on; a SET out of the profile's
bounds is refused by the simulated device with wrongValue, as a real controller does.
"""

from __future__ import annotations

import math
import time
from collections.abc import Callable
from dataclasses import dataclass, replace
from datetime import UTC, datetime

import numpy as np

from agent.config.site import SiteConfig
from agent.devices.profiles import ProfileRegistry
from twin.design import Controls, SiteDesign
from twin.serve.device import SimulatedSite, plausible_defaults
from twin.serve.pki import BmcTls
from twin.simulate import utilisation_at
from twin.site import SiteConditions, SitePlant, StepResult
from twin.weather import load_site_weather, weather_at

__all__ = ["VS_START_LEVERS", "TwinLiveSite", "TwinTruth"]

Values = dict[tuple[str, tuple[tuple[str, str], ...]], float]

#: the levers a variable-speed plant (``modern-vs``) runs at until the agent writes them: condenser water 24 C, pump DP
#: at design (100 kPa), every chiller and tower requested (bench/closed_loop.py's agent starts there too)
VS_START_LEVERS: dict[str, float] = {
    "condenser_water_setpoint_c": 24.0,
    "chw_pump_dp_setpoint_pa": 100.0e3,
    "chillers_running": 3.0,
    "towers_running": 3.0,
}
#: lever quantities whose Controls field is a count
_COUNTS = ("chillers_running", "towers_running")


@dataclass(frozen=True, slots=True)
class TwinTruth:
    """Ground truth of the latest step, for tests and the demo."""

    sim_time_s: float
    facility_w: float
    it_w: float
    ups_output_w: float
    max_inlet_c: float
    controls: Controls
    pv_w: float
    reused_heat_w: float
    water_flow_m3_per_s: float

    @property
    def pue(self) -> float:
        """PUE at measurement category 1 (IT = UPS output), as the twin's demo topology measures it."""
        return self.facility_w / self.ups_output_w


class TwinLiveSite(SimulatedSite):
    """Serves the twin's devices; ``update()`` advances the plant by wall time x ``speed``."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        *,
        weather: str = "guiyang",
        speed: float = 60.0,
        start: datetime | None = None,
        design: SiteDesign | None = None,
        clock: Callable[[], float] = time.time,
        redfish_tls: BmcTls | None = None,
    ) -> None:
        """``redfish_tls``: the certificate the simulated BMCs serve (a site with Redfish servers needs one)."""
        self.cfg = cfg
        self.design = design or SiteDesign()
        self.plant = SitePlant(self.design)
        self.weather = load_site_weather(weather)
        self.speed = speed
        self._clock = clock
        self._wall0 = clock()
        self._sim0 = (start or datetime(2026, 7, 1, tzinfo=UTC)).timestamp()
        self._last_sim: float | None = None
        self.controls = Controls(crah_min_fan_speed=1.0)  # a legacy hall: constant-speed CRAH fans
        if self.design.variable_speed_plant:
            self.controls = replace(self.controls, **_lever_fields(VS_START_LEVERS))  # type: ignore[arg-type]
        self._crah_setpoints: dict[str, float] = {}
        self._counters: dict[tuple[str, str], float] = {}
        self._roles: dict[str, list[str]] = {}
        for dev in cfg.devices:
            self._roles.setdefault(dev.role, []).append(dev.name)
        self.add_devices(cfg, profiles, self._setpoint_handler, redfish_tls=redfish_tls)
        n_pdu = max(len(self._roles.get("pdu", [])), 1)
        self.racks_per_pdu = math.ceil(self.design.n_racks / n_pdu)
        self.truth = self._to_truth(self._step(0.0), self._sim0)

    # --- setpoints written over SNMP -----------------------------------------------------------
    def _setpoint_handler(self, device: str) -> Callable[[str, float], None]:
        def handle(quantity: str, value: float) -> None:
            if quantity == "supply_air_setpoint_c":
                self._crah_setpoints[device] = value
                mean = sum(self._crah_setpoints.values()) / len(self._crah_setpoints)
                self.controls = replace(self.controls, supply_air_setpoint_c=mean)
            elif quantity == "chw_supply_setpoint_c":
                self.controls = replace(self.controls, chw_supply_setpoint_c=value)
            elif quantity == "economizer_enabled":
                self.controls = replace(self.controls, economizer_enabled=value >= 0.5)
            elif quantity == "fan_min_speed_ratio":
                self.controls = replace(self.controls, crah_min_fan_speed=value)
            elif quantity in VS_START_LEVERS and self.design.variable_speed_plant:
                self.controls = replace(self.controls, **_lever_fields({quantity: value}))  # type: ignore[arg-type]

        return handle

    # --- physics -> devices --------------------------------------------------------------------
    def sim_time_s(self) -> float:
        return self._sim0 + (self._clock() - self._wall0) * self.speed

    def _conditions(self, sim_s: float) -> SiteConditions:
        t = np.array([sim_s])
        outdoor = weather_at(self.weather, t)
        traces = utilisation_at(t, self.weather.utc_offset_h)
        util = np.clip(traces[0, self.design.rack_trace_index] * self.design.rack_utilisation_gain, 0.0, 1.0)
        return SiteConditions(
            float(outdoor.dry_bulb_c[0]),
            float(outdoor.wet_bulb_c[0]),
            float(outdoor.rh_percent[0]),
            float(outdoor.pressure_pa[0]),
            tuple(float(u) for u in util),
            float(outdoor.ghi_w_per_m2[0]),
        )

    def _step(self, dt_sim_s: float, dt_wall_s: float = 0.0) -> StepResult:
        sim_s = self.sim_time_s()
        result = self.plant.step(self._conditions(sim_s), self.controls, max(dt_sim_s, 1.0))
        # energy registers advance in wall time: a meter read twice 5 s apart must have counted
        # power x 5 s, whatever the plant's accelerated clock did in between
        self._publish(result, dt_wall_s, sim_s)
        return result

    def _accumulate(self, name: str, counter: str, rate: float, dt_s: float, start: float) -> float:
        """Advance one device's counter (J or m3) by ``rate x dt_s`` from ``start`` on its first use."""
        key = (name, counter)
        self._counters[key] = self._counters.get(key, start) + rate * dt_s
        return self._counters[key]

    @staticmethod
    def _meter(power_w: float, energy_j: float) -> Values:
        """An energy meter's readings: total, three balanced 230 V phases, apparent power at PF 0.97."""
        values: Values = {
            ("active_power_w", ()): power_w,
            ("energy_j", ()): energy_j,
            ("apparent_power_va", ()): power_w / 0.97,
        }
        for phase in ("L1", "L2", "L3"):
            values[("phase_active_power_w", (("phase", phase),))] = power_w / 3
            values[("current_a", (("phase", phase),))] = power_w / 3 / 230.0
        return values

    def _publish(self, r: StepResult, dt_s: float, sim_s: float) -> None:
        values: dict[str, Values] = {}
        for name in self._roles.get("utility_meter", []):
            grid_w = r.grid_import_power_w
            values[name] = self._meter(grid_w, self._accumulate(name, "energy_j", grid_w, dt_s, 3.6e12))
        for name in self._roles.get("renewable_meter", []):
            values[name] = self._meter(r.pv_power_w, self._accumulate(name, "energy_j", r.pv_power_w, dt_s, 3.6e11))
        for i, name in enumerate(self._roles.get("ups", [])):
            out = r.ups_output_power_w[i % len(r.ups_output_power_w)]
            loss = r.ups_loss_per_ups_w[i % len(r.ups_loss_per_ups_w)]
            values[name] = {}
            for line in ("1", "2", "3"):
                values[name][("active_power_w", (("line", line),))] = out / 3
                values[name][("input_active_power_w", (("line", line),))] = (out + loss) / 3
                values[name][("load_ratio", (("line", line),))] = out / self.design.ups_rated_power_w
            values[name][("battery_temp_c", ())] = 24.0
        for j, name in enumerate(self._roles.get("pdu", [])):
            racks = range(j * self.racks_per_pdu, min((j + 1) * self.racks_per_pdu, self.design.n_racks))
            power = sum(r.rack_power_w[k] for k in racks)
            energy = self._accumulate(name, "energy_j", power, dt_s, 3.6e9)
            values[name] = {
                ("active_power_w", (("inlet", "1"), ("pdu", "1"))): power,
                ("energy_j", (("inlet", "1"), ("pdu", "1"))): energy,
            }
            for n, k in enumerate(racks, start=1):
                values[name][("ambient_temp_c", (("pdu", "1"), ("sensor", str(n))))] = r.rack_inlet_c[k]
        mean_inlet = sum(r.rack_inlet_c) / len(r.rack_inlet_c)
        for i, name in enumerate(self._roles.get("cooling_unit", [])):
            sp = self._crah_setpoints.get(name, self.controls.supply_air_setpoint_c)
            speed = r.crah_fan_speed[i % len(r.crah_fan_speed)]
            values[name] = {
                ("supply_air_temp_c", ()): r.supply_air_c,
                ("return_air_temp_c", ()): mean_inlet + self.design.air_delta_t_design_k,
                ("supply_air_setpoint_c", ()): sp,
                ("return_air_setpoint_c", ()): 30.0,
                ("fan_speed_ratio", ()): speed,
                ("relative_humidity_ratio", (("point", "return_air"),)): 0.45,
                ("free_cooling_ratio", ()): r.free_cooling_fraction,
            }
        for name in self._roles.get("chiller_plant", []):
            energy = self._accumulate(name, "cooling_energy_j", r.cooling_power_w, dt_s, 0.0)
            # a heat meter and a water meter installed with the plant, some years before: non-zero counters
            heat = self._accumulate(name, "reused_heat_energy_j", r.reused_heat_power_w, dt_s, 1.8e12)
            water = self._accumulate(name, "water_volume_m3", r.water_flow_m3_per_s, dt_s, 4.2e4)
            values[name] = {
                ("chw_supply_setpoint_c", ()): r.controls.chw_supply_setpoint_c,
                ("economizer_enabled", ()): 1.0 if self.controls.economizer_enabled else 0.0,
                ("fan_min_speed_ratio", ()): self.controls.crah_min_fan_speed,
                ("chw_supply_temp_c", ()): r.chw_supply_c,
                ("chw_return_temp_c", ()): r.chw_return_c,
                ("cooling_power_w", ()): r.cooling_power_w,
                ("cooling_energy_j", ()): energy,
                ("free_cooling_ratio", ()): r.free_cooling_fraction,
                ("reused_heat_power_w", ()): r.reused_heat_power_w,
                ("reused_heat_energy_j", ()): heat,
                ("water_flow_m3_per_s", ()): r.water_flow_m3_per_s,
                ("water_volume_m3", ()): water,
            }
            if self.design.variable_speed_plant:  # the levers as the plant's controller holds them (requested)
                for quantity in VS_START_LEVERS:
                    held = getattr(self.controls, quantity)
                    if held is not None:
                        values[name][(quantity, ())] = float(held)
        for name in self._roles.get("environment_sensor", []):
            lbl = (("sensor", "1"),)
            values[name] = {
                ("ambient_temp_c", lbl): r.outdoor_dry_bulb_c,
                ("relative_humidity_ratio", lbl): r.outdoor_rh_percent / 100.0,
                ("air_pressure_pa", lbl): 88_000.0,
                ("dew_point_c", lbl): r.outdoor_dry_bulb_c - 5.0,
            }
        servers = self._roles.get("server", [])
        if servers:  # the servers of the first rack: its power at their inputs, less the PDU's and cords' 3 %
            weights = [1.0 + 0.1 * i for i in range(len(servers))]
            rack_w = 0.97 * r.rack_power_w[0]
            for name, weight in zip(servers, weights, strict=True):
                server_w = rack_w * weight / math.fsum(weights)
                energy = self._accumulate(name, "energy_j", server_w, dt_s, 3.6e8)
                values[name] = {("active_power_w", ()): server_w, ("energy_j", ()): energy}
        uptime = sim_s - self._sim0
        defaults = plausible_defaults(r.facility_power_w / max(len(self._roles.get("pdu", [])), 1))
        self.publish_all(values, uptime, defaults)

    def _to_truth(self, r: StepResult, sim_s: float) -> TwinTruth:
        return TwinTruth(
            sim_s,
            r.facility_power_w,
            r.it_power_w,
            sum(r.ups_output_power_w),
            r.max_inlet_c,
            r.controls,
            r.pv_power_w,
            r.reused_heat_power_w,
            r.water_flow_m3_per_s,
        )

    def update(self) -> TwinTruth:
        sim_s = self.sim_time_s()
        dt = 0.0 if self._last_sim is None else sim_s - self._last_sim
        self._last_sim = sim_s
        self.truth = self._to_truth(self._step(dt, dt / self.speed), sim_s)
        return self.truth

    def truth_json(self) -> dict[str, object]:
        truth = self.truth
        return {
            "timestamp_s": self._clock(),
            "sim_time": datetime.fromtimestamp(truth.sim_time_s, UTC).isoformat(),
            "pue": truth.pue,
            "facility_w": truth.facility_w,
            "it_w": truth.ups_output_w,
            "max_inlet_c": truth.max_inlet_c,
            "supply_air_setpoint_c": truth.controls.supply_air_setpoint_c,
            "chw_supply_setpoint_c": truth.controls.chw_supply_setpoint_c,
            "economizer_enabled": truth.controls.economizer_enabled,
            "pv_w": truth.pv_w,
            "reused_heat_w": truth.reused_heat_w,
            "water_flow_m3_per_s": truth.water_flow_m3_per_s,
        }


def _lever_fields(levers: dict[str, float]) -> dict[str, float | int]:
    """Controls keywords for lever values by quantity (counts as whole numbers)."""
    return {q: round(v) if q in _COUNTS else v for q, v in levers.items()}
