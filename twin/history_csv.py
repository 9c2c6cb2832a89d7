"""Canonical site history CSV: one row per interval, values averaged over the interval."""

from __future__ import annotations

import csv
from datetime import UTC, datetime
from pathlib import Path
from typing import TextIO

from agent.history.site_csv import SITE_HISTORY_COLUMNS  # the canonical columns live in the core
from twin.simulate import SimulationResult

__all__ = ["SITE_HISTORY_COLUMNS", "SUBMETER_COLUMNS", "write_site_history"]

#: what ``--submeters`` adds: the twin's sub-system, unit and energy-type meters (and its PV and heat-reuse
#: meters as the optional boundaries' columns), each an energy column over
#: the interval with its coverage (always 1: the twin's meters never fail), named as
#: :func:`agent.config.audit.tag_column` names them
SUBMETER_SERIES: tuple[tuple[str, str], ...] = (
    ("subsystem_chillers", "chiller_power_w"),
    ("subsystem_cooling_towers", "tower_fan_power_w"),
    ("subsystem_pumps", "pump_power_w"),
    ("subsystem_crah_fans", "crah_fan_power_w"),
    ("subsystem_lighting", "lighting_other_w"),
    ("subsystem_ups_losses", "ups_loss_w"),
    ("subsystem_pdu_losses", "pdu_loss_w"),
    ("unit_hall-1", "facility_power_w"),
    ("energy_type_grid_electricity", "grid_import_power_w"),
    ("energy_type_onsite_renewable", "pv_power_w"),
    ("renewable", "pv_power_w"),  # the optional boundaries' columns: REF and PV not charged as grid electricity
    ("reused_heat", "reused_heat_power_w"),  # ERE, ERF
)
SUBMETER_COLUMNS: tuple[str, ...] = tuple(
    column for prefix, _ in SUBMETER_SERIES for column in (f"{prefix}_energy_kwh", f"{prefix}_coverage")
)


def _series(result: SimulationResult, name: str) -> list[float]:
    if name == "grid_import_power_w":
        grid: list[float] = (result.facility_power_w - result.pv_power_w).tolist()
        return grid
    values: list[float] = getattr(result, name).tolist()
    return values


def _iso_utc(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def write_site_history(result: SimulationResult, out: str | Path | TextIO, *, submeters: bool = False) -> int:
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
    submeters : bool
        Also write :data:`SUBMETER_COLUMNS` (energy by sub-system, unit and energy type).

    Returns
    -------
    int
        Number of data rows written.
    """
    if isinstance(out, (str, Path)):
        with Path(out).open("w", newline="", encoding="utf-8") as fh:
            return write_site_history(result, fh, submeters=submeters)
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(SITE_HISTORY_COLUMNS + (SUBMETER_COLUMNS if submeters else ()))
    to_kwh = result.interval_s / 3.6e6
    extra = list(zip(*(_series(result, name) for _, name in SUBMETER_SERIES), strict=True)) if submeters else []
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
        cells = [cell for power in extra[rows] for cell in (f"{power * to_kwh:.6f}", "1.000000")] if extra else []
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
                *cells,
            )
        )
        rows += 1
    return rows
