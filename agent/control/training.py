"""Fit the cooling model from a canonical site history, refusing data that cannot support one."""

from __future__ import annotations

import numpy as np

from agent.control.history_io import Table
from agent.errors import ModelError
from models.cooling import CoolingModel, fit_cooling_model
from models.features import INPUT_COLUMNS
from models.levers import DEFAULT_LEVER_STEPS, LEVER_NAMES

__all__ = ["MIN_ROWS", "MIN_SETPOINT_RANGE_K", "fit_from_history", "inputs_of"]

#: Fewest history rows a fit accepts (a week of hourly data is 168).
MIN_ROWS = 200
#: Least spread (5th to 95th percentile) each temperature setpoint must show [K]; without it the
#: model cannot tell what a setpoint change does (Lazic et al. 2018 explored +-several K).
MIN_SETPOINT_RANGE_K = 1.0


def inputs_of(table: Table, levers: tuple[str, ...] = ()) -> np.ndarray:
    """Model input matrix (:data:`models.features.INPUT_COLUMNS` order, then ``levers``) of a history table."""
    return np.column_stack([table.columns[c] for c in (*INPUT_COLUMNS, *levers)])


def levers_of(table: Table) -> tuple[str, ...]:
    """Optional lever columns (:data:`models.levers.LEVER_NAMES`) the history logs, every row finite, that varied."""
    found = []
    for name in LEVER_NAMES:
        values = table.columns.get(name)
        if values is not None and np.all(np.isfinite(values)) and np.ptp(values) > 0:
            found.append(name)
    return tuple(found)


def fit_from_history(table: Table, random_state: int = 0, holdout_fraction: float = 0.2) -> CoolingModel:
    """Check a history can support a model, then fit one.

    Parameters
    ----------
    table : Table
        Canonical site history (:func:`agent.control.history_io.read_site_history`).
    random_state : int
        Seed of the boosting.
    holdout_fraction : float
        Most recent share of rows held out for validation [-].

    Returns
    -------
    CoolingModel

    Raises
    ------
    ModelError
        Too few rows or too little setpoint variation, naming the column; a hold-out share the
        model refuses.
    """
    if len(table) < MIN_ROWS:
        raise ModelError(f"{table.path}: too little data: {len(table)} rows, need at least {MIN_ROWS}")
    for column in ("supply_air_setpoint_c", "chw_supply_setpoint_c"):
        low, high = np.percentile(table.columns[column], [5.0, 95.0])
        if high - low < MIN_SETPOINT_RANGE_K:
            raise ModelError(
                f"{table.path}: column {column!r}: too little setpoint variation "
                f"({high - low:.2f} K between 5th and 95th percentile, need {MIN_SETPOINT_RANGE_K:g} K); "
                "record a history with safe exploratory variation (e.g. twin simulate --explore-c 1.5)"
            )
    try:
        levers = levers_of(table)
        return fit_cooling_model(
            inputs_of(table, levers),
            table.columns["cooling_power_w"],
            table.columns["facility_power_w"],
            table.columns["max_inlet_c"],
            holdout_fraction=holdout_fraction,
            random_state=random_state,
            lever_columns=levers,
            lever_steps=tuple(DEFAULT_LEVER_STEPS[name] for name in levers),
        )
    except ValueError as err:  # the pure model names what it cannot fit from (hold-out share, rows)
        raise ModelError(f"{table.path}: cannot fit a model: {err}") from err
