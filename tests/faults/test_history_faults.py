"""The history database turns read-only or its disk fills up while the agent runs.

SQLite's own guards stand in for the operating system (the tests run as root, where chmod does not
stop writes): ``PRAGMA query_only`` gives "attempt to write a readonly database", ``PRAGMA
max_page_count`` gives SQLITE_FULL "database or disk is full". Expected: polling and PUE go on, the
failure is logged once (and once more when writing works again), rows stored before are all there."""

from __future__ import annotations

import asyncio
import logging
import sqlite3
import sys
from pathlib import Path

import pytest

from agent.history import HistoryWriter, SqliteHistoryStore

sys.path.append(str(Path(__file__).resolve().parents[1]))
sys.path.append(str(Path(__file__).resolve().parent))
from netutil import free_udp_range
from sitectl import demo_config, site_and_agent

pytestmark = pytest.mark.e2e


def _break(store: SqliteHistoryStore, how: str) -> None:
    db = store._db  # the store's own connection: the fault must hit its writes
    if how == "read-only":
        db.execute("PRAGMA query_only = ON")
    else:
        pages = db.execute("PRAGMA page_count").fetchone()[0]
        db.execute(f"PRAGMA max_page_count = {pages}")


def _repair(store: SqliteHistoryStore, how: str) -> None:
    db = store._db
    if how == "read-only":
        db.execute("PRAGMA query_only = OFF")
    else:
        db.execute("PRAGMA max_page_count = 1073741823")


def _polls(path: Path) -> int:
    with sqlite3.connect(path) as db:
        return int(db.execute("SELECT count(*) FROM polls").fetchone()[0])


@pytest.mark.parametrize("how", ["read-only", "disk-full"])
def test_history_failure_never_stops_polling_nor_loses_rows(tmp_path: Path, how: str,
                                                             caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="agent")
    cfg, profiles = demo_config(free_udp_range(7))
    path = tmp_path / "history.sqlite"
    store = SqliteHistoryStore(path)
    writer = HistoryWriter(store, cfg)
    counts: dict[str, int] = {}
    pue_while_broken: list[float | None] = []

    async def main() -> None:
        async with site_and_agent(cfg, profiles, observers=[writer]) as (site, agent):
            for _ in range(4):
                site.update()
                await agent.poll_all_once()
                await asyncio.sleep(0.3)
            counts["before"] = _polls(path)
            # grow the file a little so that a full disk bites on the next writes
            _break(store, how)
            for _ in range(12):
                site.update()
                await agent.poll_all_once()
                pue_while_broken.append(agent.state.site.live.value if agent.state.site else None)
                await asyncio.sleep(0.3)
            counts["broken"] = _polls(path)
            assert writer.write_errors >= 12
            if how == "read-only":
                assert not writer.healthy
            _repair(store, how)
            for _ in range(3):
                site.update()
                await agent.poll_all_once()
                await asyncio.sleep(0.3)
            counts["after"] = _polls(path)
            assert all(agent.state.fresh(d.name, agent.state.site.timestamp_s, 2.0) for d in cfg.devices)

    try:
        asyncio.run(main())
    finally:
        writer.close()
    assert counts["before"] == 4 * len(cfg.devices)
    assert counts["broken"] >= counts["before"]  # nothing stored before is lost
    assert counts["after"] >= counts["broken"] + 3 * len(cfg.devices)  # writing works again
    assert all(p is not None for p in pue_while_broken[1:])  # PUE goes on without history
    errors = [r for r in caplog.records if r.levelno >= logging.ERROR and "history" in r.getMessage()]
    again = [r for r in caplog.records if "history: writing again" in r.getMessage()]
    if how == "disk-full":
        # a nearly full disk still takes the writes that fit in free pages: the writer's state flips
        # and it logs each flip (once per state change, as documented), never more than that
        assert 1 <= len(errors) == len(again)
        # SQLite rolls back by itself on SQLITE_FULL: the store no longer hides that behind a failed ROLLBACK
        assert "full" in errors[0].getMessage(), errors[0].getMessage()
        return
    assert len(errors) == 1, [r.getMessage() for r in errors]
    assert "readonly" in errors[0].getMessage() or "read-only" in errors[0].getMessage()
    assert len(again) == 1
