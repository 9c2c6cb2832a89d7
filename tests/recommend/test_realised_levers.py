"""Realised savings of a change that moved a lever: predicted and measured with the lever columns, and a lever
moved by someone else (or not moved at all) ends the evaluation as a base setpoint does."""

from __future__ import annotations

import numpy as np

from agent.control.realised import RealisedSavings, Sample
from models.cooling import PlantPrediction

TICK_S = 300.0
OLD = (18.0, 7.0, False, 26.0)  # supply air, chilled water, economizer, condenser water [C]
NEW = (18.0, 7.0, False, 22.0)


class CondenserPlant:
    """A model with one lever (condenser water): each kelvin below 26 C saves 1 kW; inlets follow supply air."""

    version = "analytic-condenser"
    lever_columns = ("condenser_water_setpoint_c",)

    def predict(self, inputs: object, facility_uncertainty: bool = True) -> PlantPrediction:
        it, _dry, _wet, supply, _chw, _eco, cw = np.asarray(inputs, dtype=float).T  # seven columns, or it fails
        facility = 1.2 * it - 1000.0 * (26.0 - cw)
        n = len(it)
        return PlantPrediction(facility - it, facility, np.full(n, 300.0), supply + 5.0, np.full(n, 0.1), facility / it)


def _power(setpoints: tuple[float, ...]) -> float:
    row = np.array([[800e3, 8.0, 5.0, setpoints[0], setpoints[1], float(setpoints[2]), setpoints[3]]])
    return float(CondenserPlant().predict(row).facility_power_w[0])


def _episode(*after: tuple[float, ...], saved_w: float) -> RealisedSavings:
    """30 min at the old setpoints, the change, then 35 min at ``after`` (its ticks spread over them in turn)."""
    model = CondenserPlant()
    tracker = RealisedSavings(0.0, 1800.0, None, poor_to_pause=0)
    t = 0.0
    for _ in range(6):
        t += TICK_S
        tracker.observe(Sample(t, 800e3, 8.0, 5.0, OLD, _power(OLD)), model)
    tracker.applied(t, OLD, NEW, 4000.0, model)
    for k in range(7):
        t += TICK_S
        tracker.observe(Sample(t, 800e3, 8.0, 5.0, after[k * len(after) // 7], _power(OLD) - saved_w), model)
    return tracker


def test_a_lever_change_is_predicted_and_measured_with_the_lever() -> None:
    tracker = _episode(NEW, saved_w=4000.0)
    (record,) = tracker.results
    assert record["predicted_w"] == 4000.0 and abs(record["realised_w"] - 4000.0) < 1e-6
    assert record["result"] == "met" and record["new_setpoints"] == list(NEW)
    # realised nothing of the 4 kW predicted: short
    (short,) = _episode(NEW, saved_w=0.0).results
    assert short["result"] == "short" and short["predicted_w"] == 4000.0
    # the plant settled at 24 C, not the 22 C written (a device's own rounding): measured at what it ran
    (rounded,) = _episode((18.0, 7.0, False, 24.0), saved_w=2000.0).results
    assert rounded["new_setpoints"] == [18.0, 7.0, False, 24.0] and rounded["predicted_w"] == 2000.0


def test_a_lever_that_did_not_move_or_moved_again_ends_the_evaluation() -> None:
    still = _episode(OLD, saved_w=0.0)
    assert not still.results and still.counts["dropped"] == 1  # the plant still ran the old lever
    moved = _episode(NEW, (18.0, 7.0, False, 24.0), saved_w=4000.0)  # someone moved it after 4 ticks
    (record,) = moved.results  # half the window was collected: measured up to there
    assert record["why"] == "setpoints changed by someone else" and record["closed_s"] == 3300.0
