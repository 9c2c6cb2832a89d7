"""Online recommender: the optimiser wrapped in the rules that make acting on a plant safe.

Per call, in order (DeepMind 2018's "discard low-confidence actions", two-layer verification):

1. stale or incomplete data (``data_ok`` False) -> hold, change nothing;
2. conditions outside the training data -> hold (the model would extrapolate);
3. rate limits: each temperature setpoint moves at most ``max_step_c`` from the current value per
   call, and stays within ``max_change_per_h_c`` of every setpoint seen or applied in the last
   hour;
4. the economizer state is not changed within ``economizer_min_dwell_s`` of its last change;
   only changes seen on the plant or reported through :meth:`Recommender.applied` move these
   clocks, never a recommendation nobody applied;
5. the optimiser (:func:`models.optimiser.optimise_setpoints`) picks, inside the configured bounds,
   the rate-limited box and the model's data support, the least predicted facility power with
   predicted hottest inlet + k x uncertainty <= the limit; none feasible -> hold, saying which of these
   bound (no candidate in the training data's support, or the coolest candidate's predicted inlet);
6. a change whose saving is below ``min_savings_w`` or ``min_savings_fraction`` of the predicted
   facility power, or whose confidence (probability that the
   saving is positive, from the model's uncertainty) is below ``min_confidence`` -> hold, unless
   the current setpoints themselves break the inlet limit. Given the measured facility power at the
   current setpoints, the saving counted is less the model's overstatement of the current point
   (predicted - its hold-out RMSE - measured, when positive): a change the model favours only
   because it mispredicts where the plant stands is not made (on the closed-loop bench these were
   most changes, and came back within hours).

The recommender only advises; whoever writes setpoints applies its own guards
(:class:`agent.control.actuator.SetpointActuator`: bounds, read-back, revert).

One module (over 400 lines): the recommender's rules (confidence, minimum saving, rate limit, dwell) and the types
they act on read together.
"""

from __future__ import annotations

import math
from collections import deque
from dataclasses import dataclass
from statistics import NormalDist

import numpy as np

from models.cooling import CoolingModel
from models.levers import LeverSpec, lever_box, optimise_with_levers
from models.optimiser import OptimiserChoice, SetpointBounds, candidate_grid, optimise_setpoints

__all__ = ["Conditions", "Recommendation", "Recommender", "Setpoints"]

_WINDOW_S = 3600.0


@dataclass(frozen=True)
class Setpoints:
    """The three controllable setpoints, and the site's optional levers (models/levers.py) in its order."""

    supply_air_setpoint_c: float
    chw_supply_setpoint_c: float
    economizer_enabled: bool
    levers: tuple[float, ...] = ()


@dataclass(frozen=True)
class Conditions:
    """Exogenous conditions now."""

    it_power_w: float
    outdoor_dry_bulb_c: float
    outdoor_wet_bulb_c: float


@dataclass(frozen=True)
class Recommendation:
    """Outcome of one :meth:`Recommender.recommend` call.

    Attributes
    ----------
    timestamp_s : float
        Time of the call, UTC epoch [s].
    setpoints : Setpoints
        Recommended setpoints (the current ones when held back or when no change pays).
    current : Setpoints
        Setpoints the plant ran at the call.
    predicted_facility_power_now_w, predicted_facility_power_w : float or None
        Predicted facility power at the current and the recommended setpoints [W]
        (None when data was not usable).
    predicted_pue_now, predicted_pue : float or None
        Predicted real-time PUE at current and recommended setpoints [-].
    predicted_max_inlet_c : float or None
        Predicted hottest inlet at the recommended setpoints [C].
    predicted_savings_w : float
        Predicted facility power saved by the recommendation [W] (0 when held back).
    confidence : float
        Probability the saving is positive under the model's uncertainty, 0-1 (0 when held back).
    model_version : str
        Content hash of the model used.
    held_back_reason : str or None
        Why nothing was recommended, or None.
    reason : str or None
        Why a change comes from elsewhere than the optimiser (an exploration step, agent/control/explore.py);
        None for the optimiser's own recommendations.
    """

    timestamp_s: float
    setpoints: Setpoints
    current: Setpoints
    predicted_facility_power_now_w: float | None
    predicted_facility_power_w: float | None
    predicted_pue_now: float | None
    predicted_pue: float | None
    predicted_max_inlet_c: float | None
    predicted_savings_w: float
    confidence: float
    model_version: str
    held_back_reason: str | None
    reason: str | None = None

    @property
    def changed(self) -> bool:
        """Whether the recommendation differs from the current setpoints."""
        return self.setpoints != self.current


class Recommender:
    """Rate-limited, uncertainty-aware setpoint recommender for one hall.

    Parameters
    ----------
    model : CoolingModel
        Fitted plant model.
    bounds : SetpointBounds
        Configured setpoint ranges [C].
    inlet_limit_c : float
        Hottest rack inlet limit [C] (ASHRAE TC 9.9 recommended 27 C).
    max_step_c : float
        Largest change of a temperature setpoint per call [K].
    max_change_per_h_c : float
        Largest change of a temperature setpoint within any hour [K].
    economizer_min_dwell_s : float
        Least time between economizer state changes [s] (20 min in the Modelica Buildings library).
    uncertainty_k : float
        Safety factor on the inlet uncertainty [-].
    min_confidence : float
        Least confidence for a change, 0-1.
    min_savings_w : float
        Least predicted saving for a change [W].
    min_savings_fraction : float
        Least predicted saving for a change as a fraction of the predicted facility power now [-]
        (the larger of the two applies). On the closed-loop bench 0.004 instead of 500 W cut a year's
        setpoint changes from 2,786-3,417 to 337-737 per site with annual PUE within 0.0002: smaller
        moves mostly chase model noise and hour-to-hour weather, and come back.
    grid_step_k : float
        Optimiser grid spacing [K].
    levers : sequence of LeverSpec
        The site's optional levers, in the model's :attr:`~models.cooling.CoolingModel.lever_columns` order
        (empty: none). Each moves at most its ``max_step`` per call, inside its bounds and the lever
        combinations the training data covered (:mod:`models.levers`).
    """

    def __init__(
        self,
        model: CoolingModel,
        bounds: SetpointBounds | None = None,
        inlet_limit_c: float = 27.0,
        max_step_c: float = 1.0,
        max_change_per_h_c: float = 3.0,
        economizer_min_dwell_s: float = 1200.0,
        uncertainty_k: float = 2.0,
        min_confidence: float = 0.6,
        min_savings_w: float = 0.0,
        min_savings_fraction: float = 0.0,
        grid_step_k: float = 0.25,
        levers: tuple[LeverSpec, ...] = (),
    ) -> None:
        if not (max_step_c > 0 and max_change_per_h_c > 0 and economizer_min_dwell_s >= 0):
            raise ValueError("max_step_c and max_change_per_h_c must be > 0, economizer_min_dwell_s >= 0")
        if not 0.0 <= min_confidence <= 1.0:
            raise ValueError("min_confidence must be within 0-1")
        if min_savings_w < 0 or not 0.0 <= min_savings_fraction < 1.0:
            raise ValueError("min_savings_w must be >= 0 and min_savings_fraction within 0-1")
        self.model = model
        self.bounds = bounds if bounds is not None else SetpointBounds()
        self.inlet_limit_c = inlet_limit_c
        self.max_step_c = max_step_c
        self.max_change_per_h_c = max_change_per_h_c
        self.economizer_min_dwell_s = economizer_min_dwell_s
        self.uncertainty_k = uncertainty_k
        self.min_confidence = min_confidence
        self.min_savings_w = min_savings_w
        self.min_savings_fraction = min_savings_fraction
        self.grid_step_k = grid_step_k
        self.levers = tuple(levers)
        if tuple(spec.name for spec in self.levers) != tuple(getattr(model, "lever_columns", ())):
            raise ValueError(
                f"levers {[spec.name for spec in self.levers]} differ from the model's "
                f"{list(getattr(model, 'lever_columns', ()))}: refit the model on a history with these columns"
            )
        self._window: deque[tuple[float, float, float]] = deque()
        self._last_economizer: bool | None = None
        self._last_economizer_change_s = -math.inf
        self._current_levers: tuple[float, ...] = ()
        self._chosen_levers: tuple[float, ...] = ()

    def _observe(self, now_s: float, setpoints: Setpoints) -> None:
        self._window.append((now_s, setpoints.supply_air_setpoint_c, setpoints.chw_supply_setpoint_c))
        while self._window and self._window[0][0] < now_s - _WINDOW_S:
            self._window.popleft()
        if self._last_economizer is not None and setpoints.economizer_enabled != self._last_economizer:
            self._last_economizer_change_s = now_s
        self._last_economizer = setpoints.economizer_enabled

    def applied(self, now_s: float, setpoints: Setpoints) -> None:
        """Start the rate-limit and dwell clocks: ``setpoints`` were written to the plant at ``now_s``.

        Only a change that reached the plant moves these clocks; a recommendation nobody applied
        (``advise``, an ``approve`` not yet approved) must not hold back the next one.
        """
        self._window.append((now_s, setpoints.supply_air_setpoint_c, setpoints.chw_supply_setpoint_c))
        if self._last_economizer is not None and setpoints.economizer_enabled != self._last_economizer:
            self._last_economizer_change_s = now_s
        self._last_economizer = setpoints.economizer_enabled

    def allowed_bounds(self, current: Setpoints) -> SetpointBounds | None:
        """Configured bounds narrowed by both rate limits; None when nothing is reachable."""
        window = np.array([(s, c) for _, s, c in self._window]).reshape(-1, 2)
        limit = self.max_change_per_h_c
        b = self.bounds
        supply_lo = max(
            b.supply_air_min_c,
            current.supply_air_setpoint_c - self.max_step_c,
            float(window[:, 0].max()) - limit,
        )
        supply_hi = min(
            b.supply_air_max_c,
            current.supply_air_setpoint_c + self.max_step_c,
            float(window[:, 0].min()) + limit,
        )
        chw_lo = max(
            b.chw_supply_min_c,
            current.chw_supply_setpoint_c - self.max_step_c,
            float(window[:, 1].max()) - limit,
        )
        chw_hi = min(
            b.chw_supply_max_c,
            current.chw_supply_setpoint_c + self.max_step_c,
            float(window[:, 1].min()) + limit,
        )
        if supply_lo > supply_hi + 1e-9 or chw_lo > chw_hi + 1e-9:
            return None
        return SetpointBounds(supply_lo, max(supply_lo, supply_hi), chw_lo, max(chw_lo, chw_hi), b.allow_economizer)

    def _hold(
        self,
        now_s: float,
        current: Setpoints,
        reason: str,
        power_w: float | None = None,
        pue: float | None = None,
        inlet_c: float | None = None,
    ) -> Recommendation:
        return Recommendation(
            now_s, current, current, power_w, power_w, pue, pue, inlet_c, 0.0, 0.0, self.model.version, reason
        )

    def _no_box_reason(self, current: Setpoints) -> str:
        """Why the rate limits leave nothing inside the configured bounds, with the numbers."""
        window = np.array([(s, c) for _, s, c in self._window]).reshape(-1, 2)
        b = self.bounds
        return (
            f"rate limits leave no setpoint inside the configured bounds: now supply air "
            f"{current.supply_air_setpoint_c:g} C, chilled water {current.chw_supply_setpoint_c:g} C; within the last "
            f"hour supply air {window[:, 0].min():g}-{window[:, 0].max():g} C, chilled water "
            f"{window[:, 1].min():g}-{window[:, 1].max():g} C (max_step_c {self.max_step_c:g}, max_change_per_h_c "
            f"{self.max_change_per_h_c:g}); bounds supply air {b.supply_air_min_c:g}-{b.supply_air_max_c:g} C, "
            f"chilled water {b.chw_supply_min_c:g}-{b.chw_supply_max_c:g} C"
        )

    def _no_choice_reason(
        self,
        condition_values: tuple[float, float, float],
        box: SetpointBounds,
        states: tuple[bool, ...],
        dwell_left_s: float,
    ) -> str:
        """Why the optimiser found nothing, naming the constraint that bound and its numbers.

        Either no candidate of the rate-limited range (and the economizer states allowed) lies in the
        model's training-data support, or every one is predicted to break the inlet limit: then the
        coolest candidate's prediction is quoted.
        """

        def on_off(state: bool) -> str:
            return "on" if state else "off"

        allowed = (
            f"supply air {box.supply_air_min_c:g}-{box.supply_air_max_c:g} C, chilled water "
            f"{box.chw_supply_min_c:g}-{box.chw_supply_max_c:g} C (max_step_c {self.max_step_c:g}, "
            f"max_change_per_h_c {self.max_change_per_h_c:g}), economizer {'/'.join(on_off(s) for s in states)}"
        )
        if dwell_left_s > 0:
            allowed += (
                f" (kept {on_off(states[0])} for another {dwell_left_s:.0f} s of economizer_min_dwell_s "
                f"{self.economizer_min_dwell_s:g} s)"
            )
        support = self.model.support
        supply, chw, economizer = candidate_grid(box, support, self.grid_step_k, states)
        if supply.size == 0:
            covered = "; ".join(
                f"economizer {on_off(state)}: supply air {r[0]:.1f}-{r[1]:.1f} C, chilled water {r[2]:.1f}-{r[3]:.1f} C"
                for state, r in sorted(support.ranges.items())
            )
            never = [on_off(s) for s in states if s not in support.occupied]
            unseen = f" (no rows with the economizer {' or '.join(never)})" if never else ""
            return (
                f"no setpoints to choose from: none of the allowed range ({allowed}) lies in the model's data "
                f"support, the setpoints its training data covers{unseen} ({covered or 'none'})"
            )
        inputs = np.column_stack(
            (
                np.broadcast_to(condition_values, (supply.size, 3)),
                supply,
                chw,
                economizer.astype(float),
                *tuple(np.full(supply.size, v) for v in self._current_levers),
            )
        )
        prediction = self.model.predict(inputs, facility_uncertainty=False)
        margin_c = prediction.max_inlet_c + self.uncertainty_k * prediction.max_inlet_std_c
        best = int(np.argmin(margin_c))
        if margin_c[best] <= self.inlet_limit_c:  # the optimiser's coarse grid missed them: say so, never guess
            return (
                f"the optimiser found no setpoints: {int(np.count_nonzero(margin_c <= self.inlet_limit_c))} "
                f"of {supply.size} in the allowed range ({allowed}) are predicted within the inlet limit"
            )
        coolest = f"supply air {supply[best]:g} C / chilled water {chw[best]:g} C / economizer "
        return (
            f"every allowed setpoint is predicted above the inlet limit: of the {supply.size} in the allowed range "
            f"({allowed}) the coolest, {coolest}{on_off(bool(economizer[best]))}, "
            f"has predicted hottest inlet {prediction.max_inlet_c[best]:.1f} C + {self.uncertainty_k:g} x "
            f"{prediction.max_inlet_std_c[best]:.2f} C uncertainty = {margin_c[best]:.1f} C, above the "
            f"{self.inlet_limit_c:g} C inlet limit"
        )

    def _optimise(
        self,
        condition_values: tuple[float, float, float],
        box: SetpointBounds,
        states: tuple[bool, ...],
        local_box: bool,
    ) -> tuple[OptimiserChoice | None, tuple[float, ...]]:
        """The optimiser's choice in ``box`` and the levers it goes with (``()`` on a site without levers)."""
        kwargs = {
            "inlet_limit_c": self.inlet_limit_c,
            "uncertainty_k": self.uncertainty_k,
            "grid_step_k": self.grid_step_k,
            "economizer_states": states,
        }
        if not self.levers or self.model.lever_support is None:
            return optimise_setpoints(self.model, *condition_values, box, **kwargs), ()  # type: ignore[arg-type]
        low, high = lever_box(self.levers, self._current_levers if local_box else None)
        combos = self.model.lever_support.candidates(low, high)
        found = optimise_with_levers(
            self.model,
            *condition_values,
            box,
            combos,
            self._current_levers,
            **kwargs,  # type: ignore[arg-type]
        )
        return (None, self._current_levers) if found is None else (found.choice, found.levers)

    def _levers_toward(self, target_levers: tuple[float, ...]) -> tuple[float, ...]:
        """The levers one rate-limited step toward ``target_levers``: the target itself when within each lever's
        ``max_step`` of the value in force, else the combination of the local box the training data covered that
        lies nearest the target clamped into that box (distance in units of each lever's ``max_step``).

        Levers, like the base setpoints, can sit in a local optimum of one step's box: from a condenser-water
        setpoint below what the towers can reach with one tower running, neither two more kelvin nor one more
        tower pays, while the global optimum (a warmer setpoint with every tower) does. Keeping the local levers
        then would move only the base setpoints while crediting them with the target's saving.
        """
        low, high = lever_box(self.levers, self._current_levers)
        target = np.asarray(target_levers, dtype=float)
        if np.all((target >= low - 1e-9) & (target <= high + 1e-9)):
            return target_levers
        support = self.model.lever_support
        combos = support.candidates(low, high) if support is not None else np.empty((0, len(self.levers)))
        if combos.shape[0] == 0:
            return self._chosen_levers
        scale = np.array([spec.max_step for spec in self.levers], dtype=float)
        distance = np.abs((combos - np.clip(target, low, high)) / scale).sum(axis=1)
        return tuple(float(v) for v in combos[int(np.argmin(distance))])

    def _toward_global_target(
        self,
        local: OptimiserChoice,
        condition_values: tuple[float, float, float],
        box: SetpointBounds,
        states: tuple[bool, ...],
    ) -> OptimiserChoice:
        """A step toward the best setpoints in all of the bounds and data support, if that beats ``local``.

        Tree models are flat over small setpoint changes, so the best point inside one step's box can
        be "stay put" while a better optimum lies two steps away. Then the plant moves one rate-limited
        step toward that optimum, the levers too (:meth:`_levers_toward`); the step itself must be predicted
        safe, and it is credited with the target's predicted power (it is only taken on the way there).
        """
        target, target_levers = self._optimise(condition_values, self.bounds, states, local_box=False)
        if target is None or target.facility_power_w >= local.facility_power_w - 1e-6:
            return local
        supply = min(max(target.supply_air_setpoint_c, box.supply_air_min_c), box.supply_air_max_c)
        chw = min(max(target.chw_supply_setpoint_c, box.chw_supply_min_c), box.chw_supply_max_c)
        levers = self._levers_toward(target_levers)
        if (supply, chw, levers) == (target.supply_air_setpoint_c, target.chw_supply_setpoint_c, target_levers):
            self._chosen_levers = target_levers
            return target
        step = self.model.predict(
            np.array([[*condition_values, supply, chw, float(target.economizer_enabled), *levers]])
        )
        inlet_c, inlet_std_c = float(step.max_inlet_c[0]), float(step.max_inlet_std_c[0])
        if inlet_c + self.uncertainty_k * inlet_std_c > self.inlet_limit_c:
            return local
        self._chosen_levers = levers
        return OptimiserChoice(
            supply,
            chw,
            target.economizer_enabled,
            target.facility_power_w,
            target.facility_power_std_w,
            inlet_c,
            inlet_std_c,
            target.pue,
            target.n_candidates,
            target.n_feasible,
        )

    def recommend(
        self,
        now_s: float,
        conditions: Conditions,
        current_setpoints: Setpoints,
        data_ok: bool,
        measured_facility_power_w: float | None = None,
    ) -> Recommendation:
        """Recommend setpoints for now.

        Parameters
        ----------
        now_s : float
            Current time, UTC epoch [s]; calls must come in time order.
        conditions : Conditions
            IT power [W] and outdoor air [C] now.
        current_setpoints : Setpoints
            Setpoints the plant runs at now.
        data_ok : bool
            False when readings are stale or incomplete: nothing is recommended.
        measured_facility_power_w : float or None
            Facility power measured at the current setpoints [W] (rule 6); None skips that check.

        Returns
        -------
        Recommendation
        """
        current = current_setpoints
        self._observe(now_s, current)
        if not data_ok:
            return self._hold(now_s, current, "stale or incomplete data")
        if len(current.levers) != len(self.levers):
            names = ", ".join(spec.name for spec in self.levers)
            return self._hold(now_s, current, f"current values of the levers ({names}) not known")
        condition_values = (
            conditions.it_power_w,
            conditions.outdoor_dry_bulb_c,
            conditions.outdoor_wet_bulb_c,
        )
        outside = self.model.conditions_outside_training(condition_values)
        if outside is not None:
            return self._hold(now_s, current, f"conditions outside the training data: {outside}")
        now_row = np.array(
            [
                [
                    *condition_values,
                    current.supply_air_setpoint_c,
                    current.chw_supply_setpoint_c,
                    float(current.economizer_enabled),
                    *current.levers,
                ]
            ]
        )
        now = self.model.predict(now_row)
        now_power_w = float(now.facility_power_w[0])
        now_pue = float(now.pue[0])
        now_inlet_c = float(now.max_inlet_c[0])
        now_unsafe = now_inlet_c + self.uncertainty_k * float(now.max_inlet_std_c[0]) > self.inlet_limit_c
        box = self.allowed_bounds(current)
        if box is None:
            return self._hold(now_s, current, self._no_box_reason(current), now_power_w, now_pue, now_inlet_c)
        in_dwell = now_s - self._last_economizer_change_s < self.economizer_min_dwell_s
        states = (current.economizer_enabled,) if in_dwell else (False, True)
        self._current_levers = current.levers
        choice, self._chosen_levers = self._optimise(condition_values, box, states, local_box=True)
        if choice is None:
            dwell_left_s = self.economizer_min_dwell_s - (now_s - self._last_economizer_change_s) if in_dwell else 0.0
            reason = self._no_choice_reason(condition_values, box, states, dwell_left_s)
            return self._hold(now_s, current, reason, now_power_w, now_pue, now_inlet_c)
        choice = self._toward_global_target(choice, condition_values, box, states)
        chosen = Setpoints(
            choice.supply_air_setpoint_c, choice.chw_supply_setpoint_c, choice.economizer_enabled, self._chosen_levers
        )
        savings_w = now_power_w - choice.facility_power_w
        spread_w = math.hypot(float(now.facility_power_std_w[0]), choice.facility_power_std_w)
        confidence = NormalDist().cdf(savings_w / spread_w) if spread_w > 0 else float(savings_w > 0)
        if chosen == current:
            return Recommendation(
                now_s,
                current,
                current,
                now_power_w,
                now_power_w,
                now_pue,
                now_pue,
                now_inlet_c,
                0.0,
                confidence,
                self.model.version,
                None,
            )
        if not now_unsafe:
            least_w = max(self.min_savings_w, self.min_savings_fraction * now_power_w)
            overstated_w = 0.0
            if measured_facility_power_w is not None:  # tolerance: the hold-out RMSE, not the 99 % spread
                rmse_w = float(self.model.predict(now_row, facility_uncertainty=False).facility_power_std_w[0])
                overstated_w = max(0.0, now_power_w - rmse_w - measured_facility_power_w)
            if savings_w - overstated_w < least_w:
                over = f" less {overstated_w:.0f} W the model puts the current point above the measured" * (
                    overstated_w > 0
                )
                return self._hold(
                    now_s,
                    current,
                    f"predicted saving {savings_w:.0f} W{over} below {least_w:.0f} W",
                    now_power_w,
                    now_pue,
                    now_inlet_c,
                )
            if confidence < self.min_confidence:
                return self._hold(
                    now_s,
                    current,
                    f"low confidence {confidence:.2f} < {self.min_confidence:.2f}",
                    now_power_w,
                    now_pue,
                    now_inlet_c,
                )
        return Recommendation(
            timestamp_s=now_s,
            setpoints=chosen,
            current=current,
            predicted_facility_power_now_w=now_power_w,
            predicted_facility_power_w=choice.facility_power_w,
            predicted_pue_now=now_pue,
            predicted_pue=choice.pue,
            predicted_max_inlet_c=choice.max_inlet_c,
            predicted_savings_w=savings_w,
            confidence=confidence,
            model_version=self.model.version,
            held_back_reason=None,
        )
