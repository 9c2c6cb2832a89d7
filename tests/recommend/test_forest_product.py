"""Product evaluation of the boosted forests equals scikit-learn's tree walk to the bit (fitted model, edge cases)."""

from __future__ import annotations

import numpy as np
import pytest
from sklearn.ensemble import HistGradientBoostingRegressor

from models.cooling import CoolingModel
from models.features import build_features
from models.forest_product import ProductColumns, ProductForests, product_columns
from models.optimiser import SetpointBounds, candidate_grid


def _conditions(model: CoolingModel, n: int, seed: int) -> np.ndarray:
    """Conditions across and beyond the training range (below it the monotone model clamps)."""
    rng = np.random.default_rng(seed)
    low, high = model.condition_min, model.condition_max
    span = high - low
    cond = rng.uniform(low - 0.3 * span, high + 0.1 * span, size=(n, 3))
    cond[:, 2] = np.minimum(cond[:, 2], cond[:, 1])  # wet-bulb never above dry-bulb
    return cond


def _candidates(model: CoolingModel, step_k: float, every: int = 1) -> np.ndarray:
    supply, chw, eco = candidate_grid(SetpointBounds(supply_air_max_c=24.6), model.support, step_k)
    return np.column_stack((supply, chw, eco.astype(float)))[::every]


def _features(model: CoolingModel, cond: np.ndarray, cand: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    raw = np.column_stack((np.repeat(cond, len(cand), axis=0), np.tile(cand, (len(cond), 1))))
    return raw, build_features(model._clamped_below(raw), model.feature_config)


def _estimators(model: CoolingModel) -> list[HistGradientBoostingRegressor]:
    return [
        getattr(regressor, name)
        for regressor in (model.cooling_regressor, model.inlet_regressor)
        for name in ("mean_estimator_", "lower_estimator_", "upper_estimator_")
    ]


@pytest.mark.parametrize(("step_k", "every"), [(1.0, 1), (0.25, 7)])
def test_every_estimator_equals_sklearn_to_the_bit(model: CoolingModel, step_k: float, every: int) -> None:
    cond, cand = _conditions(model, 60, 1), _candidates(model, step_k, every)
    _, flat = _features(model, cond, cand)
    features = flat.reshape(len(cond), len(cand), -1)
    estimators = _estimators(model)
    forests = ProductForests(estimators)
    got = forests.predict(features, product_columns(features))
    for estimator, values in zip(estimators, got, strict=True):
        assert np.array_equal(values, estimator.predict(flat))
    assert forests.predict(features, product_columns(features))[0].tolist() == got[0].tolist()  # cached layout


def test_columns_split_by_what_they_depend_on(model: CoolingModel) -> None:
    cond = _conditions(model, 5, 2)
    cand = np.array([(s, c, e) for s in (18.0, 20.5) for c in (8.0, 10.0) for e in (0.0, 1.0)])
    _, flat = _features(model, cond, cand)
    columns = product_columns(flat.reshape(len(cond), len(cand), -1))
    # conditions and load fraction per hour; setpoints and coil headroom per candidate; the rest per pair
    assert columns == ProductColumns(row=(0, 1, 2, 6), candidate=(3, 4, 5, 10), pair=(7, 8, 9))


@pytest.mark.parametrize("uncertainty", [True, False])
def test_cooling_product_equals_predict(model: CoolingModel, uncertainty: bool) -> None:
    cond, cand = _conditions(model, 40, 3), _candidates(model, 0.25, 5)
    raw, _ = _features(model, cond, cand)
    got = model.product_predictor().predict(cond, cand, facility_uncertainty=uncertainty)
    expected = model.predict(raw, facility_uncertainty=uncertainty)
    for field in (
        "cooling_power_w",
        "facility_power_w",
        "facility_power_std_w",
        "max_inlet_c",
        "max_inlet_std_c",
        "pue",
    ):
        assert np.array_equal(getattr(got, field), getattr(expected, field)), field


def test_forests_it_cannot_compile_fall_back_to_sklearn() -> None:
    rng = np.random.default_rng(4)
    x = rng.normal(size=(400, 3))
    y = x[:, 0] * x[:, 1] + np.sin(3 * x[:, 2]) + rng.normal(scale=0.1, size=400)
    wide = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=80, min_samples_leaf=2).fit(x, y)
    small = HistGradientBoostingRegressor(max_iter=5, max_leaf_nodes=8).fit(x, y)
    features = rng.normal(size=(7, 9, 3))
    flat = features.reshape(-1, 3)
    got = ProductForests([wide, small]).predict(features, product_columns(features))
    assert any(len(p[0].nodes) > 2 * 64 for p in wide._predictors)  # the wide forest really has > 64 leaves
    assert np.array_equal(got[0], wide.predict(flat))
    assert np.array_equal(got[1], small.predict(flat))
    features[2, 3, 1] = np.nan  # missing values follow scikit-learn's rule, so the whole product does
    got = ProductForests([small]).predict(features, product_columns(features))
    assert np.array_equal(got[0], small.predict(features.reshape(-1, 3)))


def test_unknown_fitted_state_falls_back_to_sklearn() -> None:
    rng = np.random.default_rng(5)
    x = rng.normal(size=(200, 2))
    estimator = HistGradientBoostingRegressor(max_iter=3).fit(x, x[:, 0] - x[:, 1])
    features = rng.normal(size=(4, 5, 2))

    class Renamed:  # as if another scikit-learn had renamed its private fitted state
        def predict(self, flat: np.ndarray) -> np.ndarray:
            return np.asarray(estimator.predict(flat))

    got = ProductForests([Renamed(), estimator]).predict(features, product_columns(features))
    assert np.array_equal(got[0], estimator.predict(features.reshape(-1, 2)))
    assert np.array_equal(got[1], got[0])
