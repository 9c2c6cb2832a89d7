"""The setpoint optimiser over many rows at once (offline ``recommend`` over a year of hours).

:func:`optimise_setpoints_batch` gives, row for row, what :func:`models.optimiser.optimise_setpoints` gives,
with the model's ``predict`` called a few times for all rows instead of twice per row. Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol, cast, runtime_checkable

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
    n_levers = 0 if levers is None else np.asarray(levers).reshape(n_rows, -1).shape[1]
    if levers is not None:
        conds = np.column_stack((conds, np.asarray(levers, dtype=float).reshape(n_rows, n_levers)))
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
        # the fine stage: per row, one box around each economizer state's best coarse candidate; rows with
        # the same boxes share one candidate list, so each such group is one product of rows and candidates
        groups: dict[tuple[tuple[bool, float, float], ...], list[int]] = {}
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
                keys.append(key)
            groups.setdefault(tuple(keys), []).append(int(r))
        for boxes, members in groups.items():
            fine = cast(Grid, tuple(np.concatenate(p) for p in zip(*(fine_cache[k] for k in boxes), strict=True)))
            n_fine = int(fine[0].size)
            step = max(1, max_predict_rows // max(n_fine, 1))
            for lo in range(0, len(members), step):
                rows = np.asarray(members[lo : lo + step])
                fine_facility, fine_feasible = predict_product(block[rows], fine)
                fine_count = fine_feasible.sum(axis=1)
                best_fine = np.argmin(np.where(fine_feasible, fine_facility, np.inf), axis=1)
                for i, row in enumerate(rows.tolist()):
                    if fine_count[i] == 0:
                        continue
                    g = int(best_fine[i])
                    winners.append(
                        (
                            start + row,
                            float(fine[0][g]),
                            float(fine[1][g]),
                            bool(fine[2][g]),
                            n_coarse + n_fine,
                            int(coarse_feasible[row]) + int(fine_count[i]),
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
