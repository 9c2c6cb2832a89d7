"""``pue-agent history info`` and TimescaleDB detection: which backend and partitioning a history uses.

Debian's PostgreSQL has no TimescaleDB: the detection is tested against the real server (native partitions,
said so) and against a database answering that the extension is installed; the path with the extension really
installed runs only where the server offers it (skipped with the reason otherwise).
"""

from __future__ import annotations

import argparse
import logging
import math
from pathlib import Path
from typing import Any

import psycopg
import pytest

from agent.app.history_info import cmd_history_info
from agent.history.info import describe
from agent.history.postgres import schema
from agent.history.postgres.store import PostgresHistoryStore
from agent.history.records import SiteInterval
from agent.history.store import SqliteHistoryStore

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z


def _info(capsys: pytest.CaptureFixture[str], db: str, site: str | None = None) -> str:
    assert cmd_history_info(argparse.Namespace(config=None, db=db, site=site)) == 0
    return capsys.readouterr().out


def _hours(n: int) -> list[SiteInterval]:
    return [SiteInterval(T0 + 3600 * h, 3600, 3600, 1.5e9, 1e9, 0, 0, "imported", 1, "import") for h in range(n)]


def test_sqlite_info_names_the_file_schema_and_rows(tmp_path: Path, capsys: pytest.CaptureFixture[str]) -> None:
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    store.import_site_intervals(_hours(30))
    store.close()
    out = _info(capsys, str(tmp_path / "h.sqlite"))
    assert "SQLite" in out and "schema version       4" in out
    assert "rows: site_interval  30" in out


def test_postgres_without_timescale_says_native_partitions(pg_url: str, capsys: pytest.CaptureFixture[str]) -> None:
    store = PostgresHistoryStore(pg_url, site="s")
    assert store.partitioning == "native"
    store.import_site_intervals(_hours(24 * 40))  # January and February: two partitions per raw table
    lines = dict(describe(store, (35 * 86400.0, math.inf)))
    store.close()
    assert lines["partitioning"] == "native monthly partitions (no TimescaleDB extension in this database)"
    assert "site_interval 2" in lines["partitions"] and lines["rows: site_interval"] == "960"
    assert lines["retention: device energy, site intervals"] == "kept (no limit)"
    out = _info(capsys, pg_url, "s")
    assert "PostgreSQL" in out and "native monthly partitions" in out and "agents" in out


class _Answers:
    """A connection whose catalogue says TimescaleDB 2.17.2 is installed."""

    def execute(self, sql: str, *args: Any) -> Any:
        assert "pg_extension" in sql and "timescaledb" in sql
        return self

    def fetchone(self) -> tuple[str]:
        return ("2.17.2",)


def test_an_installed_timescale_is_detected_and_said_to_be_unused(caplog: pytest.LogCaptureFixture) -> None:
    with caplog.at_level(logging.INFO, logger="agent.history.postgres.schema"):
        assert schema.partitioning(_Answers()) == "timescaledb"
    assert "TimescaleDB 2.17.2 is installed" in caplog.text and "native monthly partitions" in caplog.text


def test_with_timescale_really_installed(pg_url: str) -> None:
    with psycopg.connect(pg_url, autocommit=True) as conn:
        offered = conn.execute("SELECT 1 FROM pg_available_extensions WHERE name = 'timescaledb'").fetchone()
        if offered is None:
            pytest.skip("this PostgreSQL server does not offer TimescaleDB (Debian's postgresql does not package it)")
        conn.execute("CREATE EXTENSION IF NOT EXISTS timescaledb")
    store = PostgresHistoryStore(pg_url, site="s")
    assert store.partitioning == "timescaledb"
    assert "TimescaleDB" in dict(describe(store))["partitioning"]
    store.close()
