"""Device polls on one asyncio timer: a heap of due times instead of one APScheduler job per device.

At 10,000 devices an APScheduler job per device cost about a fifth of the agent's CPU (its job store
re-sorted a 10,000-entry list and dispatched events at every run). Here every device is one heap entry,
one ``loop.call_at`` timer waits for the earliest, and each firing starts every poll due within
:data:`BATCH_S` of it, so a site of 10,000 devices at a 15 s interval wakes the loop about 100 times a
second rather than 670. The periodic site tick and retraining stay APScheduler jobs
(:meth:`agent.app.runtime.Agent.start_scheduler`).

Each device keeps a fixed phase (a stable hash of its name), so polls are spread over the interval. With a
long interval every device is also read once within the first seconds (the first PUE comes quickly) and
then polls on its own phase. A poll still running when the next is due is skipped and counted (the caller's
``start`` says so); a loop that fell behind polls each late device once, at the next grid point after now,
not in a burst of catch-up polls (:func:`agent.app.runtime.next_due_s` semantics).
"""

from __future__ import annotations

import asyncio
import heapq
import time
import zlib
from collections.abc import Callable, Sequence

__all__ = ["BATCH_S", "PollSchedule", "first_window_s", "phase"]

#: polls due within this long of a timer firing start with it [s] (one loop wake-up for several polls)
BATCH_S = 0.01


def phase(device: str) -> float:
    """The device's fixed share of the interval, from a stable hash of its name, in [0, 1)."""
    return (zlib.crc32(device.encode()) % 1000) / 1000


def first_window_s(interval_s: float, devices: int) -> float:
    """The start-up reads go out within 5 s, or at about 1,000 devices/s on large sites.

    A burst of 10,000 in 5 s overran a loopback snmpd farm in bench/site_scale.py: a few timed out.
    """
    return min(interval_s, max(5.0, devices / 1000.0))


class PollSchedule:
    """When each device is polled; ``start(device)`` launches one poll (it counts a skip when one is running).

    The heap holds ``(due [loop time], sequence, device, periodic)``: a start-up read is not periodic, a
    periodic entry is pushed again one interval on after it fires.
    """

    def __init__(self, interval_s: float, start: Callable[[str], object]) -> None:
        self.interval_s = interval_s
        self._start = start
        self._heap: list[tuple[float, int, str, bool]] = []
        self._seq = 0
        self._timer: asyncio.TimerHandle | None = None
        self._loop: asyncio.AbstractEventLoop | None = None
        self._periodic_due: dict[str, float] = {}

    def begin(self, devices: Sequence[str]) -> None:
        """Schedule ``devices`` from now (call in the running loop)."""
        loop = self._loop = asyncio.get_running_loop()
        now = loop.time()
        interval = self.interval_s
        window = first_window_s(interval, len(devices))
        for device in devices:
            share = phase(device)
            first = now + share * window
            if interval <= window:
                self._push(first, device, True)
                continue
            # longer intervals: read every device once within the first seconds, then spread its polls over
            # the whole interval rather than bunching them into its first few seconds (10,000 devices at 15 s:
            # 670 polls/s, not 2,000/s and then nothing)
            self._push(first, device, False)
            self._push(now + window + share * interval, device, True)
        self._arm()

    def stop(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None
        self._heap.clear()
        self._periodic_due.clear()
        self._loop = None

    def next_due_s(self) -> dict[str, float]:
        """Each device's next periodic poll, as wall-clock time [s since the epoch]."""
        if self._loop is None:
            return {}
        offset = time.time() - self._loop.time()
        return {device: due + offset for device, due in self._periodic_due.items()}

    def _push(self, due: float, device: str, periodic: bool) -> None:
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, device, periodic))
        if periodic:
            self._periodic_due[device] = due

    def _arm(self) -> None:
        if self._heap and self._loop is not None:
            self._timer = self._loop.call_at(self._heap[0][0], self._fire)

    def _fire(self) -> None:
        loop = self._loop
        if loop is None:
            return
        now = loop.time()
        heap, interval = self._heap, self.interval_s
        due_by = now + BATCH_S
        while heap and heap[0][0] <= due_by:
            due, _seq, device, periodic = heapq.heappop(heap)
            if periodic:
                nxt = due + interval
                if nxt < now:  # fell behind by more than an interval: the next grid point after now, once
                    nxt = due + (int((now - due) // interval) + 1) * interval
                self._push(nxt, device, True)
            self._start(device)
        self._arm()
