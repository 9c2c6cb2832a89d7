"""Approve mode: the pending recommendation, the operator's approve or reject, and the checks at approval.

``approve`` applies a recommendation only after an operator approves it by id (one rejected is withdrawn and
its setpoints not offered again for ``pending_expiry_s``), within ``pending_expiry_s`` of its offer, and only
if at that moment the data is still valid and fresh, the plant still runs the setpoints it was made for, and
the current and predicted hottest inlets are within the limit. :class:`OperatorApproval` is the part of
:class:`~agent.control.controller.CoolingController` that does this; the controller owns the state it reads.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine
from dataclasses import asdict, dataclass, field, replace
from typing import TYPE_CHECKING, Any

from agent.config.site import RecommenderConfig, SiteConfig
from agent.control.actuator import ActionRecord, Clock, SetpointActuator
from agent.control.explore import ExplorationDriver
from agent.control.lever_points import lever_names, setpoint_values
from agent.control.realised import RealisedSavings
from agent.errors import WriteGuardError
from agent.site.poller import AgentState, SiteState

if TYPE_CHECKING:  # the model stack (scikit-learn) loads only when a recommender is built
    from agent.control.controller import HeldBack, Inputs
    from agent.control.engine import Recommendation, Recommender, Setpoints

log = logging.getLogger(__name__)


@dataclass
class Pending:
    id: int
    recommendation: Recommendation
    created_s: float
    expires_s: float


@dataclass(frozen=True)
class Rejection:
    """An operator said no to these setpoints: they are not offered again until ``until_s``."""

    id: int
    setpoints: Setpoints
    by: str
    at_s: float
    until_s: float


@dataclass
class GuardState:
    """What the guard keeps: last known-good values and the setpoints we changed, healthy and bad-data ticks in a
    row, and the pause after a revert."""

    known_good: dict[tuple[str, str], float] = field(default_factory=dict)
    touched: set[tuple[str, str]] = field(default_factory=set)
    healthy_ticks: int = 0
    bad_data_ticks: int = 0
    paused_until_s: float = 0.0


class OperatorApproval:
    """Offers, approvals and rejections of :class:`~agent.control.controller.CoolingController` (approve mode).

    The controller sets every attribute below in its ``__init__`` and provides ``_inputs`` and ``_apply``.
    """

    _cfg: SiteConfig
    rcfg: RecommenderConfig
    actuator: SetpointActuator
    _clock: Clock
    latest: Recommendation | HeldBack | None
    pending: Pending | None
    pending_expiry_s: float
    _retired: dict[int, str]
    rejection: Rejection | None
    _state: AgentState | None
    _next_id: int
    _guard: GuardState
    _busy: bool
    _loop: asyncio.AbstractEventLoop | None
    exploration: ExplorationDriver | None
    realised: RealisedSavings
    recommender: Recommender | None

    def _inputs(self, site: SiteState, state: AgentState, now: float | None = None) -> tuple[Inputs, bool, str | None]:
        raise NotImplementedError

    async def _apply(self, rec: Recommendation, approved_by: str | None, rec_id: int | None) -> list[ActionRecord]:
        raise NotImplementedError

    def _retire_pending(self, why: str) -> None:
        if self.pending is not None:
            self._retired[self.pending.id] = why
            while len(self._retired) > 100:
                del self._retired[next(iter(self._retired))]
            self.pending = None

    def _offer(self, rec: Recommendation, now: float) -> None:
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
        rejected = self.rejection
        if rejected is not None and now < rejected.until_s and rejected.setpoints == rec.setpoints:
            self.latest = held(
                rec,
                f"rejected by an operator: {rejected.by} rejected recommendation {rejected.id} of these setpoints "
                f"({describe(rec.setpoints)}) {now - rejected.at_s:.0f} s ago; not offered again for "
                f"{rejected.until_s - now:.0f} s (pending_expiry_s {self.pending_expiry_s:g})",
            )
            return
        if self.pending is not None and self.pending.recommendation.setpoints == rec.setpoints:
            self.pending.recommendation = rec  # still offered: same id and expiry, the latest predictions
            return
        if self.pending is not None:
            self._retire_pending(f"superseded by recommendation {self._next_id}")
        self.pending = Pending(self._next_id, rec, now, now + self.pending_expiry_s)
        self._next_id += 1

    # --- operator API (called from the HTTP thread) ----------------------------------------------
    # the payloads and answers are JSON documents (json.loads / json.dumps): Any, as the json module types them
    def approve(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Approve the pending recommendation ``payload["id"]``; checked and applied on the agent's loop."""
        return self._operator_decision(
            payload,
            "approved_by",
            "approved_by is required (the audit log names who approved)",
            "approvals apply only in 'approve' mode",
            self._approve,
        )

    def reject(self, payload: dict[str, Any]) -> dict[str, Any]:
        """Reject the pending recommendation ``payload["id"]``: withdrawn, and its setpoints not offered again
        for ``pending_expiry_s``; logged with who rejected it."""
        return self._operator_decision(
            payload,
            "rejected_by",
            "rejected_by is required (the log names who rejected)",
            "only 'approve' mode offers recommendations",
            self._reject,
        )

    def _operator_decision(
        self,
        payload: dict[str, Any],
        who_key: str,
        who_missing: str,
        wrong_mode: str,
        decide: Callable[[int, str], Coroutine[Any, Any, dict[str, Any]]],
    ) -> dict[str, Any]:
        """An operator's approve or reject of ``payload["id"]`` by ``payload[who_key]``, run on the agent's loop."""
        rec_id = payload.get("id")
        who = str(payload.get(who_key) or "").strip()
        if not who:
            return {"ok": False, "error": who_missing}
        if not self._approving():
            return {"ok": False, "error": f"mode is {self.rcfg.mode!r}: {wrong_mode}"}
        if not isinstance(rec_id, int) or isinstance(rec_id, bool):
            return {"ok": False, "error": f"id must be the integer pending_id, not {rec_id!r}"}
        if self._loop is None:
            return {"ok": False, "error": "agent loop not running"}
        future = asyncio.run_coroutine_threadsafe(decide(rec_id, who), self._loop)
        return future.result(timeout=60)

    def _approving(self) -> bool:
        """Whether offers wait for an operator: approve mode, or exploration steps in its approve mode."""
        return self.rcfg.mode == "approve" or (self.exploration is not None and self.exploration.mode == "approve")

    async def _reject(self, rec_id: int, who: str) -> dict[str, Any]:
        pending = self.pending
        if pending is None or pending.id != rec_id:
            why = self._retired.get(rec_id)
            error = (
                f"recommendation {rec_id} is no longer pending: {why}"
                if why
                else f"no pending recommendation with id {rec_id!r}"
            )
            return {"ok": False, "error": error, "pending_id": pending.id if pending else None}
        now = self._clock()
        target = pending.recommendation.setpoints
        self.rejection = Rejection(rec_id, target, who, now, now + self.pending_expiry_s)
        self._retire_pending(f"rejected by {who}")
        log.info("recommendation %d (%s) rejected by %s", rec_id, describe(target), who)
        return {
            "ok": True,
            "rejected": rec_id,
            "rejected_by": who,
            "not_offered_again_until_s": now + self.pending_expiry_s,
        }

    async def _approve(self, rec_id: int, who: str) -> dict[str, Any]:
        # on the loop: no site tick runs between these checks and the first write
        pending = self.pending
        now = self._clock()
        if pending is None or pending.id != rec_id:
            why = self._retired.get(rec_id)
            error = (
                f"recommendation {rec_id} is no longer pending: {why}"
                if why
                else f"no pending recommendation with id {rec_id!r}"
            )
            return {"ok": False, "error": error, "pending_id": pending.id if pending else None}
        if now >= pending.expires_s:
            self._retire_pending(f"expired {self.pending_expiry_s:g} s after it was offered (pending_expiry_s)")
            return {
                "ok": False,
                "error": f"recommendation {rec_id} expired: offered {now - pending.created_s:.1f} s "
                f"ago, pending_expiry_s is {self.pending_expiry_s:g}",
                "pending_id": None,
            }
        problem = self._unsafe_now(pending.recommendation, now)
        if problem is not None:
            return {"ok": False, "error": f"recommendation {rec_id} not applied: {problem}", "pending_id": rec_id}
        self._retire_pending(f"approved by {who}")
        records = await self._apply(pending.recommendation, who, pending.id)
        return {"ok": all(r.result == "ok" for r in records), "actions": [asdict(r) for r in records]}

    def _unsafe_now(self, rec: Recommendation, now: float) -> str | None:
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
        poor = self.realised.paused(now)
        if poor is not None:
            return poor
        inputs, data_ok, problem = self._inputs(site, state, now)
        if not inputs or not data_ok:
            return problem or "stale or incomplete data"
        limit = self.rcfg.inlet_limit_c
        if inputs["max_inlet_c"] > limit:
            return f"rack inlet {inputs['max_inlet_c']:.1f} C above the {limit:g} C limit"
        if rec.predicted_max_inlet_c is None or not rec.predicted_max_inlet_c <= limit:
            return f"predicted hottest inlet {rec.predicted_max_inlet_c} C not within the {limit:g} C limit"
        cur, then = inputs["current"], rec.current
        if (
            cur.economizer_enabled != then.economizer_enabled
            or abs(cur.supply_air_setpoint_c - then.supply_air_setpoint_c) > 1e-6
            or abs(cur.chw_supply_setpoint_c - then.chw_supply_setpoint_c) > 1e-6
            or len(cur.levers) != len(then.levers)
            or any(abs(a - b) > 1e-6 * max(1.0, abs(b)) for a, b in zip(cur.levers, then.levers, strict=False))
        ):
            return f"the plant's setpoints changed since the recommendation ({then} then, {cur} now)"
        for quantity, value in wanted_values(rec, lever_names(self.recommender)).items():
            for dev in self.actuator.targets(quantity):
                try:
                    self.actuator.plan(dev, quantity, value)
                except WriteGuardError as err:
                    return str(err)
        return None


def wanted_values(rec: Recommendation, levers: tuple[str, ...] = ()) -> dict[str, float]:
    """The recommendation's setpoints by writable quantity (economizer 1 enabled, 0 disabled; ``levers`` by name)."""
    return setpoint_values(rec.setpoints, levers)


def describe(setpoints: Setpoints) -> str:
    economizer = "on" if setpoints.economizer_enabled else "off"
    return (
        f"supply air {setpoints.supply_air_setpoint_c:g} C, chilled water {setpoints.chw_supply_setpoint_c:g} C, "
        f"economizer {economizer}"
    )


def held(rec: Recommendation, reason: str) -> Recommendation:
    return replace(rec, setpoints=rec.current, predicted_savings_w=0.0, held_back_reason=reason)
