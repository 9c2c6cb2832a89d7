"""Import a site history CSV in the canonical format (BMS/DCIM exports, twin output, our own exports).

Required columns: ``timestamp`` (ISO 8601 with a zone, interval start), ``interval_s``,
``facility_power_w``, ``it_power_w``. Every other column of
:data:`~agent.history.export.EXPORT_COLUMNS` is optional; any other column is an error. Powers are
interval means [W] over the covered part of the interval (``coverage``, default 1).

Every bad row and column is reported (``file:line: column: reason``) before anything is written;
a good file is written in one transaction, so a failed import leaves the store unchanged.
"""

from __future__ import annotations

import csv
import math
from datetime import datetime
from pathlib import Path

from agent.errors import ImportFormatError
from agent.history.export import EXPORT_COLUMNS, TERM_COLUMNS
from agent.history.store import CONDITION_COLUMNS, SiteInterval, SqliteHistoryStore

__all__ = ["REQUIRED_COLUMNS", "import_history", "parse_history"]

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "interval_s", "facility_power_w", "it_power_w")

_METHODS = {"", "counter", "integrated", "counter+integrated", "imported"}
_MAX_PROBLEMS = 50
#: the ``pue`` column may differ from facility/IT by rounding of the powers only
_PUE_TOLERANCE = 1e-3


class _Row:
    def __init__(self, path: str, line: int, values: dict[str, str], problems: list[str]) -> None:
        self.path, self.line, self.values, self.problems = path, line, values, problems

    def bad(self, column: str, reason: str) -> None:
        self.problems.append(f"{self.path}:{self.line}: {column}: {reason}")

    def number(
        self, column: str, *, required: bool = False, low: float | None = None, high: float | None = None
    ) -> float | None:
        text = (self.values.get(column) or "").strip()
        if not text:
            if required:
                self.bad(column, "value is missing")
            return None
        try:
            value = float(text)
        except ValueError:
            self.bad(column, f"not a number: {text!r}")
            return None
        if not math.isfinite(value):
            self.bad(column, f"not a finite number: {text!r}")
            return None
        if (low is not None and value < low) or (high is not None and value > high):
            self.bad(
                column,
                f"{text} is outside [{low if low is not None else '-inf'}, "
                f"{high if high is not None else 'inf'}]",
            )
            return None
        return value


def _timestamp(row: _Row) -> float | None:
    text = (row.values.get("timestamp") or "").strip()
    if not text:
        row.bad("timestamp", "value is missing")
        return None
    try:
        parsed = datetime.fromisoformat(text.replace("Z", "+00:00"))
    except ValueError:
        row.bad("timestamp", f"not an ISO 8601 time: {text!r}")
        return None
    if parsed.tzinfo is None:
        row.bad("timestamp", f"{text!r} has no time zone (write 2026-01-01T00:00:00Z or +08:00)")
        return None
    return parsed.timestamp()


def parse_history(path: Path, it_category: int | None = None) -> list[SiteInterval]:
    """Read and check a canonical history CSV.

    Raises
    ------
    ImportFormatError
        listing every problem (up to 50) with file, line and column.
    """
    where = str(path)
    try:
        handle = path.open(newline="", encoding="utf-8-sig")
    except OSError as err:
        raise ImportFormatError([f"{where}: cannot read: {err.strerror or err}"]) from err
    problems: list[str] = []
    intervals: list[SiteInterval] = []
    with handle:
        reader = csv.reader(handle)
        try:
            header = next(reader)
        except StopIteration:
            raise ImportFormatError([f"{where}:1: the file is empty (expected a header row)"]) from None
        except (csv.Error, UnicodeDecodeError) as err:
            raise ImportFormatError([f"{where}:1: unreadable header: {err}"]) from None
        header = [h.strip() for h in header]
        unknown = [h for h in header if h not in EXPORT_COLUMNS]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if unknown:
            problems.append(
                f"{where}:1: header: unknown column(s) {', '.join(map(repr, unknown))} "
                f"(the canonical columns are {', '.join(EXPORT_COLUMNS)})"
            )
        if missing:
            problems.append(f"{where}:1: header: required column(s) missing: {', '.join(missing)}")
        if duplicated:
            problems.append(f"{where}:1: header: column(s) given twice: {', '.join(duplicated)}")
        if problems:
            raise ImportFormatError(problems)
        previous_end: float | None = None
        try:
            for record in reader:
                line = reader.line_num
                if not record or all(not cell.strip() for cell in record):
                    continue
                if len(record) != len(header):
                    problems.append(
                        f"{where}:{line}: row: {len(record)} fields, the header has {len(header)}"
                    )
                    continue
                row = _Row(where, line, dict(zip(header, record, strict=True)), problems)
                before = len(problems)
                interval = _interval(row, it_category)
                if interval is not None and len(problems) == before:
                    if previous_end is not None and interval.start_s < previous_end - 1e-6:
                        row.bad(
                            "timestamp",
                            "rows must be in time order without overlap "
                            "(this interval starts before the previous one ends)",
                        )
                    else:
                        intervals.append(interval)
                        previous_end = interval.start_s + interval.duration_s
                if len(problems) >= _MAX_PROBLEMS:
                    problems.append(f"{where}: stopped after {_MAX_PROBLEMS} problems")
                    break
        except (csv.Error, UnicodeDecodeError) as err:
            problems.append(f"{where}:{reader.line_num}: row: unreadable: {err}")
    if problems:
        raise ImportFormatError(problems)
    if not intervals:
        raise ImportFormatError([f"{where}: no data rows"])
    return intervals


def _interval(row: _Row, default_category: int | None) -> SiteInterval | None:
    start_s = _timestamp(row)
    interval_s = row.number("interval_s", required=True, low=1e-3, high=31 * 86400.0)
    coverage = row.number("coverage", low=0.0, high=1.0)
    coverage = 1.0 if coverage is None else coverage
    cooling_coverage = row.number("cooling_coverage", low=0.0, high=1.0)
    facility_w = row.number("facility_power_w", required=coverage > 0, low=0.0)
    it_w = row.number("it_power_w", required=coverage > 0, low=0.0)
    cooling_w = row.number("cooling_power_w", low=0.0)
    if cooling_coverage is None:
        cooling_coverage = coverage if cooling_w is not None else 0.0
    if cooling_coverage > coverage + 1e-9:
        row.bad("cooling_coverage", f"{cooling_coverage:g} is above coverage {coverage:g}")
    if cooling_coverage > 0 and cooling_w is None:
        row.bad("cooling_power_w", "value is missing (cooling_coverage is above 0)")
    if facility_w is not None and it_w is not None:
        if it_w <= 0 and coverage > 0:
            row.bad("it_power_w", "IT power must be above 0 where the interval is covered")
        elif facility_w < it_w:
            row.bad(
                "facility_power_w",
                f"{facility_w:g} W is below it_power_w {it_w:g} W (PUE below 1): check the boundary",
            )
        pue = row.number("pue", low=0.0)
        if pue is not None and it_w > 0 and abs(pue - facility_w / it_w) > _PUE_TOLERANCE:
            row.bad("pue", f"{pue:g} disagrees with facility_power_w / it_power_w = {facility_w / it_w:.4f}")
    conditions: dict[str, float] = {}
    bounds: dict[str, tuple[float, float]] = {
        "outdoor_dry_bulb_c": (-60.0, 60.0),
        "outdoor_wet_bulb_c": (-60.0, 60.0),
        "outdoor_rh_percent": (0.0, 100.0),
        "supply_air_setpoint_c": (5.0, 45.0),
        "chw_supply_setpoint_c": (0.0, 30.0),
        "economizer_enabled": (0.0, 1.0),
    }
    for column in CONDITION_COLUMNS:
        value = row.number(column, low=bounds[column][0], high=bounds[column][1])
        if value is not None:
            conditions[column] = value
    max_inlet_c = row.number("max_inlet_c", low=-20.0, high=80.0)
    method = (
        (row.values.get("energy_method") or "imported").strip()
        if "energy_method" in row.values
        else "imported"
    )
    if method not in _METHODS:
        row.bad("energy_method", f"{method!r} is not one of {', '.join(sorted(m for m in _METHODS if m))}")
    category_text = (row.values.get("it_category") or "").strip()
    category = default_category
    if category_text:
        if category_text not in ("1", "2", "3"):
            row.bad("it_category", f"{category_text!r} is not a single measurement category 1, 2 or 3")
        else:
            category = int(category_text)
    _check_energy(row, "facility_energy_kwh", facility_w, coverage, interval_s)
    _check_energy(row, "it_energy_kwh", it_w, coverage, interval_s)
    _check_energy(row, "cooling_energy_kwh", cooling_w, cooling_coverage, interval_s)
    terms = _terms(row, coverage, interval_s)
    if start_s is None or interval_s is None:
        return None
    covered_s = coverage * interval_s
    cooling_covered_s = cooling_coverage * interval_s if cooling_w is not None else 0.0

    def energy(power: float | None, seconds: float) -> float:
        return 0.0 if power is None else power * seconds

    return SiteInterval(
        start_s,
        interval_s,
        covered_s,
        energy(facility_w, covered_s),
        energy(it_w, covered_s),
        cooling_covered_s,
        energy(cooling_w, cooling_covered_s),
        method,
        category,
        "import",
        conditions,
        max_inlet_c,
        terms,
    )


def _terms(row: _Row, coverage: float, interval_s: float | None) -> dict[str, tuple[float, float]]:
    """The optional boundaries of a row (renewable, reused heat, water) as stored terms."""
    out: dict[str, tuple[float, float]] = {}
    for name, amount_column, coverage_column, per_unit in TERM_COLUMNS:
        amount = row.number(amount_column, low=0.0)
        share = row.number(coverage_column, low=0.0, high=1.0)
        if amount is None and share is None:
            continue
        if share is None:
            share = coverage
        if share > coverage + 1e-9:
            row.bad(coverage_column, f"{share:g} is above coverage {coverage:g} (it counts only covered time)")
        if share > 0 and amount is None:
            row.bad(amount_column, f"value is missing ({coverage_column} is above 0)")
        if interval_s is not None:
            out[name] = (share * interval_s, 0.0 if amount is None or share <= 0 else amount * per_unit)
    return out


def _check_energy(
    row: _Row, column: str, power_w: float | None, coverage: float, interval_s: float | None
) -> None:
    value = row.number(column, low=0.0)
    if value is None or power_w is None or interval_s is None:
        return
    expected = power_w * coverage * interval_s / 3.6e6
    if abs(value - expected) > 1e-5 + 1e-6 * expected:
        row.bad(column, f"{value:g} kWh disagrees with power x coverage x interval = {expected:.6f} kWh")


def import_history(store: SqliteHistoryStore, path: Path, it_category: int | None = None) -> int:
    """Check the whole file, then write it in one transaction. Returns the number of intervals.

    Raises
    ------
    ImportFormatError
        the file is malformed (nothing written).
    HistoryQueryError
        the file overlaps data already stored (nothing written).
    """
    return store.import_site_intervals(parse_history(path, it_category))
