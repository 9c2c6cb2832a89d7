"""Energy and audit: period energy and PUE by day and category, coverage, emissions, cost, REF/ERF/ERE/WUE."""

from __future__ import annotations

from typing import Any

from pue_dashboards.panels import (
    PUE_THRESHOLDS,
    SITE_VAR,
    Panel,
    bargauge,
    cost_by_tariff_period,
    dashboard,
    override_unit,
    stat,
    table,
    thresholds,
    timeseries,
)
from pue_dashboards.queries import (
    CNY,
    COST,
    COST_NOTE,
    EMISSION_NOTE,
    REC_W,
    S,
    energy_pue,
    grid_j,
    increase,
    kwh,
    overhead,
    ratio,
    times_factor,
)


def _reuse_and_water_stats(y: int) -> list[Panel]:
    """REF, ERF, ERE, WUE and pPUE of power distribution over the range (only with those meters)."""
    only = " Needs topology.{0} in the agent's config; no data without it."
    water_m3 = f"pue_site_water_cubic_meters_total{{{S}}}"
    return [
        stat(
            "REF (renewable share)",
            ratio("renewable", "facility"),
            (0, y, 5, 4),
            decimals=3,
            unit="percentunit",
            description="Renewable energy factor (ISO/IEC 30134-3): on-site renewable energy consumed / "
            "facility energy." + only.format("renewable"),
        ),
        stat(
            "ERF (heat reused)",
            ratio("reuse", "facility"),
            (5, y, 5, 4),
            decimals=3,
            unit="percentunit",
            description="Energy reuse factor (ISO/IEC 30134-6): reused energy / facility energy."
            + only.format("reuse"),
        ),
        stat(
            "ERE",
            f"({increase('facility', '$__range')}\n  - {increase('reuse', '$__range')})\n"
            f"  / {increase('it', '$__range')}",
            (10, y, 5, 4),
            decimals=3,
            description="Energy reuse effectiveness (The Green Grid): (facility - reused energy) / IT energy."
            + only.format("reuse"),
        ),
        stat(
            "WUE [L/kWh IT]",
            f"1000 * sum by (site) (increase({water_m3}[$__range]))\n  / ({kwh('it', '$__range')})",
            (15, y, 5, 4),
            decimals=2,
            description="Water usage effectiveness (ISO/IEC 30134-9): site water / IT energy." + only.format("water"),
        ),
        stat(
            "pPUE power distribution",
            ratio("distribution", "it"),
            (20, y, 4, 4),
            decimals=3,
            description="Energy into power distribution (e.g. UPS inputs) / IT energy: 1 + distribution losses."
            + only.format("distribution"),
        ),
    ]


def energy_audit() -> dict[str, Any]:
    loss_w = f"site:pue_power_loss_watts:avg5m{{{S}}}"
    other_w = f"site:pue_other_power_watts:rate5m{{{S}}}"
    panels = [
        stat(
            "PUE over the range (energy)",
            energy_pue("$__range"),
            (0, 0, 4, 4),
            decimals=3,
            thresholds=PUE_THRESHOLDS,
            description="Facility energy / IT energy from the agents' counters.",
        ),
        stat("Facility energy", kwh("facility", "$__range"), (4, 0, 4, 4), unit="kwatth"),
        stat("IT energy", kwh("it", "$__range"), (8, 0, 4, 4), unit="kwatth"),
        stat(
            "Emissions",
            times_factor(f"{grid_j('$__range')} / 3.6e6"),
            (12, 0, 4, 4),
            unit="masskg",
            description=EMISSION_NOTE,
        ),
        stat(
            "CUE [kg CO2/kWh IT]",
            times_factor(f"{grid_j('$__range')}\n  / {increase('it', '$__range')}"),
            (16, 0, 4, 4),
            decimals=3,
            description="Carbon usage effectiveness (The Green Grid): CO2 of grid electricity / IT energy. "
            + EMISSION_NOTE,
        ),
        stat(
            "PUE window coverage",
            f"avg_over_time(pue_site_interval_coverage_ratio{{{S}}}[$__range])",
            (20, 0, 4, 4),
            unit="percentunit",
            legend="{{site}} {{instance}}",
            thresholds=thresholds((None, "red"), (0.95, "green")),
        ),
        timeseries(
            "Daily PUE",
            [(energy_pue("1d"), "{{site}}")],
            (0, 4, 12, 9),
            decimals=3,
            bars=True,
            interval="1d",
        ),
        bargauge(
            "Energy by category in the range",
            [
                (kwh("it", "$__range"), "IT {{site}}"),
                (kwh("cooling", "$__range"), "cooling {{site}}"),
                (f"avg_over_time({loss_w}[$__range]) * $__range_s / 3.6e6", "UPS losses {{site}}"),
                (f"avg_over_time({other_w}[$__range]) * $__range_s / 3.6e6", "other {{site}}"),
            ],
            (12, 4, 12, 9),
            unit="kwatth",
            display="gradient",
        ),
        bargauge(
            "PUE by category in the range (PUE = 1 + overheads)",
            [
                (energy_pue("$__range"), "PUE {{site}}"),
                (ratio("cooling", "it"), "cooling {{site}}"),
                (overhead(loss_w, "$__range"), "UPS losses {{site}}"),
                (overhead(other_w, "$__range"), "other {{site}}"),
            ],
            (0, 13, 12, 9),
            decimals=3,
            description="Pick 'This month' / 'Previous month' in the time picker for monthly figures.",
        ),
        timeseries(
            "Daily PUE overhead by category",
            [
                (
                    overhead(REC_W % (S, "cooling"), "1d"),
                    "cooling {{site}}",
                ),
                (overhead(loss_w, "1d"), "UPS losses {{site}}"),
                (overhead(other_w, "1d"), "other {{site}}"),
            ],
            (12, 13, 12, 9),
            decimals=3,
            bars=True,
            stacked=True,
            interval="1d",
        ),
        timeseries(
            "Daily emissions and CUE",
            [
                (times_factor(f"{grid_j('1d')} / 3.6e6"), "emissions {{site}}"),
                (times_factor(f"{grid_j('1d')}\n  / {increase('it', '1d')}"), "CUE {{site}}"),
            ],
            (0, 22, 12, 8),
            unit="masskg",
            interval="1d",
            description=EMISSION_NOTE,
            overrides=[override_unit("B", "none")],
        ),
        timeseries(
            "Coverage",
            [
                (f"pue_site_interval_coverage_ratio{{{S}}}", "PUE window {{site}} {{instance}}"),
                (f"pue_site_coverage_ratio{{{S}}}", "{{boundary}} {{site}} {{instance}}"),
            ],
            (12, 22, 12, 8),
            unit="percentunit",
        ),
        table(
            "Why a PUE is not exported",
            [(f"pue_site_pue_invalid_info{{{S}}}", "")],
            (0, 30, 12, 7),
            hide=("Time", "__name__", "Value", "job"),
        ),
        table(
            "How each device's energy is measured",
            [(f"pue_site_energy_method_info{{{S}}}", "")],
            (12, 30, 8, 7),
            hide=("Time", "__name__", "Value", "job"),
        ),
        stat(
            "IT measurement category",
            f"max by (site) (pue_site_it_measurement_category{{{S}}})",
            (20, 30, 4, 7),
            description="ISO/IEC 30134-2: 1 UPS output, 2 PDU output, 3 IT equipment input.",
        ),
        *_reuse_and_water_stats(37),
        cost_by_tariff_period("Energy cost in the range by tariff period", (0, 41, 8, 8), description=COST_NOTE),
        timeseries(
            "Daily energy cost by tariff period",
            [(f"sum by (site, period) (increase({COST}[1d]))", "{{period}} {{site}}")],
            (8, 41, 16, 8),
            unit=CNY,
            decimals=0,
            bars=True,
            stacked=True,
            interval="1d",
            description=COST_NOTE + " One stacked bar a day.",
        ),
    ]
    return dashboard(
        "pue-energy-audit",
        "PUE: energy and audit",
        "Energy-based PUE by day and month, energy by category, emissions and CUE, data coverage.",
        panels,
        [SITE_VAR],
        time_from="now/M",
        time_to="now/M",
        refresh="5m",
    )
