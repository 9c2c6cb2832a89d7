"""The history export as an Excel workbook an operator can open: real date-times in the site's zone, a frozen
header, and a sheet of units and metadata (site, period, time zone, software version).

Excel stores date-times without a zone: the ``timestamp`` column holds the interval start as the site's local
wall-clock time, and the ``units`` sheet names the zone and its UTC offset. The other columns are those of the
CSV export (:data:`~agent.history.export.EXPORT_COLUMNS`), numbers as numbers.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path

from agent import __version__
from agent.config.boundaries import OPTIONAL_BOUNDARIES

__all__ = ["COLUMN_UNITS", "write_xlsx"]

#: unit and meaning of every export column: the ``units`` sheet (a test keeps it complete)
COLUMN_UNITS: dict[str, tuple[str, str]] = {
    "timestamp": ("local date-time", "interval start, wall-clock time in the zone named below"),
    "interval_s": ("s", "interval length"),
    "facility_power_w": ("W", "facility power, mean over the covered time"),
    "it_power_w": ("W", "IT power, mean over the covered time"),
    "cooling_power_w": ("W", "cooling power, mean over its covered time"),
    "outdoor_dry_bulb_c": ("°C", "outdoor dry-bulb temperature, mean"),
    "outdoor_wet_bulb_c": ("°C", "outdoor wet-bulb temperature, mean"),
    "outdoor_rh_percent": ("%RH", "outdoor relative humidity, mean"),
    "supply_air_setpoint_c": ("°C", "cooling units' supply-air setpoint, mean"),
    "chw_supply_setpoint_c": ("°C", "chilled-water supply setpoint, mean"),
    "economizer_enabled": ("0/1", "economizer (free cooling) enabled for most of the interval"),
    "max_inlet_c": ("°C", "hottest rack inlet in the interval"),
    "pue": ("-", "energy PUE of the interval: facility / IT (ISO/IEC 30134-2)"),
    "facility_energy_kwh": ("kWh", "facility energy over the covered time"),
    "it_energy_kwh": ("kWh", "IT energy over the covered time"),
    "cooling_energy_kwh": ("kWh", "cooling energy over its covered time"),
    "coverage": ("0-1", "share of the interval with complete facility and IT data"),
    "cooling_coverage": ("0-1", "share of the interval with complete cooling data"),
    "complete": ("0/1", "1 when the whole interval has complete data"),
    "energy_method": ("text", "how energy was measured: device counter, integrated power, or both"),
    "it_category": ("text", "ISO/IEC 30134-2 IT measurement category (1 UPS, 2 PDU, 3 IT input)"),
    **{
        column: (unit, text)
        for b in OPTIONAL_BOUNDARIES
        for column, unit, text in (
            (b.export_column, "m³" if b.stored_per_export_unit == 1.0 else "kWh", f"{b.name}: {b.description}"),
            (b.coverage_column, "0-1", f"share of the interval with complete {b.name} data"),
        )
    },
    # optional plant levers, where the site logs them (agent/history/levers.py)
    "fan_min_speed_ratio": ("0-1", "CRAH fans' minimum speed setting, mean"),
    "condenser_water_setpoint_c": ("°C", "condenser-water supply setpoint, mean"),
    "chw_pump_dp_setpoint_pa": ("Pa", "chilled-water pump differential-pressure setpoint, mean"),
    "chillers_running": ("count", "chillers running or requested, mean"),
    "towers_running": ("count", "cooling towers running or requested, mean"),
}

_DATETIME_FORMAT = "yyyy-mm-dd hh:mm"


def _zone_name(tz: tzinfo) -> str:
    return "UTC" if tz is UTC else str(tz)


def _tag_unit(column: str) -> tuple[str, str]:
    """Unit and meaning of a sub-system, unit or energy-type column (:mod:`agent.config.audit`)."""
    from agent.config.tags import parse_tag_column

    tag = parse_tag_column(column)
    if tag is None:
        raise KeyError(column)
    kind, name, what = tag
    if what == "coverage":
        return "ratio 0..1", f"share of the interval for which the {kind.replace('_', ' ')} {name} was metered"
    return "kWh", f"energy of the {kind.replace('_', ' ')} {name} over its covered time"


def write_xlsx(
    columns: Sequence[str],
    rows: Sequence[Sequence[object]],
    starts_s: Sequence[float],
    out: Path,
    tz: tzinfo,
    metadata: Mapping[str, str],
) -> None:
    """Write ``rows`` (typed values, ``columns`` order, the first column replaced by ``starts_s`` as local
    date-times in ``tz``) to the workbook ``out`` with a ``history`` and a ``units`` sheet."""
    from openpyxl import Workbook

    book = Workbook()
    sheet = book.active
    assert sheet is not None
    sheet.title = "history"
    sheet.append(list(columns))
    for start_s, values in zip(starts_s, rows, strict=True):
        local = datetime.fromtimestamp(start_s, tz).replace(tzinfo=None)
        sheet.append([local, *values[1:]])
    for (cell,) in sheet.iter_rows(min_row=2, max_col=1):
        cell.number_format = _DATETIME_FORMAT
    sheet.column_dimensions["A"].width = 17
    sheet.freeze_panes = "B2"  # the header row and the timestamp column stay in view

    units = book.create_sheet("units")
    first = datetime.fromtimestamp(starts_s[0], tz) if starts_s else None
    offset = first.strftime("%z") if first is not None else ""
    about = {
        **metadata,
        "time zone": f"{_zone_name(tz)} (UTC{offset[:3]}:{offset[3:]})" if offset else _zone_name(tz),
        "software": f"pue-agent {__version__}",
        "exported at (UTC)": datetime.now(UTC).strftime("%Y-%m-%d %H:%M:%S"),
        "rows": str(len(rows)),
    }
    for key, value in about.items():
        units.append([key, value])
    units.append([])
    units.append(["column", "unit", "meaning"])
    for name in columns:
        unit, meaning = COLUMN_UNITS[name] if name in COLUMN_UNITS else _tag_unit(name)
        units.append([name, unit, meaning])
    units.column_dimensions["A"].width = 24
    units.column_dimensions["B"].width = 28
    units.column_dimensions["C"].width = 70
    book.save(out)
