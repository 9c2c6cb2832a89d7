"""Rejecting a pending recommendation (approve mode): withdrawn, named, and not offered again for a while."""

from __future__ import annotations

import asyncio
from pathlib import Path

from agent.config.site import RecommenderConfig, load_config
from agent.control.actuator import SetpointActuator
from agent.control.controller import CoolingController
from agent.control.engine import Recommendation, Setpoints

ROOT = Path(__file__).resolve().parents[2]
NOW = Setpoints(18.0, 7.0, False)
TARGET = Setpoints(19.0, 8.0, True)


def _rec(t: float, target: Setpoints = TARGET) -> Recommendation:
    return Recommendation(t, target, NOW, 1.3e6, 1.25e6, 1.41, 1.36, 24.5, 50e3, 0.97, "m", None)


def _controller(clock: list[float]) -> CoolingController:
    cfg, profiles = load_config(ROOT / "configs" / "twin-site.yaml")
    rcfg = RecommenderConfig(mode="approve", pending_expiry_s=300.0)
    actuator = SetpointActuator(cfg, profiles, writer=None, log_path=None)  # type: ignore[arg-type]
    return CoolingController(cfg, rcfg, None, actuator, clock=lambda: clock[0])


def test_a_rejected_recommendation_is_withdrawn_and_its_setpoints_not_offered_again_until_the_expiry() -> None:
    clock = [1000.0]
    controller = _controller(clock)
    controller._offer(_rec(1000.0), 1000.0)
    assert controller.pending is not None and controller.pending.id == 1
    wrong = asyncio.run(controller._reject(5, "alice"))
    assert not wrong["ok"] and wrong["error"] == "no pending recommendation with id 5"
    done = asyncio.run(controller._reject(1, "alice"))
    assert done["ok"] and done["rejected_by"] == "alice" and controller.pending is None
    again = asyncio.run(controller._approve(1, "bob"))
    assert again["error"] == "recommendation 1 is no longer pending: rejected by alice"
    # the same setpoints next tick: not offered, and the recommendation says why with the numbers
    clock[0] = 1010.0
    controller._offer(_rec(1010.0), 1010.0)
    assert controller.pending is None
    held = controller.latest
    assert isinstance(held, Recommendation) and held.setpoints == NOW
    assert held.held_back_reason == (
        "rejected by an operator: alice rejected recommendation 1 of these setpoints (supply air 19 C, chilled "
        "water 8 C, economizer on) 10 s ago; not offered again for 290 s (pending_expiry_s 300)"
    )
    assert controller.recommendation_json()["rejected"]["by"] == "alice"
    # other setpoints are offered at once; the rejected ones again once the rejection has run out
    other = Setpoints(18.0, 8.0, False)
    controller._offer(_rec(1011.0, other), 1011.0)
    assert controller.pending is not None and controller.pending.id == 2
    clock[0] = 1301.0
    controller._offer(_rec(1301.0), 1301.0)
    assert controller.pending is not None and controller.pending.recommendation.setpoints == TARGET


def test_reject_needs_a_name_an_integer_id_and_approve_mode() -> None:
    controller = _controller([0.0])
    assert "rejected_by is required" in controller.reject({"id": 1})["error"]
    assert "integer pending_id" in controller.reject({"id": "1", "rejected_by": "a"})["error"]
    controller.rcfg = controller.rcfg.model_copy(update={"mode": "advise"})
    assert "only 'approve' mode" in controller.reject({"id": 1, "rejected_by": "a"})["error"]


def test_the_held_back_metric_carries_the_reasons_first_clause_not_its_changing_numbers() -> None:
    from prometheus_client.registry import CollectorRegistry

    from agent.export.recommendation import RecommendationCollector

    clock = [1000.0]
    controller = _controller(clock)
    registry = CollectorRegistry()
    registry.register(RecommendationCollector(controller))
    controller._offer(_rec(1000.0), 1000.0)
    asyncio.run(controller._reject(1, "alice"))
    for t in (1010.0, 1020.0):  # the seconds left change every tick; the exported label does not
        clock[0] = t
        controller._offer(_rec(t), t)
        assert (
            registry.get_sample_value("pue_recommendation_held_back_info", {"reason": "rejected by an operator"}) == 1
        )
    assert "280 s" in controller.recommendation_json()["held_back_reason"]  # ... the API keeps the numbers
