"""Polls staged for one PostgreSQL transaction: the history writer's batch (issue 17) and a single poll alike.

:meth:`PostgresHistoryStore.batch <agent.history.postgres.store.PostgresHistoryStore.batch>` collects the polls
queued together (the writer's 0.1 s linger) in a :class:`PollBatch`; they are then written in one transaction,
one ``executemany`` per table (polls with their readings, device energy, device rollups), sent in pipeline
mode: a few round trips for the whole batch instead of one or two per poll. The statements and their order per
table are those of a poll written alone, so the stored rows and rollup sums are the same, bit for bit. The
transaction is all or nothing: a failing poll fails the batch, and the writer then writes its polls one by one
(:mod:`agent.history.write_queue`), so only the failing one is missing.

The device rollups need each device quantity's previous energy: the batch's own newest row of it, else the
store's cache of what was committed, else the database. What the batch staged becomes the cache only once its
transaction has committed.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

from agent.errors import HistoryQueryError
from agent.history.records import DeviceEnergyRow, ReadingRow
from agent.history.rows import iso, split_buckets

__all__ = ["DEVICE_ROLLUP_UPSERT", "ENERGY_UPSERT", "POLL_UPSERT", "PollBatch"]

POLL_UPSERT = (
    "INSERT INTO polls VALUES (%s, %s, %s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (site, device, ts_s, agent) DO UPDATE SET ok = excluded.ok, "
    "duration_s = excluded.duration_s, error_kind = excluded.error_kind, "
    "quantities = excluded.quantities, labels = excluded.labels, vals = excluded.vals"
)
ENERGY_UPSERT = (
    "INSERT INTO device_energy VALUES (%s, %s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (site, device, quantity, ts_s, agent) DO UPDATE SET total_j = excluded.total_j, "
    "agent_total_j = excluded.agent_total_j, method = excluded.method"
)
DEVICE_ROLLUP_UPSERT = (
    "INSERT INTO device_rollup AS d VALUES (%s, %s, %s, %s, %s, %s, %s) "
    "ON CONFLICT (site, device, quantity, resolution_s, start_s, agent) DO UPDATE SET "
    "energy_j = d.energy_j + excluded.energy_j"
)

#: (timestamp [s], total [J]) of a device quantity's newest stored energy row
Previous = tuple[float, float]


@dataclass
class PollBatch:
    """The rows of the polls staged for one transaction, in the order they were recorded.

    ``key`` is (site, agent); ``previous`` answers a device quantity's newest committed energy (cache or
    database) for one the batch has not seen yet.
    """

    key: tuple[str, str]
    previous: Callable[[str, str], Previous | None]
    polls: list[tuple[object, ...]] = field(default_factory=list)
    energy: list[tuple[object, ...]] = field(default_factory=list)
    rollups: list[tuple[object, ...]] = field(default_factory=list)
    #: the UTC times whose month partitions the rows need
    times_s: set[float] = field(default_factory=set)
    #: the newest energy row of each device quantity once this batch is committed
    last_energy: dict[tuple[str, str], Previous] = field(default_factory=dict)

    def add(
        self,
        device: str,
        timestamp_s: float,
        ok: bool,
        duration_s: float,
        error_kind: str | None,
        readings: Sequence[ReadingRow],
        energy: Sequence[DeviceEnergyRow],
    ) -> None:
        """Stage one poll (what :meth:`~agent.history.records.HistoryStore.record_poll` stores)."""
        if any(r.device != device or r.timestamp_s != timestamp_s for r in readings):
            raise HistoryQueryError(f"readings of another poll given with the poll of {device} at {iso(timestamp_s)}")
        self.times_s.add(timestamp_s)
        self.polls.append(
            (
                *self.key,
                device,
                timestamp_s,
                ok,
                duration_s,
                error_kind,
                [r.quantity for r in readings],
                [r.labels for r in readings],
                [r.value for r in readings],
            )
        )
        for row in energy:
            name = (row.device, row.quantity)
            previous = self.last_energy[name] if name in self.last_energy else self.previous(*name)
            self.times_s.add(row.timestamp_s)
            self.energy.append(
                (*self.key, row.device, row.quantity, row.timestamp_s, row.total_j, row.agent_total_j, row.method)
            )
            if previous is None or row.timestamp_s >= previous[0]:
                self.last_energy[name] = (row.timestamp_s, row.total_j)
            if previous is not None and row.timestamp_s > previous[0] and row.total_j >= previous[1]:
                self.rollups += [
                    (*self.key, row.device, row.quantity, resolution, start, (row.total_j - previous[1]) * share)
                    for resolution, start, share in split_buckets(previous[0], row.timestamp_s, (3600, 86400))
                ]
