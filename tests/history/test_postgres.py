"""The PostgreSQL history backend against a real server (tests/pgserver.py), beside SQLite where both apply:
the writer's known answer, a newer schema refused, shards combined into one site, migration, kill -9."""

from __future__ import annotations

import math
import os
import signal
import subprocess
import sys
import textwrap
import threading
import time
from pathlib import Path

import psycopg
import pytest

from agent.config.site import HistoryConfig, SiteConfig
from agent.errors import HistoryBusyError, HistoryError, HistoryLockedError, HistoryOverlapError, HistoryStoreError
from agent.history.factory import open_history_store, shard_history_config
from agent.history.postgres import schema
from agent.history.postgres.combine import AgentShard, RollupRow, combine_bucket
from agent.history.postgres.store import PostgresHistoryStore
from agent.history.records import DeviceEnergyRow, HistoryStore, ReadingRow, SiteInterval
from agent.history.store import SqliteHistoryStore
from agent.history.writer import HistoryWriter
from agent.site.shard import Shard
from models.metrics import IntervalSeries, period_metrics
from tests.history.conftest import ROOT, SyntheticSite, make_site

T0 = 1_767_225_600.0  # 2026-01-01T00:00:00Z
HOUR = 3600.0
PUE_AGENT = Path(sys.executable).with_name("pue-agent")
POWER_W = {"meter-main": 150_000.0, "ups-a": 60_000.0, "ups-b": 40_000.0}


def _pue(store: HistoryStore, resolution: int, start: float, end: float) -> tuple[float, float]:
    """(PUE, coverage) of [start, end) from the store's rollups, as the report computes it."""
    rows = store.site_rollups(resolution, start, end)
    series = IntervalSeries.from_arrays(
        [r.start_s for r in rows],
        [float(r.resolution_s) for r in rows],
        [r.covered_s for r in rows],
        [r.facility_j for r in rows],
        [r.it_j for r in rows],
    )
    m = period_metrics(series, start, end, min_coverage=0.5)
    assert m.pue is not None
    return m.pue, m.coverage_ratio


@pytest.fixture(params=["sqlite", "postgres"])
def backend(request: pytest.FixtureRequest, tmp_path: Path, cfg: SiteConfig) -> str:
    """A history target of each kind: a SQLite path or a fresh PostgreSQL database."""
    if request.param == "sqlite":
        return str(tmp_path / "h.sqlite")
    return str(request.getfixturevalue("pg_url"))


def _open(cfg: SiteConfig, target: str, **kwargs: object) -> HistoryStore:
    return open_history_store(cfg, ROOT, db=target, **kwargs)  # type: ignore[arg-type]


def test_the_writer_known_answer_on_both_backends(cfg: SiteConfig, backend: str) -> None:
    store = _open(cfg, backend, exclusive=True)
    site = make_site(cfg, store)
    for k in range(121):
        site.step(T0 + 60.0 * k, 60.0, down=frozenset({"ups-b"}) if 50 <= k < 55 else frozenset())
    pue, coverage = _pue(store, 3600, T0, T0 + 2 * HOUR)
    assert pue == pytest.approx(1.5, rel=1e-9)
    assert coverage == pytest.approx((120 - 6) / 120, rel=1e-9)  # 6 intervals touch ups-b's silence
    totals = [r.total_j for r in store.device_energy("meter-main", "energy_j", 0, 2e10)]
    assert totals == sorted(totals) and totals[-1] - totals[0] == pytest.approx(150_000.0 * 7200, rel=1e-9)
    site.writer.close()


def test_imports_purges_and_polls_with_two_energies_on_both_backends(cfg: SiteConfig, backend: str) -> None:
    store = _open(cfg, backend)
    hours = [
        SiteInterval(T0 + HOUR * h, HOUR, HOUR, 1.5e9, 1.0e9, 0.0, 0.0, "imported", 1, "import") for h in range(30)
    ]
    assert store.import_site_intervals(hours) == 30
    with pytest.raises(HistoryOverlapError):
        store.import_site_intervals(hours[3:4])
    days = store.site_rollups(86400, T0, T0 + 2 * 86400)
    assert [d.facility_j for d in days] == [24 * 1.5e9, 6 * 1.5e9]
    for k in range(3):  # two energy quantities in one poll: each gets its own rollups
        t = T0 + 60.0 * k
        energy = [
            DeviceEnergyRow("m", q, t, 1e6 * k * (i + 1), 1e6 * k * (i + 1), "counter") for i, q in enumerate("ab")
        ]
        store.record_poll("m", t, True, 0.1, None, [ReadingRow("m", "active_power_w", "", t, 5.0)], energy)
    assert [r.total_j for r in store.device_energy("m", "b", 0, 2e10)] == [0.0, 2e6, 4e6]
    assert store.purge_raw(T0 + 90.0) > 0
    assert [r.total_j for r in store.device_energy("m", "a", 0, 2e10)] == [2e6]
    assert store.site_rollups(86400, T0, T0 + 2 * 86400) == days  # imported intervals are never purged
    store.close()


def test_a_newer_schema_is_refused_with_the_reason(cfg: SiteConfig, backend: str) -> None:
    store = _open(cfg, backend)
    store.close()
    if backend.startswith("postgresql://"):
        with psycopg.connect(backend, autocommit=True) as conn:
            conn.execute("UPDATE pue_schema SET version = %s", (schema.SCHEMA_VERSION + 1,))
    else:
        import sqlite3

        from agent.history.database import SCHEMA_VERSION

        db = sqlite3.connect(backend)
        db.execute(f"PRAGMA user_version={SCHEMA_VERSION + 1}")
        db.close()
    with pytest.raises(HistoryStoreError, match="upgrade pue-agent"):
        _open(cfg, backend)
    site = ["--site", "hall"] if backend.startswith("postgresql://") else []
    export = [str(PUE_AGENT), "export", "--db", backend, *site, "--from", "2026-01-01", "--to", "2026-01-01"]
    proc = subprocess.run(
        [*export, "--out", "/dev/null", "--format", "csv"],
        capture_output=True,
        text=True,
        timeout=120,
        check=False,
    )
    assert proc.returncode == 2
    assert "upgrade pue-agent" in proc.stderr


def test_a_second_writer_as_the_same_agent_is_refused_and_the_url_stays_secret(cfg: SiteConfig, pg_url: str) -> None:
    secret_url = pg_url.replace("postgres@", "postgres:s3cret-pw@")
    first = _open(cfg, secret_url, exclusive=True)
    with pytest.raises(HistoryLockedError, match="another pue-agent already writes") as err:
        _open(cfg, secret_url, exclusive=True)
    assert "s3cret-pw" not in str(err.value)
    first.close()
    _open(cfg, secret_url, exclusive=True).close()  # the lock went with the first session
    history = HistoryConfig(url=secret_url, password_env="PUE_TEST_NO_SUCH_VARIABLE")  # type: ignore[arg-type]
    assert "s3cret-pw" not in repr(history) and "s3cret-pw" not in history.model_dump_json()
    with pytest.raises(HistoryError, match="PUE_TEST_NO_SUCH_VARIABLE"):
        open_history_store(cfg.model_copy(update={"history": history}), ROOT)
    with pytest.raises(ValueError, match="postgresql://"):
        HistoryConfig(url="mysql://x")  # type: ignore[arg-type]


def test_a_lost_connection_is_busy_then_the_write_goes_through(pg_url: str) -> None:
    store = PostgresHistoryStore(pg_url, site="hall", agent="lost", exclusive=True)
    store.record_poll("m", T0, True, 0.1, None, [], [])
    with psycopg.connect(pg_url, autocommit=True) as admin:
        admin.execute(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity WHERE application_name = 'pue-agent hall/lost'"
        )
    with pytest.raises(HistoryBusyError, match="connection lost"):  # the writer keeps it and tries again
        store.record_poll("m", T0 + 60.0, True, 0.1, None, [], [])
    store.record_poll("m", T0 + 60.0, True, 0.1, None, [], [])  # a new session, the writer lock taken again
    assert store.count("polls") == 2
    with pytest.raises(HistoryLockedError):
        PostgresHistoryStore(pg_url, site="hall", agent="lost", exclusive=True)
    store.close()


def _row(agent: str, covered: float, facility: float, it: float) -> RollupRow:
    return RollupRow(agent, 0, 60, 60.0, covered, facility, it, 0.0, 0.0, 1, 2, 1, ((0.0, 0.0),) * 6, None, {})


def test_shard_buckets_combine_only_when_every_shard_is_there_once() -> None:
    agents = {"a": AgentShard(1, 2, False), "b": AgentShard(2, 2, False), "c": AgentShard(2, 2, False)}
    whole = combine_bucket([_row("a", 60.0, 0.0, 100.0), _row("b", 30.0, 300.0, 100.0)], agents)
    assert (whole.covered_s, whole.facility_j, whole.it_j) == (30.0, 300.0, 150.0)  # a pro-rated to 30 s
    missing = combine_bucket([_row("a", 60.0, 0.0, 100.0)], agents)
    twice = combine_bucket([_row("a", 60.0, 0, 1), _row("b", 60.0, 9, 1), _row("c", 60.0, 9, 1)], agents)
    for gap in (missing, twice):
        assert (gap.covered_s, gap.facility_j, gap.it_j) == (0.0, 0.0, 0.0)


def _load_w(k: int) -> float:
    """A load that moves through the day (the shards must sum the same energy, tick by tick)."""
    return 1.0 + 0.25 * math.sin(k / 40.0)


def _drive(site: SyntheticSite, ticks: int, offset_s: float, down: range = range(0), first: int = 0) -> None:
    base = dict(site.power_w)
    for k in range(first, ticks + 1):
        site.power_w = {d: p * _load_w(k) for d, p in base.items()}
        silent = frozenset(site.power_w) if k in down else frozenset()
        site.step(T0 + offset_s + 60.0 * k, 60.0, down=silent)


@pytest.mark.e2e
def test_two_shards_writing_at_once_report_the_single_agents_pue(cfg: SiteConfig, pg_url: str, tmp_path: Path) -> None:
    ticks = 360  # 6 h of 1 min polls
    single_store = SqliteHistoryStore(tmp_path / "single.sqlite")
    single = make_site(cfg, single_store, dict(POWER_W))
    _drive(single, ticks, 0.0)
    sites = []
    for index in (1, 2):
        shard = Shard(index, 2)
        store = _open(cfg, pg_url, exclusive=True, shard=shard)
        own = {d: p for d, p in POWER_W.items() if shard.owns(d)}
        assert own, "the demo devices split across both shards"
        sites.append(SyntheticSite(cfg, HistoryWriter(store, shard_history_config(cfg, shard)), own))
    # the two shards poll on their own clocks (17 s apart) and write at the same time; shard 2 starts 30 min
    # late (no rows at all) and misses 10 polls later (rows with no coverage)
    threads = [
        threading.Thread(target=_drive, args=(sites[0], ticks, 0.0)),
        threading.Thread(target=_drive, args=(sites[1], ticks, 17.0, range(100, 110), 30)),
    ]
    for t in threads:
        t.start()
    for t in threads:
        t.join(120)
    for s in sites:
        s.writer.close()
    assert all(s.writer.write_errors == 0 for s in sites)
    reader = _open(cfg, pg_url, readonly=True)
    end = T0 + ticks * 60.0
    for resolution in (60, 900, 3600):
        single_pue, _ = _pue(single_store, resolution, T0, end)
        shards_pue, coverage = _pue(reader, resolution, T0, end)
        assert shards_pue == pytest.approx(single_pue, rel=0.005), resolution
        # shard 2's absence and silence are gaps of the site: not counted from shard 1 alone, not made up
        assert 0.8 < coverage < 0.9
    # the site's facility energy is the one meter's over the covered time, never counted twice
    single = {r.start_s: r for r in single_store.site_rollups(60, T0, end)}
    combined = [r for r in reader.site_rollups(60, T0, end) if r.covered_s > 0]
    expected_j = math.fsum(single[r.start_s].facility_j * r.covered_s / single[r.start_s].covered_s for r in combined)
    assert math.fsum(r.facility_j for r in combined) == pytest.approx(expected_j, rel=0.005)
    single_store.close()
    reader.close()


@pytest.mark.e2e
def test_migrate_copies_everything_with_equal_energy_and_refuses_to_copy_twice(
    cfg: SiteConfig, pg_url: str, tmp_path: Path
) -> None:
    db = tmp_path / "old.sqlite"
    store = SqliteHistoryStore(db)
    site = make_site(cfg, store)
    for k in range(181):
        site.step(T0 + 60.0 * k, 60.0, down=frozenset({"ups-a"}) if 40 <= k < 45 else frozenset())
    site.writer.close()
    with SqliteHistoryStore(db, readonly=True) as old:
        old_rollups = {res: old.site_rollups(res, T0, T0 + 4 * HOUR) for res in (60, 3600, 86400)}
    cmd = [str(PUE_AGENT), "history", "migrate", "--from", str(db), "--to", pg_url, "--site", "hall-1"]
    proc = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert proc.returncode == 0, proc.stderr
    assert "every table's rows and energy equal" in proc.stdout
    assert "site_interval" in proc.stdout and "readings" in proc.stdout
    with PostgresHistoryStore(pg_url, site="hall-1", readonly=True) as new:
        for res, rows in old_rollups.items():
            copied = new.site_rollups(res, T0, T0 + 4 * HOUR)
            assert [(r.start_s, r.covered_s) for r in copied] == [(r.start_s, r.covered_s) for r in rows]
            assert math.fsum(r.facility_j for r in copied) == math.fsum(r.facility_j for r in rows)
            assert math.fsum(r.it_j for r in copied) == math.fsum(r.it_j for r in rows)
        count = new.count("readings")
    again = subprocess.run(cmd, capture_output=True, text=True, timeout=120, check=False)
    assert again.returncode == 2 and "--append" in again.stderr
    with PostgresHistoryStore(pg_url, site="hall-1", readonly=True) as new:
        assert new.count("readings") == count


WRITER_SCRIPT = textwrap.dedent("""
    import sys
    from pathlib import Path
    from agent.config.site import load_config
    from agent.history.postgres.store import PostgresHistoryStore
    from tests.history.conftest import make_site

    cfg, _ = load_config(Path("configs/demo-site.yaml"))
    cfg = cfg.model_copy(update={"devices": cfg.devices[:3], "poll_interval_s": 60.0})
    store = PostgresHistoryStore(sys.argv[1], site="hall", exclusive=True)
    site = make_site(cfg, store)
    t = 1767225600.0
    k = 0
    while True:
        site.step(t + 60.0 * k, 60.0)
        if k > 0 and site.writer.healthy:
            print(t + 60.0 * (k - 1), flush=True)  # interval [k-1, k] is committed
        k += 1
""")


@pytest.mark.slow
def test_kill_9_loses_nothing_committed_in_postgres(pg_url: str, tmp_path: Path) -> None:
    script = tmp_path / "writer.py"
    script.write_text(WRITER_SCRIPT)
    env = {**os.environ, "PYTHONPATH": str(ROOT)}
    acked: list[float] = []
    with (
        (tmp_path / "writer.log").open("w") as stderr,
        subprocess.Popen(
            [sys.executable, str(script), pg_url], cwd=ROOT, stdout=subprocess.PIPE, stderr=stderr, env=env, text=True
        ) as proc,
    ):
        assert proc.stdout is not None
        deadline = time.monotonic() + 60
        while len(acked) < 200 and time.monotonic() < deadline:
            line = proc.stdout.readline()
            if not line:
                break
            acked.append(float(line))
        proc.send_signal(signal.SIGKILL)
        proc.wait()
    assert proc.returncode == -signal.SIGKILL
    assert len(acked) >= 200, (tmp_path / "writer.log").read_text()
    # the server ends the killed session (its transaction rolled back, its writer lock released)
    deadline = time.monotonic() + 30
    while True:
        try:
            store = PostgresHistoryStore(pg_url, site="hall", exclusive=True)
            break
        except HistoryLockedError:
            assert time.monotonic() < deadline
            time.sleep(0.2)
    stored = [iv.start_s for iv in store.site_intervals(0, 2e10)]
    assert set(acked) <= set(stored)
    assert stored == sorted(set(stored))
    totals = [r.total_j for r in store.device_energy("meter-main", "energy_j", 0, 2e10)]
    assert totals == sorted(totals)
    # nothing counted twice: the hourly rollups hold exactly the stored intervals' energy
    rollup_j = math.fsum(r.facility_j for r in store.site_rollups(3600, 0, 2e10))
    assert rollup_j == pytest.approx(math.fsum(iv.facility_j for iv in store.site_intervals(0, 2e10)), rel=1e-12)
    store.close()
