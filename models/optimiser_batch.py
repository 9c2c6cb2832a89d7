"""The setpoint optimiser over many rows at once (offline ``recommend`` over a year of hours).

:func:`optimise_setpoints_batch` gives, row for row, what :func:`models.optimiser.optimise_setpoints` gives,
with the model's ``predict`` called a few times for all rows instead of twice per row. Pure: numpy only.
"""

from __future__ import annotations

from collections.abc import Sequence

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

__all__ = ["optimise_setpoints_batch"]


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

    Other parameters are those of :func:`optimise_setpoints`.

    Returns
    -------
    list of OptimiserChoice or None
        One per row, ``None`` where nothing is feasible.
    """
    conds = np.asarray(conditions, dtype=float).reshape(-1, 3)
    n_rows = len(conds)
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

    def predict(
        cond: FloatArray, s: FloatArray, c: FloatArray, e: NDArray[np.bool_], final: bool
    ) -> tuple[PlantPredictionLike, NDArray[np.bool_]]:
        prediction = model.predict(np.column_stack((cond, s, c, e.astype(float))), facility_uncertainty=final)
        feasible = prediction.max_inlet_c + uncertainty_k * prediction.max_inlet_std_c <= inlet_limit_c
        return prediction, np.asarray(feasible)

    # winners first: (row, supply, chw, economizer, candidates, feasible); the choice never depends on
    # facility power's uncertainty, so it is predicted for the winners alone, as optimise_setpoints does
    winners: list[tuple[int, float, float, bool, int, int]] = []

    fine_cache: dict[tuple[bool, float, float], tuple[FloatArray, FloatArray, NDArray[np.bool_]]] = {}
    rows_per_call = max(1, max_predict_rows // n_coarse)
    for start in range(0, n_rows, rows_per_call):
        block = conds[start : start + rows_per_call]
        m = len(block)
        prediction, feasible_flat = predict(
            np.repeat(block, n_coarse, axis=0),
            np.tile(supply, m),
            np.tile(chw, m),
            np.tile(economizer, m),
            final=False,
        )
        feasible = feasible_flat.reshape(m, n_coarse)
        power = np.where(feasible, prediction.facility_power_w.reshape(m, n_coarse), np.inf)
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
        # the fine stage: per row, one box around each economizer state's best coarse candidate
        owners: list[int] = []
        parts: list[tuple[FloatArray, FloatArray, NDArray[np.bool_]]] = []
        for r in np.flatnonzero(coarse_feasible).tolist():
            boxes = []
            for state in np.unique(economizer[feasible[r]]):
                best_state = int(np.argmin(np.where(economizer == state, power[r], np.inf)))
                key = (bool(state), float(supply[best_state]), float(chw[best_state]))
                if key not in fine_cache:
                    box = SetpointBounds(
                        max(bounds.supply_air_min_c, supply[best_state] - coarse_step_k),
                        min(bounds.supply_air_max_c, supply[best_state] + coarse_step_k),
                        max(bounds.chw_supply_min_c, chw[best_state] - coarse_step_k),
                        min(bounds.chw_supply_max_c, chw[best_state] + coarse_step_k),
                        bounds.allow_economizer,
                    )
                    fine_cache[key] = candidate_grid(box, model.support, grid_step_k, (bool(state),))
                boxes.append(fine_cache[key])
            s_r, c_r, e_r = (np.concatenate(p) for p in zip(*boxes, strict=True))
            owners.append(int(r))
            parts.append((s_r, c_r, e_r))
        if not owners:
            continue
        sizes = np.array([p[0].size for p in parts])
        fine_supply, fine_chw, fine_eco = (np.concatenate(p) for p in zip(*parts, strict=True))
        fine_cond = np.repeat(block[owners], sizes, axis=0)
        bounds_at = np.concatenate(([0], np.cumsum(sizes)))
        # predict the fine candidates in calls of at most max_predict_rows rows (split between owners)
        predictions: list[tuple[int, int, PlantPredictionLike, NDArray[np.bool_]]] = []
        first = 0
        while first < len(owners):
            last = first + 1
            while last < len(owners) and bounds_at[last + 1] - bounds_at[first] <= max_predict_rows:
                last += 1
            lo, hi = int(bounds_at[first]), int(bounds_at[last])
            pred, feas = predict(fine_cond[lo:hi], fine_supply[lo:hi], fine_chw[lo:hi], fine_eco[lo:hi], final=False)
            predictions.append((first, last, pred, feas))
            first = last
        for first, last, pred, feas in predictions:
            base = int(bounds_at[first])
            for k in range(first, last):
                lo, hi = int(bounds_at[k]) - base, int(bounds_at[k + 1]) - base
                seg = feas[lo:hi]
                if not seg.any():
                    continue
                row = owners[k]
                best = lo + int(np.argmin(np.where(seg, pred.facility_power_w[lo:hi], np.inf)))
                g = base + best
                winners.append(
                    (
                        start + row,
                        float(fine_supply[g]),
                        float(fine_chw[g]),
                        bool(fine_eco[g]),
                        n_coarse + int(sizes[k]),
                        int(coarse_feasible[row]) + int(np.count_nonzero(seg)),
                    )
                )
    if winners:
        rows = np.array([w[0] for w in winners])
        final, _ = predict(
            conds[rows],
            np.array([w[1] for w in winners]),
            np.array([w[2] for w in winners]),
            np.array([w[3] for w in winners], dtype=bool),
            final=True,
        )
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
