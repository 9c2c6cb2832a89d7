"""Guards of a measurement-and-verification baseline: range check and ASHRAE Guideline 14 acceptance (pure).

:func:`range_check` gives the share of reporting days whose independent variables lie outside the
baseline's, per variable and jointly (by leverage: a point inside every range can still lie outside
the region the baseline covers); :func:`gl14_acceptance` gives NMBE, CV(RMSE) and the fractional
savings uncertainty against the Guideline's limits.

References
----------
ASHRAE Guideline 14-2014, Measurement of Energy, Demand, and Water Savings: NMBE and CV(RMSE) with
n - p in the denominator; calibration limits (monthly data: NMBE within +-5 %, CV(RMSE) <= 15 %;
hourly data: +-10 %, 30 %); savings uncertainty below 50 % of the savings at 68 % confidence.
EVO, IPMVP Core Concepts 2022: a baseline model is valid within the range of its independent variables.
Montgomery, Peck, Vining, Introduction to Linear Regression Analysis, 5th ed., section 3.8: hidden
extrapolation, a point beyond the largest leverage of the data.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike

from models.mv import BaselineFit, Savings

__all__ = [
    "GL14_FSU_CONFIDENCE",
    "GL14_FSU_LIMIT",
    "GL14_LIMITS",
    "Gl14Acceptance",
    "RangeCheck",
    "gl14_acceptance",
    "range_check",
]

#: ASHRAE Guideline 14-2014 calibration limits by data resolution: (|NMBE| max [%], CV(RMSE) max [%]).
GL14_LIMITS: dict[str, tuple[float, float]] = {"monthly": (5.0, 15.0), "hourly": (10.0, 30.0)}
#: ASHRAE Guideline 14-2014: the savings uncertainty must be below this share of the savings ...
GL14_FSU_LIMIT = 0.50
#: ... at this confidence.
GL14_FSU_CONFIDENCE = 0.68


@dataclass(frozen=True)
class RangeCheck:
    """How far the reporting period's conditions lie outside the baseline's.

    ``outside_share[i]``: share of reporting days with variable ``names[i]`` outside the baseline's
    [min, max]; ``joint_outside_share``: share outside any range or beyond the baseline's largest
    leverage (outside the joint region even with every variable in range) [-].
    """

    names: tuple[str, ...]
    baseline_min: tuple[float, ...]
    baseline_max: tuple[float, ...]
    outside_share: tuple[float, ...]
    joint_outside_share: float
    days: int

    def exceeds(self, max_share: float) -> bool:
        return self.joint_outside_share > max_share


def range_check(baseline: ArrayLike, reporting: ArrayLike, names: Sequence[str]) -> RangeCheck:
    """Share of reporting points whose independent variables lie outside the baseline's, per variable and jointly.

    Parameters
    ----------
    baseline : the baseline's variables, shape (n, k)
    reporting : the reporting period's, shape (m, k)
    names : the k variable names

    References
    ----------
    Montgomery, Peck, Vining (5th ed.), 3.8: a point with leverage x0' (X'X)^-1 x0 above the data's
    largest is an extrapolation even when each variable is within its range.
    """
    xb = np.asarray(baseline, dtype=float).reshape(-1, len(names))
    xr = np.asarray(reporting, dtype=float).reshape(-1, len(names))
    lo, hi = xb.min(axis=0), xb.max(axis=0)
    slack = 1e-9 * np.maximum(np.abs(hi - lo), 1.0)
    outside = (xr < lo - slack) | (xr > hi + slack)
    design_b = np.column_stack([np.ones(xb.shape[0]), xb])
    design_r = np.column_stack([np.ones(xr.shape[0]), xr])
    inverse = np.linalg.pinv(design_b.T @ design_b)
    leverage_b = np.einsum("ij,jk,ik->i", design_b, inverse, design_b)
    leverage_r = np.einsum("ij,jk,ik->i", design_r, inverse, design_r)
    beyond = leverage_r > float(leverage_b.max()) * (1.0 + 1e-9)
    m = max(xr.shape[0], 1)
    return RangeCheck(
        names=tuple(names),
        baseline_min=tuple(float(v) for v in lo),
        baseline_max=tuple(float(v) for v in hi),
        outside_share=tuple(float(v) for v in outside.sum(axis=0) / m),
        joint_outside_share=float((outside.any(axis=1) | beyond).sum() / m),
        days=xr.shape[0],
    )


@dataclass(frozen=True)
class Gl14Acceptance:
    """ASHRAE Guideline 14 figures of a baseline and its saving, with the limits they are judged by.

    ``nmbe`` and ``cv_rmse`` [-] of the baseline fit at ``resolution`` judged against ``GL14_LIMITS``;
    ``fsu`` the fractional savings uncertainty at the report's confidence, ``fsu_68`` at 68 %, judged
    against ``GL14_FSU_LIMIT`` (None when the saving is zero).
    """

    nmbe: float
    cv_rmse: float
    resolution: str
    nmbe_limit: float
    cv_rmse_limit: float
    fsu: float | None
    fsu_68: float | None
    confidence: float

    @property
    def model_passes(self) -> bool:
        return abs(self.nmbe) <= self.nmbe_limit and self.cv_rmse <= self.cv_rmse_limit

    @property
    def fsu_passes(self) -> bool:
        return self.fsu_68 is not None and self.fsu_68 < GL14_FSU_LIMIT


def gl14_acceptance(fit: BaselineFit, savings: Savings, resolution: str = "hourly") -> Gl14Acceptance:
    """NMBE, CV(RMSE) and FSU against ASHRAE Guideline 14-2014's limits.

    Daily models are judged against the ``hourly`` limits (the Guideline states limits for monthly and
    hourly data only; a daily model is finer than monthly, so the looser hourly pair is the applicable one).

    References
    ----------
    ASHRAE Guideline 14-2014: NMBE = sum(y - y_hat) / ((n - p) y_bar), CV(RMSE) = sqrt(sum(y - y_hat)^2 /
    (n - p)) / y_bar; FSU = U / savings, limit 50 % at 68 % confidence.
    """
    nmbe_limit, cv_limit = GL14_LIMITS[resolution]
    saved = abs(savings.saved_kwh)
    return Gl14Acceptance(
        nmbe=fit.nmbe_,
        cv_rmse=fit.cv_rmse_,
        resolution=resolution,
        nmbe_limit=nmbe_limit / 100.0,
        cv_rmse_limit=cv_limit / 100.0,
        fsu=savings.uncertainty_kwh / saved if saved > 0 else None,
        fsu_68=savings.uncertainty_at(GL14_FSU_CONFIDENCE) / saved if saved > 0 else None,
        confidence=savings.confidence,
    )
