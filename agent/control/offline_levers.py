"""Offline ``pue-agent recommend`` with a model fitted with plant levers (docs/levers.md): all rows at once.

Each row is optimised as the online recommender does (:func:`models.levers.optimise_with_levers`: the base setpoints
at the levers in force, every lever combination the model's data covered at those setpoints, then the base setpoints
again at the best combination) but without rate limits: offline, as for the base setpoints, the answer is the
optimum for the hour. The levers in force are the row's lever columns where the conditions file has them (the values
the plant ran at, as the site's history logs them), else the search starts from the covered combination nearest the
middle of the support. All rows go through each round together (:func:`models.levers_batch.optimise_with_levers_batch`),
with the same choice per row as the one-row search (tests/recommend/test_levers_batch.py), a share of the rows per core.
"""

from __future__ import annotations

import os
from concurrent.futures import ThreadPoolExecutor

import numpy as np
from numpy.typing import NDArray

from models.cooling import CoolingModel
from models.levers import LeverChoice
from models.levers_batch import optimise_with_levers_batch
from models.optimiser import SetpointBounds

__all__ = ["optimise_rows_with_levers", "start_levers"]


def start_levers(model: CoolingModel, columns: dict[str, NDArray[np.float64]], n_rows: int) -> NDArray[np.float64]:
    """The levers in force per row (n_rows, n_levers): the file's lever columns, else the support's middle combination.

    Raises
    ------
    ValueError
        The file has some of the model's lever columns but not all.
    """
    names = model.lever_columns
    present = [n for n in names if n in columns]
    if present and len(present) != len(names):
        raise ValueError(
            f"the model's levers need all of {list(names)} or none; missing {sorted(set(names) - set(present))}"
        )
    if present:
        return np.column_stack([np.asarray(columns[n], dtype=float) for n in names]).reshape(n_rows, len(names))
    assert model.lever_support is not None
    combos = model.lever_support.combos
    middle = np.median(combos, axis=0)
    nearest = combos[int(np.argmin(np.abs((combos - middle) / model.lever_support.steps).sum(axis=1)))]
    return np.broadcast_to(nearest, (n_rows, len(names))).copy()


def optimise_rows_with_levers(
    model: CoolingModel,
    conditions: NDArray[np.float64],
    levers_now: NDArray[np.float64],
    bounds: SetpointBounds,
    *,
    inlet_limit_c: float,
    uncertainty_k: float,
    workers: int | None = None,
    min_rows_per_worker: int = 512,
) -> list[LeverChoice | None]:
    """The best base setpoints and levers for each row of ``conditions`` (IT power, dry bulb, wet bulb).

    Rows are split over ``workers`` threads (default: one per core), at least ``min_rows_per_worker`` each; the
    choices are the same however they are split (tests/recommend/test_levers_batch.py).
    """
    assert model.lever_support is not None
    combos = model.lever_support.combos
    n = len(conditions)
    parts = max(1, min(workers or os.cpu_count() or 1, n // min_rows_per_worker))
    edges = np.linspace(0, n, parts + 1).astype(int)

    def rows(lo: int, hi: int) -> list[LeverChoice | None]:
        return optimise_with_levers_batch(
            model,
            conditions[lo:hi],
            bounds,
            combos,
            levers_now[lo:hi],
            inlet_limit_c=inlet_limit_c,
            uncertainty_k=uncertainty_k,
        )

    if parts == 1:
        return rows(0, n)
    # rows are independent: a share of them per core (the forests' NumPy work runs without the GIL)
    with ThreadPoolExecutor(parts, thread_name_prefix="recommend") as pool:
        return [choice for part in pool.map(rows, edges[:-1], edges[1:]) for choice in part]
