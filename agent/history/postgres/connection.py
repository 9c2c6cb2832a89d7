"""The PostgreSQL history database: connection (a secret url), schema migration at open, agent registration,
the writer's advisory lock, transactions and monthly partitions; the store is :mod:`agent.history.postgres.store`.
"""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from contextlib import ExitStack, contextmanager
from typing import Any

import psycopg
from psycopg import errors as pg_errors

from agent.errors import HistoryBusyError, HistoryError, HistoryLockedError, HistoryQueryError, HistoryStoreError
from agent.history.postgres import schema
from agent.history.records import SiteRollup

__all__ = ["PostgresDatabase", "redacted"]

log = logging.getLogger(__name__)


def redacted(url: str) -> str:
    """``host:port/dbname`` of a connection string: what messages may show (never the password)."""
    try:
        parts = psycopg.conninfo.conninfo_to_dict(url)
    except psycopg.ProgrammingError:
        return "postgresql://(unparsable url)"
    host = parts.get("host") or "localhost"
    port = parts.get("port") or "5432"
    return f"postgresql://{host}:{port}/{parts.get('dbname') or parts.get('user') or ''}"


class PostgresDatabase:
    """One PostgreSQL history database opened (and migrated) as ``agent`` of ``site``.

    Parameters
    ----------
    url : ``postgresql://user@host:port/dbname`` (libpq URL or key=value string)
    site : the site's name (every row's key, and what reads combine)
    agent : this writer's id within the site (``main``, ``shard-1-of-2``)
    shard : (index, count) of this agent; ``(1, 1)`` for an agent polling the whole site
    has_cooling : this agent owns cooling meters (the site's cooling combines over those only)
    password : when not in ``url``
    readonly : reads only: the schema must exist and be current; nothing is registered
    exclusive : the agent's writer: hold this site/agent's advisory lock until :meth:`close`

    Raises
    ------
    HistoryStoreError
        cannot connect, or the schema is newer than this pue-agent (upgrade it) or missing when reading.
    HistoryLockedError
        ``exclusive`` and another process already writes as this site/agent.
    """

    def __init__(
        self,
        url: str,
        *,
        site: str,
        agent: str = "main",
        shard: tuple[int, int] = (1, 1),
        has_cooling: bool = True,
        password: str | None = None,
        readonly: bool = False,
        exclusive: bool = False,
    ) -> None:
        self.url = url
        self.where = redacted(url)
        self.path = self.where  # what messages name (SqliteHistoryStore's path)
        self.site = site
        self.agent = agent
        self.shard = shard
        self.has_cooling = has_cooling
        self.readonly = readonly
        self._exclusive = exclusive
        self._password = password
        self._months: set[str] = set()
        self._last_energy: dict[tuple[str, str], tuple[float, float]] = {}
        #: the last site_rollups answer of a read-only store (a report asks for the same rollups twice)
        self._memo: dict[tuple[object, ...], list[SiteRollup]] = {}
        self._db = self._connect()
        try:
            schema.migrate(self._db, self.where, readonly=readonly)
            if not readonly:
                self.partitioning = schema.partitioning(self._db)
                self._register()
                if exclusive:
                    self._lock()
        except psycopg.Error as err:
            self._db.close()
            raise self._translate(err) from err
        except BaseException:
            self._db.close()
            raise

    # --- connection ------------------------------------------------------------------------------
    def _connect(self) -> psycopg.Connection[Any]:
        extra: dict[str, Any] = {"connect_timeout": 10, "application_name": f"pue-agent {self.site}/{self.agent}"}
        if self._password is not None:
            extra["password"] = self._password
        try:
            return psycopg.connect(self.url, autocommit=True, **extra)
        except psycopg.Error as err:
            raise HistoryStoreError(f"history database {self.where}: cannot connect: {self._scrub(err)}") from None

    def _scrub(self, err: BaseException) -> str:
        text = str(err).strip().replace("\n", " ")
        for secret in (self._password, self.url):
            if secret:
                text = text.replace(secret, "***")
        return text

    def _translate(self, err: psycopg.Error) -> HistoryError:
        text = self._scrub(err)
        if isinstance(err, pg_errors.UniqueViolation):
            return HistoryQueryError(f"history database {self.where}: already stored: {text}")
        if isinstance(err, pg_errors.LockNotAvailable | pg_errors.SerializationFailure | pg_errors.DeadlockDetected):
            return HistoryBusyError(f"history database {self.where} is busy: {text}")
        if isinstance(err, psycopg.OperationalError) and (self._db.closed or self._db.broken):
            # the server restarted or the network dropped: the writer keeps the writes and tries again (a write
            # repeated after a commit whose answer was lost is refused by its key or adds nothing)
            return HistoryBusyError(f"history database {self.where}: connection lost, reconnecting: {text}")
        if isinstance(err, pg_errors.ReadOnlySqlTransaction):
            return HistoryStoreError(f"history database {self.where} is read-only: {text}")
        if isinstance(err, pg_errors.DiskFull):
            return HistoryStoreError(f"history database {self.where}: disk problem: {text}")
        return HistoryStoreError(f"history database {self.where}: {text}")

    def _register(self) -> None:
        index, count = self.shard
        with self._db.transaction():
            row = self._db.execute(
                "SELECT shard_index, shard_count FROM history_agent WHERE site = %s AND agent = %s FOR UPDATE",
                (self.site, self.agent),
            ).fetchone()
            if row is not None and (row[0], row[1]) != (index, count):
                raise HistoryStoreError(
                    f"history database {self.where}: agent {self.agent!r} of site {self.site!r} was shard "
                    f"{row[0]}/{row[1]}, now {index}/{count}: its stored rows would be counted in the wrong "
                    "shard; give this agent another history.agent_id"
                )
            self._db.execute(
                "INSERT INTO history_agent (site, agent, shard_index, shard_count, has_cooling) "
                "VALUES (%s, %s, %s, %s, %s) ON CONFLICT (site, agent) DO UPDATE SET "
                "has_cooling = excluded.has_cooling, last_seen = now()",
                (self.site, self.agent, index, count, self.has_cooling),
            )

    def _lock(self) -> None:
        row = self._db.execute(
            "SELECT pg_try_advisory_lock(hashtext(%s), hashtext(%s))", (self.site, self.agent)
        ).fetchone()
        if row is None or not row[0]:
            raise HistoryLockedError(
                f"history database {self.where}: another pue-agent already writes as agent {self.agent!r} of site "
                f"{self.site!r} (give each agent its own history.agent_id, or --shard I/N)"
            )

    @contextmanager
    def transaction(self, *, pipeline: bool = False) -> Iterator[psycopg.Cursor[Any]]:
        """One transaction; ``pipeline``: its statements are sent without waiting for each answer (a poll's
        write is one round trip or two; no COPY, and ``rowcount`` is not known)."""
        if self.readonly:
            raise HistoryStoreError(f"history database {self.where} was opened read-only")
        if self._db.closed or self._db.broken:
            self._reconnect()
        try:
            with ExitStack() as stack:
                if pipeline:
                    stack.enter_context(self._db.pipeline())
                stack.enter_context(self._db.transaction())
                yield stack.enter_context(self._db.cursor())
        except psycopg.Error as err:
            self._months.clear()  # a partition created in the rolled-back transaction is gone
            self._last_energy.clear()
            raise self._translate(err) from err

    def _reconnect(self) -> None:
        """A new session after the server restarted or the network dropped; the writer's lock taken again (a
        read that reconnects first must not leave the writer's session without it)."""
        try:
            self._db = self._connect()
        except HistoryStoreError as err:
            raise HistoryBusyError(f"{err} (writes wait)") from None
        if self._exclusive:
            self._lock()

    def partition(self, cur: psycopg.Cursor[Any], epoch_s: float) -> None:
        """Create the month's partitions of ``epoch_s`` if this store has not seen them (in the transaction)."""
        suffix, _lo, _hi = schema.month_bounds(epoch_s)
        if suffix in self._months:
            return
        cur.execute("SELECT pg_advisory_xact_lock(%s)", (schema.MIGRATION_LOCK,))
        for ddl in schema.partition_ddl(epoch_s):
            cur.execute(ddl.encode())
        self._months.add(suffix)

    # --- writes ------------------------------------------------------------------------------------
    def query(self, sql: str, params: Sequence[object] = ()) -> list[tuple[Any, ...]]:
        try:
            if self._db.closed or self._db.broken:
                self._reconnect()
            return list(self._db.execute(sql.encode(), params).fetchall())
        except psycopg.Error as err:
            raise self._translate(err) from err

    def close(self) -> None:
        try:
            self._db.close()  # ends the session: its advisory lock goes with it
        except psycopg.Error as err:
            raise self._translate(err) from err
