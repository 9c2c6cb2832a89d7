"""The cooling model's prediction for every (conditions row, candidate setpoints) pair, for the batch optimiser.

:class:`CoolingProduct` compiles a fitted :class:`models.cooling.CoolingModel`'s boosted forests once
(:class:`models.forest_product.ProductForests`) and predicts a product of hours and candidates with the
same result, to the bit, as :meth:`CoolingModel.predict` on the repeated rows, several times faster.
Pure: numpy only.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import numpy as np
from numpy.typing import ArrayLike

from models.features import build_features
from models.forest_product import ProductForests, product_columns

if TYPE_CHECKING:
    from models.cooling import CoolingModel, PlantPrediction

__all__ = ["CoolingProduct"]


class CoolingProduct:
    """A fitted cooling model compiled for products of conditions and candidate setpoints.

    Parameters
    ----------
    model : CoolingModel
        Fitted; only read.
    """

    def __init__(self, model: CoolingModel) -> None:
        self.model = model
        cooling, inlet = model.cooling_regressor, model.inlet_regressor
        self._forests = ProductForests(
            (cooling.mean_estimator_, inlet.mean_estimator_, inlet.lower_estimator_, inlet.upper_estimator_)
        )
        self._cooling_bounds = ProductForests((cooling.lower_estimator_, cooling.upper_estimator_))

    def predict(
        self, conditions: ArrayLike, setpoints: ArrayLike, facility_uncertainty: bool = True
    ) -> PlantPrediction:
        """:meth:`CoolingModel.predict` of every pair, conditions-major.

        Parameters
        ----------
        conditions : array_like, shape (n_rows, 3)
            IT power [W], outdoor dry-bulb [C], outdoor wet-bulb [C].
        setpoints : array_like, shape (n_candidates, n_setpoint_columns)
            The remaining input columns in :data:`models.features.INPUT_COLUMNS` order.
        facility_uncertainty : bool
            As in :meth:`CoolingModel.predict`.

        Returns
        -------
        PlantPrediction
            ``n_rows * n_candidates`` rows: row ``i * n_candidates + k`` is conditions ``i`` with setpoints ``k``.
        """
        model = self.model
        cond = np.asarray(conditions, dtype=float)
        cand = np.asarray(setpoints, dtype=float)
        n_rows, n_cand = len(cond), len(cand)
        raw = np.column_stack((np.repeat(cond, n_cand, axis=0), np.tile(cand, (n_rows, 1))))
        features = build_features(model._clamped_below(raw), model.feature_config).reshape(n_rows, n_cand, -1)
        columns = product_columns(features)
        cooling_spread_w = None
        if facility_uncertainty:
            lower, upper = self._cooling_bounds.predict(features, columns)
            cooling_spread_w = model.cooling_regressor.std_from_quantiles(lower, upper)
        cooling_w, inlet_c, inlet_lower, inlet_upper = self._forests.predict(features, columns)
        return model.from_regressors(
            raw,
            cooling_w,
            cooling_spread_w,
            inlet_c,
            model.inlet_regressor.std_from_quantiles(inlet_lower, inlet_upper),
        )
