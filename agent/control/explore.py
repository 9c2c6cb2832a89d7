"""Exploration in the running agent: the planner (models/exploration.py) fed by site ticks, its steps offered.

:class:`ExplorationDriver` builds the planner at the first tick with usable data: home is the setpoints the
plant runs then, the box the writable range every target device accepts within the configured bounds
(:meth:`agent.control.actuator.SetpointActuator.writable_range`), the rack approach the hottest inlet minus
the supply-air setpoint then. Each tick it asks the planner where the plant should be and returns that as a
:class:`~agent.control.engine.Recommendation` whose ``reason`` starts with "exploration": the controller offers
it for approval (``exploration.mode: approve``) or writes it (``auto``) through the same guarded path as any
recommendation, and reverts it on an inlet breach like any write. After each retraining (a new model version)
the model's support and hold-out errors tell the planner what is covered and whether to stop.
"""

from __future__ import annotations

import math
from collections import deque
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from zoneinfo import ZoneInfo

from agent.config.site import ExplorationConfig, SiteConfig
from agent.control.actuator import SetpointActuator
from models.exploration import ExplorationBox, ExplorationPlanner, ExplorationSettings, Point, peak_hour, safe_hour

if TYPE_CHECKING:
    from agent.control.controller import Inputs
    from agent.control.engine import Recommendation, Recommender

__all__ = ["ExplorationDriver"]

#: recent outdoor air kept to find the day's warmest hour: a week, one sample per 10 minutes
_RECENT_SAMPLES = 7 * 24 * 6
_SAMPLE_EVERY_S = 600.0


class ExplorationDriver:
    """Plans exploration steps for :class:`agent.control.controller.CoolingController`.

    Parameters
    ----------
    cfg : SiteConfig
        The site (its time zone decides the local hours).
    ecfg : ExplorationConfig
        ``recommender.exploration``.
    inlet_limit_c : float
        The recommender's inlet limit [C].
    actuator : SetpointActuator
        Where the writable ranges come from.
    """

    def __init__(
        self, cfg: SiteConfig, ecfg: ExplorationConfig, inlet_limit_c: float, actuator: SetpointActuator
    ) -> None:
        self.ecfg = ecfg
        self.mode = ecfg.mode
        self.settings = ExplorationSettings(
            step_k=ecfg.step_k,
            max_move_k=ecfg.max_move_k,
            hold_h=ecfg.hold_h,
            settle_h=ecfg.settle_h,
            inlet_limit_c=inlet_limit_c,
            inlet_margin_k=ecfg.inlet_margin_k,
            coil_approach_k=ecfg.coil_approach_k,
            explore_economizer=ecfg.explore_economizer,
            explore_colder_k=ecfg.explore_colder_k,
            avoid_peak_h=ecfg.avoid_peak_h,
            safe_hours=ecfg.safe_hours,
            target_support_fraction=ecfg.target_support_fraction,
            max_inlet_mae_c=ecfg.max_inlet_mae_c,
            max_facility_mape_percent=ecfg.max_facility_mape_percent,
            seed=ecfg.seed,
        )
        self._zone = ZoneInfo(cfg.site.timezone) if cfg.site.timezone != "UTC" else UTC
        self._actuator = actuator
        self.planner: ExplorationPlanner | None = None
        self.state = "starting"
        self.reason = "no site tick with usable data yet"
        self.support_fraction = 0.0
        self._model_version: str | None = None
        self._recent: deque[tuple[float, float]] = deque(maxlen=_RECENT_SAMPLES)
        self._last_sample_s = -math.inf

    def _local_hour(self, now_s: float) -> float:
        t = datetime.fromtimestamp(now_s, self._zone)
        return t.hour + t.minute / 60.0

    def _build(self, current: Point, max_inlet_c: float) -> ExplorationPlanner | None:
        supply = self._actuator.writable_range("supply_air_setpoint_c")
        chw = self._actuator.writable_range("chw_supply_setpoint_c")
        if supply is None or chw is None:
            missing = [q for q, r in (("supply air", supply), ("chilled water", chw)) if r is None]
            self.state, self.reason = (
                "unavailable",
                f"no writable {' or '.join(missing)} setpoint with write credentials",
            )
            return None
        economizer = self._actuator.writable_range("economizer_enabled")
        settings = self.settings
        if economizer is None or economizer[1] < 1.0:
            settings = ExplorationSettings(**{**settings.__dict__, "explore_economizer": False})
        box = ExplorationBox(
            supply[0], supply[1], chw[0], chw[1], supply[2], chw[2], rack_approach_k=max(0.0, max_inlet_c - current[0])
        )
        return ExplorationPlanner(current, box, settings)

    def _learn(self, recommender: Recommender | None) -> None:
        """After a retraining: the new model's support and errors mark covered points and may stop exploring."""
        if recommender is None or self.planner is None or recommender.model.version == self._model_version:
            return
        model = recommender.model
        self._model_version = model.version
        self.support_fraction = self.planner.covered(model.support)
        v = model.validation
        self.planner.finish_if_good(self.support_fraction, v.max_inlet_mae_c, v.facility_power_mape_percent)

    def step(
        self, now_s: float, inputs: Inputs, usable: bool, recommender: Recommender | None
    ) -> Recommendation | None:
        """The exploration step for this tick, or None when exploration does not act (finished, unusable data).

        ``usable`` is False when the data is stale, an inlet is above the limit or writes are paused after
        a revert: then the planner is not asked and the controller's usual path holds back.
        """
        from agent.control.engine import Recommendation, Setpoints

        if not usable or not inputs:
            return None
        cur = inputs["current"]
        current: Point = (cur.supply_air_setpoint_c, cur.chw_supply_setpoint_c, cur.economizer_enabled)
        max_inlet_c = inputs["max_inlet_c"]
        cond = inputs["conditions"]
        if now_s - self._last_sample_s >= _SAMPLE_EVERY_S:
            self._recent.append((self._local_hour(now_s), cond.outdoor_dry_bulb_c))
            self._last_sample_s = now_s
        if self.planner is None:
            if self.state == "unavailable":
                return None
            self.planner = self._build(current, max_inlet_c)
            if self.planner is None:
                return None
        self._learn(recommender)
        hours = [h for h, _ in self._recent]
        warmest = peak_hour(hours, [t for _, t in self._recent]) if len(self._recent) >= 24 else None
        step = self.planner.step(
            now_s, current, max_inlet_c, safe_hour(self._local_hour(now_s), self.settings, warmest)
        )
        self.state, self.reason = step.state, step.reason
        if step.state in ("finished", "exhausted"):
            return None
        target = Setpoints(*step.setpoints, cur.levers)  # the levers stay where they are (docs/levers.md)
        rise_k = max(0.0, target.supply_air_setpoint_c - cur.supply_air_setpoint_c)
        predicted_inlet_c = max_inlet_c + self.settings.inlet_gain * rise_k
        now_w = then_w = pue_now = pue_then = None
        version = "none"
        if recommender is not None:
            import numpy as np

            model = recommender.model
            version = model.version
            rows = np.array(
                [
                    [
                        cond.it_power_w,
                        cond.outdoor_dry_bulb_c,
                        cond.outdoor_wet_bulb_c,
                        *current[:2],
                        float(current[2]),
                        *cur.levers,
                    ],
                    [
                        cond.it_power_w,
                        cond.outdoor_dry_bulb_c,
                        cond.outdoor_wet_bulb_c,
                        *step.setpoints[:2],
                        float(step.setpoints[2]),
                        *cur.levers,
                    ],
                ]
            )
            if len(cur.levers) == len(getattr(model, "lever_columns", ())):  # else the levers in force are unknown
                p = model.predict(rows, facility_uncertainty=False)
                now_w, then_w = float(p.facility_power_w[0]), float(p.facility_power_w[1])
                pue_now, pue_then = float(p.pue[0]), float(p.pue[1])
        changed = step.changed(current)
        return Recommendation(
            timestamp_s=now_s,
            setpoints=target,
            current=cur,
            predicted_facility_power_now_w=now_w,
            predicted_facility_power_w=then_w,
            predicted_pue_now=pue_now,
            predicted_pue=pue_then,
            predicted_max_inlet_c=predicted_inlet_c,
            predicted_savings_w=(now_w - then_w) if (changed and now_w is not None and then_w is not None) else 0.0,
            confidence=0.0,
            model_version=version,
            held_back_reason=None if changed else step.reason,
            reason=step.reason if changed else None,
        )

    def status_json(self) -> dict[str, Any]:
        """State for /api/v1/recommendation and the agent's page."""
        p = self.planner
        out: dict[str, Any] = {
            "enabled": True,
            "mode": self.mode,
            "state": self.state,
            "reason": self.reason,
            "support_fraction": self.support_fraction,
        }
        if p is not None:
            out.update(
                home=list(p.home),
                lattice_points=len(p.targets),
                ring=p.ring,
                steps_done=p.visits,
                visited_fraction=p.visited_fraction,
                next_points=[list(x) for x in p.preview(5)],
            )
        return out

    @property
    def steps_done(self) -> int:
        """Lattice points held long enough to learn from."""
        return self.planner.visits if self.planner is not None else 0

    @property
    def visited_fraction(self) -> float:
        """Share of the lattice visited or covered by the model's support [-]."""
        return self.planner.visited_fraction if self.planner is not None else 0.0
