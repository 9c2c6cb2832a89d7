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
- ``advise`` never writes; ``approve`` waits for an operator (:mod:`agent.control.approval`);
  only applied changes start the recommender's rate-limit and dwell clocks; every action (when, what, why,
  before, after, predicted effect, who approved) is appended to a JSON-lines log and kept for the API and
  metrics.

The guarded write itself (planning, read-back, the action log) is :mod:`agent.control.actuator`; the
metrics are :mod:`agent.export.recommendation`.

Approve mode (the pending offer, the operator's approve and reject, the checks at approval) is
:mod:`agent.control.approval`, a part of the controller sharing its guard state.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Coroutine
from dataclasses import asdict
from typing import TYPE_CHECKING, Any, TypedDict

from agent.config.site import RecommenderConfig, SiteConfig
from agent.control.actuator import ActionRecord, Clock, SetpointActuator
from agent.control.approval import GuardState, OperatorApproval, Pending, Rejection, held, wanted_values
from agent.control.explore import ExplorationDriver
from agent.control.lever_points import (
    as_tuple,
    lever_names,
    levers_in_force,
    setpoint_ranges,
    setpoint_values,
    with_written,
)
from agent.control.realised import RealisedSavings, Sample
from agent.devices.readings import DeviceSnapshot
from agent.errors import WriteGuardError
from agent.site.conditions import site_conditions
from agent.site.poller import AgentState, SiteState

if TYPE_CHECKING:  # the model stack (scikit-learn) loads only when a recommender is built
    from agent.control.engine import Conditions, Recommendation, Recommender, Setpoints
    from models.cooling import CoolingModel

__all__ = ["CoolingController"]

log = logging.getLogger(__name__)

PAUSE_AFTER_REVERT_S = 3600.0
#: a pending recommendation expires this many site intervals after its offer, unless configured
PENDING_EXPIRY_INTERVALS = 4.0

#: what the controller shows while it has no recommendation: why, and when
HeldBack = dict[str, str | float | None]


class Inputs(TypedDict, total=False):
    """The model's inputs at a site tick (empty when the data is stale or incomplete)."""

    conditions: Conditions
    current: Setpoints
    max_inlet_c: float


class CoolingController(OperatorApproval):
    """Recommend every site tick; in ``approve``/``auto`` mode apply through the actuator; guard always."""

    def __init__(
        self,
        cfg: SiteConfig,
        rcfg: RecommenderConfig,
        recommender: Recommender | None,
        actuator: SetpointActuator,
        clock: Clock = time.time,
    ) -> None:
        self._cfg = cfg
        self.rcfg = rcfg
        self.recommender = recommender
        self.actuator = actuator
        self._clock = clock
        self.latest: Recommendation | HeldBack | None = None
        self.latest_inputs: Inputs = {}
        self.pending: Pending | None = None
        self.pending_expiry_s = (
            rcfg.pending_expiry_s
            if rcfg.pending_expiry_s is not None
            else PENDING_EXPIRY_INTERVALS * cfg.poll_interval_s
        )
        #: why recent recommendations stopped pending (approved, rejected, expired, superseded...), by id
        self._retired: dict[int, str] = {}
        self.rejection: Rejection | None = None
        self._state: AgentState | None = None
        self._next_id = 1
        self._guard = GuardState()
        self._tasks: set[asyncio.Task[list[ActionRecord]]] = set()
        self._busy = False
        self._loop: asyncio.AbstractEventLoop | None = None
        self._last_applied: Setpoints | None = None
        #: what each device accepts for each setpoint: a read outside it is not a value in force (uninitialised)
        self._ranges = setpoint_ranges(cfg, actuator.profiles)
        self._implausible: tuple[tuple[str, str], ...] = ()  # the last tick's setpoints read outside those ranges
        #: steps for a site whose history never varied a setpoint (recommender.exploration)
        self.exploration = (
            ExplorationDriver(cfg, rcfg.exploration, rcfg.inlet_limit_c, actuator) if rcfg.exploration.enabled else None
        )
        realised_log = rcfg.realised_log or rcfg.action_log.with_name(f"{rcfg.action_log.stem}.realised.jsonl")
        #: every applied change's realised saving, the day and month sums, the pause after poor ones
        self.realised = RealisedSavings(
            rcfg.realised_settle_s,
            rcfg.realised_window_s,
            realised_log,
            cfg.site.timezone,
            rcfg.poor_realisations_to_pause,
            rcfg.poor_realisation_pause_h * 3600.0,
            clock,
        )

    # --- inputs ------------------------------------------------------------------------------
    def _inputs(self, site: SiteState, state: AgentState, now: float | None = None) -> tuple[Inputs, bool, str | None]:
        """The model's inputs from the readings fresh at ``now`` (default: the site tick's time)."""
        from agent.control.engine import Conditions, Setpoints

        now = site.timestamp_s if now is None else now
        cond = site_conditions(state, self._cfg, now, self._ranges)
        self._implausible = cond.implausible
        missing = cond.missing()
        it_w = site.it_w.value
        if it_w is None:
            missing.append("IT power")
        if missing:
            return {}, False, "stale or incomplete data: no " + ", ".join(missing)
        assert it_w is not None and cond.outdoor_dry_bulb_c is not None and cond.outdoor_wet_bulb_c is not None
        assert cond.supply_air_setpoint_c is not None and cond.chw_supply_setpoint_c is not None
        assert cond.economizer_enabled is not None and cond.max_inlet_c is not None  # else in `missing`
        inputs: Inputs = {
            "conditions": Conditions(float(it_w), cond.outdoor_dry_bulb_c, cond.outdoor_wet_bulb_c),
            "current": Setpoints(
                cond.supply_air_setpoint_c,
                cond.chw_supply_setpoint_c,
                cond.economizer_enabled,
                levers_in_force(cond.levers, self._levers()),  # one not read: () and the recommender holds
            ),
            "max_inlet_c": cond.max_inlet_c,
        }
        ok = site.live.valid and cond.inlets_complete
        return inputs, ok, None if ok else "stale or incomplete data (PUE or rack inlets)"

    # --- observer ------------------------------------------------------------------------------
    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        return None

    def on_site(self, site: SiteState, state: AgentState) -> None:
        now = site.timestamp_s
        self._state = state
        try:
            self._loop = asyncio.get_running_loop()
        except RuntimeError:
            self._loop = None
        inputs, data_ok, problem = self._inputs(site, state)
        self.latest_inputs = inputs
        if inputs and data_ok and site.facility_w.value is not None:
            cond, cur = inputs["conditions"], inputs["current"]
            sample = Sample(
                now,
                cond.it_power_w,
                cond.outdoor_dry_bulb_c,
                cond.outdoor_wet_bulb_c,
                as_tuple(cur),
                float(site.facility_w.value),
            )
            self.realised.observe(sample, self._model())
        breach = bool(inputs) and inputs["max_inlet_c"] > self.rcfg.inlet_limit_c
        self._guard.bad_data_ticks = 0 if data_ok else self._guard.bad_data_ticks + 1
        stale = self._guard.bad_data_ticks >= self.rcfg.revert_after_bad_ticks
        if self._guard.touched and (breach or stale):
            why = (
                f"rack inlet {inputs['max_inlet_c']:.1f} C above the {self.rcfg.inlet_limit_c:g} C limit"
                if breach
                else (problem or "stale data")
            )
            self._spawn(self._revert(why))
        elif self._guard.touched and data_ok and not self._busy:
            self._guard.healthy_ticks += 1
            if self._guard.healthy_ticks >= self.rcfg.settle_intervals and inputs:
                in_force = setpoint_values(inputs["current"], self._levers())
                for dev, q in list(self._guard.touched):
                    if q in in_force:
                        self._guard.known_good[(dev, q)] = in_force[q]
        if not inputs:
            self.latest = {"held_back_reason": problem, "timestamp_s": now}
            self._retire_pending(f"data went stale: {problem}")
            return
        if self.exploration is not None:
            usable = data_ok and not breach and now >= self._guard.paused_until_s
            step = self.exploration.step(now, inputs, usable, self.recommender)
            if step is not None:  # exploring: its step is offered or written like a recommendation
                self.latest = step
                if self.exploration.mode == "approve":
                    self._offer(step, now)
                elif step.changed and not self._busy and step.setpoints != self._last_applied:
                    self._last_applied = step.setpoints
                    self._spawn(self._apply(step, approved_by=None, rec_id=None))
                return
        if self.recommender is None:
            self.latest = {
                "held_back_reason": "no model: fit one with `pue-agent model fit` and set recommender.model_dir",
                "timestamp_s": now,
            }
            return
        rec: Recommendation = self.recommender.recommend(now, inputs["conditions"], inputs["current"], data_ok)
        if self._implausible and (rec.held_back_reason or "").startswith("current values of the levers"):
            rec = held(rec, f"{rec.held_back_reason}: read {'; '.join(w for _, w in self._implausible)}")
        if breach and rec.held_back_reason is None:
            rec = held(
                rec,
                f"a rack inlet is above the limit: {inputs['max_inlet_c']:.1f} C over {self.rcfg.inlet_limit_c:g} C, "
                "acting only to revert",
            )
        elif now < self._guard.paused_until_s and rec.held_back_reason is None:
            rec = held(rec, "paused for an hour after a revert")
        elif rec.held_back_reason is None and (poor := self.realised.paused(now)) is not None:
            rec = held(rec, poor)
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

    def _spawn(self, coro: Coroutine[object, None, list[ActionRecord]]) -> None:
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
    async def _apply(self, rec: Recommendation, approved_by: str | None, rec_id: int | None) -> list[ActionRecord]:
        self._busy = True
        records: list[ActionRecord] = []
        try:
            names = self._levers()
            wanted = wanted_values(rec, names)
            current = setpoint_values(rec.current, names)
            reason = rec.reason or (
                f"recommendation (model {rec.model_version}, confidence {rec.confidence:.2f}): "
                f"predicted saving {rec.predicted_savings_w:.0f} W"
            )
            for quantity, value in wanted.items():
                if quantity not in current or abs(value - current[quantity]) < 1e-6:
                    continue
                for dev in self.actuator.targets(quantity):
                    key = (dev.name, quantity)
                    if key not in self._guard.known_good:
                        self._guard.known_good[key] = current[quantity]
                    try:
                        record = await self.actuator.write(
                            dev,
                            quantity,
                            value,
                            kind="apply",
                            reason=reason,
                            predicted_savings_w=rec.predicted_savings_w,
                            approved_by=approved_by,
                            recommendation_id=rec_id,
                        )
                    except WriteGuardError as err:
                        record = self.actuator._record(
                            ActionRecord(
                                self._clock(),
                                "apply",
                                dev.name,
                                quantity,
                                None,
                                value,
                                None,
                                "blocked",
                                reason,
                                rec.predicted_savings_w,
                                approved_by,
                                rec_id,
                                str(err),
                            )
                        )
                    records.append(record)
                    if record.result == "ok":
                        self._guard.touched.add(key)
                        self._guard.healthy_ticks = 0
            if approved_by is None and any(r.result == "error" for r in records):
                self._last_applied = None  # a SET lost to the network: auto mode tries again next tick
            written = {r.quantity for r in records if r.result == "ok"}
            if written and self.recommender is not None:
                # only a change that reached the plant starts the rate-limit and dwell clocks
                new = with_written(rec.current, rec.setpoints, written, names)
                self.recommender.applied(self._clock(), new)
                if not (rec.reason or "").startswith("exploration"):
                    # an exploration step is made to learn, not to save: its realisation would count as poor
                    self.realised.applied(
                        self._clock(), as_tuple(rec.current), as_tuple(new), rec.predicted_savings_w, self._model()
                    )
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
            self.realised.reverted(self._clock(), self._model(), why)
            self._retire_pending(f"setpoints reverted: {why}")
        finally:
            self._busy = False
        return records

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
        if self.rejection is not None and self._clock() < self.rejection.until_s:
            out["rejected"] = asdict(self.rejection)
        if self.latest_inputs:
            out["max_inlet_c"] = self.latest_inputs.get("max_inlet_c")
        if self.exploration is not None:
            out["exploration"] = self.exploration.status_json()
        out["realised_savings"] = self.realised.as_json(last=5)
        out["lever_names"] = list(self._levers())  # what setpoints.levers and current.levers hold, in order
        return out

    def _levers(self) -> tuple[str, ...]:
        """The levers the recommender in use chooses (a retrained model may bring others), in its order."""
        return lever_names(self.recommender)

    @property
    def lever_names(self) -> tuple[str, ...]:
        """The quantities ``latest.setpoints.levers`` holds values of, in order (empty on a site without levers)."""
        return self._levers()

    def _model(self) -> CoolingModel | None:
        # a recommender without a model (tests' stubs): nothing to measure realised savings against
        return getattr(self.recommender, "model", None)

    def on_model_swapped(self, outcome: object) -> None:
        """A retrained model replaced the one in use: a pause after poor realisations ends."""
        self.realised.resume("a retrained model was swapped in")

    def actions_json(self) -> list[dict[str, Any]]:
        return [asdict(a) for a in list(self.actuator.actions)]

    async def wait_idle(self) -> None:
        while self._tasks:
            await asyncio.gather(*list(self._tasks), return_exceptions=True)
