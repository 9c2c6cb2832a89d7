"""Cooling model: cooling power and hottest rack inlet from conditions and setpoints, with uncertainty.

Two layers:

* :class:`QuantileGradientBoostingRegressor`, a scikit-learn estimator (checked by
  ``parametrize_with_checks``): a gradient-boosted mean plus a lower and an upper quantile model
  of its residuals, so every prediction carries an uncertainty.
* :class:`CoolingModel`, the fitted plant model built by :func:`fit_cooling_model` from a
  site history: features (:mod:`models.features`), one regressor for cooling power [W], one for
  the hottest rack inlet [C], a quadratic non-cooling overhead (UPS, PDU, lighting) in IT power,
  the data's support (what the optimiser may not leave) and hold-out validation errors. The
  quantile spread is calibrated on the time-ordered hold-out (split conformal prediction with a
  normalised score) so that its normal-equivalent standard deviation means what it says.

Facility power = IT + cooling + overhead; real-time PUE = facility / IT. IT power is not a given:
server fans speed up with inlet temperature, so the model scales the measured IT power by a server fan
curve of the predicted hottest inlet (:mod:`models.it_power`, learned from the history) and the
optimiser, minimising facility power, sees what a warmer hall costs in IT power. CRAH fan power is part
of cooling power, which the cooling regressor predicts from the setpoints.

The cooling regressor's mean is monotone where physics gives a sign (:data:`models.features.MONOTONIC_CST`:
IT load, outdoor dry- and wet-bulb). Below the training range (colder or drier outdoor air, less IT
load: the safe direction) a monotone model evaluates the conditions clamped to the range's lower edge;
physics says the plant there needs no more cooling power and runs no hotter inlets than at the edge,
so the prediction errs high, and :meth:`CoolingModel.conditions_outside_training` lets such conditions
through. Above the range it still holds back.

Pure: numpy and scikit-learn, no I/O, clock or environment.

One module (over 400 lines): the model, its estimator, its fit and its validation are one contract (scikit-learn's)
that changes together.
"""

from __future__ import annotations

import hashlib
from dataclasses import dataclass
from statistics import NormalDist
from typing import TYPE_CHECKING, Any

import numpy as np
from numpy.typing import ArrayLike, NDArray
from sklearn.base import BaseEstimator, RegressorMixin
from sklearn.ensemble import HistGradientBoostingRegressor
from sklearn.utils.validation import check_is_fitted, validate_data

from models.features import (
    CONDITION_COLUMNS,
    FEATURE_NAMES,
    INPUT_COLUMNS,
    LEVER_MONOTONIC_CST,
    MONOTONIC_CST,
    FeatureConfig,
    build_features,
    lever_feature_names,
)
from models.it_power import ServerFanCurve, fit_server_fan_curve
from models.levers import LeverSupport
from models.optimiser import SetpointSupport

if TYPE_CHECKING:
    from models.plant_product import CoolingProduct

__all__ = [
    "CoolingModel",
    "PlantPrediction",
    "QuantileGradientBoostingRegressor",
    "ValidationReport",
    "calibrated_std_scale",
    "fit_cooling_model",
]

FloatArray = NDArray[np.float64]


class QuantileGradientBoostingRegressor(RegressorMixin, BaseEstimator):  # type: ignore[misc]
    """Gradient-boosted regressor with a lower and an upper quantile model for uncertainty.

    ``predict`` returns the mean (squared-error loss); :meth:`predict_interval` the mean plus the
    lower and upper quantiles of its residuals (pinball loss, fitted on ``y - mean``);
    :meth:`predict_std` a normal-equivalent standard deviation from their spread.

    The quantile models learn the residuals, not ``y`` itself: quantile boosting of a target that
    varies by several kelvin (the hottest inlet over a year) from a constant start left spreads of
    1.2 K median where the mean's errors were 0.017 K, and collapsed to zero elsewhere (measured on
    a Chongqing exploration year of the twin). In-sample residuals are optimistic, so the spread
    is only the *shape* of the uncertainty; :func:`fit_cooling_model` scales it on a hold-out.

    Parameters
    ----------
    quantiles : tuple of float
        Lower and upper quantile levels, ``0 < lower < 0.5 < upper < 1``.
    max_iter : int
        Boosting iterations per model.
    learning_rate : float
        Shrinkage.
    max_leaf_nodes : int
        Leaves per tree.
    min_samples_leaf : int
        Minimum samples per leaf.
    l2_regularization : float
        L2 penalty on leaf values.
    random_state : int, RandomState instance or None
        Seed of the boosting (explicit, for reproducible fits).
    monotonic_cst : tuple of int or None
        Per feature +1 / -1 / 0: the mean model never falls / never rises / is free as that feature
        rises (HistGradientBoosting's ``monotonic_cst``); the residual quantile models are free.

    Attributes
    ----------
    mean_estimator_, lower_estimator_, upper_estimator_ : HistGradientBoostingRegressor
        Fitted models.
    n_features_in_ : int
        Number of features seen in ``fit``.
    n_iter_ : int
        Boosting iterations of the mean model.

    References
    ----------
    Meinshausen, "Quantile Regression Forests", JMLR 7 (2006) (quantile spread as uncertainty);
    Ke et al., "LightGBM", NeurIPS 2017 (histogram gradient boosting).
    """

    def __init__(
        self,
        quantiles: tuple[float, float] = (0.1, 0.9),
        max_iter: int = 50,
        learning_rate: float = 0.3,
        max_leaf_nodes: int = 31,
        min_samples_leaf: int = 20,
        l2_regularization: float = 0.0,
        random_state: Any = 0,
        monotonic_cst: tuple[int, ...] | None = None,
    ) -> None:
        self.quantiles = quantiles
        self.max_iter = max_iter
        self.learning_rate = learning_rate
        self.max_leaf_nodes = max_leaf_nodes
        self.min_samples_leaf = min_samples_leaf
        self.l2_regularization = l2_regularization
        self.random_state = random_state
        self.monotonic_cst = monotonic_cst

    def _booster(
        self, loss: str, quantile: float | None = None, monotonic_cst: tuple[int, ...] | None = None
    ) -> HistGradientBoostingRegressor:
        return HistGradientBoostingRegressor(
            loss=loss,
            quantile=quantile,
            max_iter=self.max_iter,
            learning_rate=self.learning_rate,
            max_leaf_nodes=self.max_leaf_nodes,
            min_samples_leaf=self.min_samples_leaf,
            l2_regularization=self.l2_regularization,
            early_stopping=False,
            random_state=self.random_state,
            monotonic_cst=None if monotonic_cst is None else list(monotonic_cst),
        )

    def fit(self, X: ArrayLike, y: ArrayLike) -> QuantileGradientBoostingRegressor:
        """Fit the mean and both quantile models.

        Parameters
        ----------
        X : array_like, shape (n_samples, n_features)
        y : array_like, shape (n_samples,)

        Returns
        -------
        self
        """
        lower, upper = self.quantiles
        if not 0.0 < lower < 0.5 < upper < 1.0:
            raise ValueError(f"quantiles must satisfy 0 < lower < 0.5 < upper < 1, got {self.quantiles}")
        X_, y_ = validate_data(self, X, y, y_numeric=True)
        self.mean_estimator_ = self._booster("squared_error", monotonic_cst=self.monotonic_cst).fit(X_, y_)
        residual = y_ - self.mean_estimator_.predict(X_)
        self.lower_estimator_ = self._booster("quantile", lower).fit(X_, residual)
        self.upper_estimator_ = self._booster("quantile", upper).fit(X_, residual)
        self.n_iter_ = int(self.mean_estimator_.n_iter_)
        return self

    def predict(self, X: ArrayLike) -> FloatArray:
        """Mean prediction, shape (n_samples,)."""
        check_is_fitted(self)
        X_ = validate_data(self, X, reset=False)
        return np.asarray(self.mean_estimator_.predict(X_), dtype=float)

    def _residual_quantiles(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        check_is_fitted(self)
        X_ = validate_data(self, X, reset=False)
        lower = np.asarray(self.lower_estimator_.predict(X_), dtype=float)
        upper = np.asarray(self.upper_estimator_.predict(X_), dtype=float)
        return np.minimum(lower, upper), np.maximum(lower, upper)

    def std_from_quantiles(self, lower: FloatArray, upper: FloatArray) -> FloatArray:
        """:meth:`predict_std` from the two quantile models' raw predictions (in either order)."""
        z_span = NormalDist().inv_cdf(self.quantiles[1]) - NormalDist().inv_cdf(self.quantiles[0])
        return (np.maximum(lower, upper) - np.minimum(lower, upper)) / z_span

    def predict_interval(self, X: ArrayLike) -> tuple[FloatArray, FloatArray]:
        """Lower and upper quantile predictions, each shape (n_samples,); lower <= upper."""
        lower, upper = self._residual_quantiles(X)
        mean = self.predict(X)
        return np.minimum(mean + lower, mean), np.maximum(mean + upper, mean)

    def predict_std(self, X: ArrayLike) -> FloatArray:
        """Normal-equivalent standard deviation from the quantile spread, shape (n_samples,)."""
        check_is_fitted(self)
        X_ = validate_data(self, X, reset=False)
        return self.std_from_quantiles(self.lower_estimator_.predict(X_), self.upper_estimator_.predict(X_))


@dataclass(frozen=True)
class ValidationReport:
    """Errors of the model on the time-ordered hold-out (the last part of the history).

    Attributes
    ----------
    n_train, n_holdout : int
        Rows used to fit and to validate.
    pue_mae : float
        Mean absolute error of real-time PUE [-].
    max_inlet_mae_c : float
        Mean absolute error of the hottest rack inlet [K].
    cooling_power_mae_w : float
        Mean absolute error of cooling power [W].
    facility_power_mape_percent : float
        Mean absolute percentage error of facility power [%].
    max_inlet_rmse_c, facility_power_rmse_w : float
        Root-mean-square errors, used as an uncertainty floor [K], [W].
    calibration_coverage : float
        Two-sided coverage the uncertainty was calibrated to on the hold-out [-].
    max_inlet_std_scale, cooling_power_std_scale : float
        Factors on the regressors' quantile spread that make the predicted standard deviation
        (with its RMSE floor) cover ``calibration_coverage`` of the hold-out errors at its normal
        quantile (2.58 standard deviations for 0.99) [-].
    max_inlet_within_2std_percent, facility_power_within_2std_percent : float
        Share of hold-out rows whose error was within 2 calibrated standard deviations [%]
        (the optimiser's default ``uncertainty_k`` is 2).
    """

    n_train: int
    n_holdout: int
    pue_mae: float
    max_inlet_mae_c: float
    cooling_power_mae_w: float
    facility_power_mape_percent: float
    max_inlet_rmse_c: float
    facility_power_rmse_w: float
    calibration_coverage: float
    max_inlet_std_scale: float
    cooling_power_std_scale: float
    max_inlet_within_2std_percent: float
    facility_power_within_2std_percent: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for a JSON sidecar."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class PlantPrediction:
    """Predictions per row; ``*_std_*`` are one standard deviation (model + hold-out error).

    ``it_power_w`` is the IT power at the row's setpoints (the measured IT power scaled by the server
    fan curve); ``None`` from models that take IT power as given (analytic fakes).
    """

    cooling_power_w: FloatArray
    facility_power_w: FloatArray
    facility_power_std_w: FloatArray
    max_inlet_c: FloatArray
    max_inlet_std_c: FloatArray
    pue: FloatArray
    it_power_w: FloatArray | None = None


class CoolingModel:
    """Fitted plant model; build it with :func:`fit_cooling_model`.

    Parameters
    ----------
    feature_config : FeatureConfig
    cooling_regressor, inlet_regressor : QuantileGradientBoostingRegressor
        Fitted on :func:`models.features.build_features` output.
    overhead_coef : numpy.ndarray, shape (3,)
        Non-cooling overhead [W] = c0 + c1 * IT + c2 * IT**2 (IT in W).
    support : SetpointSupport
        Setpoint region the training data covered.
    condition_min, condition_max : numpy.ndarray, shape (3,)
        Range of :data:`models.features.CONDITION_COLUMNS` in the training data.
    validation : ValidationReport
    version : str
        Content hash of the training data and settings.
    it_fan_knee_c, it_fan_coef : float, numpy.ndarray of shape (3,)
        The server fan curve (:class:`models.it_power.ServerFanCurve`) [C], [1/K, 1/K^2, 1/K^3];
        zeros: IT power does not move with the inlet.
    monotone : bool
        The cooling regressor was fitted with :data:`models.features.MONOTONIC_CST`: conditions below
        the training range (the safe direction) are allowed and evaluated clamped to its lower edge.
    """

    # class defaults: models saved before these attributes existed load as "no fan curve, not monotone"
    it_fan_knee_c: float = 25.0
    it_fan_coef: FloatArray = np.zeros(3)
    monotone: bool = False
    lever_columns: tuple[str, ...] = ()  # optional levers (models/levers.py), input columns after the base six
    lever_support: LeverSupport | None = None

    feature_names: tuple[str, ...] = FEATURE_NAMES
    input_columns: tuple[str, ...] = INPUT_COLUMNS

    def __init__(
        self,
        feature_config: FeatureConfig,
        cooling_regressor: QuantileGradientBoostingRegressor,
        inlet_regressor: QuantileGradientBoostingRegressor,
        overhead_coef: FloatArray,
        support: SetpointSupport,
        condition_min: FloatArray,
        condition_max: FloatArray,
        validation: ValidationReport,
        version: str,
        *,
        it_fan_knee_c: float = 25.0,
        it_fan_coef: ArrayLike = (0.0, 0.0, 0.0),
        monotone: bool = False,
        lever_columns: tuple[str, ...] = (),
        lever_support: LeverSupport | None = None,
    ) -> None:
        self.feature_config = feature_config
        self.cooling_regressor = cooling_regressor
        self.inlet_regressor = inlet_regressor
        self.overhead_coef = np.asarray(overhead_coef, dtype=float)
        self.support = support
        self.condition_min = np.asarray(condition_min, dtype=float)
        self.condition_max = np.asarray(condition_max, dtype=float)
        self.validation = validation
        self.version = version
        self.it_fan_knee_c = float(it_fan_knee_c)
        self.it_fan_coef = np.asarray(it_fan_coef, dtype=float)
        self.monotone = bool(monotone)
        self.lever_columns = tuple(lever_columns)
        self.lever_support = lever_support

    @property
    def it_fan_curve(self) -> ServerFanCurve:
        """IT power multiplier from the hottest inlet (server fans)."""
        c1, c2, c3 = (float(c) for c in self.it_fan_coef)
        return ServerFanCurve(self.it_fan_knee_c, (c1, c2, c3))

    def overhead_power_w(self, it_power_w: ArrayLike) -> FloatArray:
        """Non-cooling overhead (UPS and PDU losses, lighting) [W] at IT power [W]."""
        it = np.asarray(it_power_w, dtype=float)
        c0, c1, c2 = self.overhead_coef
        return np.asarray(c0 + c1 * it + c2 * it * it, dtype=float)

    def predict(
        self, inputs: ArrayLike, facility_uncertainty: bool = True, it_measured_inlet_c: ArrayLike | None = None
    ) -> PlantPrediction:
        """Predict the plant for rows of raw inputs.

        IT power at the row's setpoints = the row's IT power x F(predicted hottest inlet) /
        F(``it_measured_inlet_c``), F the server fan curve; so candidates that warm the hall carry
        the server fan power they cost.

        Parameters
        ----------
        inputs : array_like, shape (n_rows, 6)
            Columns in :data:`models.features.INPUT_COLUMNS` order ([W], [C], [C], [C], [C], [0/1]).
        facility_uncertainty : bool
            False skips the cooling quantile models (``facility_power_std_w`` is then the
            hold-out RMSE only), which halves the cost of a search.
        it_measured_inlet_c : array_like or None
            Hottest inlet when the IT power was measured [C], scalar or per row. ``None`` takes the
            IT power as measured with the fans at base speed (at or below the knee): absolute
            levels then include the fan power in force, differences between rows are unchanged.

        Returns
        -------
        PlantPrediction
        """
        raw = np.asarray(inputs, dtype=float)
        features = build_features(self._clamped_below(raw), self.feature_config)
        cooling, inlet = self.cooling_regressor, self.inlet_regressor
        return self.from_regressors(
            raw,
            cooling.predict(features),
            cooling.predict_std(features) if facility_uncertainty else None,
            inlet.predict(features),
            inlet.predict_std(features),
            it_measured_inlet_c,
        )

    def from_regressors(
        self,
        raw: FloatArray,
        cooling_w: FloatArray,
        cooling_spread_w: FloatArray | None,
        inlet_c: FloatArray,
        inlet_spread_c: FloatArray,
        it_measured_inlet_c: ArrayLike | None = None,
    ) -> PlantPrediction:
        """:meth:`predict` from the regressors' outputs on ``raw``'s features (``predict_std`` as spreads)."""
        curve = self.it_fan_curve
        v = self.validation
        cooling_std_w = (
            v.cooling_power_std_scale * cooling_spread_w if cooling_spread_w is not None else np.zeros(len(raw))
        )
        inlet_std_c = v.max_inlet_std_scale * inlet_spread_c
        it_power_w = raw[:, 0] * curve.factor(inlet_c)
        if it_measured_inlet_c is not None:
            it_power_w = it_power_w / curve.factor(it_measured_inlet_c)
        facility_w = it_power_w + cooling_w + self.overhead_power_w(it_power_w)
        return PlantPrediction(
            cooling_power_w=cooling_w,
            facility_power_w=facility_w,
            facility_power_std_w=np.hypot(cooling_std_w, self.validation.facility_power_rmse_w),
            max_inlet_c=inlet_c,
            max_inlet_std_c=np.hypot(inlet_std_c, self.validation.max_inlet_rmse_c),
            pue=facility_w / it_power_w,
            it_power_w=it_power_w,
        )

    def product_predictor(self) -> CoolingProduct:
        """:meth:`predict` for products of conditions and candidate setpoints, compiled once (batch optimiser)."""
        from models.plant_product import CoolingProduct

        return CoolingProduct(self)

    def _clamped_below(self, raw: FloatArray) -> FloatArray:
        """Rows with conditions below the training range raised to its lower edge (monotone models only)."""
        n_cond = len(CONDITION_COLUMNS)
        if not self.monotone or raw.ndim != 2 or not np.any(raw[:, :n_cond] < self.condition_min):
            return raw
        clamped = raw.copy()
        clamped[:, :n_cond] = np.maximum(raw[:, :n_cond], self.condition_min)
        return clamped

    def conditions_outside_training(self, conditions: ArrayLike, margin_fraction: float = 0.05) -> str | None:
        """Reason why conditions lie outside the training data, or ``None`` when inside.

        A monotone model (:attr:`monotone`) also accepts any condition below its training range (colder
        or drier outdoor air, less IT load: the safe direction, where its flat extrapolation over-predicts
        cooling power and the hottest inlet); above the range it holds back as before.

        Parameters
        ----------
        conditions : array_like, shape (3,)
            IT power [W], outdoor dry-bulb [C], outdoor wet-bulb [C].
        margin_fraction : float
            Allowed excursion beyond the training range, as a fraction of that range [-].
        """
        values = np.asarray(conditions, dtype=float)
        span = self.condition_max - self.condition_min
        low = self.condition_min - margin_fraction * span
        high = self.condition_max + margin_fraction * span
        for name, value, lo, hi in zip(CONDITION_COLUMNS, values, low, high, strict=True):
            if not np.isfinite(value):
                return f"{name} is not a finite number"
            if value > hi or (value < lo and not self.monotone):
                return f"{name} {value:g} outside the training range [{lo:g}, {hi:g}]"
        return None


def _content_hash(*arrays: FloatArray, settings: str) -> str:
    digest = hashlib.sha256(settings.encode())
    for array in arrays:
        digest.update(np.ascontiguousarray(array, dtype=float).tobytes())
    return digest.hexdigest()[:16]


def calibrated_std_scale(abs_error: ArrayLike, spread_std: ArrayLike, floor: float, coverage: float) -> float:
    """Least factor on ``spread_std`` whose calibrated standard deviation covers ``coverage`` of the errors.

    The calibrated standard deviation is ``hypot(scale * spread_std, floor)``; a row is covered
    when its absolute error is within ``z`` of them, ``z`` the two-sided normal quantile of
    ``coverage`` (2.576 for 0.99). The factor is the split-conformal quantile (level
    ``ceil((n + 1) coverage) / n``) of the per-row factors that would just cover each row, so
    on exchangeable data at least ``coverage`` of new errors are covered.

    Parameters
    ----------
    abs_error : array_like, shape (n,)
        Absolute hold-out errors [unit of the target].
    spread_std : array_like, shape (n,)
        Uncalibrated standard deviation of each row [same unit], >= 0.
    floor : float
        Standard deviation every prediction keeps (the hold-out RMSE) [same unit].
    coverage : float
        Target coverage, 0 < coverage < 1.

    Returns
    -------
    float
        Scale factor >= 0 (the largest finite per-row factor when more than ``1 - coverage`` of
        the rows have zero spread and an error beyond the floor).

    References
    ----------
    Lei, G'Sell, Rinaldo, Tibshirani, Wasserman, "Distribution-free predictive inference for
    regression", JASA 113 (2018), section 5.2 (locally weighted split conformal).
    """
    if not 0.0 < coverage < 1.0:
        raise ValueError(f"coverage must be in (0, 1), got {coverage}")
    error = np.abs(np.asarray(abs_error, dtype=float))
    spread = np.asarray(spread_std, dtype=float)
    if error.size == 0:
        raise ValueError("no errors to calibrate on")
    z = NormalDist().inv_cdf(0.5 + coverage / 2.0)
    needed = np.sqrt(np.maximum((error / z) ** 2 - floor**2, 0.0))
    with np.errstate(divide="ignore", invalid="ignore"):
        per_row = np.where(needed > 0.0, needed / spread, 0.0)
    level = min(1.0, np.ceil((error.size + 1) * coverage) / error.size)
    scale = float(np.quantile(per_row, level, method="higher"))
    if not np.isfinite(scale):
        finite = per_row[np.isfinite(per_row)]
        scale = float(finite.max()) if finite.size else 1.0
    return scale


def _within(abs_error: FloatArray, std: FloatArray, k: float) -> float:
    return float(100.0 * np.mean(np.abs(abs_error) <= k * std))


def _fit_overhead(it_power_w: FloatArray, overhead_w: FloatArray) -> FloatArray:
    scale = float(it_power_w.max())
    x = it_power_w / scale
    design = np.column_stack((np.ones_like(x), x, x * x))
    coef, *_ = np.linalg.lstsq(design, overhead_w, rcond=None)
    return np.asarray(coef / np.array([1.0, scale, scale * scale]), dtype=float)


def fit_cooling_model(
    inputs: ArrayLike,
    cooling_power_w: ArrayLike,
    facility_power_w: ArrayLike,
    max_inlet_c: ArrayLike,
    *,
    holdout_fraction: float = 0.2,
    random_state: int = 0,
    tower_approach_k: float = 4.0,
    hx_approach_k: float = 2.0,
    support_cell_k: float = 0.5,
    support_margin_k: float = 0.0,
    calibration_coverage: float = 0.99,
    regressor_params: dict[str, Any] | None = None,
    monotone: bool = True,
    it_fan_curve: bool = True,
    lever_columns: tuple[str, ...] = (),
    lever_steps: tuple[float, ...] = (),
    lever_features: bool = True,
) -> CoolingModel:
    """Fit the plant model on time-ordered history and validate it on its last part.

    The first ``1 - holdout_fraction`` of the rows fit a model whose errors on the remaining rows
    form the :class:`ValidationReport`; the returned model is then refit on all rows.

    Parameters
    ----------
    inputs : array_like, shape (n_rows, 6)
        Columns in :data:`models.features.INPUT_COLUMNS` order, rows in time order.
    cooling_power_w, facility_power_w : array_like, shape (n_rows,)
        Measured interval-average cooling and facility power [W].
    max_inlet_c : array_like, shape (n_rows,)
        Measured hottest rack inlet [C].
    holdout_fraction : float
        Share of the most recent rows held out for validation [-].
    random_state : int
        Seed of the boosting.
    tower_approach_k, hx_approach_k : float
        Plant constants of the physics features [K].
    support_cell_k, support_margin_k : float
        Cell size and margin of the setpoint support [K]; the margin defaults to 0 because the
        boosted trees are flat beyond their data (a margin let the closed-loop bench push the
        hottest inlet to 27.24 C).
    calibration_coverage : float
        Share of hold-out errors the calibrated uncertainty covers at its normal quantile
        (:func:`calibrated_std_scale`); 0.99 because the inlet margin is a safety margin and the
        errors are heavy-tailed (a 95 % calibration would leave the rare large errors uncovered).
    regressor_params : dict, optional
        Extra parameters of :class:`QuantileGradientBoostingRegressor`.
    monotone : bool
        Constrain the cooling regressor's mean by :data:`models.features.MONOTONIC_CST` and allow
        conditions below the training range (evaluated clamped to it). The inlet regressor stays free:
        constrained, its hold-out coverage at 2 calibrated standard deviations fell from 97.6 % to
        94.4 % on a 60-day Guiyang history; below the range its clamped prediction is conservative
        by physics alone.
    it_fan_curve : bool
        Learn the server fan curve (:func:`models.it_power.fit_server_fan_curve`) from the rows
        whose setpoints changed; False keeps IT power fixed whatever the setpoints.
    lever_columns, lever_steps : tuple
        The site's optional levers (:mod:`models.levers`): input columns after the base six, free features,
        their support the combinations seen (rounded to the steps); empty: the model of a site without levers.
    lever_features : bool
        With levers, also the physics-derived lever features (:func:`models.features.lever_feature_names`).

    Returns
    -------
    CoolingModel

    References
    ----------
    J. Gao, "Machine Learning Applications for Data Center Optimization", Google (2014) (PUE
    model, MAE 0.004); Lazic et al., NeurIPS 2018 (model identified from safe exploration).
    """
    raw = np.asarray(inputs, dtype=float)
    cooling = np.asarray(cooling_power_w, dtype=float)
    facility = np.asarray(facility_power_w, dtype=float)
    inlet = np.asarray(max_inlet_c, dtype=float)
    n_rows = raw.shape[0]
    if not 0.0 < holdout_fraction < 1.0:
        raise ValueError("holdout_fraction must be in (0, 1)")
    n_train = round(n_rows * (1.0 - holdout_fraction))
    if n_train < 50 or n_rows - n_train < 10:
        raise ValueError(f"too little data: {n_rows} rows")
    if len(lever_steps) != len(lever_columns):
        raise ValueError("lever_steps must give one step per lever column")
    lever_features = bool(lever_features and lever_columns)
    derived = lever_feature_names(tuple(lever_columns)) if lever_features else ()
    constraints = (
        tuple(MONOTONIC_CST[name] for name in FEATURE_NAMES)
        + tuple(LEVER_MONOTONIC_CST.get(name, 0) if lever_features else 0 for name in lever_columns)
        + (0,) * len(derived)
        if monotone
        else None
    )
    params = {"random_state": random_state, **(regressor_params or {})}
    it_power = raw[:, 0]
    overhead = facility - it_power - cooling
    setpoint_changed = np.concatenate(([False], np.any(np.diff(raw[:, 3:], axis=0) != 0.0, axis=1)))

    def fan_curve(rows: slice) -> ServerFanCurve:
        if not it_fan_curve:
            return ServerFanCurve()
        return fit_server_fan_curve(it_power[rows], inlet[rows], setpoint_changed[rows])

    def fit_parts(
        rows: slice,
    ) -> tuple[FeatureConfig, QuantileGradientBoostingRegressor, QuantileGradientBoostingRegressor, FloatArray]:
        config = FeatureConfig(
            float(it_power[rows].max()), tower_approach_k, hx_approach_k, tuple(lever_columns), lever_features
        )
        features = build_features(raw[rows], config)
        cooling_model = QuantileGradientBoostingRegressor(**{"monotonic_cst": constraints, **params}).fit(
            features, cooling[rows]
        )
        inlet_model = QuantileGradientBoostingRegressor(**params).fit(features, inlet[rows])
        return config, cooling_model, inlet_model, _fit_overhead(it_power[rows], overhead[rows])

    config, cooling_model, inlet_model, overhead_coef = fit_parts(slice(0, n_train))
    curve = fan_curve(slice(0, n_train))
    held = slice(n_train, n_rows)
    held_features = build_features(raw[held], config)
    it_held = it_power[held]
    cooling_pred = cooling_model.predict(held_features)
    inlet_pred = inlet_model.predict(held_features)
    # the IT power the model predicts at the row's setpoints, from the IT power measured at its inlet
    it_pred = it_held * curve.factor(inlet_pred) / curve.factor(inlet[held])
    c0, c1, c2 = overhead_coef
    facility_pred = it_pred + cooling_pred + c0 + c1 * it_pred + c2 * it_pred**2
    inlet_error_c = inlet_pred - inlet[held]
    facility_error_w = facility_pred - facility[held]
    inlet_rmse_c = float(np.sqrt(np.mean(inlet_error_c**2)))
    facility_rmse_w = float(np.sqrt(np.mean(facility_error_w**2)))
    inlet_spread_c = inlet_model.predict_std(held_features)
    cooling_spread_w = cooling_model.predict_std(held_features)
    inlet_scale = calibrated_std_scale(inlet_error_c, inlet_spread_c, inlet_rmse_c, calibration_coverage)
    cooling_scale = calibrated_std_scale(facility_error_w, cooling_spread_w, facility_rmse_w, calibration_coverage)
    report = ValidationReport(
        n_train=n_train,
        n_holdout=n_rows - n_train,
        pue_mae=float(np.mean(np.abs(facility_pred / it_held - facility[held] / it_held))),
        max_inlet_mae_c=float(np.mean(np.abs(inlet_error_c))),
        cooling_power_mae_w=float(np.mean(np.abs(cooling_pred - cooling[held]))),
        facility_power_mape_percent=float(100.0 * np.mean(np.abs(facility_pred / facility[held] - 1.0))),
        max_inlet_rmse_c=inlet_rmse_c,
        facility_power_rmse_w=facility_rmse_w,
        calibration_coverage=calibration_coverage,
        max_inlet_std_scale=inlet_scale,
        cooling_power_std_scale=cooling_scale,
        max_inlet_within_2std_percent=_within(inlet_error_c, np.hypot(inlet_scale * inlet_spread_c, inlet_rmse_c), 2.0),
        facility_power_within_2std_percent=_within(
            facility_error_w, np.hypot(cooling_scale * cooling_spread_w, facility_rmse_w), 2.0
        ),
    )

    config, cooling_model, inlet_model, overhead_coef = fit_parts(slice(0, n_rows))
    curve = fan_curve(slice(0, n_rows))
    conditions = raw[:, : len(CONDITION_COLUMNS)]
    support = SetpointSupport.from_samples(
        raw[:, 3], raw[:, 4], raw[:, 5] > 0.5, cell_k=support_cell_k, margin_k=support_margin_k
    )
    version = _content_hash(
        raw,
        cooling,
        facility,
        inlet,
        settings=f"{params}|{holdout_fraction}|{tower_approach_k}|{hx_approach_k}|{calibration_coverage}|"
        f"{it_fan_curve}|{constraints}"
        + (f"|{tuple(lever_columns)}|{tuple(lever_steps)}|{lever_features}" if lever_columns else ""),
    )
    return CoolingModel(
        feature_config=config,
        cooling_regressor=cooling_model,
        inlet_regressor=inlet_model,
        overhead_coef=overhead_coef,
        support=support,
        condition_min=conditions.min(axis=0),
        condition_max=conditions.max(axis=0),
        validation=report,
        version=version,
        it_fan_knee_c=curve.knee_c,
        it_fan_coef=np.asarray(curve.coef, dtype=float),
        monotone=monotone,
        lever_columns=tuple(lever_columns),
        lever_support=LeverSupport.from_samples(raw[:, 6:], lever_steps) if lever_columns else None,
    )
