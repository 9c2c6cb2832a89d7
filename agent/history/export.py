"""Export the site history as the canonical CSV (or Parquet, or Excel) at a chosen resolution.

Columns: :data:`~agent.history.site_csv.SITE_HISTORY_COLUMNS` first (exactly what the twin writes
and ``model fit`` reads), then :data:`EXTRA_COLUMNS`. One row per bucket from the first to the last
bucket holding data within the period; a bucket without complete data is a row with ``coverage``
0 and empty values, so gaps are visible rather than silently absent.

Each row is self-consistent after rounding, which makes export -> import -> export byte-identical:
powers are the energies over the covered time divided by that time, rounded to 0.1 W; ``pue`` is
the ratio of the rounded powers; ``*_energy_kwh`` = rounded power x coverage x interval_s / 3.6e6.
"""

from __future__ import annotations

import csv
import io
from collections.abc import Mapping, Sequence
from datetime import UTC, datetime, tzinfo
from pathlib import Path
from typing import TYPE_CHECKING, TextIO

from agent.config.boundaries import OPTIONAL_BOUNDARIES
from agent.config.tags import TAG_KINDS, parse_tag_term, tag_column, tag_term
from agent.errors import HistoryQueryError, HistoryStoreError
from agent.history.levers import lever_cells, lever_columns_in
from agent.history.records import RESOLUTIONS_S
from agent.history.site_csv import SITE_HISTORY_COLUMNS

if TYPE_CHECKING:  # the command line's parser reads constants here; sqlite loads with the store
    from agent.history.records import HistoryStore

__all__ = [
    "EXPORT_COLUMNS",
    "EXTRA_COLUMNS",
    "RESOLUTION_NAMES",
    "TERM_COLUMNS",
    "export_history",
    "history_rows",
    "history_table",
]

#: what follows the canonical columns in every export
EXTRA_COLUMNS: tuple[str, ...] = (
    "facility_energy_kwh",
    "it_energy_kwh",
    "cooling_energy_kwh",
    "coverage",
    "cooling_coverage",
    "complete",
    "energy_method",
    "it_category",
    # optional boundaries (empty where the topology has no such meter): amount over the covered time
    # and the share of the interval for which that meter was complete with facility and IT
    *(column for b in OPTIONAL_BOUNDARIES for column in (b.export_column, b.coverage_column)),
)

#: (stored term, amount column, coverage column, stored units per column unit), from the boundary table
TERM_COLUMNS: tuple[tuple[str, str, str, float], ...] = tuple(
    (b.term, b.export_column, b.coverage_column, b.stored_per_export_unit) for b in OPTIONAL_BOUNDARIES
)
EXPORT_COLUMNS: tuple[str, ...] = (*SITE_HISTORY_COLUMNS, *EXTRA_COLUMNS)

RESOLUTION_NAMES: dict[str, int] = {"1min": 60, "15min": 900, "1h": 3600, "1d": 86400}

_TEXT_COLUMNS = {"timestamp", "energy_method", "it_category"}


def _iso(epoch_s: float) -> str:
    return datetime.fromtimestamp(epoch_s, tz=UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _fmt(value: float | None, digits: int) -> str:
    return "" if value is None else f"{value:.{digits}f}"


def format_row(
    start_s: float,
    interval_s: float,
    covered_s: float,
    facility_j: float,
    it_j: float,
    cooling_covered_s: float,
    cooling_j: float,
    conditions: dict[str, float],
    max_inlet_c: float | None,
    methods: Sequence[str],
    categories: Sequence[int],
    terms: dict[str, tuple[float, float]] | None = None,
) -> list[str]:
    """One export row as strings, derived values computed from the rounded ones (see module doc)."""
    coverage = round(covered_s / interval_s, 6) if interval_s > 0 else 0.0
    cooling_coverage = round(cooling_covered_s / interval_s, 6) if interval_s > 0 else 0.0
    facility_w = round(facility_j / covered_s, 1) if covered_s > 0 else None
    it_w = round(it_j / covered_s, 1) if covered_s > 0 else None
    cooling_w = round(cooling_j / cooling_covered_s, 1) if cooling_covered_s > 0 else None
    pue = facility_w / it_w if facility_w is not None and it_w else None

    def kwh(power_w: float | None, share: float) -> str:
        return "" if power_w is None else f"{power_w * share * interval_s / 3.6e6:.6f}"

    economizer = conditions.get("economizer_enabled")
    return [
        _iso(start_s),
        f"{interval_s:g}",
        _fmt(facility_w, 1),
        _fmt(it_w, 1),
        _fmt(cooling_w, 1),
        _fmt(conditions.get("outdoor_dry_bulb_c"), 2),
        _fmt(conditions.get("outdoor_wet_bulb_c"), 2),
        _fmt(conditions.get("outdoor_rh_percent"), 1),
        _fmt(conditions.get("supply_air_setpoint_c"), 2),
        _fmt(conditions.get("chw_supply_setpoint_c"), 2),
        "" if economizer is None else str(int(economizer >= 0.5)),
        _fmt(max_inlet_c, 2),
        _fmt(pue, 4),
        kwh(facility_w, coverage),
        kwh(it_w, coverage),
        kwh(cooling_w, cooling_coverage),
        f"{coverage:.6f}",
        f"{cooling_coverage:.6f}",
        "1" if coverage >= 1.0 else "0",
        "+".join(sorted(methods)),
        "+".join(str(c) for c in sorted(categories)),
        *_term_cells(terms or {}, interval_s),
    ]


def _term_cells(terms: dict[str, tuple[float, float]], interval_s: float) -> list[str]:
    cells: list[str] = []
    for name, _amount, _coverage, per_unit in TERM_COLUMNS:
        if name not in terms:
            cells += ["", ""]
            continue
        covered_s, value = terms[name]
        cells += [
            "" if covered_s <= 0 else f"{value / per_unit:.6f}",
            f"{covered_s / interval_s:.6f}" if interval_s > 0 else "0.000000",
        ]
    return cells


def history_rows(store: HistoryStore, start_s: float, end_s: float, resolution_s: int) -> list[list[str]]:
    """Export rows (strings, :data:`EXPORT_COLUMNS` order) for ``[start_s, end_s)``: :func:`history_table`
    without its tag columns."""
    _columns, rows = history_table(store, start_s, end_s, resolution_s)
    return [row[: len(EXPORT_COLUMNS)] for row in rows]


def _tag_terms(terms: Sequence[str]) -> list[tuple[str, str]]:
    """(kind, name) of the tag terms among ``terms``, in report order (sub-system, unit, energy type; by name)."""
    tags = {tag for tag in map(parse_tag_term, terms) if tag is not None}
    return sorted(tags, key=lambda tag: (TAG_KINDS.index(tag[0]), tag[1]))


def _tag_cells(terms: dict[str, tuple[float, float]], tags: Sequence[tuple[str, str]], interval_s: float) -> list[str]:
    cells: list[str] = []
    for kind, name in tags:
        covered_s, value_j = terms.get(tag_term(kind, name), (0.0, 0.0))
        cells += [
            "" if covered_s <= 0 else f"{value_j / 3.6e6:.6f}",
            f"{covered_s / interval_s:.6f}" if interval_s > 0 else "0.000000",
        ]
    return cells


def history_table(
    store: HistoryStore, start_s: float, end_s: float, resolution_s: int
) -> tuple[tuple[str, ...], list[list[str]]]:
    """Export columns and rows (strings) for ``[start_s, end_s)``: :data:`EXPORT_COLUMNS`, then two columns
    per sub-system, unit and energy type stored in the period (``subsystem_chillers_energy_kwh``: energy
    over its covered time; ``subsystem_chillers_coverage``: the share of the interval it was covered), then
    one column per optional lever logged in the period (its mean, :mod:`agent.history.levers`).

    Raises
    ------
    HistoryQueryError
        bad resolution, or no data in the period at that resolution (with a hint when coarser
        data exists, e.g. an hourly import exported at 15 min).
    """
    if resolution_s not in RESOLUTIONS_S:
        raise HistoryQueryError(f"resolution {resolution_s} s is not one of {sorted(RESOLUTION_NAMES)}")
    rollups = store.site_rollups(resolution_s, start_s, end_s)
    if not rollups:
        coarser = [r for r in RESOLUTIONS_S if r > resolution_s and store.site_rollups(r, start_s, end_s)]
        hint = f" (there is data at {coarser[0]} s resolution: the stored data is coarser)" if coarser else ""
        raise HistoryQueryError(f"no history between {_iso(start_s)} and {_iso(end_s)} at {resolution_s} s" + hint)
    by_start = {r.start_s: r for r in rollups}
    tags = _tag_terms(sorted({term for r in rollups for term in r.terms}))
    levers = lever_columns_in({term for r in rollups for term in r.terms})
    columns = (*EXPORT_COLUMNS, *(tag_column(k, n, w) for k, n in tags for w in ("energy_kwh", "coverage")), *levers)
    rows = []
    for bucket in range(rollups[0].start_s, rollups[-1].start_s + resolution_s, resolution_s):
        r = by_start.get(bucket)
        if r is None:
            rows.append(
                format_row(bucket, resolution_s, 0.0, 0.0, 0.0, 0.0, 0.0, {}, None, (), ())
                + _tag_cells({}, tags, resolution_s)
                + lever_cells({}, levers)
            )
        else:
            methods = sorted(r.methods) if r.methods else []
            if "counter" in methods and "integrated" in methods:
                methods = ["counter+integrated", *[m for m in methods if m not in ("counter", "integrated")]]
            rows.append(
                format_row(
                    bucket,
                    resolution_s,
                    r.covered_s,
                    r.facility_j,
                    r.it_j,
                    r.cooling_covered_s,
                    r.cooling_j,
                    r.conditions,
                    r.max_inlet_c,
                    methods,
                    sorted(r.it_categories),
                    r.terms,
                )
                + _tag_cells(r.terms, tags, resolution_s)
                + lever_cells(r.terms, levers)
            )
    return columns, rows


def write_csv(rows: Sequence[Sequence[str]], out: TextIO, columns: Sequence[str] = EXPORT_COLUMNS) -> None:
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    writer.writerows(rows)


def _typed(rows: Sequence[Sequence[str]], names: Sequence[str] = EXPORT_COLUMNS) -> dict[str, list[object]]:
    columns: dict[str, list[object]] = {c: [] for c in names}
    for row in rows:
        for name, text in zip(names, row, strict=True):
            if name == "timestamp":
                columns[name].append(datetime.fromisoformat(text.replace("Z", "+00:00")))
            elif name in _TEXT_COLUMNS:
                columns[name].append(text or None)
            else:
                columns[name].append(float(text) if text else None)
    return columns


def export_history(
    store: HistoryStore,
    start_s: float,
    end_s: float,
    resolution_s: int,
    out: Path,
    fmt: str,
    *,
    tz: tzinfo = UTC,
    metadata: Mapping[str, str] | None = None,
) -> int:
    """Write the history of ``[start_s, end_s)`` to ``out`` as ``csv``, ``parquet`` or ``xlsx``.

    CSV and Parquet keep UTC timestamps (what ``import`` reads); the workbook shows local date-times in ``tz``
    with a ``units`` sheet holding ``metadata`` (site, period, ...), the zone and the software version
    (:mod:`agent.history.xlsx`). Returns the number of rows. The file is written to a temporary name and
    renamed, so a failed export never leaves a half-written file under the requested name.
    """
    names, rows = history_table(store, start_s, end_s, resolution_s)
    partial = out.with_name(out.name + ".partial")
    try:
        if fmt == "csv":
            buffer = io.StringIO()
            write_csv(rows, buffer, names)
            partial.write_text(buffer.getvalue(), encoding="utf-8")
        elif fmt == "parquet":
            import pyarrow as pa
            import pyarrow.parquet as pq

            pq.write_table(pa.table(_typed(rows, names)), partial)
        elif fmt == "xlsx":
            from agent.history.xlsx import write_xlsx

            typed = _typed(rows, names)
            values = [[typed[c][i] for c in names] for i in range(len(rows))]
            starts = [datetime.fromisoformat(row[0].replace("Z", "+00:00")).timestamp() for row in rows]
            about = {"resolution": f"{resolution_s} s", **(metadata or {})}
            write_xlsx(names, values, starts, partial, tz, about)
        else:
            raise HistoryQueryError(f"unknown export format {fmt!r} (csv, parquet, xlsx)")
        partial.replace(out)
    except OSError as err:
        partial.unlink(missing_ok=True)
        raise HistoryStoreError(f"cannot write {out}: {err.strerror or err}") from err
    return len(rows)
