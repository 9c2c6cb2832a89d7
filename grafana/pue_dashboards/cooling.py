"""Cooling and recommendations: setpoints against the recommender, rack inlets, predicted and realised savings."""

from __future__ import annotations

from typing import Any

from pue_dashboards.panels import (
    ASHRAE_ENVELOPE,
    DEVICE_VAR,
    SITE_VAR,
    ZONE_VAR,
    Panel,
    dashboard,
    hottest_inlet,
    override_unit,
    panel,
    stat,
    table,
    thresholds,
    timeseries,
)
from pue_dashboards.queries import DEV, REC_W, SETPOINT_ANNOTATIONS, S

RECOMMENDED_AIR = 'quantity=~"supply_air_setpoint_c|return_air_setpoint_c|rack_inlet_setpoint_c"'


def cooling() -> dict[str, Any]:
    panels = [
        stat(
            "Pending approval",
            f"sum by (site) (pue_recommendation_pending_approval{{{S}}})",
            (0, 0, 4, 4),
            thresholds=thresholds((None, "green"), (1, "orange")),
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
            thresholds=thresholds((None, "red"), (0.6, "green")),
        ),
        stat("Cooling power", REC_W % (S, "cooling"), (12, 0, 4, 4), unit="watt"),
        stat(
            "Cooling overhead (CLF)",
            f"site:pue_cooling_overhead:ratio_rate5m{{{S}}}",
            (16, 0, 4, 4),
            decimals=3,
            description="Cooling energy / IT energy over 5 minutes (The Green Grid cooling load factor).",
        ),
        hottest_inlet((20, 0, 4, 4)),
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
            thresholds=ASHRAE_ENVELOPE,
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
        *realised_panels(37),
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


def realised_panels(y: int) -> list[Panel]:
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
            thresholds=thresholds((None, "green"), (1, "orange"), (3, "red")),
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
