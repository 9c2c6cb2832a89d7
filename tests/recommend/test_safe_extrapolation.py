"""Physics-consistent extrapolation: monotone cooling predictions; act beyond the training range only when safe.

The session model (``conftest.model``, a 60-day Guiyang history of the twin) is fitted monotone by default.
"""

from __future__ import annotations

import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from agent.control.engine import Conditions, Recommender, Setpoints
from models.cooling import CoolingModel
from models.features import FEATURE_NAMES, MONOTONIC_CST, build_features

SETTINGS = settings(max_examples=40, deadline=None, suppress_health_check=[HealthCheck.function_scoped_fixture])

#: where a condition lies relative to the training range (the model allows 5 % of the range beyond it)
PLACES = st.sampled_from(("inside", "below", "above"))


def _condition(model: CoolingModel, column: int, place: str, fraction: float) -> float:
    lo, hi = model.condition_min[column], model.condition_max[column]
    span = hi - lo
    if place == "inside":
        return float(lo + fraction * span)
    beyond = (0.1 + fraction) * span  # 10-110 % of the range beyond it: outside the 5 % margin
    return float(lo - beyond) if place == "below" else float(hi + beyond)


def _place(model: CoolingModel, column: int, value: float) -> str:
    lo, hi = model.condition_min[column], model.condition_max[column]
    margin = 0.05 * (hi - lo)
    return "below" if value < lo - margin else "above" if value > hi + margin else "inside"


@SETTINGS
@given(places=st.tuples(PLACES, PLACES, PLACES), fractions=st.tuples(*[st.floats(0.0, 1.0)] * 3))
def test_held_back_only_above_the_range(
    model: CoolingModel, places: tuple[str, str, str], fractions: tuple[float, float, float]
) -> None:
    conditions = [_condition(model, i, p, f) for i, (p, f) in enumerate(zip(places, fractions, strict=True))]
    conditions[2] = min(conditions[2], conditions[1])  # wet-bulb never above dry-bulb
    where = [_place(model, i, v) for i, v in enumerate(conditions)]
    reason = model.conditions_outside_training(conditions)
    assert (reason is None) == ("above" not in where), (where, conditions, reason)


@pytest.mark.parametrize("place", ["below", "above"])
@pytest.mark.parametrize("column", [0, 1, 2])
def test_recommender_acts_beyond_the_range_only_in_the_safe_direction(
    model: CoolingModel, column: int, place: str
) -> None:
    fraction = 0.5
    middle = (model.condition_min + model.condition_max) / 2.0
    values = [float(v) for v in middle]
    values[column] = _condition(model, column, place, fraction)
    if column == 2:  # wet-bulb never above dry-bulb
        values[1] = max(values[1], values[2])
    values[2] = min(values[2], values[1])
    current = Setpoints(19.0, 11.0, False)
    rec = Recommender(model, max_step_c=2.0).recommend(0.0, Conditions(*values), current, data_ok=True)
    reason = rec.held_back_reason or ""
    if place == "above":
        assert rec.setpoints == current and reason.startswith("conditions outside the training data"), reason
        return
    assert "outside the training" not in reason
    chosen = rec.setpoints
    assert (
        chosen == current
        or model.support.contains(
            chosen.supply_air_setpoint_c, chosen.chw_supply_setpoint_c, chosen.economizer_enabled
        ).all()
    )


@SETTINGS
@given(
    column=st.integers(0, 2),
    beyond=st.floats(0.01, 2.0),
    setpoints=st.tuples(st.floats(16.0, 25.0), st.floats(5.0, 18.0), st.booleans()),
)
def test_below_the_range_the_prediction_is_the_edge_s(
    model: CoolingModel, column: int, beyond: float, setpoints: tuple[float, float, bool]
) -> None:
    edge = model.condition_min.copy()
    colder = edge.copy()
    colder[column] -= beyond * (model.condition_max[column] - model.condition_min[column])
    rows = np.array([[*edge, *setpoints], [*colder, *setpoints]], dtype=float)
    p = model.predict(rows)
    assert p.cooling_power_w[1] == p.cooling_power_w[0]
    assert p.max_inlet_c[1] == p.max_inlet_c[0]


@SETTINGS
@given(
    inputs=st.tuples(
        st.floats(0.5, 1.2),  # IT power as a fraction of the training maximum
        st.floats(-5.0, 30.0),
        st.floats(0.0, 10.0),  # wet-bulb depression [K]
        st.floats(16.0, 25.0),
        st.floats(5.0, 18.0),
        st.booleans(),
    ),
    feature=st.sampled_from([n for n in FEATURE_NAMES if MONOTONIC_CST[n]]),
    rise=st.floats(0.01, 5.0),
)
def test_cooling_prediction_monotone_in_constrained_features(
    model: CoolingModel, inputs: tuple[float, float, float, float, float, bool], feature: str, rise: float
) -> None:
    it_share, dry, depression, supply, chw, eco = inputs
    raw = np.array([[it_share * model.condition_max[0], dry, dry - depression, supply, chw, float(eco)]])
    features = build_features(raw, model.feature_config)
    j = FEATURE_NAMES.index(feature)
    higher = features.copy()
    higher[0, j] += rise * (max(abs(features[0, j]), 1.0))
    mean = model.cooling_regressor.mean_estimator_
    low, high = mean.predict(np.vstack((features, higher)))
    assert high >= low * MONOTONIC_CST[feature] if MONOTONIC_CST[feature] > 0 else high <= low


@SETTINGS
@given(
    dry=st.floats(-5.0, 30.0),
    setpoints=st.tuples(st.floats(16.0, 25.0), st.floats(5.0, 18.0), st.booleans()),
    step=st.floats(0.05, 0.5),
)
def test_cooling_power_never_falls_with_more_it_load_or_warmer_dry_bulb(
    model: CoolingModel, dry: float, setpoints: tuple[float, float, bool], step: float
) -> None:
    it_max = model.condition_max[0]
    rows = np.array(
        [
            [it_max * 0.7, dry, dry - 3.0, *setpoints],
            [it_max * (0.7 + step), dry, dry - 3.0, *setpoints],
            [it_max * 0.7, dry + 10 * step, dry - 3.0, *setpoints],
        ],
        dtype=float,
    )
    cooling = model.predict(rows).cooling_power_w
    assert cooling[1] >= cooling[0] and cooling[2] >= cooling[0]
