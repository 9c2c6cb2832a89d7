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
from models.forest_product import FloatArray, ProductColumns, ProductForests, product_columns

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
        self._means: ProductForests | None = None  # the two mean forests alone (facility_and_inlet), on first use

    def predict(
        self,
        conditions: ArrayLike,
        setpoints: ArrayLike,
        facility_uncertainty: bool = True,
        levers: ArrayLike | None = None,
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
        levers : array_like, shape (n_rows, n_levers), optional
            A lever model's lever columns per conditions row (the levers in force for that row), appended after
            the setpoints; ``None`` when ``setpoints`` carries them or the model has none.

        Returns
        -------
        PlantPrediction
            ``n_rows * n_candidates`` rows: row ``i * n_candidates + k`` is conditions ``i`` with setpoints ``k``.
        """
        cond = np.asarray(conditions, dtype=float)
        cand = np.asarray(setpoints, dtype=float)
        n_rows, n_cand = len(cond), len(cand)
        parts = [np.broadcast_to(cond[:, None, :], (n_rows, n_cand, cond.shape[1]))]
        parts.append(np.broadcast_to(cand[None, :, :], (n_rows, n_cand, cand.shape[1])))
        if levers is not None:
            row_levers = np.asarray(levers, dtype=float).reshape(n_rows, -1)
            parts.append(np.broadcast_to(row_levers[:, None, :], (n_rows, n_cand, row_levers.shape[1])))
        return self.predict_inputs(np.concatenate(parts, axis=2), facility_uncertainty)

    def predict_inputs(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> PlantPrediction:
        """:meth:`CoolingModel.predict` of a product already laid out, shape (n_rows, n_candidates, n_inputs).

        Any input column may vary by row, by candidate or by both (the lever scan of
        :mod:`models.levers_batch` has the setpoints per row and the levers per candidate); the prediction
        is flat, row ``i * n_candidates + k`` for ``inputs[i, k]``, equal to :meth:`CoolingModel.predict`.
        """
        model = self.model
        raw, features, columns = self._features(inputs)
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

    def facility_and_inlet(self, inputs: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Facility power [W] and hottest inlet [C] of a laid-out product (as :meth:`predict_inputs`), flat.

        The same values, to the bit, as :meth:`predict_inputs`' ``facility_power_w`` and ``max_inlet_c``, from
        the two mean forests alone (half the work): the inlet's uncertainty is left out.
        """
        model = self.model
        if self._means is None:
            self._means = ProductForests(
                (model.cooling_regressor.mean_estimator_, model.inlet_regressor.mean_estimator_)
            )
        raw, features, columns = self._features(inputs)
        cooling_w, inlet_c = self._means.predict(features, columns)
        prediction = model.from_regressors(raw, cooling_w, None, inlet_c, np.zeros_like(inlet_c))
        return prediction.facility_power_w, inlet_c

    def _features(self, inputs: ArrayLike) -> tuple[FloatArray, FloatArray, ProductColumns]:
        """Flat raw inputs, the features as (n_rows, n_candidates, n_features) and their columns' dependence."""
        grid = np.asarray(inputs, dtype=float)
        n_rows, n_cand, n_inputs = grid.shape
        raw = grid.reshape(n_rows * n_cand, n_inputs)
        model = self.model
        features = build_features(model._clamped_below(raw), model.feature_config, column_major=True)
        features = features.reshape(n_rows, n_cand, -1)
        return raw, features, product_columns(features)
