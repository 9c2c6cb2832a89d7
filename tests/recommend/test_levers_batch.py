"""The lever search over all rows at once (models/levers_batch.py, offline ``recommend``) chooses, row for row, what
the one-row search (models.levers.optimise_with_levers, the online recommender's) chooses: the same setpoints, levers
and predictions, on a four-lever model fitted on the variable-speed twin (bench/closed_loop.py --design modern-vs)."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType
from typing import Any

import numpy as np
import pytest

from agent.control.offline_levers import optimise_rows_with_levers, start_levers
from models.cooling import CoolingModel
from models.levers import LeverChoice, optimise_with_levers
from models.levers_batch import optimise_with_levers_batch
from models.optimiser import SetpointBounds

ROOT = Path(__file__).resolve().parents[2]
DAYS = 20.0


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench.closed_loop")


@pytest.fixture(scope="module")
def lever_model(bench: ModuleType) -> tuple[CoolingModel, np.ndarray]:
    """A quick model of the modern-vs twin's exploration (its four levers), and the history's inputs."""
    run = bench._Run("guiyang", DAYS, design="modern-vs")
    history = bench._exploration(run, 0)
    model, _ = bench.fit_for(run, history, regressor_params={"max_iter": 20})
    return model, np.asarray(history["inputs"])


def _rows(inputs: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Conditions and levers in force of some history hours, a few levers off the support's steps or outside it."""
    rows = inputs[::11]
    conditions, levers = rows[:, :3].copy(), rows[:, 6:].copy()
    levers[::5, 0] += 0.4  # condenser water between the support's steps: the search starts from the nearest
    levers[1::7, 1] = 5e3  # a DP far below anything seen
    return conditions, levers


def _reference(model: CoolingModel, conditions: np.ndarray, levers: np.ndarray, **kw: Any) -> list[LeverChoice | None]:
    assert model.lever_support is not None
    combos = model.lever_support.combos
    return [
        optimise_with_levers(model, *row, SetpointBounds(), combos, tuple(lever), **kw)
        for row, lever in zip(conditions, levers, strict=True)
    ]


# 21.3 C: about half these hours have no candidate meeting it (the twin's coolest inlet is about 21 C)
@pytest.mark.parametrize("inlet_limit_c", [27.0, 21.3])
def test_all_rows_at_once_choose_what_the_one_row_search_chooses(
    lever_model: tuple[CoolingModel, np.ndarray], inlet_limit_c: float
) -> None:
    model, inputs = lever_model
    assert model.lever_support is not None and len(model.lever_support.combos) > 50
    conditions, levers = _rows(inputs)
    expected = _reference(model, conditions, levers, inlet_limit_c=inlet_limit_c)
    # small predict calls too, so the scan and the base rounds run in several blocks
    for max_predict_rows in (200_000, 3_000):
        got = optimise_with_levers_batch(
            model,
            conditions,
            SetpointBounds(),
            model.lever_support.combos,
            levers,
            inlet_limit_c=inlet_limit_c,
            max_predict_rows=max_predict_rows,
        )
        assert got == expected  # dataclasses: setpoints, levers, predictions and counts all equal
    moved = [e for e, lever in zip(expected, levers, strict=True) if e is not None and e.levers != tuple(lever)]
    assert moved  # the second round ran for some rows
    if inlet_limit_c < 27.0:
        assert None in expected and any(e is not None for e in expected)  # some hours infeasible, others not


def test_offline_recommend_rows_equal_the_one_row_search(lever_model: tuple[CoolingModel, np.ndarray]) -> None:
    model, inputs = lever_model
    conditions, levers = _rows(inputs)
    names = model.lever_columns
    # as `pue-agent recommend` reads them: the file's lever columns, or the support's middle without them
    for columns in ({n: levers[:, k] for k, n in enumerate(names)}, {}):
        now = start_levers(model, columns, len(conditions))
        got = optimise_rows_with_levers(model, conditions, now, SetpointBounds(), inlet_limit_c=27.0, uncertainty_k=2.0)
        assert got == _reference(model, conditions, now)


def test_rows_split_over_threads_choose_the_same(lever_model: tuple[CoolingModel, np.ndarray]) -> None:
    model, inputs = lever_model
    conditions, levers = _rows(inputs)
    kw: dict[str, Any] = {"inlet_limit_c": 27.0, "uncertainty_k": 2.0}
    whole = optimise_rows_with_levers(model, conditions, levers, SetpointBounds(), workers=1, **kw)
    for workers in (2, 3):
        split = optimise_rows_with_levers(
            model, conditions, levers, SetpointBounds(), workers=workers, min_rows_per_worker=1, **kw
        )
        assert split == whole


def test_a_model_without_the_product_form_gives_the_same(lever_model: tuple[CoolingModel, np.ndarray]) -> None:
    model, inputs = lever_model
    assert model.lever_support is not None

    class Plain:  # only what models.optimiser.PlantModel asks: predict called on flat rows
        support = model.support

        def predict(self, rows: np.ndarray, facility_uncertainty: bool = True) -> Any:
            return model.predict(rows, facility_uncertainty=facility_uncertainty)

    conditions, levers = (a[:6] for a in _rows(inputs))
    got = optimise_with_levers_batch(Plain(), conditions, SetpointBounds(), model.lever_support.combos, levers)
    assert got == _reference(model, conditions, levers)


def test_no_rows_no_choices(lever_model: tuple[CoolingModel, np.ndarray]) -> None:
    model, _ = lever_model
    assert model.lever_support is not None
    empty = np.empty((0, len(model.lever_columns)))
    assert (
        optimise_with_levers_batch(model, np.empty((0, 3)), SetpointBounds(), model.lever_support.combos, empty) == []
    )
