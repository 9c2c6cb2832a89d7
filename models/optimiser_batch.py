"""The setpoint optimiser over many rows at once (offline ``recommend`` over a year of hours).

:func:`optimise_setpoints_batch` gives, row for row, what :func:`models.optimiser.optimise_setpoints` gives,
with the model's ``predict`` called a few times for all rows instead of twice per row. Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, runtime_checkable

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.optimiser import (
    FloatArray,
    OptimiserChoice,
    PlantModel,
    PlantPredictionLike,
    SetpointBounds,
    candidate_grid,
)

__all__ = ["ProductPlantModel", "ProductPredictor", "optimise_setpoints_batch"]

#: Candidate setpoints as :func:`models.optimiser.candidate_grid` returns them.
Grid = tuple[FloatArray, FloatArray, NDArray[np.bool_]]


class ProductPredictor(Protocol):
    """``predict`` of every (conditions row, candidate setpoints row) pair, conditions-major."""

    def predict(
        self,
        conditions: ArrayLike,
        setpoints: ArrayLike,
        facility_uncertainty: bool = True,
        levers: ArrayLike | None = None,
    ) -> PlantPredictionLike: ...

    def predict_inputs(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> PlantPredictionLike:
        """``predict`` of a product laid out as (rows, candidates, input columns), flat, rows-major."""
        ...

    def facility_and_inlet(self, inputs: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Facility power [W] and hottest inlet [C] of such a product, without the inlet's uncertainty."""
        ...


@runtime_checkable
class ProductPlantModel(Protocol):
    """A plant model that can compile itself for products (:class:`models.cooling.CoolingModel` does)."""

    def product_predictor(self) -> ProductPredictor: ...


def optimise_setpoints_batch(
    model: PlantModel,
    conditions: ArrayLike,
    bounds: SetpointBounds,
    *,
    inlet_limit_c: float = 27.0,
    uncertainty_k: float = 2.0,
    grid_step_k: float = 0.25,
    coarse_step_k: float = 1.0,
    economizer_states: Sequence[bool] = (False, True),
    max_predict_rows: int = 200_000,
    levers: ArrayLike | None = None,
) -> list[OptimiserChoice | None]:
    """:func:`optimise_setpoints` for many conditions at once: the same choice for every row, far fewer calls.

    The coarse grid is the same for every row, so all rows' coarse candidates go to the model in a few
    large ``predict`` calls (at most ``max_predict_rows`` inputs each), then all rows' fine boxes in a few
    more; per-call overhead, not arithmetic, dominates a plant model's predictions for one row. Tree
    models predict each row independently, so the result equals calling :func:`optimise_setpoints` row by
    row (a test checks it on a fitted model).

    Parameters
    ----------
    conditions : array_like, shape (n, 3)
        IT power [W], outdoor dry-bulb [C], outdoor wet-bulb [C] per row.
    max_predict_rows : int
        Largest number of model inputs per ``predict`` call (bounds memory).
    levers : array_like, shape (n, n_levers), optional
        For a model with levers (:mod:`models.levers`): each row's lever values, fixed for its search (as
        :class:`models.levers.FixedLevers` fixes them for :func:`optimise_setpoints`) and appended after
        the setpoints in the model's inputs.

    Other parameters are those of :func:`optimise_setpoints`.

    Returns
    -------
    list of OptimiserChoice or None
        One per row, ``None`` where nothing is feasible.
    """
    conds = np.asarray(conditions, dtype=float).reshape(-1, 3)
    n_rows = len(conds)
    # each row's fixed levers ride along with its conditions: columns 3: of ``conds`` from here on
    n_levers = 0
    if levers is not None and n_rows:
        row_levers = np.asarray(levers, dtype=float).reshape(n_rows, -1)
        n_levers = row_levers.shape[1]
        conds = np.column_stack((conds, row_levers))
    results: list[OptimiserChoice | None] = [None] * n_rows
    refine = coarse_step_k > grid_step_k
    supply, chw, economizer = candidate_grid(bounds, model.support, max(coarse_step_k, grid_step_k), economizer_states)
    if supply.size == 0 and refine:
        # as optimise_setpoints: the supported region may lie between the coarse points, so search the fine grid
        refine = False
        supply, chw, economizer = candidate_grid(bounds, model.support, grid_step_k, economizer_states)
    n_coarse = int(supply.size)
    if n_coarse == 0 or n_rows == 0:
        return results
    product = model.product_predictor() if isinstance(model, ProductPlantModel) else None

    def predict_product(block: FloatArray, grid: Grid) -> tuple[FloatArray, NDArray[np.bool_]]:
        """Facility power [W] and feasibility of every (row of ``block``, candidate of ``grid``), shape (rows, n)."""
        setpoints = np.column_stack((grid[0], grid[1], grid[2].astype(float)))
        row_levers = block[:, 3:] if n_levers else None
        if product is not None:
            prediction = product.predict(block[:, :3], setpoints, facility_uncertainty=False, levers=row_levers)
        else:
            inputs = np.column_stack(
                (
                    np.repeat(block[:, :3], len(setpoints), axis=0),
                    np.tile(setpoints, (len(block), 1)),
                    np.repeat(block[:, 3:], len(setpoints), axis=0),
                )
            )
            prediction = model.predict(inputs, facility_uncertainty=False)
        feasible = prediction.max_inlet_c + uncertainty_k * prediction.max_inlet_std_c <= inlet_limit_c
        shape = (len(block), len(setpoints))
        return np.asarray(prediction.facility_power_w).reshape(shape), np.asarray(feasible).reshape(shape)

    # winners first: (row, supply, chw, economizer, candidates, feasible); the choice never depends on
    # facility power's uncertainty, so it is predicted for the winners alone, as optimise_setpoints does
    winners: list[tuple[int, float, float, bool, int, int]] = []
    coarse = (supply, chw, economizer)
    fine_cache: dict[tuple[bool, float, float], Grid] = {}
    box_rows: dict[tuple[bool, float, float], list[int]] = {}  # the rows whose fine stage has each box
    row_boxes: dict[int, tuple[list[tuple[bool, float, float]], int]] = {}  # a row's boxes, its coarse feasible
    rows_per_call = max(1, max_predict_rows // n_coarse)
    for start in range(0, n_rows, rows_per_call):
        block = conds[start : start + rows_per_call]
        facility, feasible = predict_product(block, coarse)
        power = np.where(feasible, facility, np.inf)
        coarse_feasible = feasible.sum(axis=1)
        if not refine:
            for r in np.flatnonzero(coarse_feasible).tolist():
                best = int(np.argmin(power[r]))
                winners.append(
                    (
                        start + r,
                        float(supply[best]),
                        float(chw[best]),
                        bool(economizer[best]),
                        n_coarse,
                        int(coarse_feasible[r]),
                    )
                )
            continue
        # the fine stage: per row, one box around each economizer state's best coarse candidate (the boxes are
        # evaluated below, each for all rows that have it)
        # per economizer state (in np.unique's order, as optimise_setpoints): rows with a feasible candidate in
        # it, and their best one
        states = [bool(state) for state in np.unique(economizer)]
        present = [np.any(feasible & (economizer == state), axis=1).tolist() for state in states]
        best_in = [np.argmin(np.where(economizer == state, power, np.inf), axis=1).tolist() for state in states]
        for r in np.flatnonzero(coarse_feasible).tolist():
            keys = []
            for k, state in enumerate(states):
                if not present[k][r]:
                    continue
                best_state = best_in[k][r]
                key = (state, float(supply[best_state]), float(chw[best_state]))
                if key not in fine_cache:
                    box = SetpointBounds(
                        max(bounds.supply_air_min_c, supply[best_state] - coarse_step_k),
                        min(bounds.supply_air_max_c, supply[best_state] + coarse_step_k),
                        max(bounds.chw_supply_min_c, chw[best_state] - coarse_step_k),
                        min(bounds.chw_supply_max_c, chw[best_state] + coarse_step_k),
                        bounds.allow_economizer,
                    )
                    fine_cache[key] = candidate_grid(box, model.support, grid_step_k, (state,))
                    box_rows[key] = []
                box_rows[key].append(start + r)
                keys.append(key)
            row_boxes[start + r] = (keys, int(coarse_feasible[r]))
    if refine:
        # each box once, for every row that has it: a product of those rows and the box's candidates. A row's
        # fine candidates are its boxes one after the other (optimise_setpoints concatenates them), so its best is
        # the least of its boxes' bests, the earlier box on a tie (argmin's first index over the concatenation)
        box_best: dict[tuple[bool, float, float], dict[int, tuple[float, int, int]]] = {}
        for key, members in box_rows.items():
            grid = fine_cache[key]
            n_box = int(grid[0].size)
            found = box_best[key] = {}
            if n_box == 0:
                found.update((row, (np.inf, 0, 0)) for row in members)
                continue
            step = max(1, max_predict_rows // n_box)
            for lo in range(0, len(members), step):
                chunk = members[lo : lo + step]
                fine_facility, fine_feasible = predict_product(conds[chunk], grid)
                fine_power = np.where(fine_feasible, fine_facility, np.inf)
                best_box = np.argmin(fine_power, axis=1)
                least = fine_power[np.arange(len(chunk)), best_box].tolist()
                counts = fine_feasible.sum(axis=1).tolist()
                for i, row in enumerate(chunk):
                    found[row] = (least[i], int(best_box[i]), int(counts[i]))
        for row, (keys, n_coarse_feasible) in row_boxes.items():
            n_fine = fine_count = 0
            best_key, best_at, best_power = None, 0, np.inf
            for key in keys:
                least, at, count = box_best[key][row]
                n_fine += int(fine_cache[key][0].size)
                fine_count += count
                if count and (best_key is None or least < best_power):
                    best_key, best_at, best_power = key, at, least
            if fine_count == 0 or best_key is None:
                continue
            grid = fine_cache[best_key]
            winners.append(
                (
                    row,
                    float(grid[0][best_at]),
                    float(grid[1][best_at]),
                    bool(grid[2][best_at]),
                    n_coarse + n_fine,
                    n_coarse_feasible + fine_count,
                )
            )
    if winners:
        rows = np.array([w[0] for w in winners])
        inputs = np.column_stack(
            (
                conds[rows, :3],
                np.array([w[1] for w in winners]),
                np.array([w[2] for w in winners]),
                np.array([w[3] for w in winners], dtype=float),
                conds[rows, 3:],
            )
        )
        final = model.predict(inputs, facility_uncertainty=True)
        for i, (row, s, c, e, n_cand, n_feas) in enumerate(winners):
            results[row] = OptimiserChoice(
                supply_air_setpoint_c=s,
                chw_supply_setpoint_c=c,
                economizer_enabled=e,
                facility_power_w=float(final.facility_power_w[i]),
                facility_power_std_w=float(final.facility_power_std_w[i]),
                max_inlet_c=float(final.max_inlet_c[i]),
                max_inlet_std_c=float(final.max_inlet_std_c[i]),
                pue=float(final.pue[i]),
                n_candidates=n_cand,
                n_feasible=n_feas,
            )
    return results
