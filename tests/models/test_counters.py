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


def test_implausible_jump_is_not_counted_but_rebaselines() -> None:
    state = CounterState(last_value_j=0.0, total_j=0.0)
    state, event, delta = advance(state, 1e15, max_delta_j=1e9)
    assert (event, delta, state.total_j, state.last_value_j) == (CounterEvent.IMPLAUSIBLE, 0.0, 0.0, 1e15)
    state, event, delta = advance(state, 1e15 + 10.0, max_delta_j=1e9)
    assert (event, delta) == (CounterEvent.INCREASE, 10.0)


def test_total_never_decreases() -> None:
    state = None
    totals = []
    for value in [5.0, 9.0, 2.0, 2.0, 1e3, 0.0, 7.0]:
        state, _, _ = advance(state, value, modulus_j=None)
        totals.append(state.total_j)
    assert totals == sorted(totals)
