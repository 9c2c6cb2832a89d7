import pytest

from models.counters import CounterEvent, CounterState, advance

KWH = 3.6e6


def test_first_reading_starts_at_device_value() -> None:
    state, event, delta = advance(None, 10 * KWH)
    assert (state.total_j, event, delta) == (10 * KWH, CounterEvent.FIRST, 0.0)


def test_increase_accumulates() -> None:
    state, _, _ = advance(None, 100.0)
    state, event, delta = advance(state, 150.0)
    assert (state.total_j, event, delta) == (150.0, CounterEvent.INCREASE, 50.0)


def test_counter32_wrap_counts_across_the_modulus() -> None:
    modulus = 2**32 * 3600.0  # Raritan: Gauge32 Wh register
    state = CounterState(last_value_j=modulus - 1000.0, total_j=5e9)
    state, event, delta = advance(state, 500.0, modulus_j=modulus)
    assert event is CounterEvent.WRAP
    assert delta == pytest.approx(1500.0)
    assert state.total_j == pytest.approx(5e9 + 1500.0)


def test_reset_counts_what_the_device_holds_now() -> None:
    state = CounterState(last_value_j=1e9, total_j=2e9)
    state, event, delta = advance(state, 2000.0, modulus_j=2**32 * 1.0)
    assert event is CounterEvent.RESET
    assert delta == 2000.0 and state.total_j == 2e9 + 2000.0


def test_capped_register_adds_nothing_while_stuck() -> None:
    cap = 9_999_000 * 3600.0  # Vertiv caps at 9,999,000 Wh
    state = CounterState(last_value_j=cap, total_j=cap)
    state, event, delta = advance(state, cap, cap_j=cap)
    assert (event, delta) == (CounterEvent.CAPPED, 0.0)


METER_W = 20e6  # janitza-umg's ceiling
STEP_J = 360_000.0  # one 0.1 kWh step of the register


def test_small_step_back_is_a_glitch_not_a_reset() -> None:
    """Issue 19: a 0.3 kWh step back on a meter at 108.6 kWh was taken as a reset and added 391 MJ."""
    state = CounterState(last_value_j=108.6 * KWH, total_j=5e12, last_s=100.0)
    state, event, delta = advance(state, 108.3 * KWH, at_s=101.0, max_rate=METER_W, resolution_j=STEP_J)
    assert (event, delta, state.total_j) == (CounterEvent.GLITCH, 0.0, 5e12)
    assert state.last_value_j == 108.6 * KWH  # the high-water mark is kept
    # still below the mark: nothing counted; back above it: only the energy above the mark is counted
    state, event, delta = advance(state, 108.5 * KWH, at_s=102.0, max_rate=METER_W, resolution_j=STEP_J)
    assert (event, delta) == (CounterEvent.GLITCH, 0.0)
    state, event, delta = advance(state, 108.7 * KWH, at_s=103.0, max_rate=METER_W, resolution_j=STEP_J)
    assert event is CounterEvent.INCREASE and delta == pytest.approx(0.1 * KWH)
    assert state.total_j == pytest.approx(5e12 + 0.1 * KWH)


def test_step_back_without_a_ceiling_is_a_glitch_unless_it_halves_the_register() -> None:
    state = CounterState(last_value_j=1000.0 * KWH, total_j=0.0)
    assert advance(state, 999.7 * KWH)[1] is CounterEvent.GLITCH
    assert advance(state, 2.0 * KWH)[1] is CounterEvent.RESET


def test_drop_to_near_zero_is_a_reset() -> None:
    state = CounterState(last_value_j=108.6 * KWH, total_j=5e12, last_s=100.0)
    # 15 s at the 20 MW ceiling could have counted 83 kWh since a restart: 0.2 kWh is a reset
    state, event, delta = advance(state, 0.2 * KWH, at_s=115.0, max_rate=METER_W, resolution_j=STEP_J)
    assert (event, delta) == (CounterEvent.RESET, 0.2 * KWH)
    assert state.total_j == 5e12 + 0.2 * KWH and state.last_value_j == 0.2 * KWH


def test_drop_to_more_than_the_ceiling_allows_since_a_restart_is_a_glitch() -> None:
    pdu_w = 100e3
    state = CounterState(last_value_j=500.0 * KWH, total_j=0.0, last_s=0.0)
    # a restart 1 s ago at 100 kW could hold at most 0.03 kWh (+ one 0.1 kWh step): 100 kWh is not a reset
    _state, event, delta = advance(state, 100.0 * KWH, at_s=1.0, max_rate=pdu_w, resolution_j=STEP_J)
    assert (event, delta) == (CounterEvent.GLITCH, 0.0)


def test_wrap_wins_over_reset_when_plausible_and_loses_when_not() -> None:
    modulus = 2**32 * 3600.0
    state = CounterState(last_value_j=modulus - 3600.0, total_j=0.0, last_s=0.0)
    _s, event, delta = advance(state, 3600.0, at_s=1.0, modulus_j=modulus, max_rate=300e3, resolution_j=3600.0)
    assert (event, delta) == (CounterEvent.WRAP, 7200.0)
    # a Counter32 reset to 0 from mid-range is not a wrap of 2^31 Wh in one second
    state = CounterState(last_value_j=modulus / 2 + 1e9, total_j=0.0, last_s=0.0)
    _s, event, delta = advance(state, 0.0, at_s=1.0, modulus_j=modulus, max_rate=300e3, resolution_j=3600.0)
    assert (event, delta) == (CounterEvent.RESET, 0.0)


def test_implausible_jump_is_held_not_counted() -> None:
    state = CounterState(last_value_j=1e9, total_j=0.0, last_s=0.0)
    held, event, delta = advance(state, 2**31 * 3.6e5, at_s=1.0, max_rate=METER_W, resolution_j=STEP_J)
    assert (event, delta, held) == (CounterEvent.IMPLAUSIBLE, 0.0, state)
    # the spike was one bad answer: the next plausible reading counts from the mark
    state, event, delta = advance(held, 1e9 + 1e6, at_s=2.0, max_rate=METER_W, resolution_j=STEP_J)
    assert (event, delta, state.total_j) == (CounterEvent.INCREASE, 1e6, 1e6)


def test_a_hold_ends_at_the_new_level_after_hold_s() -> None:
    state = CounterState(last_value_j=1000.0 * KWH, total_j=7.0, last_s=0.0)
    state, event, _ = advance(state, 900.0 * KWH, at_s=10.0, max_rate=1e3, hold_s=60.0)
    assert event is CounterEvent.GLITCH
    state, event, delta = advance(state, 900.0 * KWH, at_s=61.0, max_rate=1e3, hold_s=60.0)
    assert (event, delta, state.total_j, state.last_value_j) == (CounterEvent.REBASED, 0.0, 7.0, 900.0 * KWH)
    state, event, delta = advance(state, 900.1 * KWH, at_s=421.0, max_rate=1e3, hold_s=60.0)
    assert event is CounterEvent.INCREASE and delta == pytest.approx(0.1 * KWH)


def test_resolution_step_is_not_implausible() -> None:
    # a 0.1 kWh register of a 5 kW PDU read 1 s apart ticks by one step: 360 kJ in 1 s is not 360 kW
    state = CounterState(last_value_j=10 * STEP_J, total_j=0.0, last_s=0.0)
    _s, event, delta = advance(state, 11 * STEP_J, at_s=1.0, max_rate=100e3, resolution_j=STEP_J)
    assert (event, delta) == (CounterEvent.INCREASE, STEP_J)


def test_total_never_decreases() -> None:
    state = None
    totals = []
    for value in [5.0, 9.0, 2.0, 2.0, 1e3, 0.0, 7.0]:
        state, _, _ = advance(state, value, modulus_j=None)
        totals.append(state.total_j)
    assert totals == sorted(totals)
