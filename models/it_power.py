"""IT power's rise with inlet temperature (server fans), learned from the agent's own history.

Servers hold their fan speed up to a knee inlet temperature and speed up above it; fan power goes
with the cube of speed (affinity law) and speed roughly linearly with inlet above the knee, so the
server power multiplier is a cubic in the excess over the knee:

    F(T) = 1 + c1 x + c2 x^2 + c3 x^3,    x = max(T - knee, 0),   c1, c2, c3 >= 0

with ``T`` the hottest rack inlet [C] (the model's inlet target) standing in for the inlets of the
racks whose fans ramp first. :func:`fit_server_fan_curve` estimates the knee and the coefficients
from consecutive history rows whose setpoints changed: across one interval the IT workload changes
little, so the change of log IT power is the change of log F plus noise
(``log IT_t - log IT_{t-1} ~ F(T_t) - F(T_{t-1})``), and restricting to rows where a setpoint moved
makes the inlet change come from the setpoints rather than from the load. Non-negative least squares
keeps F non-decreasing; a curve is kept only when it beats "no effect" by the Bayesian information
criterion, so a site whose fans do not react (or whose history never left the flat part) gets F = 1.

Pure: numpy and scipy, no I/O.

References
----------
ASHRAE TC 9.9, "2011 Thermal Guidelines for Data Processing Environments - Expanded Data Center Classes
and Usage Guidance" (2011), figure "server power increase vs ambient temperature": flat up to about
25 C, rising above it; Dell, "Data Center Operating Temperature: What Does Dell Recommend?" (2009):
fan speed and power rise sharply above about 25 C inlet.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray
from scipy.optimize import nnls

__all__ = ["ServerFanCurve", "fit_server_fan_curve"]

FloatArray = NDArray[np.float64]

#: Knees tried by :func:`fit_server_fan_curve` [C]: vendors ramp fans from about 22 to 27 C inlet.
DEFAULT_KNEES_C: tuple[float, ...] = tuple(float(k) for k in np.arange(20.0, 30.01, 0.5))


@dataclass(frozen=True)
class ServerFanCurve:
    """IT power multiplier from the hottest inlet: ``F(T) = 1 + c1 x + c2 x^2 + c3 x^3``, ``x = max(T - knee, 0)``.

    Attributes
    ----------
    knee_c : float
        Inlet temperature above which IT power rises [C].
    coef : tuple of float
        ``(c1, c2, c3)`` [1/K, 1/K^2, 1/K^3], all >= 0 (zeros: no effect).
    n_pairs : int
        History row pairs the curve was fitted on.
    """

    knee_c: float = 25.0
    coef: tuple[float, float, float] = (0.0, 0.0, 0.0)
    n_pairs: int = 0

    @property
    def flat(self) -> bool:
        """True when the curve has no effect."""
        return not any(self.coef)

    def factor(self, inlet_c: ArrayLike) -> FloatArray:
        """IT power multiplier F(T) >= 1 at hottest inlet ``inlet_c`` [C]; -inf gives 1."""
        x = np.maximum(np.asarray(inlet_c, dtype=float) - self.knee_c, 0.0)
        c1, c2, c3 = self.coef
        return np.asarray(1.0 + x * (c1 + x * (c2 + x * c3)), dtype=float)


def _design(inlet_c: FloatArray, knee_c: float) -> FloatArray:
    x = np.maximum(inlet_c - knee_c, 0.0)
    return np.column_stack((x, x * x, x * x * x))


def fit_server_fan_curve(
    it_power_w: ArrayLike,
    max_inlet_c: ArrayLike,
    setpoint_changed: ArrayLike,
    *,
    knees_c: ArrayLike = DEFAULT_KNEES_C,
) -> ServerFanCurve:
    """Fit the server fan curve on a time-ordered history.

    Parameters
    ----------
    it_power_w : array_like, shape (n,)
        Measured IT power [W], rows one interval apart.
    max_inlet_c : array_like, shape (n,)
        Measured hottest rack inlet [C].
    setpoint_changed : array_like of bool, shape (n,)
        Whether a setpoint differs from the previous row's (row 0 is ignored).
    knees_c : array_like
        Candidate knees [C]; the one with the least squared error is kept.

    Returns
    -------
    ServerFanCurve
        Flat (no effect) when fewer than 30 pairs moved a setpoint or no knee beats "no effect" by BIC.
    """
    it = np.asarray(it_power_w, dtype=float)
    inlet = np.asarray(max_inlet_c, dtype=float)
    changed = np.asarray(setpoint_changed, dtype=bool)
    pair = changed[1:] & (it[1:] > 0) & (it[:-1] > 0) & np.isfinite(inlet[1:]) & np.isfinite(inlet[:-1])
    n_pairs = int(np.count_nonzero(pair))
    if n_pairs < 30:
        return ServerFanCurve(n_pairs=n_pairs)
    y = np.log(it[1:][pair]) - np.log(it[:-1][pair])
    y = y - np.median(y)  # a workload trend over the pairs is not a fan effect
    now, before = inlet[1:][pair], inlet[:-1][pair]
    sse_flat = float(np.sum(y * y))
    best: tuple[float, float, FloatArray] = (sse_flat, 25.0, np.zeros(3))
    for knee in np.asarray(knees_c, dtype=float):
        design = _design(now, float(knee)) - _design(before, float(knee))
        if not np.any(design):
            continue
        coef, _ = nnls(design, y)
        residual = y - design @ coef
        sse = float(residual @ residual)
        if sse < best[0]:
            best = (sse, float(knee), coef)
    sse, knee, coef = best
    n_params = 1 + np.count_nonzero(coef)  # the knee and the non-zero coefficients
    # BIC: n log(SSE/n) + k log n; keep the curve only when it pays for its parameters
    if sse <= 0 or n_pairs * np.log(sse_flat / sse) <= n_params * np.log(n_pairs):
        return ServerFanCurve(n_pairs=n_pairs)
    return ServerFanCurve(knee_c=knee, coef=(float(coef[0]), float(coef[1]), float(coef[2])), n_pairs=n_pairs)
