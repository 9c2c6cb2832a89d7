"""The batch optimiser gives, row for row, exactly what the one-row optimiser gives (fake and fitted plants)."""

from __future__ import annotations

import numpy as np
import pytest

from models.cooling import CoolingModel
from models.optimiser import OptimiserChoice, SetpointBounds, SetpointSupport, optimise_setpoints
from models.optimiser_batch import optimise_setpoints_batch
from tests.recommend.conftest import FakePlant


def _rows(n: int, seed: int) -> np.ndarray:
    rng = np.random.default_rng(seed)
    dry = rng.uniform(-2.0, 28.0, n)
    return np.column_stack((rng.uniform(6e5, 1.0e6, n), dry, dry - rng.uniform(0.5, 6.0, n)))


def _one_by_one(plant: object, rows: np.ndarray, bounds: SetpointBounds, **kw: float) -> list[OptimiserChoice | None]:
    return [optimise_setpoints(plant, *row, bounds, **kw) for row in rows]  # type: ignore[arg-type]


@pytest.mark.parametrize("max_predict_rows", [200_000, 1_000, 1])
@pytest.mark.parametrize("limit", [27.0, 23.0, 15.0])
def test_fake_plant_batch_equals_rows(max_predict_rows: int, limit: float) -> None:
    rows = _rows(40, 1)
    plant = FakePlant()
    expected = _one_by_one(plant, rows, SetpointBounds(), inlet_limit_c=limit)
    got = optimise_setpoints_batch(
        plant, rows, SetpointBounds(), inlet_limit_c=limit, max_predict_rows=max_predict_rows
    )
    assert got == expected
    if limit == 15.0:
        assert all(c is None for c in got)  # nothing feasible: the batch says so too
    else:
        assert all(c is not None for c in got)


def test_no_refinement_batch_equals_rows() -> None:
    rows = _rows(10, 2)
    kw = {"grid_step_k": 0.5, "coarse_step_k": 0.5}
    assert optimise_setpoints_batch(FakePlant(), rows, SetpointBounds(), **kw) == _one_by_one(
        FakePlant(), rows, SetpointBounds(), **kw
    )


def test_fitted_model_batch_equals_rows(model: CoolingModel) -> None:
    rows = _rows(24, 3)
    bounds = SetpointBounds(supply_air_max_c=23.0)
    expected = _one_by_one(model, rows, bounds)
    got = optimise_setpoints_batch(model, rows, bounds, max_predict_rows=5_000)
    assert got == expected
    assert sum(c is not None for c in got) >= 12  # the comparison covers real choices, not only None


def test_support_between_coarse_points_batch_equals_rows() -> None:
    # training setpoints only at x.5 C: no 1 K coarse point is supported, the fine grid is searched whole
    grid = np.array([(s, c) for s in np.arange(16.5, 21, 1.0) for c in np.arange(6.5, 12, 1.0)])
    support = SetpointSupport.from_samples(grid[:, 0], grid[:, 1], np.zeros(len(grid), bool), cell_k=0.25, margin_k=0)
    plant = FakePlant(support)
    rows = _rows(8, 4)
    expected = _one_by_one(plant, rows, SetpointBounds())
    assert all(c is not None for c in expected)
    assert optimise_setpoints_batch(plant, rows, SetpointBounds()) == expected


@pytest.mark.parametrize(
    ("bounds", "max_predict_rows"),
    [
        # bounds off the 1 K coarse grid: fine boxes off the 0.25 K grid of the full range, and cut by the bounds
        (
            SetpointBounds(supply_air_min_c=16.4, supply_air_max_c=23.6, chw_supply_min_c=6.3, chw_supply_max_c=17.2),
            800,
        ),
        (SetpointBounds(supply_air_max_c=21.0), 1),
    ],
)
def test_fitted_model_product_path_equals_rows(
    model: CoolingModel, bounds: SetpointBounds, max_predict_rows: int
) -> None:
    # the fitted model takes the product path (compiled forests), the one-row optimiser model.predict
    assert hasattr(model, "product_predictor")
    rows = _rows(30, 5)
    rows[:4, 1:] -= 12.0  # colder than the training range: the monotone model clamps, in both paths
    got = optimise_setpoints_batch(model, rows, bounds, max_predict_rows=max_predict_rows)
    assert got == _one_by_one(model, rows, bounds)
    assert sum(c is not None for c in got) >= 15
