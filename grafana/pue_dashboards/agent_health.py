"""Agent health: devices up and down, poll durations and errors, counter events, scrapes of the agents."""

from __future__ import annotations

from typing import Any

from pue_dashboards.panels import (
    DEVICE_VAR,
    SITE_VAR,
    ZONE_VAR,
    dashboard,
    override_unit,
    panel,
    stat,
    table,
    thresholds,
    timeseries,
)
from pue_dashboards.queries import DEV, S


def agent_health() -> dict[str, Any]:
    up = f'pue_device_up{{{S},zone=~"$zone",device=~"$device"}}'
    panels = [
        stat("Devices up", f"sum by (site) ({up})", (0, 0, 4, 4)),
        stat(
            "Devices down",
            f"sum by (site) (1 - {up})",
            (4, 0, 4, 4),
            thresholds=thresholds((None, "green"), (1, "red")),
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
            thresholds=thresholds((None, "green"), (1, "orange")),
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
            thresholds=thresholds((None, "red"), (1, "green")),
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
