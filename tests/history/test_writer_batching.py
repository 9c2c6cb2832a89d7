"""The history writer's thread is woken once per batch of polls, not once per poll (issue 17: at 10,000
devices a wake-up per poll cost about a sixth of the agent's CPU); flush() does not wait out the linger."""

from __future__ import annotations

import time

from agent.config.site import SiteConfig
from agent.devices.readings import DeviceSnapshot
from agent.history.writer import HistoryWriter
from agent.site.poller import AgentState

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


class CountingStore:
    """Records each poll and how many writes were waiting when it was written."""

    def __init__(self) -> None:
        self.polls: list[float] = []
        self.waiting: list[int] = []
        self.writer: HistoryWriter | None = None

    def record_poll(self, device: str, timestamp_s: float, *_args: object) -> None:
        assert self.writer is not None
        self.waiting.append(self.writer.pending)
        self.polls.append(timestamp_s)

    def last_device_energy(self, *_args: object) -> None:
        return None

    def close(self) -> None:
        pass


def test_a_burst_of_polls_is_written_as_one_batch_and_flush_cuts_the_linger_short(cfg: SiteConfig) -> None:
    store = CountingStore()
    writer = HistoryWriter(store, cfg, linger_s=60.0)  # type: ignore[arg-type]
    store.writer = writer
    state = AgentState()
    writer.on_snapshot(DeviceSnapshot("ups-a", T0, 0.1, True), state)  # starts the thread: written at once
    assert writer.flush(timeout_s=30.0)
    for k in range(1, 21):  # the next polls find the thread waiting: it wakes, then lingers for the rest
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + k, 0.1, True), state)
        time.sleep(0.01)  # polls come apart: a thread woken per poll would write each one alone
    started = time.monotonic()
    assert writer.flush(timeout_s=30.0)
    assert time.monotonic() - started < 30.0  # not the 60 s linger
    assert store.polls == [T0 + k for k in range(21)]  # all of them, in order
    # the thread wrote the burst in one go: all 20 were queued when it took the first of them
    assert store.waiting[1] == 20, store.waiting
    writer.close()
