"""Exploration planner: small, bounded, reversible setpoint steps for a site that never varied one.

A site whose history holds one setpoint combination gives the plant model no support for any change
(:class:`models.optimiser.SetpointSupport`): the optimiser rightly refuses everything. The planner
proposes, one write at a time, a walk over a lattice of setpoint combinations around the site's usual
("home") setpoints:

* lattice points ``step_k`` apart, snapped to the writable objects' steps, inside the writable bounds,
  with supply air capped so the hottest inlet stays ``inlet_margin_k`` below the limit (from the hall's
  worst rack approach) and chilled water at most supply air minus the CRAH coil approach (warmer water
  cannot make the supply air, which would then rise by itself);
* one setpoint changes per step, by at most ``max_move_k``; each unvisited lattice point is held
  ``hold_h`` (long enough to learn from), points on the way ``settle_h``;
* before each step the predicted hottest inlet (now, plus ``inlet_gain`` x the supply-air rise) must
  stay ``inlet_margin_k`` below the limit, else the walk turns home;
* only at safe hours (configurable; by default away from the day's warmest hours), otherwise home;
* rings of growing Chebyshev radius: a ring is explored only when every point of the smaller ones is
  done (visited or in the model's support), so the explored box widens gradually; points colder than
  home (``explore_colder_k``, 1 K by default) come after all the warmer ones, since colder air or water
  never saves energy and only calibrates the model near home;
* finished when the support covers ``target_support_fraction`` of the lattice and the model's
  hold-out errors are below their targets.

Deterministic: the order within a ring is a seeded shuffle followed by nearest-neighbour walking.
Pure: numpy only, no clock (times are passed in).

One module (over 400 lines): the lattice, the walk and the stop rule share one planner state, and the settings
they read are documented next to them; safe hours are two short functions beside them.

References
----------
Lazic et al., "Data center cooling using model-predictive control", NeurIPS 2018 (a few hours of safe,
bounded random exploration identify a usable plant model); ASHRAE TC 9.9 (27 C recommended inlet).
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from models.optimiser import SetpointSupport

__all__ = [
    "ExplorationBox",
    "ExplorationPlanner",
    "ExplorationSettings",
    "ExplorationStep",
    "Point",
    "peak_hour",
    "safe_hour",
]

#: (supply-air setpoint [C], chilled-water setpoint [C], economizer enabled)
Point = tuple[float, float, bool]

_EPS = 1e-6


@dataclass(frozen=True)
class ExplorationSettings:
    """How far, how fast and when to explore (defaults: ``recommender.exploration`` in the config).

    Attributes
    ----------
    step_k : float
        Lattice spacing [K], rounded up to a multiple of the writable object's step.
    max_move_k : float
        Largest change of one setpoint in one step [K] (at least ``step_k``).
    hold_h : float
        Time an unvisited lattice point is held [h].
    settle_h : float
        Time a point on the way (or home) is held before the next step [h].
    inlet_limit_c, inlet_margin_k : float
        Hottest rack inlet limit [C] and the margin kept below it [K].
    inlet_gain : float
        Assumed rise of the hottest inlet per kelvin of supply air [-] (1: the air warms as supplied).
    coil_approach_k : float
        Least difference supply air minus chilled water [K]: the CRAH coil cannot make supply air
        colder than the water plus this.
    explore_economizer : bool
        Also explore the other economizer state.
    explore_colder_k : float
        How far below the home setpoints the lattice reaches [K]: colder air or water never saves energy,
        so the optimiser only needs the cold side to calibrate the model near home.
    avoid_peak_h : float
        Width of the window around the day's warmest hour when no step is taken [h].
    safe_hours : tuple of int or None
        Local hours 0-23 when steps may be taken; overrides ``avoid_peak_h``.
    target_support_fraction : float
        Share of the lattice the model's support must cover to finish [-].
    max_inlet_mae_c, max_facility_mape_percent : float
        Hold-out errors below which (with the support) exploration finishes [K], [%].
    seed : int
        Seed of the order within a ring.
    """

    step_k: float = 1.0
    max_move_k: float = 2.0
    hold_h: float = 2.0
    settle_h: float = 0.25
    inlet_limit_c: float = 27.0
    inlet_margin_k: float = 1.0
    inlet_gain: float = 1.0
    coil_approach_k: float = 5.0
    explore_economizer: bool = True
    explore_colder_k: float = 1.0
    avoid_peak_h: float = 6.0
    safe_hours: tuple[int, ...] | None = None
    target_support_fraction: float = 0.9
    max_inlet_mae_c: float = 0.3
    max_facility_mape_percent: float = 1.5
    seed: int = 0

    def __post_init__(self) -> None:
        if not (self.step_k > 0 and self.max_move_k > 0 and self.hold_h >= 0 and self.settle_h >= 0):
            raise ValueError("step_k and max_move_k must be > 0, hold_h and settle_h >= 0")
        if self.explore_colder_k < 0:
            raise ValueError("explore_colder_k must be >= 0")
        if not (self.inlet_margin_k >= 0 and self.inlet_gain > 0 and self.coil_approach_k >= 0):
            raise ValueError("inlet_margin_k and coil_approach_k must be >= 0, inlet_gain > 0")
        if not 0.0 < self.target_support_fraction <= 1.0:
            raise ValueError("target_support_fraction must be within (0, 1]")
        if self.safe_hours is not None and not all(0 <= h <= 23 for h in self.safe_hours):
            raise ValueError("safe_hours are hours 0-23")


@dataclass(frozen=True)
class ExplorationBox:
    """Writable ranges and steps of the two temperature setpoints [C], [K] (the profiles' ``writable``).

    ``rack_approach_k`` is the worst hottest-inlet minus supply-air seen in history [K]: it caps supply
    air at ``inlet_limit_c - inlet_margin_k - rack_approach_k``.
    """

    supply_air_min_c: float
    supply_air_max_c: float
    chw_supply_min_c: float
    chw_supply_max_c: float
    supply_air_step_k: float = 0.1
    chw_supply_step_k: float = 0.1
    rack_approach_k: float = 5.0

    def __post_init__(self) -> None:
        values = (self.supply_air_min_c, self.supply_air_max_c, self.chw_supply_min_c, self.chw_supply_max_c)
        if not all(math.isfinite(v) for v in values):
            raise ValueError("exploration bounds must be finite")
        if self.supply_air_min_c > self.supply_air_max_c or self.chw_supply_min_c > self.chw_supply_max_c:
            raise ValueError("exploration bounds: min above max")
        if not (self.supply_air_step_k > 0 and self.chw_supply_step_k > 0):
            raise ValueError("writable steps must be > 0")


@dataclass(frozen=True)
class ExplorationStep:
    """The planner's answer for now.

    Attributes
    ----------
    setpoints : Point
        Where the plant should be: the current setpoints (hold) or a point differing in exactly one.
    state : str
        ``exploring`` (step outward), ``holding``, ``returning``, ``waiting`` (home, not a safe time),
        ``finished`` (support and errors good enough) or ``exhausted`` (every lattice point visited).
    reason : str
        Why, in words (shown to operators and in the audit log).
    """

    setpoints: Point
    state: str
    reason: str

    def changed(self, current: Point) -> bool:
        """Whether the step moves any setpoint away from ``current``."""
        return not _same(self.setpoints, current)


def _same(a: Point, b: Point) -> bool:
    return abs(a[0] - b[0]) < _EPS and abs(a[1] - b[1]) < _EPS and a[2] == b[2]


def peak_hour(local_hours: Sequence[float], outdoor_dry_bulb_c: Sequence[float]) -> int | None:
    """Local hour (0-23) with the warmest mean outdoor air in recent rows, or None without rows."""
    hours = np.floor(np.asarray(local_hours, dtype=float)).astype(int) % 24
    temps = np.asarray(outdoor_dry_bulb_c, dtype=float)
    keep = np.isfinite(temps)
    if not keep.any():
        return None
    sums = np.bincount(hours[keep], weights=temps[keep], minlength=24)
    counts = np.bincount(hours[keep], minlength=24)
    means = np.where(counts > 0, sums / np.maximum(counts, 1), -np.inf)
    return int(np.argmax(means))


def safe_hour(local_hour: float, settings: ExplorationSettings, warmest_hour: int | None) -> bool:
    """Whether a step may be taken at ``local_hour`` (``safe_hours``, else away from the warmest hour)."""
    hour = math.floor(local_hour) % 24
    if settings.safe_hours is not None:
        return hour in settings.safe_hours
    if warmest_hour is None:
        return True
    distance = min((hour - warmest_hour) % 24, (warmest_hour - hour) % 24)
    return bool(distance > settings.avoid_peak_h / 2.0)


@dataclass
class _Hold:
    point: Point
    since_s: float


@dataclass
class ExplorationPlanner:
    """Plans exploration steps around ``home`` (the site's usual setpoints); see the module docstring.

    Call :meth:`step` every tick with the setpoints the plant runs; apply what it returns (after
    approval); call :meth:`covered` after each retraining with the new model's support.
    """

    home: Point
    box: ExplorationBox
    settings: ExplorationSettings = field(default_factory=ExplorationSettings)

    def __post_init__(self) -> None:
        s, b = self.settings, self.box
        self.supply_step_k = b.supply_air_step_k * max(1, math.ceil(s.step_k / b.supply_air_step_k - 1e-9))
        self.chw_step_k = b.chw_supply_step_k * max(1, math.ceil(s.step_k / b.chw_supply_step_k - 1e-9))
        self.supply_cap_c = min(b.supply_air_max_c, s.inlet_limit_c - s.inlet_margin_k - b.rack_approach_k)
        self.targets: list[Point] = []
        self.rings: list[int] = []
        self._build_lattice()
        self.done = [False] * len(self.targets)
        self.visits = 0
        self.ring = 1
        self._goal: int | None = None
        self._hold: _Hold | None = None
        self._finished = False

    # --- lattice -----------------------------------------------------------------------------------
    def _allowed(self, supply_c: float, chw_c: float) -> bool:
        b = self.box
        return (
            b.supply_air_min_c - _EPS <= supply_c <= self.supply_cap_c + _EPS
            and b.chw_supply_min_c - _EPS <= chw_c <= b.chw_supply_max_c + _EPS
            and chw_c <= supply_c - self.settings.coil_approach_k + _EPS
        )

    def _build_lattice(self) -> None:
        b = self.box
        home_s, home_c, home_e = self.home
        colder = self.settings.explore_colder_k
        i_lo = math.ceil((max(b.supply_air_min_c, home_s - colder) - home_s) / self.supply_step_k - 1e-9)
        i_hi = math.floor((self.supply_cap_c - home_s) / self.supply_step_k + 1e-9)
        j_lo = math.ceil((max(b.chw_supply_min_c, home_c - colder) - home_c) / self.chw_step_k - 1e-9)
        j_hi = math.floor((b.chw_supply_max_c - home_c) / self.chw_step_k + 1e-9)
        states = (home_e, not home_e) if self.settings.explore_economizer else (home_e,)
        found: list[tuple[int, Point]] = []
        for i in range(i_lo, i_hi + 1):
            for j in range(j_lo, j_hi + 1):
                supply = round(home_s + i * self.supply_step_k, 9)
                chw = round(home_c + j * self.chw_step_k, 9)
                if not self._allowed(supply, chw):
                    continue
                for state in states:
                    ring = max(abs(i), abs(j), int(state != home_e))
                    if ring > 0:
                        found.append((ring, (supply, chw, state)))
        # the colder side never saves energy: it calibrates the model near home, after the warmer side
        widest = max((r for r, _ in found), default=0)
        found = [(r + widest if p[0] < home_s - _EPS or p[1] < home_c - _EPS else r, p) for r, p in found]
        rng = np.random.default_rng(self.settings.seed)
        order = rng.permutation(len(found)) if found else np.empty(0, dtype=int)
        ranked = sorted((found[k] for k in order), key=lambda rp: rp[0])  # stable: seeded order within a ring
        self.rings = [r for r, _ in ranked]
        self.targets = [p for _, p in ranked]

    # --- progress ----------------------------------------------------------------------------------
    def covered(self, support: SetpointSupport) -> float:
        """Mark lattice points inside ``support`` as done; return the covered share of the lattice."""
        if not self.targets:
            return 1.0
        supply = np.array([p[0] for p in self.targets])
        chw = np.array([p[1] for p in self.targets])
        economizer = np.array([p[2] for p in self.targets])
        inside = support.contains(supply, chw, economizer)
        for k in np.flatnonzero(inside):
            self.done[int(k)] = True
        return float(np.mean(inside))

    def finish_if_good(self, support_fraction: float, inlet_mae_c: float, facility_mape_percent: float) -> bool:
        """Stop exploring when the support and the hold-out errors are good enough; return whether stopped."""
        s = self.settings
        if (
            support_fraction >= s.target_support_fraction - 1e-9
            and inlet_mae_c <= s.max_inlet_mae_c
            and facility_mape_percent <= s.max_facility_mape_percent
        ):
            self._finished = True
        return self._finished

    @property
    def finished(self) -> bool:
        return self._finished

    @property
    def visited_fraction(self) -> float:
        """Share of lattice points visited or covered [-]."""
        return float(np.mean(self.done)) if self.done else 1.0

    def preview(self, n: int = 10) -> list[Point]:
        """The next ``n`` lattice points still to visit, in planned order (the schedule ahead)."""
        return [p for p, d in zip(self.targets, self.done, strict=True) if not d][:n]

    # --- stepping ----------------------------------------------------------------------------------
    def _predicted_inlet(self, max_inlet_c: float, current: Point, supply_c: float) -> float:
        return max_inlet_c + self.settings.inlet_gain * max(0.0, supply_c - current[0])

    def _index(self, point: Point) -> int | None:
        for k, p in enumerate(self.targets):
            if _same(p, point):
                return k
        return None

    def _next_move(self, current: Point, goal: Point) -> Point:
        """One setpoint moved toward ``goal`` by at most ``max_move_k``, keeping the coil approach.

        Warmer water needs warmer air first and cooler air cooler water first: of the moves toward the
        goal, the first that keeps chilled water at most supply air minus the coil approach (or does not
        worsen a shortfall the plant already had) is taken; the economizer moves last.
        """
        s, c, e = current
        gs, gc, ge = goal
        approach = self.settings.coil_approach_k

        def toward(value: float, target: float, lattice_k: float) -> float:
            reach = lattice_k * max(1, math.floor(self.settings.max_move_k / lattice_k + 1e-9))
            if abs(target - value) <= reach + _EPS:
                return target
            return round(value + math.copysign(reach, target - value), 9)

        moves: list[Point] = []
        if gs > s + _EPS:
            moves.append((toward(s, gs, self.supply_step_k), c, e))
        if abs(gc - c) > _EPS:
            moves.append((s, toward(c, gc, self.chw_step_k), e))
        if gs < s - _EPS:
            moves.append((toward(s, gs, self.supply_step_k), c, e))
        shortfall = max(0.0, c - (s - approach))
        for m in moves:
            if m[1] - (m[0] - approach) <= shortfall + _EPS:
                return m
        if moves:  # warmer water blocked by the coil: as far as the air allows
            return (s, max(c, s - approach), e) if s - approach > c + _EPS else moves[0]
        if e != ge:
            return (s, c, ge)
        return current

    def _choose_goal(self, current: Point, max_inlet_c: float) -> int | None:
        """Nearest undone lattice point of the active ring predicted safe; widens the ring when it is done."""
        limit = self.settings.inlet_limit_c - self.settings.inlet_margin_k
        while True:
            open_ = [k for k, (r, d) in enumerate(zip(self.rings, self.done, strict=True)) if r <= self.ring and not d]
            if open_ or self.ring >= max(self.rings, default=0):
                break
            self.ring += 1
        safe = [k for k in open_ if self._predicted_inlet(max_inlet_c, current, self.targets[k][0]) <= limit + _EPS]
        if not safe:
            return None

        def distance(k: int) -> float:
            p = self.targets[k]
            return abs(p[0] - current[0]) + abs(p[1] - current[1]) + 0.5 * (p[2] != current[2])

        return min(safe, key=lambda k: (distance(k), k))

    def step(self, now_s: float, current: Point, max_inlet_c: float, safe_now: bool) -> ExplorationStep:
        """Where the plant should be now.

        Parameters
        ----------
        now_s : float
            Time [s] (any monotonic origin; holds are measured with it).
        current : Point
            Setpoints the plant runs now.
        max_inlet_c : float
            Hottest rack inlet now [C].
        safe_now : bool
            Whether now is a safe time to explore (:func:`safe_hour`).
        """
        current = (float(current[0]), float(current[1]), bool(current[2]))
        if self._hold is None or not _same(self._hold.point, current):
            self._hold = _Hold(current, now_s)
        held_h = (now_s - self._hold.since_s) / 3600.0
        here = self._index(current)
        if here is not None and not self.done[here] and held_h >= self.settings.hold_h - 1e-9:
            self.done[here] = True
            self.visits += 1
        if self._finished:
            return ExplorationStep(
                current, "finished", "exploration finished: the model's support and hold-out errors suffice"
            )
        limit = self.settings.inlet_limit_c - self.settings.inlet_margin_k
        at_home = _same(current, self.home)
        too_warm = max_inlet_c > limit + _EPS
        if not safe_now or too_warm:
            self._goal = None
            why = (
                f"hottest inlet {max_inlet_c:.1f} C above {limit:g} C (limit - margin)"
                if too_warm
                else "not a safe hour"
            )
            if at_home:
                return ExplorationStep(current, "waiting", f"exploration waiting: at home, {why}")
            return self._toward(current, self.home, "returning", f"exploration returning: home, {why}")
        if here is not None and not self.done[here]:
            return ExplorationStep(
                current,
                "holding",
                f"exploration holding: {_describe(current)} ({held_h:.1f} of {self.settings.hold_h:g} h)",
            )
        if held_h < self.settings.settle_h - 1e-9:
            return ExplorationStep(current, "holding", f"exploration holding: settles at {_describe(current)}")
        if self._goal is None or self.done[self._goal]:
            self._goal = self._choose_goal(current, max_inlet_c)
        if self._goal is None:
            if all(self.done):
                state, why = "exhausted", "every lattice point visited"
            else:
                state, why = "waiting", "no unvisited point predicted safe now"
            if at_home or state == "exhausted":
                return ExplorationStep(current, state, f"exploration {state}: {why}")
            return self._toward(current, self.home, "returning", f"exploration returning: home, {why}")
        goal = self.targets[self._goal]
        nxt = self._next_move(current, goal)
        if self._predicted_inlet(max_inlet_c, current, nxt[0]) > limit + _EPS:
            self._goal = None
            return self._toward(
                current, self.home, "returning", "exploration returning: home, the next step is predicted too warm"
            )
        return ExplorationStep(
            nxt,
            "exploring",
            f"exploration exploring: toward {_describe(goal)} (ring {self.rings[self._goal]}), {_change(current, nxt)}",
        )

    def _toward(self, current: Point, goal: Point, state: str, reason: str) -> ExplorationStep:
        nxt = self._next_move(current, goal)
        return ExplorationStep(nxt, state, f"{reason}; {_change(current, nxt)}" if not _same(nxt, current) else reason)


def _describe(p: Point) -> str:
    return f"supply air {p[0]:g} C / chilled water {p[1]:g} C / economizer {'on' if p[2] else 'off'}"


def _change(a: Point, b: Point) -> str:
    if abs(a[0] - b[0]) > _EPS:
        return f"supply air {a[0]:g} -> {b[0]:g} C"
    if abs(a[1] - b[1]) > _EPS:
        return f"chilled water {a[1]:g} -> {b[1]:g} C"
    if a[2] != b[2]:
        return f"economizer {'on' if b[2] else 'off'}"
    return "no change"
