"""Canonical site history CSV: one row per interval, values averaged over the interval."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from twin.simulate import SimulationResult

__all__ = ["SITE_HISTORY_COLUMNS", "write_site_history"]

from agent.history.site_csv import SITE_HISTORY_COLUMNS  # the canonical columns live in the core


def _iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_site_history(result: SimulationResult, out: str | Path | TextIO) -> int:
    """Write a simulation as the canonical site history CSV.

    ``timestamp`` is the interval start in ISO 8601 UTC (``2026-01-01T00:00:00Z``); powers in W,
    temperatures in C, RH in %, ``economizer_enabled`` 0 or 1, ``pue`` the interval's
    facility / IT energy.

    Parameters
    ----------
    result : SimulationResult
        Simulation to write.
    out : str, pathlib.Path or text file
        Destination.

    Returns
    -------
    int
        Number of data rows written.
    """
    if isinstance(out, (str, Path)):
        with Path(out).open("w", newline="", encoding="utf-8") as fh:
            return write_site_history(result, fh)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SITE_HISTORY_COLUMNS)
    interval = f"{result.interval_s:g}"
    columns = zip(
        result.start_epoch_s.tolist(),
        result.facility_power_w.tolist(),
        result.it_power_w.tolist(),
        result.cooling_power_w.tolist(),
        result.outdoor_dry_bulb_c.tolist(),
        result.outdoor_wet_bulb_c.tolist(),
        result.outdoor_rh_percent.tolist(),
        result.supply_air_setpoint_c.tolist(),
        result.chw_supply_setpoint_c.tolist(),
        result.economizer_enabled.tolist(),
        result.max_inlet_c.tolist(),
        result.pue.tolist(),
        strict=True,
    )
    rows = 0
    for t, fac, it, cool, db, wb, rh, sa, chw, eco, inlet, pue in columns:
        writer.writerow(
            (
                _iso_utc(t),
                interval,
                f"{fac:.1f}",
                f"{it:.1f}",
                f"{cool:.1f}",
                f"{db:.2f}",
                f"{wb:.2f}",
                f"{rh:.1f}",
                f"{sa:.2f}",
                f"{chw:.2f}",
                int(eco),
                f"{inlet:.2f}",
                f"{pue:.4f}",
            )
        )
        rows += 1
    return rows
