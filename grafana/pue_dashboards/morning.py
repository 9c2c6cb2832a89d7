"""The morning check: hottest inlet, devices down, yesterday and month-to-date PUE against the targets and grade,
the pending recommendation, realised savings, cost, and the setpoint write/revert annotations (docs/dashboards.md).
"""

from __future__ import annotations

from typing import Any

from pue_dashboards.cooling import REALISED, REALISED_NOTE
from pue_dashboards.panels import (
    ASHRAE_ENVELOPE,
    SITE_VAR,
    ZONE_VAR,
    Panel,
    cost_by_tariff_period,
    dashboard,
    hottest_inlet,
    override_unit,
    panel,
    stat,
    table,
    thresholds,
    timeseries,
)
from pue_dashboards.queries import (
    CNY,
    COST,
    COST_NOTE,
    RACK_INLET_MAX,
    REVERTS,
    SETPOINT_ANNOTATIONS,
    WRITES,
    S,
    energy_pue,
    grown,
)

#: GB 40879-2021 grade limits (1.20 / 1.30 / 1.50) and the current national targets (2024 action plan: <= 1.25 new
#: large data centres, <= 1.20 hub nodes), as colour steps; all from agent/data/pue_targets.yaml (a test checks them)
GRADE_THRESHOLDS = thresholds((None, "dark-green"), (1.2, "green"), (1.25, "yellow"), (1.3, "orange"), (1.5, "red"))
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
    panels = [
        hottest_inlet(
            (0, 0, 4, 5),
            description="Warmest rack-inlet sensor now (recording rule over pue_device_rack_inlet_temperature_celsius)"
            "; ASHRAE recommended envelope 18-27 C: red above 27 C.",
        ),
        stat(
            "Devices down",
            f"sum by (site) (1 - pue_device_up{{{S}}})",
            (4, 0, 4, 5),
            thresholds=thresholds((None, "green"), (1, "red")),
            description="Devices whose last poll failed or is stale (pue_device_up == 0); the table below names "
            "them. Poll errors by kind: PUE: agent health.",
        ),
        _gauge(
            "PUE yesterday",
            energy_pue("$__range"),
            (8, 0, 4, 5),
            "Energy PUE of yesterday: " + ENERGY_METHOD + YESTERDAY_NOTE + GRADE_NOTE,
            **YESTERDAY,
        ),
        _gauge(
            "PUE month to date",
            energy_pue("$__range"),
            (12, 0, 4, 5),
            "Energy PUE of this month so far: " + ENERGY_METHOD + MONTH_NOTE + GRADE_NOTE,
            **MONTH,
        ),
        stat(
            "Recommendation pending approval",
            f"sum by (site) (pue_recommendation_pending_approval{{{S}}})",
            (16, 0, 4, 5),
            thresholds=thresholds((None, "green"), (1, "orange")),
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
            [(energy_pue("1d"), "{{site}}")],
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
                (f"max by (site, zone) ({RACK_INLET_MAX})", "inlet {{zone}}"),
                (f"pue_site_realtime_pue{{{S}}}", "real-time PUE {{site}}"),
            ],
            (12, 5, 12, 9),
            unit="celsius",
            thresholds=ASHRAE_ENVELOPE,
            custom={"thresholdsStyle": {"mode": "dashed"}},
            overrides=[override_unit("B", "none")],
            description="Overnight rack inlets (lines at the ASHRAE 18 and 27 C) beside the agent's real-time PUE "
            "(right axis). Markers: setpoint writes (blue) and reverts (red), from pue_setpoint_writes_total and "
            "pue_setpoint_reverts_total.",
        ),
        cost_by_tariff_period(
            "Energy cost yesterday by tariff period", (0, 14, 8, 6), description=COST_NOTE + YESTERDAY_NOTE, **YESTERDAY
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
            [(grown(WRITES, "24h"), "writes {{site}}"), (grown(REVERTS, "24h"), "reverts {{site}}")],
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
