"""``pue-agent history info``: which history backend a config or ``--db`` names, and what it holds.

Says which partitioning PostgreSQL uses (native monthly partitions; whether TimescaleDB is installed), the
schema version, the retention the config sets and the row counts (:mod:`agent.history.info`). Read-only.
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from agent.errors import ConfigError, HistoryError

__all__ = ["register_info"]


def register_info(sub: Any) -> None:
    """Add ``info`` to the ``pue-agent history`` sub-commands."""
    p = sub.add_parser("info", help="the history backend, schema, partitioning, retention and row counts")
    p.add_argument("--config", type=Path, help="site config (its history section)")
    p.add_argument("--db", help="a SQLite file or postgresql:// url instead of the config's")
    p.add_argument("--site", help="site of a shared PostgreSQL database (default: site.name of --config)")
    p.set_defaults(func=cmd_history_info, handler=cmd_history_info)


def cmd_history_info(args: argparse.Namespace) -> int:
    from agent.config.retention import retention_s
    from agent.history.factory import history_target, open_history_store
    from agent.history.info import describe

    try:
        cfg = None
        if args.config is not None:
            from agent.config.site import load_config

            cfg, _profiles = load_config(args.config)
        base_dir = args.config.parent if args.config is not None else Path.cwd()
        if history_target(cfg, base_dir, args.db) is None:
            raise HistoryError("give --db PATH (or postgresql://...), or --config FILE with a history section")
        store = open_history_store(cfg, base_dir, db=args.db, readonly=True, site=args.site)
        with closing(store):
            lines = describe(store, retention_s(cfg.history) if cfg is not None else None)
    except (ConfigError, HistoryError) as err:
        print(f"pue-agent history info: {err}", file=sys.stderr)
        return 2
    width = max(len(label) for label, _ in lines)
    for label, value in lines:
        print(f"{label:<{width}}  {value}")
    return 0
