"""Scheduled retraining from the agent's own history store (a real SQLite file)."""

from __future__ import annotations

import asyncio
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from agent.config.site import RecommenderConfig
from agent.control.retrain import Retrainer

EXE = str(Path(sys.executable).with_name("pue-agent"))


class Controller:
    def __init__(self) -> None:
        self.rcfg = RecommenderConfig(
            min_savings_w=500.0, min_savings_fraction=0.01, min_confidence=0.7, max_step_c=0.5
        )
        self.recommender = None


@pytest.fixture(scope="module")
def store(tmp_path_factory: pytest.TempPathFactory) -> Path:
    tmp = tmp_path_factory.mktemp("retrain")
    csv_path, db = tmp / "h.csv", tmp / "h.sqlite"
    sim = subprocess.run(
        [
            EXE,
            "twin",
            "simulate",
            "--days",
            "21",
            "--step-min",
            "15",
            "--explore-c",
            "2",
            "--seed",
            "3",
            "--out",
            str(csv_path),
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert sim.returncode == 0, sim.stderr
    imp = subprocess.run(
        [EXE, "import", "--history", str(csv_path), "--db", str(db)], capture_output=True, text=True, timeout=300
    )
    assert imp.returncode == 0, imp.stderr
    return db


def test_retrain_fits_a_model_from_the_store_and_swaps_it_in(store: Path, tmp_path: Path) -> None:
    controller = Controller()
    end = datetime(2026, 1, 22, tzinfo=UTC).timestamp()
    retrainer = Retrainer(store, controller, window_days=28, clock=lambda: end, model_dir=tmp_path / "model")
    outcome = asyncio.run(retrainer.run_once())
    assert outcome.ok, outcome.message
    assert outcome.rows >= 20 * 96  # 21 days of complete 15-min intervals, less edges
    assert controller.recommender is not None and controller.recommender.model.version == outcome.model_version
    # the configured online rules reach the recommender
    r = controller.recommender
    assert (r.min_savings_w, r.min_savings_fraction, r.min_confidence, r.max_step_c) == (500.0, 0.01, 0.7, 0.5)
    assert (tmp_path / "model").is_dir()
    # a second retraining keeps the recommender object (and its rate-limit state), swaps the model
    recommender = controller.recommender
    assert asyncio.run(retrainer.run_once()).ok and controller.recommender is recommender


def test_retrain_without_data_keeps_the_current_model_and_says_why(store: Path) -> None:
    controller = Controller()
    long_after = datetime(2027, 6, 1, tzinfo=UTC).timestamp()
    outcome = asyncio.run(Retrainer(store, controller, window_days=7, clock=lambda: long_after).run_once())
    assert not outcome.ok and "kept the current model" in outcome.message
    assert controller.recommender is None


def test_retrain_reads_a_postgresql_history_like_the_sqlite_one(store: Path, pg_url: str) -> None:
    """``run`` with ``history.url``: the same 21 days imported into PostgreSQL give the fit the same training
    table as the SQLite history does (the fit itself is the same code, and slow: it is stubbed here)."""
    from agent.history.importer import import_history
    from agent.history.postgres.store import PostgresHistoryStore

    target = PostgresHistoryStore(pg_url, site="retrain")
    assert import_history(target, store.parent / "h.csv", it_category=1) > 0
    target.close()
    end = datetime(2026, 1, 22, tzinfo=UTC).timestamp()
    tables = []

    def fit(table: Any) -> Any:
        tables.append(table)
        raise ValueError("stub: the table is what this test compares")

    for opener in (None, lambda: PostgresHistoryStore(pg_url, site="retrain", readonly=True)):
        label = "postgresql://x@h/db" if opener else store
        outcome = asyncio.run(
            Retrainer(label, Controller(), 28, clock=lambda: end, fit=fit, open_store=opener).run_once()
        )
        assert not outcome.ok and "stub" in outcome.message
    sqlite_table, pg_table = tables
    assert len(sqlite_table.epoch_s) == len(pg_table.epoch_s) >= 20 * 96 - 2 * 96  # less the 2-day hold-out
    assert np.array_equal(sqlite_table.epoch_s, pg_table.epoch_s)
    assert sqlite_table.columns.keys() == pg_table.columns.keys()
    for name, values in sqlite_table.columns.items():
        assert np.array_equal(values, pg_table.columns[name], equal_nan=True), name
