"""Python's cyclic garbage collector at site scale (issue 17): automatic collections off, one full collection an hour.

A poll's snapshot, readings and per-device text live until the device's next poll, so they outlive the young
generations and pile up in the oldest one; reference counting frees them when the next poll replaces them.
The collector never finds anything in them, but pays for looking:

- **full collections** (the oldest generation): at 10,000 devices CPython ran one every 5-7 s, each walking the
  570,000 objects there for 400-860 ms while holding the GIL (measured with ``gc.callbacks`` under
  ``bench/site_scale.py --devices 10000``): every poll in flight waited that long, which was the poll latency's
  p99;
- **young collections**: every object a poll keeps is examined once in generation 0 and once in generation 1.
  ``gc.callbacks`` in ``bench/pipeline.py --devices 2000`` timed 42 + 43 us of collection per poll (871 and 79
  collections in 26,000 polls); with the collector off the process used 0.373-0.388 instead of 0.459-0.483 ms of
  CPU per poll (-19 %; the site tick thread's share fell from 0.07 to 0.02 ms), and the collections found
  nothing: 0 unreachable objects after 4 rounds of 1,000 devices, 100 of them timing out (2026-12-04).

So ``pue-agent run`` turns automatic collection off and runs one full collection every ``full_every_s`` from the
site tick, so that garbage in reference cycles (none measured; an exception kept with its traceback, say) is
still freed, at most that late; the number found is logged, and a collection that finds more than
:data:`MANY_UNREACHABLE` halves the interval (down to :data:`SHORTEST_EVERY_S`) so that a path that makes cycles
cannot grow the process for an hour. That one collection still takes the full time (hundreds of ms once an
hour). (Freezing the survivors at each tick, ``gc.freeze()``, was tried first, with automatic collections on:
the collector then judged the oldest generation small and collected it more often, 250-340 ms each.)

Process-wide, so only ``pue-agent run`` (and the demo) install it, as an agent observer; :meth:`GcPolicy.close`
puts the collector back as it was.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from agent.devices.readings import DeviceSnapshot
from agent.site.poller import AgentState, SiteState

__all__ = ["FULL_COLLECTION_EVERY_S", "MANY_UNREACHABLE", "SHORTEST_EVERY_S", "GcPolicy"]

log = logging.getLogger(__name__)

#: how often the site tick runs a full collection (garbage in reference cycles is freed at most this late) [s]
FULL_COLLECTION_EVERY_S = 3600.0

#: a full collection that finds more unreachable objects than this halves the interval
MANY_UNREACHABLE = 100_000

#: the shortest interval between full collections the halving reaches [s]
SHORTEST_EVERY_S = 60.0


class GcPolicy:
    """An agent observer: automatic collection off while it lives; a full one every ``full_every_s`` at a site
    tick instead (sooner while collections find much garbage)."""

    site_off_loop = False

    def __init__(self, full_every_s: float = FULL_COLLECTION_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self._full_every_s = full_every_s
        self._clock = clock
        self._last_full_s = clock()
        self.full_collections = 0
        self._was_enabled = gc.isenabled()
        gc.disable()

    @property
    def full_every_s(self) -> float:
        """The interval between full collections now [s]."""
        return self._full_every_s

    def close(self) -> None:
        """Automatic collection as before (``run`` stops; tests run the agent in their own process)."""
        if self._was_enabled:
            gc.enable()

    def on_snapshot(self, snapshot: DeviceSnapshot, state: AgentState) -> None:
        return None

    def on_site(self, site: SiteState, state: AgentState) -> None:
        now = self._clock()
        if now - self._last_full_s < self._full_every_s:
            return
        self._last_full_s = now
        started = time.perf_counter()
        found = gc.collect()
        self.full_collections += 1
        took_ms = 1000 * (time.perf_counter() - started)
        if found > MANY_UNREACHABLE and self._full_every_s > SHORTEST_EVERY_S:
            self._full_every_s = max(SHORTEST_EVERY_S, self._full_every_s / 2)
            log.warning(
                "full garbage collection found %d unreachable objects (%.0f ms): something makes reference cycles; "
                "collecting every %.0f s from now",
                found,
                took_ms,
                self._full_every_s,
            )
        else:
            log.debug("full garbage collection: %d unreachable objects, %.0f ms", found, took_ms)
