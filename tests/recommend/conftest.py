"""Shared fixtures: a small twin history with safe exploration, and a fitted model (session-scoped)."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from threadpoolctl import threadpool_limits

from agent.control.history_io import read_site_history
from agent.control.training import fit_from_history
from models.cooling import CoolingModel, PlantPrediction
from models.optimiser import SetpointSupport
from twin.history_csv import write_site_history
from twin.simulate import simulate
from twin.weather import load_site_weather


@pytest.fixture(scope="session", autouse=True)
def _single_thread() -> object:
    # small fits and predictions: OpenMP threads only add overhead (and oversubscribe a shared CI box)
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def history_csv(tmp_path_factory: pytest.TempPathFactory) -> Path:
    result = simulate(load_site_weather("guiyang"), days=60, step_s=3600.0, controller="oracle", explore_c=2.0)
    path = tmp_path_factory.mktemp("history") / "history.csv"
    write_site_history(result, path)
    return path


@pytest.fixture(scope="session")
def model(history_csv: Path) -> CoolingModel:
    return fit_from_history(read_site_history(history_csv))


class FakePlant:
    """Analytic plant: warmer water and the economizer save power; inlet = effective supply + 5.5 K."""

    version = "fake"

    def __init__(self, support: SetpointSupport | None = None, inlet_std_c: float = 0.1) -> None:
        grid = np.array([(s, c) for s in np.arange(16, 22, 0.5) for c in np.arange(5, 17, 0.5)])
        self.support = support or SetpointSupport.from_samples(
            np.tile(grid[:, 0], 2), np.tile(grid[:, 1], 2), np.repeat([False, True], len(grid))
        )
        self.inlet_std_c = inlet_std_c

    def conditions_outside_training(self, conditions: object) -> str | None:
        it_power_w = float(np.asarray(conditions)[0])
        return None if 1e5 <= it_power_w <= 2e6 else f"it_power_w {it_power_w:g} outside"

    def predict(self, inputs: object, facility_uncertainty: bool = True) -> PlantPrediction:
        x = np.asarray(inputs, dtype=float)
        it, _db, wb, supply, chw, eco = x.T
        effective = np.maximum(supply, chw + 5.0)
        cooling = 0.25 * it * (1 - 0.02 * (chw - 5)) * (1 - 0.5 * eco * (chw - wb - 6 > 0)) + 2e3 * (22 - effective)
        facility = it * 1.05 + cooling
        n = len(x)
        return PlantPrediction(
            cooling, facility, np.full(n, 1e3), effective + 5.5, np.full(n, self.inlet_std_c), facility / it
        )
