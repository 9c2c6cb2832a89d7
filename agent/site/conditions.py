"""The cooling model's view of the site: ONE rule for what it is trained on and what it is served.

:func:`site_conditions` reads the fresh snapshots of the agent's state at a moment and gives the plant's
conditions (IT power, outdoor air, setpoints, hottest rack inlet). The history writer stores them with every
site interval (the rows the model is later retrained on) and the cooling controller feeds them to the model
live, so the two can never drift apart (issue 12: they had different rules for outdoor readings, the
chilled-water setpoint and remapped inlets).

Rules, each over devices fresh at ``now_s`` (last poll ok and within ``stale_after_intervals`` intervals):

- outdoor dry bulb: every ``outdoor_temp_c`` reading, averaged; outdoor humidity and pressure only from the
  devices that also read outdoor air (an indoor humidity probe is not the weather);
- wet bulb at the measured station pressure (sea-level standard without a barometer), via psychrolib;
- supply-air and chilled-water setpoints: every reading of the quantity, averaged; economizer on when the
  average of its 0/1 readings is at least one half;
- rack inlets: every ``rack_inlet_temp_c`` reading (after the device's ``remap``); complete only when every
  device that reports them, or is remapped to, is fresh;
- optional levers (:data:`models.levers.LEVER_NAMES`, docs/levers.md): every reading of the quantity, averaged;
- plausibility (``setpoint_ranges``, the writable bounds of each device's profile): a setpoint or lever read outside
  the range its device accepts (a controller that has not initialised reads 0) makes that quantity unknown, on
  every device: the controller holds rather than take it, or an average with it, as the value in force.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from agent.config.site import SiteConfig
from agent.devices.profiles import ProfileRegistry
from agent.site.poller import AgentState
from models.levers import LEVER_NAMES
from models.psychro import STANDARD_PRESSURE_PA, wet_bulb_c

__all__ = ["SetpointRanges", "SiteConditions", "setpoint_ranges", "site_conditions"]

#: the range each device accepts for each setpoint quantity, by (device, quantity) [canonical units]
SetpointRanges = Mapping[tuple[str, str], tuple[float, float]]
_SETPOINTS = ("supply_air_setpoint_c", "chw_supply_setpoint_c", "economizer_enabled", *LEVER_NAMES)


@dataclass(frozen=True, slots=True)
class SiteConditions:
    """The plant's conditions at one moment; None where no fresh device gives the value."""

    timestamp_s: float
    outdoor_dry_bulb_c: float | None = None
    outdoor_rh_ratio: float | None = None
    outdoor_pressure_pa: float | None = None
    outdoor_wet_bulb_c: float | None = None
    supply_air_setpoint_c: float | None = None
    chw_supply_setpoint_c: float | None = None
    economizer_enabled: bool | None = None
    max_inlet_c: float | None = None
    #: every device that reports rack inlets (or is remapped to them) is fresh
    inlets_complete: bool = False
    rack_inlets_c: tuple[float, ...] = field(default=())
    #: optional levers read (docs/levers.md), by quantity; a lever no fresh device reads plausibly is absent
    levers: Mapping[str, float] = field(default_factory=dict)
    #: setpoints and levers read outside the range their device accepts: (quantity, in words)
    implausible: tuple[tuple[str, str], ...] = field(default=())

    def missing(self) -> list[str]:
        """What the cooling model needs and is not known, in words for an operator."""
        base = [words for quantity, words in self.implausible if quantity not in LEVER_NAMES]
        if base:
            return [f"plausible setpoints ({'; '.join(base)}: an uninitialised controller?)"]
        wanted = (
            ("outdoor temperature", self.outdoor_dry_bulb_c),
            ("outdoor humidity", self.outdoor_rh_ratio),
            ("supply-air setpoint", self.supply_air_setpoint_c),
            ("chilled-water setpoint", self.chw_supply_setpoint_c),
            ("economizer state", self.economizer_enabled),
            ("rack inlets", self.max_inlet_c),
        )
        return [name for name, value in wanted if value is None]

    def history_columns(self) -> dict[str, float]:
        """The condition columns of a stored site interval (the canonical history CSV's names)."""
        out: dict[str, float] = {}
        for column, value in (
            ("outdoor_dry_bulb_c", self.outdoor_dry_bulb_c),
            ("outdoor_wet_bulb_c", self.outdoor_wet_bulb_c),
            ("outdoor_rh_percent", None if self.outdoor_rh_ratio is None else 100.0 * self.outdoor_rh_ratio),
            ("supply_air_setpoint_c", self.supply_air_setpoint_c),
            ("chw_supply_setpoint_c", self.chw_supply_setpoint_c),
            ("economizer_enabled", None if self.economizer_enabled is None else float(self.economizer_enabled)),
        ):
            if value is not None:
                out[column] = value
        out.update(self.levers)
        return out


def setpoint_ranges(cfg: SiteConfig, profiles: ProfileRegistry) -> dict[tuple[str, str], tuple[float, float]]:
    """The range each device's profile says it accepts for each writable quantity, by (device, quantity)."""
    out: dict[tuple[str, str], tuple[float, float]] = {}
    for dev in cfg.devices:
        if dev.profile not in profiles:
            continue
        for obj in profiles[dev.profile].objects:
            if obj.writable is not None:
                out[(dev.name, obj.quantity)] = (obj.writable.min, obj.writable.max)
    return out


def _mean(values: list[float]) -> float | None:
    return math.fsum(values) / len(values) if values else None


def site_conditions(
    state: AgentState, cfg: SiteConfig, now_s: float, setpoint_ranges: SetpointRanges | None = None
) -> SiteConditions:
    """The plant's conditions from the snapshots fresh at ``now_s`` (rules in the module docstring)."""
    stale_after_s = cfg.poll_interval_s * cfg.stale_after_intervals
    values: dict[str, list[float]] = {}
    inlets: list[float] = []
    complete = True
    implausible: list[tuple[str, str]] = []
    unknown: set[str] = set()
    for dev in cfg.devices:
        snap = state.snapshots.get(dev.name)
        readings = snap.readings if snap is not None else ()
        reports_inlets = any(r.quantity == "rack_inlet_temp_c" for r in readings) or any(
            rule.to == "rack_inlet_temp_c" for rule in dev.remap
        )
        if snap is None or not state.fresh(dev.name, now_s, stale_after_s):
            complete = complete and not reports_inlets
            continue
        outdoor = any(r.quantity == "outdoor_temp_c" for r in readings)
        for r in readings:
            if r.quantity == "rack_inlet_temp_c":
                inlets.append(r.value)
            elif r.quantity in ("relative_humidity_ratio", "air_pressure_pa"):
                if outdoor:
                    values.setdefault(r.quantity, []).append(r.value)
            elif r.quantity == "outdoor_temp_c":
                values.setdefault(r.quantity, []).append(r.value)
            elif r.quantity in _SETPOINTS:
                accepted = setpoint_ranges.get((dev.name, r.quantity)) if setpoint_ranges is not None else None
                if accepted is not None and not accepted[0] - 1e-9 <= r.value <= accepted[1] + 1e-9:
                    unknown.add(r.quantity)
                    words = f"{dev.name} {r.quantity}={r.value:g} outside {accepted[0]:g}-{accepted[1]:g}"
                    implausible.append((r.quantity, words))
                values.setdefault(r.quantity, []).append(r.value)
    for quantity in unknown:
        del values[quantity]
    dry = _mean(values.get("outdoor_temp_c", []))
    rh = _mean(values.get("relative_humidity_ratio", []))
    pressure = _mean(values.get("air_pressure_pa", []))
    wet = None
    if dry is not None and rh is not None:
        wet = float(wet_bulb_c(dry, 100.0 * rh, pressure if pressure is not None else STANDARD_PRESSURE_PA))
    economizer = _mean(values.get("economizer_enabled", []))
    return SiteConditions(
        timestamp_s=now_s,
        outdoor_dry_bulb_c=dry,
        outdoor_rh_ratio=rh,
        outdoor_pressure_pa=pressure,
        outdoor_wet_bulb_c=wet,
        supply_air_setpoint_c=_mean(values.get("supply_air_setpoint_c", [])),
        chw_supply_setpoint_c=_mean(values.get("chw_supply_setpoint_c", [])),
        economizer_enabled=None if economizer is None else economizer >= 0.5,
        max_inlet_c=max(inlets) if inlets else None,
        inlets_complete=complete and bool(inlets),
        rack_inlets_c=tuple(inlets),
        levers={q: m for q in LEVER_NAMES if (m := _mean(values.get(q, []))) is not None},
        implausible=tuple(implausible),
    )
