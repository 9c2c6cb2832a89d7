"""The lever search over many rows at once (offline ``recommend`` with a lever model over a year of hours).

:func:`optimise_with_levers_batch` gives, row for row, what :func:`models.levers.optimise_with_levers` gives
(the same block-coordinate rounds: the base setpoints at each row's levers in force, every allowed lever
combination scored at those setpoints, the base setpoints again at the best combination; the same inlet
limit and support), with the model asked a few times for all rows instead of a few times per row: both base
rounds are :func:`models.optimiser_batch.optimise_setpoints_batch` with each row's levers fixed, and the scan
is a product of rows and lever combinations in blocks. The scan needs, per row, the combination of least
facility power among those meeting the inlet limit: facility power and the inlet of every pair come from the
two mean forests (:meth:`models.plant_product.CoolingProduct.facility_and_inlet`), each row's least then has
its inlet uncertainty predicted, and only rows where it misses the limit are scanned again with every
combination's uncertainty (:meth:`~models.plant_product.CoolingProduct.predict_inputs`). Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.levers import LeverChoice
from models.optimiser import OptimiserChoice, PlantModel, PlantPredictionLike, SetpointBounds
from models.optimiser_batch import ProductPlantModel, optimise_setpoints_batch

__all__ = ["optimise_with_levers_batch"]


def _start_in_allowed(allowed: NDArray[np.float64], start: NDArray[np.float64]) -> NDArray[np.float64]:
    """Each row's first-round levers: its own where allowed, else the nearest allowed combination (L1)."""
    if not allowed.size or not len(start):
        return start.copy()
    unique, inverse = np.unique(start, axis=0, return_inverse=True)  # each distinct start looked up once
    inverse = inverse.ravel()
    nearest = unique.copy()
    outside = np.zeros(len(unique), dtype=bool)
    for k, levers in enumerate(unique):
        if not np.any(np.all(np.abs(allowed - levers) < 1e-6, axis=1)):
            outside[k] = True
            nearest[k] = allowed[int(np.argmin(np.abs(allowed - levers).sum(axis=1)))]
    out = start.copy()
    moved = outside[inverse]
    out[moved] = nearest[inverse[moved]]
    return out


def _least_feasible(
    scan: PlantPredictionLike, shape: tuple[int, int], inlet_limit_c: float, uncertainty_k: float
) -> NDArray[np.intp]:
    """Per row of a (rows, candidates) scan, the candidate of least facility power meeting the inlet limit (-1: none),
    the first on a tie, as :func:`models.levers.optimise_with_levers` takes it."""
    feasible = np.asarray(scan.max_inlet_c + uncertainty_k * scan.max_inlet_std_c <= inlet_limit_c).reshape(shape)
    power = np.where(feasible, np.asarray(scan.facility_power_w).reshape(shape), np.inf)
    return np.where(feasible.any(axis=1), np.argmin(power, axis=1), -1)


def _scan(
    model: PlantModel,
    base: NDArray[np.float64],
    allowed: NDArray[np.float64],
    *,
    inlet_limit_c: float,
    uncertainty_k: float,
    max_predict_rows: int,
) -> NDArray[np.intp]:
    """Per row of ``base`` (conditions and setpoints, 6 columns), the index of the allowed lever combination
    of least predicted facility power among those meeting the inlet limit, -1 where none does.

    With a product model, facility power and the inlet of every pair come from the two mean forests, and each
    row's least (the first on a tie) has its inlet uncertainty predicted, all rows in one call: where it meets
    the limit it is the answer (no candidate of less power is left to meet it). Rows where it does not are
    scanned again whole, with the uncertainty of every candidate.
    """
    n_rows, m = len(base), len(allowed)
    best = np.full(n_rows, -1, dtype=np.intp)
    product = model.product_predictor() if isinstance(model, ProductPlantModel) else None
    step = max(1, max_predict_rows // max(m, 1))

    def pairs(block: NDArray[np.float64]) -> NDArray[np.float64]:
        shape = (len(block), m)
        return np.concatenate(
            (
                np.broadcast_to(block[:, None, :], (*shape, block.shape[1])),
                np.broadcast_to(allowed[None, :, :], (*shape, allowed.shape[1])),
            ),
            axis=2,
        )

    if product is None:
        for lo in range(0, n_rows, step):
            block = base[lo : lo + step]
            scan = model.predict(pairs(block).reshape(len(block) * m, -1), facility_uncertainty=False)
            best[lo : lo + len(block)] = _least_feasible(scan, (len(block), m), inlet_limit_c, uncertainty_k)
        return best
    least = np.empty(n_rows, dtype=np.intp)
    for lo in range(0, n_rows, step):
        block = base[lo : lo + step]
        facility, _ = product.facility_and_inlet(pairs(block))
        least[lo : lo + len(block)] = np.argmin(facility.reshape(len(block), m), axis=1)
    check = model.predict(np.column_stack((base, allowed[least])), facility_uncertainty=False)
    meets = np.asarray(check.max_inlet_c + uncertainty_k * check.max_inlet_std_c <= inlet_limit_c)
    best[meets] = least[meets]
    missed = np.flatnonzero(~meets)
    for lo in range(0, len(missed), step):
        rows = missed[lo : lo + step]
        scan = product.predict_inputs(pairs(base[rows]), facility_uncertainty=False)
        best[rows] = _least_feasible(scan, (len(rows), m), inlet_limit_c, uncertainty_k)
    return best


def optimise_with_levers_batch(
    model: PlantModel,
    conditions: ArrayLike,
    bounds: SetpointBounds,
    combos: ArrayLike,
    start_levers: ArrayLike,
    *,
    inlet_limit_c: float = 27.0,
    uncertainty_k: float = 2.0,
    grid_step_k: float = 0.25,
    economizer_states: Sequence[bool] = (False, True),
    max_predict_rows: int = 200_000,
) -> list[LeverChoice | None]:
    """:func:`models.levers.optimise_with_levers` for many rows at once: the same choice for every row.

    Parameters
    ----------
    conditions : array_like, shape (n, 3)
        IT power [W], outdoor dry-bulb [C], outdoor wet-bulb [C] per row.
    combos : array_like, shape (m, n_levers)
        Allowed lever combinations, the same for every row.
    start_levers : array_like, shape (n, n_levers)
        Each row's levers in force (its first round's levers; the nearest allowed combination where they
        are not one).
    max_predict_rows : int
        Largest number of model inputs per ``predict`` call (bounds memory).

    Other parameters are those of :func:`models.levers.optimise_with_levers`.

    Returns
    -------
    list of LeverChoice or None
        One per row, ``None`` where no round finds a feasible candidate.
    """
    conds = np.asarray(conditions, dtype=float).reshape(-1, 3)
    n_rows = len(conds)
    if not n_rows:
        return []
    start = np.asarray(start_levers, dtype=float).reshape(n_rows, -1)
    allowed = np.asarray(combos, dtype=float).reshape(-1, start.shape[1])
    start = _start_in_allowed(allowed, start)

    def base_round(rows: NDArray[np.float64], levers: NDArray[np.float64]) -> list[OptimiserChoice | None]:
        return optimise_setpoints_batch(
            model,
            rows,
            bounds,
            inlet_limit_c=inlet_limit_c,
            uncertainty_k=uncertainty_k,
            grid_step_k=grid_step_k,
            economizer_states=economizer_states,
            max_predict_rows=max_predict_rows,
            levers=levers,
        )

    first = base_round(conds, start)
    results: list[LeverChoice | None] = [
        None if f is None else LeverChoice(f, tuple(float(v) for v in start[i])) for i, f in enumerate(first)
    ]
    if allowed.shape[0] <= 1:
        return results
    found = [i for i, f in enumerate(first) if f is not None]
    if not found:
        return results
    base = np.column_stack(
        (
            conds[found],
            [[f.supply_air_setpoint_c, f.chw_supply_setpoint_c, float(f.economizer_enabled)] for f in first if f],
        )
    )
    best = _scan(
        model,
        base,
        allowed,
        inlet_limit_c=inlet_limit_c,
        uncertainty_k=uncertainty_k,
        max_predict_rows=max_predict_rows,
    )
    # the second round where the scan found a feasible combination other than the first round's
    moved = [
        (i, allowed[b])
        for i, b in zip(found, best.tolist(), strict=True)
        if b >= 0 and not np.allclose(allowed[b], start[i])
    ]
    if not moved:
        return results
    rows = [i for i, _ in moved]
    levers = np.array([v for _, v in moved])
    second = base_round(conds[rows], levers)
    for i, lever_values, choice in zip(rows, levers, second, strict=True):
        was: OptimiserChoice | None = first[i]
        if choice is not None and was is not None and choice.facility_power_w < was.facility_power_w:
            results[i] = LeverChoice(choice, tuple(float(v) for v in lever_values))
    return results
