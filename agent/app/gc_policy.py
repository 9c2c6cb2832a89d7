"""Python's cyclic garbage collector at site scale (issue 17): no full collection every few seconds.

A poll's snapshot, readings and per-device text live until the device's next poll, so they outlive the young
generations and pile up in the oldest one. At 10,000 devices that made CPython run a full collection every
5-7 s, each walking the 570,000 objects there for 400-860 ms while holding the GIL (measured with
``gc.callbacks`` under ``bench/site_scale.py --devices 10000``): every poll in flight waited that long, which was
the poll latency's p99. None of those collections found anything: the objects are freed by reference counting
when the next poll replaces them.

So ``pue-agent run`` turns the automatic full collections off (the oldest generation's threshold set out of
reach; the young generations are collected as before, a few milliseconds each) and runs one full collection
every ``full_every_s`` from the site tick, so that garbage in reference cycles (rare: an exception kept with its
traceback, say) is still freed, at most that late. That one collection still takes the full time. (Freezing the
survivors at each tick, ``gc.freeze()``, was tried first: the collector then judged the oldest generation small
and collected it more often, 250-340 ms each.)

Process-wide, so only ``pue-agent run`` (and the demo) install it, as an agent observer.
"""

from __future__ import annotations

import gc
import logging
import time
from collections.abc import Callable

from agent.devices.readings import DeviceSnapshot
from agent.site.poller import AgentState, SiteState

__all__ = ["FULL_COLLECTION_EVERY_S", "GcPolicy"]

log = logging.getLogger(__name__)

#: how often the site tick runs a full collection (garbage in reference cycles is freed at most this late) [s]
FULL_COLLECTION_EVERY_S = 3600.0

#: the oldest generation's threshold (generation-1 collections before a full one): out of reach, about a day
#: at 10,000 devices
OLDEST_THRESHOLD_OFF = 1_000_000


class GcPolicy:
    """An agent observer: automatic full collections off while it lives; one every ``full_every_s`` at a site
    tick instead."""

    site_off_loop = False

    def __init__(self, full_every_s: float = FULL_COLLECTION_EVERY_S, clock: Callable[[], float] = time.monotonic):
        self._full_every_s = full_every_s
        self._clock = clock
        self._last_full_s = clock()
        self.full_collections = 0
        self._thresholds = gc.get_threshold()
        gc.set_threshold(self._thresholds[0], self._thresholds[1], OLDEST_THRESHOLD_OFF)

    def close(self) -> None:
        """Automatic full collections as before (``run`` stops; tests run the agent in their own process)."""
        gc.set_threshold(*self._thresholds)

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
        log.debug(
            "full garbage collection: %d unreachable objects, %.0f ms", found, 1000 * (time.perf_counter() - started)
        )
