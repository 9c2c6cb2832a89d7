"""The history writer's thread is woken once per batch of polls, not once per poll (issue 17: at 10,000
devices a wake-up per poll cost about a sixth of the agent's CPU); flush() does not wait out the linger."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from agent.config.site import SiteConfig
from agent.devices.readings import DeviceSnapshot, Reading
from agent.errors import HistoryStoreError
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from agent.site.poller import AgentState, DeviceEnergy

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


def _wait_until_idle(writer: HistoryWriter, timeout_s: float = 30.0) -> None:
    deadline = time.monotonic() + timeout_s
    while True:
        with writer._cond:
            if writer._idle:
                return
        assert time.monotonic() < deadline, "the writer thread never went back to waiting"
        time.sleep(0.005)


def test_a_burst_of_polls_is_written_as_one_batch_and_flush_cuts_the_linger_short(cfg: SiteConfig) -> None:
    store = CountingStore()
    writer = HistoryWriter(store, cfg, linger_s=60.0)  # type: ignore[arg-type]
    store.writer = writer
    state = AgentState()
    writer.on_snapshot(DeviceSnapshot("ups-a", T0, 0.1, True), state)  # starts the thread: written at once
    assert writer.flush(timeout_s=30.0)
    _wait_until_idle(writer)  # flush() returns when the write is done, a moment before the thread waits again
    # a flush that finds nothing waiting leaves no hurry behind (it did, and the burst below was not batched
    # whenever the first flush() came after the thread had gone back to waiting)
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


def test_a_batch_is_one_transaction_and_a_failing_poll_in_it_is_the_only_gap(cfg: SiteConfig, tmp_path: Path) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    real_record, real_batch = store.record_poll, store.batch
    batches: list[int] = []
    written: list[float] = []

    def record_poll(device: str, timestamp_s: float, *args: Any) -> None:
        if timestamp_s == T0 + 5:
            raise HistoryStoreError("history database h.sqlite: disk I/O error")
        real_record(device, timestamp_s, *args)
        written.append(timestamp_s)

    @contextmanager
    def batch() -> Iterator[None]:
        batches.append(len(written))
        with real_batch():
            yield

    store.record_poll = record_poll  # type: ignore[method-assign,assignment]
    store.batch = batch  # type: ignore[method-assign]
    writer = HistoryWriter(store, cfg, linger_s=60.0)
    state = AgentState()
    writer.on_snapshot(DeviceSnapshot("ups-a", T0, 0.1, True), state)
    assert writer.flush(timeout_s=30.0)
    for k in range(1, 11):
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + k, 0.1, True), state)
        time.sleep(0.005)
    assert writer.flush(timeout_s=30.0)
    assert batches, "the polls were not written in a batch"
    assert writer.write_errors == 1 and writer.dropped == 0
    # the batch was rolled back and written again one at a time: everything but the failing poll, once each
    assert store.count("polls") == 10
    assert sorted(set(written) - {T0 + 5}) == [T0 + k for k in range(11) if k != 5]
    writer.close()


def _energy_totals(tmp_path: Path, cfg: SiteConfig, fail_at: float | None) -> list[tuple[float, float]]:
    """Polls of ups-a whose agent total drops once (a counter seen from scratch) in the middle of one batch;
    with ``fail_at``, that poll's write fails, the batch rolls back and is written again one poll at a time."""
    store = SqliteHistoryStore(tmp_path / f"h-{fail_at}.sqlite")
    real_record = store.record_poll

    def record_poll(device: str, timestamp_s: float, *args: Any) -> None:
        if timestamp_s == fail_at:
            raise HistoryStoreError("history database h.sqlite: disk I/O error")
        real_record(device, timestamp_s, *args)

    store.record_poll = record_poll  # type: ignore[method-assign,assignment]
    writer = HistoryWriter(store, cfg, linger_s=60.0)
    state = AgentState()
    totals = [0.0, 1e6, 2e6, 3e6, 0.5e6, 1.5e6, 2.5e6, 3.5e6]  # down at k = 4: stored totals must not go down

    def poll(k: int) -> None:
        state.energy[("ups-a", "energy_j")] = DeviceEnergy(totals[k], "counter", T0 + 15 * k)
        writer.on_snapshot(DeviceSnapshot("ups-a", T0 + 15 * k, 0.1, True, (Reading("energy_j", totals[k]),)), state)

    poll(0)
    assert writer.flush(timeout_s=30.0)
    for k in range(1, len(totals)):
        poll(k)
    assert writer.flush(timeout_s=30.0)
    rows = [(r.timestamp_s, r.total_j) for r in store.device_energy("ups-a", "energy_j", 0.0, 2e10)]
    writer.close()
    return rows


def test_a_rolled_back_batch_undoes_the_writers_energy_offsets(cfg: SiteConfig, tmp_path: Path) -> None:
    """The writer's per-quantity offsets (which keep stored totals from going down) are undone with a rolled-back
    batch (issue 17: an undo log, not a copy of both maps per batch): the polls written again store exactly what
    a writer that never failed stores."""
    fail_at = T0 + 15 * 6
    reference = _energy_totals(tmp_path, cfg, None)
    assert [t for _, t in reference] == [0.0, 1e6, 2e6, 3e6, 3e6, 4e6, 5e6, 6e6]
    assert _energy_totals(tmp_path, cfg, fail_at) == [row for row in reference if row[0] != fail_at]
