"""The recommendation collector: the latest recommendation, whether one waits for approval, setpoint writes
and reverts.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.export import metric_names as m

__all__ = ["RecommendationCollector", "RecommendationSource"]


class _Setpoints(Protocol):
    @property
    def supply_air_setpoint_c(self) -> float: ...
    @property
    def chw_supply_setpoint_c(self) -> float: ...
    @property
    def economizer_enabled(self) -> bool: ...
    @property
    def levers(self) -> tuple[float, ...]: ...


class _Recommendation(Protocol):
    @property
    def setpoints(self) -> _Setpoints: ...
    @property
    def predicted_facility_power_now_w(self) -> float | None: ...
    @property
    def predicted_facility_power_w(self) -> float | None: ...
    @property
    def predicted_pue_now(self) -> float | None: ...
    @property
    def predicted_pue(self) -> float | None: ...
    @property
    def predicted_savings_w(self) -> float: ...
    @property
    def confidence(self) -> float: ...
    @property
    def model_version(self) -> str: ...
    @property
    def held_back_reason(self) -> str | None: ...


class _Mode(Protocol):
    @property
    def mode(self) -> str: ...


class _Actions(Protocol):
    @property
    def counts(self) -> Mapping[tuple[str, str, str], int]: ...
    @property
    def reverts(self) -> Mapping[tuple[str, str], int]: ...


class RecommendationSource(Protocol):
    """What the collector reads (:class:`agent.control.controller.CoolingController`)."""

    @property
    def latest(self) -> _Recommendation | dict[str, str | float | None] | None: ...
    @property
    def pending(self) -> object | None: ...
    @property
    def rcfg(self) -> _Mode: ...
    @property
    def actuator(self) -> _Actions: ...


class RecommendationCollector(Collector):
    """Recommendations and setpoint actions.

    Sample::

        pue_recommendation_setpoint_celsius{quantity="supply_air_setpoint_c"} 22.0
        pue_recommendation_lever_setpoint{quantity="chw_pump_dp_setpoint_pa"} 90000.0  (a site with levers)
        pue_recommendation_economizer_enabled 1.0
        pue_recommendation_predicted_pue{scenario="current"} 1.41
        pue_recommendation_predicted_savings_watts 41000.0
        pue_recommendation_confidence_ratio 0.93
        pue_recommendation_pending_approval 0.0
        pue_setpoint_writes_total{device="crah-1",quantity="supply_air_setpoint_c",result="ok"} 3.0
        pue_setpoint_reverts_total{device="crah-1",quantity="supply_air_setpoint_c"} 1.0
    """

    def __init__(self, controller: RecommendationSource) -> None:
        self._c = controller

    def collect(self) -> Iterator[Metric]:
        c = self._c
        rec = c.latest
        mode = InfoMetricFamily(m.RECOMMENDATION_MODE_INFO.removesuffix("_info"), "Recommender mode", labels=["mode"])
        mode.add_metric([c.rcfg.mode], {})
        yield mode
        pending = GaugeMetricFamily(m.RECOMMENDATION_PENDING, "1 when a recommendation waits for approval")
        pending.add_metric([], 1.0 if c.pending is not None else 0.0)
        yield pending
        if rec is not None and not isinstance(rec, dict):
            sp = GaugeMetricFamily(m.RECOMMENDATION_SETPOINT, "Recommended temperature setpoints", labels=["quantity"])
            sp.add_metric(["supply_air_setpoint_c"], rec.setpoints.supply_air_setpoint_c)
            sp.add_metric(["chw_supply_setpoint_c"], rec.setpoints.chw_supply_setpoint_c)
            yield sp
            names = tuple(getattr(c, "lever_names", ()))
            if names and len(names) == len(rec.setpoints.levers):
                levers = GaugeMetricFamily(
                    m.RECOMMENDATION_LEVER,
                    "Recommended value of each of the site's optional levers (recommender.levers), in the unit its "
                    "quantity name ends with: _c degrees Celsius, _pa pascals, _ratio 0-1, _running units running",
                    labels=["quantity"],
                )
                for name, value in zip(names, rec.setpoints.levers, strict=True):
                    levers.add_metric([name], value)
                yield levers
            econ = GaugeMetricFamily(m.RECOMMENDATION_ECONOMIZER, "Recommended economizer state (1 enabled)")
            econ.add_metric([], 1.0 if rec.setpoints.economizer_enabled else 0.0)
            yield econ
            pue = GaugeMetricFamily(
                m.RECOMMENDATION_PREDICTED_PUE, "Model-predicted real-time PUE", labels=["scenario"]
            )
            power = GaugeMetricFamily(
                m.RECOMMENDATION_PREDICTED_POWER, "Model-predicted facility power", labels=["scenario"]
            )
            for scenario, p, w in (
                ("current", rec.predicted_pue_now, rec.predicted_facility_power_now_w),
                ("recommended", rec.predicted_pue, rec.predicted_facility_power_w),
            ):
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
            model = InfoMetricFamily(
                m.RECOMMENDATION_MODEL_INFO.removesuffix("_info"), "Model in use", labels=["version"]
            )
            model.add_metric([rec.model_version], {})
            yield model
        reason = rec.get("held_back_reason") if isinstance(rec, dict) else getattr(rec, "held_back_reason", None)
        held = InfoMetricFamily(
            m.RECOMMENDATION_HELD_BACK_INFO.removesuffix("_info"),
            "Why the current recommendation is held back: the reason's first clause (the whole reason, with its "
            "numbers, is in /api/v1/recommendation)",
            labels=["reason"],
        )
        if reason:
            # the numbers after the colon change every tick: as a label they would make a new series each time
            held.add_metric([str(reason).split(":", 1)[0]], {})
        yield held
        writes = CounterMetricFamily(
            m.SETPOINT_WRITES, "Setpoint writes by result", labels=["device", "quantity", "result"]
        )
        for (dev, q, result), n in sorted(c.actuator.counts.items()):
            writes.add_metric([dev, q, result], n)
        yield writes
        reverts = CounterMetricFamily(
            m.SETPOINT_REVERTS, "Setpoints reverted to last known-good", labels=["device", "quantity"]
        )
        for (dev, q), n in sorted(c.actuator.reverts.items()):
            reverts.add_metric([dev, q], n)
        yield reverts
