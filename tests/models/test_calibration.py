"""Split-conformal calibration of the cooling model's uncertainty (models.cooling.calibrated_std_scale)."""

from __future__ import annotations

import numpy as np
import pytest

from models.cooling import calibrated_std_scale


def test_recovers_the_factor_of_a_known_heteroscedastic_error() -> None:
    rng = np.random.default_rng(0)
    spread = rng.uniform(0.1, 2.0, 200_000)  # the model's shape of the uncertainty
    error = rng.normal(0.0, 3.0 * spread)  # true standard deviation is 3x the spread
    scale = calibrated_std_scale(error, spread, floor=0.0, coverage=0.99)
    assert scale == pytest.approx(3.0, rel=0.02)


def test_covers_at_least_the_coverage_on_its_own_rows() -> None:
    rng = np.random.default_rng(1)
    spread = rng.uniform(0.0, 1.0, 5_000)
    error = rng.standard_t(3, 5_000) * (0.2 + spread)  # heavy tails, some zero spread
    floor = 0.05
    for coverage in (0.9, 0.99):
        scale = calibrated_std_scale(error, spread, floor, coverage)
        z = {0.9: 1.6449, 0.99: 2.5758}[coverage]
        covered = np.abs(error) <= z * np.hypot(scale * spread, floor) + 1e-12
        assert covered.mean() >= coverage


def test_errors_within_the_floor_need_no_spread() -> None:
    assert calibrated_std_scale([0.01, -0.02, 0.0], [1.0, 1.0, 0.0], floor=0.1, coverage=0.9) == 0.0


def test_zero_spread_with_large_errors_falls_back_to_a_finite_factor() -> None:
    error = np.array([1.0, 1.0, 5.0, 5.0])
    spread = np.array([1.0, 1.0, 0.0, 0.0])
    scale = calibrated_std_scale(error, spread, floor=0.0, coverage=0.9)
    assert np.isfinite(scale) and scale == pytest.approx(1.0 / 1.6449, rel=1e-3)


@pytest.mark.parametrize("coverage", [0.0, 1.0, -0.5, 1.5])
def test_coverage_outside_0_1_rejected(coverage: float) -> None:
    with pytest.raises(ValueError, match="coverage"):
        calibrated_std_scale([1.0], [1.0], 0.0, coverage)


def test_no_errors_rejected() -> None:
    with pytest.raises(ValueError, match="no errors"):
        calibrated_std_scale([], [], 0.0, 0.99)
