"""The exploration collector: how far a site that never varied a setpoint has explored, and what it does now.

Sample::

    pue_exploration_steps_total 14
    pue_exploration_support_ratio 0.12
    pue_exploration_visited_ratio 0.15
    pue_exploration_state_info{state="holding",mode="approve"} 1
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.export import metric_names as m

__all__ = ["ExplorationCollector", "ExplorationSource"]


class ExplorationSource(Protocol):
    """What the collector reads (:class:`agent.control.explore.ExplorationDriver`)."""

    @property
    def state(self) -> str: ...
    @property
    def mode(self) -> str: ...
    @property
    def support_fraction(self) -> float: ...
    @property
    def steps_done(self) -> int: ...
    @property
    def visited_fraction(self) -> float: ...


class ExplorationCollector(Collector):
    def __init__(self, source: ExplorationSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        s = self._source
        steps = CounterMetricFamily(m.EXPLORATION_STEPS, "Lattice points explored (held long enough to learn)")
        steps.add_metric([], s.steps_done)
        yield steps
        support = GaugeMetricFamily(m.EXPLORATION_SUPPORT, "Share of the exploration lattice in the model's support")
        support.add_metric([], s.support_fraction)
        yield support
        visited = GaugeMetricFamily(m.EXPLORATION_VISITED, "Share of the exploration lattice visited or covered")
        visited.add_metric([], s.visited_fraction)
        yield visited
        state = InfoMetricFamily(
            m.EXPLORATION_STATE_INFO.removesuffix("_info"), "What exploration does now", labels=["state", "mode"]
        )
        state.add_metric([s.state, s.mode], {})
        yield state
