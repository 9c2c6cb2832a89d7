"""Setpoint optimiser: least predicted facility power under the inlet limit, bounds and data support.

For given conditions the optimiser evaluates a grid of (supply-air setpoint, chilled-water
setpoint, economizer state) candidates and keeps those that

* lie inside the configured :class:`SetpointBounds`,
* lie inside the :class:`SetpointSupport` (the setpoint region the training data covered, plus a
  small margin): the model is never asked to extrapolate,
* satisfy predicted hottest inlet + ``uncertainty_k`` x its standard deviation <= the limit
  (ASHRAE TC 9.9 recommended 27 C);

and returns the one with the least predicted *total facility* power (never PUE alone: a warmer
hall can lower PUE while raising IT power). The model's facility power includes the IT power at the
candidate's setpoints (:class:`models.cooling.CoolingModel` scales the measured IT power by a learned
server fan curve of the predicted hottest inlet), so the search sees what warm supply air costs in
server fans. Pure: numpy only.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Protocol

import numpy as np
from numpy.typing import ArrayLike, NDArray

__all__ = [
    "OptimiserChoice",
    "PlantModel",
    "SetpointBounds",
    "SetpointSupport",
    "candidate_grid",
    "optimise_setpoints",
]

FloatArray = NDArray[np.float64]

_KEY_STRIDE = 1 << 20


@dataclass(frozen=True)
class SetpointBounds:
    """Ranges the optimiser may choose from [C] (defaults: the twin's :class:`ControlBounds`).

    Supply air 16-25 C (CRAH controllers), chilled-water supply 5-18 C (chillers' leaving-water
    range, raised for free cooling); ``allow_economizer`` False pins the economizer off.
    """

    supply_air_min_c: float = 16.0
    supply_air_max_c: float = 25.0
    chw_supply_min_c: float = 5.0
    chw_supply_max_c: float = 18.0
    allow_economizer: bool = True

    def __post_init__(self) -> None:
        values = (self.supply_air_min_c, self.supply_air_max_c, self.chw_supply_min_c, self.chw_supply_max_c)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("setpoint bounds must be finite")
        if self.supply_air_min_c > self.supply_air_max_c:
            raise ValueError("supply_air_min_c > supply_air_max_c")
        if self.chw_supply_min_c > self.chw_supply_max_c:
            raise ValueError("chw_supply_min_c > chw_supply_max_c")

    def contains(self, supply_air_c: ArrayLike, chw_supply_c: ArrayLike) -> NDArray[np.bool_]:
        """Whether setpoints lie inside the bounds (tolerance 1e-9 K)."""
        supply = np.asarray(supply_air_c, dtype=float)
        chw = np.asarray(chw_supply_c, dtype=float)
        eps = 1e-9
        return np.asarray(
            (supply >= self.supply_air_min_c - eps)
            & (supply <= self.supply_air_max_c + eps)
            & (chw >= self.chw_supply_min_c - eps)
            & (chw <= self.chw_supply_max_c + eps)
        )


class SetpointSupport:
    """Setpoint region covered by training data: occupied grid cells, dilated by a margin.

    A point is in the support when its (supply, chilled-water) cell of side ``cell_k``, for its
    economizer state, lies within ``ceil(margin_k / cell_k)`` cells of a cell holding a training
    sample, and each setpoint lies within ``margin_k`` of the samples' range; so it is at most
    :attr:`max_distance_k` (Chebyshev) from some training sample. Tree models are flat beyond
    their data, so a margin is extrapolation: keep it small (default 0 in the model fit).

    Parameters
    ----------
    cell_k : float
        Cell side [K].
    margin_k : float
        Allowed distance beyond occupied cells [K].
    occupied : dict
        ``{economizer_state: sorted int keys}`` of dilated occupied cells (use :meth:`from_samples`).
    """

    def __init__(
        self,
        cell_k: float,
        margin_k: float,
        occupied: dict[bool, Sequence[int]],
        ranges: dict[bool, Sequence[float]] | None = None,
    ) -> None:
        if not cell_k > 0 or margin_k < 0:
            raise ValueError("cell_k must be > 0 and margin_k >= 0")
        self.cell_k = float(cell_k)
        self.margin_k = float(margin_k)
        self.occupied = {bool(k): np.unique(np.asarray(v, dtype=np.int64)) for k, v in occupied.items()}
        #: per state (supply min, supply max, chw min, chw max) of the samples [C]
        self.ranges = {bool(k): tuple(float(x) for x in v) for k, v in (ranges or {}).items()}

    @property
    def dilation_cells(self) -> int:
        """Cells added around each occupied cell."""
        return math.ceil(self.margin_k / self.cell_k - 1e-9)

    @property
    def max_distance_k(self) -> float:
        """Largest Chebyshev distance from a supported point to a training sample [K]."""
        return (self.dilation_cells + 1) * self.cell_k

    def _keys(self, supply_air_c: FloatArray, chw_supply_c: FloatArray) -> NDArray[np.int64]:
        i = np.floor(supply_air_c / self.cell_k + 1e-9).astype(np.int64)
        j = np.floor(chw_supply_c / self.cell_k + 1e-9).astype(np.int64)
        return np.asarray(i * _KEY_STRIDE + j, dtype=np.int64)

    @classmethod
    def from_samples(
        cls,
        supply_air_c: ArrayLike,
        chw_supply_c: ArrayLike,
        economizer_enabled: ArrayLike,
        cell_k: float = 0.5,
        margin_k: float = 0.5,
    ) -> SetpointSupport:
        """Support of training samples.

        Parameters
        ----------
        supply_air_c, chw_supply_c : array_like
            Setpoints of the training rows [C].
        economizer_enabled : array_like of bool
            Economizer state of the training rows.
        cell_k, margin_k : float
            Cell side and margin [K].
        """
        support = cls(cell_k, margin_k, {})
        supply = np.asarray(supply_air_c, dtype=float)
        chw = np.asarray(chw_supply_c, dtype=float)
        economizer = np.asarray(economizer_enabled, dtype=bool)
        r = support.dilation_cells
        offsets = [(di, dj) for di in range(-r, r + 1) for dj in range(-r, r + 1)]
        occupied: dict[bool, Sequence[int]] = {}
        ranges: dict[bool, Sequence[float]] = {}
        for state in (False, True):
            rows = economizer == state
            if not rows.any():
                continue
            ranges[state] = (supply[rows].min(), supply[rows].max(), chw[rows].min(), chw[rows].max())
            base = np.unique(support._keys(supply[rows], chw[rows]))
            occupied[state] = np.unique(np.concatenate([base + di * _KEY_STRIDE + dj for di, dj in offsets])).tolist()
        return cls(cell_k, margin_k, occupied, ranges)

    def contains(
        self, supply_air_c: ArrayLike, chw_supply_c: ArrayLike, economizer_enabled: ArrayLike
    ) -> NDArray[np.bool_]:
        """Whether each setpoint combination lies in the support."""
        supply = np.atleast_1d(np.asarray(supply_air_c, dtype=float))
        chw = np.atleast_1d(np.asarray(chw_supply_c, dtype=float))
        economizer = np.broadcast_to(np.asarray(economizer_enabled, dtype=bool), supply.shape)
        keys = self._keys(supply, chw)
        inside = np.zeros(supply.shape, dtype=bool)
        m = self.margin_k + 1e-9
        for state, cells in self.occupied.items():
            rows = economizer == state
            inside[rows] = np.isin(keys[rows], cells)
            if state in self.ranges:
                s_lo, s_hi, c_lo, c_hi = self.ranges[state]
                inside[rows] &= (supply[rows] >= s_lo - m) & (supply[rows] <= s_hi + m)
                inside[rows] &= (chw[rows] >= c_lo - m) & (chw[rows] <= c_hi + m)
        return inside

    def economizer_states(self) -> tuple[bool, ...]:
        """Economizer states seen in training."""
        return tuple(sorted(self.occupied))


class PlantPredictionLike(Protocol):
    """Per-row predictions the optimiser reads ([W], [C], [-])."""

    @property
    def facility_power_w(self) -> FloatArray: ...
    @property
    def facility_power_std_w(self) -> FloatArray: ...
    @property
    def max_inlet_c(self) -> FloatArray: ...
    @property
    def max_inlet_std_c(self) -> FloatArray: ...
    @property
    def pue(self) -> FloatArray: ...


class PlantModel(Protocol):
    """What the optimiser needs from a plant model (e.g. :class:`models.cooling.CoolingModel`)."""

    @property
    def support(self) -> SetpointSupport: ...

    def predict(self, inputs: ArrayLike, facility_uncertainty: bool = True) -> PlantPredictionLike: ...


@dataclass(frozen=True)
class OptimiserChoice:
    """The chosen setpoints and the model's prediction for them."""

    supply_air_setpoint_c: float
    chw_supply_setpoint_c: float
    economizer_enabled: bool
    facility_power_w: float
    facility_power_std_w: float
    max_inlet_c: float
    max_inlet_std_c: float
    pue: float
    n_candidates: int
    n_feasible: int


def _axis(lo: float, hi: float, step_k: float) -> FloatArray:
    if hi < lo:
        return np.empty(0)
    n = math.floor((hi - lo) / step_k + 1e-9)
    return np.unique(np.round(np.append(lo + step_k * np.arange(n + 1), hi), 9))


def candidate_grid(
    bounds: SetpointBounds,
    support: SetpointSupport,
    grid_step_k: float = 0.25,
    economizer_states: Sequence[bool] = (False, True),
) -> tuple[FloatArray, FloatArray, NDArray[np.bool_]]:
    """Candidate setpoints inside ``bounds`` and ``support``.

    Parameters
    ----------
    bounds : SetpointBounds
    support : SetpointSupport
    grid_step_k : float
        Grid spacing [K]; bounds' endpoints are always included.
    economizer_states : sequence of bool
        States allowed (``bounds.allow_economizer`` False removes True).

    Returns
    -------
    supply_air_c, chw_supply_c : numpy.ndarray
        Candidate setpoints [C].
    economizer_enabled : numpy.ndarray of bool
    """
    if not grid_step_k > 0:
        raise ValueError("grid_step_k must be > 0")
    states = [s for s in economizer_states if bounds.allow_economizer or not s]
    supply_axis = _axis(bounds.supply_air_min_c, bounds.supply_air_max_c, grid_step_k)
    chw_axis = _axis(bounds.chw_supply_min_c, bounds.chw_supply_max_c, grid_step_k)
    supply, chw = (a.ravel() for a in np.meshgrid(supply_axis, chw_axis, indexing="ij"))
    all_supply = np.tile(supply, len(states))
    all_chw = np.tile(chw, len(states))
    all_economizer = np.repeat(np.asarray(states, dtype=bool), supply.size)
    keep = support.contains(all_supply, all_chw, all_economizer) & bounds.contains(all_supply, all_chw)
    return all_supply[keep], all_chw[keep], all_economizer[keep]


def optimise_setpoints(
    model: PlantModel,
    it_power_w: float,
    outdoor_dry_bulb_c: float,
    outdoor_wet_bulb_c: float,
    bounds: SetpointBounds,
    *,
    inlet_limit_c: float = 27.0,
    uncertainty_k: float = 2.0,
    grid_step_k: float = 0.25,
    coarse_step_k: float = 1.0,
    economizer_states: Sequence[bool] = (False, True),
) -> OptimiserChoice | None:
    """Setpoints minimising predicted facility power subject to the inlet limit.

    A coarse grid (``coarse_step_k``) over the whole feasible region, then a fine grid
    (``grid_step_k``) within one coarse step of the best coarse candidate of each economizer
    state; every candidate of both stages is inside ``bounds`` and the model's support.

    Parameters
    ----------
    model : PlantModel
        Fitted plant model; its ``support`` limits the candidates.
    it_power_w : float
        IT power [W].
    outdoor_dry_bulb_c, outdoor_wet_bulb_c : float
        Outdoor air [C].
    bounds : SetpointBounds
        Configured (possibly rate-limited) ranges.
    inlet_limit_c : float
        Limit on predicted hottest inlet + ``uncertainty_k`` x its standard deviation [C].
    uncertainty_k : float
        Safety factor on the inlet uncertainty [-].
    grid_step_k, coarse_step_k : float
        Fine and coarse grid spacing [K].
    economizer_states : sequence of bool
        Economizer states allowed (e.g. only the current one during a dwell).

    Returns
    -------
    OptimiserChoice or None
        ``None`` when no candidate is inside bounds and support and satisfies the limit.

    References
    ----------
    ASHRAE TC 9.9 (27 C recommended inlet); Gamble and Gao, "Safety-first AI for autonomous data
    centre cooling and industrial control", DeepMind blog (2018) (uncertainty-aware constraints).
    """
    conditions = np.array([it_power_w, outdoor_dry_bulb_c, outdoor_wet_bulb_c], dtype=float)

    def evaluate(
        supply: FloatArray, chw: FloatArray, economizer: NDArray[np.bool_], final: bool
    ) -> tuple[PlantPredictionLike, NDArray[np.bool_]]:
        inputs = np.column_stack((np.broadcast_to(conditions, (supply.size, 3)), supply, chw, economizer.astype(float)))
        # the choice never depends on facility power's uncertainty: it is predicted for the winner alone
        prediction = model.predict(inputs, facility_uncertainty=final)
        feasible = prediction.max_inlet_c + uncertainty_k * prediction.max_inlet_std_c <= inlet_limit_c
        return prediction, np.asarray(feasible)

    refine = coarse_step_k > grid_step_k
    supply, chw, economizer = candidate_grid(bounds, model.support, max(coarse_step_k, grid_step_k), economizer_states)
    if supply.size == 0 and refine:
        # the supported region may lie between the coarse grid's points: search the fine grid whole
        refine = False
        supply, chw, economizer = candidate_grid(bounds, model.support, grid_step_k, economizer_states)
    n_candidates = int(supply.size)
    if n_candidates == 0:
        return None
    prediction, feasible = evaluate(supply, chw, economizer, final=False)
    n_feasible = int(np.count_nonzero(feasible))
    if n_feasible == 0:
        return None
    if refine:
        power = np.where(feasible, prediction.facility_power_w, np.inf)
        fine: list[tuple[FloatArray, FloatArray, NDArray[np.bool_]]] = []
        for state in np.unique(economizer[feasible]):
            best_state = int(np.argmin(np.where(economizer == state, power, np.inf)))
            box = SetpointBounds(
                max(bounds.supply_air_min_c, supply[best_state] - coarse_step_k),
                min(bounds.supply_air_max_c, supply[best_state] + coarse_step_k),
                max(bounds.chw_supply_min_c, chw[best_state] - coarse_step_k),
                min(bounds.chw_supply_max_c, chw[best_state] + coarse_step_k),
                bounds.allow_economizer,
            )
            fine.append(candidate_grid(box, model.support, grid_step_k, (bool(state),)))
        # the fine boxes contain the coarse winners, so the fine stage alone decides
        supply, chw, economizer = (np.concatenate(parts) for parts in zip(*fine, strict=True))
        prediction, feasible = evaluate(supply, chw, economizer, final=False)
        n_candidates += int(supply.size)
        n_feasible += int(np.count_nonzero(feasible))
        if not feasible.any():
            return None
    best = int(np.argmin(np.where(feasible, prediction.facility_power_w, np.inf)))
    winner, _ = evaluate(supply[best : best + 1], chw[best : best + 1], economizer[best : best + 1], final=True)
    return OptimiserChoice(
        supply_air_setpoint_c=float(supply[best]),
        chw_supply_setpoint_c=float(chw[best]),
        economizer_enabled=bool(economizer[best]),
        facility_power_w=float(winner.facility_power_w[0]),
        facility_power_std_w=float(winner.facility_power_std_w[0]),
        max_inlet_c=float(winner.max_inlet_c[0]),
        max_inlet_std_c=float(winner.max_inlet_std_c[0]),
        pue=float(winner.pue[0]),
        n_candidates=n_candidates,
        n_feasible=n_feasible,
    )
