"""The retraining collector: when the cooling model was last retrained, on what, how well, or why not.

Sample::

    pue_model_retrain_info{result="ok",reason="retrained on 2016 complete 15-min intervals",model_version="..."} 1
    pue_model_retrains_total{result="ok"} 3
    pue_model_retrain_last_success_timestamp_seconds 1.76e9
    pue_model_retrain_rows 2016
    pue_model_validation_pue_mae 0.004
    pue_model_swaps_total{outcome="kept"} 2
    pue_model_swap_info{outcome="kept",reason="kept ...",champion_version="a1",challenger_version="b2"} 1
    pue_model_holdout_error_facility_power_mae_watts{model="champion"} 812.0
    pue_model_holdout_error_facility_power_cv_rmse_percent{model="challenger"} 0.21
    pue_model_holdout_error_max_inlet_mae_celsius{model="challenger"} 0.11
    pue_model_holdout_rows 192
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping
from typing import Protocol

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.export import metric_names as m

__all__ = ["RetrainCollector", "RetrainSource"]


class _Outcome(Protocol):
    @property
    def timestamp_s(self) -> float: ...
    @property
    def ok(self) -> bool: ...
    @property
    def rows(self) -> int: ...
    @property
    def message(self) -> str: ...
    @property
    def model_version(self) -> str | None: ...
    @property
    def pue_mae(self) -> float | None: ...
    @property
    def max_inlet_mae_c(self) -> float | None: ...
    @property
    def cooling_power_mae_w(self) -> float | None: ...
    @property
    def swap(self) -> str | None: ...
    @property
    def holdout_rows(self) -> int: ...
    @property
    def champion(self) -> _Score | None: ...
    @property
    def challenger(self) -> _Score | None: ...
    @property
    def champion_version(self) -> str | None: ...


class _Score(Protocol):
    @property
    def facility_power_mae_w(self) -> float: ...
    @property
    def facility_power_cv_rmse_percent(self) -> float: ...
    @property
    def max_inlet_mae_c(self) -> float: ...


class RetrainSource(Protocol):
    """What the collector reads (:class:`agent.control.retrain.Retrainer`)."""

    @property
    def last(self) -> _Outcome | None: ...
    @property
    def last_success(self) -> _Outcome | None: ...
    @property
    def counts(self) -> Mapping[str, int]: ...
    @property
    def swaps(self) -> Mapping[str, int]: ...
    @property
    def last_decision(self) -> _Outcome | None: ...


class RetrainCollector(Collector):
    def __init__(self, source: RetrainSource) -> None:
        self._source = source

    def collect(self) -> Iterator[Metric]:
        counts = CounterMetricFamily(
            m.MODEL_RETRAINS, "Cooling-model retrainings from the history store by result", labels=["result"]
        )
        for result, n in sorted(self._source.counts.items()):
            counts.add_metric([result], float(n))
        yield counts
        last = self._source.last
        info = InfoMetricFamily(
            m.MODEL_RETRAIN_INFO.removesuffix("_info"),
            "The last retraining: result, reason (why a model was kept), model version",
            labels=["result", "reason", "model_version"],
        )
        if last is None:
            info.add_metric(["none", "no retraining yet (runs every recommender.retrain_interval_h)", ""], {})
        else:
            info.add_metric(["ok" if last.ok else "failed", last.message, last.model_version or ""], {})
        yield info
        yield from self._swaps()
        good = self._source.last_success
        if good is None:
            return
        for name, help_text, value in (
            (
                m.MODEL_RETRAIN_LAST_SUCCESS,
                "When the model was last retrained successfully (Unix time)",
                good.timestamp_s,
            ),
            (m.MODEL_RETRAIN_ROWS, "Complete 15-min intervals the last successful retraining used", float(good.rows)),
            (m.MODEL_VALIDATION_PUE_MAE, "Hold-out mean absolute error of the retrained model's PUE", good.pue_mae),
            (
                m.MODEL_VALIDATION_INLET_MAE,
                "Hold-out mean absolute error of its hottest rack inlet [C]",
                good.max_inlet_mae_c,
            ),
            (
                m.MODEL_VALIDATION_COOLING_MAE,
                "Hold-out mean absolute error of its cooling power [W]",
                good.cooling_power_mae_w,
            ),
        ):
            if value is not None:
                gauge = GaugeMetricFamily(name, help_text)
                gauge.add_metric([], float(value))
                yield gauge

    def _swaps(self) -> Iterator[Metric]:
        swaps = CounterMetricFamily(
            m.MODEL_SWAPS,
            "Champion/challenger decisions after a retraining: swapped (the retrained model predicts the hold-out "
            "better) or kept (it does not, or ties)",
            labels=["outcome"],
        )
        for outcome, n in sorted(self._source.swaps.items()):
            swaps.add_metric([outcome], float(n))
        yield swaps
        last = self._source.last_decision
        if last is None:
            return
        info = InfoMetricFamily(
            m.MODEL_SWAP_INFO.removesuffix("_info"),
            "The last champion/challenger decision: outcome, reason (both scores), the two model versions",
            labels=["outcome", "reason", "champion_version", "challenger_version"],
        )
        info.add_metric([last.swap or "", last.message, last.champion_version or "", last.model_version or ""], {})
        yield info
        rows = GaugeMetricFamily(m.MODEL_HOLDOUT_ROWS, "Complete 15-min intervals both models were scored on")
        rows.add_metric([], float(last.holdout_rows))
        yield rows
        for name, help_text, attr in (
            (m.MODEL_HOLDOUT_POWER_MAE, "Hold-out facility power mean absolute error [W]", "facility_power_mae_w"),
            (
                m.MODEL_HOLDOUT_POWER_CV_RMSE,
                "Hold-out facility power RMSE over its mean, CV(RMSE) [%]",
                "facility_power_cv_rmse_percent",
            ),
            (m.MODEL_HOLDOUT_INLET_MAE, "Hold-out hottest rack inlet mean absolute error [C]", "max_inlet_mae_c"),
        ):
            gauge = GaugeMetricFamily(name, help_text, labels=["model"])
            for label, score in (("champion", last.champion), ("challenger", last.challenger)):
                if score is not None:
                    gauge.add_metric([label], float(getattr(score, attr)))
            yield gauge
