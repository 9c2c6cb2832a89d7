"""Energy history: a SQLite store fed by the agent, exports/imports, auditable PUE reports.

``HistoryWriter(SqliteHistoryStore(path), cfg)`` is the observer the runtime adds; the
``export``, ``import`` and ``report`` sub-commands live in :mod:`agent.app.history_cli`.
"""

from agent.history.records import HistoryStore
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter

__all__ = ["HistoryStore", "HistoryWriter", "SqliteHistoryStore"]
