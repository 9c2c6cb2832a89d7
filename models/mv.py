"""Measurement and verification of savings: a regression baseline (pure).

In the spirit of IPMVP Option C (whole facility): fit the facility's daily energy on the baseline
period against its independent variables (IT energy, cooling degree-days from the outdoor
temperature), use the fit to predict what the facility would have used under the reporting
period's conditions, and report the avoided energy with its uncertainty:

    saving = sum(predicted baseline) - sum(actual)   over the reporting period

The uncertainty combines the scatter of the daily residuals and the uncertainty of the fitted
coefficients (the variance of a sum of OLS predictions), inflated for lag-1 autocorrelation of the
residuals as ASHRAE Guideline 14 does, times Student's t at the chosen confidence.

References
----------
EVO, International Performance Measurement and Verification Protocol (IPMVP), Core Concepts 2022,
Option C and the baseline adjustment equation.
ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings, Annex B (uncertainty,
autocorrelation correction n' = n (1 - rho) / (1 + rho)); change-point degree-day models.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy import stats

__all__ = ["BaselineFit", "Savings", "cooling_degree_days", "fit_baseline", "verified_savings"]


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


@dataclass(frozen=True)
class BaselineFit:
    """An ordinary-least-squares baseline: facility_kwh = X @ coef_.

    Columns of X: intercept [kWh/d], IT energy [kWh/d], then one cooling-degree-day term per base.
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


@dataclass(frozen=True)
class Savings:
    """Avoided energy over the reporting period and its uncertainty at ``confidence``."""

    predicted_kwh: float
    actual_kwh: float
    saved_kwh: float
    uncertainty_kwh: float
    standard_error_kwh: float
    t_value: float
    confidence: float
    days: int

    @property
    def significant(self) -> bool:
        return abs(self.saved_kwh) > self.uncertainty_kwh


def _design(it_kwh: NDArray[np.float64], cdd: NDArray[np.float64]) -> NDArray[np.float64]:
    return np.column_stack([np.ones(it_kwh.size), it_kwh, cdd.reshape(it_kwh.size, -1)])


def fit_baseline(
    facility_kwh: ArrayLike, it_kwh: ArrayLike, cdd: ArrayLike, cdd_names: Sequence[str] = ("cdd",)
) -> BaselineFit:
    """Fit facility energy ~ 1 + IT energy + cooling degree-days on the baseline period.

    Parameters
    ----------
    facility_kwh : facility energy per day [kWh]
    it_kwh : IT energy per day [kWh]
    cdd : cooling degree-days per day, shape (n,) or (n, k) for k balance points [K d]
    cdd_names : names of the degree-day columns

    Returns
    -------
    BaselineFit

    References
    ----------
    ASHRAE Guideline 14-2014, Annex B: CV(RMSE), autocorrelation.
    """
    y = np.asarray(facility_kwh, dtype=float)
    it = np.asarray(it_kwh, dtype=float)
    x = _design(it, np.asarray(cdd, dtype=float))
    n, p = x.shape
    if n <= p + 1:
        raise ValueError(f"a baseline needs more than {p + 1} days, got {n}")
    coef, *_ = np.linalg.lstsq(x, y, rcond=None)
    residuals = y - x @ coef
    dof = n - p
    sigma = math.sqrt(float(residuals @ residuals) / dof)
    rho = float(np.corrcoef(residuals[:-1], residuals[1:])[0, 1]) if n > 3 and residuals.std() > 0 else 0.0
    ss_tot = float(((y - y.mean()) ** 2).sum())
    r2 = 1.0 - float(residuals @ residuals) / ss_tot if ss_tot > 0 else 1.0
    names = ("intercept", "it_kwh", *cdd_names)
    return BaselineFit(
        coef,
        names,
        np.asarray(np.linalg.pinv(x.T @ x), dtype=np.float64),
        sigma,
        n,
        dof,
        0.0 if math.isnan(rho) else rho,
        r2,
        sigma / float(y.mean()),
    )


def verified_savings(
    fit: BaselineFit, facility_kwh: ArrayLike, it_kwh: ArrayLike, cdd: ArrayLike, confidence: float = 0.90
) -> Savings:
    """Avoided energy over a reporting period: predicted baseline minus actual [kWh].

    Parameters
    ----------
    fit : the baseline
    facility_kwh, it_kwh, cdd : the reporting period's daily values, as for :func:`fit_baseline`
    confidence : two-sided confidence of the stated uncertainty [-]

    Returns
    -------
    Savings
        ``uncertainty_kwh`` = t x standard error of (sum predicted - sum actual), where
        var = sigma^2 k (m + 1' Xc (X'X)^-1 Xc' 1), k = (1 + rho) / (1 - rho) for rho > 0.

    References
    ----------
    IPMVP Core Concepts 2022 (avoided energy); ASHRAE Guideline 14-2014, Annex B.
    """
    y = np.asarray(facility_kwh, dtype=float)
    xc = _design(np.asarray(it_kwh, dtype=float), np.asarray(cdd, dtype=float))
    predicted = xc @ fit.coef_
    m = y.size
    rho = min(max(fit.rho_, 0.0), 0.95)
    inflation = (1.0 + rho) / (1.0 - rho)
    column_sum = xc.sum(axis=0)
    variance = fit.sigma_kwh_**2 * inflation * (m + float(column_sum @ fit.xtx_inv_ @ column_sum))
    dof_effective = max(fit.n_ * (1.0 - rho) / (1.0 + rho) - (fit.n_ - fit.dof_), 1.0)
    t_value = float(stats.t.ppf(0.5 + confidence / 2.0, dof_effective))
    se = math.sqrt(variance)
    predicted_kwh = float(predicted.sum())
    actual_kwh = float(y.sum())
    return Savings(predicted_kwh, actual_kwh, predicted_kwh - actual_kwh, t_value * se, se, t_value, confidence, m)
