"""The canonical site history CSV: one row per interval, values averaged over it.

It is what the twin writes, what ``pue-agent export`` writes and ``import`` reads, and what
``pue-agent model fit`` learns from. These columns keep exactly these names and units; more may
follow them.
"""

__all__ = ["SITE_HISTORY_COLUMNS"]

SITE_HISTORY_COLUMNS: tuple[str, ...] = (
    "timestamp",  # ISO 8601, UTC, interval start
    "interval_s",
    "facility_power_w",
    "it_power_w",
    "cooling_power_w",
    "outdoor_dry_bulb_c",
    "outdoor_wet_bulb_c",
    "outdoor_rh_percent",
    "supply_air_setpoint_c",
    "chw_supply_setpoint_c",
    "economizer_enabled",  # 0 or 1
    "max_inlet_c",
    "pue",
)
