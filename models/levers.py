"""Optional plant levers beyond the three base setpoints: where a site has them, the model learns them and the
optimiser chooses them.

A lever is one more writable setpoint a site may have (:data:`LEVER_NAMES`): CRAH minimum fan speed,
condenser-water supply setpoint (tower approach), chilled-water pump differential-pressure setpoint, number
of chillers and of towers running. A site lists the ones it has; its history then carries one column per
lever, appended after :data:`models.features.INPUT_COLUMNS` in the site's order, and the model sees them as
extra features. A site without levers runs exactly as before: no extra column, feature or candidate.

Support: the optimiser only proposes lever combinations seen in the training data
(:class:`LeverSupport`, values rounded to each lever's step), inside the configured bounds and within each
lever's rate limit of the current value, the same rules as for the base setpoints.

Search (:func:`optimise_with_levers`): block-coordinate, so a lever adds candidates, not a product of grids:
the base setpoints are optimised at the current levers (:func:`models.optimiser.optimise_setpoints`,
unchanged), then every allowed lever combination is scored at those setpoints, then the base setpoints are
optimised again at the best combination; the better of the two rounds wins. Each round is the optimiser's own
search of a model whose lever columns are fixed (:class:`FixedLevers`).

Pure: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from numpy.typing import ArrayLike, NDArray

from models.optimiser import (
    OptimiserChoice,
    PlantModel,
    PlantPredictionLike,
    SetpointBounds,
    SetpointSupport,
    optimise_setpoints,
)

__all__ = [
    "LEVER_NAMES",
    "FixedLevers",
    "LeverChoice",
    "LeverSpec",
    "LeverSupport",
    "lever_box",
    "optimise_with_levers",
]

#: Levers a site may have, by history column name (units in the name; ratios 0-1, counts as numbers).
LEVER_NAMES: tuple[str, ...] = (
    "fan_min_speed_ratio",
    "condenser_water_setpoint_c",
    "chw_pump_dp_setpoint_pa",
    "chillers_running",
    "towers_running",
)

#: Resolution the model's support rounds each lever to when the site gives none (ratio, K, Pa, count).
DEFAULT_LEVER_STEPS: dict[str, float] = {
    "fan_min_speed_ratio": 0.05,
    "condenser_water_setpoint_c": 0.5,
    "chw_pump_dp_setpoint_pa": 5.0e3,
    "chillers_running": 1.0,
    "towers_running": 1.0,
}


@dataclass(frozen=True)
class LeverSpec:
    """One lever: its history column, bounds, step and the largest change per recommendation.

    Parameters
    ----------
    name : str
        One of :data:`LEVER_NAMES`.
    min_value, max_value : float
        Bounds (in the column's unit).
    step : float
        Resolution: values are rounded to multiples of it.
    max_step : float
        Largest change from the current value in one recommendation.
    """

    name: str
    min_value: float
    max_value: float
    step: float
    max_step: float

    def __post_init__(self) -> None:
        if self.name not in LEVER_NAMES:
            raise ValueError(f"unknown lever {self.name!r}; known: {', '.join(LEVER_NAMES)}")
        values = (self.min_value, self.max_value, self.step, self.max_step)
        if not all(math.isfinite(v) for v in values) or self.min_value > self.max_value:
            raise ValueError(f"lever {self.name}: finite bounds with min <= max needed")
        if not (self.step > 0 and self.max_step > 0):
            raise ValueError(f"lever {self.name}: step and max_step must be > 0")


class LeverSupport:
    """Lever combinations the training data covered (each value rounded to its lever's step).

    Parameters
    ----------
    steps : sequence of float
        Step of each lever.
    combos : array_like, shape (k, n_levers)
        Distinct combinations seen.
    """

    def __init__(self, steps: ArrayLike, combos: ArrayLike) -> None:
        self.steps = np.asarray(steps, dtype=float)
        self.combos = np.asarray(combos, dtype=float).reshape(-1, self.steps.size)

    @classmethod
    def from_samples(cls, values: ArrayLike, steps: Sequence[float]) -> LeverSupport:
        """Support of training rows ``values`` (shape (n_rows, n_levers))."""
        step = np.asarray(steps, dtype=float)
        v = np.asarray(values, dtype=float).reshape(-1, step.size)
        v = v[np.all(np.isfinite(v), axis=1)]
        rounded = np.round(np.round(v / step) * step, 9)
        return cls(step, np.unique(rounded, axis=0))

    def contains(self, levers: ArrayLike) -> NDArray[np.bool_]:
        """Whether each row of ``levers`` (shape (n, n_levers)) is a seen combination."""
        rows = np.round(
            np.round(np.asarray(levers, dtype=float).reshape(-1, self.steps.size) / self.steps) * self.steps, 9
        )
        return np.asarray([bool(np.any(np.all(np.abs(self.combos - r) < 1e-6, axis=1))) for r in rows], dtype=bool)

    def candidates(self, low: ArrayLike, high: ArrayLike) -> NDArray[np.float64]:
        """Seen combinations with every lever inside ``[low, high]`` (per lever), shape (m, n_levers)."""
        lo = np.asarray(low, dtype=float) - 1e-9
        hi = np.asarray(high, dtype=float) + 1e-9
        keep = np.all((self.combos >= lo) & (self.combos <= hi), axis=1)
        return np.asarray(self.combos[keep], dtype=np.float64)


class FixedLevers:
    """A lever model seen by the base optimiser: its lever columns fixed at ``levers``."""

    def __init__(self, model: PlantModel, levers: ArrayLike) -> None:
        self.model = model
        self.levers = np.asarray(levers, dtype=float).ravel()

    @property
    def support(self) -> SetpointSupport:
        return self.model.support

    def predict(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> PlantPredictionLike:
        raw = np.asarray(inputs, dtype=float)
        full = np.column_stack((raw, np.broadcast_to(self.levers, (raw.shape[0], self.levers.size))))
        return self.model.predict(full, facility_uncertainty=facility_uncertainty)


def lever_box(specs: Sequence[LeverSpec], current: Sequence[float] | None) -> tuple[NDArray[np.float64], ...]:
    """Per-lever (low, high): the bounds, narrowed to ``current +- max_step`` when ``current`` is given."""
    low = np.array([s.min_value for s in specs], dtype=float)
    high = np.array([s.max_value for s in specs], dtype=float)
    if current is not None:
        cur = np.asarray(current, dtype=float)
        low = np.maximum(low, cur - np.array([s.max_step for s in specs]))
        high = np.minimum(high, cur + np.array([s.max_step for s in specs]))
    return low, high


@dataclass(frozen=True)
class LeverChoice:
    """The optimiser's choice with the lever values it was predicted at."""

    choice: OptimiserChoice
    levers: tuple[float, ...]


def optimise_with_levers(
    model: PlantModel,
    it_power_w: float,
    outdoor_dry_bulb_c: float,
    outdoor_wet_bulb_c: float,
    bounds: SetpointBounds,
    combos: ArrayLike,
    start_levers: Sequence[float],
    *,
    inlet_limit_c: float = 27.0,
    uncertainty_k: float = 2.0,
    grid_step_k: float = 0.25,
    economizer_states: Sequence[bool] = (False, True),
) -> LeverChoice | None:
    """Base setpoints and levers minimising predicted facility power (block-coordinate search, module doc).

    Parameters
    ----------
    combos : array_like, shape (m, n_levers)
        Allowed lever combinations (in support, bounds and rate limits).
    start_levers : sequence of float
        Levers of the first round (the current ones); used even when not in ``combos`` only if ``combos``
        is empty.

    Other parameters are those of :func:`models.optimiser.optimise_setpoints`.

    Returns
    -------
    LeverChoice or None
        None when no round finds a feasible candidate.
    """
    allowed = np.asarray(combos, dtype=float).reshape(-1, len(start_levers))
    start = np.asarray(start_levers, dtype=float)
    if allowed.size and not np.any(np.all(np.abs(allowed - start) < 1e-6, axis=1)):
        # the current levers are outside the allowed set: start from the nearest allowed combination
        start = allowed[int(np.argmin(np.abs(allowed - start).sum(axis=1)))]
    kwargs = {
        "inlet_limit_c": inlet_limit_c,
        "uncertainty_k": uncertainty_k,
        "grid_step_k": grid_step_k,
        "economizer_states": economizer_states,
    }
    conditions = (it_power_w, outdoor_dry_bulb_c, outdoor_wet_bulb_c)
    first = optimise_setpoints(FixedLevers(model, start), *conditions, bounds, **kwargs)  # type: ignore[arg-type]
    best = None if first is None else LeverChoice(first, tuple(float(v) for v in start))
    if first is None or allowed.shape[0] <= 1:
        return best
    base = np.array(
        [*conditions, first.supply_air_setpoint_c, first.chw_supply_setpoint_c, float(first.economizer_enabled)]
    )
    rows = np.column_stack((np.broadcast_to(base, (allowed.shape[0], base.size)), allowed))
    scan = model.predict(rows, facility_uncertainty=False)
    feasible = scan.max_inlet_c + uncertainty_k * scan.max_inlet_std_c <= inlet_limit_c
    if not feasible.any():
        return best
    levers = allowed[int(np.argmin(np.where(feasible, scan.facility_power_w, np.inf)))]
    if np.allclose(levers, start):
        return best
    second = optimise_setpoints(FixedLevers(model, levers), *conditions, bounds, **kwargs)  # type: ignore[arg-type]
    if second is not None and second.facility_power_w < first.facility_power_w:
        best = LeverChoice(second, tuple(float(v) for v in levers))
    return best
