"""How long the history keeps what: raw readings expire, energy is kept for audits (docs/history.md#retention).

``history.raw_retention_days`` (default 35) bounds polls and readings. ``history.energy_retention_days``
(default: unset, kept for as long as the database lives) bounds the per-poll device energy and the site
intervals, the rows an auditor re-adds to check a month; it is never shorter than the raw retention.
Rollups (device energy per hour and day, site energies per 1 min to 1 day) are never deleted.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

if TYPE_CHECKING:
    from agent.config.outputs import HistoryConfig

__all__ = ["DEFAULT_RAW_RETENTION_DAYS", "ENERGY_RETENTION_HELP", "retention_s"]

DEFAULT_RAW_RETENTION_DAYS = 35.0

ENERGY_RETENTION_HELP = (
    "keep per-poll device energy and site intervals this long (at least raw_retention_days); unset: kept "
    "as long as the database (audits re-add them for years); rollups are always kept"
)


def retention_s(history: HistoryConfig | None) -> tuple[float, float]:
    """(raw readings and polls, device energy and site intervals) retention [s]; ``inf``: never deleted."""
    raw_days = DEFAULT_RAW_RETENTION_DAYS if history is None else history.raw_retention_days
    energy_days = None if history is None else history.energy_retention_days
    energy_s = math.inf if energy_days is None else max(energy_days, raw_days) * 86400.0
    return raw_days * 86400.0, energy_s
