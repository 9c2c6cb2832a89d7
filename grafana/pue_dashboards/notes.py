"""Descriptions of the panels that do not carry their own, keyed by title."""

#: descriptions of the panels above that do not carry their own (every panel needs one: the builder and
#: tests/ops/test_dashboards.py check it); keyed by title, unique across the dashboards that use this table
PANEL_NOTES = {
    # site overview
    "PUE 24 h": "Energy PUE over the last 24 h: increase() of facility / IT pue_site_energy_joules_total over 24h "
    "(a site run as shards: each shard's energy over the seconds it covered, summed, then divided).",
    "PUE 30 days": "Energy PUE over the last 30 days: increase() of facility / IT energy counters over 30d "
    "(needs 30 days of Prometheus retention).",
    "PUE target": "The site's configured target (site.pue_target): pue_site_pue_target.",
    "IT load": "IT power averaged over 5 minutes from the IT energy counter (recording rule; a site run as shards: "
    "the shards' IT powers over their covered time, summed).",
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
