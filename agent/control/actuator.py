"""The guarded write: one setpoint, planned within the profile's and the configured bounds, written, read back.

:func:`plan_setpoint` rounds a requested value to a raw integer the device can represent inside both bounds
(or raises :class:`~agent.errors.WriteGuardError`); :class:`SetpointActuator` writes through the profiles'
writable objects with the devices' write credentials, reads the value back, restores the old one on a
mismatch and appends every action (:class:`ActionRecord`) to a JSON-lines log.

BACnet devices (profiles that :attr:`~agent.devices.profiles.Profile.relinquishes`) are commanded at a
priority: a revert, and the undo of a write whose read-back differs, relinquish the agent's priority (write
NULL) instead of writing the old value, and every record names the priority written at.
"""

from __future__ import annotations

import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import asdict, dataclass
from pathlib import Path
from typing import Any

from agent.config.site import DeviceConfig, SiteConfig
from agent.control.lever_points import lever_limits
from agent.devices.profiles import ProfileObject, ProfileRegistry
from agent.devices.reader import SetpointRelinquisher, SetpointWriter
from agent.errors import DeviceError, WriteGuardError
from models.optimiser import SetpointBounds

__all__ = ["ActionRecord", "Clock", "SetpointActuator", "plan_setpoint", "setpoint_limits"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
#: raw values an SNMP SET of a setpoint can carry (it is sent as an Integer32)
_RAW_MIN, _RAW_MAX = -(2**31), 2**31 - 1


def setpoint_limits(bounds: SetpointBounds) -> dict[str, tuple[float, float]]:
    """The configured setpoint bounds by writable quantity [C; economizer 0/1]."""
    return {
        "supply_air_setpoint_c": (bounds.supply_air_min_c, bounds.supply_air_max_c),
        "chw_supply_setpoint_c": (bounds.chw_supply_min_c, bounds.chw_supply_max_c),
        "economizer_enabled": (0.0, 1.0 if bounds.allow_economizer else 0.0),
    }


def _step_within(requested: float, step: float, lo: float, hi: float) -> float | None:
    """The multiple of ``step`` nearest ``requested`` inside [lo, hi] (ceil at lo, floor at hi), or None."""
    if not (math.isfinite(lo / step) and math.isfinite(hi / step)):
        return None
    k_lo, k_hi = math.ceil(lo / step), math.floor(hi / step)
    # the quotients carry rounding error: settle each end on the exact side of its bound
    for _ in range(2):
        k_lo += (k_lo * step < lo) - ((k_lo - 1) * step >= lo)
        k_hi -= (k_hi * step > hi) - ((k_hi + 1) * step <= hi)
    if k_lo > k_hi or k_lo * step < lo or k_hi * step > hi:
        return None
    return min(max(round(requested / step), k_lo), k_hi) * step


def _raw_within(obj: ProfileObject, value: float, lo: float, hi: float) -> int | None:
    """The raw integer nearest ``value`` whose decoded value (raw x scale + offset) lies in [lo, hi], or None."""
    exact = (value - obj.offset) / obj.raw_scale
    if not (math.isfinite(exact) and _RAW_MIN - 2 <= exact <= _RAW_MAX + 2):
        return None
    raw = round(exact)
    up = 1 if obj.raw_scale > 0 else -1  # the raw direction in which the decoded value grows
    for _ in range(2):  # the device's resolution may put the nearest raw value just outside a bound
        decoded = float(raw) * obj.raw_scale + obj.offset  # as ProfileObject.decode does
        if decoded < lo:
            raw += up
        elif decoded > hi:
            raw -= up
    decoded = float(raw) * obj.raw_scale + obj.offset
    if not (lo <= decoded <= hi and _RAW_MIN <= raw <= _RAW_MAX):
        return None
    return raw


def plan_setpoint(obj: ProfileObject, requested: float, limits: tuple[float, float] | None = None) -> tuple[float, int]:
    """The value and the raw integer to SET for ``requested`` on a writable object.

    The value is the multiple of the object's step nearest ``requested`` inside both the profile's
    bounds and the configured ``limits`` (rounding up at the lower bound, down at the upper one),
    and the raw integer is the one the device decodes to a value inside both as well.

    Returns
    -------
    (value, raw) : tuple of float and int
        ``value`` is what ``raw`` decodes to, in canonical units.

    Raises
    ------
    WriteGuardError
        ``obj`` is not writable or has bounds that are not finite; ``requested`` is not finite or
        outside either bounds; or no step multiple or raw value lies inside them.
    """
    w = obj.writable
    if w is None:
        raise WriteGuardError(f"{obj.quantity} is not a writable setpoint")
    if not (math.isfinite(w.min) and math.isfinite(w.max)):
        raise WriteGuardError(f"{obj.quantity}: the profile's bounds [{w.min}, {w.max}] are not finite")
    if not math.isfinite(requested):
        raise WriteGuardError(f"{obj.quantity}={requested} is not a finite number")
    if not (w.min - 1e-9 <= requested <= w.max + 1e-9):
        raise WriteGuardError(f"{obj.quantity}={requested} outside the profile's bounds [{w.min}, {w.max}]")
    lo, hi = w.min, w.max
    if limits is not None:
        if not (limits[0] - 1e-9 <= requested <= limits[1] + 1e-9):
            raise WriteGuardError(
                f"{obj.quantity}={requested} outside the configured bounds [{limits[0]}, {limits[1]}]"
            )
        lo, hi = max(lo, limits[0]), min(hi, limits[1])
    value: float | None = min(max(requested, lo), hi)
    if w.step:
        value = _step_within(requested, w.step, lo, hi)
        if value is None:
            raise WriteGuardError(f"{obj.quantity}: no multiple of the step {w.step:g} lies within [{lo}, {hi}]")
    assert value is not None
    if obj.enum is not None:
        for raw_enum, canonical in obj.enum.items():
            if abs(canonical - value) < 1e-9 and lo <= canonical <= hi:
                return float(canonical), int(raw_enum)
        raise WriteGuardError(f"{obj.quantity}: {value} has no raw enum value within [{lo}, {hi}]")
    raw = _raw_within(obj, value, lo, hi)
    if raw is None:
        raise WriteGuardError(
            f"{obj.quantity}: no raw value of the device (scale {obj.raw_scale:g}, offset "
            f"{obj.offset:g}) decodes to within [{lo}, {hi}] near {value}"
        )
    return float(raw) * obj.raw_scale + obj.offset, raw


@dataclass(frozen=True, slots=True)
class ActionRecord:
    """One entry of the action log."""

    timestamp_s: float
    kind: str  # "apply" | "revert" | "restore"
    device: str
    quantity: str
    before: float | None
    requested: float
    after: float | None
    result: str  # "ok" | "mismatch" | "refused" | "error" | "blocked"
    reason: str
    predicted_savings_w: float | None = None
    approved_by: str | None = None
    recommendation_id: int | None = None
    error: str | None = None


class SetpointActuator:
    """Guarded setpoint writes through the profiles' writable objects (any protocol), with an audit log."""

    def __init__(
        self,
        cfg: SiteConfig,
        profiles: ProfileRegistry,
        writer: SetpointWriter,
        log_path: Path | None,
        clock: Clock = time.time,
        limits: dict[str, tuple[float, float]] | None = None,
    ) -> None:
        self._cfg = cfg
        #: configured bounds by quantity, on top of the profiles' (the recommender's setpoint bounds, the site's levers)
        self.limits = {**(limits if limits is not None else setpoint_limits(SetpointBounds())), **lever_limits(cfg)}
        self.profiles = self._profiles = profiles
        self._writer = writer
        self._log_path = log_path
        self._clock = clock
        self._lock = threading.Lock()
        self.actions: deque[ActionRecord] = deque(maxlen=1000)
        self.counts: dict[tuple[str, str, str], int] = {}
        self.reverts: dict[tuple[str, str], int] = {}

    def targets(self, quantity: str) -> list[DeviceConfig]:
        """Devices with a writable object for ``quantity`` and write credentials."""
        out = []
        for dev in self._cfg.devices:
            if dev.enabled and dev.writes_setpoints and self._profiles[dev.profile].writable(quantity):
                out.append(dev)
        return out

    def writable_range(self, quantity: str) -> tuple[float, float, float] | None:
        """(lowest, highest, coarsest step) every target of ``quantity`` accepts, within the configured bounds.

        None when no device can write it or the ranges do not overlap; a profile with no step counts as 0.1.
        """
        lo, hi = self.limits.get(quantity, (-math.inf, math.inf))
        step = 0.0
        devices = self.targets(quantity)
        for dev in devices:
            obj = self._profiles[dev.profile].writable(quantity)
            assert obj is not None and obj.writable is not None
            lo, hi = max(lo, obj.writable.min), min(hi, obj.writable.max)
            step = max(step, obj.writable.step or 0.1)
        if not devices or lo > hi or not (math.isfinite(lo) and math.isfinite(hi)):
            return None
        return lo, hi, step

    def _record(self, record: ActionRecord) -> ActionRecord:
        with self._lock:
            self.actions.append(record)
            key = (record.device, record.quantity, record.result)
            self.counts[key] = self.counts.get(key, 0) + 1
            if record.kind == "revert" and record.result == "ok":
                rk = (record.device, record.quantity)
                self.reverts[rk] = self.reverts.get(rk, 0) + 1
        if self._log_path is not None:
            try:
                with self._log_path.open("a", encoding="utf-8") as fh:
                    fh.write(json.dumps(asdict(record)) + "\n")
                    fh.flush()
                    os.fsync(fh.fileno())
            except OSError as err:
                log.error("action log %s not writable: %s (action kept in memory)", self._log_path, err)
        level = logging.INFO if record.result == "ok" else logging.WARNING
        log.log(
            level,
            "setpoint %s %s %s: %s -> %s (requested %s): %s; %s",
            record.kind,
            record.device,
            record.quantity,
            record.before,
            record.after,
            record.requested,
            record.result,
            record.reason,
        )
        return record

    async def _read(self, dev: DeviceConfig, quantity: str) -> float | None:
        obj = self._profiles[dev.profile].writable(quantity)
        assert obj is not None
        return await self._writer.read_setpoint(dev, obj)

    def plan(self, dev: DeviceConfig, quantity: str, value: float, *, kind: str = "apply") -> tuple[float, int]:
        """The value and raw integer a write of ``value`` would SET (:func:`plan_setpoint`).

        Changes (``kind`` "apply") stay within the configured bounds too; a revert restores the value
        the plant ran at, within the profile's bounds.

        Raises
        ------
        WriteGuardError
            the object is not a declared writable setpoint, or ``value`` cannot be written within bounds.
        """
        obj = self._profiles[dev.profile].writable(quantity)
        if obj is None or obj.writable is None or (obj.oid is None and obj.bacnet is None):
            raise WriteGuardError(f"{dev.name}: profile {dev.profile} declares no writable {quantity}")
        try:
            return plan_setpoint(obj, value, self.limits.get(quantity) if kind == "apply" else None)
        except WriteGuardError as err:
            raise WriteGuardError(f"{dev.name}: {err}") from None

    async def write(
        self,
        dev: DeviceConfig,
        quantity: str,
        value: float,
        *,
        kind: str,
        reason: str,
        predicted_savings_w: float | None = None,
        approved_by: str | None = None,
        recommendation_id: int | None = None,
    ) -> ActionRecord:
        """Write one setpoint (as :meth:`plan` rounds it) and verify it by reading it back.

        Raises
        ------
        WriteGuardError
            the object is not a declared writable setpoint, or ``value`` cannot be written within bounds.
        """
        profile = self._profiles[dev.profile]
        if profile.relinquishes:
            reason = f"{reason} [{_priority_note(dev)}]"
        if kind == "revert" and profile.relinquishes:
            if profile.writable(quantity) is None:
                raise WriteGuardError(f"{dev.name}: profile {dev.profile} declares no writable {quantity}")
            return await self._relinquish(
                dev,
                quantity,
                value,
                reason,
                predicted_savings_w=predicted_savings_w,
                approved_by=approved_by,
                recommendation_id=recommendation_id,
            )
        value, raw = self.plan(dev, quantity, value, kind=kind)
        obj = profile.writable(quantity)
        assert obj is not None and obj.writable is not None and (obj.oid is not None or obj.bacnet is not None)
        common: dict[str, Any] = {
            "kind": kind,
            "device": dev.name,
            "quantity": quantity,
            "requested": value,
            "reason": reason,
            "predicted_savings_w": predicted_savings_w,
            "approved_by": approved_by,
            "recommendation_id": recommendation_id,
        }
        try:
            before = await self._read(dev, quantity)
            if before is None:
                # a profile may declare a setpoint some models of its family lack (optional objects): a
                # write goes only to an object the unit answers, never blind
                return self._record(
                    ActionRecord(
                        self._clock(),
                        before=None,
                        after=None,
                        result="refused",
                        error=f"{obj.oid or obj.bacnet} does not answer with a setpoint on this unit: nothing written",
                        **common,
                    )
                )
            await self._writer.write_setpoint(dev, obj, raw)
            after = await self._read(dev, quantity)
        except DeviceError as err:
            return self._record(
                ActionRecord(self._clock(), before=None, after=None, result="error", error=str(err), **common)
            )
        tolerance = (obj.writable.step or 0.0) / 2 + 1e-6
        if after is None or abs(after - value) > tolerance:
            record = self._record(
                ActionRecord(
                    self._clock(),
                    before=before,
                    after=after,
                    result="mismatch",
                    error="read-back differs from the value written",
                    **common,
                )
            )
            try:
                if profile.relinquishes:
                    await self._relinquisher().relinquish_setpoint(dev, obj)  # never an old value written
                elif before is not None:
                    await self._writer.write_setpoint(dev, obj, obj.encode(before))
            except DeviceError as err:
                log.error("%s: could not restore %s after a failed write: %s", dev.name, quantity, err)
            return record
        return self._record(ActionRecord(self._clock(), before=before, after=after, result="ok", **common))

    def _relinquisher(self) -> SetpointRelinquisher:
        relinquish = getattr(self._writer, "relinquish_setpoint", None)
        if relinquish is None:
            raise WriteGuardError("this writer cannot relinquish a priority (BACnet reverts need one)")
        return self._writer  # type: ignore[return-value]

    async def _relinquish(
        self,
        dev: DeviceConfig,
        quantity: str,
        requested: float,
        reason: str,
        *,
        predicted_savings_w: float | None,
        approved_by: str | None,
        recommendation_id: int | None,
    ) -> ActionRecord:
        """A BACnet revert: withdraw the agent's priority and read back what the object fell back to.

        ``requested`` (the value the plant ran at) is recorded, never written: the object returns to the
        commands below ours (a BMS schedule, the relinquish-default), which is what a BMS expects.
        """
        obj = self._profiles[dev.profile].writable(quantity)
        assert obj is not None
        common: dict[str, Any] = {
            "kind": "revert",
            "device": dev.name,
            "quantity": quantity,
            "requested": requested,
            "reason": f"{reason} (relinquished: the value is not written back)",
            "predicted_savings_w": predicted_savings_w,
            "approved_by": approved_by,
            "recommendation_id": recommendation_id,
        }
        try:
            relinquisher = self._relinquisher()
            before = await self._read(dev, quantity)
            await relinquisher.relinquish_setpoint(dev, obj)
            after = await self._read(dev, quantity)
        except DeviceError as err:
            return self._record(
                ActionRecord(self._clock(), before=None, after=None, result="error", error=str(err), **common)
            )
        if after is None:
            return self._record(
                ActionRecord(
                    self._clock(),
                    before=before,
                    after=None,
                    result="mismatch",
                    error="no setpoint read back after relinquishing",
                    **common,
                )
            )
        return self._record(ActionRecord(self._clock(), before=before, after=after, result="ok", **common))


def _priority_note(dev: DeviceConfig) -> str:
    """The BACnet priority a write goes at, named: a write at 8 always says it is the manual-operator slot."""
    priority = dev.bacnet.write_priority if dev.bacnet is not None else 8
    names = {3: "available", 4: "available", 5: "critical equipment control", 7: "available", 8: "manual operator"}
    name = names.get(priority, "available")
    return f"BACnet priority {priority} ({name})"
