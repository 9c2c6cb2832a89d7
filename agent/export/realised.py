"""The realised-savings collector: what applied changes saved, measured, against what the model predicted.

Sample::

    pue_recommendation_realised_savings_watts{action="3"} 9800.0
    pue_recommendation_realised_savings_predicted_watts{action="3"} 10400.0
    pue_recommendation_realised_savings_uncertainty_watts{action="3"} 700.0
    pue_recommendation_realised_savings_kwh{period="day"} 9.8
    pue_recommendation_realised_savings_sum_watts{period="month"} 61000.0
    pue_recommendation_realised_evaluations_total{result="met"} 7.0
    pue_recommendation_poor_realisations_in_a_row 0.0
    pue_recommendation_realised_paused 0.0
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from typing import Any, Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.export import metric_names as m

__all__ = ["RealisedCollector", "RealisedSource"]

#: actions exported one by one (older ones are in the sums and the log)
PER_ACTION = 20


class RealisedSource(Protocol):
    """What the collector reads (:class:`agent.control.realised.RealisedSavings`)."""

    @property
    def results(self) -> Sequence[Mapping[str, Any]]: ...
    @property
    def counts(self) -> Mapping[str, int]: ...
    @property
    def poor_in_a_row(self) -> int: ...
    @property
    def pause_reason(self) -> str | None: ...
    def period_sums(self, now_s: float | None = None) -> Mapping[str, Mapping[str, float]]: ...


class RealisedCollector(Collector):
    def __init__(self, source: RealisedSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        s = self._source
        measured = [r for r in list(s.results)[-PER_ACTION:] if "realised_w" in r]
        for name, help_text, key in (
            (
                m.REALISED_SAVINGS,
                "Facility power an applied change saved, measured against the model at the old setpoints for the "
                "same weather and IT load, averaged over its window",
                "realised_w",
            ),
            (
                m.REALISED_PREDICTED,
                "Facility power the model predicted that change to save, same window",
                "predicted_w",
            ),
            (m.REALISED_UNCERTAINTY, "One standard deviation of the realised saving", "std_w"),
        ):
            gauge = GaugeMetricFamily(name, help_text, labels=["action"])
            for r in measured:
                gauge.add_metric([str(r["id"])], float(r[key]))
            yield gauge
        sums = s.period_sums()
        for name, help_text, key in (
            (m.REALISED_SUM_W, "Sum of the realised savings of the actions measured in the period", "realised_w"),
            (m.REALISED_SUM_PREDICTED_W, "Sum of their predicted savings", "predicted_w"),
            (m.REALISED_SUM_UNCERTAINTY_W, "One standard deviation of that sum (root sum of squares)", "std_w"),
            (m.REALISED_KWH, "Energy the actions measured in the period saved over their windows", "realised_kwh"),
            (m.REALISED_PREDICTED_KWH, "Energy the model predicted for the same windows", "predicted_kwh"),
            (m.REALISED_UNCERTAINTY_KWH, "One standard deviation of the realised energy", "std_kwh"),
            (m.REALISED_ACTIONS, "Applied changes measured in the period", "actions"),
        ):
            gauge = GaugeMetricFamily(name, help_text + " (period: day or month, site time zone)", labels=["period"])
            for period in ("day", "month"):
                gauge.add_metric([period], float(sums[period][key]))
            yield gauge
        evaluations = CounterMetricFamily(
            m.REALISED_EVALUATIONS,
            "Applied changes evaluated: met (realised within twice its uncertainty of the prediction, or more), "
            "short (less), dropped (too few ticks to measure)",
            labels=["result"],
        )
        for result, n in sorted(s.counts.items()):
            evaluations.add_metric([result], float(n))
        yield evaluations
        poor = GaugeMetricFamily(m.REALISED_POOR_IN_A_ROW, "Applied changes in a row that realised less than predicted")
        poor.add_metric([], float(s.poor_in_a_row))
        yield poor
        paused = GaugeMetricFamily(m.REALISED_PAUSED, "1 while the controller pauses after poor realisations")
        paused.add_metric([], 1.0 if s.pause_reason is not None else 0.0)
        yield paused
