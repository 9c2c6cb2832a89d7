"""Realised savings of a change on a site with levers (models/levers.py): the prediction at the old and the new
setpoints carries the lever values, so a change that moves only a lever is predicted and measured."""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
import pytest
from numpy.typing import NDArray

from models.realised import realised_saving

LEVER_W_PER_K = 4e3  # the fake plant: every kelvin of condenser-water setpoint costs 4 kW


@dataclass(frozen=True)
class _Prediction:
    facility_power_w: NDArray[np.float64]
    facility_power_std_w: NDArray[np.float64]


class _LeverPlant:
    """Analytic model with one lever column after the base six inputs (condenser-water setpoint [C])."""

    def predict(self, inputs: object, facility_uncertainty: bool = True) -> _Prediction:
        x = np.asarray(inputs, dtype=float)
        assert x.shape[1] == 7, "the lever column must reach the model"
        it, _db, _wb, supply, chw, eco, condenser = x.T
        facility = 1.05 * it + 2e3 * (22.0 - supply) - 1e3 * chw - 5e3 * eco + LEVER_W_PER_K * condenser
        return _Prediction(facility, np.full(len(x), 1e3))


def test_a_lever_only_change_is_predicted_and_realised_with_the_lever_values() -> None:
    plant = _LeverPlant()
    conditions = [[800e3, 8.0, 5.0]] * 4
    old, new = (20.0, 12.0, False, 26.0), (20.0, 12.0, False, 22.0)  # condenser water 26 -> 22 C
    before_w = float(plant.predict([[800e3, 8.0, 5.0, 20.0, 12.0, 0.0, 26.0]]).facility_power_w[0]) + 500.0
    after_w = before_w - 4 * LEVER_W_PER_K  # the plant saved what the model says, with the same 500 W bias
    times = np.arange(4) * 900.0
    saving = realised_saving(
        plant, old, new, times + 3600.0, conditions, [after_w] * 4, times, conditions, [before_w] * 4
    )
    assert saving.predicted_w == pytest.approx(4 * LEVER_W_PER_K)
    assert saving.realised_w == pytest.approx(4 * LEVER_W_PER_K)  # the bias before the change is removed


def test_old_and_new_setpoints_of_different_lengths_are_refused() -> None:
    with pytest.raises(ValueError, match="same levers"):
        realised_saving(_LeverPlant(), (20.0, 12.0, False, 26.0), (20.0, 12.0, False), [0.0], [[8e5, 8.0, 5.0]], [1e6])
