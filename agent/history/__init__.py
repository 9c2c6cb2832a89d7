"""Energy history: a SQLite store fed by the agent, exports/imports, auditable PUE reports.

``HistoryWriter(SqliteHistoryStore(path), cfg)`` is the observer the runtime adds; the
``export``, ``import`` and ``report`` sub-commands live in :mod:`agent.app.history_cli`.

The three names load on first use (PEP 562): the writer needs the config's pydantic models and numpy, which
the command line's parser must not import only because it reads a constant from a history module.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from agent.history.records import HistoryStore
    from agent.history.store import SqliteHistoryStore
    from agent.history.writer import HistoryWriter

__all__ = ["HistoryStore", "HistoryWriter", "SqliteHistoryStore"]

_MODULES = {
    "HistoryStore": "agent.history.records",
    "SqliteHistoryStore": "agent.history.store",
    "HistoryWriter": "agent.history.writer",
}


def __getattr__(name: str) -> Any:
    if name not in _MODULES:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    return getattr(importlib.import_module(_MODULES[name]), name)
