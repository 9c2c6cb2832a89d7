"""The shard-mode collector: this shard's boundary energies, completeness and identity (:mod:`agent.site.shard`)."""

from __future__ import annotations

from collections.abc import Iterator

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent.export import metric_names as m
from agent.site.shard import ShardAccountant

__all__ = ["ShardCollector"]


class ShardCollector(Collector):
    """This shard's boundary energies, completeness and identity.

    Sample::

        pue_shard_energy_joules_total{boundary="it"} 2.9e11
        pue_shard_complete_seconds_total 2.6e6
        pue_shard_complete 1.0
        pue_shard_info{shard="1",shards="2"} 1.0
    """

    def __init__(self, accountant: ShardAccountant) -> None:
        self._acc = accountant

    def collect(self) -> Iterator[Metric]:
        energy = CounterMetricFamily(
            m.SHARD_ENERGY,
            "Energy of this shard's own topology contributors by boundary, over complete ticks only; "
            "divide by pue_shard_complete_seconds_total, sum across shards, then divide boundaries",
            labels=["boundary"],
        )
        for boundary, total in sorted(self._acc.totals_j.items()):
            energy.add_metric([boundary], total)
        yield energy
        covered = CounterMetricFamily(
            m.SHARD_COMPLETE_SECONDS,
            "Seconds of the complete ticks the shard energies cover; divide each shard's energy increase by it "
            "before summing shards",
        )
        covered.add_metric([], self._acc.complete_s)
        yield covered
        complete = GaugeMetricFamily(
            m.SHARD_COMPLETE, "1 if every own facility and IT contributor was known over the last tick interval"
        )
        complete.add_metric([], 1.0 if self._acc.complete else 0.0)
        yield complete
        count = GaugeMetricFamily(m.SHARD_COUNT, "How many shards the site is split into (N of --shard I/N)")
        count.add_metric([], float(self._acc.shard.count))
        yield count
        info = InfoMetricFamily(
            m.SHARD_INFO.removesuffix("_info"), "Which shard of how many this agent is", labels=["shard", "shards"]
        )
        info.add_metric([str(self._acc.shard.index), str(self._acc.shard.count)], {})
        yield info
