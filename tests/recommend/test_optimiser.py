"""Optimiser properties: never leaves bounds or the data's support; respects the inlet limit."""

from __future__ import annotations

import numpy as np
from hypothesis import given, settings
from hypothesis import strategies as st

from models.cooling import CoolingModel
from models.optimiser import SetpointBounds, SetpointSupport, optimise_setpoints
from tests.recommend.conftest import FakePlant

temps = st.floats(min_value=0.0, max_value=30.0, allow_nan=False)


@st.composite
def bounds_strategy(draw: st.DrawFn) -> SetpointBounds:
    s_lo, s_hi = sorted((draw(st.floats(12, 28)), draw(st.floats(12, 28))))
    c_lo, c_hi = sorted((draw(st.floats(3, 20)), draw(st.floats(3, 20))))
    return SetpointBounds(s_lo, s_hi, c_lo, c_hi, draw(st.booleans()))


@st.composite
def support_samples(draw: st.DrawFn) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    n = draw(st.integers(1, 30))
    supply = np.array(draw(st.lists(st.floats(15, 23), min_size=n, max_size=n)))
    chw = np.array(draw(st.lists(st.floats(4, 18), min_size=n, max_size=n)))
    eco = np.array(draw(st.lists(st.booleans(), min_size=n, max_size=n)))
    return supply, chw, eco


@settings(max_examples=150, deadline=None)
@given(
    bounds=bounds_strategy(),
    samples=support_samples(),
    wet_bulb=temps,
    margin=st.sampled_from([0.0, 0.25, 0.5, 1.0]),
    limit=st.floats(20, 30),
)
def test_choice_within_bounds_support_and_limit(bounds, samples, wet_bulb, margin, limit):  # type: ignore[no-untyped-def]
    supply, chw, eco = samples
    support = SetpointSupport.from_samples(supply, chw, eco, cell_k=0.5, margin_k=margin)
    plant = FakePlant(support)
    choice = optimise_setpoints(plant, 800e3, wet_bulb + 2, wet_bulb, bounds, inlet_limit_c=limit)
    if choice is None:
        return
    s, c, e = choice.supply_air_setpoint_c, choice.chw_supply_setpoint_c, choice.economizer_enabled
    assert bounds.contains(s, c)
    assert e is False or bounds.allow_economizer
    assert support.contains(s, c, e)[0]
    same = eco == e
    distance = np.max(np.abs(np.column_stack((supply[same] - s, chw[same] - c))), axis=1).min()
    assert distance <= support.max_distance_k + 1e-9
    assert choice.max_inlet_c + 2.0 * choice.max_inlet_std_c <= limit + 1e-9


def test_fake_plant_optimum_is_warm_water_with_economizer() -> None:
    choice = optimise_setpoints(FakePlant(), 800e3, 8.0, 5.0, SetpointBounds())
    assert choice is not None
    assert choice.economizer_enabled
    assert choice.max_inlet_c + 2 * choice.max_inlet_std_c <= 27.0
    assert choice.chw_supply_setpoint_c >= 15.0


def test_nothing_feasible_returns_none() -> None:
    assert optimise_setpoints(FakePlant(), 800e3, 8.0, 5.0, SetpointBounds(), inlet_limit_c=15.0) is None


@settings(max_examples=25, deadline=None)
@given(it_power=st.floats(6e5, 1e6), wet_bulb=st.floats(-2, 22))
def test_real_model_stays_in_support(model: CoolingModel, it_power: float, wet_bulb: float) -> None:
    bounds = SetpointBounds()
    choice = optimise_setpoints(model, it_power, wet_bulb + 2, wet_bulb, bounds)
    if choice is not None:
        assert bounds.contains(choice.supply_air_setpoint_c, choice.chw_supply_setpoint_c)
        assert model.support.contains(
            choice.supply_air_setpoint_c, choice.chw_supply_setpoint_c, choice.economizer_enabled
        )[0]
        assert choice.max_inlet_c <= 27.0
