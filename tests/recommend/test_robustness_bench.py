"""The robustness bench (bench/robustness.py) run in-process for a few days: every fault reaches the agent, the
agent keeps the hall within 27 C, and the ageing plant really ages. The year itself runs tens of minutes."""

from __future__ import annotations

import importlib
import sys
from pathlib import Path
from types import ModuleType

import numpy as np
import pytest

ROOT = Path(__file__).resolve().parents[2]
DAYS = 5.0


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    if str(ROOT) not in sys.path:
        sys.path.insert(0, str(ROOT))
    return importlib.import_module("bench.robustness")


@pytest.fixture(scope="module")
def history(bench: ModuleType) -> dict[str, np.ndarray]:
    run = bench._Run("guiyang", DAYS, "modern-ups")
    history: dict[str, np.ndarray] = bench._exploration(run, 1)
    return history


def test_faulty_history_is_noisy_and_has_holes(bench: ModuleType, history: dict[str, np.ndarray]) -> None:
    rng = np.random.default_rng(0)
    noisy = bench.faulty_history(history, bench.SCENARIOS["noise"], rng)
    assert noisy["facility"].size == history["facility"].size
    assert 0.1 < np.std(noisy["inlet"] - history["inlet"]) < 0.5  # 0.3 K per reading
    assert 0.005 < np.std(noisy["facility"] / history["facility"] - 1.0) < 0.02  # 1 % per reading
    assert 0.005 < np.std(noisy["inputs"][:, 0] / history["inputs"][:, 0] - 1.0) < 0.02
    assert np.array_equal(noisy["inputs"][:, 1:], history["inputs"][:, 1:])  # no bias in the history
    holes = bench.faulty_history(history, bench.SCENARIOS["missing-polls"], rng)
    n = history["facility"].size
    assert 0.75 * n < holes["facility"].size < n
    assert np.isin(holes["facility"], history["facility"]).all()  # rows lost, the rest unchanged


@pytest.mark.slow
def test_combined_faults_keep_the_hall_within_the_limit(bench: ModuleType, history: dict[str, np.ndarray]) -> None:
    result = bench.run_scenario("combined", bench.SCENARIOS["combined"], "guiyang", "modern-ups", DAYS, history)
    assert result.minutes_above_limit == 0 and result.max_inlet_c <= 27.0
    assert result.changes > 0 and result.agent_pue < 1.25  # the agent still acted on the plant (baseline 1.38)
    assert result.realised.n > 0  # its changes were evaluated against the twin's truth


def test_ageing_plant_loses_cop_linearly_by_week(bench: ModuleType) -> None:
    faults = bench.SCENARIOS["chiller-ageing"]
    design = bench.SiteDesign()
    assert bench.aged_design(design, bench.SCENARIOS["clean"], 5000) is design
    factors = [bench.aged_design(design, faults, h).chiller_cop_factor for h in (0, 167, 168, 8735)]
    assert factors[0] == factors[1] > factors[2] > factors[3]
    assert factors[0] == pytest.approx(1.0 - 0.2 * 0.5 / 52.14, rel=1e-3)
    assert factors[3] == pytest.approx(0.8, abs=0.003)
    assert bench.aged_design(design, faults, 0, start_day=182.0).chiller_cop_factor == pytest.approx(0.9, abs=0.003)
