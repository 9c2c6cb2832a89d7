"""``pue-agent history migrate``: a SQLite history into a shared PostgreSQL database.

The copy and its checks: :mod:`agent.history.postgres.migrate`.

Exit status 0 when every table's rows and energy total were copied equal, 2 otherwise (nothing copied).
"""

from __future__ import annotations

import argparse
import sys
from contextlib import closing
from pathlib import Path
from typing import Any

from agent.app.history_info import register_info
from agent.errors import ConfigError, HistoryError

__all__ = ["register_history"]


def _fail(message: str) -> int:
    print(f"pue-agent history migrate: {message}", file=sys.stderr)
    return 2


def register_history(subparsers: Any) -> None:
    """Add ``history migrate`` to the ``pue-agent`` sub-commands."""
    p = subparsers.add_parser("history", help="history store maintenance (migrate SQLite to PostgreSQL)")
    sub = p.add_subparsers(dest="history_command", required=True)
    m = sub.add_parser("migrate", help="copy a SQLite history into a shared PostgreSQL database, verified")
    m.add_argument("--from", dest="source", type=Path, required=True, help="the SQLite history file")
    m.add_argument("--to", dest="target", required=True, help="postgresql://user@host:5432/dbname")
    m.add_argument("--config", type=Path, help="site config: site name, history.agent_id and password")
    m.add_argument("--site", help="site name in the target (default: site.name of --config)")
    m.add_argument("--agent", help="agent id in the target (default: history.agent_id of --config, else main)")
    m.add_argument("--append", action="store_true", help="add to a target already holding this site/agent")
    m.add_argument(
        "--progress",
        action=argparse.BooleanOptionalAction,
        default=None,
        help="show progress on stderr (default: a bar on a terminal)",
    )
    m.set_defaults(func=cmd_history_migrate, handler=cmd_history_migrate)
    register_info(sub)  # history info: agent/app/history_info.py


def cmd_history_migrate(args: argparse.Namespace) -> int:
    from agent.app.progress import Show, progress
    from agent.history.factory import is_postgres, open_history_store
    from agent.history.postgres.migrate import migrate_sqlite
    from agent.history.postgres.store import PostgresHistoryStore

    if not is_postgres(args.target):
        return _fail("--to must be a postgresql:// url")
    show: Show = "auto" if args.progress is None else "always" if args.progress else "never"
    try:
        cfg = None
        if args.config is not None:
            from agent.config.site import load_config

            cfg, _profiles = load_config(args.config)
        if args.agent is not None and cfg is not None and cfg.history is not None:
            cfg = cfg.model_copy(update={"history": cfg.history.model_copy(update={"agent_id": args.agent})})
        site = args.site or (cfg.site.name if cfg is not None else None)
        if site is None:
            return _fail("give --site NAME or --config FILE")
        if cfg is None:
            target = PostgresHistoryStore(args.target, site=site, agent=args.agent or "main")
        else:
            store = open_history_store(cfg, args.config.parent, db=args.target, site=site)
            assert isinstance(store, PostgresHistoryStore)
            target = store
        with closing(target), progress("migrate", unit="rows", show=show) as step:

            def report(done: int, total: int) -> None:
                step.update(done, total, note=f"{done:,} of {total:,} rows")

            checks = migrate_sqlite(args.source, target, append=args.append, progress=report)
    except (ConfigError, HistoryError) as err:
        return _fail(f"{err} (nothing copied)")
    print(f"{'table':<20} {'rows':>12} {'copied':>12} {'sum (source)':>22} {'sum (copied)':>22}")
    for c in checks:
        print(
            f"{c.table:<20} {c.source_rows:>12,} {c.target_rows:>12,} {c.source_energy:>22.6f} {c.target_energy:>22.6f}"
        )
    print(
        f"migrated {args.source} to {target.where} as site {target.site!r} agent {target.agent!r}: "
        f"{sum(c.target_rows for c in checks):,} rows, every table's rows and energy equal"
    )
    return 0
