"""PostgreSQL writes the history writer's batch of polls in one transaction (issue 17), as SQLite does: the
stored rows and rollups are those of polls written one by one, bit for bit, and a failing poll rolls the batch
back, after which the writer writes it poll by poll so that only the failing poll is missing."""

from __future__ import annotations

import time
from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

import psycopg
import pytest

from agent.config.site import SiteConfig
from agent.devices.readings import DeviceSnapshot, Reading
from agent.errors import HistoryBusyError, HistoryError, HistoryLockedError
from agent.history.postgres.store import PostgresHistoryStore
from agent.history.records import DeviceEnergyRow, ReadingRow
from agent.history.writer import HistoryWriter
from agent.site.poller import AgentState, DeviceEnergy

T0 = 1_767_225_600.0 + 3600.0 - 90.0  # 2026-01-01T00:58:30Z: the polls cross an hour (rollups split)
DEVICES = ("pdu-1", "pdu-2", "pdu-3")


def _poll(device: str, k: int) -> tuple[Any, ...]:
    """Poll ``k`` of ``device``: two readings and an energy total that grows by an awkward amount."""
    t = T0 + 30.0 * k + 0.123 * DEVICES.index(device)
    total = 1e9 / 3.0 + k * (7_000.0 / 3.0) * 30.0
    readings = [
        ReadingRow(device, "active_power_w", "", t, 7_000.0 / 3.0),
        ReadingRow(device, "voltage_v", "l=1", t, 0.1 * k),
    ]
    return device, t, True, 0.01 * k, None, readings, [DeviceEnergyRow(device, "energy_j", t, total, total, "counter")]


def _rows(url: str, site: str) -> dict[str, list[tuple[Any, ...]]]:
    """Every row the site wrote, without the site column, in a fixed order."""
    out = {}
    with psycopg.connect(url) as conn:
        for table in ("polls", "device_energy", "device_rollup"):
            rows = conn.execute(f"SELECT * FROM {table} WHERE site = %s", (site,)).fetchall()
            out[table] = sorted((r[1:] for r in rows), key=repr)
    return out


def test_a_batch_stores_what_polls_written_one_by_one_store_bit_for_bit(pg_url: str) -> None:
    single = PostgresHistoryStore(pg_url, site="hall", agent="single")
    batched = PostgresHistoryStore(pg_url, site="hall2", agent="single")
    polls = [_poll(d, k) for k in range(8) for d in DEVICES]
    for poll in polls:
        single.record_poll(*poll)
    with batched.batch():  # the first batch: the devices' previous energy comes from the batch itself
        for poll in polls[:13]:
            batched.record_poll(*poll)
    assert batched.count("polls") == 13
    with batched.batch():  # the second one: from the committed first
        for poll in polls[13:]:
            batched.record_poll(*poll)
    got, want = _rows(pg_url, "hall2"), _rows(pg_url, "hall")
    assert len(want["device_rollup"]) == 3 * len(DEVICES)  # two hours (split at 01:00) and a day each
    assert got == want
    single.close()
    batched.close()


def test_a_failing_poll_rolls_its_batch_back_and_the_next_batch_still_chains_energy(pg_url: str) -> None:
    reference = PostgresHistoryStore(pg_url, site="ref")
    store = PostgresHistoryStore(pg_url, site="hall")
    polls = [_poll(d, k) for k in range(6) for d in DEVICES]
    for poll in polls:
        reference.record_poll(*poll)
    with store.batch():
        for poll in polls[:6]:
            store.record_poll(*poll)
    bad = list(polls[7])
    bad[6] = [bad[6][0]._replace(method="guessed")]  # refused by the server (method CHECK), at commit
    with pytest.raises(HistoryError, match="method"), store.batch():
        for poll in [*polls[6:9], tuple(bad)]:
            store.record_poll(*poll)
    assert store.count("polls") == 6 and store.count("device_energy") == 6  # none of the failed batch
    with store.batch():  # what the staged batch expected as previous energy was not kept
        for poll in polls[6:]:
            store.record_poll(*poll)
    assert _rows(pg_url, "hall") == _rows(pg_url, "ref")
    reference.close()
    store.close()


def test_the_writer_batches_polls_and_only_the_failing_poll_is_missing(cfg: SiteConfig, pg_url: str) -> None:
    store = PostgresHistoryStore(pg_url, site="hall", exclusive=True)
    real_record, real_batch = store.record_poll, store.batch
    batches: list[int] = []

    def record_poll(device: str, timestamp_s: float, *args: Any) -> None:
        if timestamp_s == T0 + 5:  # this poll's energy row is refused by the server when the batch commits
            *head, energy = args
            energy = [e._replace(method="x") for e in energy]
            args = (*head, energy)
        real_record(device, timestamp_s, *args)

    @contextmanager
    def batch() -> Iterator[None]:
        batches.append(store.count("polls"))
        with real_batch():
            yield

    store.record_poll = record_poll  # type: ignore[method-assign,assignment]
    writer = HistoryWriter(store, cfg, linger_s=60.0)
    assert writer._batch is not None  # the writer batches on PostgreSQL
    writer._batch = batch  # counted (store.batch itself is also entered by each poll recorded alone)
    state = AgentState()

    def poll(k: int) -> None:
        t = T0 + k
        state.energy[("ups-a", "energy_j")] = DeviceEnergy(1e6 * k, "counter", t)
        snap = DeviceSnapshot("ups-a", t, 0.1, True, (Reading("energy_j", 1e6 * k),))
        writer.on_snapshot(snap, state)

    poll(0)
    assert writer.flush(timeout_s=30.0)
    for k in range(1, 11):
        poll(k)
        time.sleep(0.005)
    assert writer.flush(timeout_s=30.0)
    assert batches == [1], "the polls were not written as one batch"
    assert writer.write_errors == 1 and writer.dropped == 0
    # the batch was rolled back and written again one by one: every poll but the failing one, once each
    assert store.count("polls") == 10 and store.count("device_energy") == 10
    stored = [r.timestamp_s for r in store.device_energy("ups-a", "energy_j", 0.0, 2e10)]
    assert stored == [T0 + k for k in range(11) if k != 5]
    writer.close()


def test_a_batch_whose_connection_was_lost_is_busy_and_goes_through_on_the_next_attempt(pg_url: str) -> None:
    reference = PostgresHistoryStore(pg_url, site="ref", agent="lost")
    store = PostgresHistoryStore(pg_url, site="hall", agent="lost", exclusive=True)
    polls = [_poll(d, k) for k in range(6) for d in DEVICES]
    for poll in polls:
        reference.record_poll(*poll)
    with store.batch():
        for poll in polls[:9]:
            store.record_poll(*poll)
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pue-agent hall/lost'"
        )
    with pytest.raises(HistoryBusyError, match="connection lost"), store.batch():  # the writer keeps the batch
        for poll in polls[9:]:
            store.record_poll(*poll)
    with store.batch():  # and writes it again: a new session, the writer's lock taken again
        for poll in polls[9:]:
            store.record_poll(*poll)
    assert _rows(pg_url, "hall") == _rows(pg_url, "ref")
    with pytest.raises(HistoryLockedError):
        PostgresHistoryStore(pg_url, site="hall", agent="lost", exclusive=True)
    reference.close()
    store.close()
