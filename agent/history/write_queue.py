"""The history writer's queue: writes run by a thread of their own, in batches, never in the agent loop.

:class:`QueuedWrites` is the machinery under :class:`agent.history.writer.HistoryWriter`: the agent loop
queues a write and goes on; the thread writes them in order. A database busy with another connection holds
the writes back until it is free (nothing is lost unless more than ``max_pending`` wait: then the newest are
dropped and counted); a failed write is counted and logged once, a gap in the history, never a stop.

The thread is woken once per batch, not once per poll: a write queued while the thread waits for work wakes
it, and it lingers ``linger_s`` for the writes that follow (at 10,000 devices a wake-up per poll cost about
a sixth of the agent's CPU). Consecutive batchable writes (polls) then share one transaction where the store
has ``batch()`` (SQLite: one commit writes each shared page once, not once per poll); when one of them fails,
the batch is rolled back and its writes are taken again one at a time, so only the failing one is a gap. A
kill -9 loses what waits in memory either way; :meth:`QueuedWrites.flush` and :meth:`QueuedWrites.close`
cut the linger short.
"""

from __future__ import annotations

import itertools
import logging
import threading
import time
from collections import deque
from collections.abc import Callable
from contextlib import AbstractContextManager

from agent.errors import HistoryBusyError, HistoryError
from agent.export import metric_names as m

__all__ = ["QueuedWrites"]

log = logging.getLogger("agent.history.writer")

#: most polls written in one transaction
_MAX_BATCH = 2000

_Job = tuple[str, Callable[[], object], bool]  # (what, write, batchable)


class QueuedWrites:
    """The write queue and its thread (see the module); subclasses say how to close the store and what state a
    rolled-back batch must restore.

    Attributes
    ----------
    write_errors : writes that failed (read-only, disk full, ...), each a gap in the history
    dropped : writes dropped because ``max_pending`` were already waiting, or still waiting at close
    healthy : False while writes are failing
    pending : writes waiting for the database (a property)
    """

    def __init__(
        self,
        max_pending: int,
        retry_s: float,
        linger_s: float,
        batch: Callable[[], AbstractContextManager[object]] | None = None,
    ) -> None:
        self.write_errors = 0
        self.dropped = 0
        self.healthy = True
        self._max_pending = max_pending
        self._retry_s = retry_s
        self._linger_s = linger_s
        self._idle = False  # the thread waits for work: the next write wakes it (and only that one)
        self._hurry = False  # flush() waits: no lingering
        # writes waiting, oldest first; the head stays queued until it is done with, so flush() can wait;
        # ``_unbatched`` writes are taken one at a time after a batch failed
        self._jobs: deque[_Job] = deque()
        self._batch = batch
        self._unbatched = 0
        self._cond = threading.Condition()
        self._thread: threading.Thread | None = None
        self._closing = False
        self._give_up = threading.Event()
        self._busy_since: float | None = None
        self._overflowing = False

    def _kept(self) -> object:
        """What a batch's writes change outside the database (restored when the batch is rolled back)."""
        return None

    def _restore(self, kept: object) -> None:
        """Put back what :meth:`_kept` returned before a rolled-back batch."""

    def _settled(self) -> None:
        """A batch was committed: what :meth:`_kept` returned is no longer needed."""

    def _close_store(self) -> None:
        """Close the store once the queue is written (or given up on)."""

    @property
    def pending(self) -> int:
        with self._cond:
            return len(self._jobs)

    def flush(self, timeout_s: float | None = None) -> bool:
        """Wait until every queued write is done with (stored, or failed and counted); False on timeout."""
        with self._cond:
            if not self._jobs:  # nothing waits: no hurry left behind for the next write (it would not linger)
                return True
            self._hurry = True  # no lingering: write what waits now
            self._cond.notify_all()
            return self._cond.wait_for(lambda: not self._jobs, timeout_s)

    def close(self, timeout_s: float = 30.0) -> None:
        """Write what is waiting (for up to ``timeout_s`` while the database is busy), then close the store."""
        with self._cond:
            self._closing = True
            self._cond.notify_all()
            thread = self._thread
        if thread is not None:
            thread.join(timeout_s)
            if thread.is_alive():
                self._give_up.set()  # still busy: drop what waits (counted) rather than hang the shutdown
                thread.join(timeout_s)
            if thread.is_alive():
                log.error(
                    "history: the writer is still stuck in the database after %.0f s: not closing it", 2 * timeout_s
                )
                return
        self._close_store()

    def _submit(self, what: str, write: Callable[[], object], batchable: bool = False) -> None:
        with self._cond:
            if self._closing or len(self._jobs) >= self._max_pending:
                self.dropped += 1
                if not self._overflowing:
                    log.error(
                        "history: %d writes already wait for the database: dropping %s and newer ones "
                        "(counted in %s_total) until it catches up",
                        len(self._jobs),
                        what,
                        m.HISTORY_WRITES_DROPPED,
                    )
                    self._overflowing = True
                return
            if self._overflowing:
                log.info("history: queueing writes again after %d dropped", self.dropped)
                self._overflowing = False
            self._jobs.append((what, write, batchable))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="history-writer", daemon=True)
                self._thread.start()
            elif self._idle:  # wake the thread once; it lingers for the writes that follow
                self._idle = False
                self._cond.notify_all()

    def _run(self) -> None:
        while True:
            with self._cond:
                if not self._jobs and not self._closing:
                    self._idle, self._hurry = True, False  # a flush() before now is over: nothing waits
                    self._cond.wait_for(lambda: bool(self._jobs) or self._closing)
                    self._idle = False
                    # gather the batch (flush and close cut it short)
                    self._cond.wait_for(lambda: self._hurry or self._closing, self._linger_s)
                self._hurry = False
                if self._give_up.is_set() and self._jobs:
                    log.error(
                        "history: %d write(s) not stored: the database was still busy at shutdown", len(self._jobs)
                    )
                    self.dropped += len(self._jobs)
                    self._jobs.clear()
                    self._cond.notify_all()
                if not self._jobs:
                    return
                batch = self._take_batch()
            if len(batch) > 1:
                batched = self._attempt_batch(batch)
                if batched is None:  # one of them failed: all rolled back, now one at a time
                    continue
                done = batched
            else:
                done = self._attempt(batch[0][0], batch[0][1])
                if done and self._unbatched:
                    self._unbatched -= 1
            with self._cond:
                if done:
                    for _ in batch:
                        self._jobs.popleft()
                    self._cond.notify_all()
            if not done:
                self._give_up.wait(self._retry_s)

    def _take_batch(self) -> list[_Job]:
        """The head write, with the batchable ones queued right after it (under the lock)."""
        batch = [self._jobs[0]]
        if self._batch is None or self._unbatched or not batch[0][2]:
            return batch
        for job in itertools.islice(self._jobs, 1, _MAX_BATCH):
            if not job[2]:
                break
            batch.append(job)
        return batch

    def _attempt_batch(self, batch: list[_Job]) -> bool | None:
        """Several polls in one transaction: True once done with them, False to try again (busy), None when
        one failed.

        When one fails the batch is rolled back and its writes are taken again one at a time, so only the
        failing one is missing from the history.
        """
        assert self._batch is not None
        kept = self._kept()  # what the rolled-back writes moved on
        try:
            with self._batch():
                for _what, write, _batchable in batch:
                    write()
        except HistoryBusyError as err:
            self._restore(kept)
            self._busy(err)
            return False
        except HistoryError:
            self._restore(kept)
            self._unbatched = len(batch)
            return None
        self._settled()
        self._free()
        return True

    def _attempt(self, what: str, write: Callable[[], object]) -> bool:
        """One try at a queued write: True once done with it, False to try again (the database is busy)."""
        try:
            write()
        except HistoryBusyError as err:
            self._busy(err)
            return False
        except HistoryError as err:
            self._failed(what, err)
            return True
        self._free()
        return True

    def _busy(self, err: HistoryBusyError) -> None:
        if self._busy_since is None:
            self._busy_since = time.monotonic()
            log.warning("history: %s; polling goes on, writes wait (%d now)", err, self.pending)

    def _free(self) -> None:
        """A write went through: say so once after the database was busy."""
        if self._busy_since is not None:
            log.info(
                "history: database free again after %.0f s; writing the %d waiting write(s)",
                time.monotonic() - self._busy_since,
                self.pending,
            )
            self._busy_since = None
        self._succeeded()

    def _guarded(self, what: str, write: Callable[[], object]) -> None:
        try:
            write()
        except HistoryError as err:
            self._failed(what, err)
            return
        self._succeeded()

    def _failed(self, what: str, err: HistoryError) -> None:
        self.write_errors += 1
        if self.healthy:
            log.error("history: cannot record %s, polling goes on without history until it works: %s", what, err)
        self.healthy = False

    def _succeeded(self) -> None:
        if not self.healthy:
            log.info("history: writing again after %d failed write(s)", self.write_errors)
            self.healthy = True
