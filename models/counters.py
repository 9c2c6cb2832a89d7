"""Monotonic energy from misbehaving device accumulators (pure).

Vendors' energy objects wrap (Counter32/Counter64, Gauge32 Wh registers at 2**32), stick at a cap
(Vertiv: 9,999,000 Wh) or reset to zero (Liebert, Eaton, APC "reset energy"). They also glitch: a
register read a little below its last value (a meter re-syncing its sum, a gateway serving a stale
copy) or a jump no device could have drawn. :func:`advance` turns successive raw readings (already
scaled to joules) into a monotonic total and says what happened, so the collector can export a
Prometheus counter that only goes up and mark the energy of a glitch as not known.

A step back is a reset only when the register dropped to near zero: to no more than the device
could have counted since a restart at its ceiling power in the time elapsed, and to less than half
of where it was. Any other step back is a glitch: nothing is counted and the last counted value is
kept as a high-water mark, so the energy is not counted twice when the register comes back above it.
A jump above what the ceiling power allows is not counted either. A register that stays held (below
its high-water mark, or implausibly far above it) for longer than ``hold_s`` has settled at a new
level: counting continues from there (``REBASED``), the step itself never counted.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum

__all__ = ["DEFAULT_HOLD_S", "SUSPECT_EVENTS", "CounterEvent", "CounterState", "advance"]

#: how long a glitch or an implausible jump holds the high-water mark before counting continues from the
#: new level [s]
DEFAULT_HOLD_S = 300.0

#: the shortest time a counter is credited with between two readings [s] (poll timestamps jitter by up
#: to the SNMP round trip, so two readings 0.2 s apart may span a full interval of the device's counting)
_MIN_ELAPSED_S = 1.0


class CounterEvent(StrEnum):
    FIRST = "first"
    INCREASE = "increase"
    WRAP = "wrap"
    RESET = "reset"
    CAPPED = "capped"
    IMPLAUSIBLE = "implausible"
    GLITCH = "glitch"
    REBASED = "rebased"


#: events after which the energy since the previous reading is not known: an interval spanning one is not valid
SUSPECT_EVENTS = frozenset({CounterEvent.IMPLAUSIBLE, CounterEvent.GLITCH, CounterEvent.REBASED})


@dataclass(frozen=True, slots=True)
class CounterState:
    """The last counted raw value [J] (the high-water mark while held), when it was read [s], and the
    monotonic total accumulated so far [J]."""

    last_value_j: float
    total_j: float
    last_s: float = 0.0


def advance(
    state: CounterState | None,
    value_j: float,
    *,
    at_s: float = 0.0,
    modulus_j: float | None = None,
    cap_j: float | None = None,
    max_rate: float | None = None,
    resolution_j: float = 0.0,
    hold_s: float = DEFAULT_HOLD_S,
) -> tuple[CounterState, CounterEvent, float]:
    """Fold one new reading into the monotonic total.

    Parameters
    ----------
    state : previous state, or None for the first reading (the total starts at the device value)
    value_j : the device's accumulator now [J]
    at_s : when ``value_j`` was read [s] (any epoch, the same for every call)
    modulus_j : where the accumulator wraps to 0 [J] (None: it does not wrap)
    cap_j : where the accumulator sticks [J] (None: no cap)
    max_rate : the device's ceiling power [W] (None: unknown, increases are not bounded and a
        step back is a reset whenever it halves the register)
    resolution_j : one step of the register [J]; a reading may be one step ahead of the ceiling power
    hold_s : longest time a glitch or implausible jump holds the last counted value [s]

    Returns
    -------
    (new state, what happened, increase counted [J])
    """
    if state is None:
        return CounterState(value_j, max(value_j, 0.0), at_s), CounterEvent.FIRST, 0.0
    previous = state.last_value_j
    elapsed_s = max(at_s - state.last_s, _MIN_ELAPSED_S)
    max_delta = None if max_rate is None else max_rate * elapsed_s + resolution_j
    event: CounterEvent
    if value_j >= previous:
        delta, event = value_j - previous, CounterEvent.INCREASE
        if cap_j is not None and value_j >= cap_j and previous >= cap_j:
            delta, event = 0.0, CounterEvent.CAPPED
    elif modulus_j is not None and _plausible((modulus_j - previous) + value_j, modulus_j / 2, max_delta):
        delta, event = (modulus_j - previous) + value_j, CounterEvent.WRAP
    elif cap_j is not None and previous >= cap_j * 0.999:
        # a capped register that rolled over to zero: count what it holds now
        delta, event = value_j, CounterEvent.WRAP
    elif value_j < previous / 2 and (max_delta is None or value_j <= max_delta):
        # device reset: the accumulator restarted from zero at an unknown moment since the last
        # reading; what it holds now was consumed since then (as Prometheus's rate() assumes)
        delta, event = value_j, CounterEvent.RESET
    else:
        delta, event = 0.0, CounterEvent.GLITCH
    if event is not CounterEvent.GLITCH and (max_delta is None or delta <= max_delta):
        return CounterState(value_j, state.total_j + delta, at_s), event, delta
    if at_s - state.last_s > hold_s:
        return CounterState(value_j, state.total_j, at_s), CounterEvent.REBASED, 0.0
    held = CounterEvent.GLITCH if event is CounterEvent.GLITCH else CounterEvent.IMPLAUSIBLE
    return state, held, 0.0


def _plausible(delta: float, limit: float, max_delta: float | None) -> bool:
    return delta < limit and (max_delta is None or delta <= max_delta)
