"""Monotonic energy from misbehaving device accumulators (pure).

Vendors' energy objects wrap (Counter32/Counter64, Gauge32 Wh registers at 2**32), stick at a cap
(Vertiv: 9,999,000 Wh) or reset to zero (Liebert, Eaton, APC "reset energy"). :func:`advance`
turns successive raw readings (already scaled to joules) into a monotonic total and says what
happened, so the collector can export a Prometheus counter that only goes up.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["CounterEvent", "CounterState", "advance"]


class CounterEvent(StrEnum):
    FIRST = "first"
    INCREASE = "increase"
    WRAP = "wrap"
    RESET = "reset"
    CAPPED = "capped"
    IMPLAUSIBLE = "implausible"


@dataclass(frozen=True, slots=True)
class CounterState:
    """Last raw value seen [J] and the monotonic total accumulated so far [J]."""

    last_value_j: float
    total_j: float


def advance(
    state: CounterState | None,
    value_j: float,
    *,
    modulus_j: float | None = None,
    cap_j: float | None = None,
    max_delta_j: float | None = None,
) -> tuple[CounterState, CounterEvent, float]:
    """Fold one new reading into the monotonic total.

    Parameters
    ----------
    state : previous state, or None for the first reading (the total starts at the device value)
    value_j : the device's accumulator now [J]
    modulus_j : where the accumulator wraps to 0 [J] (None: it does not wrap)
    cap_j : where the accumulator sticks [J] (None: no cap)
    max_delta_j : largest physically possible increase since the last reading [J]; a larger
        jump is treated as a glitch and not counted

    Returns
    -------
    (new state, what happened, increase counted [J])
    """
    if state is None:
        return CounterState(value_j, max(value_j, 0.0)), CounterEvent.FIRST, 0.0
    previous = state.last_value_j
    if value_j >= previous:
        delta = value_j - previous
        event = CounterEvent.INCREASE
        if cap_j is not None and value_j >= cap_j and previous >= cap_j:
            delta, event = 0.0, CounterEvent.CAPPED
    elif modulus_j is not None and (modulus_j - previous) + value_j < modulus_j / 2:
        delta, event = (modulus_j - previous) + value_j, CounterEvent.WRAP
    elif cap_j is not None and previous >= cap_j * 0.999:
        # a capped register that rolled over to zero: count what it holds now
        delta, event = value_j, CounterEvent.WRAP
    else:
        # device reset: the accumulator restarted from zero at an unknown moment since the last
        # reading; what it holds now was consumed since then (as Prometheus's rate() assumes)
        delta, event = value_j, CounterEvent.RESET
    if max_delta_j is not None and delta > max_delta_j:
        return CounterState(value_j, state.total_j), CounterEvent.IMPLAUSIBLE, 0.0
    return CounterState(value_j, state.total_j + delta), event, delta
