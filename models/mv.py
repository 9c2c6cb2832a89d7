"""Measurement and verification of savings: a regression baseline with its guards (pure).

In the spirit of IPMVP Option C (whole facility): fit the facility's daily energy on the baseline
period against its independent variables (cooling degree-days from the outdoor temperature, and IT
energy unless it is held static), use the fit to predict what the facility would have used under the
reporting period's conditions, and state the avoided energy with its uncertainty:

    avoided energy = sum(predicted baseline) + non-routine adjustments - sum(actual)

over the reporting period ("avoided energy", reporting-period basis; IPMVP calls a saving under fixed
conditions chosen apart from both periods "normalised savings", which this module does not compute).

The uncertainty combines the scatter of the daily residuals and the uncertainty of the fitted
coefficients (the variance of a sum of OLS predictions), inflated for lag-1 autocorrelation of the
residuals as ASHRAE Guideline 14 does, times Student's t at the chosen confidence. Degrees of freedom
count every parameter the data chose, balance points of the change-point search included.

The guards (range check, ASHRAE Guideline 14 acceptance) are in :mod:`models.mv_acceptance`.

References
----------
EVO, International Performance Measurement and Verification Protocol (IPMVP), Core Concepts 2022:
Option C, the adjustment equation, avoided energy vs normalised savings, non-routine adjustments.
ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings: Annex B (uncertainty,
autocorrelation correction n' = n (1 - rho) / (1 + rho)); NMBE and CV(RMSE) with n - p.
Kissock, Haberl, Claridge, ASHRAE RP-1050 Inverse Modeling Toolkit (2002): change-point models whose
balance point is a fitted parameter (3P, 4P, 5P).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = [
    "CHANGE_POINT_CANDIDATES_C",
    "BaselineFit",
    "ChangePointBaseline",
    "Savings",
    "cooling_degree_days",
    "daily_degree_days",
    "fit_baseline",
    "fit_change_point_baseline",
    "gl14_nmbe_cv_rmse",
    "verified_savings",
]

#: Balance points searched [C]: one base 0-25 C, or two bases (cooling above each) 4 K or more apart.
CHANGE_POINT_CANDIDATES_C: tuple[tuple[float, ...], ...] = tuple(
    [(float(x),) for x in range(0, 26)] + [(float(x), float(y)) for x in range(0, 22, 2) for y in range(x + 4, 26, 2)]
)


def cooling_degree_days(outdoor_c: ArrayLike, hours: ArrayLike, base_c: float) -> float:
    """Cooling degree-days of a set of intervals: sum(max(T - base, 0) x hours) / 24 [K d].

    Parameters
    ----------
    outdoor_c : interval mean outdoor temperature [C]
    hours : interval lengths [h]
    base_c : balance-point temperature [C]
    """
    t = np.asarray(outdoor_c, dtype=float)
    h = np.asarray(hours, dtype=float)
    return float(np.sum(np.maximum(t - base_c, 0.0) * h) / 24.0)


def daily_degree_days(hourly_c: ArrayLike, bases_c: Sequence[float]) -> NDArray[np.float64]:
    """Cooling degree-days per day from hourly temperatures, shape (days, 24) -> (days, len(bases)) [K d]."""
    t = np.asarray(hourly_c, dtype=float).reshape(-1, 24)
    return np.column_stack([np.maximum(t - b, 0.0).sum(axis=1) / 24.0 for b in bases_c]).reshape(t.shape[0], -1)


@dataclass(frozen=True)
class BaselineFit:
    """An ordinary-least-squares baseline: facility_kwh = X @ coef_.

    Columns of X: intercept [kWh/d], IT energy [kWh/d] unless IT is held static, then one
    cooling-degree-day term per base. ``n_params_`` = coefficients + ``selection_params_`` (balance
    points chosen by search); ``dof_`` = n - n_params_. ``nmbe_`` and ``cv_rmse_`` are ASHRAE Guideline 14's
    (n - p in the denominator) [-]. ``x_min_``/``x_max_`` are the regressors' ranges (intercept excluded).
    """

    coef_: NDArray[np.float64]
    feature_names_: tuple[str, ...]
    xtx_inv_: NDArray[np.float64]
    sigma_kwh_: float
    n_: int
    dof_: int
    rho_: float
    r2_: float
    cv_rmse_: float
    nmbe_: float = 0.0
    selection_params_: int = 0
    mean_kwh_: float = 0.0

    @property
    def n_params_(self) -> int:
        return self.n_ - self.dof_

    @property
    def uses_it(self) -> bool:
        return "it_kwh" in self.feature_names_


@dataclass(frozen=True)
class Savings:
    """Avoided energy over the reporting period and its uncertainty at ``confidence``.

    ``saved_kwh`` = ``predicted_kwh`` + ``adjustment_kwh`` - ``actual_kwh`` (the IPMVP adjustment equation).
    """

    predicted_kwh: float
    actual_kwh: float
    saved_kwh: float
    uncertainty_kwh: float
    standard_error_kwh: float
    t_value: float
    confidence: float
    days: int
    adjustment_kwh: float = 0.0
    dof_effective: float = math.inf

    @property
    def significant(self) -> bool:
        return abs(self.saved_kwh) > self.uncertainty_kwh

    def uncertainty_at(self, confidence: float) -> float:
        """The two-sided uncertainty at another confidence, same standard error and degrees of freedom [kWh]."""
        return float(stats.t.ppf(0.5 + confidence / 2.0, self.dof_effective)) * self.standard_error_kwh


def gl14_nmbe_cv_rmse(actual: ArrayLike, predicted: ArrayLike, n_params: int) -> tuple[float, float]:
    """ASHRAE Guideline 14's NMBE and CV(RMSE) of a model over ``n`` points with ``n_params`` parameters [-].

    NMBE = sum(y - y_hat) / ((n - p) y_bar); CV(RMSE) = sqrt(sum((y - y_hat)^2) / (n - p)) / y_bar.

    References
    ----------
    ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings (definitions of NMBE, CV(RMSE)).
    """
    y = np.asarray(actual, dtype=float)
    residuals = y - np.asarray(predicted, dtype=float)
    dof = y.size - n_params
    if dof <= 0:
        raise ValueError(f"NMBE and CV(RMSE) need more points ({y.size}) than parameters ({n_params})")
    mean = float(y.mean())
    return float(residuals.sum()) / (dof * mean), math.sqrt(float(residuals @ residuals) / dof) / mean


def _design(it_kwh: NDArray[np.float64] | None, cdd: NDArray[np.float64]) -> NDArray[np.float64]:
    n = cdd.shape[0]
    columns = [np.ones(n)] + ([] if it_kwh is None else [it_kwh]) + [cdd.reshape(n, -1)]
    return np.column_stack(columns)


def fit_baseline(
    facility_kwh: ArrayLike,
    it_kwh: ArrayLike | None,
    cdd: ArrayLike,
    cdd_names: Sequence[str] = ("cdd",),
    selection_params: int = 0,
) -> BaselineFit:
    """Fit facility energy ~ 1 [+ IT energy] + cooling degree-days on the baseline period.

    Parameters
    ----------
    facility_kwh : facility energy per day [kWh]
    it_kwh : IT energy per day [kWh], or None to hold IT static (no IT term)
    cdd : cooling degree-days per day, shape (n,) or (n, k) for k balance points [K d]
    cdd_names : names of the degree-day columns
    selection_params : parameters chosen by a search outside the fit (balance points), counted in p

    Returns
    -------
    BaselineFit

    References
    ----------
    ASHRAE Guideline 14-2014, Annex B: CV(RMSE), NMBE, autocorrelation.
    """
    y = np.asarray(facility_kwh, dtype=float)
    cdd_arr = np.asarray(cdd, dtype=float).reshape(y.size, -1)
    it = None if it_kwh is None else np.asarray(it_kwh, dtype=float)
    x = _design(it, cdd_arr)
    n, p_coef = x.shape
    p = p_coef + selection_params
    if n <= p + 1:
        raise ValueError(f"a baseline needs more than {p + 1} days, got {n}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coef
    dof = n - p
    ssr = float(residuals @ residuals)
    sigma = math.sqrt(ssr / dof)
    rho = float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1]) if n > 3 and residuals.std() > 0 else 0.0
    ss_tot = float(((y - y.mean()) ** 2).sum())
    mean = float(y.mean())
    nmbe, cv_rmse = gl14_nmbe_cv_rmse(y, x @ coef, p)
    names = ("intercept", *(() if it is None else ("it_kwh",)), *cdd_names)
    return BaselineFit(
        coef_=coef,
        feature_names_=names,
        xtx_inv_=np.asarray(np.linalg.pinv(x.T @ x), dtype=np.float64),
        sigma_kwh_=sigma,
        n_=n,
        dof_=dof,
        rho_=0.0 if math.isnan(rho) else rho,
        r2_=1.0 - ssr / ss_tot if ss_tot > 0 else 1.0,
        cv_rmse_=cv_rmse,
        nmbe_=nmbe,
        selection_params_=selection_params,
        mean_kwh_=mean,
    )


@dataclass(frozen=True)
class ChangePointBaseline:
    """The change-point baseline the search chose: its fit, its balance points, how many models were tried."""

    fit: BaselineFit
    bases_c: tuple[float, ...]
    candidates_tried: int


def fit_change_point_baseline(
    facility_kwh: ArrayLike,
    it_kwh: ArrayLike | None,
    hourly_c: ArrayLike,
    candidates: Sequence[tuple[float, ...]] = CHANGE_POINT_CANDIDATES_C,
    count_selection: bool = True,
) -> ChangePointBaseline:
    """Search the balance points: the candidate with the lowest residual standard error wins.

    Each balance point of the chosen model counts as a parameter (``count_selection``), as in the
    RP-1050 3P/4P/5P models; the residual standard error each candidate is judged by uses those degrees
    of freedom, so a two-point model must earn its extra parameter.

    Parameters
    ----------
    facility_kwh, it_kwh : as for :func:`fit_baseline`
    hourly_c : hourly outdoor temperature per day, shape (days, 24) [C]
    candidates : balance-point sets to try [C]

    Raises
    ------
    ValueError
        no candidate could be fitted (no weather variation above any balance point, too few days).
    """
    y = np.asarray(facility_kwh, dtype=float)
    it = None if it_kwh is None else np.asarray(it_kwh, dtype=float)
    temps = np.asarray(hourly_c, dtype=float).reshape(y.size, 24)
    by_base = {b: daily_degree_days(temps, (b,))[:, 0] for b in sorted({b for bases in candidates for b in bases})}
    best: tuple[float, tuple[float, ...]] | None = None
    tried = 0
    for bases in candidates:
        cdd = np.column_stack([by_base[b] for b in bases])
        if np.any(cdd.sum(axis=0) <= 0):
            continue
        x = _design(it, cdd)
        dof = y.size - x.shape[1] - (len(bases) if count_selection else 0)
        if dof <= 1:
            continue
        coef, *_ = np.linalg.lstsq(x, y, rcond=None)
        residuals = y - x @ coef
        sigma = math.sqrt(float(residuals @ residuals) / dof)
        tried += 1
        if best is None or sigma < best[0]:
            best = (sigma, tuple(float(b) for b in bases))
    if best is None:
        raise ValueError("no cooling degree-day baseline could be fitted (too little weather variation)")
    bases_c = best[1]
    fit = fit_baseline(
        y,
        it,
        np.column_stack([by_base[b] for b in bases_c]),
        [f"cdd_{b:g}c" for b in bases_c],
        selection_params=len(bases_c) if count_selection else 0,
    )
    return ChangePointBaseline(fit, bases_c, tried)


def verified_savings(
    fit: BaselineFit,
    facility_kwh: ArrayLike,
    it_kwh: ArrayLike | None,
    cdd: ArrayLike,
    confidence: float = 0.90,
    adjustment_kwh: float = 0.0,
    adjustment_standard_uncertainty_kwh: float = 0.0,
) -> Savings:
    """Avoided energy over a reporting period: predicted baseline + adjustments - actual [kWh].

    Parameters
    ----------
    fit : the baseline
    facility_kwh, it_kwh, cdd : the reporting period's daily values, as for :func:`fit_baseline`
    confidence : two-sided confidence of the stated uncertainty [-]
    adjustment_kwh : non-routine adjustments added to the adjusted baseline [kWh]
    adjustment_standard_uncertainty_kwh : their standard uncertainty, combined in quadrature [kWh]

    Returns
    -------
    Savings
        ``uncertainty_kwh`` = t x standard error of (sum predicted - sum actual), where
        var = sigma^2 k (m + 1' Xc (X'X)^-1 Xc' 1), k = (1 + rho) / (1 - rho) for rho > 0, and t has
        n' - p degrees of freedom, n' = n (1 - rho) / (1 + rho), p counting the balance points.

    References
    ----------
    IPMVP Core Concepts 2022 (avoided energy); ASHRAE Guideline 14-2014, Annex B.
    """
    y = np.asarray(facility_kwh, dtype=float)
    if fit.uses_it != (it_kwh is not None):
        raise ValueError("the reporting period's IT energy must be given exactly when the baseline uses it")
    xc = _design(None if it_kwh is None else np.asarray(it_kwh, dtype=float), np.asarray(cdd, dtype=float))
    predicted = xc @ fit.coef_
    m = y.size
    rho = min(max(fit.rho_, 0.0), 0.95)
    inflation = (1.0 + rho) / (1.0 - rho)
    column_sum = xc.sum(axis=0)
    variance = fit.sigma_kwh_**2 * inflation * (m + float(column_sum @ fit.xtx_inv_ @ column_sum))
    variance += adjustment_standard_uncertainty_kwh**2
    dof_effective = max(fit.n_ * (1.0 - rho) / (1.0 + rho) - fit.n_params_, 1.0)
    t_value = float(stats.t.ppf(0.5 + confidence / 2.0, dof_effective))
    se = math.sqrt(variance)
    predicted_kwh = float(predicted.sum())
    actual_kwh = float(y.sum())
    return Savings(
        predicted_kwh=predicted_kwh,
        actual_kwh=actual_kwh,
        saved_kwh=predicted_kwh + adjustment_kwh - actual_kwh,
        uncertainty_kwh=t_value * se,
        standard_error_kwh=se,
        t_value=t_value,
        confidence=confidence,
        days=m,
        adjustment_kwh=adjustment_kwh,
        dof_effective=dof_effective,
    )
