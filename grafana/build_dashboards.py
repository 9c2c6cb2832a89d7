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

Every panel has a description (its own ``description=`` or an entry of :data:`PANEL_NOTES`): the build fails
otherwise. The morning check (``pue-morning``) and docs/dashboards.md describe the calendar-period panels
(yesterday, month to date) and the setpoint write/revert annotations.

One module (over 400 lines): the five dashboards share the expression helpers, units and notes defined here;
split it by dashboard when one more is added.
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
    return f"avg_over_time({numerator_w}[{window}])\n  / on (site) avg_over_time({REC_W % (S, 'it')}[{window}])"


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
    time_from: str | None = None,
    time_shift: str | None = None,
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
    if time_from:  # Grafana's per-panel "relative time" (e.g. now/d: today so far, now/M: this month so far)
        p["timeFrom"] = time_from
    if time_shift:  # and "time shift" (1d/d with now/d: yesterday 00:00-24:00)
        p["timeShift"] = time_shift
    return p


def stat(title: str, expr: str, grid: tuple[int, int, int, int], legend: str = "{{site}}", **kw: Any) -> Panel:
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
DEVICE_VAR = query_var("device", "Device", 'label_values(pue_device_up{site=~"$site", zone=~"$zone"}, device)')


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
    annotations: list[dict[str, Any]] | None = None,
) -> dict[str, Any]:
    for i, p in enumerate(panels, start=1):
        p["id"] = i
        if not p["description"]:
            p["description"] = PANEL_NOTES[p["title"]]  # KeyError: a panel without a description
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
        "annotations": {"list": annotations or []},
        "links": [{"type": "dashboards", "tags": ["pue-agent"], "asDropdown": True, "title": "PUE dashboards"}],
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
            description="Stacked: the sum is the facility power. Other = facility - IT - cooling - UPS losses.",
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
        annotations=SETPOINT_ANNOTATIONS,
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
                    f"sum by (site, device, quantity, result) (increase(pue_setpoint_writes_total{{{S}}}[$__range]))",
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
                    f"sum by (site, device, quantity) (increase(pue_setpoint_reverts_total{{{S}}}[$__range]))",
                    "",
                ),
            ],
            (16, 29, 8, 8),
            hide=("Time",),
        ),
        *_realised_panels(37),
    ]
    return dashboard(
        "pue-cooling",
        "PUE: cooling and recommendations",
        "Setpoints against the recommender's advice, predicted savings, rack inlets against the "
        "ASHRAE envelope, model confidence and the log of guarded writes.",
        panels,
        [SITE_VAR, ZONE_VAR, DEVICE_VAR],
        annotations=SETPOINT_ANNOTATIONS,
    )


REALISED = "pue_recommendation_realised_savings"
REALISED_NOTE = (
    "Realised savings: after every change the agent applied (approve or auto mode), the facility power it "
    "measured at the new setpoints against the model's prediction at the old ones for the same weather and IT "
    "load, bias-corrected with the hour before the change, averaged over realised_window_s after "
    "realised_settle_s (docs/recommender.md). No data in advise mode: nothing is applied."
)


def _realised_panels(y: int) -> list[Panel]:
    """The Cooling dashboard's realised-savings row: today and this month against the prediction, the run of poor
    realisations, and each measured action."""
    return [
        stat(
            "Realised savings today",
            f'sum by (site) ({REALISED}_kwh{{{S},period="day"}})',
            (0, y, 4, 5),
            unit="kwatth",
            decimals=1,
            description=REALISED_NOTE + " Sum over the actions measured today (site time zone), energy over their "
            "measurement windows.",
        ),
        stat(
            "Realised savings month to date",
            f'sum by (site) ({REALISED}_kwh{{{S},period="month"}})',
            (4, y, 4, 5),
            unit="kwatth",
            decimals=1,
            description=REALISED_NOTE + " Sum over the actions measured this month (site time zone).",
        ),
        panel(
            "stat",
            "Realised against predicted, month",
            [
                (f'sum by (site) ({REALISED}_sum_watts{{{S},period="month"}})', "realised {{site}}"),
                (f'sum by (site) ({REALISED}_predicted_sum_watts{{{S},period="month"}})', "predicted {{site}}"),
                (f'sum by (site) ({REALISED}_uncertainty_sum_watts{{{S},period="month"}})', "1 std {{site}}"),
            ],
            (8, y, 8, 5),
            unit="watt",
            instant=True,
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "textMode": "value_and_name"},
            description="Sum of the power saved by the actions measured this month, against the sum the model "
            "predicted for the same windows, and one standard deviation of the realised sum (root sum of squares "
            "of each action's, from the model's calibrated uncertainty and its sample count). " + REALISED_NOTE,
        ),
        panel(
            "stat",
            "Poor realisations in a row / paused",
            [
                (f"max by (site) (pue_recommendation_poor_realisations_in_a_row{{{S}}})", "in a row {{site}}"),
                (f"max by (site) (pue_recommendation_realised_paused{{{S}}})", "paused {{site}}"),
            ],
            (16, y, 8, 5),
            instant=True,
            thresholds=_thresholds((None, "green"), (1, "orange"), (3, "red")),
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "textMode": "value_and_name"},
            description="Applied changes in a row that realised less than predicted by more than twice their "
            "standard deviation; at recommender.poor_realisations_to_pause (default 3) the controller pauses "
            "(paused 1) for poor_realisation_pause_h or until a retrained model is swapped in, and the "
            "recommendation is held back with the reason.",
        ),
        timeseries(
            "Realised and predicted saving per action",
            [
                (f"{REALISED}_watts{{{S}}}", "realised #{{action}}"),
                (f"{REALISED}_predicted_watts{{{S}}}", "predicted #{{action}}"),
            ],
            (0, y + 5, 24, 8),
            unit="watt",
            custom={"drawStyle": "points", "showPoints": "always", "pointSize": 6},
            description="Each of the last 20 measured actions (label action: its number in the realised-savings "
            "log): the power it saved, measured, and what the model predicted for the same window; "
            "pue_recommendation_realised_savings_uncertainty_watts is its standard deviation. " + REALISED_NOTE,
        ),
    ]


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
            f"1000 * sum by (site) (increase({water_m3}[$__range]))\n  / ({_kwh('it', '$__range')})",
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
        panel(
            "bargauge",
            "Energy cost in the range by tariff period",
            [(f"sum by (site, period) (increase({COST}[$__range]))", "{{period}} {{site}}")],
            (0, 41, 8, 8),
            unit=CNY,
            decimals=0,
            instant=True,
            options={"orientation": "horizontal", "displayMode": "basic", "reduceOptions": {"calcs": ["lastNotNull"]}},
            description=COST_NOTE,
        ),
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
                    f"sum by (site, device, kind) (increase(pue_device_poll_errors_total{{{DEV}}}[$__rate_interval]))",
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


# --- setpoint write / revert annotations --------------------------------------------------------------------

WRITES = f"pue_setpoint_writes_total{{{S}}}"
REVERTS = f"pue_setpoint_reverts_total{{{S}}}"


def _counted(counter: str, by: str, window: str = "2m") -> str:
    """Steps at which a counter grew, including its first sample (a counter is born at 1 on the first event,
    which ``increase`` alone does not see)."""
    return f"sum by ({by}) ((increase({counter}[{window}]) > 0)\n  or ({counter} unless {counter} offset {window}))"


def _grown(counter: str, window: str) -> str:
    """How much a counter grew over ``window``, per site, counting series born inside the window from 0."""
    return f"sum by (site) (clamp_min({counter} - (({counter} offset {window}) or ({counter} * 0)), 0))"


def annotation(name: str, expr: str, color: str, title: str, text: str, tags: str) -> dict[str, Any]:
    """A Prometheus annotation: an event wherever ``expr`` has a value (consecutive steps make one region)."""
    return {
        "name": name,
        "datasource": DATASOURCE,
        "enable": True,
        "iconColor": color,
        "expr": expr,
        "step": "60s",
        "titleFormat": title,
        "textFormat": text,
        "tagKeys": tags,
        "useValueForTime": False,
    }


SETPOINT_ANNOTATIONS = [
    annotation(
        "Setpoint writes",
        _counted(WRITES, "site, device, quantity, result"),
        "blue",
        "setpoint write ({{result}})",
        "{{device}} {{quantity}}",
        "device,quantity,result",
    ),
    annotation(
        "Setpoint reverts",
        _counted(REVERTS, "site, device, quantity"),
        "red",
        "setpoint reverted",
        "{{device}} {{quantity}} back to last known-good",
        "device,quantity",
    ),
]

# --- the morning check ----------------------------------------------------------------------------------------

#: GB 40879-2021 grade limits (1.20 / 1.30 / 1.50) and the current national targets (2024 action plan: <= 1.25 new
#: large data centres, <= 1.20 hub nodes), as colour steps; all from agent/data/pue_targets.yaml (a test checks them)
GRADE_THRESHOLDS = _thresholds((None, "dark-green"), (1.2, "green"), (1.25, "yellow"), (1.3, "orange"), (1.5, "red"))
GRADE_NOTE = (
    " Reference lines: 1.20 GB 40879-2021 grade 1 and the 2024 target for hub nodes, 1.25 the 2024 target for new "
    "large data centres, 1.30 GB 40879 grade 2, 1.50 GB 40879 grade 3 (the limit value); targets apply to annual "
    "figures (docs/carbon.md)."
)
YESTERDAY = {"time_from": "now/d", "time_shift": "1d/d"}
YESTERDAY_NOTE = (
    " Yesterday: the panel's own time range (relative time now/d, time shift 1d/d) is yesterday 00:00-24:00 in the "
    "dashboard's time zone (the browser's: set it to site.timezone if you are elsewhere); the query is evaluated at "
    "its end over $__range."
)
MONTH = {"time_from": "now/M"}
MONTH_NOTE = (
    " Month to date: the panel's own time range (relative time now/M) runs from the 1st 00:00 to now; the query "
    "is evaluated now over $__range."
)
ENERGY_METHOD = (
    "increase() of the agents' energy counters pue_site_energy_joules_total{boundary=facility|it} over the range, "
    "summed over agents per site, then facility / IT (ISO/IEC 30134-2 energy PUE)."
)
COST = f"pue_site_energy_cost_cny_total{{{S}}}"
COST_NOTE = (
    "Facility energy cost under the configured time-of-use tariff (tariff: in the agent's config, docs/tariff.md): "
    "increase() of pue_site_energy_cost_cny_total, which the agent counts per period from the facility energy of "
    "complete intervals times the period's price. No data without a tariff section."
)
CNY = "suffix: CNY"


def _gauge(title: str, expr: str, grid: tuple[int, int, int, int], description: str, **kw: Any) -> Panel:
    p = panel("gauge", title, [(expr, "{{site}}")], grid, instant=True, decimals=3, description=description, **kw)
    p["fieldConfig"]["defaults"].update(min=1.0, max=2.0, thresholds=GRADE_THRESHOLDS)
    p["options"] = {
        "reduceOptions": {"calcs": ["lastNotNull"]},
        "showThresholdMarkers": True,
        "showThresholdLabels": True,
    }
    return p


def morning() -> dict[str, Any]:
    inlet = f'site_zone:pue_device_rack_inlet_temperature_celsius:max{{{S},zone=~"$zone"}}'
    envelope = _thresholds((None, "blue"), (18, "green"), (27, "red"))
    panels = [
        stat(
            "Hottest rack inlet",
            f"max by (site) ({inlet})",
            (0, 0, 4, 5),
            unit="celsius",
            thresholds=envelope,
            description="Warmest rack-inlet sensor now (recording rule over pue_device_rack_inlet_temperature_celsius)"
            "; ASHRAE recommended envelope 18-27 C: red above 27 C.",
        ),
        stat(
            "Devices down",
            f"sum by (site) (1 - pue_device_up{{{S}}})",
            (4, 0, 4, 5),
            thresholds=_thresholds((None, "green"), (1, "red")),
            description="Devices whose last poll failed or is stale (pue_device_up == 0); the table below names "
            "them. Poll errors by kind: PUE: agent health.",
        ),
        _gauge(
            "PUE yesterday",
            _energy_pue("$__range"),
            (8, 0, 4, 5),
            "Energy PUE of yesterday: " + ENERGY_METHOD + YESTERDAY_NOTE + GRADE_NOTE,
            **YESTERDAY,
        ),
        _gauge(
            "PUE month to date",
            _energy_pue("$__range"),
            (12, 0, 4, 5),
            "Energy PUE of this month so far: " + ENERGY_METHOD + MONTH_NOTE + GRADE_NOTE,
            **MONTH,
        ),
        stat(
            "Recommendation pending approval",
            f"sum by (site) (pue_recommendation_pending_approval{{{S}}})",
            (16, 0, 4, 5),
            thresholds=_thresholds((None, "green"), (1, "orange")),
            options={
                "reduceOptions": {"calcs": ["lastNotNull"]},
                "colorMode": "background",
                "textMode": "value_and_name",
            },
            description="1 when a recommendation waits for an operator (recommender mode approve): approve or "
            "reject it with `pue-agent approve ID` / `reject ID` or on the agent's page.",
        ),
        stat(
            "Predicted saving of the recommendation",
            f"pue_recommendation_predicted_savings_watts{{{S}}}",
            (20, 0, 4, 5),
            unit="watt",
            description="Facility power the model predicts the current recommendation saves "
            "(pue_recommendation_predicted_savings_watts; 0 while it is held back). Its confidence and "
            "setpoints: PUE: cooling and recommendations.",
        ),
        timeseries(
            "Daily PUE this month against the targets and GB 40879 grades",
            [(_energy_pue("1d"), "{{site}}")],
            (0, 5, 12, 9),
            decimals=3,
            bars=True,
            interval="1d",
            thresholds=GRADE_THRESHOLDS,
            custom={"thresholdsStyle": {"mode": "dashed"}, "axisSoftMin": 1.0, "axisSoftMax": 1.6},
            description="Energy PUE of each day ("
            + ENERGY_METHOD
            + " over 1d at a 1d step; Grafana aligns daily steps to UTC midnight, 08:00 in Beijing)."
            + MONTH_NOTE.replace("evaluated now over $__range", "stepped a day at a time")
            + GRADE_NOTE,
            **MONTH,
        ),
        timeseries(
            "Hottest rack inlet by zone and real-time PUE, 24 h",
            [
                (f"max by (site, zone) ({inlet})", "inlet {{zone}}"),
                (f"pue_site_realtime_pue{{{S}}}", "real-time PUE {{site}}"),
            ],
            (12, 5, 12, 9),
            unit="celsius",
            thresholds=envelope,
            custom={"thresholdsStyle": {"mode": "dashed"}},
            overrides=[override_unit("B", "none")],
            description="Overnight rack inlets (lines at the ASHRAE 18 and 27 C) beside the agent's real-time PUE "
            "(right axis). Markers: setpoint writes (blue) and reverts (red), from pue_setpoint_writes_total and "
            "pue_setpoint_reverts_total.",
        ),
        panel(
            "bargauge",
            "Energy cost yesterday by tariff period",
            [(f"sum by (site, period) (increase({COST}[$__range]))", "{{period}} {{site}}")],
            (0, 14, 8, 6),
            unit=CNY,
            decimals=0,
            instant=True,
            options={"orientation": "horizontal", "displayMode": "basic", "reduceOptions": {"calcs": ["lastNotNull"]}},
            description=COST_NOTE + YESTERDAY_NOTE,
            **YESTERDAY,
        ),
        stat(
            "Energy cost month to date",
            f"sum by (site) (increase({COST}[$__range]))",
            (8, 14, 4, 6),
            unit=CNY,
            decimals=0,
            description=COST_NOTE + MONTH_NOTE,
            **MONTH,
        ),
        stat(
            "Tariff period and price now",
            f"pue_site_tariff_price_cny_per_kwh{{{S}}}",
            (12, 14, 4, 6),
            legend="{{period}} {{site}}",
            unit="suffix: CNY/kWh",
            decimals=2,
            description="The time-of-use period in force now and its price (pue_site_tariff_price_cny_per_kwh, "
            "from the agent's tariff section).",
        ),
        panel(
            "stat",
            "Setpoint writes and reverts, 24 h",
            [(_grown(WRITES, "24h"), "writes {{site}}"), (_grown(REVERTS, "24h"), "reverts {{site}}")],
            (16, 14, 8, 6),
            instant=True,
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "textMode": "value_and_name"},
            description="Guarded setpoint writes (every result) and reverts to last known-good in the last 24 h: "
            "pue_setpoint_writes_total and pue_setpoint_reverts_total now minus 24 h ago (a series born in the "
            "window counts from 0). No data before the first write: advise mode never writes.",
        ),
        table(
            "Devices down now",
            [(f"pue_device_up{{{S}}} == 0", "")],
            (0, 20, 12, 7),
            hide=("Time", "__name__", "Value", "job"),
            description="Every device whose last poll failed or is stale, with its role, zone and agent. Empty "
            "when all are up.",
        ),
        table(
            "Recommended setpoints",
            [(f"pue_recommendation_setpoint_celsius{{{S}}}", "")],
            (12, 20, 12, 7),
            hide=("Time", "__name__", "job"),
            unit="celsius",
            description="The setpoints the recommender advises now (pue_recommendation_setpoint_celsius); what "
            "it predicts and why it holds back: PUE: cooling and recommendations.",
        ),
        panel(
            "stat",
            "Realised savings: today and month to date",
            [
                (f'sum by (site) ({REALISED}_kwh{{{S},period="day"}})', "today {{site}}"),
                (f'sum by (site) ({REALISED}_kwh{{{S},period="month"}})', "month {{site}}"),
                (f'sum by (site) ({REALISED}_predicted_kwh{{{S},period="month"}})', "month predicted {{site}}"),
            ],
            (0, 27, 24, 5),
            unit="kwatth",
            decimals=1,
            instant=True,
            options={"reduceOptions": {"calcs": ["lastNotNull"]}, "colorMode": "value", "textMode": "value_and_name"},
            description="Energy the applied changes saved, measured, today and this month, beside what the model "
            "predicted for the same windows (details on PUE: cooling and recommendations). " + REALISED_NOTE,
        ),
    ]
    return dashboard(
        "pue-morning",
        "PUE: morning check",
        "The operator's first look: hottest rack inlet, devices down, yesterday's and this month's energy PUE "
        "against the targets and GB 40879 grades, the pending recommendation, energy cost by tariff period, and "
        "markers for setpoint writes and reverts.",
        panels,
        [SITE_VAR, ZONE_VAR],
        refresh="1m",
        annotations=SETPOINT_ANNOTATIONS,
    )


#: descriptions of the panels above that do not carry their own (every panel needs one: the builder and
#: tests/ops/test_dashboards.py check it); keyed by title, unique across the dashboards that use this table
PANEL_NOTES = {
    # site overview
    "PUE 24 h": "Energy PUE over the last 24 h: increase() of facility / IT pue_site_energy_joules_total over 24h.",
    "PUE 30 days": "Energy PUE over the last 30 days: increase() of facility / IT energy counters over 30d "
    "(needs 30 days of Prometheus retention).",
    "PUE target": "The site's configured target (site.pue_target): pue_site_pue_target.",
    "IT load": "IT power averaged over 5 minutes from the IT energy counter (recording rule).",
    "PUE against target": "5-minute energy PUE (recording rule), the configured target, and the agent's real-time "
    "PUE (facility power / IT power, not an audit figure).",
    "IT load by zone (PDUs)": "IT power per zone from the PDUs' energy counters over 5 minutes (recording rule); "
    "stacked.",
    "Outdoor conditions": "Outdoor dry bulb and dew point [C] and relative humidity (right axis) from the outdoor "
    "sensors the config remaps (zone outside).",
    "Free cooling": "Share of cooling from free cooling and whether the economizer is enabled, averaged over 5 "
    "minutes across the cooling units (recording rules).",
    "Alerts (firing and pending)": "The shipped Pue* alerts of deploy/prometheus/rules, firing or pending now.",
    # cooling and recommendations
    "Pending approval": "1 when a recommendation waits for an operator (recommender mode approve).",
    "Predicted savings": "Facility power the model predicts the current recommendation saves (0 while it is held "
    "back).",
    "Model confidence": "Probability the predicted saving is real under the model's uncertainty (0-1); below "
    "recommender.min_confidence the recommendation is held back.",
    "Cooling power": "Cooling subsystem power over 5 minutes from its energy counters (topology.cooling).",
    "Hottest rack inlet": "Warmest rack-inlet sensor now; ASHRAE recommended envelope 18-27 C.",
    "Air setpoints vs recommendation": "Each cooling unit's supply and return air setpoints and supply "
    "temperature, and the recommender's setpoints.",
    "Chilled water vs recommendation": "Chilled water supply setpoint, supply and return temperatures, and the "
    "recommended supply setpoint.",
    "Rack inlets vs ASHRAE envelope (18-27 C)": "Maximum, mean and minimum rack-inlet temperature per zone against "
    "the ASHRAE TC 9.9 recommended envelope.",
    "Predicted PUE: current vs recommended": "The model's real-time PUE at the current and at the recommended "
    "setpoints, beside the measured 5-minute energy PUE.",
    "Predicted savings and model confidence": "Predicted facility power saved (left) and the probability it is "
    "real (right axis) over time.",
    "Cooling units: fan speed, free cooling, economizer": "Fan speed, free-cooling share and economizer state of "
    "each cooling unit (0-1).",
    "Reverted writes in the range": "Setpoints the agent put back to the last known-good value after a breach or "
    "bad data, in the range (pue_setpoint_reverts_total).",
    # energy and audit
    "Facility energy": "Facility energy over the range: increase() of pue_site_energy_joules_total{boundary="
    "facility}, summed over agents [kWh].",
    "IT energy": "IT energy over the range: increase() of pue_site_energy_joules_total{boundary=it}, summed over "
    "agents [kWh].",
    "PUE window coverage": "Average share of the agent's PUE window with complete facility and IT data over the "
    "range: below 95 % the period has gaps.",
    "Daily PUE": "Energy PUE of each day: increase() of facility / IT energy counters over 1d, one bar a day "
    "(days end at the query steps, which Grafana aligns to UTC midnight).",
    "Energy by category in the range": "IT and cooling energy from their counters; UPS losses and other from the "
    "recorded powers averaged over the range times its length [kWh].",
    "Daily PUE overhead by category": "Each day's cooling, UPS-loss and other power divided by IT power (ratio of "
    "daily means): the parts of PUE - 1.",
    "Coverage": "Share of the PUE window with complete data, and each boundary's share of contributing devices "
    "with fresh data.",
    "Why a PUE is not exported": "When a real-time or interval PUE is withheld, the reason (pue_site_pue_invalid_"
    "info): a device down, a partial read, a warming-up window, an implausible value.",
    "How each device's energy is measured": "Per device: its own energy counter, or power integrated by the agent "
    "(pue_site_energy_method_info).",
    # agent health
    "Devices up": "Devices whose last poll succeeded and is fresh (pue_device_up == 1).",
    "Devices down": "Devices whose last poll failed or is stale: see Device up and Poll errors by kind.",
    "Agents scraped": "pue-agent processes Prometheus scrapes successfully (up{job=pue-agent}).",
    "Slowest poll": "Longest duration of a device's last poll [s]; near the poll interval, polls overrun.",
    "Unreadable objects": "Profile objects devices did not answer sensibly at their last poll (wrong profile, "
    "firmware without the object).",
    "Agent version": "pue-agent versions running for the site (pue_build_info).",
    "Device up": "Each device's reachability over time (green up, red down).",
    "Poll duration": "Duration of each device's polls [s].",
    "Time since last successful poll": "Seconds since each device last answered a poll completely.",
    "Poll errors by kind": "Failed polls per device and kind (timeout, auth, decode, ...) per rate interval.",
    "Energy counter events (wraps, resets, caps, implausible jumps)": "Energy-register events the agent handled "
    "per device since it started: wraps, resets, caps and jumps it refused to count.",
    "Scrapes of the agents": "Whether Prometheus reaches each agent, and how long a scrape takes (right axis).",
}


DASHBOARDS = {
    "morning.json": morning,
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
