"""Realised savings of a setpoint change: what it saved, measured, weather- and load-normalised by the model.

After a change from setpoints S0 to S1, the plant's facility power is measured at S1 only; what it
would have drawn at S0 under the same weather and IT load is the model's prediction at S0 for the
conditions measured after the change. Any persistent model bias is removed with the samples before
the change, when the plant ran S0 (a difference in differences):

    residual(t)  = predicted(S0 | conditions at t) - measured(t)
    realised     = mean of residual after the change - mean of residual before it
    predicted    = mean over the samples after of predicted(S0 | conditions) - predicted(S1 | conditions)

Both are [W], averages over the samples after the change has settled. The uncertainty (one standard
deviation) comes from the model's calibrated standard deviation of a prediction (its hold-out RMSE
floor included) and the number of independent samples each mean rests on: samples closer than the
model's training resolution (15 min) are not independent, so each window counts at most one sample
per ``resolution_s``::

    std = rms(calibrated std after) x sqrt(1 / n_after + 1 / n_before)

With no samples before the change, the bias is not removed and the standard deviation is the
calibrated one, undivided (one prediction's error does not average away).

Pure: numpy only, no I/O.
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = ["RESOLUTION_S", "RealisedSaving", "is_poor", "realised_saving"]

#: The model's training resolution [s]: samples closer than this count as one.
RESOLUTION_S = 900.0


class _Prediction(Protocol):
    @property
    def facility_power_w(self) -> NDArray[np.float64]: ...
    @property
    def facility_power_std_w(self) -> NDArray[np.float64]: ...


class _Model(Protocol):
    def predict(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> _Prediction: ...


@dataclass(frozen=True)
class RealisedSaving:
    """One change's measured saving against its prediction, over the same samples.

    Attributes
    ----------
    realised_w : float
        Facility power saved, measured and normalised [W] (negative: the change cost power).
    predicted_w : float
        The model's saving for the same conditions [W].
    std_w : float
        One standard deviation of ``realised_w`` [W].
    n_after, n_before : int
        Samples after the change settled and before it.
    n_eff_after, n_eff_before : float
        The independent samples they count as.
    duration_s : float
        Time the samples after the change span (at least one sample's worth) [s].
    """

    realised_w: float
    predicted_w: float
    std_w: float
    n_after: int
    n_before: int
    n_eff_after: float
    n_eff_before: float
    duration_s: float

    @property
    def energy_kwh(self) -> float:
        """Energy saved over the measured span [kWh]."""
        return self.realised_w * self.duration_s / 3.6e6

    @property
    def predicted_energy_kwh(self) -> float:
        """Energy the model predicted for the measured span [kWh]."""
        return self.predicted_w * self.duration_s / 3.6e6

    def as_dict(self) -> dict[str, float | int]:
        """Plain dict for JSON."""
        return {**self.__dict__, "energy_kwh": self.energy_kwh, "predicted_energy_kwh": self.predicted_energy_kwh}


def _effective(times_s: NDArray[np.float64], resolution_s: float) -> float:
    """Samples that count as independent: at most one per ``resolution_s`` of span."""
    if times_s.size == 0:
        return 0.0
    return float(min(times_s.size, max(1.0, _span(times_s) / resolution_s)))


def _span(times_s: NDArray[np.float64]) -> float:
    if times_s.size < 2:
        return RESOLUTION_S
    step = float(np.median(np.diff(np.sort(times_s))))
    return float(times_s.max() - times_s.min()) + step


def realised_saving(
    model: _Model,
    old_setpoints: tuple[float, ...],
    new_setpoints: tuple[float, ...],
    after_times_s: ArrayLike,
    after_conditions: ArrayLike,
    after_measured_w: ArrayLike,
    before_times_s: ArrayLike = (),
    before_conditions: ArrayLike = (),
    before_measured_w: ArrayLike = (),
    resolution_s: float = RESOLUTION_S,
) -> RealisedSaving:
    """The realised and predicted saving of a change from ``old_setpoints`` to ``new_setpoints``.

    Parameters
    ----------
    model : CoolingModel
        Anything with ``predict`` returning ``facility_power_w`` and ``facility_power_std_w``.
    old_setpoints, new_setpoints : tuple
        (supply air [C], chilled water [C], economizer enabled), then the values of the model's levers
        (``lever_columns``, models/levers.py) in its order where it has them; both of the same length.
    after_times_s : array_like, shape (n,)
        Times of the samples after the change settled [s].
    after_conditions : array_like, shape (n, 3)
        IT power [W], outdoor dry-bulb and wet-bulb [C] at those samples.
    after_measured_w : array_like, shape (n,)
        Measured facility power [W] (the plant at the new setpoints).
    before_times_s, before_conditions, before_measured_w : array_like
        The same for samples before the change (the plant at the old setpoints); may be empty.
    resolution_s : float
        Samples closer than this count as one [s].

    Returns
    -------
    RealisedSaving

    Raises
    ------
    ValueError
        No samples after the change, arrays of different lengths, or setpoint tuples of different lengths.
    """
    t_after = np.asarray(after_times_s, dtype=float).reshape(-1)
    c_after = np.asarray(after_conditions, dtype=float).reshape(-1, 3)
    m_after = np.asarray(after_measured_w, dtype=float).reshape(-1)
    if t_after.size == 0:
        raise ValueError("no samples after the change")
    if not (c_after.shape[0] == m_after.size == t_after.size):
        raise ValueError("samples after the change: times, conditions and measurements differ in length")
    t_before = np.asarray(before_times_s, dtype=float).reshape(-1)
    c_before = np.asarray(before_conditions, dtype=float).reshape(-1, 3)
    m_before = np.asarray(before_measured_w, dtype=float).reshape(-1)
    if not (c_before.shape[0] == m_before.size == t_before.size):
        raise ValueError("samples before the change: times, conditions and measurements differ in length")

    if len(old_setpoints) != len(new_setpoints) or len(old_setpoints) < 3:
        raise ValueError("old and new setpoints: supply air, chilled water, economizer and the same levers")

    def rows(conditions: NDArray[np.float64], setpoints: tuple[float, ...]) -> NDArray[np.float64]:
        supply, chw, economizer, *levers = setpoints
        values = [supply, chw, 1.0 if economizer else 0.0, *levers]
        tail = np.broadcast_to(np.asarray(values, dtype=float), (conditions.shape[0], len(values)))
        return np.column_stack((conditions, tail))

    old_after = model.predict(rows(c_after, old_setpoints))
    new_after = model.predict(rows(c_after, new_setpoints), facility_uncertainty=False)
    residual_after = np.asarray(old_after.facility_power_w, dtype=float) - m_after
    std_rms = float(np.sqrt(np.mean(np.asarray(old_after.facility_power_std_w, dtype=float) ** 2)))
    n_eff_after = _effective(t_after, resolution_s)
    if t_before.size:
        old_before = model.predict(rows(c_before, old_setpoints), facility_uncertainty=False)
        bias_w = float(np.mean(np.asarray(old_before.facility_power_w, dtype=float) - m_before))
        n_eff_before = _effective(t_before, resolution_s)
        std_w = std_rms * math.sqrt(1.0 / n_eff_after + 1.0 / n_eff_before)
    else:
        bias_w, n_eff_before, std_w = 0.0, 0.0, std_rms
    predicted = np.asarray(old_after.facility_power_w, dtype=float) - np.asarray(
        new_after.facility_power_w, dtype=float
    )
    return RealisedSaving(
        realised_w=float(np.mean(residual_after)) - bias_w,
        predicted_w=float(np.mean(predicted)),
        std_w=std_w,
        n_after=int(t_after.size),
        n_before=int(t_before.size),
        n_eff_after=n_eff_after,
        n_eff_before=n_eff_before,
        duration_s=_span(t_after),
    )


def is_poor(saving: RealisedSaving, k: float = 2.0) -> bool:
    """Whether the change realised less than predicted by more than ``k`` standard deviations."""
    return saving.realised_w < saving.predicted_w - k * saving.std_w
