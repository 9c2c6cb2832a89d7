"""scikit-learn's own estimator checks on the cooling regressor."""

from __future__ import annotations

from sklearn.utils.estimator_checks import parametrize_with_checks

from models.cooling import QuantileGradientBoostingRegressor


@parametrize_with_checks([QuantileGradientBoostingRegressor(max_iter=10, random_state=0)])
def test_sklearn_contract(estimator, check):  # type: ignore[no-untyped-def]
    check(estimator)
