"""One agent per history database: an OS lock on the sidecar file ``<database>.lock``.

Two agents writing one database would store every site interval twice (the facility power of two
agents summed). The agent that opens the database for writing holds an exclusive ``flock`` on the
sidecar for as long as it runs; a second one is refused with the holder's pid and host, which the
holder wrote into the sidecar. The kernel releases the lock when the holder exits, however it exits
(kill -9, a crash), so a stale lock never blocks a restart; the sidecar file itself stays.

``flock`` is advisory and local to one machine (and to NFS clients that support it): it guards against
a second agent on the same host or a shared file system, not against other programs writing the file.
"""

from __future__ import annotations

import fcntl
import os
import socket
from datetime import UTC, datetime
from pathlib import Path

from agent.errors import HistoryLockedError, HistoryStoreError

__all__ = ["WriterLock"]


class WriterLock:
    """The exclusive writer lock of one history database, held until :meth:`release`."""

    def __init__(self, path: Path, fd: int) -> None:
        self.path = path
        self._fd: int | None = fd

    @classmethod
    def acquire(cls, database: Path) -> WriterLock:
        """Take the lock of ``database`` or raise.

        Raises
        ------
        HistoryLockedError
            another process holds it (the message names the database, the lock file, pid and host).
        HistoryStoreError
            the lock file cannot be created.
        """
        path = database.with_name(database.name + ".lock")
        try:
            fd = os.open(path, os.O_RDWR | os.O_CREAT | os.O_CLOEXEC, 0o644)
        except OSError as err:
            raise HistoryStoreError(
                f"history database {database}: cannot create its lock file {path}: {err.strerror or err}"
            ) from err
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            holder = os.pread(fd, 512, 0).decode("utf-8", "replace").strip() or "a process that has not said who"
            os.close(fd)
            raise HistoryLockedError(
                f"history database {database} is already written by {holder} (lock {path}); "
                "one agent per history database: stop that agent, or give this one another history.path"
            ) from None
        except OSError as err:
            os.close(fd)
            raise HistoryStoreError(f"history database {database}: cannot lock {path}: {err.strerror or err}") from err
        since = datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
        os.ftruncate(fd, 0)
        os.pwrite(fd, f"pue-agent pid {os.getpid()} on host {socket.gethostname()} since {since}\n".encode(), 0)
        return cls(path, fd)

    def release(self) -> None:
        if self._fd is not None:
            os.close(self._fd)  # closing the descriptor releases the flock
            self._fd = None
