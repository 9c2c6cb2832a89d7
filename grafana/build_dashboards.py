"""Build the provisioned Grafana dashboards (grafana/dashboards/*.json) from this one file.

Run ``python grafana/build_dashboards.py`` after editing; tests/ops/test_dashboards.py fails when the
committed JSON differs from what this script writes. Dashboards reference the Prometheus datasource
by its fixed uid (grafana/provisioning/datasources/prometheus.yaml): provisioned dashboards cannot use
``__inputs`` / ``${DS_PROMETHEUS}``.

Emission factor: the agent exports the one its config names (``carbon.emission_factor``) as
``pue_site_emission_factor_kg_per_kwh{factor,year,region,route}`` (no sample when none is configured);
emissions and CUE panels multiply a site's grid electricity (facility less on-site renewable: PV is never
charged) by a location-based factor. Diesel, green certificates and the market-based route are in the
period report only (docs/carbon.md).
"""

from __future__ import annotations

import json
import sys
from pathlib import Path
from typing import Any

DATASOURCE = {"type": "prometheus", "uid": "pue-prometheus"}
SCHEMA_VERSION = 39
OUT_DIR = Path(__file__).resolve().parent / "dashboards"

#: the site's grid emission factor [kg CO2/kWh] as the agent exports it, one value per site (max over its agents)
EMISSION_FACTOR = 'max by (site) (pue_site_emission_factor_kg_per_kwh{site=~"$site",route="location"})'
EMISSION_NOTE = (
    "Grid electricity (facility less on-site renewable) x the location-based grid emission factor the agent "
    "is configured with (carbon.emission_factor, dated MEE/NBS table in agent/data/emission_factors.yaml; "
    "no data without one). Diesel and green certificates: see the period report."
)


def _times_factor(expr: str) -> str:
    """``expr`` (one series per site) times that site's emission factor."""
    return f"({expr})\n  * on (site) {EMISSION_FACTOR}"

S = 'site=~"$site"'
SITE_E = 'pue_site_energy_joules_total{%s,boundary="%s"}'
REC_W = 'site_boundary:pue_site_energy_joules:rate5m{%s,boundary="%s"}'

Panel = dict[str, Any]


def _increase(boundary: str, window: str) -> str:
    """A boundary's energy [J] over ``window`` from the counters, summed over agents first."""
    return f"sum by (site) (increase({SITE_E % (S, boundary)}[{window}]))"


def _ratio(numerator: str, denominator: str, window: str = "$__range") -> str:
    """Ratio of two boundaries' energies over ``window``."""
    return f"{_increase(numerator, window)}\n  / {_increase(denominator, window)}"


def _grid_j(window: str) -> str:
    """Grid electricity [J] over ``window``: facility less on-site renewable (none metered: all of it)."""
    facility = _increase("facility", window)
    return f"({facility}\n  - ({_increase('renewable', window)} or {facility} * 0))"


def _energy_pue(window: str) -> str:
    """Energy-based PUE over ``window`` straight from the counters."""
    return _ratio("facility", "it", window)


def _kwh(boundary: str, window: str) -> str:
    return f"{_increase(boundary, window)} / 3.6e6"


def _overhead(numerator_w: str, window: str) -> str:
    """A recorded power over ``window`` divided by the IT power over the same window (ratio of means)."""
    return (
        f"avg_over_time({numerator_w}[{window}])\n  / on (site) avg_over_time({REC_W % (S, 'it')}[{window}])"
    )


def target(
    expr: str, legend: str = "", ref: str = "A", *, instant: bool = False, table: bool = False
) -> dict[str, Any]:
    t: dict[str, Any] = {
        "datasource": DATASOURCE,
        "refId": ref,
        "expr": expr,
        "legendFormat": legend or "__auto",
    }
    if instant:
        t["instant"] = True
        t["range"] = False
    if table:
        t["format"] = "table"
    return t


def _targets(queries: list[tuple[str, str]], **kw: bool) -> list[dict[str, Any]]:
    return [target(expr, legend, chr(ord("A") + i), **kw) for i, (expr, legend) in enumerate(queries)]


def _thresholds(*steps: tuple[float | None, str]) -> dict[str, Any]:
    return {"mode": "absolute", "steps": [{"color": c, "value": v} for v, c in steps]}


def panel(
    kind: str,
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    unit: str = "none",
    description: str = "",
    decimals: int | None = None,
    instant: bool = False,
    thresholds: dict[str, Any] | None = None,
    custom: dict[str, Any] | None = None,
    options: dict[str, Any] | None = None,
    overrides: list[dict[str, Any]] | None = None,
    interval: str | None = None,
) -> Panel:
    x, y, w, h = grid
    defaults: dict[str, Any] = {"unit": unit}
    if decimals is not None:
        defaults["decimals"] = decimals
    if thresholds is not None:
        defaults["thresholds"] = thresholds
    if custom:
        defaults["custom"] = custom
    p: Panel = {
        "type": kind,
        "title": title,
        "description": description,
        "datasource": DATASOURCE,
        "gridPos": {"x": x, "y": y, "w": w, "h": h},
        "fieldConfig": {"defaults": defaults, "overrides": overrides or []},
        "options": options or {},
        "targets": _targets(queries, instant=instant, table=kind == "table"),
    }
    if interval:
        p["interval"] = interval
    return p


def stat(
    title: str, expr: str, grid: tuple[int, int, int, int], legend: str = "{{site}}", **kw: Any
) -> Panel:
    kw.setdefault(
        "options",
        {
            "reduceOptions": {"calcs": ["lastNotNull"]},
            "colorMode": "value",
            "graphMode": "area",
            "textMode": "value_and_name",
        },
    )
    return panel("stat", title, [(expr, legend)], grid, instant=True, **kw)


def timeseries(
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    stacked: bool = False,
    bars: bool = False,
    **kw: Any,
) -> Panel:
    custom: dict[str, Any] = {
        "drawStyle": "bars" if bars else "line",
        "fillOpacity": 60 if stacked else 10,
        "lineWidth": 1,
        "showPoints": "never",
    }
    if stacked:
        custom["stacking"] = {"mode": "normal", "group": "A"}
    custom.update(kw.pop("custom", {}) or {})
    kw.setdefault(
        "options",
        {
            "legend": {"displayMode": "table", "placement": "bottom", "calcs": ["lastNotNull", "mean"]},
            "tooltip": {"mode": "multi"},
        },
    )
    return panel("timeseries", title, queries, grid, custom=custom, **kw)


def table(
    title: str,
    queries: list[tuple[str, str]],
    grid: tuple[int, int, int, int],
    *,
    hide: tuple[str, ...] = ("Time", "__name__", "job", "instance"),
    **kw: Any,
) -> Panel:
    p = panel("table", title, queries, grid, instant=True, **kw)
    p["transformations"] = [{"id": "organize", "options": {"excludeByName": dict.fromkeys(hide, True)}}]
    return p


def override_unit(ref: str, unit: str, *, right_axis: bool = True) -> dict[str, Any]:
    props: list[dict[str, Any]] = [{"id": "unit", "value": unit}]
    if right_axis:
        props.append({"id": "custom.axisPlacement", "value": "right"})
    return {"matcher": {"id": "byFrameRefID", "options": ref}, "properties": props}


def query_var(name: str, label: str, query: str, *, include_all: bool = True) -> dict[str, Any]:
    return {
        "name": name,
        "label": label,
        "type": "query",
        "datasource": DATASOURCE,
        "query": {"query": query, "refId": f"{name}-var"},
        "definition": query,
        "refresh": 2,
        "includeAll": include_all,
        "multi": True,
        "sort": 1,
        "current": {"selected": True, "text": ["All"], "value": ["$__all"]} if include_all else {},
    }


SITE_VAR = query_var("site", "Site", "label_values(pue_build_info, site)")
ZONE_VAR = query_var("zone", "Zone", 'label_values(pue_device_up{site=~"$site"}, zone)')
DEVICE_VAR = query_var(
    "device", "Device", 'label_values(pue_device_up{site=~"$site", zone=~"$zone"}, device)'
)


def dashboard(
    uid: str,
    title: str,
    description: str,
    panels: list[Panel],
    variables: list[dict[str, Any]],
    *,
    time_from: str = "now-24h",
    time_to: str = "now",
    refresh: str = "30s",
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
    return {
        "uid": uid,
        "title": title,
        "description": description,
        "tags": ["pue-agent"],
        "schemaVersion": SCHEMA_VERSION,
        "version": 1,
        "editable": False,
        "graphTooltip": 1,
        "timezone": "browser",
        "time": {"from": time_from, "to": time_to},
        "refresh": refresh,
        "templating": {"list": variables},
        "annotations": {"list": []},
        "links": [
            {"type": "dashboards", "tags": ["pue-agent"], "asDropdown": True, "title": "PUE dashboards"}
        ],
        "panels": panels,
    }


PUE_THRESHOLDS = _thresholds((None, "green"), (1.3, "orange"), (1.5, "red"))


def site_overview() -> dict[str, Any]:
    it_w = REC_W % (S, "it")
    panels = [
        stat(
            "PUE now (5 min, energy)",
            f"site:pue:ratio_rate5m{{{S}}}",
            (0, 0, 4, 4),
            decimals=3,
            thresholds=PUE_THRESHOLDS,
            description="Facility energy / IT energy over 5 minutes (recording rule).",
        ),
        stat("PUE 24 h", _energy_pue("24h"), (4, 0, 4, 4), decimals=3, thresholds=PUE_THRESHOLDS),
        stat("PUE 30 days", _energy_pue("30d"), (8, 0, 4, 4), decimals=3, thresholds=PUE_THRESHOLDS),
        stat("PUE target", f"max by (site) (pue_site_pue_target{{{S}}})", (12, 0, 4, 4), decimals=2),
        stat(
            "Real-time PUE (agent)",
            f"pue_site_realtime_pue{{{S}}}",
            (16, 0, 4, 4),
            decimals=3,
            thresholds=PUE_THRESHOLDS,
            description="Facility power / IT power now: not an audit figure.",
        ),
        stat("IT load", it_w, (20, 0, 4, 4), unit="watt"),
        timeseries(
            "PUE against target",
            [
                (f"site:pue:ratio_rate5m{{{S}}}", "PUE 5 min {{site}}"),
                (f"max by (site) (pue_site_pue_target{{{S}}})", "target {{site}}"),
                (f"pue_site_realtime_pue{{{S}}}", "real-time {{site}}"),
            ],
            (0, 4, 12, 9),
            decimals=3,
        ),
        timeseries(
            "Power split",
            [
                (it_w, "IT {{site}}"),
                (REC_W % (S, "cooling"), "cooling {{site}}"),
                (f"site:pue_power_loss_watts:avg5m{{{S}}}", "UPS losses {{site}}"),
                (f"site:pue_other_power_watts:rate5m{{{S}}}", "other {{site}}"),
            ],
            (12, 4, 12, 9),
            unit="watt",
            stacked=True,
            description="Stacked: the sum is the facility power. "
            "Other = facility - IT - cooling - UPS losses.",
        ),
        timeseries(
            "IT load by zone (PDUs)",
            [
                (f'site_zone:pue_it_energy_joules:rate5m{{{S},zone=~"$zone"}}', "{{zone}}"),
            ],
            (0, 13, 8, 8),
            unit="watt",
            stacked=True,
        ),
        timeseries(
            "Outdoor conditions",
            [
                (f"pue_device_outdoor_temperature_celsius{{{S}}}", "dry bulb {{device}}"),
                (f"pue_device_dew_point_celsius{{{S}}}", "dew point {{device}}"),
                (f'pue_device_relative_humidity_ratio{{{S},zone="outside"}}', "RH {{device}}"),
            ],
            (8, 13, 8, 8),
            unit="celsius",
            overrides=[override_unit("C", "percentunit")],
        ),
        timeseries(
            "Free cooling",
            [
                (f"site:pue_free_cooling:ratio_avg5m{{{S}}}", "free-cooling share {{site}}"),
                (f"site:pue_economizer_enabled:avg5m{{{S}}}", "economizer enabled {{site}}"),
            ],
            (16, 13, 8, 8),
            unit="percentunit",
            custom={"axisSoftMax": 1, "axisSoftMin": 0},
        ),
        table(
            "Alerts (firing and pending)",
            [
                (f'ALERTS{{{S},alertname=~"Pue.*"}}', ""),
            ],
            (0, 21, 24, 8),
            hide=("Time", "__name__", "Value", "job"),
        ),
    ]
    return dashboard(
        "pue-site-overview",
        "PUE: site overview",
        "Live, 24-hour and 30-day PUE against target, power split, IT load, outdoor conditions, "
        "free cooling and alerts.",
        panels,
        [SITE_VAR, ZONE_VAR],
    )


RECOMMENDED_AIR = 'quantity=~"supply_air_setpoint_c|return_air_setpoint_c|rack_inlet_setpoint_c"'
DEV = f'{S},device=~"$device"'


def cooling() -> dict[str, Any]:
    envelope = _thresholds((None, "blue"), (18, "green"), (27, "red"))
    panels = [
        stat(
            "Pending approval",
            f"sum by (site) (pue_recommendation_pending_approval{{{S}}})",
            (0, 0, 4, 4),
            thresholds=_thresholds((None, "green"), (1, "orange")),
        ),
        stat(
            "Predicted savings",
            f"pue_recommendation_predicted_savings_watts{{{S}}}",
            (4, 0, 4, 4),
            unit="watt",
        ),
        stat(
            "Model confidence",
            f"pue_recommendation_confidence_ratio{{{S}}}",
            (8, 0, 4, 4),
            unit="percentunit",
            thresholds=_thresholds((None, "red"), (0.6, "green")),
        ),
        stat("Cooling power", REC_W % (S, "cooling"), (12, 0, 4, 4), unit="watt"),
        stat(
            "Cooling overhead (CLF)",
            f"site:pue_cooling_overhead:ratio_rate5m{{{S}}}",
            (16, 0, 4, 4),
            decimals=3,
            description="Cooling energy / IT energy over 5 minutes (The Green Grid cooling load factor).",
        ),
        stat(
            "Hottest rack inlet",
            f'max by (site) (site_zone:pue_device_rack_inlet_temperature_celsius:max{{{S},zone=~"$zone"}})',
            (20, 0, 4, 4),
            unit="celsius",
            thresholds=envelope,
        ),
        timeseries(
            "Air setpoints vs recommendation",
            [
                (f"pue_device_supply_air_setpoint_celsius{{{DEV}}}", "{{device}} supply setpoint"),
                (f"pue_device_supply_air_temperature_celsius{{{DEV}}}", "{{device}} supply"),
                (f"pue_device_return_air_setpoint_celsius{{{DEV}}}", "{{device}} return setpoint"),
                (f"pue_recommendation_setpoint_celsius{{{S},{RECOMMENDED_AIR}}}", "recommended {{quantity}}"),
            ],
            (0, 4, 12, 9),
            unit="celsius",
        ),
        timeseries(
            "Chilled water vs recommendation",
            [
                (f"pue_device_chw_supply_setpoint_celsius{{{DEV}}}", "{{device}} CHW setpoint"),
                (f"pue_device_chw_supply_temperature_celsius{{{DEV}}}", "{{device}} CHW supply"),
                (f"pue_device_chw_return_temperature_celsius{{{DEV}}}", "{{device}} CHW return"),
                (
                    f'pue_recommendation_setpoint_celsius{{{S},quantity="chw_supply_setpoint_c"}}',
                    "recommended CHW supply",
                ),
            ],
            (12, 4, 12, 9),
            unit="celsius",
        ),
        timeseries(
            "Rack inlets vs ASHRAE envelope (18-27 C)",
            [
                (
                    f'max by (zone) (pue_device_rack_inlet_temperature_celsius{{{S},zone=~"$zone"}})',
                    "max {{zone}}",
                ),
                (
                    f'avg by (zone) (pue_device_rack_inlet_temperature_celsius{{{S},zone=~"$zone"}})',
                    "mean {{zone}}",
                ),
                (
                    f'min by (zone) (pue_device_rack_inlet_temperature_celsius{{{S},zone=~"$zone"}})',
                    "min {{zone}}",
                ),
            ],
            (0, 13, 12, 8),
            unit="celsius",
            thresholds=envelope,
            custom={"thresholdsStyle": {"mode": "line+area"}},
        ),
        timeseries(
            "Predicted PUE: current vs recommended",
            [
                (f"pue_recommendation_predicted_pue{{{S}}}", "predicted {{scenario}}"),
                (f"site:pue:ratio_rate5m{{{S}}}", "measured (5 min)"),
            ],
            (12, 13, 12, 8),
            decimals=3,
        ),
        timeseries(
            "Predicted savings and model confidence",
            [
                (f"pue_recommendation_predicted_savings_watts{{{S}}}", "predicted savings"),
                (f"pue_recommendation_confidence_ratio{{{S}}}", "confidence"),
            ],
            (0, 21, 12, 8),
            unit="watt",
            overrides=[override_unit("B", "percentunit")],
        ),
        timeseries(
            "Cooling units: fan speed, free cooling, economizer",
            [
                (f'pue_device_fan_speed_ratio{{{DEV},zone=~"$zone"}}', "fan {{device}}"),
                (f"pue_device_free_cooling_ratio{{{DEV}}}", "free cooling {{device}}"),
                (f"pue_device_economizer_enabled{{{DEV}}}", "economizer {{device}}"),
            ],
            (12, 21, 12, 8),
            unit="percentunit",
        ),
        table(
            "Action log: guarded setpoint writes in the range",
            [
                (
                    f"sum by (site, device, quantity, result) "
                    f"(increase(pue_setpoint_writes_total{{{S}}}[$__range]))",
                    "",
                ),
            ],
            (0, 29, 16, 8),
            hide=("Time",),
            description="Writes the agent made through the profiles' declared writable setpoints, by result.",
        ),
        table(
            "Reverted writes in the range",
            [
                (
                    "sum by (site, device, quantity) "
                    f"(increase(pue_setpoint_reverts_total{{{S}}}[$__range]))",
                    "",
                ),
            ],
            (16, 29, 8, 8),
            hide=("Time",),
        ),
    ]
    return dashboard(
        "pue-cooling",
        "PUE: cooling and recommendations",
        "Setpoints against the recommender's advice, predicted savings, rack inlets against the "
        "ASHRAE envelope, model confidence and the log of guarded writes.",
        panels,
        [SITE_VAR, ZONE_VAR, DEVICE_VAR],
    )


def _reuse_and_water_stats(y: int) -> list[Panel]:
    """REF, ERF, ERE, WUE and pPUE of power distribution over the range (only with those meters)."""
    only = " Needs topology.{0} in the agent's config; no data without it."
    water_m3 = f"pue_site_water_cubic_meters_total{{{S}}}"
    return [
        stat(
            "REF (renewable share)",
            _ratio("renewable", "facility"),
            (0, y, 5, 4),
            decimals=3,
            unit="percentunit",
            description="Renewable energy factor (ISO/IEC 30134-3): on-site renewable energy consumed / "
            "facility energy." + only.format("renewable"),
        ),
        stat(
            "ERF (heat reused)",
            _ratio("reuse", "facility"),
            (5, y, 5, 4),
            decimals=3,
            unit="percentunit",
            description="Energy reuse factor (ISO/IEC 30134-6): reused energy / facility energy."
            + only.format("reuse"),
        ),
        stat(
            "ERE",
            f"({_increase('facility', '$__range')}\n  - {_increase('reuse', '$__range')})\n"
            f"  / {_increase('it', '$__range')}",
            (10, y, 5, 4),
            decimals=3,
            description="Energy reuse effectiveness (The Green Grid): (facility - reused energy) / IT energy."
            + only.format("reuse"),
        ),
        stat(
            "WUE [L/kWh IT]",
            f"1000 * sum by (site) (increase({water_m3}[$__range]))\n"
            f"  / ({_kwh('it', '$__range')})",
            (15, y, 5, 4),
            decimals=2,
            description="Water usage effectiveness (ISO/IEC 30134-9): site water / IT energy." + only.format("water"),
        ),
        stat(
            "pPUE power distribution",
            _ratio("distribution", "it"),
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
            _energy_pue("$__range"),
            (0, 0, 4, 4),
            decimals=3,
            thresholds=PUE_THRESHOLDS,
            description="Facility energy / IT energy from the agents' counters.",
        ),
        stat("Facility energy", _kwh("facility", "$__range"), (4, 0, 4, 4), unit="kwatth"),
        stat("IT energy", _kwh("it", "$__range"), (8, 0, 4, 4), unit="kwatth"),
        stat(
            "Emissions",
            _times_factor(f"{_grid_j('$__range')} / 3.6e6"),
            (12, 0, 4, 4),
            unit="masskg",
            description=EMISSION_NOTE,
        ),
        stat(
            "CUE [kg CO2/kWh IT]",
            _times_factor(f"{_grid_j('$__range')}\n  / {_increase('it', '$__range')}"),
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
            thresholds=_thresholds((None, "red"), (0.95, "green")),
        ),
        timeseries(
            "Daily PUE",
            [(_energy_pue("1d"), "{{site}}")],
            (0, 4, 12, 9),
            decimals=3,
            bars=True,
            interval="1d",
        ),
        panel(
            "bargauge",
            "Energy by category in the range",
            [
                (_kwh("it", "$__range"), "IT {{site}}"),
                (_kwh("cooling", "$__range"), "cooling {{site}}"),
                (f"avg_over_time({loss_w}[$__range]) * $__range_s / 3.6e6", "UPS losses {{site}}"),
                (f"avg_over_time({other_w}[$__range]) * $__range_s / 3.6e6", "other {{site}}"),
            ],
            (12, 4, 12, 9),
            unit="kwatth",
            instant=True,
            options={
                "orientation": "horizontal",
                "displayMode": "gradient",
                "reduceOptions": {"calcs": ["lastNotNull"]},
            },
        ),
        panel(
            "bargauge",
            "PUE by category in the range (PUE = 1 + overheads)",
            [
                (_energy_pue("$__range"), "PUE {{site}}"),
                (_ratio("cooling", "it"), "cooling {{site}}"),
                (_overhead(loss_w, "$__range"), "UPS losses {{site}}"),
                (_overhead(other_w, "$__range"), "other {{site}}"),
            ],
            (0, 13, 12, 9),
            decimals=3,
            instant=True,
            options={
                "orientation": "horizontal",
                "displayMode": "basic",
                "reduceOptions": {"calcs": ["lastNotNull"]},
            },
            description="Pick 'This month' / 'Previous month' in the time picker for monthly figures.",
        ),
        timeseries(
            "Daily PUE overhead by category",
            [
                (
                    _overhead(REC_W % (S, "cooling"), "1d"),
                    "cooling {{site}}",
                ),
                (_overhead(loss_w, "1d"), "UPS losses {{site}}"),
                (_overhead(other_w, "1d"), "other {{site}}"),
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
                (_times_factor(f"{_grid_j('1d')} / 3.6e6"), "emissions {{site}}"),
                (_times_factor(f"{_grid_j('1d')}\n  / {_increase('it', '1d')}"), "CUE {{site}}"),
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


def agent_health() -> dict[str, Any]:
    up = f'pue_device_up{{{S},zone=~"$zone",device=~"$device"}}'
    panels = [
        stat("Devices up", f"sum by (site) ({up})", (0, 0, 4, 4)),
        stat(
            "Devices down",
            f"sum by (site) (1 - {up})",
            (4, 0, 4, 4),
            thresholds=_thresholds((None, "green"), (1, "red")),
        ),
        stat("Agents scraped", f'sum by (site) (up{{job="pue-agent",{S}}})', (8, 0, 4, 4)),
        stat(
            "Slowest poll",
            f"max by (site) (pue_device_poll_duration_seconds{{{DEV}}})",
            (12, 0, 4, 4),
            unit="s",
        ),
        stat(
            "Unreadable objects",
            f"sum by (site) (pue_device_unreadable_objects{{{DEV}}})",
            (16, 0, 4, 4),
            thresholds=_thresholds((None, "green"), (1, "orange")),
        ),
        stat(
            "Agent version",
            f"count by (version) (pue_build_info{{{S}}})",
            (20, 0, 4, 4),
            legend="{{version}}",
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "textMode": "name", "colorMode": "none"},
        ),
        panel(
            "state-timeline",
            "Device up",
            [(up, "{{device}}")],
            (0, 4, 12, 10),
            thresholds=_thresholds((None, "red"), (1, "green")),
            options={"showValue": "never", "mergeValues": True},
        ),
        timeseries(
            "Poll duration",
            [(f"pue_device_poll_duration_seconds{{{DEV}}}", "{{device}}")],
            (12, 4, 12, 10),
            unit="s",
        ),
        timeseries(
            "Time since last successful poll",
            [(f"time() - pue_device_last_success_timestamp_seconds{{{DEV}}}", "{{device}}")],
            (0, 14, 12, 8),
            unit="s",
        ),
        timeseries(
            "Poll errors by kind",
            [
                (
                    "sum by (site, device, kind) "
                    f"(increase(pue_device_poll_errors_total{{{DEV}}}[$__rate_interval]))",
                    "{{device}} {{kind}}",
                ),
            ],
            (12, 14, 12, 8),
            bars=True,
        ),
        table(
            "Energy counter events (wraps, resets, caps, implausible jumps)",
            [
                (f"sum by (site, device, event) (pue_device_counter_events_total{{{DEV}}})", ""),
            ],
            (0, 22, 12, 8),
            hide=("Time",),
        ),
        timeseries(
            "Scrapes of the agents",
            [
                (f'up{{job="pue-agent",{S}}}', "up {{instance}}"),
                (f'scrape_duration_seconds{{job="pue-agent",{S}}}', "scrape duration {{instance}}"),
            ],
            (12, 22, 12, 8),
            unit="none",
            overrides=[override_unit("B", "s")],
        ),
    ]
    return dashboard(
        "pue-agent-health",
        "PUE: agent health",
        "Device reachability, poll durations, errors and counter events of the pue-agents.",
        panels,
        [SITE_VAR, ZONE_VAR, DEVICE_VAR],
    )


DASHBOARDS = {
    "site-overview.json": site_overview,
    "cooling-recommendations.json": cooling,
    "energy-audit.json": energy_audit,
    "agent-health.json": agent_health,
}


def render() -> dict[str, str]:
    """File name -> JSON text of every dashboard."""
    return {name: json.dumps(build(), indent=2) + "\n" for name, build in DASHBOARDS.items()}


def main() -> int:
    OUT_DIR.mkdir(exist_ok=True)
    for name, text in render().items():
        (OUT_DIR / name).write_text(text)
        print(f"wrote {OUT_DIR / name}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
