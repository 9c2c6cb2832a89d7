"""The site's optional levers in the history (docs/levers.md): stored as terms, exported and imported as columns.

A site interval keeps each lever read during it (:attr:`agent.site.conditions.SiteConditions.levers`) as the term
``lever:<name>`` = (seconds known, value x seconds): the stores' term tables (SQLite and PostgreSQL) keep and roll it
up as they do the optional boundaries, so the lever's time-weighted mean over any bucket is value / seconds, with no
schema change. Exports add one column per lever the period logged, named as the lever (``condenser_water_setpoint_c``,
the column ``model fit`` and retraining learn it from); ``import`` reads those columns back.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping

__all__ = ["LEVER_COLUMNS", "lever_cells", "lever_columns_in", "lever_term", "lever_terms"]

#: every lever's history column, in the canonical order (agent.config.levers.LeverName's: not imported, as `export`'s
#: constants load for every command line's parser, pydantic only for the commands that read a config)
LEVER_COLUMNS: tuple[str, ...] = (
    "fan_min_speed_ratio",
    "condenser_water_setpoint_c",
    "chw_pump_dp_setpoint_pa",
    "chillers_running",
    "towers_running",
)
_PREFIX = "lever:"


def lever_term(name: str) -> str:
    """The stored term of lever ``name``."""
    return _PREFIX + name


def lever_terms(levers: Mapping[str, float], seconds: float) -> dict[str, tuple[float, float]]:
    """The terms of levers known for ``seconds`` at the given values."""
    return {lever_term(name): (seconds, value * seconds) for name, value in levers.items() if name in LEVER_COLUMNS}


def lever_columns_in(terms: Iterable[str]) -> tuple[str, ...]:
    """The lever columns among stored ``terms``, in the canonical order."""
    present = set(terms)
    return tuple(name for name in LEVER_COLUMNS if lever_term(name) in present)


def lever_cells(terms: Mapping[str, tuple[float, float]], columns: Iterable[str]) -> list[str]:
    """Each lever's time-weighted mean over the bucket (empty where it was never known)."""
    cells = []
    for name in columns:
        seconds, value = terms.get(lever_term(name), (0.0, 0.0))
        cells.append("" if seconds <= 0 else f"{value / seconds:.6g}")
    return cells
