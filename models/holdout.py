"""Champion/challenger: score two cooling models on the same recent rows, and decide whether to swap.

A retrained model (the challenger) replaces the model in use (the champion) only if it predicts the
rows neither model was fitted on at least as well: both are scored on the same hold-out rows with
the same metrics, facility power mean absolute error (the decision), its coefficient of variation of
the RMSE (ASHRAE Guideline 14's CV(RMSE), reported) and the hottest-inlet mean absolute error (a
guard: a challenger better on power but worse on the inlet, the safety constraint, is refused).
Ties keep the champion.

Pure: numpy only, no I/O.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["HoldoutScore", "SwapDecision", "decide_swap", "score_on_holdout"]


class _Prediction(Protocol):
    @property
    def facility_power_w(self) -> NDArray[np.float64]: ...
    @property
    def max_inlet_c(self) -> NDArray[np.float64]: ...


class _Model(Protocol):
    def predict(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> _Prediction: ...


@dataclass(frozen=True)
class HoldoutScore:
    """Errors of one model on hold-out rows.

    Attributes
    ----------
    n_rows : int
        Rows scored.
    facility_power_mae_w : float
        Mean absolute error of facility power [W].
    facility_power_cv_rmse_percent : float
        RMSE of facility power over its measured mean [%] (ASHRAE Guideline 14 CV(RMSE)).
    max_inlet_mae_c : float
        Mean absolute error of the hottest rack inlet [K].
    """

    n_rows: int
    facility_power_mae_w: float
    facility_power_cv_rmse_percent: float
    max_inlet_mae_c: float

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for JSON."""
        return dict(self.__dict__)


@dataclass(frozen=True)
class SwapDecision:
    """Whether the challenger replaces the champion, and why."""

    swap: bool
    reason: str


def score_on_holdout(
    model: _Model, inputs: ArrayLike, facility_power_w: ArrayLike, max_inlet_c: ArrayLike
) -> HoldoutScore:
    """Score ``model`` on hold-out rows.

    Parameters
    ----------
    model : CoolingModel
        Anything with ``predict(inputs, facility_uncertainty=False)``.
    inputs : array_like, shape (n_rows, 6)
        Model inputs (:data:`models.features.INPUT_COLUMNS` order).
    facility_power_w, max_inlet_c : array_like, shape (n_rows,)
        Measured facility power [W] and hottest inlet [C].

    Returns
    -------
    HoldoutScore

    Raises
    ------
    ValueError
        No rows, or rows and measurements of different lengths.
    """
    raw = np.asarray(inputs, dtype=float)
    facility = np.asarray(facility_power_w, dtype=float)
    inlet = np.asarray(max_inlet_c, dtype=float)
    if raw.ndim != 2 or raw.shape[0] == 0:
        raise ValueError("no hold-out rows to score")
    if facility.shape != (raw.shape[0],) or inlet.shape != (raw.shape[0],):
        raise ValueError("hold-out inputs and measurements differ in length")
    prediction = model.predict(raw, facility_uncertainty=False)
    error_w = np.asarray(prediction.facility_power_w, dtype=float) - facility
    return HoldoutScore(
        n_rows=int(raw.shape[0]),
        facility_power_mae_w=float(np.mean(np.abs(error_w))),
        facility_power_cv_rmse_percent=float(100.0 * np.sqrt(np.mean(error_w**2)) / np.mean(facility)),
        max_inlet_mae_c=float(np.mean(np.abs(np.asarray(prediction.max_inlet_c, dtype=float) - inlet))),
    )


def decide_swap(champion: HoldoutScore, challenger: HoldoutScore, inlet_tolerance_c: float = 0.0) -> SwapDecision:
    """Swap only if the challenger's facility power MAE is strictly lower and its inlet MAE not worse.

    Parameters
    ----------
    champion, challenger : HoldoutScore
        Scores on the same rows.
    inlet_tolerance_c : float
        How much worse the challenger's hottest-inlet MAE may be [K], >= 0.

    Returns
    -------
    SwapDecision
    """
    if champion.n_rows != challenger.n_rows:
        raise ValueError("champion and challenger must be scored on the same rows")
    if inlet_tolerance_c < 0:
        raise ValueError("inlet_tolerance_c must be >= 0")
    power = (
        f"facility power MAE {challenger.facility_power_mae_w:.0f} W (CV(RMSE) "
        f"{challenger.facility_power_cv_rmse_percent:.2f} %) against the current model's "
        f"{champion.facility_power_mae_w:.0f} W ({champion.facility_power_cv_rmse_percent:.2f} %)"
    )
    inlet = (
        f"hottest-inlet MAE {challenger.max_inlet_mae_c:.3f} K against {champion.max_inlet_mae_c:.3f} K"
        f" (tolerance {inlet_tolerance_c:g} K)"
    )
    rows = f"on {challenger.n_rows} hold-out rows"
    if not challenger.facility_power_mae_w < champion.facility_power_mae_w:
        what = "ties" if challenger.facility_power_mae_w == champion.facility_power_mae_w else "is worse"
        return SwapDecision(False, f"kept the current model: the retrained one {what}: {power} {rows}")
    if challenger.max_inlet_mae_c > champion.max_inlet_mae_c + inlet_tolerance_c:
        return SwapDecision(
            False,
            f"kept the current model: the retrained one predicts the hottest inlet worse: {inlet}; {power} {rows}",
        )
    return SwapDecision(True, f"swapped in the retrained model: {power}; {inlet} {rows}")
