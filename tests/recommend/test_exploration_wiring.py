"""recommender.exploration: strict config, and the pue_exploration_* metrics."""

from __future__ import annotations

from dataclasses import dataclass

import pytest
from prometheus_client import CollectorRegistry
from pydantic import ValidationError

from agent.config.site import RecommenderConfig
from agent.export.exploration import ExplorationCollector


def test_exploration_needs_a_writing_mode_and_known_keys() -> None:
    assert RecommenderConfig(mode="approve", exploration={"enabled": True}).exploration.mode == "approve"
    assert not RecommenderConfig().exploration.enabled
    with pytest.raises(ValidationError, match=r"needs recommender\.mode approve or auto"):
        RecommenderConfig(mode="advise", exploration={"enabled": True})
    with pytest.raises(ValidationError, match="extra"):
        RecommenderConfig(mode="auto", exploration={"enabled": True, "hold_hours": 2})
    with pytest.raises(ValidationError, match="safe_hours"):
        RecommenderConfig(mode="auto", exploration={"enabled": True, "safe_hours": [25]})
    with pytest.raises(ValidationError):
        RecommenderConfig(mode="auto", exploration={"enabled": True, "mode": "advise"})


@dataclass
class _Source:
    state: str = "holding"
    mode: str = "approve"
    support_fraction: float = 0.25
    steps_done: int = 7
    visited_fraction: float = 0.3


def test_exploration_metrics() -> None:
    registry = CollectorRegistry()
    registry.register(ExplorationCollector(_Source()))
    assert registry.get_sample_value("pue_exploration_steps_total") == 7
    assert registry.get_sample_value("pue_exploration_support_ratio") == 0.25
    assert registry.get_sample_value("pue_exploration_visited_ratio") == 0.3
    assert registry.get_sample_value("pue_exploration_state_info", {"state": "holding", "mode": "approve"}) == 1
