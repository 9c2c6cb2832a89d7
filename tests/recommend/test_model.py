"""The fitted cooling model: hold-out accuracy, uncertainty, support."""

from __future__ import annotations

import numpy as np

from models.cooling import CoolingModel


def test_holdout_errors_below_thresholds(model: CoolingModel) -> None:
    v = model.validation
    assert v.n_holdout > 100
    assert v.pue_mae < 0.01  # Gao 2014 reached 0.004 on a real fleet
    assert v.max_inlet_mae_c < 0.3


def test_predictions_carry_uncertainty_and_facility_balance(model: CoolingModel) -> None:
    inputs = np.array([[800e3, 10.0, 8.0, 18.0, 7.0, 0.0], [800e3, 10.0, 8.0, 20.0, 14.0, 1.0]])
    p = model.predict(inputs)
    assert np.all(p.facility_power_std_w > 0) and np.all(p.max_inlet_std_c > 0)
    overhead = model.overhead_power_w(inputs[:, 0])
    np.testing.assert_allclose(p.facility_power_w, inputs[:, 0] + p.cooling_power_w + overhead)
    np.testing.assert_allclose(p.pue, p.facility_power_w / inputs[:, 0])
    assert np.all((p.pue > 1.0) & (p.pue < 2.0))


def test_out_of_distribution_conditions_named(model: CoolingModel) -> None:
    assert model.conditions_outside_training(model.condition_min) is None
    reason = model.conditions_outside_training([model.condition_max[0] * 2, 10.0, 8.0])
    assert reason is not None and "it_power_w" in reason
