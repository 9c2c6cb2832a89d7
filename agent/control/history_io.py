"""Strict readers of the canonical site history CSV and of recommendation conditions CSVs.

Every problem is a :class:`~agent.errors.HistoryFormatError` whose message names the file, the line
(1-based, the header is line 1), the column and the reason, e.g.
``h.csv:12: column 'it_power_w': not a number: 'abc'``.
"""

from __future__ import annotations

import csv
import difflib
import io
import math
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path

import numpy as np
from numpy.typing import NDArray

from agent.errors import HistoryFormatError
from agent.history.site_csv import SITE_HISTORY_COLUMNS
from models.levers import LEVER_NAMES

__all__ = [
    "CONDITIONS_OPTIONAL_COLUMNS",
    "CONDITIONS_REQUIRED_COLUMNS",
    "Table",
    "read_conditions",
    "read_site_history",
]

CONDITIONS_REQUIRED_COLUMNS: tuple[str, ...] = (
    "timestamp",
    "it_power_w",
    "outdoor_dry_bulb_c",
    "outdoor_wet_bulb_c",
)
CONDITIONS_OPTIONAL_COLUMNS: tuple[str, ...] = (
    "supply_air_setpoint_c",
    "chw_supply_setpoint_c",
    "economizer_enabled",
)
_BOOLEAN_COLUMNS = frozenset({"economizer_enabled"})
_POSITIVE_COLUMNS = frozenset({"it_power_w", "facility_power_w", "interval_s"})
_NON_NEGATIVE_COLUMNS = frozenset({"cooling_power_w"})


@dataclass(frozen=True)
class Table:
    """Numeric columns of a CSV, rows in time order.

    Attributes
    ----------
    path : str
        Source file.
    timestamps : tuple of str
        Timestamps as written.
    epoch_s : numpy.ndarray
        Timestamps as UTC epoch seconds [s].
    columns : dict of str to numpy.ndarray
        Numeric columns by canonical name.
    """

    path: str
    timestamps: tuple[str, ...]
    epoch_s: NDArray[np.float64]
    columns: dict[str, NDArray[np.float64]]

    def __len__(self) -> int:
        return len(self.timestamps)


def _parse_timestamp(text: str) -> float:
    parsed = datetime.fromisoformat(text.strip().replace("Z", "+00:00"))
    if parsed.tzinfo is None:
        raise ValueError("no time zone (write ...Z or +08:00)")
    try:
        return parsed.astimezone(UTC).timestamp()
    except OverflowError:  # 0001-01-01T00:00+08:00 is in year 0 in UTC
        raise ValueError("out of range (years 1-9999 in UTC)") from None


def _missing_message(path: str, missing: Sequence[str], header: Sequence[str]) -> str:
    parts = []
    for name in missing:
        close = difflib.get_close_matches(name, [h for h in header if h not in missing], n=1, cutoff=0.6)
        hint = f" (found {close[0]!r}: misnamed?)" if close else ""
        parts.append(f"{name!r}{hint}")
    return f"{path}:1: missing column(s) {', '.join(parts)}"


def _read(path: str | Path, required: Sequence[str], optional: Sequence[str]) -> Table:
    name = str(path)
    try:
        data = Path(path).read_bytes()
    except OSError as err:
        raise HistoryFormatError(f"{name}: cannot read: {err.strerror or err}") from err
    try:
        text = data.decode("utf-8-sig")
    except UnicodeDecodeError as err:
        line = data.count(b"\n", 0, err.start) + 1
        raise HistoryFormatError(f"{name}:{line}: not UTF-8 text (bad byte at offset {err.start})") from None
    with io.StringIO(text, newline="") as fh:
        reader = csv.reader(fh)
        header = [h.strip() for h in next(reader, [])]
        if not header:
            raise HistoryFormatError(f"{name}:1: empty file (no header)")
        duplicates = sorted({h for h in header if header.count(h) > 1})
        if duplicates:
            raise HistoryFormatError(f"{name}:1: duplicate column(s) {duplicates}")
        missing = [c for c in required if c not in header]
        if missing:
            raise HistoryFormatError(_missing_message(name, missing, header))
        wanted = [c for c in (*required, *optional) if c in header and c != "timestamp"]
        index = {c: header.index(c) for c in (*wanted, "timestamp")}
        timestamps: list[str] = []
        epoch: list[float] = []
        values: dict[str, list[float]] = {c: [] for c in wanted}
        for line_no, row in enumerate(reader, start=2):
            if not row or all(not cell.strip() for cell in row):
                continue
            if len(row) != len(header):
                raise HistoryFormatError(f"{name}:{line_no}: {len(row)} cells, header has {len(header)}")
            stamp = row[index["timestamp"]].strip()
            try:
                t = _parse_timestamp(stamp)
            except ValueError as err:
                raise HistoryFormatError(
                    f"{name}:{line_no}: column 'timestamp': not an ISO 8601 time: {stamp!r} ({err})"
                ) from None
            if epoch and t <= epoch[-1]:
                what = "duplicate" if t == epoch[-1] else "out of order"
                raise HistoryFormatError(
                    f"{name}:{line_no}: column 'timestamp': {what} timestamp {stamp!r} "
                    f"(previous {timestamps[-1]!r}); rows must be strictly increasing in time"
                )
            timestamps.append(stamp)
            epoch.append(t)
            for column in wanted:
                cell = row[index[column]].strip()
                try:
                    value = float(cell)
                except ValueError:
                    raise HistoryFormatError(f"{name}:{line_no}: column {column!r}: not a number: {cell!r}") from None
                if not math.isfinite(value):
                    raise HistoryFormatError(f"{name}:{line_no}: column {column!r}: not finite: {cell!r}")
                if column in _BOOLEAN_COLUMNS and value not in (0.0, 1.0):
                    raise HistoryFormatError(f"{name}:{line_no}: column {column!r}: must be 0 or 1, got {cell!r}")
                if column in _POSITIVE_COLUMNS and value <= 0:
                    raise HistoryFormatError(f"{name}:{line_no}: column {column!r}: must be > 0, got {cell!r}")
                if column in _NON_NEGATIVE_COLUMNS and value < 0:
                    raise HistoryFormatError(f"{name}:{line_no}: column {column!r}: must be >= 0, got {cell!r}")
                values[column].append(value)
    if not timestamps:
        raise HistoryFormatError(f"{name}: no data rows")
    return Table(
        path=name,
        timestamps=tuple(timestamps),
        epoch_s=np.asarray(epoch, dtype=float),
        columns={c: np.asarray(v, dtype=float) for c, v in values.items()},
    )


def read_site_history(path: str | Path) -> Table:
    """Read a canonical site history CSV (:data:`agent.history.site_csv.SITE_HISTORY_COLUMNS`).

    Every canonical column must be present (extra columns are ignored, except the optional lever columns
    :data:`models.levers.LEVER_NAMES`, read where present); cells numeric and finite,
    ``economizer_enabled`` 0 or 1, powers positive, timestamps ISO 8601 with a zone and strictly
    increasing.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Table

    Raises
    ------
    HistoryFormatError
        Naming file, line, column and reason.
    """
    return _read(path, SITE_HISTORY_COLUMNS, LEVER_NAMES)  # a site's optional levers, where it logs them


def read_conditions(path: str | Path) -> Table:
    """Read conditions to recommend for: :data:`CONDITIONS_REQUIRED_COLUMNS`, optionally the setpoints and levers.

    The three setpoint columns are optional but go together (all or none); lever columns
    (:data:`models.levers.LEVER_NAMES`) are read where present.

    Parameters
    ----------
    path : str or pathlib.Path

    Returns
    -------
    Table

    Raises
    ------
    HistoryFormatError
    """
    # the levers in force, where the file gives them (a model fitted with levers, docs/levers.md)
    table = _read(path, CONDITIONS_REQUIRED_COLUMNS, (*CONDITIONS_OPTIONAL_COLUMNS, *LEVER_NAMES))
    present = [c for c in CONDITIONS_OPTIONAL_COLUMNS if c in table.columns]
    if present and len(present) != len(CONDITIONS_OPTIONAL_COLUMNS):
        absent = [c for c in CONDITIONS_OPTIONAL_COLUMNS if c not in table.columns]
        raise HistoryFormatError(
            f"{table.path}:1: current setpoints need all of {list(CONDITIONS_OPTIONAL_COLUMNS)}; missing {absent}"
        )
    return table
