"""Acting on the plant: recommendations every site tick, guarded setpoint writes, automatic revert.

Safety, after DeepMind/Google's published practice (uncertainty filtering, two-layer verification,
operator override): the model's optimiser proposes within its bounds and data support; this module
then checks again before touching anything:

- writes go only to a profile's declared writable objects, within the profile's bounds and the
  configured setpoint bounds, rounded to the object's step inside both (a value outside them, not
  finite, or with no step the device can represent inside them raises
  :class:`~agent.errors.WriteGuardError` and is never sent), with the devices' separate write
  credentials;
- every write is read back; a mismatch is logged as failed and the old value restored;
- when any rack inlet exceeds the limit, or the data goes stale (``revert_after_bad_ticks``
  site ticks in a row with stale or incomplete data, default 1), every setpoint we changed is
  reverted to its last known-good value (the value that held through ``settle_intervals`` healthy
  site ticks) within one poll interval, and automatic control pauses for an hour; a tick with bad
  data never acts, whatever that setting;
- ``advise`` never writes; ``approve`` applies a recommendation only after an operator approves
  it by id, within ``pending_expiry_s`` of its offer, and only if at that moment the data is
  still valid and fresh, the plant still runs the setpoints it was made for, and the current and
  predicted hottest inlets are within the limit; only applied changes start the recommender's
  rate-limit and dwell clocks; every action (when, what, why, before, after, predicted effect, who approved) is
  appended to a JSON-lines log and kept for the API and metrics.
"""

from __future__ import annotations

import asyncio
import json
import logging
import math
import os
import threading
import time
from collections import deque
from collections.abc import Callable, Iterator
from dataclasses import asdict, dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.config.site import DeviceConfig, RecommenderConfig, SiteConfig
from agent.devices.profiles import ProfileObject, ProfileRegistry
from agent.devices.reader import SetpointWriter
from agent.devices.readings import DeviceSnapshot
from agent.errors import DeviceError, WriteGuardError
from agent.site.conditions import site_conditions
from agent.site.poller import AgentState, SiteState
from models.optimiser import SetpointBounds

if TYPE_CHECKING:  # the model stack (scikit-learn) loads only when a recommender is built
    from agent.control.engine import Recommender
    from models.cooling import CoolingModel

__all__ = ["ActionRecord", "CoolingController", "RecommendationCollector", "SetpointActuator", "plan_setpoint",
           "setpoint_limits"]

log = logging.getLogger(__name__)

Clock = Callable[[], float]
PAUSE_AFTER_REVERT_S = 3600.0
#: a pending recommendation expires this many site intervals after its offer, unless configured
PENDING_EXPIRY_INTERVALS = 4.0
#: raw values an SNMP SET of a setpoint can carry (it is sent as an Integer32)
_RAW_MIN, _RAW_MAX = -(2**31), 2**31 - 1


def setpoint_limits(bounds: SetpointBounds) -> dict[str, tuple[float, float]]:
    """The configured setpoint bounds by writable quantity [C; economizer 0/1]."""
    return {"supply_air_setpoint_c": (bounds.supply_air_min_c, bounds.supply_air_max_c),
            "chw_supply_setpoint_c": (bounds.chw_supply_min_c, bounds.chw_supply_max_c),
            "economizer_enabled": (0.0, 1.0 if bounds.allow_economizer else 0.0)}


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
    exact = (value - obj.offset) / obj.scale
    if not (math.isfinite(exact) and _RAW_MIN - 2 <= exact <= _RAW_MAX + 2):
        return None
    raw = round(exact)
    up = 1 if obj.scale > 0 else -1  # the raw direction in which the decoded value grows
    for _ in range(2):  # the device's resolution may put the nearest raw value just outside a bound
        decoded = float(raw) * obj.scale + obj.offset  # as ProfileObject.decode does
        if decoded < lo:
            raw += up
        elif decoded > hi:
            raw -= up
    decoded = float(raw) * obj.scale + obj.offset
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
            raise WriteGuardError(f"{obj.quantity}={requested} outside the configured bounds "
                                  f"[{limits[0]}, {limits[1]}]")
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
        raise WriteGuardError(f"{obj.quantity}: no raw value of the device (scale {obj.scale:g}, offset "
                              f"{obj.offset:g}) decodes to within [{lo}, {hi}] near {value}")
    return float(raw) * obj.scale + obj.offset, raw


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

    def __init__(self, cfg: SiteConfig, profiles: ProfileRegistry, writer: SetpointWriter, log_path: Path | None,
                 clock: Clock = time.time, limits: dict[str, tuple[float, float]] | None = None) -> None:
        self._cfg = cfg
        #: configured bounds by quantity, on top of the profiles' (the recommender's setpoint bounds)
        self.limits = limits if limits is not None else setpoint_limits(SetpointBounds())
        self._profiles = profiles
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
            if dev.enabled and dev.write_credentials and self._profiles[dev.profile].writable(quantity):
                out.append(dev)
        return out

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
        log.log(level, "setpoint %s %s %s: %s -> %s (requested %s): %s; %s", record.kind, record.device,
                record.quantity, record.before, record.after, record.requested, record.result, record.reason)
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
        if obj is None or obj.writable is None or obj.oid is None:
            raise WriteGuardError(f"{dev.name}: profile {dev.profile} declares no writable {quantity}")
        try:
            return plan_setpoint(obj, value, self.limits.get(quantity) if kind == "apply" else None)
        except WriteGuardError as err:
            raise WriteGuardError(f"{dev.name}: {err}") from None

    async def write(self, dev: DeviceConfig, quantity: str, value: float, *, kind: str, reason: str,
                    predicted_savings_w: float | None = None, approved_by: str | None = None,
                    recommendation_id: int | None = None) -> ActionRecord:
        """Write one setpoint (as :meth:`plan` rounds it) and verify it by reading it back.

        Raises
        ------
        WriteGuardError
            the object is not a declared writable setpoint, or ``value`` cannot be written within bounds.
        """
        value, raw = self.plan(dev, quantity, value, kind=kind)
        obj = self._profiles[dev.profile].writable(quantity)
        assert obj is not None and obj.writable is not None and obj.oid is not None
        common: dict[str, Any] = {
            "kind": kind, "device": dev.name, "quantity": quantity, "requested": value, "reason": reason,
            "predicted_savings_w": predicted_savings_w, "approved_by": approved_by,
            "recommendation_id": recommendation_id}
        try:
            before = await self._read(dev, quantity)
            if before is None:
                # a profile may declare a setpoint some models of its family lack (optional objects): a
                # write goes only to an object the unit answers, never blind
                return self._record(ActionRecord(
                    self._clock(), before=None, after=None, result="refused",
                    error=f"{obj.oid} does not answer with a setpoint on this unit: nothing written", **common))
            await self._writer.write_setpoint(dev, obj, raw)
            after = await self._read(dev, quantity)
        except DeviceError as err:
            return self._record(ActionRecord(self._clock(), before=None, after=None, result="error",
                                             error=str(err), **common))
        tolerance = (obj.writable.step or 0.0) / 2 + 1e-6
        if after is None or abs(after - value) > tolerance:
            record = self._record(ActionRecord(self._clock(), before=before, after=after, result="mismatch",
                                               error="read-back differs from the value written", **common))
            if before is not None:
                try:
                    await self._writer.write_setpoint(dev, obj, obj.encode(before))
                except DeviceError as err:
                    log.error("%s: could not restore %s after a failed write: %s", dev.name, quantity, err)
            return record
        return self._record(ActionRecord(self._clock(), before=before, after=after, result="ok", **common))


@dataclass
class _Pending:
    id: int
    recommendation: Any
    created_s: float
    expires_s: float


def recommender_for(model: CoolingModel, rcfg: RecommenderConfig) -> Recommender:
    """The online :class:`~agent.control.engine.Recommender` for ``model`` with the configured rules."""
    from agent.control.engine import Recommender

    return Recommender(
        model, inlet_limit_c=rcfg.inlet_limit_c, max_step_c=rcfg.max_step_c,
        max_change_per_h_c=rcfg.max_change_per_h_c, economizer_min_dwell_s=rcfg.economizer_min_dwell_s,
        min_confidence=rcfg.min_confidence, min_savings_w=rcfg.min_savings_w,
        min_savings_fraction=rcfg.min_savings_fraction)


@dataclass
class _GuardState:
    known_good: dict[tuple[str, str], float] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)
    healthy_ticks: int = 0
    bad_data_ticks: int = 0
    paused_until_s: float = 0.0


class CoolingController:
    """Recommend every site tick; in ``approve``/``auto`` mode apply through the actuator; guard always."""

    def __init__(self, cfg: SiteConfig, rcfg: RecommenderConfig, recommender: Any, actuator: SetpointActuator,
                 clock: Clock = time.time) -> None:
        self._cfg = cfg
        self.rcfg = rcfg
        self.recommender = recommender
        self.actuator = actuator
        self._clock = clock
        self.latest: Any = None
        self.latest_inputs: dict[str, Any] = {}
        self.pending: _Pending | None = None
        self.pending_expiry_s = (rcfg.pending_expiry_s if rcfg.pending_expiry_s is not None
                                 else PENDING_EXPIRY_INTERVALS * cfg.poll_interval_s)
        #: why recent recommendations stopped pending (approved, expired, superseded...), by id
        self._retired: dict[int, str] = {}
        self._state: AgentState | None = None
        self._next_id = 1
        self._guard = _GuardState()
        self._tasks: set[asyncio.Task[Any]] = set()
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_applied: Any = None

    # --- inputs ------------------------------------------------------------------------------
    def _inputs(self, site: SiteState, state: AgentState,
                now: float | None = None) -> tuple[dict[str, Any], bool, str | None]:
        """The model's inputs from the readings fresh at ``now`` (default: the site tick's time)."""
        from agent.control.engine import Conditions, Setpoints

        now = site.timestamp_s if now is None else now
        cond = site_conditions(state, self._cfg, now)
        missing = cond.missing()
        it_w = site.it_w.value
        if it_w is None:
            missing.append("IT power")
        if missing:
            return {}, False, "stale or incomplete data: no " + ", ".join(missing)
        assert it_w is not None and cond.outdoor_dry_bulb_c is not None and cond.outdoor_wet_bulb_c is not None
        assert cond.supply_air_setpoint_c is not None and cond.chw_supply_setpoint_c is not None
        assert cond.economizer_enabled is not None and cond.max_inlet_c is not None  # else in `missing`
        inputs = {"conditions": Conditions(float(it_w), cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c),
                  "current": Setpoints(cond.supply_air_setpoint_c, cond.chw_supply_setpoint_c,
                                       cond.economizer_enabled),
                  "max_inlet_c": cond.max_inlet_c}
        ok = site.live.valid and cond.inlets_complete
        return inputs, ok, None if ok else "stale or incomplete data (PUE or rack inlets)"

    # --- observer ------------------------------------------------------------------------------
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        return None

    def on_site(self, site: SiteState, state: AgentState) -> None:
        from agent.control.engine import Recommendation

        now = site.timestamp_s
        self._state = state
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        inputs, data_ok, problem = self._inputs(site, state)
        self.latest_inputs = inputs
        breach = bool(inputs) and inputs["max_inlet_c"] > self.rcfg.inlet_limit_c
        self._guard.bad_data_ticks = 0 if data_ok else self._guard.bad_data_ticks + 1
        stale = self._guard.bad_data_ticks >= self.rcfg.revert_after_bad_ticks
        if self._guard.touched and (breach or stale):
            why = (f"rack inlet {inputs['max_inlet_c']:.1f} C above the {self.rcfg.inlet_limit_c:g} C limit"
                   if breach else (problem or "stale data"))
            self._spawn(self._revert(why))
        elif self._guard.touched and data_ok and not self._busy:
            self._guard.healthy_ticks += 1
            if self._guard.healthy_ticks >= self.rcfg.settle_intervals and inputs:
                cur = inputs["current"]
                for dev, q in list(self._guard.touched):
                    self._guard.known_good[(dev, q)] = {
                        "supply_air_setpoint_c": cur.supply_air_setpoint_c,
                        "chw_supply_setpoint_c": cur.chw_supply_setpoint_c,
                        "economizer_enabled": 1.0 if cur.economizer_enabled else 0.0}[q]
        if not inputs:
            self.latest = {"held_back_reason": problem, "timestamp_s": now}
            self._retire_pending(f"data went stale: {problem}")
            return
        if self.recommender is None:
            self.latest = {"held_back_reason": "no model: fit one with `pue-agent model fit` and set "
                                               "recommender.model_dir", "timestamp_s": now}
            return
        rec: Recommendation = self.recommender.recommend(now, inputs["conditions"], inputs["current"], data_ok)
        if breach and rec.held_back_reason is None:
            rec = _held(rec, "a rack inlet is above the limit: acting only to revert")
        elif now < self._guard.paused_until_s and rec.held_back_reason is None:
            rec = _held(rec, "paused for an hour after a revert")
        self.latest = rec
        if self.rcfg.mode == "approve":
            self._offer(rec, now)
            return
        if self.rcfg.mode == "advise" or rec.held_back_reason is not None or not rec.changed or self._busy:
            return
        if self.rcfg.mode == "auto" and rec.setpoints != self._last_applied:
            # the same target again only means the polls have not caught up with our last write yet
            self._last_applied = rec.setpoints
            self._spawn(self._apply(rec, approved_by=None, rec_id=None))

    def _retire_pending(self, why: str) -> None:
        if self.pending is not None:
            self._retired[self.pending.id] = why
            while len(self._retired) > 100:
                del self._retired[next(iter(self._retired))]
            self.pending = None

    def _offer(self, rec: Any, now: float) -> None:
        """Approve mode: keep, replace, expire or withdraw the pending recommendation after a tick."""
        pending = self.pending
        if pending is not None and now >= pending.expires_s:
            self._retire_pending(f"expired {self.pending_expiry_s:g} s after it was offered (pending_expiry_s)")
        elif rec.held_back_reason is not None:
            self._retire_pending(f"conditions changed: {rec.held_back_reason}")
        elif not rec.changed:
            self._retire_pending("conditions changed: no change is recommended any more")
        if rec.held_back_reason is not None or not rec.changed or self._busy:
            return
        if self.pending is not None and self.pending.recommendation.setpoints == rec.setpoints:
            self.pending.recommendation = rec  # still offered: same id and expiry, the latest predictions
            return
        if self.pending is not None:
            self._retire_pending(f"superseded by recommendation {self._next_id}")
        self.pending = _Pending(self._next_id, rec, now, now + self.pending_expiry_s)
        self._next_id += 1

    def _spawn(self, coro: Any) -> None:
        try:
            loop = asyncio.get_running_loop()
        except RuntimeError:
            coro.close()
            return
        self._loop = loop
        task = loop.create_task(coro)
        self._tasks.add(task)
        task.add_done_callback(self._tasks.discard)

    # --- actions -------------------------------------------------------------------------------
    async def _apply(self, rec: Any, approved_by: str | None, rec_id: int | None) -> list[ActionRecord]:
        self._busy = True
        records: list[ActionRecord] = []
        try:
            wanted = _wanted(rec)
            current = {"supply_air_setpoint_c": rec.current.supply_air_setpoint_c,
                       "chw_supply_setpoint_c": rec.current.chw_supply_setpoint_c,
                       "economizer_enabled": 1.0 if rec.current.economizer_enabled else 0.0}
            reason = (f"recommendation (model {rec.model_version}, confidence {rec.confidence:.2f}): "
                      f"predicted saving {rec.predicted_savings_w:.0f} W")
            for quantity, value in wanted.items():
                if abs(value - current[quantity]) < 1e-6:
                    continue
                for dev in self.actuator.targets(quantity):
                    key = (dev.name, quantity)
                    if key not in self._guard.known_good:
                        self._guard.known_good[key] = current[quantity]
                    try:
                        record = await self.actuator.write(
                            dev, quantity, value, kind="apply", reason=reason,
                            predicted_savings_w=rec.predicted_savings_w, approved_by=approved_by,
                            recommendation_id=rec_id)
                    except WriteGuardError as err:
                        record = self.actuator._record(ActionRecord(
                            self._clock(), "apply", dev.name, quantity, None, value, None, "blocked", reason,
                            rec.predicted_savings_w, approved_by, rec_id, str(err)))
                    records.append(record)
                    if record.result == "ok":
                        self._guard.touched.add(key)
                        self._guard.healthy_ticks = 0
            if approved_by is None and any(r.result == "error" for r in records):
                self._last_applied = None  # a SET lost to the network: auto mode tries again next tick
            written = {r.quantity for r in records if r.result == "ok"}
            if written and self.recommender is not None:
                # only a change that reached the plant starts the rate-limit and dwell clocks
                self.recommender.applied(self._clock(), replace(rec.current, **{
                    q: getattr(rec.setpoints, q) for q in written}))
        finally:
            self._busy = False
        return records

    async def _revert(self, why: str) -> list[ActionRecord]:
        if self._busy:
            return []
        self._busy = True
        records = []
        try:
            for dev_name, quantity in sorted(self._guard.touched):
                good = self._guard.known_good.get((dev_name, quantity))
                if good is None:
                    continue
                dev = self._cfg.device(dev_name)
                try:
                    records.append(await self.actuator.write(dev, quantity, good, kind="revert", reason=why))
                except WriteGuardError as err:
                    log.error("revert of %s %s blocked: %s", dev_name, quantity, err)
            if all(r.result == "ok" for r in records):
                self._guard.touched.clear()
            self._last_applied = None
            self._guard.paused_until_s = self._clock() + PAUSE_AFTER_REVERT_S
            self._retire_pending(f"setpoints reverted: {why}")
        finally:
            self._busy = False
        return records

    # --- operator API (called from the HTTP thread) ----------------------------------------------
    def approve(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Approve the pending recommendation ``payload["id"]``; checked and applied on the agent's loop."""
        rec_id = payload.get("id")
        who = str(payload.get("approved_by") or "").strip()
        if not who:
            return {"ok": False, "error": "approved_by is required (the audit log names who approved)"}
        if self.rcfg.mode != "approve":
            return {"ok": False, "error": f"mode is {self.rcfg.mode!r}: approvals apply only in 'approve' mode"}
        if not isinstance(rec_id, int) or isinstance(rec_id, bool):
            return {"ok": False, "error": f"id must be the integer pending_id, not {rec_id!r}"}
        if self._loop is None:
            return {"ok": False, "error": "agent loop not running"}
        future = asyncio.run_coroutine_threadsafe(self._approve(rec_id, who), self._loop)
        return future.result(timeout=60)

    async def _approve(self, rec_id: int, who: str) -> dict[str, Any]:
        # on the loop: no site tick runs between these checks and the first write
        pending = self.pending
        now = self._clock()
        if pending is None or pending.id != rec_id:
            why = self._retired.get(rec_id)
            error = (f"recommendation {rec_id} is no longer pending: {why}" if why
                     else f"no pending recommendation with id {rec_id!r}")
            return {"ok": False, "error": error, "pending_id": pending.id if pending else None}
        if now >= pending.expires_s:
            self._retire_pending(f"expired {self.pending_expiry_s:g} s after it was offered (pending_expiry_s)")
            return {"ok": False, "error": f"recommendation {rec_id} expired: offered {now - pending.created_s:.1f} s "
                                          f"ago, pending_expiry_s is {self.pending_expiry_s:g}", "pending_id": None}
        problem = self._unsafe_now(pending.recommendation, now)
        if problem is not None:
            return {"ok": False, "error": f"recommendation {rec_id} not applied: {problem}", "pending_id": rec_id}
        self._retire_pending(f"approved by {who}")
        records = await self._apply(pending.recommendation, who, pending.id)
        return {"ok": all(r.result == "ok" for r in records), "actions": [asdict(r) for r in records]}

    def _unsafe_now(self, rec: Any, now: float) -> str | None:
        """Why writing ``rec`` now would be unsafe (stale data, inlets, bounds, plant moved on), or None."""
        state = self._state
        site = state.site if state is not None else None
        if state is None or site is None:
            return "no site tick yet"
        stale_after = self._cfg.poll_interval_s * self._cfg.stale_after_intervals
        if now - site.timestamp_s > stale_after:
            return f"the last site tick is {now - site.timestamp_s:.1f} s old (stale after {stale_after:g} s)"
        if self._busy:
            return "another write or revert is in progress"
        if now < self._guard.paused_until_s:
            return "paused for an hour after a revert"
        inputs, data_ok, problem = self._inputs(site, state, now)
        if not inputs or not data_ok:
            return problem or "stale or incomplete data"
        limit = self.rcfg.inlet_limit_c
        if inputs["max_inlet_c"] > limit:
            return f"rack inlet {inputs['max_inlet_c']:.1f} C above the {limit:g} C limit"
        if rec.predicted_max_inlet_c is None or not rec.predicted_max_inlet_c <= limit:
            return f"predicted hottest inlet {rec.predicted_max_inlet_c} C not within the {limit:g} C limit"
        cur, then = inputs["current"], rec.current
        if (cur.economizer_enabled != then.economizer_enabled
                or abs(cur.supply_air_setpoint_c - then.supply_air_setpoint_c) > 1e-6
                or abs(cur.chw_supply_setpoint_c - then.chw_supply_setpoint_c) > 1e-6):
            return f"the plant's setpoints changed since the recommendation ({then} then, {cur} now)"
        for quantity, value in _wanted(rec).items():
            for dev in self.actuator.targets(quantity):
                try:
                    self.actuator.plan(dev, quantity, value)
                except WriteGuardError as err:
                    return str(err)
        return None

    def recommendation_json(self) -> dict[str, Any]:
        rec = self.latest
        out: dict[str, Any] = {"mode": self.rcfg.mode, "inlet_limit_c": self.rcfg.inlet_limit_c}
        if rec is None:
            out["held_back_reason"] = "no site tick yet"
        elif isinstance(rec, dict):
            out.update(rec)
        else:
            out.update(asdict(rec))
        pending = self.pending
        if pending is not None:
            out["pending_id"] = pending.id
            out["pending_expires_s"] = pending.expires_s
        if self.latest_inputs:
            out["max_inlet_c"] = self.latest_inputs.get("max_inlet_c")
        return out

    def actions_json(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in list(self.actuator.actions)]

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)


def _wanted(rec: Any) -> dict[str, float]:
    """The recommendation's setpoints by writable quantity (economizer 1 enabled, 0 disabled)."""
    return {"supply_air_setpoint_c": rec.setpoints.supply_air_setpoint_c,
            "chw_supply_setpoint_c": rec.setpoints.chw_supply_setpoint_c,
            "economizer_enabled": 1.0 if rec.setpoints.economizer_enabled else 0.0}


def _held(rec: Any, reason: str) -> Any:
    return replace(rec, setpoints=rec.current, predicted_savings_w=0.0, held_back_reason=reason)


class RecommendationCollector(Collector):
    """Recommendations and setpoint actions.

    Sample::

        pue_recommendation_setpoint_celsius{quantity="supply_air_setpoint_c"} 22.0
        pue_recommendation_economizer_enabled 1.0
        pue_recommendation_predicted_pue{scenario="current"} 1.41
        pue_recommendation_predicted_savings_watts 41000.0
        pue_recommendation_confidence_ratio 0.93
        pue_recommendation_pending_approval 0.0
        pue_setpoint_writes_total{device="crah-1",quantity="supply_air_setpoint_c",result="ok"} 3.0
        pue_setpoint_reverts_total{device="crah-1",quantity="supply_air_setpoint_c"} 1.0
    """

    def __init__(self, controller: CoolingController) -> None:
        self._c = controller

    def collect(self) -> Iterator[Metric]:
        from agent.export import metric_names as m

        c = self._c
        rec = c.latest
        mode = InfoMetricFamily(m.RECOMMENDATION_MODE_INFO.removesuffix("_info"), "Recommender mode",
                                labels=["mode"])
        mode.add_metric([c.rcfg.mode], {})
        yield mode
        pending = GaugeMetricFamily(m.RECOMMENDATION_PENDING, "1 when a recommendation waits for approval")
        pending.add_metric([], 1.0 if c.pending is not None else 0.0)
        yield pending
        if rec is not None and not isinstance(rec, dict):
            sp = GaugeMetricFamily(m.RECOMMENDATION_SETPOINT, "Recommended temperature setpoints",
                                   labels=["quantity"])
            sp.add_metric(["supply_air_setpoint_c"], rec.setpoints.supply_air_setpoint_c)
            sp.add_metric(["chw_supply_setpoint_c"], rec.setpoints.chw_supply_setpoint_c)
            yield sp
            econ = GaugeMetricFamily(m.RECOMMENDATION_ECONOMIZER, "Recommended economizer state (1 enabled)")
            econ.add_metric([], 1.0 if rec.setpoints.economizer_enabled else 0.0)
            yield econ
            pue = GaugeMetricFamily(m.RECOMMENDATION_PREDICTED_PUE, "Model-predicted real-time PUE",
                                    labels=["scenario"])
            power = GaugeMetricFamily(m.RECOMMENDATION_PREDICTED_POWER, "Model-predicted facility power",
                                      labels=["scenario"])
            for scenario, p, w in (("current", rec.predicted_pue_now, rec.predicted_facility_power_now_w),
                                   ("recommended", rec.predicted_pue, rec.predicted_facility_power_w)):
                if p is not None:
                    pue.add_metric([scenario], p)
                if w is not None:
                    power.add_metric([scenario], w)
            yield pue
            yield power
            savings = GaugeMetricFamily(m.RECOMMENDATION_SAVINGS, "Predicted facility power saved")
            savings.add_metric([], rec.predicted_savings_w)
            yield savings
            conf = GaugeMetricFamily(m.RECOMMENDATION_CONFIDENCE, "Probability the saving is real (0-1)")
            conf.add_metric([], rec.confidence)
            yield conf
            model = InfoMetricFamily(m.RECOMMENDATION_MODEL_INFO.removesuffix("_info"), "Model in use",
                                     labels=["version"])
            model.add_metric([rec.model_version], {})
            yield model
        reason = rec.get("held_back_reason") if isinstance(rec, dict) else getattr(rec, "held_back_reason", None)
        held = InfoMetricFamily(m.RECOMMENDATION_HELD_BACK_INFO.removesuffix("_info"),
                                "Why the current recommendation is held back", labels=["reason"])
        if reason:
            held.add_metric([reason], {})
        yield held
        writes = CounterMetricFamily(m.SETPOINT_WRITES, "Setpoint writes by result",
                                     labels=["device", "quantity", "result"])
        for (dev, q, result), n in sorted(c.actuator.counts.items()):
            writes.add_metric([dev, q, result], n)
        yield writes
        reverts = CounterMetricFamily(m.SETPOINT_REVERTS, "Setpoints reverted to last known-good",
                                      labels=["device", "quantity"])
        for (dev, q), n in sorted(c.actuator.reverts.items()):
            reverts.add_metric([dev, q], n)
        yield reverts
