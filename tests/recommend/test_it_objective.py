"""The objective sees IT power move: a synthetic plant whose server fans speed up with inlet temperature.

The plant: warmer supply air saves cooling power (1 % of IT power per kelvin) and raises every inlet
one for one; above a 24 C hottest inlet the servers' fans speed up (speed +10 %/K, fan power with its cube,
fans 6 % of IT power at base speed), which costs more IT power per kelvin than the cooling saves. So the
plant's best supply air puts the hottest inlet near the knee, well below the warmest safe setpoint.
"""

from __future__ import annotations

import numpy as np
import pytest

from models.cooling import CoolingModel, fit_cooling_model
from models.it_power import ServerFanCurve, fit_server_fan_curve
from models.optimiser import SetpointBounds, optimise_setpoints
from models.optimiser_batch import optimise_setpoints_batch

KNEE_C = 24.0
FAN_SHARE = 0.06
FAN_GAIN_PER_K = 0.10
N_ROWS = 1500
FAST = {"max_iter": 25}  # half the default boosting: the test is about the objective, not the last watt


def true_fan_factor(inlet_c: np.ndarray) -> np.ndarray:
    speed = 1.0 + FAN_GAIN_PER_K * np.maximum(inlet_c - KNEE_C, 0.0)
    return np.asarray(1.0 + FAN_SHARE * (speed**3 - 1.0))


def plant(
    base_it_w: np.ndarray, wet_bulb_c: np.ndarray, supply_c: np.ndarray, chw_c: np.ndarray
) -> dict[str, np.ndarray]:
    """True hottest inlet [C], IT, cooling and facility power [W] of the synthetic plant."""
    inlet_c = supply_c + 1.0 + 2.0 * base_it_w / 1e6
    it_w = base_it_w * true_fan_factor(inlet_c)
    cooling_w = it_w * (0.30 - 0.01 * (supply_c - 18.0) - 0.004 * (chw_c - 7.0) + 0.003 * (wet_bulb_c - 10.0))
    overhead_w = 20e3 + 0.05 * it_w
    return {"inlet": inlet_c, "it": it_w, "cooling": cooling_w, "facility": it_w + cooling_w + overhead_w}


def history(fans_react: bool = True, seed: int = 0) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    hours = np.arange(N_ROWS)
    # workload: a daily cycle plus a slow random walk (0.5 %/h), as utilisation traces move
    base = 900e3 * (1.0 + 0.08 * np.sin(2 * np.pi * hours / 24.0)) * np.exp(np.cumsum(rng.normal(0, 0.005, N_ROWS)))
    base = np.clip(base, 700e3, 1.1e6)
    wet = 10.0 + 6.0 * np.sin(2 * np.pi * hours / (24.0 * 50)) + rng.normal(0, 0.5, N_ROWS)
    dry = wet + 3.0
    # safe exploration: new setpoints every 3 hours, supply 18-24.5 C, chilled water 7-13 C
    blocks = -(-N_ROWS // 3)
    supply = np.repeat(np.round(rng.uniform(18.0, 24.5, blocks) * 4) / 4, 3)[:N_ROWS]
    chw = np.repeat(np.round(rng.uniform(7.0, 13.0, blocks) * 4) / 4, 3)[:N_ROWS]
    truth = plant(base, wet, supply, chw)
    if not fans_react:
        truth = plant(base, wet, supply, chw) | {"it": base}
        truth["facility"] = base + truth["cooling"] + 20e3 + 0.05 * base
    inputs = np.column_stack((truth["it"], dry, wet, supply, chw, np.zeros(N_ROWS)))
    return {"inputs": inputs, **truth}


@pytest.fixture(scope="module")
def data() -> dict[str, np.ndarray]:
    return history()


@pytest.fixture(scope="module")
def it_aware(data: dict[str, np.ndarray]) -> CoolingModel:
    return fit_cooling_model(data["inputs"], data["cooling"], data["facility"], data["inlet"], regressor_params=FAST)


@pytest.fixture(scope="module")
def it_blind(data: dict[str, np.ndarray]) -> CoolingModel:
    return fit_cooling_model(
        data["inputs"], data["cooling"], data["facility"], data["inlet"], regressor_params=FAST, it_fan_curve=False
    )


def test_fan_curve_learned_from_history(it_aware: CoolingModel) -> None:
    curve = it_aware.it_fan_curve
    assert 23.0 <= curve.knee_c <= 25.0
    inlets = np.array([20.0, 23.5, 25.0, 26.0, 27.0])
    learned = curve.factor(inlets) - 1.0
    truth = true_fan_factor(inlets) - 1.0
    assert learned[0] == 0.0 and learned[1] < 0.002  # flat below the knee
    np.testing.assert_allclose(learned[2:], truth[2:], rtol=0.3)


def test_fan_curve_flat_where_fans_do_not_react() -> None:
    h = history(fans_react=False, seed=1)
    changed = np.concatenate(([False], np.any(np.diff(h["inputs"][:, 3:5], axis=0) != 0, axis=1)))
    assert fit_server_fan_curve(h["it"], h["inlet"], changed).flat
    few = fit_server_fan_curve(h["it"][:40], h["inlet"][:40], changed[:40])  # under 30 moved pairs: no curve
    assert few == ServerFanCurve(n_pairs=few.n_pairs) and few.n_pairs < 30


def test_prediction_carries_the_it_power_of_a_warmer_hall(it_aware: CoolingModel) -> None:
    rows = np.array([[900e3, 13.0, 10.0, s, 10.0, 0.0] for s in (19.0, 23.0)])
    p = it_aware.predict(rows, it_measured_inlet_c=20.0)
    truth = plant(np.full(2, 900e3), np.full(2, 10.0), rows[:, 3], rows[:, 4])
    assert p.it_power_w is not None
    assert p.it_power_w[0] == pytest.approx(900e3)  # the hottest inlet ~21.8 C: fans at base speed
    assert p.it_power_w[1] - p.it_power_w[0] == pytest.approx(truth["it"][1] - truth["it"][0], rel=0.3)
    overhead = it_aware.overhead_power_w(p.it_power_w)
    np.testing.assert_allclose(p.facility_power_w, p.it_power_w + p.cooling_power_w + overhead)


def test_optimiser_no_longer_picks_the_warmest_supply_air(it_aware: CoolingModel, it_blind: CoolingModel) -> None:
    bounds = SetpointBounds(16.0, 25.0, 5.0, 18.0, allow_economizer=False)
    blind = optimise_setpoints(it_blind, 900e3, 13.0, 10.0, bounds, economizer_states=(False,))
    aware = optimise_setpoints(it_aware, 900e3, 13.0, 10.0, bounds, economizer_states=(False,))
    assert blind is not None and aware is not None
    # the IT-blind objective runs the hall as warm as the data and the inlet limit allow
    assert blind.supply_air_setpoint_c >= 23.5
    # the plant's best: hottest inlet at the 24 C knee, i.e. supply air ~21.2 C (trees are coarse over 1 K)
    assert 19.5 <= aware.supply_air_setpoint_c <= 22.0

    def true_facility(choice: object) -> float:
        s, c = choice.supply_air_setpoint_c, choice.chw_supply_setpoint_c  # type: ignore[attr-defined]
        return float(plant(np.array([900e3]), np.array([10.0]), np.array([s]), np.array([c]))["facility"][0])

    assert true_facility(aware) < true_facility(blind) - 2e3


def test_batch_optimiser_equals_row_by_row_with_the_fan_curve(it_aware: CoolingModel) -> None:
    assert not it_aware.it_fan_curve.flat
    rows = np.array([[900e3, 13.0, 10.0], [750e3, 8.0, 5.0], [1.05e6, 18.0, 15.0], [880e3, 20.0, 16.0]])
    bounds = SetpointBounds(16.0, 25.0, 5.0, 18.0, allow_economizer=False)
    one = [optimise_setpoints(it_aware, *row, bounds, economizer_states=(False,)) for row in rows]
    assert optimise_setpoints_batch(it_aware, rows, bounds, economizer_states=(False,)) == one
    assert any(choice is not None for choice in one)
