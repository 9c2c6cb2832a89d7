"""Prometheus collectors, one per concern. Each builds fresh metric families at every scrape
from the agent's cached state (the agent polls on its own timer: values are "cached").

All values are in base units: watts, joules (counters), celsius, volts, amperes, ratios 0-1.
A device whose last poll failed, or that is stale, exports no readings: only ``pue_device_up 0``.
"""

from __future__ import annotations

import platform
import time
from collections.abc import Callable, Iterator
from typing import Any

from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, InfoMetricFamily, Metric
from prometheus_client.registry import Collector

from agent import __version__
from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.config.emission import load_emission_factor
from agent.config.site import SiteConfig
from agent.devices.quantities import GLOSSARY
from agent.export import metric_names as m
from agent.export.device_series import DeviceSeries, exported_quantity
from agent.export.energy_methods import EnergyMethodLines, method_family
from agent.export.exposition import ExpositionRegistry, TickCache, counter_family, family_header, sample_line
from agent.site.poller import AgentState

__all__ = [
    "AgentHealthCollector",
    "DeviceReadingsCollector",
    "SitePueCollector",
    "build_registry",
]

Clock = Callable[[], float]


def _stale_after(cfg: SiteConfig) -> float:
    return cfg.poll_interval_s * cfg.stale_after_intervals


class DeviceReadingsCollector(Collector):
    """Per-device canonical readings, for fresh devices only.

    Sample::

        # HELP pue_device_active_power_watts Active power at the device's measurement point ... (cached)
        # TYPE pue_device_active_power_watts gauge
        pue_device_active_power_watts{device="ups-a",line="1",role="ups",zone="hall-1"} 19000.0
        # TYPE pue_device_energy_joules counter
        pue_device_energy_joules_total{device="pdu-r01",pdu="1",role="pdu",zone="hall-1"} 1.26e10
    """

    def __init__(
        self, cfg: SiteConfig, state: AgentState, clock: Clock = time.time, series: DeviceSeries | None = None
    ) -> None:
        self._cfg = cfg
        self._state = state
        self._clock = clock
        self._series = series if series is not None else DeviceSeries(cfg, state)

    def exposition(self, openmetrics: bool) -> str:
        """What ``collect()`` yields, as text, from the per-device fragments (agent.export.exposition)."""
        return self._series.readings_text(self._clock(), openmetrics)

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        which = self._cfg.exporter.device_metrics
        rows: dict[str, list[tuple[dict[str, str], float]]] = {}
        for dev in self._cfg.devices:
            snap = self._state.snapshots.get(dev.name)
            if snap is None or not self._state.fresh(dev.name, now, _stale_after(self._cfg)):
                continue
            base = {"device": dev.name, "role": dev.role, "zone": dev.zone}
            for reading in snap.readings:
                if not exported_quantity(which, reading.quantity):
                    continue
                q = GLOSSARY[reading.quantity]
                value = reading.value
                if q.kind == "counter":
                    counter = self._state.counters.get((dev.name, reading.quantity, reading.labels))
                    if counter is None:
                        continue
                    value = counter.total_j
                rows.setdefault(reading.quantity, []).append(({**base, **dict(reading.labels)}, value))
        for quantity, samples in sorted(rows.items()):
            q = GLOSSARY[quantity]
            names = sorted({k for labels, _ in samples for k in labels})
            family: GaugeMetricFamily | CounterMetricFamily
            if q.kind == "counter":
                family = CounterMetricFamily(q.metric, f"{q.help} (cached)", labels=names)
            else:
                family = GaugeMetricFamily(q.metric, f"{q.help} (cached)", labels=names)
            for labels, value in samples:
                family.add_metric([labels.get(n, "") for n in names], value)
            yield family


class _WithoutMethods(Collector):
    """A SitePueCollector's families but the per-device energy-method info (rendered apart)."""

    def __init__(self, site: SitePueCollector) -> None:
        self._site = site

    def collect(self) -> Iterator[Metric]:
        return self._site.collect_site()


class SitePueCollector(Collector):
    """Site power, energy and PUE (real-time and energy-based), with validity and coverage.

    Sample::

        pue_site_power_watts{boundary="facility"} 151234.0
        pue_site_energy_joules_total{boundary="it"} 3.2e9
        pue_site_realtime_pue 1.412
        pue_site_interval_pue{window_seconds="900"} 1.409
        pue_site_pue_valid{kind="realtime"} 1.0
        pue_site_coverage_ratio{boundary="it"} 1.0
        pue_site_emission_factor_kg_per_kwh{factor="cn-mee-2022-guizhou",region="guizhou",route="location",...} 0.4989
        pue_site_energy_cost_cny_total{period="valley"} 81.2
        pue_site_tariff_price_cny_per_kwh{period="peak"} 0.82
    The emission factor has no sample without a ``carbon`` section: there is no default factor.
    An invalid PUE is not exported as a number; ``pue_site_pue_invalid_info{kind,reason}`` is.
    """

    def __init__(self, cfg: SiteConfig, state: AgentState) -> None:
        self._cfg = cfg
        self._state = state
        self._factor = load_emission_factor(cfg.carbon.emission_factor) if cfg.carbon is not None else None
        self._tick = TickCache(_WithoutMethods(self), lambda: self._state.site)
        self._methods = EnergyMethodLines()  # one line per device: rendered apart, from cached lines

    def exposition(self, openmetrics: bool) -> str:
        """Rendered once per site tick: everything here comes from the site state, replaced at each tick."""
        return self._tick.exposition(openmetrics) + self._methods.exposition(self._state.site, openmetrics)

    def collect(self) -> Iterator[Metric]:
        yield from self.collect_site()
        if self._state.site is not None:
            yield method_family(self._state.site)

    def collect_site(self) -> Iterator[Metric]:
        """Every family but the energy-method info (collect() yields it last)."""
        cfg = self._cfg
        cat = GaugeMetricFamily(
            m.SITE_IT_CATEGORY,
            "ISO/IEC 30134-2 IT measurement category of this topology (1 UPS output, 2 PDU output, 3 IT input)",
        )
        cat.add_metric([], cfg.topology.it_category)
        yield cat
        target = GaugeMetricFamily(m.SITE_PUE_TARGET, "Configured PUE target of the site")
        target.add_metric([], cfg.site.pue_target)
        yield target
        factor = GaugeMetricFamily(
            m.SITE_EMISSION_FACTOR,
            "Grid CO2 emission factor the site reports with (carbon.emission_factor, dated table in "
            "agent/data/emission_factors.yaml; no sample when none is configured)",
            labels=["factor", "year", "region", "route"],
        )
        if self._factor is not None:
            f = self._factor
            factor.add_metric([f.key, str(f.year), f.region, f.route], f.kg_co2_per_kwh)
        yield factor
        site = self._state.site
        if site is None:
            return
        power = GaugeMetricFamily(
            m.SITE_POWER, "Site power by boundary, complete sums only (cached)", labels=["boundary"]
        )
        coverage = GaugeMetricFamily(
            m.SITE_COVERAGE, "Share of a boundary's contributing devices with fresh data", labels=["boundary"]
        )
        boundaries = [("facility", site.facility_w), ("it", site.it_w)]
        if site.cooling_w is not None:
            boundaries.append(("cooling", site.cooling_w))
        for name, bsum in boundaries:
            if bsum.value is not None:
                power.add_metric([name], bsum.value)
            coverage.add_metric([name], bsum.coverage_ratio)
        yield power
        yield coverage
        energy = CounterMetricFamily(
            m.SITE_ENERGY,
            "Site energy by boundary, summed over complete intervals only (distribution: into "
            "power distribution; renewable: on-site generation consumed; reuse: heat delivered for reuse)",
            labels=["boundary"],
        )
        energy.add_metric(["facility"], site.facility_energy_j)
        energy.add_metric(["it"], site.it_energy_j)
        if cfg.topology.cooling:
            energy.add_metric(["cooling"], site.cooling_energy_j)
        totals = dict(site.boundary_totals)
        own: list[Metric] = []
        for b in OPTIONAL_BOUNDARIES:  # the boundary table: a label of the site energy, or a family of its own
            if b.name not in totals:
                continue
            if b.metric == m.SITE_ENERGY and b.metric_label is not None:
                energy.add_metric([b.metric_label], totals[b.name])
            else:
                counter = CounterMetricFamily(
                    b.metric,
                    f"Site {b.name}: {b.description}, summed over intervals complete for facility, IT and its meters",
                )
                counter.add_metric([], totals[b.name])
                own.append(counter)
        yield energy
        yield from own
        yield from self._tariff_families(site.energy_cost_cny, site.tariff_period)
        valid = GaugeMetricFamily(
            m.SITE_PUE_VALID, "1 when the PUE of this kind is valid and exported", labels=["kind"]
        )
        invalid = InfoMetricFamily(
            m.SITE_PUE_INVALID_INFO.removesuffix("_info"), "Why a PUE is not exported", labels=["kind", "reason"]
        )
        realtime = GaugeMetricFamily(
            m.SITE_REALTIME_PUE, "Real-time PUE: facility power / IT power (not an audit figure)"
        )
        interval = GaugeMetricFamily(
            m.SITE_INTERVAL_PUE,
            "PUE from energy over the window: facility energy / IT energy",
            labels=["window_seconds"],
        )
        for kind, result, family, labels in (
            ("realtime", site.live, realtime, []),
            ("interval", site.interval, interval, [f"{cfg.pue_window_s:g}"]),
        ):
            valid.add_metric([kind], 1.0 if result.valid else 0.0)
            if result.value is not None:
                family.add_metric(labels, result.value)
            else:
                invalid.add_metric([kind, result.reason or "unknown"], {})
        yield realtime
        yield interval
        yield valid
        yield invalid
        cov = GaugeMetricFamily(m.SITE_INTERVAL_COVERAGE, "Share of the PUE window with complete facility and IT data")
        cov.add_metric([], site.window_coverage_ratio)
        yield cov

    def _tariff_families(self, cost: tuple[tuple[str, float], ...], period: str | None) -> Iterator[Metric]:
        """Energy cost by period and the price now, with a ``tariff`` configured."""
        tariff = self._cfg.tariff
        if tariff is None:
            return
        family = CounterMetricFamily(
            m.SITE_ENERGY_COST,
            "Facility energy cost by time-of-use period: energy of complete intervals split over the periods by "
            "time, times the period's price (tariff.prices_cny_per_kwh)",
            labels=["period"],
        )
        for name, cny in cost:
            family.add_metric([name], cny)
        yield family
        price = GaugeMetricFamily(
            m.SITE_TARIFF_PRICE, "Time-of-use price in force now, by its period (tariff)", labels=["period"]
        )
        if period is not None:
            price.add_metric([period], tariff.prices_cny_per_kwh[period])
        yield price


class AgentHealthCollector(Collector):
    """Per-device up, last success, poll duration and errors; build info.

    Sample::

        pue_device_up{device="ups-a",profile="rfc1628-ups",role="ups",zone="hall-1"} 1.0
        pue_device_last_success_timestamp_seconds{device="ups-a"} 1.7e9
        pue_device_poll_duration_seconds{device="ups-a"} 0.012
        pue_device_poll_errors_total{device="ups-b",kind="timeout"} 3.0
        pue_build_info{python="3.11.7",version="0.1.0"} 1.0
    """

    def __init__(
        self, cfg: SiteConfig, state: AgentState, clock: Clock = time.time, series: DeviceSeries | None = None
    ) -> None:
        self._cfg = cfg
        self._state = state
        self._clock = clock
        self._series = series if series is not None else DeviceSeries(cfg, state)
        #: the counter families' lines by key, kept while the count stays (poll errors, skipped, counter events)
        self._lines: tuple[dict[Any, tuple[float, str]], ...] = ({}, {}, {})
        build_labels = (("version", __version__), ("python", platform.python_version()))
        self._build = {
            om: family_header(m.BUILD_INFO.removesuffix("_info"), "info", "pue-agent build information", om)[0]
            + sample_line(m.BUILD_INFO, build_labels, 1.0)
            for om in (False, True)
        }

    def exposition(self, openmetrics: bool) -> str:
        """What ``collect()`` yields, as text: per-device lines from the fragments, the counters from dicts."""
        state = self._state
        return "".join(
            (
                self._series.health_text(self._clock(), openmetrics),
                counter_family(
                    self._lines[0],
                    m.DEVICE_POLL_ERRORS,
                    "Failed polls by kind",
                    ("device", "kind"),
                    dict(state.poll_errors),
                    openmetrics,
                ),
                counter_family(
                    self._lines[1],
                    m.DEVICE_POLLS_SKIPPED,
                    "Polls skipped because the previous poll of the device was still running",
                    ("device",),
                    {(device,): count for device, count in dict(state.polls_skipped).items()},
                    openmetrics,
                ),
                counter_family(
                    self._lines[2],
                    m.DEVICE_COUNTER_EVENTS,
                    "Energy counter wraps, resets, caps and implausible jumps seen",
                    ("device", "event"),
                    dict(state.counter_events),
                    openmetrics,
                ),
                self._build[openmetrics],
            )
        )

    def collect(self) -> Iterator[Metric]:
        now = self._clock()
        up = GaugeMetricFamily(
            m.DEVICE_UP,
            "1 if the device's last poll succeeded and is fresh",
            labels=["device", "profile", "role", "zone"],
        )
        last = GaugeMetricFamily(
            m.DEVICE_LAST_SUCCESS, "When the device was last polled successfully", labels=["device"]
        )
        duration = GaugeMetricFamily(m.DEVICE_POLL_DURATION, "Duration of the device's last poll", labels=["device"])
        unreadable = GaugeMetricFamily(
            m.DEVICE_UNREADABLE_OBJECTS,
            "Profile objects the device did not answer sensibly at the last poll",
            labels=["device"],
        )
        for dev in self._cfg.devices:
            snap = self._state.snapshots.get(dev.name)
            fresh = self._state.fresh(dev.name, now, _stale_after(self._cfg))
            up.add_metric([dev.name, dev.profile, dev.role, dev.zone], 1.0 if fresh else 0.0)
            if dev.name in self._state.last_success_s:
                last.add_metric([dev.name], self._state.last_success_s[dev.name])
            if snap is not None:
                duration.add_metric([dev.name], snap.duration_s)
                if snap.ok:
                    unreadable.add_metric([dev.name], len(snap.problems))
        yield up
        yield last
        yield duration
        yield unreadable
        errors = CounterMetricFamily(m.DEVICE_POLL_ERRORS, "Failed polls by kind", labels=["device", "kind"])
        for (device, kind), count in sorted(self._state.poll_errors.items()):
            errors.add_metric([device, kind], count)
        yield errors
        skipped = CounterMetricFamily(
            m.DEVICE_POLLS_SKIPPED,
            "Polls skipped because the previous poll of the device was still running",
            labels=["device"],
        )
        for device, count in sorted(self._state.polls_skipped.items()):
            skipped.add_metric([device], count)
        yield skipped
        events = CounterMetricFamily(
            m.DEVICE_COUNTER_EVENTS,
            "Energy counter wraps, resets, caps and implausible jumps seen",
            labels=["device", "event"],
        )
        for (device, event), count in sorted(self._state.counter_events.items()):
            events.add_metric([device, event], count)
        yield events
        build = InfoMetricFamily(
            m.BUILD_INFO.removesuffix("_info"), "pue-agent build information", labels=["version", "python"]
        )
        build.add_metric([__version__, platform.python_version()], {})
        yield build


def build_registry(
    cfg: SiteConfig, state: AgentState, clock: Clock = time.time, series: DeviceSeries | None = None
) -> ExpositionRegistry:
    """A fresh registry holding the agent's collectors (no process-global state).

    ``series`` (an agent observer) renders each device's lines when its poll completes; without one the
    first scrape after a poll renders them.
    """
    series = series if series is not None else DeviceSeries(cfg, state)
    registry = ExpositionRegistry()
    registry.register(DeviceReadingsCollector(cfg, state, clock, series))
    registry.register(SitePueCollector(cfg, state))
    registry.register(AgentHealthCollector(cfg, state, clock, series))
    return registry
