"""Retention: raw readings and polls expire after ``history.raw_retention_days``; per-poll device energy and site
intervals stay for ``history.energy_retention_days`` (default: as long as the database), on both backends."""

from __future__ import annotations

import math
from pathlib import Path

import pytest
from pydantic import ValidationError

from agent.config.retention import retention_s
from agent.config.site import HistoryConfig, SiteConfig
from agent.history.factory import open_history_store
from agent.history.records import HistoryStore
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from tests.history.conftest import ROOT, SyntheticSite, make_site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0
DEVICES = ("meter-main", "ups-a", "ups-b")


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return str(tmp_path / "h.sqlite")
    return str(request.getfixturevalue("pg_url"))


def _polled(cfg: SiteConfig, target: str, hours: int) -> HistoryStore:
    store = open_history_store(cfg, ROOT, db=target)  # type: ignore[arg-type]
    site = make_site(cfg, store)
    for k in range(hours * 60 + 1):
        site.step(T0 + 60.0 * k, 60.0)
    site.writer.close()
    return open_history_store(cfg, ROOT, db=target)  # type: ignore[arg-type]


def _energy(store: HistoryStore) -> dict[str, list[float]]:
    return {d: [r.total_j for r in store.device_energy(d, "energy_j", 0, 2e10)] for d in DEVICES}


@pytest.mark.parametrize("energy_cut_h", [-math.inf, 2.0])
def test_device_energy_and_site_intervals_outlive_raw_readings(
    cfg: SiteConfig, backend: str, energy_cut_h: float
) -> None:
    store = _polled(cfg, backend, 4)
    energy, intervals = _energy(store), store.site_intervals(T0, T0 + 5 * HOUR)
    polls, readings = store.count("polls"), store.count("readings")
    assert len(energy["meter-main"]) == 241 and len(intervals) == 240 and readings >= polls > 0

    deleted = store.purge_raw(T0 + 3 * HOUR, T0 + energy_cut_h * HOUR)  # readings older than 3 h

    assert deleted > 0
    assert store.count("polls") <= polls - 3 * 60 * len(DEVICES)  # the first three hours' polls are gone
    assert store.count("readings") < readings
    if energy_cut_h < 0:  # energy and intervals kept: every one, unchanged
        assert _energy(store) == energy
        assert store.site_intervals(T0, T0 + 5 * HOUR) == intervals
    else:  # energy and intervals from 2 h on
        assert all(e == energy[d][-len(e) :] and len(e) in (121, 122) for d, e in _energy(store).items())
        assert store.site_intervals(T0, T0 + 5 * HOUR) == intervals[120:]
    store.close()


def test_a_second_purge_leaves_energy_only_blocks_alone(cfg: SiteConfig, tmp_path: Path) -> None:
    store = _polled(cfg, str(tmp_path / "h.sqlite"), 4)
    assert isinstance(store, SqliteHistoryStore)
    energy = _energy(store)
    first = store.purge_raw(T0 + 3 * HOUR, -math.inf)
    assert first > 0 and store.purge_raw(T0 + 3 * HOUR, -math.inf) == 0
    assert _energy(store) == energy
    store.close()


def test_retention_config_is_explicit() -> None:
    assert retention_s(None) == (35 * 86400.0, math.inf)  # no history section: the defaults
    assert retention_s(HistoryConfig()) == (35 * 86400.0, math.inf)
    assert retention_s(HistoryConfig(raw_retention_days=7, energy_retention_days=3650)) == (7 * 86400.0, 3650 * 86400.0)
    # never shorter than the raw retention: energy cannot expire before the readings beside it
    assert retention_s(HistoryConfig(raw_retention_days=35, energy_retention_days=10))[1] == 35 * 86400.0
    with pytest.raises(ValidationError):
        HistoryConfig(energy_retention_days=0)


@pytest.mark.parametrize("energy_days", [None, 0.02])
def test_the_writer_purges_readings_and_keeps_energy_as_configured(
    cfg: SiteConfig, tmp_path: Path, energy_days: float | None
) -> None:
    """The agent's hourly purge (every minute here) with readings kept 0.01 d (14.4 min)."""
    history = HistoryConfig(raw_retention_days=0.01, energy_retention_days=energy_days)
    cfg = cfg.model_copy(update={"history": history})
    store = SqliteHistoryStore(tmp_path / "h.sqlite")
    site = SyntheticSite(cfg, HistoryWriter(store, cfg, purge_every_s=60.0), dict.fromkeys(DEVICES, 50_000.0))
    for k in range(61):  # an hour of 1-min polls: all of it still in the hot row tables
        site.step(T0 + 60.0 * k, 60.0)
    site.writer.close()  # closes the store too
    store = SqliteHistoryStore(tmp_path / "h.sqlite", readonly=True)
    assert store.count("polls") <= 16 * len(DEVICES)  # about the last 14.4 min
    energy = {d: len(e) for d, e in _energy(store).items()}
    intervals = len(store.site_intervals(T0, T0 + 2 * HOUR))
    if energy_days is None:
        assert energy == dict.fromkeys(DEVICES, 61) and intervals == 60
    else:  # 0.02 d = 28.8 min
        assert all(28 <= n <= 31 for n in energy.values()) and 27 <= intervals <= 30
    store.close()
