"""Which history store a config (or ``--db``) names: the SQLite file, or a shared PostgreSQL database.

``history: {path: ...}`` (the default) is one SQLite file per agent; ``history: {url: postgresql://...}`` writes
into a shared database as agent ``history.agent_id`` (default ``main``, or ``shard-I-of-N`` with ``--shard``)
of site ``site.name``. A shard writes its own contributors only (:func:`shard_history_config`); reads combine
the site's shards (:mod:`agent.history.postgres.combine`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import TYPE_CHECKING, Any

from agent.errors import HistoryError

if TYPE_CHECKING:
    from agent.config.site import HistoryConfig, SiteConfig
    from agent.history.records import HistoryStore
    from agent.site.shard import Shard

__all__ = [
    "agent_id",
    "history_target",
    "is_postgres",
    "open_history_store",
    "shard_history_config",
    "target_label",
]


def is_postgres(target: str | Path | None) -> bool:
    return isinstance(target, str) and target.startswith(("postgresql://", "postgres://"))


def history_target(cfg: SiteConfig | None, base_dir: Path, db: str | Path | None = None) -> str | Path | None:
    """``--db`` (a path or a postgresql:// url) if given, else the config's url or its path (relative to
    ``base_dir``), else None."""
    if db is not None:
        return str(db) if is_postgres(str(db)) else Path(db)
    if cfg is None or cfg.history is None:
        return None
    if cfg.history.url is not None:
        return cfg.history.url.get_secret_value()
    path = cfg.history.path
    return path if path.is_absolute() else base_dir / path


def target_label(target: str | Path) -> str:
    """What to print for a target: a path, or ``postgresql://host:port/db`` (never a password)."""
    if is_postgres(target):
        from agent.history.postgres.store import redacted

        return redacted(str(target))
    return str(target)


def agent_id(history: HistoryConfig | None, shard: Shard | None) -> str:
    if history is not None and history.agent_id is not None:
        return history.agent_id
    return "main" if shard is None else f"shard-{shard.index}-of-{shard.count}"


def _password(history: HistoryConfig | None) -> str | None:
    if history is None:
        return None
    if history.password is not None:
        return history.password.get_secret_value()
    if history.password_env is not None:
        value = os.environ.get(history.password_env)
        if value is None:
            raise HistoryError(f"history.password_env: environment variable {history.password_env} is not set")
        return value
    return None


def shard_history_config(cfg: SiteConfig, shard: Shard) -> SiteConfig:
    """The config a shard's history writer uses: every boundary keeps only this shard's own meters, so its
    site intervals hold its own part of each boundary (complete when its own meters are fresh)."""

    def own(terms: Any) -> Any:
        return tuple(t for t in terms if shard.owns(t.device))

    topo = cfg.topology
    update: dict[str, Any] = {
        name: own(value)
        for name, value in topo
        if isinstance(value, tuple) and all(hasattr(t, "device") for t in value)
    }
    update["zones"] = {
        name: zone.model_copy(update={"it": own(zone.it), "overhead": own(zone.overhead)})
        for name, zone in topo.zones.items()
    }
    return cfg.model_copy(update={"topology": topo.model_copy(update=update)})


def open_history_store(
    cfg: SiteConfig | None,
    base_dir: Path,
    *,
    db: str | Path | None = None,
    readonly: bool = False,
    exclusive: bool = False,
    shard: Shard | None = None,
    site: str | None = None,
) -> HistoryStore:
    """The history store of ``cfg`` (or ``db``): :class:`SqliteHistoryStore` or :class:`PostgresHistoryStore`.

    ``site`` reads (and writes) that site of a shared database (default: ``site.name`` of ``cfg``).

    Raises
    ------
    HistoryError
        no store named, or it cannot be opened (the store's own errors).
    """
    target = history_target(cfg, base_dir, db)
    if target is None:
        raise HistoryError("give --db PATH (or postgresql://...), or --config FILE with a history section")
    history = cfg.history if cfg is not None else None
    if is_postgres(target):
        from agent.history.postgres.store import PostgresHistoryStore

        site_name = site or (cfg.site.name if cfg is not None else None)
        if site_name is None:
            raise HistoryError("a PostgreSQL history holds many sites: give --site NAME or --config FILE")
        has_cooling = True
        if cfg is not None:
            cooling = cfg.topology.cooling
            has_cooling = bool([t for t in cooling if shard is None or shard.owns(t.device)])
        return PostgresHistoryStore(
            str(target),
            site=site_name,
            agent=agent_id(history, shard),
            shard=(1, 1) if shard is None else (shard.index, shard.count),
            has_cooling=has_cooling,
            password=_password(history),
            readonly=readonly,
            exclusive=exclusive,
        )
    if site is not None:
        raise HistoryError("--site names a site of a shared PostgreSQL history; a SQLite file holds one site")
    from agent.history.store import SqliteHistoryStore

    return SqliteHistoryStore(Path(target), readonly=readonly, exclusive=exclusive)
