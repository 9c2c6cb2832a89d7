"""Import a site history CSV in the canonical format (BMS/DCIM exports, twin output, our own exports).

Required columns: ``timestamp`` (ISO 8601 with a zone, interval start), ``interval_s``,
``facility_power_w``, ``it_power_w``. Every other column of
:data:`~agent.history.export.EXPORT_COLUMNS` is optional, and so are the tag columns of sub-systems,
units and energy types (``subsystem_chillers_energy_kwh`` with ``subsystem_chillers_coverage``:
:mod:`agent.config.audit`); any other column is an error. Powers are
interval means [W] over the covered part of the interval (``coverage``, default 1).

The file is streamed: rows are checked and written in batches inside one transaction, so memory
stays bounded whatever the file size, and the first bad row rolls everything back (the store is
left unchanged). The rest of the file is still checked, so every bad row and column is reported
(``file:line:column: name: reason``, up to 50). Values that cannot be physical are refused like
malformed ones: a site power above :data:`MAX_POWER_W`, an IT power below :data:`MIN_IT_POWER_W`
where covered, or a PUE (facility / IT) outside [1, ``max_pue``].
"""

from __future__ import annotations

import codecs
import csv
import math
from collections import deque
from collections.abc import Callable, Iterator
from datetime import datetime
from pathlib import Path
from types import TracebackType
from typing import TYPE_CHECKING, BinaryIO

from agent.config.boundaries import MAX_POWER_W as MAX_TERM_POWER_W
from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.config.tags import parse_tag_column, tag_column, tag_term
from agent.errors import HistoryOverlapError, ImportFormatError
from agent.history.export import EXPORT_COLUMNS
from agent.history.levers import LEVER_COLUMNS, lever_terms
from agent.history.records import CONDITION_COLUMNS, SiteInterval

if TYPE_CHECKING:  # the command line's parser reads constants here; sqlite loads with the store
    from agent.history.records import HistoryStore

__all__ = [
    "DEFAULT_MAX_PUE",
    "MAX_POWER_W",
    "MIN_IT_POWER_W",
    "REQUIRED_COLUMNS",
    "import_history",
]

REQUIRED_COLUMNS: tuple[str, ...] = ("timestamp", "interval_s", "facility_power_w", "it_power_w")

#: plausible ceiling of a site power [W]: ten times the largest data-centre campuses (about 1 GW)
MAX_POWER_W = 1e10
#: plausible floor of the IT power where an interval is covered [W]; below it the PUE is noise
MIN_IT_POWER_W = 1.0
#: default highest plausible interval PUE of an import (``--max-pue``); the floor is 1
DEFAULT_MAX_PUE = 5.0
#: longest accepted line [bytes]: bounds the memory a file without line breaks can take
_MAX_LINE_BYTES = 64 * 1024
_MAX_INTERVAL_S = 31 * 86400.0

_METHODS = {"", "counter", "integrated", "counter+integrated", "imported"}
_MAX_PROBLEMS = 50
#: the ``pue`` column may differ from facility/IT by rounding of the powers only
_PUE_TOLERANCE = 1e-3
#: rows between two progress callbacks
_PROGRESS_ROWS = 5000

#: progress callback: (bytes read, file size [bytes], rows read)
Progress = Callable[[int, int, int], None]


class _Row:
    def __init__(
        self, path: str, line: int, values: dict[str, str], columns: dict[str, int], problems: list[str]
    ) -> None:
        self.path, self.line, self.values, self.columns, self.problems = path, line, values, columns, problems

    def bad(self, column: str, reason: str) -> None:
        position = self.columns.get(column)
        where = f"{self.path}:{self.line}" if position is None else f"{self.path}:{self.line}:{position}"
        self.problems.append(f"{where}: {column}: {reason}")

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
                f"{text} is outside [{'-inf' if low is None else f'{low:g}'}, "
                f"{'inf' if high is None else f'{high:g}'}]",
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


class _HistoryFile:
    """A history CSV read as bytes, line by line, and checked row by row.

    Decoding each line on its own lets a bad byte name its own line and column; the line length is
    bounded, so no input makes the reader hold more than one line and one batch of intervals.
    """

    def __init__(self, path: Path, it_category: int | None, max_pue: float, progress: Progress | None) -> None:
        self.where = str(path)
        self.it_category, self.max_pue, self.progress = it_category, max_pue, progress
        self.problems: list[str] = []
        self.columns: dict[str, int] = {}
        self.line = 0
        self.bytes_read = 0
        #: (start [s], line) of the latest rows, to name the line of an overlap the store finds
        self.recent: deque[tuple[float, int]] = deque(maxlen=20_000)
        try:
            self.handle: BinaryIO = path.open("rb")
            self.size = path.stat().st_size
        except OSError as err:
            raise ImportFormatError([f"{self.where}: cannot read: {err.strerror or err}"]) from err

    def __enter__(self) -> _HistoryFile:
        return self

    def __exit__(self, kind: type[BaseException] | None, value: BaseException | None, tb: TracebackType | None) -> None:
        self.handle.close()

    def _lines(self) -> Iterator[str]:
        while raw := self.handle.readline(_MAX_LINE_BYTES + 1):
            self.line += 1
            self.bytes_read += len(raw)
            if len(raw) > _MAX_LINE_BYTES:
                self._stop(f"{self.where}:{self.line}: row: longer than {_MAX_LINE_BYTES} bytes (not a history CSV?)")
            if self.line == 1 and raw.startswith(codecs.BOM_UTF8):
                raw = raw[len(codecs.BOM_UTF8) :]
            try:
                yield raw.decode("utf-8")
            except UnicodeDecodeError as err:
                column = len(raw[: err.start].decode("utf-8", "replace")) + 1
                self.problems.append(
                    f"{self.where}:{self.line}:{column}: row: not UTF-8 text (byte 0x{raw[err.start]:02x})"
                )
                if self.line == 1 or len(self.problems) >= _MAX_PROBLEMS:
                    self._stop()
                yield "\n"  # an empty row, skipped

    def _stop(self, problem: str | None = None) -> None:
        if problem is not None:
            self.problems.append(problem)
        if len(self.problems) >= _MAX_PROBLEMS:
            self.problems.append(f"{self.where}: stopped after {_MAX_PROBLEMS} problems")
        raise ImportFormatError(self.problems)

    def line_of(self, start_s: float) -> int | None:
        return next((line for start, line in reversed(self.recent) if start == start_s), None)

    def intervals(self) -> Iterator[SiteInterval]:
        """Checked intervals in file order; after the first problem nothing more is yielded, the rest
        of the file is only checked, and :class:`ImportFormatError` is raised at the end."""
        where = self.where
        reader = csv.reader(self._lines())
        try:
            header = next(reader, None)
        except csv.Error as err:
            self._stop(f"{where}:{self.line}: header: unreadable: {err}")
        if header is None:
            self._stop(f"{where}:1: the file is empty (expected a header row)")
        assert header is not None
        header = [h.strip() for h in header]
        unknown = [
            h for h in header if h not in EXPORT_COLUMNS and parse_tag_column(h) is None and h not in LEVER_COLUMNS
        ]
        missing = [c for c in REQUIRED_COLUMNS if c not in header]
        duplicated = sorted({h for h in header if header.count(h) > 1})
        if unknown:
            self.problems.append(
                f"{where}:1: header: unknown column(s) {', '.join(map(repr, unknown))} "
                f"(the canonical columns are {', '.join(EXPORT_COLUMNS)}; then tag columns such as "
                "subsystem_chillers_energy_kwh and subsystem_chillers_coverage)"
            )
        if missing:
            self.problems.append(f"{where}:1: header: required column(s) missing: {', '.join(missing)}")
        if duplicated:
            self.problems.append(f"{where}:1: header: column(s) given twice: {', '.join(duplicated)}")
        if self.problems:
            self._stop()
        self.columns = columns = {name: i + 1 for i, name in enumerate(header)}
        previous_end: float | None = None
        rows = 0
        try:
            for record in reader:
                line = self.line
                if not record or all(not cell.strip() for cell in record):
                    continue
                rows += 1
                if self.progress is not None and rows % _PROGRESS_ROWS == 0:
                    self.progress(self.bytes_read, self.size, rows)
                if len(record) != len(header):
                    self.problems.append(f"{where}:{line}: row: {len(record)} fields, the header has {len(header)}")
                else:
                    row = _Row(where, line, dict(zip(header, record, strict=True)), columns, self.problems)
                    before = len(self.problems)
                    interval = _interval(row, self.it_category, self.max_pue)
                    if interval is not None and len(self.problems) == before:
                        if previous_end is not None and interval.start_s < previous_end - 1e-6:
                            row.bad(
                                "timestamp",
                                "rows must be in time order without overlap "
                                "(this interval starts before the previous one ends)",
                            )
                        else:
                            previous_end = interval.start_s + interval.duration_s
                            if not self.problems:
                                self.recent.append((interval.start_s, line))
                                yield interval
                if len(self.problems) >= _MAX_PROBLEMS:
                    self._stop()
        except csv.Error as err:
            self.problems.append(f"{where}:{self.line}: row: unreadable: {err}")
        if self.progress is not None:
            self.progress(self.bytes_read, self.size, rows)
        if self.problems:
            self._stop()
        if rows == 0:
            self._stop(f"{where}: no data rows")


def _interval(row: _Row, default_category: int | None, max_pue: float) -> SiteInterval | None:
    start_s = _timestamp(row)
    interval_s = row.number("interval_s", required=True, low=1e-3, high=_MAX_INTERVAL_S)
    coverage = row.number("coverage", low=0.0, high=1.0)
    coverage = 1.0 if coverage is None else coverage
    cooling_coverage = row.number("cooling_coverage", low=0.0, high=1.0)
    facility_w = row.number("facility_power_w", required=coverage > 0, low=0.0, high=MAX_POWER_W)
    it_w = row.number("it_power_w", required=coverage > 0, low=0.0, high=MAX_POWER_W)
    cooling_w = row.number("cooling_power_w", low=0.0, high=MAX_POWER_W)
    if cooling_coverage is None:
        cooling_coverage = coverage if cooling_w is not None else 0.0
    if cooling_coverage > coverage + 1e-9:
        row.bad("cooling_coverage", f"{cooling_coverage:g} is above coverage {coverage:g}")
    if cooling_coverage > 0 and cooling_w is None:
        row.bad("cooling_power_w", "value is missing (cooling_coverage is above 0)")
    if facility_w is not None and it_w is not None:
        if it_w < MIN_IT_POWER_W and coverage > 0:
            row.bad("it_power_w", f"IT power must be at least {MIN_IT_POWER_W:g} W where the interval is covered")
        elif facility_w < it_w:
            row.bad(
                "facility_power_w",
                f"{facility_w:g} W is below it_power_w {it_w:g} W (PUE below 1): check the boundary",
            )
        elif coverage > 0 and facility_w / it_w > max_pue:
            row.bad(
                "facility_power_w",
                f"PUE {facility_w / it_w:.4g} (facility_power_w / it_power_w) is above the plausible "
                f"{max_pue:g} (--max-pue)",
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
    method = (row.values.get("energy_method") or "imported").strip() if "energy_method" in row.values else "imported"
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
    # the levers in force, where the file logs them: means over the interval (agent/history/levers.py)
    levers = {c: v for c in LEVER_COLUMNS if c in row.values and (v := row.number(c, low=0.0)) is not None}
    terms.update(lever_terms(levers, interval_s))
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
    """The optional boundaries (renewable, reused heat, water) and the tags (sub-system, unit, energy type) of a
    row as stored terms: (stored term, amount column, its coverage column, stored units per column unit, ceiling
    rate [stored unit/s])."""
    columns = [
        (b.term, b.export_column, b.coverage_column, b.stored_per_export_unit, b.max_rate_per_s)
        for b in OPTIONAL_BOUNDARIES
    ]
    tags = sorted({(tag[0], tag[1]) for tag in map(parse_tag_column, row.values) if tag is not None})
    columns += [
        (tag_term(k, n), tag_column(k, n, "energy_kwh"), tag_column(k, n, "coverage"), 3.6e6, MAX_TERM_POWER_W)
        for k, n in tags
    ]
    out: dict[str, tuple[float, float]] = {}
    seconds = _MAX_INTERVAL_S if interval_s is None else interval_s
    for name, amount_column, coverage_column, per_unit, max_rate in columns:
        amount = row.number(amount_column, low=0.0, high=max_rate * seconds / per_unit)
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


def _check_energy(row: _Row, column: str, power_w: float | None, coverage: float, interval_s: float | None) -> None:
    seconds = _MAX_INTERVAL_S if interval_s is None else interval_s
    value = row.number(column, low=0.0, high=MAX_POWER_W * seconds / 3.6e6)
    if value is None or power_w is None or interval_s is None:
        return
    expected = power_w * coverage * interval_s / 3.6e6
    if abs(value - expected) > 1e-5 + 1e-6 * expected:
        row.bad(column, f"{value:g} kWh disagrees with power x coverage x interval = {expected:.6f} kWh")


def import_history(
    store: HistoryStore,
    path: Path,
    it_category: int | None = None,
    *,
    max_pue: float = DEFAULT_MAX_PUE,
    progress: Progress | None = None,
) -> int:
    """Stream the file into the store in one transaction. Returns the number of intervals.

    Raises
    ------
    ImportFormatError
        the file is malformed or holds implausible values, or a row overlaps data already stored
        (nothing written).
    HistoryStoreError
        the database cannot be written (nothing written).
    """
    with _HistoryFile(path, it_category, max_pue, progress) as source:
        try:
            return store.import_site_intervals(source.intervals())
        except HistoryOverlapError as err:
            line = source.line_of(err.start_s)
            where = source.where if line is None else f"{source.where}:{line}:{source.columns['timestamp']}"
            raise ImportFormatError([f"{where}: timestamp: {err}"]) from None
