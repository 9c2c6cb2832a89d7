"""The site overview: PUE now, over 24 h and 30 days against the target, IT load, outdoor conditions, alerts."""

from __future__ import annotations

from typing import Any

from pue_dashboards.panels import (
    PUE_THRESHOLDS,
    SITE_VAR,
    ZONE_VAR,
    dashboard,
    override_unit,
    stat,
    table,
    timeseries,
)
from pue_dashboards.queries import PUE_5M, SETPOINT_ANNOTATIONS, S, energy_pue, site_w


def site_overview() -> dict[str, Any]:
    it_w = site_w("it")
    panels = [
        stat(
            "PUE now (5 min, energy)",
            PUE_5M,
            (0, 0, 4, 4),
            decimals=3,
            thresholds=PUE_THRESHOLDS,
            description="Facility energy / IT energy over 5 minutes (recording rule; a site run as shards: each "
            "shard's energy over the time it covered, summed, then divided).",
        ),
        stat("PUE 24 h", energy_pue("24h"), (4, 0, 4, 4), decimals=3, thresholds=PUE_THRESHOLDS),
        stat("PUE 30 days", energy_pue("30d"), (8, 0, 4, 4), decimals=3, thresholds=PUE_THRESHOLDS),
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
                (PUE_5M, "PUE 5 min {{site}}"),
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
                (site_w("cooling"), "cooling {{site}}"),
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
